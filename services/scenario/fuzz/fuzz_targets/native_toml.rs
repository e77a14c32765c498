//! Fuzzes the native TOML scenario reader.
//!
//! Run with `cargo +nightly fuzz run native_toml` from `services/scenario`
//! (seed the corpus with `../../scenarios/*.toml`). The same body runs on
//! stable over the seed scenarios and mutations of them in
//! `tests/readers_fuzz.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    atlas_scenario::fuzzing::exercise_toml(data);
});
