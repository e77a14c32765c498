//! Recording a run for artifacts: every actor at control rate, the
//! simulator's events and the infractions, sent back in `Finished.trace`.
//!
//! Samples are stored column-wise in `f32` (about 22 bytes each on the
//! wire). Past [`MAX_SAMPLES`] the recorder stops adding samples and marks
//! the trace truncated, which keeps the message far below the 64 MiB gRPC
//! limit (2 M samples ≈ 44 MB).

use std::collections::HashMap;

use atlas_proto::scenario as pb;
use atlas_proto::sim;

/// Sample budget of one trace.
pub const MAX_SAMPLES: usize = 2_000_000;
/// Event budget of one trace.
pub const MAX_EVENTS: usize = 100_000;

/// Builds a [`pb::Trace`] step by step.
pub struct Recorder {
    trace: pb::Trace,
    track_of: HashMap<u64, usize>,
    samples: usize,
}

fn kind_name(kind: i32) -> &'static str {
    match sim::ActorKind::try_from(kind) {
        Ok(sim::ActorKind::Vehicle) => "vehicle",
        Ok(sim::ActorKind::Pedestrian) => "pedestrian",
        Ok(sim::ActorKind::Static) => "static",
        _ => "unknown",
    }
}

impl Recorder {
    pub fn new(map: &str, ego_actor_id: u64, route: &[(f64, f64)]) -> Self {
        Self {
            trace: pb::Trace {
                map: map.into(),
                ego_actor_id,
                route_x: route.iter().map(|p| p.0 as f32).collect(),
                route_y: route.iter().map(|p| p.1 as f32).collect(),
                ..Default::default()
            },
            track_of: HashMap::new(),
            samples: 0,
        }
    }

    /// Records one control step's snapshot and the infractions it raised.
    pub fn record(&mut self, snap: &sim::Snapshot, infractions: &[pb::Infraction]) {
        let ego = self.trace.ego_actor_id;
        let (ex, ey) = snap
            .actors
            .iter()
            .find(|a| a.actor_id == ego)
            .and_then(|a| a.pose.as_ref()?.position)
            .map_or((0.0, 0.0), |p| (p.x, p.y));
        for ev in &snap.events {
            let (kind, actor, other, message) = match &ev.kind {
                Some(sim::event::Kind::Collision(c)) => (
                    "collision",
                    c.actor_id,
                    c.other_actor_id,
                    format!(
                        "actor {} hit {} actor {} at {:.1} m/s",
                        c.actor_id,
                        kind_name(c.other_kind),
                        c.other_actor_id,
                        c.relative_speed
                    ),
                ),
                Some(sim::event::Kind::LaneInvasion(l)) => (
                    "lane_invasion",
                    l.actor_id,
                    0,
                    format!(
                        "actor {} crossed from lane {} to {} on road {}",
                        l.actor_id, l.from_lane_id, l.to_lane_id, l.road_id
                    ),
                ),
                Some(sim::event::Kind::OffRoad(o)) => (
                    "off_road",
                    o.actor_id,
                    0,
                    format!("actor {} left the drivable lanes", o.actor_id),
                ),
                Some(sim::event::Kind::SignalViolation(v)) => (
                    "signal_violation",
                    v.actor_id,
                    0,
                    format!("actor {} passed signal {}", v.actor_id, v.signal_id),
                ),
                None => continue,
            };
            // Other actors' events are placed where that actor is.
            let (x, y) = snap
                .actors
                .iter()
                .find(|a| a.actor_id == actor)
                .and_then(|a| a.pose.as_ref()?.position)
                .map_or((ex, ey), |p| (p.x, p.y));
            self.push_event(pb::TraceEvent {
                sim_time_s: ev.sim_time_s,
                kind: kind.into(),
                message,
                actor_id: actor,
                other_actor_id: other,
                x,
                y,
                infraction: false,
            });
        }
        self.infractions(infractions);

        if self.samples + snap.actors.len() > MAX_SAMPLES {
            self.trace.truncated = true;
            return;
        }
        let step = self.trace.times.len() as u32;
        self.trace.times.push(snap.sim_time_s);
        for a in &snap.actors {
            let idx = *self.track_of.entry(a.actor_id).or_insert_with(|| {
                self.trace.tracks.push(pb::ActorTrack {
                    actor_id: a.actor_id,
                    kind: kind_name(a.kind).into(),
                    role: a.role.clone(),
                    name: a.name.clone(),
                    ..Default::default()
                });
                self.trace.tracks.len() - 1
            });
            let t = &mut self.trace.tracks[idx];
            let pose = a.pose.unwrap_or_default();
            let p = pose.position.unwrap_or_default();
            t.steps.push(step);
            t.x.push(p.x as f32);
            t.y.push(p.y as f32);
            t.z.push(p.z as f32);
            t.heading.push(pose.yaw as f32);
            t.speed.push(a.speed as f32);
            self.samples += 1;
        }
    }

    /// Records infractions raised outside a snapshot (e.g. at the end).
    pub fn infractions(&mut self, infractions: &[pb::Infraction]) {
        for inf in infractions {
            self.push_event(pb::TraceEvent {
                sim_time_s: inf.sim_time_s,
                kind: inf.category.clone(),
                message: inf.message.clone(),
                actor_id: self.trace.ego_actor_id,
                other_actor_id: 0,
                x: inf.x,
                y: inf.y,
                infraction: true,
            });
        }
    }

    fn push_event(&mut self, ev: pb::TraceEvent) {
        if self.trace.events.len() >= MAX_EVENTS {
            self.trace.truncated = true;
            return;
        }
        self.trace.events.push(ev);
    }

    pub fn finish(self) -> pb::Trace {
        self.trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn actor(id: u64, kind: sim::ActorKind, x: f64) -> sim::ActorState {
        sim::ActorState {
            actor_id: id,
            kind: kind as i32,
            role: if id == 1 { "ego".into() } else { "npc".into() },
            pose: Some(sim::Pose {
                position: Some(sim::Vec3 { x, y: 2.0, z: 0.0 }),
                yaw: 0.5,
                ..Default::default()
            }),
            speed: 3.0,
            ..Default::default()
        }
    }

    #[test]
    fn tracks_are_per_actor_and_columns_stay_parallel() {
        let mut r = Recorder::new("Town01", 1, &[(0.0, 0.0), (10.0, 0.0)]);
        for k in 0..5 {
            let mut actors = vec![actor(1, sim::ActorKind::Vehicle, k as f64)];
            if k >= 2 {
                actors.push(actor(7, sim::ActorKind::Pedestrian, 50.0));
            }
            let events = if k == 3 {
                vec![sim::Event {
                    frame: 3,
                    sim_time_s: 0.3,
                    kind: Some(sim::event::Kind::Collision(sim::CollisionEvent {
                        actor_id: 1,
                        other_actor_id: 7,
                        other_kind: sim::ActorKind::Pedestrian as i32,
                        relative_speed: 3.0,
                    })),
                }]
            } else {
                Vec::new()
            };
            let snap = sim::Snapshot {
                sim_time_s: k as f64 * 0.1,
                actors,
                events,
                ..Default::default()
            };
            r.record(&snap, &[]);
        }
        let t = r.finish();
        assert_eq!(t.times.len(), 5);
        assert_eq!(t.tracks.len(), 2);
        let ped = t.tracks.iter().find(|t| t.actor_id == 7).unwrap();
        assert_eq!(ped.kind, "pedestrian");
        assert_eq!(ped.steps, vec![2, 3, 4]);
        assert_eq!(ped.x.len(), 3);
        assert_eq!(ped.speed.len(), 3);
        assert_eq!(t.events.len(), 1);
        assert_eq!(t.events[0].kind, "collision");
        assert!(!t.truncated);
        // Decodes back to the same message.
        let back = pb::Trace::decode(t.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, t);
    }
}
