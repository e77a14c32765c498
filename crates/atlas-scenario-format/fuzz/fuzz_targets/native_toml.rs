//! Fuzzes the native TOML scenario reader.
//!
//! Run with `cargo +nightly fuzz run native_toml` from `crates/atlas-scenario-format`
//! (seed the corpus with `../../scenarios/*.toml`). The same body runs on
//! stable over the seed scenarios and mutations of them in
//! `tests/readers_fuzz.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    atlas_scenario_format::fuzzing::exercise_toml(data);
});
