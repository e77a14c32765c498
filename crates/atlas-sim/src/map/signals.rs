//! Traffic signals: lights and stop signs, the lanes they govern and the
//! light cycles of their controllers.
//!
//! # Governed lanes
//!
//! A signal on an ordinary road governs the drivable lanes that run towards
//! the road end nearest to it when that end meets a junction (OpenDRIVE
//! exports, CARLA's among them, often put the light post at the far side of
//! the approach with an `orientation` that does not name the approach, so
//! the junction end is the reliable cue); its stop line is at that end.
//! Away from junctions the signal's `orientation` picks the lanes (`+`:
//! traffic along +s; `-`: along -s; an `hOffset` of about π turns it
//! round) and the stop line is at the signal's `s`. `<validity>` ranges
//! narrow the lanes when they select any. A `<signalReference>` on a
//! connecting road of a junction governs that road's lanes from their
//! entry, and so does a signal standing on one.
//!
//! # Light cycles
//!
//! The lights of a junction form a group. Each controller of the group
//! (ordered as the junction lists them, then by id; a light without a
//! controller is a controller of its own) is one phase: green for
//! [`GREEN`] s, yellow for [`YELLOW`] s, then [`ALL_RED`] s with every
//! phase red before the next phase turns green, so conflicting approaches
//! alternate. A group with a single phase still gets a red period as long
//! as its green and yellow. Groups are offset from each other so that the
//! town does not switch in lockstep. The state of every light is a pure
//! function of simulated time, which keeps worlds deterministic and
//! snapshots trivially restorable.

use std::collections::BTreeMap;

use super::Map;
use crate::math::{Vec2, wrap_angle};
use crate::opendrive::ElementType;

/// Green time of a phase, seconds.
pub const GREEN: f64 = 10.0;
/// Yellow time of a phase, seconds.
pub const YELLOW: f64 = 3.0;
/// All-red clearance after each phase, seconds.
pub const ALL_RED: f64 = 2.0;
/// How far before the lane end a junction stop line sits, metres.
pub const STOP_SETBACK: f64 = 1.0;

/// What a signal is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignalKind {
    TrafficLight,
    Stop,
    Yield,
}

/// The state of a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LightState {
    Red,
    Yellow,
    Green,
    /// Signs: always in force, nothing lit.
    Off,
}

impl LightState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Red => "red",
            Self::Yellow => "yellow",
            Self::Green => "green",
            Self::Off => "off",
        }
    }
}

/// Where traffic in one lane must stop for a signal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopLine {
    /// The lane-graph node governed.
    pub node: u32,
    pub road: usize,
    pub lane_id: i32,
    /// Reference-line `s` of the stop line.
    pub s: f64,
    /// Lane-centre position at the stop line.
    pub pos: Vec2,
    /// Direction of travel at the stop line.
    pub heading: f64,
    /// Lane width there, metres.
    pub width: f64,
}

/// A traffic light or sign with the lanes it governs.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficSignal {
    /// The OpenDRIVE signal id.
    pub id: String,
    pub kind: SignalKind,
    /// The road the signal stands on.
    pub road: usize,
    /// Position of the signal head (world frame, z up).
    pub position: [f64; 3],
    /// The direction the signal faces (towards approaching traffic).
    pub facing: f64,
    /// The junction it controls, if any.
    pub junction: Option<usize>,
    pub stop_lines: Vec<StopLine>,
    /// Light group (junction) and phase within it.
    group: usize,
    phase: usize,
}

/// A set of lights that alternate.
#[derive(Clone, Debug, PartialEq)]
struct Group {
    phases: usize,
    offset: f64,
}

/// Every signal of a map and the lookups NPCs need.
#[derive(Clone, Debug, Default)]
pub struct Signals {
    signals: Vec<TrafficSignal>,
    groups: Vec<Group>,
    /// Lane node → (signal index, stop-line index).
    by_node: BTreeMap<u32, Vec<(u32, u32)>>,
}

fn classify(s: &crate::opendrive::Signal) -> Option<SignalKind> {
    let kind = s.kind.trim();
    let name = s.name.to_ascii_lowercase();
    if matches!(kind, "206" | "R1-1" | "stop") || name.contains("stop") {
        Some(SignalKind::Stop)
    } else if matches!(kind, "205" | "R1-2" | "yield") || name.contains("yield") {
        Some(SignalKind::Yield)
    } else if kind.starts_with("1000") || s.dynamic || name.contains("light") {
        Some(SignalKind::TrafficLight)
    } else {
        None
    }
}

fn in_validity(validity: &[(i32, i32)], lane: i32) -> bool {
    validity
        .iter()
        .any(|&(a, b)| (a.min(b)..=a.max(b)).contains(&lane))
}

/// Whether a validity list selects specific lanes (`0..0` means all).
fn selective(validity: &[(i32, i32)]) -> bool {
    validity.iter().any(|&(a, b)| a != 0 || b != 0)
}

impl Signals {
    pub(crate) fn build(map: &Map) -> Self {
        let g = map.graph();
        let odr = map.opendrive();
        // Controller of each signal id, and the phase order of controllers.
        let mut controller_of: BTreeMap<&str, &str> = BTreeMap::new();
        for c in &odr.controllers {
            for s in &c.signals {
                controller_of.entry(s.as_str()).or_insert(c.id.as_str());
            }
        }
        let mut out = Self::default();
        // (junction or road-group key) → phase keys in order of appearance.
        let mut group_keys: BTreeMap<(bool, usize), Vec<String>> = BTreeMap::new();
        let mut pending: Vec<(TrafficSignal, (bool, usize), String)> = Vec::new();
        let mut by_id: BTreeMap<&str, usize> = BTreeMap::new();
        for (ri, road) in odr.roads.iter().enumerate() {
            for sig in &road.signals {
                let Some(kind) = classify(sig) else { continue };
                if !(sig.s.is_finite() && sig.t.is_finite()) {
                    continue;
                }
                let s = sig.s.clamp(0.0, road.length);
                let (stops, junction) = approach_stops(map, ri, s, sig, &sig.validity);
                let p = map.st_to_xy(ri, s, sig.t);
                let z = map.elevation(ri, s)
                    + if sig.z_offset.is_finite() {
                        sig.z_offset.max(0.0)
                    } else {
                        0.0
                    }
                    + sig.height.filter(|h| h.is_finite()).unwrap_or(1.0).max(0.5)
                    + 2.0;
                let facing = stops.first().map_or_else(
                    || wrap_angle(map.ref_point(ri, s).hdg + sig.h_offset.min(10.0)),
                    |st| wrap_angle(st.heading + std::f64::consts::PI),
                );
                let key = match junction {
                    Some(j) => (true, j),
                    None => (false, out.signals.len() + pending.len()),
                };
                let phase_key = controller_of
                    .get(sig.id.as_str())
                    .map_or_else(|| format!("signal:{}", sig.id), |c| format!("ctrl:{c}"));
                by_id.entry(sig.id.as_str()).or_insert(pending.len());
                pending.push((
                    TrafficSignal {
                        id: sig.id.clone(),
                        kind,
                        road: ri,
                        position: [p.x, p.y, z],
                        facing,
                        junction,
                        stop_lines: stops,
                        group: 0,
                        phase: 0,
                    },
                    key,
                    phase_key,
                ));
            }
        }
        // References add stop lines to the signal they name.
        for (ri, road) in odr.roads.iter().enumerate() {
            for r in &road.signal_references {
                let Some(&idx) = by_id.get(r.id.as_str()) else {
                    continue;
                };
                if !r.s.is_finite() {
                    continue;
                }
                let stops = if road.junction.is_some() {
                    entry_stops(map, ri, &r.validity)
                } else {
                    let fake = crate::opendrive::Signal {
                        id: r.id.clone(),
                        name: String::new(),
                        s: r.s,
                        t: r.t,
                        z_offset: 0.0,
                        h_offset: 0.0,
                        orientation: r.orientation.clone(),
                        dynamic: false,
                        country: String::new(),
                        kind: String::new(),
                        subtype: String::new(),
                        value: None,
                        unit: String::new(),
                        text: String::new(),
                        height: None,
                        width: None,
                        validity: r.validity.clone(),
                        line: r.line,
                    };
                    approach_stops(map, ri, r.s.clamp(0.0, road.length), &fake, &r.validity).0
                };
                let sig = &mut pending[idx].0;
                for st in stops {
                    if !sig
                        .stop_lines
                        .iter()
                        .any(|o| o.node == st.node && (o.s - st.s).abs() < 0.5)
                    {
                        sig.stop_lines.push(st);
                    }
                }
            }
        }
        // Phase order: the junction's controller list first, then by key.
        for (_, key, phase_key) in &pending {
            let keys = group_keys.entry(*key).or_default();
            if !keys.contains(phase_key) {
                keys.push(phase_key.clone());
            }
        }
        let mut group_index: BTreeMap<(bool, usize), usize> = BTreeMap::new();
        for (key, keys) in &mut group_keys {
            let listed: Vec<String> = if key.0 {
                odr.junctions[key.1]
                    .controllers
                    .iter()
                    .map(|c| format!("ctrl:{c}"))
                    .collect()
            } else {
                Vec::new()
            };
            keys.sort_by_key(|k| {
                (
                    listed.iter().position(|l| l == k).unwrap_or(usize::MAX),
                    k.clone(),
                )
            });
            let gi = out.groups.len();
            group_index.insert(*key, gi);
            let phases = keys.len().max(1);
            // Spread the groups over the cycle deterministically.
            let cycle = phases.max(2) as f64 * (GREEN + YELLOW + ALL_RED);
            out.groups.push(Group {
                phases,
                offset: (gi as f64 * 7.3) % cycle,
            });
        }
        for (mut sig, key, phase_key) in pending {
            let gi = group_index[&key];
            sig.group = gi;
            sig.phase = group_keys[&key]
                .iter()
                .position(|k| *k == phase_key)
                .unwrap_or(0);
            let si = out.signals.len() as u32;
            for (li, st) in sig.stop_lines.iter().enumerate() {
                out.by_node
                    .entry(st.node)
                    .or_default()
                    .push((si, li as u32));
            }
            out.signals.push(sig);
        }
        let _ = g;
        out
    }

    pub fn all(&self) -> &[TrafficSignal] {
        &self.signals
    }

    pub fn len(&self) -> usize {
        self.signals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signals.is_empty()
    }

    /// Stop lines on a lane node: (signal index, stop line).
    pub fn on_node(&self, node: u32) -> impl Iterator<Item = (usize, &StopLine)> {
        self.by_node
            .get(&node)
            .into_iter()
            .flatten()
            .map(|&(si, li)| {
                let s = si as usize;
                (s, &self.signals[s].stop_lines[li as usize])
            })
    }

    /// Whether any stop line lies on `node`.
    pub fn has_node(&self, node: u32) -> bool {
        self.by_node.contains_key(&node)
    }

    /// The state of signal `index` at simulated time `t` seconds.
    pub fn state(&self, index: usize, t: f64) -> LightState {
        let Some(sig) = self.signals.get(index) else {
            return LightState::Off;
        };
        if sig.kind != SignalKind::TrafficLight {
            return LightState::Off;
        }
        let g = &self.groups[sig.group];
        let slot = GREEN + YELLOW + ALL_RED;
        let cycle = g.phases.max(2) as f64 * slot;
        let local = (t + g.offset).rem_euclid(cycle);
        let start = sig.phase as f64 * slot;
        let into = local - start;
        if (0.0..GREEN).contains(&into) {
            LightState::Green
        } else if (GREEN..GREEN + YELLOW).contains(&into) {
            LightState::Yellow
        } else {
            LightState::Red
        }
    }
}

fn stop_line(map: &Map, node: u32, s: f64) -> Option<StopLine> {
    let n = map.graph().node(node);
    let pose = map.lane_point(n.road, n.section, n.lane_id, s, 0.0)?;
    let width = map
        .lane_span(n.road, n.section, n.lane_id, s)
        .map_or(3.0, |sp| sp.width().abs());
    Some(StopLine {
        node,
        road: n.road,
        lane_id: n.lane_id,
        s,
        pos: pose.xy(),
        heading: pose.yaw,
        width,
    })
}

/// Stop lines of a signal standing on an ordinary road at `s`.
fn approach_stops(
    map: &Map,
    road: usize,
    s: f64,
    sig: &crate::opendrive::Signal,
    validity: &[(i32, i32)],
) -> (Vec<StopLine>, Option<usize>) {
    let r = &map.roads()[road];
    if let Some(j) = &r.junction {
        // On a connecting road: it governs that road from its entry.
        return (entry_stops(map, road, validity), map.junction_index(j));
    }
    let g = map.graph();
    let junction_of = |link: &Option<crate::opendrive::RoadLink>| {
        link.as_ref()
            .filter(|l| l.element_type == ElementType::Junction)
            .and_then(|l| map.junction_index(&l.element_id))
    };
    // The nearest road end that meets a junction.
    let near_start = s <= 0.5 * r.length;
    let start = junction_of(&r.predecessor).map(|j| (false, j));
    let end_j = junction_of(&r.successor).map(|j| (true, j));
    let chosen = if near_start {
        start.or(end_j)
    } else {
        end_j.or(start)
    };
    let (end, junction) = (chosen.map(|c| c.0), chosen.map(|c| c.1));
    let mut out = Vec::new();
    let pick = |forward: bool, section: usize, out: &mut Vec<StopLine>, stop_s: Option<f64>| {
        let lanes: Vec<i32> = r.lane_sections[section]
            .side_lanes()
            .map(|l| l.id)
            .filter(|&id| g.node_id(road, section, id).is_some())
            .filter(|&id| map.lane_runs_forward(road, id) == forward)
            .collect();
        let narrowed: Vec<i32> = if selective(validity) {
            lanes
                .iter()
                .copied()
                .filter(|&id| in_validity(validity, id))
                .collect()
        } else {
            Vec::new()
        };
        let chosen = if narrowed.is_empty() { lanes } else { narrowed };
        for id in chosen {
            let Some(node) = g.node_id(road, section, id) else {
                continue;
            };
            let n = g.node(node);
            let s = match stop_s {
                Some(s) => s,
                None => {
                    let setback = STOP_SETBACK.min(0.5 * n.length);
                    if forward {
                        n.s_end - setback
                    } else {
                        n.s_start + setback
                    }
                }
            };
            if let Some(st) = stop_line(map, node, s) {
                out.push(st);
            }
        }
    };
    match end {
        Some(to_end) => {
            let section = if to_end {
                r.lane_sections.len().saturating_sub(1)
            } else {
                0
            };
            if !r.lane_sections.is_empty() {
                pick(to_end, section, &mut out, None);
            }
        }
        None => {
            if r.lane_sections.is_empty() {
                return (out, None);
            }
            let mut forward = sig.orientation.trim() != "-";
            if sig.h_offset.is_finite()
                && (wrap_angle(sig.h_offset).abs() - std::f64::consts::PI).abs() < 0.5
            {
                forward = !forward;
            }
            if sig.orientation.trim() == "none" {
                pick(true, map.section_at(road, s), &mut out, Some(s));
                pick(false, map.section_at(road, s), &mut out, Some(s));
            } else {
                pick(forward, map.section_at(road, s), &mut out, Some(s));
            }
        }
    }
    (out, junction)
}

/// Stop lines at the entry of a connecting road's lanes.
fn entry_stops(map: &Map, road: usize, validity: &[(i32, i32)]) -> Vec<StopLine> {
    let r = &map.roads()[road];
    let g = map.graph();
    let mut out = Vec::new();
    for (si, ls) in r.lane_sections.iter().enumerate() {
        for l in ls.side_lanes() {
            if selective(validity) && !in_validity(validity, l.id) {
                continue;
            }
            let Some(node) = g.node_id(road, si, l.id) else {
                continue;
            };
            let n = g.node(node);
            // Only the section traffic enters the road through.
            let entering = if n.forward {
                si == 0
            } else {
                si + 1 == r.lane_sections.len()
            };
            if !entering {
                continue;
            }
            if let Some(st) = stop_line(map, node, n.entry_s()) {
                out.push(st);
            }
        }
    }
    out
}
