//! Fuzzes the CARLA Leaderboard route reader.
//!
//! Run with `cargo +nightly fuzz run routes` from `crates/atlas-scenario-format`
//! (seed the corpus with the route files of the corpus). The same body runs
//! on stable over seed files and mutations of them in
//! `tests/readers_fuzz.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    atlas_scenario_format::fuzzing::exercise_routes(data);
});
