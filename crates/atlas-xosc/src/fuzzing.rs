//! The body of the OpenSCENARIO reader's fuzz target, shared by the
//! cargo-fuzz target in `fuzz/` and the seed-corpus test: read a document
//! (catalogs from a fixed in-memory set), and when it reads, play a few
//! steps of it on a small straight road.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use atlas_sim::Map;

use crate::reader::{MemoryFiles, Options, read_str};

const ROAD: &str = include_str!("../tests/data/straight.xodr");
const CATALOG: &str = include_str!("../tests/data/catalogs/cars.xosc");

fn map() -> Arc<Map> {
    static MAP: OnceLock<Arc<Map>> = OnceLock::new();
    MAP.get_or_init(|| Arc::new(Map::from_xml(ROAD, "straight").expect("the fuzz road loads")))
        .clone()
}

/// Reads `data` as an OpenSCENARIO document and plays it briefly. Must never
/// panic, whatever the input.
pub fn exercise(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut files = BTreeMap::new();
    files.insert("road.xodr".to_owned(), ROAD.to_owned());
    files.insert("catalogs/cars.xosc".to_owned(), CATALOG.to_owned());
    for lenient in [false, true] {
        let opts = Options {
            lenient,
            parameters: Vec::new(),
            strict: false,
        };
        let Ok((sc, _)) = read_str(text, "fuzz.xosc", &MemoryFiles(&files), &opts) else {
            continue;
        };
        let Ok(mut p) = crate::Player::new(sc, map(), Vec::new(), &[]) else {
            continue;
        };
        for _ in 0..40 {
            if p.update().is_err() || p.advance(0.1).is_err() || p.finished() {
                break;
            }
        }
    }
}
