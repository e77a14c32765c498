//! The body of the OpenDRIVE reader's fuzz target, shared by the cargo-fuzz
//! target in `fuzz/` and the seed-corpus test, so both exercise the same
//! code: read a document, and when it loads, run the queries a world uses.

use crate::map::{LanePosition, Map};
use crate::math::Vec2;

/// Reads `data` as an OpenDRIVE document and, when it is one, queries the
/// map. Must never panic, whatever the input.
pub fn exercise(data: &[u8]) {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(map) = Map::from_xml(xml, "fuzz") else {
        return;
    };
    let b = map.bounds();
    for (fx, fy) in [(0.5, 0.5), (0.1, 0.9), (0.9, 0.2)] {
        let p = Vec2::new(
            b.min[0] + fx * (b.max[0] - b.min[0]),
            b.min[1] + fy * (b.max[1] - b.min[1]),
        );
        if p.x.is_finite() && p.y.is_finite() {
            let _ = map.locate(p);
        }
    }
    for r in map.roads().iter().take(8) {
        for lane_id in [-1, 1] {
            let _ = map.lane_pose(&LanePosition {
                road_id: r.id.clone(),
                lane_id,
                s: 0.5 * r.length,
                offset: 0.0,
            });
        }
    }
    for s in map.signals().all() {
        let _ = (s.stop_lines.len(), s.position);
    }
    for i in 0..map.signals().len() {
        let _ = map.signals().state(i, 12.5);
    }
}
