//! Positions: world, road, lane and their relative forms, with their
//! orientations.

use roxmltree::Node;

use super::{R, Reader};
use crate::model::*;

impl<'d, 'i> Reader<'d, 'i> {
    pub(super) fn position_in(&mut self, n: Node<'d, 'i>) -> R<Position> {
        let p = self.req_child(n, "Position")?;
        self.position(p)
    }

    fn orientation(&self, n: Node) -> R<Option<Orientation>> {
        let Some(o) = self.child(n, "Orientation") else {
            return Ok(None);
        };
        let relative = match self.opt_string(o, "type")?.as_deref() {
            None | Some("relative") => true,
            Some("absolute") => false,
            Some(other) => return Err(self.err(o, format!("unknown orientation type {other:?}"))),
        };
        Ok(Some(Orientation {
            h: self.opt_num(o, "h")?.unwrap_or(0.0),
            relative,
        }))
    }

    pub(super) fn position(&mut self, p: Node<'d, 'i>) -> R<Position> {
        let read = self.position_as_written(p)?;
        Ok(if self.carla_frame {
            carla_to_opendrive(read)
        } else {
            read
        })
    }

    fn position_as_written(&mut self, p: Node<'d, 'i>) -> R<Position> {
        let c = self.choice(p)?;
        let o = self.orientation(c)?;
        Ok(match c.tag_name().name() {
            "WorldPosition" => Position::World {
                x: self.num(c, "x")?,
                y: self.num(c, "y")?,
                z: self.opt_num(c, "z")?.unwrap_or(0.0),
                h: self.opt_num(c, "h")?,
            },
            "RelativeWorldPosition" => Position::RelativeWorld {
                entity: self.string(c, "entityRef")?,
                dx: self.num(c, "dx")?,
                dy: self.num(c, "dy")?,
                orientation: o,
            },
            "RelativeObjectPosition" => Position::RelativeObject {
                entity: self.string(c, "entityRef")?,
                dx: self.num(c, "dx")?,
                dy: self.num(c, "dy")?,
                orientation: o,
            },
            "RoadPosition" => Position::Road {
                road: self.string(c, "roadId")?,
                s: self.num(c, "s")?,
                t: self.num(c, "t")?,
                orientation: o,
            },
            "RelativeRoadPosition" => Position::RelativeRoad {
                entity: self.string(c, "entityRef")?,
                ds: self.num(c, "ds")?,
                dt: self.num(c, "dt")?,
                orientation: o,
            },
            "LanePosition" => Position::Lane {
                road: self.string(c, "roadId")?,
                lane: self.int(c, "laneId")?,
                s: self.num(c, "s")?,
                offset: self.opt_num(c, "offset")?.unwrap_or(0.0),
                orientation: o,
            },
            "RelativeLanePosition" => {
                if self.opt_num(c, "dsLane")?.is_some() && c.attribute("ds").is_none() {
                    self.unsupported(c, "dsLane (ds is)")?;
                }
                Position::RelativeLane {
                    entity: self.string(c, "entityRef")?,
                    dlane: self.int(c, "dLane")?,
                    ds: self.opt_num(c, "ds")?.unwrap_or(0.0),
                    offset: self.opt_num(c, "offset")?.unwrap_or(0.0),
                    orientation: o,
                }
            }
            "RoutePosition" => {
                let r = self.choice(self.req_child(c, "RouteRef")?)?;
                let waypoints = self.route_ref(r)?;
                let i = self.choice(self.req_child(c, "InRoutePosition")?)?;
                let at = match i.tag_name().name() {
                    "FromCurrentEntity" => InRoute::Entity(self.string(i, "entityRef")?),
                    "FromRoadCoordinates" => InRoute::Road {
                        path_s: self.num(i, "pathS")?,
                        t: self.num(i, "t")?,
                    },
                    "FromLaneCoordinates" => InRoute::Lane {
                        path_s: self.num(i, "pathS")?,
                        lane: self.int(i, "laneId")?,
                        offset: self.opt_num(i, "laneOffset")?.unwrap_or(0.0),
                    },
                    _ => return Err(self.err(i, "unknown in-route position")),
                };
                Position::Route {
                    waypoints,
                    at,
                    orientation: o,
                }
            }
            _ => {
                // A position the player cannot resolve changes where things
                // are: never skipped, even when lenient.
                return Err(self.err(c, "this position type is not supported"));
            }
        })
    }
}

/// A position of a `CARLA:` file (ScenarioRunner's convention) in the
/// OpenDRIVE frame the player works in. CARLA's world is OpenDRIVE's
/// mirrored in y, so ScenarioRunner reads world y and every heading with
/// the sign flipped, and lateral offsets (lane `offset`, relative `dy`,
/// `dt`) as positive to the right. A RoadPosition's `t` ScenarioRunner
/// applies as a distance to the right of the reference line whatever its
/// sign; that reading is kept so the files land where their authors saw
/// them in CARLA.
pub(crate) fn carla_to_opendrive(p: Position) -> Position {
    let flip = |o: Option<Orientation>| o.map(|o| Orientation { h: -o.h, ..o });
    match p {
        Position::World { x, y, z, h } => Position::World {
            x,
            y: -y,
            z,
            h: h.map(|h| -h),
        },
        Position::RelativeWorld {
            entity,
            dx,
            dy,
            orientation,
        } => Position::RelativeWorld {
            entity,
            dx,
            dy: -dy,
            orientation: flip(orientation),
        },
        Position::RelativeObject {
            entity,
            dx,
            dy,
            orientation,
        } => Position::RelativeObject {
            entity,
            dx,
            dy: -dy,
            orientation: flip(orientation),
        },
        Position::Road {
            road,
            s,
            t,
            orientation,
        } => Position::Road {
            road,
            s,
            t: -t.abs(),
            orientation: flip(orientation),
        },
        Position::RelativeRoad {
            entity,
            ds,
            dt,
            orientation,
        } => Position::RelativeRoad {
            entity,
            ds,
            dt: -dt,
            orientation: flip(orientation),
        },
        Position::Lane {
            road,
            lane,
            s,
            offset,
            orientation,
        } => Position::Lane {
            road,
            lane,
            s,
            offset: -offset,
            orientation: flip(orientation),
        },
        Position::RelativeLane {
            entity,
            dlane,
            ds,
            offset,
            orientation,
        } => Position::RelativeLane {
            entity,
            dlane,
            ds,
            offset: -offset,
            orientation: flip(orientation),
        },
        Position::Route {
            waypoints,
            at,
            orientation,
        } => Position::Route {
            waypoints: waypoints.into_iter().map(carla_to_opendrive).collect(),
            at: match at {
                InRoute::Road { path_s, t } => InRoute::Road { path_s, t: -t },
                InRoute::Lane {
                    path_s,
                    lane,
                    offset,
                } => InRoute::Lane {
                    path_s,
                    lane,
                    offset: -offset,
                },
                e => e,
            },
            orientation: flip(orientation),
        },
    }
}
