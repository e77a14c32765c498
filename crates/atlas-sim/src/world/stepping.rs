//! One fixed step: NPCs decide, every actor moves by its behaviour
//! (external vehicles through the kinematic bicycle), collisions are
//! resolved, signal violations found, velocities refreshed and lane states
//! updated with their events.

use std::sync::Arc;

use super::{
    Actor, ActorId, ActorKind, Behavior, Event, EventKind, MAX_ACCEL, MAX_BRAKE, MAX_STEER,
    Snapshot, VehicleControl, World, stopsigns, traffic, walkers,
};
use crate::error::WorldError;
use crate::map::LocateHint;
use crate::math::{Pose, Vec2, wrap_angle};

/// Rolling resistance (m/s²) and aerodynamic drag (1/m) of a coasting car.
const ROLLING: f64 = 0.3;
const DRAG: f64 = 0.0015;

impl World {
    /// Advances the world one fixed step.
    pub fn step(&mut self) {
        self.frame += 1;
        let dt = self.dt;
        let before: Vec<(Pose, f64, [f64; 3])> = self
            .actors
            .iter()
            .map(|a| (a.pose, a.speed, a.velocity))
            .collect();
        let follow_before: Vec<Option<(u32, f64)>> = self
            .actors
            .iter()
            .map(|a| a.follow.as_ref().map(|f| (f.node, f.s)))
            .collect();
        let accels = traffic::decide(self);
        let map = Arc::clone(&self.map);
        let vehicles: Vec<(Vec2, f64)> = if self.actors.iter().any(|a| a.walk.is_some()) {
            self.actors
                .iter()
                .filter(|a| a.kind == ActorKind::Vehicle)
                .map(|a| {
                    let o = a.obb();
                    (o.centre, o.radius())
                })
                .collect()
        } else {
            Vec::new()
        };
        for (a, acc) in self.actors.iter_mut().zip(accels) {
            match (a.kind, a.behavior) {
                (ActorKind::Static, _) | (_, Behavior::Stopped) => {
                    a.speed = 0.0;
                }
                (ActorKind::Vehicle, Behavior::External) => drive(a, dt),
                (ActorKind::Vehicle, Behavior::LaneFollow { .. }) => {
                    traffic::advance(&map, a, acc, dt)
                }
                (ActorKind::Pedestrian, Behavior::LaneFollow { target_speed }) => {
                    if a.walk.is_some() {
                        walkers::advance(&map, a, target_speed, dt, &vehicles);
                    } else {
                        a.speed = target_speed;
                        walk(a, dt);
                    }
                }
                (ActorKind::Pedestrian, Behavior::External) => walk(a, dt),
                (_, Behavior::Scripted) => {
                    a.speed = (a.speed + a.scripted_accel * dt).max(0.0);
                    walk(a, dt);
                }
            }
        }
        self.resolve_collisions(&before, &follow_before);
        self.npc_violations(&follow_before);
        for (i, (pose0, _, vel0)) in before.iter().enumerate() {
            let a = &mut self.actors[i];
            let dir = Vec2::from_angle(a.pose.yaw);
            let vz = (a.pose.z - pose0.z) / dt;
            a.velocity = [dir.x * a.speed, dir.y * a.speed, vz];
            a.accel = std::array::from_fn(|k| (a.velocity[k] - vel0[k]) / dt);
            a.yaw_rate = wrap_angle(a.pose.yaw - pose0.yaw) / dt;
        }
        self.update_lanes(&before);
    }

    /// Steps `n` times holding `commands` for the external vehicles, and
    /// returns the snapshot after the last step.
    pub fn step_with(
        &mut self,
        n: u32,
        commands: &[(ActorId, VehicleControl)],
    ) -> Result<Snapshot, WorldError> {
        for &(id, c) in commands {
            self.set_control(id, c)?;
        }
        for _ in 0..n.max(1) {
            self.step();
        }
        Ok(self.snapshot())
    }

    fn update_lanes(&mut self, before: &[(Pose, f64, [f64; 3])]) {
        let (frame, time) = (self.frame, self.time());
        for (i, (pose0, speed0, _)) in before.iter().enumerate() {
            let a = &self.actors[i];
            if a.pose == *pose0 && a.lane.is_some() {
                if a.speed < stopsigns::STAND_SPEED {
                    self.actors[i].since_stand = 0.0;
                }
                continue;
            }
            let walked = a
                .walk
                .as_ref()
                .and_then(|w| walkers::location(&self.map, w));
            let new = match &a.follow {
                Some(f) => traffic::location(&self.map, f),
                None if walked.is_some() => walked,
                None => self.map.locate_with_hint(
                    a.pose.xy(),
                    Some(LocateHint {
                        heading: a.pose.yaw,
                        road: a.lane.as_ref().map(|l| l.road),
                    }),
                ),
            };
            if a.is_external_vehicle() {
                let was_on = a.lane.as_ref().is_some_and(|l| l.lane_type.is_drivable());
                let is_on = new.as_ref().is_some_and(|l| l.lane_type.is_drivable());
                if let (Some(p), Some(n)) = (&a.lane, &new)
                    && p.road == n.road
                    && p.lane_id != n.lane_id
                {
                    self.events.push(Event {
                        frame,
                        time,
                        kind: EventKind::LaneInvasion {
                            actor: a.id,
                            road_id: self.map.roads()[n.road].id.clone(),
                            from_lane: p.lane_id,
                            to_lane: n.lane_id,
                        },
                    });
                }
                let a = &self.actors[i];
                if was_on && !is_on {
                    self.events.push(Event {
                        frame,
                        time,
                        kind: EventKind::OffRoad { actor: a.id },
                    });
                }
            }
            self.free_vehicle_violations(i, pose0, *speed0, new.as_ref());
            let a = &mut self.actors[i];
            if let Some(l) = &new
                && a.follow.is_none()
            {
                a.pose.z = self.map.elevation(l.road, l.s);
            }
            a.lane = new;
        }
    }
}

/// Kinematic bicycle about the rear axle under the actor's controls.
fn drive(a: &mut Actor, dt: f64) {
    let c = a.control;
    let v = a.speed;
    let mut acc = c.throttle * MAX_ACCEL;
    if v > 0.0 {
        acc -= c.brake * MAX_BRAKE + ROLLING + DRAG * v * v;
    }
    let mut v1 = v + acc * dt;
    if v >= 0.0 && v1 < 0.0 {
        v1 = 0.0;
    }
    let d = 0.5 * (v + v1) * dt;
    let delta = c.steer * MAX_STEER;
    let dth = d * delta.tan() / a.dims.wheelbase.max(0.1);
    let half = 0.5 * dth;
    let chord = if half.abs() < 1e-9 {
        d
    } else {
        d * half.sin() / half
    };
    let dir = Vec2::from_angle(a.pose.yaw + half);
    a.pose.x += chord * dir.x;
    a.pose.y += chord * dir.y;
    a.pose.yaw = wrap_angle(a.pose.yaw + dth);
    a.speed = v1;
}

/// Straight-line walking at the actor's speed.
fn walk(a: &mut Actor, dt: f64) {
    let dir = Vec2::from_angle(a.pose.yaw);
    a.pose.x += dir.x * a.speed * dt;
    a.pose.y += dir.y * a.speed * dt;
}
