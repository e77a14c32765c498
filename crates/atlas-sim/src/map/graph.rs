//! The lane graph: one node per drivable lane per lane section, edges in the
//! direction of travel.
//!
//! In right-hand traffic lanes with negative ids run along +s and lanes with
//! positive ids along −s (reversed for `rule="LHT"` roads). A node's exit is
//! therefore the end of its section for forward lanes and the start for
//! backward lanes; it continues into the next section of the same road, into
//! the road named by the road link, or through the junction's connections.
//! Edges are collected from both ends (a lane's successors and the next
//! lane's predecessors) so a link written on only one side still counts.
//!
//! Besides longitudinal edges the graph keeps lateral neighbours (adjacent
//! drivable lanes with the same direction, for lane changes in routes) and,
//! per junction, which lanes conflict (their centre lines come within
//! [`CONFLICT_DISTANCE`]) so NPC traffic can take turns through junctions.

use std::collections::{BTreeMap, BTreeSet};

use super::{Map, SAMPLE};
use crate::math::Vec2;
use crate::opendrive::{ContactPoint, ElementType};

/// Lanes in the same junction whose centre lines come closer than this
/// conflict.
pub const CONFLICT_DISTANCE: f64 = 2.5;

/// An end of a lane node, in the direction of travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// Where traffic leaves the lane.
    Exit,
    /// Where traffic enters it.
    Entry,
}

/// A sample of a lane centre line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodePoint {
    pub s: f64,
    pub pos: Vec2,
    /// Direction of travel.
    pub heading: f64,
}

/// A drivable lane within one lane section.
#[derive(Clone, Debug)]
pub struct LaneNode {
    pub road: usize,
    pub section: usize,
    pub lane_id: i32,
    /// Traffic runs along +s.
    pub forward: bool,
    pub s_start: f64,
    pub s_end: f64,
    /// Length of the lane centre line, metres.
    pub length: f64,
    /// The junction the lane's road belongs to.
    pub junction: Option<usize>,
    /// Centre-line samples in increasing s, about every metre.
    pub points: Vec<NodePoint>,
}

impl LaneNode {
    /// s where traffic enters the lane.
    pub fn entry_s(&self) -> f64 {
        if self.forward {
            self.s_start
        } else {
            self.s_end
        }
    }

    /// s where traffic leaves the lane.
    pub fn exit_s(&self) -> f64 {
        if self.forward {
            self.s_end
        } else {
            self.s_start
        }
    }

    /// Lane-centre metres per reference-line metre.
    pub fn stretch(&self) -> f64 {
        let ref_len = self.s_end - self.s_start;
        if ref_len > 1e-9 {
            self.length / ref_len
        } else {
            1.0
        }
    }

    /// Lane-centre distance from `s` to the lane's exit.
    pub fn remaining(&self, s: f64) -> f64 {
        let d = if self.forward {
            self.s_end - s
        } else {
            s - self.s_start
        };
        d.max(0.0) * self.stretch()
    }

    /// Lane-centre distance from the lane's entry to `s`.
    pub fn travelled(&self, s: f64) -> f64 {
        (self.length - self.remaining(s)).max(0.0)
    }

    /// Whether `b` lies ahead of `a` in the direction of travel.
    pub fn is_ahead(&self, a: f64, b: f64) -> bool {
        if self.forward { b >= a } else { b <= a }
    }
}

/// The lane graph of a map.
#[derive(Clone, Debug, Default)]
pub struct LaneGraph {
    nodes: Vec<LaneNode>,
    ids: BTreeMap<(usize, usize, i32), u32>,
    next: Vec<Vec<u32>>,
    prev: Vec<Vec<u32>>,
    lateral: Vec<Vec<u32>>,
    conflicts: Vec<Vec<u32>>,
}

/// Whether the bounding boxes of two point sets come within `d`.
/// Whether some point of `a` lies within `d` (`d2` = d²) of some point of
/// `b`. Short lanes compare every pair; long ones hash `b` into a grid of
/// `d`-sized cells so the cost stays linear in the number of points.
fn any_close(a: &[NodePoint], b: &[NodePoint], d: f64, d2: f64) -> bool {
    if a.len() * b.len() <= 4096 {
        return a
            .iter()
            .any(|p| b.iter().any(|q| (p.pos - q.pos).length_sq() < d2));
    }
    let key = |v: Vec2| ((v.x / d).floor() as i64, (v.y / d).floor() as i64);
    let mut cells: BTreeMap<(i64, i64), Vec<Vec2>> = BTreeMap::new();
    for q in b {
        cells.entry(key(q.pos)).or_default().push(q.pos);
    }
    a.iter().any(|p| {
        let (cx, cy) = key(p.pos);
        (cx - 1..=cx + 1).any(|x| {
            (cy - 1..=cy + 1).any(|y| {
                cells
                    .get(&(x, y))
                    .is_some_and(|v| v.iter().any(|q| (p.pos - *q).length_sq() < d2))
            })
        })
    })
}

fn boxes_near(a: &[NodePoint], b: &[NodePoint], d: f64) -> bool {
    let bbox = |pts: &[NodePoint]| {
        pts.iter().fold(
            (
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ),
            |(x0, y0, x1, y1), p| {
                (
                    x0.min(p.pos.x),
                    y0.min(p.pos.y),
                    x1.max(p.pos.x),
                    y1.max(p.pos.y),
                )
            },
        )
    };
    let (ax0, ay0, ax1, ay1) = bbox(a);
    let (bx0, by0, bx1, by1) = bbox(b);
    ax0 - d <= bx1 && bx0 - d <= ax1 && ay0 - d <= by1 && by0 - d <= ay1
}

impl LaneGraph {
    pub fn nodes(&self) -> &[LaneNode] {
        &self.nodes
    }

    pub fn node(&self, id: u32) -> &LaneNode {
        &self.nodes[id as usize]
    }

    /// The node of a drivable lane.
    pub fn node_id(&self, road: usize, section: usize, lane_id: i32) -> Option<u32> {
        self.ids.get(&(road, section, lane_id)).copied()
    }

    /// Lanes traffic can continue into, in a stable order.
    pub fn successors(&self, id: u32) -> &[u32] {
        &self.next[id as usize]
    }

    /// Lanes traffic can come from.
    pub fn predecessors(&self, id: u32) -> &[u32] {
        &self.prev[id as usize]
    }

    /// Adjacent drivable lanes with the same direction in the same section.
    pub fn neighbours(&self, id: u32) -> &[u32] {
        &self.lateral[id as usize]
    }

    /// Lanes of the same junction whose paths cross or merge with this one.
    pub fn conflicts(&self, id: u32) -> &[u32] {
        &self.conflicts[id as usize]
    }

    pub(crate) fn build(map: &Map) -> Self {
        let mut g = Self::default();
        for (ri, road) in map.roads().iter().enumerate() {
            let junction = road.junction.as_ref().and_then(|j| map.junction_index(j));
            for (si, ls) in road.lane_sections.iter().enumerate() {
                let (s_start, s_end) = map.section_range(ri, si);
                for lane in ls.side_lanes() {
                    if !lane.kind.is_drivable() {
                        continue;
                    }
                    let n = ((s_end - s_start) / SAMPLE).ceil().max(1.0) as usize;
                    let mut points = Vec::with_capacity(n + 1);
                    let mut length = 0.0;
                    for i in 0..=n {
                        let s = s_start + (s_end - s_start) * i as f64 / n as f64;
                        let Some(p) = map.lane_point(ri, si, lane.id, s, 0.0) else {
                            continue;
                        };
                        let pos = Vec2::new(p.x, p.y);
                        if let Some(last) = points.last() {
                            let last: &NodePoint = last;
                            length += (pos - last.pos).length();
                        }
                        points.push(NodePoint {
                            s,
                            pos,
                            heading: p.yaw,
                        });
                    }
                    let id = g.nodes.len() as u32;
                    g.ids.insert((ri, si, lane.id), id);
                    g.nodes.push(LaneNode {
                        road: ri,
                        section: si,
                        lane_id: lane.id,
                        forward: map.lane_runs_forward(ri, lane.id),
                        s_start,
                        s_end,
                        length,
                        junction,
                        points,
                    });
                }
            }
        }
        let mut edges = BTreeSet::new();
        for id in 0..g.nodes.len() as u32 {
            g.link_edges(map, id, Side::Exit, &mut edges);
            g.link_edges(map, id, Side::Entry, &mut edges);
        }
        let n = g.nodes.len();
        g.next = vec![Vec::new(); n];
        g.prev = vec![Vec::new(); n];
        for &(a, b) in &edges {
            g.next[a as usize].push(b);
            g.prev[b as usize].push(a);
        }
        g.lateral = (0..n)
            .map(|i| {
                let a = &g.nodes[i];
                [a.lane_id - 1, a.lane_id + 1]
                    .into_iter()
                    .filter(|&l| l != 0 && l.signum() == a.lane_id.signum())
                    .filter_map(|l| g.node_id(a.road, a.section, l))
                    .collect()
            })
            .collect();
        g.conflicts = g.find_conflicts(&edges);
        g
    }

    fn section_for(map: &Map, road: usize, cp: ContactPoint) -> usize {
        match cp {
            ContactPoint::Start => 0,
            ContactPoint::End => map.road(road).lane_sections.len() - 1,
        }
    }

    /// Contact point on `target` of a road link from `from` that does not
    /// spell it out: the end of `target` that links back to `from`.
    fn infer_contact(map: &Map, from: usize, target: usize) -> Option<ContactPoint> {
        let from_id = &map.road(from).id;
        let t = map.road(target);
        let links_back = |l: &Option<crate::opendrive::RoadLink>| {
            l.as_ref()
                .is_some_and(|l| l.element_type == ElementType::Road && &l.element_id == from_id)
        };
        if links_back(&t.predecessor) {
            Some(ContactPoint::Start)
        } else if links_back(&t.successor) {
            Some(ContactPoint::End)
        } else {
            None
        }
    }

    /// Adds the edge between node `id` and the lane `(road, section, lane)`
    /// if that lane exists, is drivable, and touches `id`'s `side` at the
    /// right end for its direction: entered at `cp` when `side` is the exit
    /// (edge `id → lane`), left at `cp` when it is the entry (`lane → id`).
    fn add_edge(
        &self,
        edges: &mut BTreeSet<(u32, u32)>,
        side: Side,
        id: u32,
        (road, section, lane): (usize, usize, i32),
        cp: ContactPoint,
    ) {
        if let Some(other) = self.node_id(road, section, lane) {
            let fwd = self.nodes[other as usize].forward;
            if (cp == ContactPoint::Start) == (fwd == (side == Side::Exit)) {
                edges.insert(match side {
                    Side::Exit => (id, other),
                    Side::Entry => (other, id),
                });
            }
        }
    }

    /// Edges at one end of node `id`: to the lanes it leads into (`Exit`)
    /// or from the lanes that lead into it (`Entry`). Junction connections
    /// are read from the incoming road's side only (`Exit`).
    fn link_edges(&self, map: &Map, id: u32, side: Side, edges: &mut BTreeSet<(u32, u32)>) {
        let n = &self.nodes[id as usize];
        let road = map.road(n.road);
        let lane = road.lane_sections[n.section]
            .lane(n.lane_id)
            .expect("node lanes exist");
        // Whether that end of the lane is the section's +s end.
        let at_end = n.forward == (side == Side::Exit);
        let links = if at_end {
            &lane.successors
        } else {
            &lane.predecessors
        };
        let same_id = [n.lane_id];
        let within: &[i32] = if links.is_empty() { &same_id } else { links };
        if at_end && n.section + 1 < road.lane_sections.len() {
            for &l in within {
                let to = (n.road, n.section + 1, l);
                self.add_edge(edges, side, id, to, ContactPoint::Start);
            }
            return;
        }
        if !at_end && n.section > 0 {
            for &l in within {
                let to = (n.road, n.section - 1, l);
                self.add_edge(edges, side, id, to, ContactPoint::End);
            }
            return;
        }
        let link = if at_end {
            &road.successor
        } else {
            &road.predecessor
        };
        let Some(link) = link else { return };
        match link.element_type {
            ElementType::Road => {
                let Some(t) = map.road_index(&link.element_id) else {
                    return;
                };
                let Some(cp) = link
                    .contact_point
                    .or_else(|| Self::infer_contact(map, n.road, t))
                else {
                    return;
                };
                let sec = Self::section_for(map, t, cp);
                for &l in links {
                    self.add_edge(edges, side, id, (t, sec, l), cp);
                }
            }
            ElementType::Junction if side == Side::Exit => {
                let Some(j) = map.junction_index(&link.element_id) else {
                    return;
                };
                let exit_end = if at_end {
                    ContactPoint::End
                } else {
                    ContactPoint::Start
                };
                for conn in &map.opendrive().junctions[j].connections {
                    if conn.incoming_road != road.id {
                        continue;
                    }
                    let Some(c) = map.road_index(&conn.connecting_road) else {
                        continue;
                    };
                    let cr = map.road(c);
                    let back = match conn.contact_point {
                        ContactPoint::Start => &cr.predecessor,
                        ContactPoint::End => &cr.successor,
                    };
                    if let Some(back) = back {
                        // A road touching the same junction at both ends: keep
                        // only connections attached to the end we leave by.
                        if back.element_type == ElementType::Road && back.element_id != road.id {
                            continue;
                        }
                        if back.contact_point.is_some_and(|cp| cp != exit_end) {
                            continue;
                        }
                    }
                    let sec = Self::section_for(map, c, conn.contact_point);
                    for &(from, to) in &conn.lane_links {
                        if from == n.lane_id {
                            self.add_edge(edges, side, id, (c, sec, to), conn.contact_point);
                        }
                    }
                }
            }
            ElementType::Junction => {}
        }
    }

    fn find_conflicts(&self, edges: &BTreeSet<(u32, u32)>) -> Vec<Vec<u32>> {
        let mut by_junction: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(j) = n.junction {
                by_junction.entry(j).or_default().push(i as u32);
            }
        }
        let mut out = vec![Vec::new(); self.nodes.len()];
        let d2 = CONFLICT_DISTANCE * CONFLICT_DISTANCE;
        for members in by_junction.values() {
            for (i, &a) in members.iter().enumerate() {
                for &b in &members[i + 1..] {
                    if edges.contains(&(a, b)) || edges.contains(&(b, a)) {
                        continue;
                    }
                    let pa = &self.nodes[a as usize].points;
                    let pb = &self.nodes[b as usize].points;
                    if !boxes_near(pa, pb, CONFLICT_DISTANCE) {
                        continue;
                    }
                    let close = any_close(pa, pb, CONFLICT_DISTANCE, d2);
                    if close {
                        out[a as usize].push(b);
                        out[b as usize].push(a);
                    }
                }
            }
        }
        for v in &mut out {
            v.sort_unstable();
        }
        out
    }
}
