//! Pedestrians that walk sidewalks.
//!
//! A lane-following pedestrian placed on a walkable lane walks along its
//! centre. Near a road end (at Town-style maps, the mouth of a junction) it
//! crosses the road straight over to the walkable lane on the other side,
//! waiting at the kerb while a vehicle is near the crossing, and walks back
//! along that side; where there is no other side it turns round.

use super::Actor;
use crate::map::Map;
use crate::math::{Pose, Vec2, wrap_angle};

/// How far from a road end pedestrians cross, metres.
const CROSS_MARGIN: f64 = 0.6;
/// Clearance a crossing needs from any vehicle, metres.
const CROSS_CLEARANCE: f64 = 9.0;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Crossing {
    from: Vec2,
    to: Vec2,
    /// Metres walked so far.
    done: f64,
    lane_id: i32,
}

/// Sidewalk-walking state.
#[derive(Clone, Debug)]
pub(crate) struct Walker {
    pub road: usize,
    pub lane_id: i32,
    pub s: f64,
    /// +1 along +s, -1 against.
    pub dir: f64,
    pub crossing: Option<Crossing>,
}

fn walkable(map: &Map, road: usize, lane_id: i32, s: f64) -> bool {
    let sec = map.section_at(road, s);
    map.roads()[road].lane_sections[sec]
        .lane(lane_id)
        .is_some_and(|l| l.kind.is_walkable())
        && map
            .lane_span(road, sec, lane_id, s)
            .is_some_and(|sp| sp.width().abs() > 0.3)
}

/// The centre of a walkable lane at `s`, heading along `dir`.
pub(crate) fn lane_centre(map: &Map, road: usize, lane_id: i32, s: f64, dir: f64) -> Option<Pose> {
    let sec = map.section_at(road, s);
    let span = map.lane_span(road, sec, lane_id, s)?;
    let rp = map.ref_point(road, s);
    let p = map.st_to_xy(road, s, span.centre());
    let mut yaw = rp.hdg;
    if dir < 0.0 {
        yaw += std::f64::consts::PI;
    }
    Some(Pose {
        x: p.x,
        y: p.y,
        z: map.elevation(road, s),
        yaw: wrap_angle(yaw),
        pitch: 0.0,
        roll: 0.0,
    })
}

impl Walker {
    /// A walker for a pedestrian at `s` of a walkable lane, heading `yaw`.
    pub(crate) fn new(map: &Map, road: usize, lane_id: i32, s: f64, yaw: f64) -> Option<Self> {
        if !walkable(map, road, lane_id, s) {
            return None;
        }
        let hdg = map.ref_point(road, s).hdg;
        let dir = if wrap_angle(yaw - hdg).abs() <= std::f64::consts::FRAC_PI_2 {
            1.0
        } else {
            -1.0
        };
        Some(Self {
            road,
            lane_id,
            s,
            dir,
            crossing: None,
        })
    }

    /// The walkable lane across the road at `s`, if any.
    fn other_side(&self, map: &Map) -> Option<i32> {
        let sec = map.section_at(self.road, self.s);
        let ls = &map.roads()[self.road].lane_sections[sec];
        let lanes = if self.lane_id > 0 {
            &ls.right
        } else {
            &ls.left
        };
        lanes
            .iter()
            .filter(|l| l.kind.is_walkable())
            .map(|l| l.id)
            .find(|&id| walkable(map, self.road, id, self.s))
    }
}

/// Moves a walking pedestrian one step at `speed` m/s; `vehicles` holds
/// vehicle centres and radii as they were before this step.
pub(crate) fn advance(map: &Map, a: &mut Actor, speed: f64, dt: f64, vehicles: &[(Vec2, f64)]) {
    let Some(w) = a.walk.as_mut() else {
        return;
    };
    let step = speed * dt;
    if let Some(c) = w.crossing.as_mut() {
        let len = (c.to - c.from).length();
        if c.done == 0.0 {
            // Wait at the kerb while a vehicle is near the crossing.
            let busy = vehicles.iter().any(|&(p, r)| {
                seg_distance(p, c.from, c.to) < CROSS_CLEARANCE + r
                    && (p - c.from).length() < 2.0 * CROSS_CLEARANCE + len
            });
            if busy {
                a.speed = 0.0;
                return;
            }
        }
        c.done = (c.done + step).min(len);
        a.speed = speed;
        let dir = (c.to - c.from) * (1.0 / len.max(1e-9));
        let p = c.from + dir * c.done;
        a.pose.x = p.x;
        a.pose.y = p.y;
        a.pose.yaw = dir.y.atan2(dir.x);
        if c.done >= len {
            w.lane_id = c.lane_id;
            w.dir = -w.dir;
            w.crossing = None;
            if let Some(p) = lane_centre(map, w.road, w.lane_id, w.s, w.dir) {
                a.pose = p;
            }
        }
        return;
    }
    let len = map.roads()[w.road].length;
    let lo = CROSS_MARGIN.min(0.5 * len);
    let hi = (len - CROSS_MARGIN).max(0.5 * len);
    let s1 = (w.s + w.dir * step).clamp(lo, hi);
    let at_end = (w.dir > 0.0 && s1 >= hi) || (w.dir < 0.0 && s1 <= lo);
    if !walkable(map, w.road, w.lane_id, s1) || at_end {
        // Cross over, or turn round.
        w.s = s1;
        if let Some(other) = w.other_side(map)
            && let Some(to) = lane_centre(map, w.road, other, w.s, -w.dir)
        {
            let from = a.pose.xy();
            w.crossing = Some(Crossing {
                from,
                to: to.xy(),
                done: 0.0,
                lane_id: other,
            });
        } else {
            w.dir = -w.dir;
        }
        a.speed = 0.0;
        return;
    }
    w.s = s1;
    a.speed = speed;
    if let Some(p) = lane_centre(map, w.road, w.lane_id, w.s, w.dir) {
        a.pose = p;
    }
}

/// The lane location of a walker on its sidewalk (not while crossing).
pub(crate) fn location(map: &Map, w: &Walker) -> Option<crate::map::LaneLocation> {
    if w.crossing.is_some() {
        return None;
    }
    let sec = map.section_at(w.road, w.s);
    let span = map.lane_span(w.road, sec, w.lane_id, w.s)?;
    let lane = map.roads()[w.road].lane_sections[sec].lane(w.lane_id)?;
    Some(map.make_location(w.road, sec, lane, w.s, span.centre(), span))
}

fn seg_distance(p: Vec2, a: Vec2, b: Vec2) -> f64 {
    let ab = b - a;
    let l2 = ab.length_sq();
    let t = if l2 > 1e-12 {
        ((p - a).dot(ab) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p - (a + ab * t)).length()
}
