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
//! (see [`super::traffic`]).

use super::traffic;
use super::{ActorKind, Behavior, LaneLocation, LightState, SignalKind, World};
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
}
