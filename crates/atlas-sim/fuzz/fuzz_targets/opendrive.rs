//! Fuzzes the OpenDRIVE reader and the map built from what it reads.
//!
//! Run with `cargo +nightly fuzz run opendrive fuzz/corpus/opendrive` from
//! `crates/atlas-sim` (seed the corpus with `../../maps/**/*.xodr`). The same
//! body runs on stable over the seed maps and mutations of them in
//! `tests/opendrive_fuzz.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    atlas_sim::fuzzing::exercise(data);
});
