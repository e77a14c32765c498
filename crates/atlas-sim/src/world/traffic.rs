//! Lane-following NPC traffic.
//!
//! An NPC drives along the lane-graph nodes of its plan, choosing among
//! successors at forks with its own seeded generator. Each step it looks
//! down its path: any actor whose box comes within its corridor is a leader
//! for the Intelligent Driver Model, and bends ahead cap the speed at a
//! comfortable lateral acceleration. Junctions are taken in turn: before
//! entering, an NPC reserves the junction lanes it will use, which is only
//! possible while no other actor occupies or holds a lane that crosses or
//! merges with them ([`crate::map::graph::LaneGraph::conflicts`]); otherwise
//! it stops at the entry. Traffic lights and stop signs
//! ([`crate::map::signals`]) put a standing obstacle at their stop line:
//! red always (unless the car is already too close to stop firmly), yellow
//! while a comfortable stop still fits, a stop sign until the car has stood
//! at the line; an NPC held by a signal reserves nothing beyond it.

use std::collections::BTreeMap;

use super::lanechange::{self, Situation};
use super::{Actor, ActorId, ActorKind, Follow, MAX_BRAKE, World};
use crate::map::signals::{LightState, SignalKind};
use crate::map::{LaneLocation, Map};
use crate::math::{Pose, Rng, Vec2, wrap_angle};

/// IDM parameters: comfortable acceleration and deceleration (m/s²),
/// standstill gap (m) and time headway (s).
const IDM_ACCEL: f64 = 2.0;
const IDM_DECEL: f64 = 3.0;
const IDM_GAP: f64 = 2.0;
const IDM_HEADWAY: f64 = 1.2;
/// Lateral acceleration NPCs accept in bends, m/s².
const LATERAL_ACCEL: f64 = 2.5;
/// Target speed without a target or a speed limit: 30 km/h.
pub const DEFAULT_SPEED: f64 = 30.0 / 3.6;
/// NPCs choose their way at least this far ahead (m), so a lane change a
/// route needs is known while there is room for it.
const PLAN_AHEAD: f64 = 150.0;
/// Extra half-width of the corridor an NPC keeps clear, metres.
const CORRIDOR_MARGIN: f64 = 0.3;

/// The speed limit at `s` of `road`, m/s.
pub fn speed_limit(map: &Map, road: usize, s: f64) -> Option<f64> {
    map.roads()[road]
        .types
        .iter()
        .rev()
        .find(|t| t.s <= s + 1e-9)
        .and_then(|t| t.max_speed)
}

/// The lane location of a lane-following actor.
pub(crate) fn location(map: &Map, f: &Follow) -> Option<LaneLocation> {
    let n = map.graph().node(f.node);
    let span = map.lane_span(n.road, n.section, n.lane_id, f.s)?;
    let lane = map.roads()[n.road].lane_sections[n.section].lane(n.lane_id)?;
    Some(map.make_location(n.road, n.section, lane, f.s, span.centre() + f.offset, span))
}

/// Undoes this step's progress: back to `node` at `s`, with the nodes
/// entered since returned to the plan.
pub(crate) fn restore(f: &mut Follow, node: u32, s: f64) {
    while let Some(prev) = f.passed.pop() {
        f.plan.push_front(f.node);
        f.node = prev;
    }
    // A lane change started this step is undone with the move.
    if let Some((old, offset)) = f.lane_change.as_ref().and_then(|lc| lc.undo)
        && old == node
        && f.node != node
    {
        f.offset = offset;
        f.lane_change = None;
        f.plan.clear();
    }
    f.node = node;
    f.s = s;
}

/// Whether plan entry `next` after node `prev` is a lateral move (a lane
/// change the route needs) rather than a step along the lane graph.
pub(crate) fn is_lateral(map: &Map, prev: u32, next: u32) -> bool {
    map.graph().neighbours(prev).contains(&next)
}

fn extend_plan(map: &Map, f: &mut Follow, rng: &mut Rng, min_len: f64) {
    let g = map.graph();
    let mut total = g.node(f.node).remaining(f.s);
    let mut prev = f.node;
    for &n in &f.plan {
        if !is_lateral(map, prev, n) {
            total += g.node(n).length;
        }
        prev = n;
    }
    while total < min_len && f.plan.len() < 256 {
        let last = f.plan.back().copied().unwrap_or(f.node);
        let succ = g.successors(last);
        if succ.is_empty() {
            break;
        }
        // Before a junction on a multi-lane road the route may leave from
        // a neighbour lane: every way into the junction from this lane or
        // its neighbours is equally likely, and one from a neighbour
        // lane puts that lane in the plan first (a lane change the car
        // makes on the way; see [`lanechange::mandatory`]).
        let into_junction = succ.iter().any(|&n| g.node(n).junction.is_some());
        let room = g.node(last).length >= lanechange::ROUTE_CHANGE_ROOM
            && total >= lanechange::ROUTE_CHANGE_ROOM;
        let lateral_ok = into_junction
            && room
            && g.node(last).junction.is_none()
            && !f.plan.back().is_some_and(|&b| {
                f.plan.len() >= 2 && is_lateral(map, f.plan[f.plan.len() - 2], b)
            });
        let mut options: Vec<(Option<u32>, u32)> = succ.iter().map(|&n| (None, n)).collect();
        if lateral_ok {
            for &l in g.neighbours(last) {
                for &n in g.successors(l) {
                    if !succ.contains(&n) {
                        options.push((Some(l), n));
                    }
                }
            }
        }
        let (via, next) = options[rng.below(options.len())];
        if let Some(l) = via {
            f.plan.push_back(l);
        }
        f.plan.push_back(next);
        total += g.node(next).length.max(0.01);
    }
}

#[derive(Clone, Copy, Debug)]
struct PathPoint {
    pos: Vec2,
    /// Distance from the rig along the path.
    dist: f64,
    heading: f64,
}

/// Lane-centre points ahead of the actor along its plan, up to `horizon`;
/// during a lane change the points of the current lane carry the lateral
/// offset the car will still have when it gets there at speed `v`.
fn path(map: &Map, f: &Follow, start: &Pose, v: f64, horizon: f64, out: &mut Vec<PathPoint>) {
    out.clear();
    let g = map.graph();
    let node = g.node(f.node);
    let shift = f
        .lane_change
        .as_ref()
        .filter(|lc| lc.active())
        .map(|lc| (lc.clone(), if node.forward { 1.0 } else { -1.0 }));
    let mut last = start.xy();
    let mut dist = 0.0;
    out.push(PathPoint {
        pos: last,
        dist,
        heading: start.yaw,
    });
    let mut push = |p: &crate::map::graph::NodePoint, out: &mut Vec<PathPoint>| -> bool {
        let d = (p.pos - last).length();
        if d < 1e-6 {
            return true;
        }
        dist += d;
        last = p.pos;
        out.push(PathPoint {
            pos: p.pos,
            dist,
            heading: p.heading,
        });
        dist <= horizon
    };
    // Points are in increasing s: the ones ahead are a suffix (forward
    // lanes) or a prefix (backward lanes), found by bisection.
    let ahead: Box<dyn Iterator<Item = &crate::map::graph::NodePoint>> = if node.forward {
        let k = node.points.partition_point(|p| p.s <= f.s);
        Box::new(node.points[k..].iter())
    } else {
        let k = node.points.partition_point(|p| p.s < f.s);
        Box::new(node.points[..k].iter().rev())
    };
    for p in ahead {
        let mut p = *p;
        if let Some((lc, sign)) = &shift {
            let t = lc.elapsed + (p.pos - start.xy()).length() / v.max(1.0);
            p.pos = p.pos + Vec2::from_angle(p.heading).perp() * (sign * lc.offset_at(t));
        }
        if !push(&p, out) {
            return;
        }
    }
    let mut prev = f.node;
    for &n in &f.plan {
        // A lane change the route needs: the path goes on from the
        // neighbour lane's successors.
        let lateral = is_lateral(map, prev, n);
        prev = n;
        if lateral {
            continue;
        }
        let node = g.node(n);
        let pts: Box<dyn Iterator<Item = &crate::map::graph::NodePoint>> = if node.forward {
            Box::new(node.points.iter())
        } else {
            Box::new(node.points.iter().rev())
        };
        for p in pts {
            if !push(p, out) {
                return;
            }
        }
    }
}

/// Intelligent Driver Model acceleration.
fn idm(v: f64, v0: f64, gap: f64, dv: f64) -> f64 {
    let free = if v0 > 0.1 {
        1.0 - (v / v0).powi(4)
    } else {
        -1.0
    };
    let mut a = IDM_ACCEL * free;
    if gap.is_finite() {
        let s_star =
            IDM_GAP + (v * IDM_HEADWAY + v * dv / (2.0 * (IDM_ACCEL * IDM_DECEL).sqrt())).max(0.0);
        a -= IDM_ACCEL * (s_star / gap.max(0.1)).powi(2);
    }
    a.clamp(-MAX_BRAKE, IDM_ACCEL)
}

/// Accelerations of every actor for this step (non-NPCs get 0), updating
/// NPC plans and junction reservations in actor-id order.
pub(crate) fn decide(w: &mut World) -> Vec<f64> {
    let n = w.actors.len();
    let mut out = vec![0.0; n];
    if !w.actors.iter().any(|a| a.follow.is_some()) {
        return out;
    }
    let map = std::sync::Arc::clone(&w.map);
    let g = map.graph();
    // Who is on, or holds, each lane node.
    let mut occupied: BTreeMap<u32, Vec<ActorId>> = BTreeMap::new();
    for a in &w.actors {
        if let Some(f) = &a.follow {
            occupied.entry(f.node).or_default().push(a.id);
            for &r in &f.reserved {
                occupied.entry(r).or_default().push(a.id);
            }
        } else if let Some(node) = a.lane.as_ref().and_then(|l| l.node) {
            occupied.entry(node).or_default().push(a.id);
        }
    }
    let boxes: Vec<_> = w.actors.iter().map(Actor::obb).collect();
    let mut buf = Vec::new();
    for (i, acc) in out.iter_mut().enumerate() {
        if w.actors[i].kind != ActorKind::Vehicle {
            continue;
        }
        let Some(mut f) = w.actors[i].follow.take() else {
            continue;
        };
        if let Some(lc) = f.lane_change.as_mut() {
            lc.undo = None;
        }
        let mut rng = w.actors[i].rng.clone();
        let me = &w.actors[i];
        let v = me.speed;
        let front = me.dims.front(me.kind);
        let half_w = 0.5 * me.dims.width;
        let node = g.node(f.node);
        let v0 = if f.target_speed > 0.0 {
            f.target_speed
        } else {
            speed_limit(&map, node.road, f.s).unwrap_or(DEFAULT_SPEED)
        };
        let horizon = (front + 10.0 + 3.0 * v + v * v / (2.0 * IDM_DECEL)).clamp(25.0, 120.0);
        extend_plan(&map, &mut f, &mut rng, (horizon + 20.0).max(PLAN_AHEAD));
        path(&map, &f, &me.pose, v, horizon, &mut buf);

        // Bends ahead: slow down in time for them.
        let mut v_des = v0;
        for p in buf.windows(2) {
            let ds = p[1].dist - p[0].dist;
            if ds < 0.3 {
                continue;
            }
            let k = wrap_angle(p[1].heading - p[0].heading).abs() / ds;
            if k > 1e-3 {
                let v_curve = (LATERAL_ACCEL / k).sqrt();
                let reach = (p[0].dist - front).max(0.0);
                v_des = v_des.min((v_curve * v_curve + 2.0 * IDM_DECEL * reach).sqrt());
            }
        }

        // The nearest actor in the corridor.
        let mut gap = f64::INFINITY;
        let mut lead_v = 0.0;
        let me_pos = me.pose.xy();
        for (j, other) in w.actors.iter().enumerate() {
            if j == i {
                continue;
            }
            let ob = &boxes[j];
            if (ob.centre - me_pos).length() > horizon + ob.radius() + 3.0 {
                continue;
            }
            // Points farther than the box's circle plus the corridor cannot
            // touch it; points beyond the nearest leader so far cannot
            // improve on it. Both cuts leave the result unchanged.
            let reach = ob.radius() + half_w + CORRIDOR_MARGIN;
            let reach_sq = reach * reach;
            for p in &buf {
                if p.dist < front - 1.0 {
                    continue;
                }
                if p.dist - front >= gap {
                    break;
                }
                if (p.pos - ob.centre).length_sq() >= reach_sq {
                    continue;
                }
                if ob.distance(p.pos) < half_w + CORRIDOR_MARGIN {
                    let d = (p.dist - front).max(0.0);
                    if d < gap {
                        gap = d;
                        let dir = Vec2::from_angle(p.heading);
                        lead_v = other.velocity[0] * dir.x + other.velocity[1] * dir.y;
                    }
                    break;
                }
            }
        }

        let (vehicle_gap, vehicle_lead_v) = (gap, lead_v);

        // Signals: stop for red, for yellow while there is room to, and
        // at stop signs until the car has stood at the line.
        let stop_dist = signal_stop(&map, &mut f, v, front, horizon, w.time());

        // A lane change the route needs: made when safe, given up (and
        // the route re-planned from this lane) when the lane runs out.
        let pending = f
            .plan
            .front()
            .copied()
            .filter(|&l| is_lateral(&map, f.node, l));
        if let Some(target) = pending {
            let sit = Situation {
                map: &map,
                actors: &w.actors,
                me: i,
                idm: &idm,
                v_des,
                acc_here: idm(v, v_des, vehicle_gap, v - vehicle_lead_v),
            };
            let give_up = v * v / (2.0 * IDM_DECEL) + front + 16.0;
            if !lanechange::mandatory(&sit, &mut f, target) {
                if node.remaining(f.s) < give_up {
                    f.plan.clear();
                } else {
                    // Ease off to let the neighbour lane's traffic by and
                    // open a gap.
                    v_des = v_des.min(0.7 * v0);
                }
            }
            extend_plan(&map, &mut f, &mut rng, (horizon + 20.0).max(PLAN_AHEAD));
        } else if stop_dist.is_infinite() {
            // Lane changes for speed, away from signals and junctions.
            let sit = Situation {
                map: &map,
                actors: &w.actors,
                me: i,
                idm: &idm,
                v_des,
                acc_here: idm(v, v_des, vehicle_gap, v - vehicle_lead_v),
            };
            if lanechange::consider(&sit, &mut f) {
                extend_plan(&map, &mut f, &mut rng, (horizon + 20.0).max(PLAN_AHEAD));
            }
        }
        if stop_dist.is_finite() {
            let d = (stop_dist - front).max(0.0);
            if d < gap {
                gap = d;
                lead_v = 0.0;
            }
        }

        // Junctions: reserve the lanes through, or stop at the entry.
        let mut dist = node.remaining(f.s);
        let plan: Vec<u32> = f.plan.iter().copied().collect();
        for (k, &pn) in plan.iter().enumerate() {
            let before = if k == 0 { f.node } else { plan[k - 1] };
            if is_lateral(&map, before, pn) {
                continue;
            }
            let pnode = g.node(pn);
            if pnode.junction.is_some() && !f.reserved.contains(&pn) {
                if stop_dist <= dist + 0.5 {
                    // Held by a signal before the junction: reserve nothing.
                    break;
                }
                let gate = (v * v / (2.0 * IDM_DECEL) + front + 6.0).max(10.0);
                if dist > gate {
                    break;
                }
                let run: Vec<u32> = plan[k..]
                    .iter()
                    .copied()
                    .take_while(|&r| g.node(r).junction == pnode.junction)
                    .collect();
                let free = run.iter().all(|&r| {
                    g.conflicts(r).iter().all(|c| {
                        occupied
                            .get(c)
                            .is_none_or(|ids| ids.iter().all(|&id| id == me.id))
                    })
                });
                if free {
                    for r in run {
                        f.reserved.push(r);
                        occupied.entry(r).or_default().push(me.id);
                    }
                } else {
                    let d = (dist - front).max(0.0);
                    if d < gap {
                        gap = d;
                        lead_v = 0.0;
                    }
                }
                break;
            }
            dist += pnode.length;
            if dist > horizon {
                break;
            }
        }

        *acc = idm(v, v_des, gap, v - lead_v);
        let me = &mut w.actors[i];
        me.follow = Some(f);
        me.rng = rng;
    }
    out
}

/// Distance from the rig along the plan to the nearest stop line the NPC
/// must stop at (infinite when none), updating its stop-sign state.
fn signal_stop(map: &Map, f: &mut Follow, v: f64, front: f64, horizon: f64, time: f64) -> f64 {
    let sigs = map.signals();
    if sigs.is_empty() {
        return f64::INFINITY;
    }
    let g = map.graph();
    let mut stop = f64::INFINITY;
    let mut base = -g.node(f.node).travelled(f.s);
    let mut served_seen = false;
    let mut newly_served = None;
    let mut prev = u32::MAX;
    for nid in std::iter::once(f.node).chain(f.plan.iter().copied()) {
        if base > horizon {
            break;
        }
        let lateral = prev != u32::MAX && is_lateral(map, prev, nid);
        prev = nid;
        if lateral {
            continue;
        }
        let nd = g.node(nid);
        if sigs.has_node(nid) {
            for (si, st) in sigs.on_node(nid) {
                let d = base + nd.travelled(st.s);
                if d < 0.0 || d > horizon + front {
                    continue;
                }
                if f.served_stop == Some(si as u32) {
                    // Stood at it; the rig has yet to pass the line.
                    served_seen = true;
                    continue;
                }
                if d - front < 0.0 {
                    continue;
                }
                let must = match sigs.state(si, time) {
                    LightState::Green => false,
                    // Stop only where a firm (not an emergency) stop still
                    // fits; closer in, clear the junction.
                    LightState::Red => d - front >= v * v / (2.0 * MAX_BRAKE),
                    LightState::Yellow => d - front >= v * v / (2.0 * IDM_DECEL) + 0.5,
                    LightState::Off => match sigs.all()[si].kind {
                        SignalKind::Stop => {
                            if v < 0.2 && d - front < 3.0 {
                                newly_served = Some(si as u32);
                                false
                            } else {
                                true
                            }
                        }
                        _ => false,
                    },
                };
                if must {
                    stop = stop.min(d);
                }
            }
        }
        base += nd.length;
    }
    if let Some(si) = newly_served {
        f.served_stop = Some(si);
    } else if !served_seen {
        f.served_stop = None;
    }
    stop
}

/// Calls `hit(signal index)` for every stop line passed between
/// `(node0, s0)` and `(node1, s1)` through the `passed` nodes (the first of
/// which is `node0` when non-empty).
pub(crate) fn crossed_stops(
    map: &Map,
    (node0, s0): (u32, f64),
    passed: &[u32],
    (node1, s1): (u32, f64),
    mut hit: impl FnMut(usize),
) {
    let sigs = map.signals();
    if sigs.is_empty() {
        return;
    }
    let g = map.graph();
    let mut check = |node: u32, a: Option<f64>, b: Option<f64>| {
        if !sigs.has_node(node) {
            return;
        }
        let nd = g.node(node);
        let ta = a.map_or(-1.0, |s| nd.travelled(s));
        let tb = b.map_or(f64::INFINITY, |s| nd.travelled(s));
        for (si, st) in sigs.on_node(node) {
            let t = nd.travelled(st.s);
            if t > ta && t <= tb {
                hit(si);
            }
        }
    };
    if passed.is_empty() {
        if node0 == node1 {
            check(node0, Some(s0), Some(s1));
        }
        return;
    }
    check(node0, Some(s0), None);
    for &p in &passed[1..] {
        check(p, None, None);
    }
    check(node1, None, Some(s1));
}

/// Moves a lane-following vehicle `acc` m/s² for one step along its plan.
pub(crate) fn advance(map: &Map, a: &mut Actor, acc: f64, dt: f64) {
    let g = map.graph();
    let Some(f) = a.follow.as_mut() else {
        return;
    };
    f.passed.clear();
    let v = a.speed;
    let mut v1 = (v + acc * dt).max(0.0);
    let mut d = 0.5 * (v + v1) * dt;
    // Bounded: a map with a loop of zero-length lanes must not hang a step.
    for _ in 0..1024 {
        let node = g.node(f.node);
        let rem = node.remaining(f.s);
        if d <= rem {
            let ds = d / node.stretch();
            f.s += if node.forward { ds } else { -ds };
            break;
        }
        d -= rem;
        let mut planned = f.plan.pop_front();
        if planned.is_some_and(|n| is_lateral(map, f.node, n)) {
            // The lane change the route needed was not made: go on from
            // this lane.
            f.plan.clear();
            planned = None;
        }
        let next = planned.or_else(|| {
            let succ = g.successors(f.node);
            (!succ.is_empty()).then(|| succ[a.rng.below(succ.len())])
        });
        match next {
            Some(nx) => {
                f.passed.push(f.node);
                f.node = nx;
                f.s = g.node(nx).entry_s();
            }
            None => {
                // A dead end: stop at the end of the lane.
                f.s = node.exit_s();
                v1 = 0.0;
                break;
            }
        }
    }
    a.speed = v1;
    let node = g.node(f.node);
    let yaw_lc = lanechange::progress(f, dt, v1, node.forward);
    if let Some(p) = map.lane_point(node.road, node.section, node.lane_id, f.s, f.offset) {
        a.pose = p;
        a.pose.yaw = wrap_angle(p.yaw + yaw_lc);
    }
    // Keep junction lanes until the whole car has left them.
    let cur = f.node;
    let leaving = node.junction.is_none() && node.travelled(f.s) < a.dims.length + 2.0;
    if !leaving {
        let plan = &f.plan;
        f.reserved.retain(|r| *r == cur || plan.contains(r));
    }
}

#[cfg(test)]
mod tests {
    use super::idm;

    #[test]
    fn idm_free_road_and_following() {
        // Free road below the target speed: accelerate; at it: coast.
        assert!(idm(5.0, 10.0, f64::INFINITY, 0.0) > 1.5);
        assert!(idm(10.0, 10.0, f64::INFINITY, 0.0).abs() < 1e-12);
        // Closing fast on a near leader: brake hard.
        assert!(idm(10.0, 10.0, 5.0, 10.0) <= -7.9);
        // Standing behind a stopped leader at the standstill gap: hold.
        assert!(idm(0.0, 10.0, 2.0, 0.0) <= 0.0);
    }
}
