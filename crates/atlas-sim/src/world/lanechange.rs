//! Lane changes of lane-following NPCs on multi-lane roads (MOBIL-style).
//!
//! An NPC on a road with an adjacent drivable lane of the same direction
//! considers moving over when
//!
//! - incentive: the acceleration it would have behind the leader of the
//!   other lane beats the one behind its current leader by
//!   [`THRESHOLD`], counting the new follower's loss with weight
//!   [`POLITENESS`];
//! - safety: the gaps to the new leader and the new follower both exceed
//!   the standstill gap, and neither it nor the new follower would have to
//!   brake harder than [`SAFE_DECEL`];
//! - place: it is not in a junction, no signal holds it, no junction lane is
//!   reserved, and the lane goes on long enough for the whole move.
//!
//! The move switches the NPC to the neighbour lane at once, keeping its
//! world position as a lateral offset from the new lane's centre, and then
//! takes the offset to zero over [`DURATION`] seconds along a quintic
//! (zero lateral speed and acceleration at both ends). Followers in either
//! lane see the car where it really is, because leaders are found by box
//! overlap with each follower's corridor.

use super::{Actor, ActorKind, Follow};
use crate::map::Map;
use crate::math::Vec2;

/// Seconds a lane change takes.
pub const DURATION: f64 = 4.0;
/// Seconds after a lane change before the next one may start.
pub const COOLDOWN: f64 = 4.0;
/// Acceleration advantage (m/s²) a change must bring.
pub const THRESHOLD: f64 = 0.3;
/// Weight of the new follower's acceleration loss.
pub const POLITENESS: f64 = 0.3;
/// Hardest braking (m/s²) a change may impose on anyone.
pub const SAFE_DECEL: f64 = 3.0;
/// Lane length (m) a route-driven lane change needs ahead of the junction.
pub const ROUTE_CHANGE_ROOM: f64 = 80.0;
/// Slowest speed at which NPCs change lanes, m/s.
const MIN_SPEED: f64 = 3.0;
/// How far around NPCs look for neighbours in the other lane, metres.
const RANGE: f64 = 80.0;

/// A lane change in progress (or the last one, for the cool-down).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LaneChange {
    /// The lane the NPC came from.
    pub from_lane: i32,
    /// Lateral offset from the new lane's centre at the start, metres
    /// (reference-line `t` direction).
    pub start_offset: f64,
    /// Seconds since the change started.
    pub elapsed: f64,
    /// Node and offset before the switch, kept for one step so a move that
    /// is undone (blocked by a collision) can undo the switch too.
    pub undo: Option<(u32, f64)>,
}

impl LaneChange {
    pub fn active(&self) -> bool {
        self.elapsed < DURATION
    }

    /// Offset from the new lane's centre after `t` seconds.
    pub fn offset_at(&self, t: f64) -> f64 {
        let x = (t / DURATION).clamp(0.0, 1.0);
        let smooth = x * x * x * (10.0 + x * (-15.0 + 6.0 * x));
        self.start_offset * (1.0 - smooth)
    }

    /// Rate of change of the offset after `t` seconds, m/s.
    pub fn rate_at(&self, t: f64) -> f64 {
        let x = (t / DURATION).clamp(0.0, 1.0);
        let d_smooth = 30.0 * x * x * (1.0 - x) * (1.0 - x);
        -self.start_offset * d_smooth / DURATION
    }
}

/// One NPC's view for a lane-change decision.
pub(crate) struct Situation<'a> {
    pub map: &'a Map,
    pub actors: &'a [Actor],
    pub me: usize,
    /// IDM acceleration given a gap (m) and the approach speed (m/s).
    pub idm: &'a dyn Fn(f64, f64, f64, f64) -> f64,
    /// The NPC's desired speed (speed limit or target, bends included).
    pub v_des: f64,
    /// Acceleration behind its current vehicle leader.
    pub acc_here: f64,
}

/// Whether actor `a` is in lane `lane_id` of `road` (or moving out of it).
/// Lane followers count by their lane node, which already reflects a lane
/// change they decided earlier in this step.
fn in_lane(map: &Map, a: &Actor, road: usize, lane_id: i32) -> bool {
    if let Some(f) = &a.follow {
        let n = map.graph().node(f.node);
        return n.road == road
            && (n.lane_id == lane_id
                || f.lane_change
                    .as_ref()
                    .is_some_and(|lc| lc.active() && lc.from_lane == lane_id));
    }
    a.lane
        .as_ref()
        .is_some_and(|l| l.road == road && l.lane_id == lane_id)
}

/// The desired speed of another actor, for its IDM.
fn desired_speed(a: &Actor, fallback: f64) -> f64 {
    match &a.follow {
        Some(f) if f.target_speed > 0.0 => f.target_speed,
        Some(_) => fallback,
        None => a.speed,
    }
}

/// Chooses a neighbour lane worth moving to, if any, and switches `f` to
/// it. Returns whether it did.
pub(crate) fn consider(sit: &Situation, f: &mut Follow) -> bool {
    let map = sit.map;
    let g = map.graph();
    let me = &sit.actors[sit.me];
    let v = me.speed;
    if me.kind != ActorKind::Vehicle || v < MIN_SPEED || !f.reserved.is_empty() {
        return false;
    }
    if f.lane_change
        .as_ref()
        .is_some_and(|lc| lc.elapsed < DURATION + COOLDOWN)
    {
        return false;
    }
    let node = g.node(f.node);
    if node.junction.is_some() || g.neighbours(f.node).is_empty() {
        return false;
    }
    // The whole move happens on this lane node.
    if node.remaining(f.s) < v * DURATION + 10.0 {
        return false;
    }
    let mut best: Option<(f64, u32)> = None;
    for &target in g.neighbours(f.node) {
        if let Some(gain) = evaluate(sit, node.road, target)
            && gain > THRESHOLD
            && best.is_none_or(|(b, _)| gain > b)
        {
            best = Some((gain, target));
        }
    }
    let Some((_, target)) = best else {
        return false;
    };
    switch(map, f, target, false)
}

/// A lane change the route needs, into `target` (the head of the plan):
/// made now if it is safe and the lane goes on long enough for the move,
/// whatever the incentive. Returns whether it was made.
pub(crate) fn mandatory(sit: &Situation, f: &mut Follow, target: u32) -> bool {
    let g = sit.map.graph();
    let me = &sit.actors[sit.me];
    let node = g.node(f.node);
    if f.lane_change.as_ref().is_some_and(|lc| lc.active()) || !f.reserved.is_empty() {
        return false;
    }
    if node.junction.is_some() || node.remaining(f.s) < me.speed * DURATION + 10.0 {
        return false;
    }
    if evaluate(sit, node.road, target).is_none() {
        return false;
    }
    if !switch(sit.map, f, target, true) {
        return false;
    }
    // The plan now goes on from the new lane.
    f.plan.pop_front();
    true
}

/// The MOBIL gain of moving into lane node `target` of `road`, or `None`
/// when the move is unsafe.
fn evaluate(sit: &Situation, road: usize, target: u32) -> Option<f64> {
    let g = sit.map.graph();
    let me = &sit.actors[sit.me];
    let v = me.speed;
    let fwd = Vec2::from_angle(me.pose.yaw);
    let my_box = me.obb();
    let my_len = me.dims.length;
    {
        let lane_id = g.node(target).lane_id;
        // Nearest leader and follower in the target lane.
        let mut lead: Option<(f64, f64)> = None; // (gap, speed)
        let mut follow: Option<(f64, f64, f64)> = None; // (gap, speed, v0)
        let mut blocked = false;
        for (j, other) in sit.actors.iter().enumerate() {
            if j == sit.me || other.kind != ActorKind::Vehicle {
                continue;
            }
            let ob = other.obb();
            let rel = ob.centre - my_box.centre;
            if rel.length() > RANGE || !in_lane(sit.map, other, road, lane_id) {
                continue;
            }
            let along = rel.dot(fwd);
            let half = 0.5 * (my_len + other.dims.length);
            let speed = other.speed * Vec2::from_angle(other.pose.yaw).dot(fwd);
            if along.abs() < half + 1.0 {
                blocked = true;
                break;
            }
            if along > 0.0 {
                let gap = along - half;
                if lead.is_none_or(|(g0, _)| gap < g0) {
                    lead = Some((gap, speed));
                }
            } else {
                let gap = -along - half;
                if follow.is_none_or(|(g0, _, _)| gap < g0) {
                    follow = Some((gap, speed, desired_speed(other, sit.v_des)));
                }
            }
        }
        if blocked {
            return None;
        }
        let idm = sit.idm;
        let acc_there = match lead {
            Some((gap, lv)) => {
                if gap < 2.0 {
                    return None;
                }
                idm(v, sit.v_des, gap, v - lv)
            }
            None => idm(v, sit.v_des, f64::INFINITY, 0.0),
        };
        if acc_there < -SAFE_DECEL {
            return None;
        }
        // The new follower: its acceleration behind us, and behind the new
        // leader as it is now.
        let mut follower_loss = 0.0;
        if let Some((gap, fv, fv0)) = follow {
            if gap < 2.0 {
                return None;
            }
            let behind_me = idm(fv, fv0, gap, fv - v);
            if behind_me < -SAFE_DECEL {
                return None;
            }
            let before = match lead {
                Some((lgap, lv)) => idm(fv, fv0, gap + my_len + lgap, fv - lv),
                None => idm(fv, fv0, f64::INFINITY, 0.0),
            };
            follower_loss = (before - behind_me).max(0.0);
        }
        Some(acc_there - sit.acc_here - POLITENESS * follower_loss)
    }
}

/// Moves `f` to lane node `target` (a lateral neighbour) keeping its world
/// position, and starts the lateral move.
pub(crate) fn switch(map: &Map, f: &mut Follow, target: u32, keep_plan: bool) -> bool {
    let g = map.graph();
    let from = g.node(f.node);
    let to = g.node(target);
    let (Some(a), Some(b)) = (
        map.lane_span(from.road, from.section, from.lane_id, f.s),
        map.lane_span(to.road, to.section, to.lane_id, f.s),
    ) else {
        return false;
    };
    let start_offset = a.centre() + f.offset - b.centre();
    f.lane_change = Some(LaneChange {
        from_lane: from.lane_id,
        start_offset,
        elapsed: 0.0,
        undo: Some((f.node, f.offset)),
    });
    f.node = target;
    f.offset = start_offset;
    if !keep_plan {
        f.plan.clear();
    }
    true
}

/// Advances a lane change by `dt`: the new offset, and the heading change
/// (radians, to add to the lane's direction) its lateral speed gives at
/// speed `v` along a lane that runs along +s when `forward`.
pub(crate) fn progress(f: &mut Follow, dt: f64, v: f64, forward: bool) -> f64 {
    let Some(lc) = f.lane_change.as_mut() else {
        return 0.0;
    };
    if !lc.active() {
        return 0.0;
    }
    lc.elapsed += dt;
    f.offset = lc.offset_at(lc.elapsed);
    if !lc.active() {
        f.offset = 0.0;
        return 0.0;
    }
    let rate = lc.rate_at(lc.elapsed);
    // +t is left of travel on forward lanes, right of it on backward ones.
    let lateral = if forward { rate } else { -rate };
    lateral.atan2(v.max(0.5))
}
