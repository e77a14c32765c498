//! Resolving OpenSCENARIO positions on an atlas-sim map, and lane
//! coordinates that entities move along.

use atlas_sim::map::geometry::RefLine;
use atlas_sim::{LanePosition, Map, Vec2};

use crate::model::{InRoute, Orientation, Position};

/// Where an entity is on a lane: the default controller moves `s` along the
/// lane's direction of travel and shapes `offset` (positive left of the
/// road's reference line, as OpenDRIVE's t).
#[derive(Clone, Debug, PartialEq)]
pub struct LaneCoord {
    pub road: String,
    pub road_index: usize,
    pub lane: i32,
    pub s: f64,
    pub offset: f64,
}

/// A resolved position: a world pose and, when it lies on a lane along it,
/// the lane coordinate.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub yaw: f64,
    pub lane: Option<LaneCoord>,
}

/// The pose an entity has that relative positions refer to.
#[derive(Clone, Debug)]
pub struct Anchor {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub yaw: f64,
    pub lane: Option<LaneCoord>,
}

pub fn wrap(a: f64) -> f64 {
    let mut a = a % std::f64::consts::TAU;
    if a > std::f64::consts::PI {
        a -= std::f64::consts::TAU;
    } else if a < -std::f64::consts::PI {
        a += std::f64::consts::TAU;
    }
    a
}

/// Whether traffic in `lane` of road `road_index` runs along +s.
pub fn forward(map: &Map, road_index: usize, lane: i32) -> bool {
    map.lane_runs_forward(road_index, lane)
}

/// The world pose of a lane coordinate, heading along the lane's
/// direction of travel.
pub fn lane_pose(map: &Map, c: &LaneCoord) -> Result<atlas_sim::Pose, String> {
    map.lane_pose(&LanePosition {
        road_id: c.road.clone(),
        lane_id: c.lane,
        s: c.s,
        offset: c.offset,
    })
    .map_err(|e| e.to_string())
}

/// `lane` shifted by `d` lanes to the left of its direction of travel
/// (lane 0, the centre line, is not a lane).
pub fn shift_lane(map: &Map, road_index: usize, lane: i32, d: i32) -> i32 {
    // Left of travel along +s is +t, towards higher lane ids; against s,
    // towards lower ones.
    let step = if forward(map, road_index, lane) {
        1
    } else {
        -1
    };
    let mut id = lane;
    for _ in 0..d.abs() {
        id += if d > 0 { step } else { -step };
        if id == 0 {
            id += if d > 0 { step } else { -step };
        }
    }
    id
}

fn road_index(map: &Map, road: &str) -> Result<usize, String> {
    map.road_index(road)
        .ok_or_else(|| format!("road {road:?} is not in map {}", map.name()))
}

/// Heading of the road's reference line at `s`.
fn ref_point(map: &Map, road: usize, s: f64) -> (Vec2, f64) {
    let r = &map.roads()[road];
    let line = RefLine::new(&r.plan_view);
    let p = line.eval(s.clamp(0.0, r.length));
    (p.pos, p.hdg)
}

fn oriented(base: f64, road_heading: f64, o: Option<Orientation>) -> f64 {
    match o {
        None => base,
        Some(Orientation { h, relative: true }) => wrap(road_heading + h),
        Some(Orientation { h, relative: false }) => wrap(h),
    }
}

/// The lane coordinate of a world point, when it lies on a lane.
pub fn locate(map: &Map, x: f64, y: f64) -> Option<(LaneCoord, f64, bool)> {
    let l = map.locate(Vec2::new(x, y))?;
    Some((
        LaneCoord {
            road: map.roads()[l.road].id.clone(),
            road_index: l.road,
            lane: l.lane_id,
            s: l.s,
            offset: l.offset,
        },
        l.t,
        l.lane_type.is_drivable(),
    ))
}

/// Resolves `p`; `anchor` gives an entity's pose by name.
pub fn resolve(
    map: &Map,
    p: &Position,
    anchor: &dyn Fn(&str) -> Option<Anchor>,
) -> Result<Placed, String> {
    let get = |e: &str| anchor(e).ok_or_else(|| format!("entity {e:?} has no position yet"));
    match p {
        Position::World { x, y, z, h } => Ok(Placed {
            x: *x,
            y: *y,
            z: *z,
            yaw: wrap(h.unwrap_or(0.0)),
            lane: None,
        }),
        Position::RelativeWorld {
            entity,
            dx,
            dy,
            orientation,
        } => {
            let a = get(entity)?;
            Ok(Placed {
                x: a.x + dx,
                y: a.y + dy,
                z: a.z,
                yaw: oriented(a.yaw, a.yaw, *orientation),
                lane: None,
            })
        }
        Position::RelativeObject {
            entity,
            dx,
            dy,
            orientation,
        } => {
            let a = get(entity)?;
            let (s, c) = a.yaw.sin_cos();
            Ok(Placed {
                x: a.x + c * dx - s * dy,
                y: a.y + s * dx + c * dy,
                z: a.z,
                yaw: oriented(a.yaw, a.yaw, *orientation),
                lane: None,
            })
        }
        Position::Road {
            road,
            s,
            t,
            orientation,
        } => road_st(map, road_index(map, road)?, *s, *t, *orientation),
        Position::RelativeRoad {
            entity,
            ds,
            dt,
            orientation,
        } => {
            let a = get(entity)?;
            let (road, s, t) = match &a.lane {
                Some(l) => {
                    let (_, tt, _) = locate(map, a.x, a.y)
                        .filter(|(c, _, _)| c.road_index == l.road_index)
                        .ok_or_else(|| format!("entity {entity:?} is not on a road"))?;
                    (l.road_index, l.s, tt)
                }
                None => {
                    let (c, tt, _) = locate(map, a.x, a.y)
                        .ok_or_else(|| format!("entity {entity:?} is not on a road"))?;
                    (c.road_index, c.s, tt)
                }
            };
            road_st(map, road, s + ds, t + dt, *orientation)
        }
        Position::Lane {
            road,
            lane,
            s,
            offset,
            orientation,
        } => lane_placed(
            map,
            road_index(map, road)?,
            *lane,
            *s,
            *offset,
            *orientation,
        ),
        Position::RelativeLane {
            entity,
            dlane,
            ds,
            offset,
            orientation,
        } => {
            let a = get(entity)?;
            let l = match a.lane {
                Some(l) => l,
                None => {
                    locate(map, a.x, a.y)
                        .ok_or_else(|| format!("entity {entity:?} is not on a lane"))?
                        .0
                }
            };
            let lane = shift_lane(map, l.road_index, l.lane, *dlane);
            lane_placed(map, l.road_index, lane, l.s + ds, *offset, *orientation)
        }
        Position::Route {
            waypoints,
            at,
            orientation,
        } => {
            if let InRoute::Entity(e) = at {
                let a = get(e)?;
                return Ok(Placed {
                    x: a.x,
                    y: a.y,
                    z: a.z,
                    yaw: oriented(a.yaw, a.yaw, *orientation),
                    lane: a.lane,
                });
            }
            let mut pts = Vec::with_capacity(waypoints.len());
            for w in waypoints {
                let p = resolve(map, w, anchor)?;
                pts.push(Vec2::new(p.x, p.y));
            }
            let route = map
                .plan_route(&pts, 1.0)
                .map_err(|e| format!("route position: {e}"))?;
            let path_s = match at {
                InRoute::Road { path_s, .. } | InRoute::Lane { path_s, .. } => *path_s,
                InRoute::Entity(_) => 0.0,
            };
            if !(0.0..=route.length + 1e-6).contains(&path_s) {
                return Err(format!(
                    "route position: pathS {path_s} is outside the route (0 to {:.1} m)",
                    route.length
                ));
            }
            // The route's lane centre at pathS, and the road and s there.
            let (x, y) = along(&route.points, path_s);
            let (c, _, _) = locate(map, x, y)
                .ok_or_else(|| format!("route position: pathS {path_s} is off the road"))?;
            match at {
                InRoute::Road { t, .. } => road_st(map, c.road_index, c.s, *t, *orientation),
                InRoute::Lane { lane, offset, .. } => {
                    lane_placed(map, c.road_index, *lane, c.s, *offset, *orientation)
                }
                InRoute::Entity(_) => unreachable!("handled above"),
            }
        }
    }
}

/// The point `s` metres along a polyline (its end beyond it).
fn along(pts: &[[f64; 3]], s: f64) -> (f64, f64) {
    let mut left = s;
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = (b[0] - a[0]).hypot(b[1] - a[1]);
        if left <= len && len > 0.0 {
            let f = left / len;
            return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f);
        }
        left -= len;
    }
    pts.last().map_or((0.0, 0.0), |p| (p[0], p[1]))
}

fn road_st(
    map: &Map,
    road: usize,
    s: f64,
    t: f64,
    o: Option<Orientation>,
) -> Result<Placed, String> {
    let len = map.roads()[road].length;
    if !(-1e-6..=len + 1e-6).contains(&s) {
        return Err(format!(
            "s {s} is off road {} (length {len})",
            map.roads()[road].id
        ));
    }
    let (p, hdg) = ref_point(map, road, s);
    let pos = p + Vec2::from_angle(hdg).perp() * t;
    let lane = locate(map, pos.x, pos.y).map(|(c, _, _)| c);
    let yaw = match &lane {
        Some(c) if o.is_none() => {
            if forward(map, c.road_index, c.lane) {
                hdg
            } else {
                wrap(hdg + std::f64::consts::PI)
            }
        }
        _ => oriented(hdg, hdg, o),
    };
    // Only an entity heading along its lane moves along it.
    let along = o.is_none_or(|o| o.h.abs() < 1e-6);
    Ok(Placed {
        x: pos.x,
        y: pos.y,
        z: 0.0,
        yaw,
        lane: lane.filter(|_| along),
    })
}

fn lane_placed(
    map: &Map,
    road: usize,
    lane: i32,
    s: f64,
    offset: f64,
    o: Option<Orientation>,
) -> Result<Placed, String> {
    let coord = LaneCoord {
        road: map.roads()[road].id.clone(),
        road_index: road,
        lane,
        s,
        offset,
    };
    let pose = lane_pose(map, &coord)?;
    let road_heading = if forward(map, road, lane) {
        pose.yaw
    } else {
        wrap(pose.yaw + std::f64::consts::PI)
    };
    let yaw = oriented(pose.yaw, road_heading, o);
    let along = match o {
        None => true,
        Some(_) => wrap(yaw - pose.yaw).abs() < 1e-3,
    };
    Ok(Placed {
        x: pose.x,
        y: pose.y,
        z: pose.z,
        yaw,
        lane: along.then_some(coord),
    })
}

/// Lateral offset of `from`'s lane centre line relative to lane `to` at the
/// same s, in the reference line's left direction (so that an entity
/// switching its lane coordinate to `to` keeps its place).
pub fn offset_between(map: &Map, road: usize, s: f64, from: i32, to: i32) -> Result<f64, String> {
    let id = map.roads()[road].id.clone();
    let a = lane_pose(
        map,
        &LaneCoord {
            road: id.clone(),
            road_index: road,
            lane: from,
            s,
            offset: 0.0,
        },
    )?;
    let b = lane_pose(
        map,
        &LaneCoord {
            road: id,
            road_index: road,
            lane: to,
            s,
            offset: 0.0,
        },
    )?;
    let (_, hdg) = ref_point(map, road, s);
    let left = Vec2::from_angle(hdg).perp();
    Ok((a.xy() - b.xy()).dot(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn straight() -> Map {
        let xml = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/straight.xodr"
        ))
        .unwrap();
        Map::from_xml(&xml, "straight").unwrap()
    }

    fn none(_: &str) -> Option<Anchor> {
        None
    }

    #[test]
    fn lane_positions_resolve_to_lane_centres() {
        let map = straight();
        // Lanes 3.5 m wide along +x: lane -1 centre at y = -1.75.
        let p = resolve(
            &map,
            &Position::Lane {
                road: "1".into(),
                lane: -1,
                s: 20.0,
                offset: 0.5,
                orientation: None,
            },
            &none,
        )
        .unwrap();
        assert!(
            (p.x - 20.0).abs() < 1e-9 && (p.y + 1.25).abs() < 1e-9,
            "{p:?}"
        );
        assert!(p.yaw.abs() < 1e-9);
        // Left lane runs the other way.
        let q = resolve(
            &map,
            &Position::Lane {
                road: "1".into(),
                lane: 1,
                s: 20.0,
                offset: 0.0,
                orientation: None,
            },
            &none,
        )
        .unwrap();
        assert!((q.y - 1.75).abs() < 1e-9 && (q.yaw.abs() - std::f64::consts::PI).abs() < 1e-9);
        // A road position: t from the reference line, orientation relative.
        let r = resolve(
            &map,
            &Position::Road {
                road: "1".into(),
                s: 30.0,
                t: -5.0,
                orientation: Some(Orientation {
                    h: 1.0,
                    relative: true,
                }),
            },
            &none,
        )
        .unwrap();
        assert!(
            (r.x - 30.0).abs() < 1e-9 && (r.y + 5.0).abs() < 1e-9 && (r.yaw - 1.0).abs() < 1e-9
        );
        assert!(r.lane.is_none());
        assert!(
            resolve(
                &map,
                &Position::Lane {
                    road: "9".into(),
                    lane: -1,
                    s: 1.0,
                    offset: 0.0,
                    orientation: None
                },
                &none
            )
            .is_err()
        );
    }

    #[test]
    fn relative_positions_follow_their_entity() {
        let map = straight();
        let anchor = |e: &str| {
            (e == "A").then(|| Anchor {
                x: 10.0,
                y: -5.25,
                z: 0.0,
                yaw: 0.0,
                lane: Some(LaneCoord {
                    road: "1".into(),
                    road_index: 0,
                    lane: -2,
                    s: 10.0,
                    offset: 0.0,
                }),
            })
        };
        // One lane to the left of lane -2 (driving +x) is lane -1.
        let p = resolve(
            &map,
            &Position::RelativeLane {
                entity: "A".into(),
                dlane: 1,
                ds: 15.0,
                offset: 0.0,
                orientation: None,
            },
            &anchor,
        )
        .unwrap();
        assert!(
            (p.x - 25.0).abs() < 1e-9 && (p.y + 1.75).abs() < 1e-9,
            "{p:?}"
        );
        assert_eq!(p.lane.as_ref().unwrap().lane, -1);
        let o = resolve(
            &map,
            &Position::RelativeObject {
                entity: "A".into(),
                dx: 3.0,
                dy: 1.0,
                orientation: None,
            },
            &anchor,
        )
        .unwrap();
        assert!((o.x - 13.0).abs() < 1e-9 && (o.y + 4.25).abs() < 1e-9);
        let w = resolve(
            &map,
            &Position::RelativeWorld {
                entity: "A".into(),
                dx: -1.0,
                dy: 2.0,
                orientation: None,
            },
            &anchor,
        )
        .unwrap();
        assert!((w.x - 9.0).abs() < 1e-9 && (w.y + 3.25).abs() < 1e-9);
        let rr = resolve(
            &map,
            &Position::RelativeRoad {
                entity: "A".into(),
                ds: 5.0,
                dt: 1.0,
                orientation: None,
            },
            &anchor,
        )
        .unwrap();
        assert!(
            (rr.x - 15.0).abs() < 1e-9 && (rr.y + 4.25).abs() < 1e-9,
            "{rr:?}"
        );
        assert!(
            resolve(
                &map,
                &Position::RelativeObject {
                    entity: "B".into(),
                    dx: 0.0,
                    dy: 0.0,
                    orientation: None
                },
                &anchor
            )
            .is_err()
        );
        assert_eq!(shift_lane(&map, 0, -1, 1), 1);
        assert_eq!(shift_lane(&map, 0, -1, -1), -2);
        assert_eq!(shift_lane(&map, 0, 1, 1), -1);
        assert!((offset_between(&map, 0, 10.0, -1, -2).unwrap() - 3.5).abs() < 1e-9);
    }
}
