//! Signal violations of vehicles without a lane plan (externally driven
//! ones such as the ego, and scripted ones placed by a scenario player):
//! passing the stop line of a red light, or the stop line of a stop sign
//! without having stood still (below [`STAND_SPEED`]) within
//! [`STOP_SIGN_RANGE`] metres before it.
//!
//! Each such vehicle keeps one number, the distance it has travelled since
//! it last stood; at a stop sign's line that distance plus the way from the
//! start of the step to the line is how far before the line it stood.
//! Lane-following NPCs keep their own record of the stop sign they served
//! (see [`super::traffic`]); their violations are the stop lines their
//! step's move along the plan crossed against a red light or an unserved
//! stop sign. Every violation raises a signal-violation event.

use super::traffic;
use super::{
    ActorId, ActorKind, Behavior, Event, EventKind, LaneLocation, LightState, SignalKind, World,
};
use crate::math::Pose;

/// Below this speed a vehicle counts as standing, m/s.
pub const STAND_SPEED: f64 = 0.1;

/// A vehicle must have stood within this distance before a stop sign's
/// line, metres.
pub const STOP_SIGN_RANGE: f64 = 4.0;

impl World {
    /// Checks the move of actor `i` from `pose0` (at speed `speed0`) to its
    /// current pose, located at `new`, for signal violations, and updates
    /// its distance since standing. Actors with a lane plan, pedestrians
    /// and static actors are left alone.
    pub(super) fn free_vehicle_violations(
        &mut self,
        i: usize,
        pose0: &Pose,
        speed0: f64,
        new: Option<&LaneLocation>,
    ) {
        let a = &self.actors[i];
        if a.kind != ActorKind::Vehicle || a.follow.is_some() || a.behavior == Behavior::Stopped {
            return;
        }
        let mut since = if speed0 < STAND_SPEED {
            0.0
        } else {
            a.since_stand
        };
        let time = self.time();
        let mut hits = Vec::new();
        if let (Some(p), Some(n)) = (&a.lane, new)
            && let (Some(pn), Some(nn)) = (p.node, n.node)
        {
            let g = self.map.graph();
            // Only moves along the lane graph (same lane, or on into a
            // successor) cross stop lines; a jump sideways or a teleport
            // does not.
            let passed: Option<&[u32]> = if pn == nn {
                Some(&[])
            } else if g.successors(pn).contains(&nn) {
                Some(std::slice::from_ref(&pn))
            } else {
                None
            };
            if let Some(passed) = passed {
                let sigs = self.map.signals();
                traffic::crossed_stops(&self.map, (pn, p.s), passed, (nn, n.s), |si| {
                    let sig = &sigs.all()[si];
                    match sigs.state(si, time) {
                        LightState::Red => hits.push(si),
                        LightState::Off if sig.kind == SignalKind::Stop => {
                            let to_line = sig
                                .stop_lines
                                .iter()
                                .map(|st| (st.pos - pose0.xy()).length())
                                .fold(f64::INFINITY, f64::min);
                            if since + to_line > STOP_SIGN_RANGE {
                                hits.push(si);
                            }
                        }
                        _ => {}
                    }
                });
            }
        }
        since += (a.pose.xy() - pose0.xy()).length();
        if a.speed < STAND_SPEED {
            since = 0.0;
        }
        let id = a.id;
        self.actors[i].since_stand = since;
        for si in hits {
            self.push_violation(id, si);
        }
    }
    /// Red lights and stop signs passed by lane-following vehicles.
    pub(super) fn npc_violations(&mut self, follow_before: &[Option<(u32, f64)>]) {
        if self.map.signals().is_empty() {
            return;
        }
        let time = self.time();
        let mut found = Vec::new();
        for (i, a) in self.actors.iter().enumerate() {
            let (Some(f), Some(b)) = (&a.follow, follow_before[i]) else {
                continue;
            };
            traffic::crossed_stops(&self.map, b, &f.passed, (f.node, f.s), |si| {
                if self.violates(si, time, f.served_stop) {
                    found.push((a.id, si));
                }
            });
        }
        for (actor, si) in found {
            self.push_violation(actor, si);
        }
    }

    /// Whether passing signal `si` at `time` breaks it.
    fn violates(&self, si: usize, time: f64, served: Option<u32>) -> bool {
        let sigs = self.map.signals();
        match sigs.state(si, time) {
            LightState::Red => true,
            LightState::Off => sigs.all()[si].kind == SignalKind::Stop && served != Some(si as u32),
            _ => false,
        }
    }

    /// Raises the event of `actor` violating signal `si`.
    fn push_violation(&mut self, actor: ActorId, si: usize) {
        let sig = &self.map.signals().all()[si];
        self.events.push(Event {
            frame: self.frame,
            time: self.time(),
            kind: EventKind::SignalViolation {
                actor,
                signal_id: sig.id.clone(),
                kind: sig.kind,
            },
        });
    }
}
