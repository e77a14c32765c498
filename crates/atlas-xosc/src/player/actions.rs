//! Action execution: private actions hand an entity a controller, place it
//! or give it a route; global actions add and delete entities, set
//! parameters and record environment changes. A newer action of the same
//! domain overrides the older one on an entity.

use std::sync::Arc;

use super::entity::{Lat, Long, LongKind, PathCtl};
use super::geometry::{front, rear};
use super::storyboard::{St, Transition};
use super::{PlayError, Player};
use crate::expr::Value;
use crate::model::*;
use crate::position::{self, Placed};
use crate::shapes;

/// A trajectory's points (x, y, z) and the headings its vertices give.
type TrajectoryPoints = (Vec<(f64, f64, f64)>, Vec<Option<f64>>);

impl Player {
    /// Starts a private action on entity `i`; returns whether it is done
    /// already.
    pub(super) fn start_private(
        &mut self,
        i: usize,
        pa: &PrivateAction,
        owner: Option<usize>,
        line: u32,
        init: bool,
    ) -> Result<bool, PlayError> {
        match pa {
            PrivateAction::Teleport(p) => {
                let placed = self.resolve(p, line)?;
                self.place(i, placed);
                Ok(true)
            }
            PrivateAction::Speed { dynamics, target } => {
                self.start_speed(i, dynamics, target, owner, line, init)
            }
            PrivateAction::LongitudinalDistance {
                entity,
                value,
                time_gap,
                freespace,
                continuous,
                leading,
            } => {
                let r = self
                    .index(entity)
                    .ok_or_else(|| self.fail(format!("line {line}: unknown entity {entity:?}")))?;
                if *continuous {
                    self.drop_long(i, owner);
                    self.entities[i].long = Some(Long {
                        owner,
                        kind: LongKind::Gap {
                            entity: entity.clone(),
                            value: *value,
                            time_gap: *time_gap,
                            freespace: *freespace,
                            leading: *leading,
                        },
                    });
                    return Ok(false);
                }
                let d = self.gap_to(i, r, *value, *time_gap, *freespace, *leading);
                let along = if *leading { d } else { -d };
                self.place_along(i, r, entity, along, line)?;
                Ok(true)
            }
            PrivateAction::LaneChange {
                dynamics,
                target,
                target_offset,
            } => self.start_lane_change(i, dynamics, target, *target_offset, owner, line),
            PrivateAction::LaneOffset {
                max_lateral_acc,
                shape,
                target,
                continuous,
            } => {
                let Some(cur) = self.entities[i].lane.clone() else {
                    return Err(self.fail(format!(
                        "line {line}: {} offsets while not on a lane",
                        self.entities[i].name
                    )));
                };
                let (o1, track) = match target {
                    OffsetTarget::Absolute(v) => (*v, None),
                    OffsetTarget::Relative { entity, value } => {
                        let r = self
                            .entity(entity)
                            .and_then(|e| e.lane.clone())
                            .ok_or_else(|| {
                                self.fail(format!("line {line}: {entity} is not on a lane"))
                            })?;
                        (
                            r.offset + value,
                            continuous.then(|| (entity.clone(), *value)),
                        )
                    }
                };
                let acc = max_lateral_acc.unwrap_or(1.0);
                let duration = shapes::duration_for_lateral_acc(*shape, o1 - cur.offset, acc);
                self.set_lat(i, owner, cur.offset, o1, *shape, duration, track);
                Ok(false)
            }
            PrivateAction::FollowTrajectory {
                vertices,
                timed,
                scale,
                offset,
                absolute,
            } => {
                let (points, yaws) = self.trajectory_points(vertices, line)?;
                let times = timed.then(|| {
                    vertices
                        .iter()
                        .map(|v| v.time.unwrap_or(0.0) * scale + offset)
                        .collect()
                });
                let t0 = if *absolute { 0.0 } else { self.time };
                self.entities[i].path = Some(PathCtl {
                    owner,
                    points,
                    times,
                    yaws,
                    t0,
                    along: 0.0,
                });
                self.entities[i].lat = None;
                if *timed {
                    self.entities[i].long = None;
                }
                Ok(false)
            }
            PrivateAction::AssignRoute(ps) => {
                let mut pts = Vec::new();
                for p in ps {
                    let r = self.resolve(p, line)?;
                    pts.push((r.x, r.y));
                }
                self.entities[i].route = pts;
                Ok(true)
            }
            PrivateAction::AcquirePosition(p) => {
                let r = self.resolve(p, line)?;
                self.entities[i].route = vec![(r.x, r.y)];
                Ok(true)
            }
            PrivateAction::Synchronize {
                master,
                master_target,
                target,
                final_speed,
            } => {
                let m = self
                    .index(master)
                    .ok_or_else(|| self.fail(format!("line {line}: unknown entity {master:?}")))?;
                let mt = self.resolve(master_target, line)?;
                let t = self.resolve(target, line)?;
                self.drop_long(i, owner);
                self.entities[i].long = Some(Long {
                    owner,
                    kind: LongKind::Sync {
                        master: m,
                        mx: mt.x,
                        my: mt.y,
                        tx: t.x,
                        ty: t.y,
                        final_speed: final_speed.clone(),
                    },
                });
                Ok(false)
            }
            PrivateAction::OverrideControls(o) => {
                self.entities[i].overrides.apply(o);
                if o.sets_any() && !self.entities[i].external {
                    self.warnings.push(format!(
                        "{}: line {line}: controller overrides on {} have no effect: it moves on \
                         the default controller (overrides apply to the policy's ego)",
                        self.sc.file, self.entities[i].name
                    ));
                }
                Ok(true)
            }
            PrivateAction::AssignController { external, .. } => {
                self.entities[i].external_controller = *external;
                Ok(true)
            }
            PrivateAction::ActivateController { .. } | PrivateAction::Accepted(_) => Ok(true),
        }
    }

    /// A SpeedAction: an immediate speed, or a speed profile over the
    /// dynamics' duration (tracking another entity when continuous).
    fn start_speed(
        &mut self,
        i: usize,
        dynamics: &Dynamics,
        target: &SpeedTarget,
        owner: Option<usize>,
        line: u32,
        init: bool,
    ) -> Result<bool, PlayError> {
        let v0 = self.entities[i].speed;
        let (v1, track) = match target {
            SpeedTarget::Absolute(v) => (*v, None),
            SpeedTarget::Relative {
                entity,
                value,
                factor,
                continuous,
            } => {
                let r = self
                    .entity(entity)
                    .ok_or_else(|| self.fail(format!("line {line}: unknown entity {entity:?}")))?;
                let v = if *factor {
                    r.speed * value
                } else {
                    r.speed + value
                };
                (v, continuous.then(|| (entity.clone(), *value, *factor)))
            }
        };
        let v1 = v1.max(0.0);
        let duration = shapes::duration(dynamics, v1 - v0, 0.5 * (v0 + v1));
        if duration == Some(0.0) && track.is_none() {
            self.entities[i].speed = v1;
            if !init {
                self.drop_long(i, owner);
            }
            return Ok(true);
        }
        self.drop_long(i, owner);
        self.entities[i].long = Some(Long {
            owner,
            kind: LongKind::Speed {
                v0,
                v1,
                shape: dynamics.shape,
                duration,
                elapsed: 0.0,
                track,
            },
        });
        Ok(false)
    }

    /// The distance a one-off LongitudinalDistanceAction puts between
    /// entity `i` and its reference `r`, from reference point to reference
    /// point.
    fn gap_to(
        &self,
        i: usize,
        r: usize,
        value: f64,
        time_gap: bool,
        freespace: bool,
        leading: bool,
    ) -> f64 {
        let me = &self.entities[i];
        let re = &self.entities[r];
        let gap = if time_gap { value * me.speed } else { value };
        let extra = if freespace {
            if leading {
                front(&re.bbox) + rear(&me.bbox)
            } else {
                rear(&re.bbox) + front(&me.bbox)
            }
        } else {
            0.0
        };
        gap + extra
    }

    /// Places entity `i` `along` metres ahead of its reference `r` (named
    /// `entity`) along the reference's lane, in the lane's direction.
    fn place_along(
        &mut self,
        i: usize,
        r: usize,
        entity: &str,
        along: f64,
        line: u32,
    ) -> Result<(), PlayError> {
        let map = Arc::clone(&self.map);
        let me = &self.entities[i];
        let re = &self.entities[r];
        let lane = re
            .lane
            .clone()
            .ok_or_else(|| self.fail(format!("line {line}: {entity} is not on a lane")))?;
        let fwd = position::forward(&map, lane.road_index, lane.lane);
        let mut target = me.lane.clone().unwrap_or(lane.clone());
        if target.road_index != lane.road_index {
            target = lane.clone();
        }
        target.s = lane.s + if fwd { along } else { -along };
        let pose = position::lane_pose(&map, &target)
            .map_err(|m| self.fail(format!("line {line}: {m}")))?;
        self.place(
            i,
            Placed {
                x: pose.x,
                y: pose.y,
                z: pose.z,
                yaw: pose.yaw,
                lane: Some(target),
            },
        );
        Ok(())
    }

    /// A LaneChangeAction: the entity moves to the target lane at once,
    /// keeping its position as an offset that the lateral controller then
    /// takes to `target_offset`.
    fn start_lane_change(
        &mut self,
        i: usize,
        dynamics: &Dynamics,
        target: &LaneTarget,
        target_offset: f64,
        owner: Option<usize>,
        line: u32,
    ) -> Result<bool, PlayError> {
        let map = Arc::clone(&self.map);
        let Some(cur) = self.entities[i].lane.clone() else {
            return Err(self.fail(format!(
                "line {line}: {} changes lanes while not on a lane",
                self.entities[i].name
            )));
        };
        let lane = match target {
            LaneTarget::Absolute(l) => *l,
            LaneTarget::Relative { entity, value } => {
                let r = self
                    .entity(entity)
                    .and_then(|e| e.lane.clone())
                    .ok_or_else(|| self.fail(format!("line {line}: {entity} is not on a lane")))?;
                position::shift_lane(&map, r.road_index, r.lane, *value)
            }
        };
        let o0 = position::offset_between(&map, cur.road_index, cur.s, cur.lane, lane)
            .map_err(|m| self.fail(format!("line {line}: lane change to {lane}: {m}")))?
            + cur.offset;
        let mut c = cur.clone();
        c.lane = lane;
        c.offset = o0;
        self.entities[i].lane = Some(c);
        let v = self.entities[i].speed;
        let delta = target_offset - o0;
        let duration = match dynamics.dimension {
            Dimension::Distance => {
                if v > 1e-6 {
                    Some(dynamics.value / v)
                } else {
                    None
                }
            }
            _ => shapes::duration(dynamics, delta, v),
        }
        .unwrap_or(0.0);
        self.set_lat(i, owner, o0, target_offset, dynamics.shape, duration, None);
        if let Some(l) = &mut self.entities[i].lat {
            l.lane_change = true;
        }
        Ok(false)
    }

    /// The points of a trajectory's vertices, with the headings of those
    /// whose position gives one.
    fn trajectory_points(
        &self,
        vertices: &[Vertex],
        line: u32,
    ) -> Result<TrajectoryPoints, PlayError> {
        let mut points = Vec::new();
        let mut yaws = Vec::new();
        for v in vertices {
            let p = self.resolve(&v.position, line)?;
            points.push((p.x, p.y, p.z));
            let oriented = !matches!(
                v.position,
                Position::Lane {
                    orientation: None,
                    ..
                } | Position::World { h: None, .. }
            );
            yaws.push(oriented.then_some(p.yaw));
        }
        Ok((points, yaws))
    }

    #[allow(clippy::too_many_arguments)]
    fn set_lat(
        &mut self,
        i: usize,
        owner: Option<usize>,
        o0: f64,
        o1: f64,
        shape: Shape,
        duration: f64,
        track: Option<(String, f64)>,
    ) {
        if let Some(old) = self.entities[i].lat.take()
            && let Some(o) = old.owner
            && Some(o) != owner
        {
            self.overridden(o, i);
        }
        self.entities[i].lat = Some(Lat {
            owner,
            o0,
            o1,
            shape,
            duration,
            elapsed: 0.0,
            track,
            lane_change: false,
        });
    }

    fn drop_long(&mut self, i: usize, owner: Option<usize>) {
        if let Some(old) = self.entities[i].long.take()
            && let Some(o) = old.owner
            && Some(o) != owner
        {
            self.overridden(o, i);
        }
    }

    /// An action lost its entity to a newer action of the same domain.
    fn overridden(&mut self, elem: usize, entity: usize) {
        if self.elems[elem].state != St::Running {
            return;
        }
        self.elems[elem].running_on.retain(|(e, _)| *e != entity);
        if self.elems[elem].running_on.iter().all(|(_, d)| *d) {
            self.set_state(elem, St::Complete, Transition::Stop);
        }
    }

    fn place(&mut self, i: usize, p: Placed) {
        let e = &mut self.entities[i];
        e.present = true;
        e.x = p.x;
        e.y = p.y;
        e.z = p.z;
        e.yaw = p.yaw;
        e.lane = p.lane;
        if e.lane.is_none() && e.kind == EntityKind::Vehicle {
            // A vehicle placed on a lane heading along it drives along it.
            let map = Arc::clone(&self.map);
            if let Some((c, _, true)) = position::locate(&map, p.x, p.y)
                && let Ok(pose) = position::lane_pose(&map, &c)
                && position::wrap(pose.yaw - p.yaw).abs() < 0.3
            {
                self.entities[i].lane = Some(c);
            }
        }
    }

    pub(super) fn global(&mut self, g: &GlobalAction, line: u32) -> Result<(), PlayError> {
        match g {
            GlobalAction::AddEntity { entity, position } => {
                let i = self
                    .index(entity)
                    .ok_or_else(|| self.fail(format!("line {line}: unknown entity {entity:?}")))?;
                let p = self.resolve(position, line)?;
                self.place(i, p);
                self.note(format!("entity {entity} added"));
            }
            GlobalAction::DeleteEntity { entity } => {
                if let Some(i) = self.index(entity) {
                    self.entities[i].present = false;
                    self.entities[i].long = None;
                    self.entities[i].lat = None;
                    self.entities[i].path = None;
                }
                self.note(format!("entity {entity} deleted"));
            }
            GlobalAction::Environment(what) => {
                self.note(format!("environment: {what} (recorded, not simulated)"));
            }
            GlobalAction::ParameterSet { name, value } => {
                let typed = match self.params.get(name) {
                    Some(Value::Num(_)) => Value::Num(value.parse().map_err(|_| {
                        self.fail(format!("line {line}: {value:?} is not a number for {name}"))
                    })?),
                    Some(Value::Bool(_)) => {
                        Value::Bool(crate::expr::parse_bool(value).ok_or_else(|| {
                            self.fail(format!(
                                "line {line}: {value:?} is not a boolean for {name}"
                            ))
                        })?)
                    }
                    _ => Value::Str(value.clone()),
                };
                self.params.insert(name.clone(), typed);
            }
            GlobalAction::ParameterAdd { name, value }
            | GlobalAction::ParameterMultiply { name, value } => {
                let cur = self
                    .params
                    .get(name)
                    .and_then(Value::as_num)
                    .ok_or_else(|| {
                        self.fail(format!("line {line}: parameter {name} is not a number"))
                    })?;
                let v = if matches!(g, GlobalAction::ParameterAdd { .. }) {
                    cur + value
                } else {
                    cur * value
                };
                self.params.insert(name.clone(), Value::Num(v));
            }
        }
        Ok(())
    }
}
