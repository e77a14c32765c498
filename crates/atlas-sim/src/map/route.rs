//! Route planning over the lane graph: world waypoints in, a dense
//! lane-centre polyline out.
//!
//! Each waypoint snaps to the drivable lanes that contain it (or, when it
//! lies in none, to those around it). Consecutive
//! waypoints are joined by Dijkstra over (lane node, "has left the start
//! lane section") states, so a target behind the start on the same lane
//! forces a real loop instead of driving backwards. Costs are lane-centre
//! metres, plus [`LANE_CHANGE_COST`] per lane change and a penalty for
//! snapping far from a waypoint. Lane changes are drawn as smooth lateral
//! blends.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::{LaneLocation, Map};
use crate::error::QueryError;
use crate::math::Vec2;

/// Extra cost of one lane change, metres.
pub const LANE_CHANGE_COST: f64 = 30.0;
/// Waypoints snap to drivable lanes within this distance (the nearest lane
/// within [`SNAP_FALLBACK`] if none is this close).
pub const SNAP_RADIUS: f64 = 3.0;
/// Largest distance from a waypoint to the lane it snaps to.
pub const SNAP_FALLBACK: f64 = 10.0;
/// Cost per metre between a waypoint and the lane it snaps to.
const SNAP_PENALTY: f64 = 10.0;
/// Longest lateral blend of a lane change, metres.
const BLEND: f64 = 20.0;
/// Sampling step before resampling to the requested spacing.
const DENSE: f64 = 0.25;

/// A planned route.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// Lane-centre polyline `[x, y, z]`, evenly spaced, from the first
    /// waypoint's lane to the last one's.
    pub points: Vec<[f64; 3]>,
    /// Length of the polyline, metres.
    pub length: f64,
    /// The lane-graph nodes the route passes through, in order.
    pub lanes: Vec<u32>,
}

#[derive(Clone, Copy, PartialEq)]
struct Item {
    cost: f64,
    state: usize,
}

impl Eq for Item {}

impl Ord for Item {
    fn cmp(&self, o: &Self) -> Ordering {
        o.cost
            .total_cmp(&self.cost)
            .then_with(|| o.state.cmp(&self.state))
    }
}

impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// One stretch of a lane the route drives along.
#[derive(Clone, Copy, Debug)]
struct Piece {
    node: u32,
    s_in: f64,
    s_out: f64,
    /// The lane the route changes from at `s_in`.
    blend_from: Option<u32>,
}

struct Snap {
    loc: LaneLocation,
    node: u32,
    penalty: f64,
}

impl Map {
    /// Plans a route through `waypoints` (start, intermediate…, end) along
    /// drivable lanes and returns the lane-centre polyline resampled every
    /// `spacing` metres.
    pub fn plan_route(&self, waypoints: &[Vec2], spacing: f64) -> Result<Route, QueryError> {
        if waypoints.len() < 2 {
            return Err(QueryError::Route(format!(
                "need at least a start and an end, got {} waypoint(s)",
                waypoints.len()
            )));
        }
        if !spacing.is_finite() || spacing <= 0.0 {
            return Err(QueryError::Route(format!(
                "spacing must be a positive number of metres, got {spacing}"
            )));
        }
        let mut snaps = Vec::with_capacity(waypoints.len());
        for (i, w) in waypoints.iter().enumerate() {
            if !w.is_finite() {
                return Err(QueryError::Route(format!("waypoint {i} is not finite")));
            }
            snaps.push(self.snap(*w).ok_or_else(|| {
                QueryError::Route(format!(
                    "waypoint {i} ({:.2}, {:.2}) is not within {SNAP_FALLBACK} m of a drivable lane",
                    w.x, w.y
                ))
            })?);
        }
        let mut pieces: Vec<Piece> = Vec::new();
        let mut start: Vec<Snap> = snaps.remove(0);
        for (leg, targets) in snaps.into_iter().enumerate() {
            let (mut leg_pieces, end) = self.route_leg(&start, &targets).ok_or_else(|| {
                QueryError::NoRoute(format!(
                    "no drivable route from waypoint {leg} to waypoint {}",
                    leg + 1
                ))
            })?;
            // Consecutive legs meet on the same lane at the same s.
            if let (Some(last), Some(first)) = (pieces.last_mut(), leg_pieces.first())
                && last.node == first.node
                && first.blend_from.is_none()
            {
                last.s_out = first.s_out;
                leg_pieces.remove(0);
            }
            pieces.extend(leg_pieces);
            start = vec![end];
        }
        let dense = self.draw(&pieces);
        let points = resample(&dense, spacing);
        let length = points
            .windows(2)
            .map(|w| (Vec2::new(w[1][0], w[1][1]) - Vec2::new(w[0][0], w[0][1])).length())
            .sum();
        let mut lanes: Vec<u32> = pieces.iter().map(|p| p.node).collect();
        lanes.dedup();
        Ok(Route {
            points,
            length,
            lanes,
        })
    }

    fn snap(&self, p: Vec2) -> Option<Vec<Snap>> {
        let mut near = self.drivable_near(p, SNAP_RADIUS);
        // A waypoint inside a lane means that lane (or, where junction lanes
        // overlap, one of them); only a waypoint between lanes may snap to
        // its neighbours.
        if near.first().is_some_and(|(d, _)| *d == 0.0) {
            near.retain(|(d, _)| *d == 0.0);
        }
        if near.is_empty() {
            near = self.drivable_near(p, SNAP_FALLBACK);
            near.truncate(1);
        }
        let out: Vec<Snap> = near
            .into_iter()
            .filter_map(|(d, loc)| {
                Some(Snap {
                    node: loc.node?,
                    penalty: d * SNAP_PENALTY,
                    loc,
                })
            })
            .collect();
        (!out.is_empty()).then_some(out)
    }

    /// Dijkstra from any of `starts` to the cheapest of `targets`.
    fn route_leg(&self, starts: &[Snap], targets: &[Snap]) -> Option<(Vec<Piece>, Snap)> {
        let g = self.graph();
        let n = g.nodes().len();
        let mut dist = vec![f64::INFINITY; 2 * n];
        let mut prev: Vec<Option<(usize, bool)>> = vec![None; 2 * n];
        let mut heap = BinaryHeap::new();
        for st in starts {
            let node = g.node(st.node);
            let c = st.penalty + node.remaining(st.loc.s);
            let state = 2 * st.node as usize;
            if c < dist[state] {
                dist[state] = c;
                heap.push(Item { cost: c, state });
            }
        }
        while let Some(Item { cost, state }) = heap.pop() {
            if cost > dist[state] {
                continue;
            }
            let node = (state / 2) as u32;
            let moved = state % 2 == 1;
            for &next in g.successors(node) {
                let ns = 2 * next as usize + 1;
                let c = cost + g.node(next).length;
                if c < dist[ns] {
                    dist[ns] = c;
                    prev[ns] = Some((state, false));
                    heap.push(Item { cost: c, state: ns });
                }
            }
            for &next in g.neighbours(node) {
                let ns = 2 * next as usize + usize::from(moved);
                let c = cost + LANE_CHANGE_COST;
                if c < dist[ns] {
                    dist[ns] = c;
                    prev[ns] = Some((state, true));
                    heap.push(Item { cost: c, state: ns });
                }
            }
        }
        let mut best: Option<(f64, usize, usize)> = None;
        for (ti, t) in targets.iter().enumerate() {
            let node = g.node(t.node);
            for moved in [false, true] {
                let state = 2 * t.node as usize + usize::from(moved);
                if !dist[state].is_finite() {
                    continue;
                }
                if !moved {
                    // Only lane changes since the start: the target must be
                    // ahead of where the start stood on this section.
                    let Some(origin) = starts
                        .iter()
                        .find(|s| s.loc.road == t.loc.road && s.loc.section == t.loc.section)
                    else {
                        continue;
                    };
                    if !node.is_ahead(origin.loc.s, t.loc.s) {
                        continue;
                    }
                }
                let total = dist[state] - node.remaining(t.loc.s) + t.penalty;
                if best.is_none_or(|(b, _, _)| total < b) {
                    best = Some((total, state, ti));
                }
            }
        }
        let (_, end_state, ti) = best?;
        // Walk back to a start state.
        let mut chain = vec![(end_state, false)];
        let mut cur = end_state;
        while let Some((p, lateral)) = prev[cur] {
            chain.last_mut().expect("non-empty").1 = lateral;
            chain.push((p, false));
            cur = p;
        }
        chain.reverse();
        // Each entry: (state, whether the step into it was a lane change).
        let steps: Vec<(u32, bool)> = chain
            .iter()
            .map(|&(s, lat)| ((s / 2) as u32, lat))
            .collect();
        let first_node = steps[0].0;
        let start = starts
            .iter()
            .find(|s| s.node == first_node)
            .expect("paths begin at a start state");
        let target = &targets[ti];
        let mut pieces: Vec<Piece> = Vec::new();
        let last = steps.len() - 1;
        let mut i = 0;
        while i < steps.len() {
            // A run of lane changes i..=j within one section.
            let mut j = i;
            while j < last && steps[j + 1].1 {
                j += 1;
            }
            let s_in = if i == 0 {
                start.loc.s
            } else {
                g.node(steps[i].0).entry_s()
            };
            let s_out = if j == last {
                target.loc.s
            } else {
                g.node(steps[j].0).exit_s()
            };
            let m = (j - i) as f64;
            for k in i..=j {
                let a = (k - i) as f64 / (m + 1.0);
                let b = (k - i + 1) as f64 / (m + 1.0);
                pieces.push(Piece {
                    node: steps[k].0,
                    s_in: s_in + (s_out - s_in) * a,
                    s_out: s_in + (s_out - s_in) * b,
                    blend_from: (k > i).then(|| steps[k - 1].0),
                });
            }
            i = j + 1;
        }
        let end = Snap {
            loc: target.loc.clone(),
            node: target.node,
            penalty: 0.0,
        };
        Some((pieces, end))
    }

    /// Dense lane-centre samples `[x, y, z]` along the pieces.
    fn draw(&self, pieces: &[Piece]) -> Vec<[f64; 3]> {
        let g = self.graph();
        let mut out: Vec<[f64; 3]> = Vec::new();
        for p in pieces {
            let node = g.node(p.node);
            let span_s = (p.s_out - p.s_in).abs();
            let n = (span_s / DENSE).ceil().max(1.0) as usize;
            let blend_len = span_s.min(BLEND);
            for i in 0..=n {
                let s = p.s_in + (p.s_out - p.s_in) * i as f64 / n as f64;
                let Some(cur) = self.lane_span(node.road, node.section, node.lane_id, s) else {
                    continue;
                };
                let mut t = cur.centre();
                if let Some(from) = p.blend_from {
                    let f = g.node(from);
                    if let Some(prev) = self.lane_span(f.road, f.section, f.lane_id, s) {
                        let x = if blend_len > 0.0 {
                            ((s - p.s_in).abs() / blend_len).clamp(0.0, 1.0)
                        } else {
                            1.0
                        };
                        let a = x * x * (3.0 - 2.0 * x);
                        t = prev.centre() + a * (t - prev.centre());
                    }
                }
                let xy = self.st_to_xy(node.road, s, t);
                let z = self.elevation(node.road, s);
                if let Some(last) = out.last()
                    && (last[0] - xy.x).hypot(last[1] - xy.y) < 1e-6
                {
                    continue;
                }
                out.push([xy.x, xy.y, z]);
            }
        }
        out
    }
}

/// Resamples a polyline at even arc-length `spacing`, keeping both ends.
fn resample(points: &[[f64; 3]], spacing: f64) -> Vec<[f64; 3]> {
    let Some(&first) = points.first() else {
        return Vec::new();
    };
    let mut out = vec![first];
    let mut carried = 0.0;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let seg = (b[0] - a[0]).hypot(b[1] - a[1]);
        if seg <= 0.0 {
            continue;
        }
        let mut d = spacing - carried;
        while d <= seg {
            let k = d / seg;
            out.push([
                a[0] + (b[0] - a[0]) * k,
                a[1] + (b[1] - a[1]) * k,
                a[2] + (b[2] - a[2]) * k,
            ]);
            d += spacing;
        }
        carried = seg - (d - spacing);
    }
    let last = *points.last().expect("non-empty");
    let tail = out.last().expect("non-empty");
    if (tail[0] - last[0]).hypot(tail[1] - last[1]) > 1e-6 {
        out.push(last);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::resample;

    #[test]
    fn resample_keeps_ends_and_spacing() {
        let pts = vec![[0.0, 0.0, 0.0], [2.5, 0.0, 0.0], [2.5, 2.5, 1.0]];
        let r = resample(&pts, 1.0);
        assert_eq!(r.first(), Some(&[0.0, 0.0, 0.0]));
        assert_eq!(r.last(), Some(&[2.5, 2.5, 1.0]));
        assert_eq!(r.len(), 6);
        assert!((r[3][0] - 2.5).abs() < 1e-12 && (r[3][1] - 0.5).abs() < 1e-12);
        assert!((r[3][2] - 0.2).abs() < 1e-12);
    }
}
