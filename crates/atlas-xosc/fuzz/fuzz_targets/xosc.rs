//! Fuzzes the OpenSCENARIO reader and a few steps of the storyboard player
//! on what it reads.
//!
//! Run with `cargo +nightly fuzz run xosc fuzz/corpus/xosc` from
//! `crates/atlas-xosc` (seed the corpus with the ALKS scenarios and
//! `tests/data`). The same body runs on stable over seed documents and their
//! mutations in `tests/reader.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    atlas_xosc::fuzzing::exercise(data);
});
