//! The evaluated road network: an [`OpenDrive`] document plus everything
//! derived from it once, shared read-only (behind an `Arc`) by every world
//! on that map.
//!
//! - lane geometry: lane position (road, lane, s, offset) → world pose;
//! - [`Map::locate`]: world (x, y) → road, lane, s, offset, lane type, via a
//!   grid index ([`index`]);
//! - the lane graph ([`graph`]) across lane sections, road links and
//!   junction connections, in driving direction;
//! - the route planner ([`route`]): world waypoints → dense lane-centre
//!   polyline;
//! - the lazily rasterised top-down class map the sensors sample
//!   ([`crate::render::raster`]).

pub mod geometry;
pub mod graph;
pub(crate) mod index;
pub mod route;
pub mod signals;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use crate::error::{MapError, MapWarning, QueryError};
use crate::math::{Pose, Vec2, eval_piecewise, wrap_angle};
use crate::opendrive::{
    self, ElementType, Lane, LaneType, LoadOptions, OpenDrive, Road, TrafficRule,
};
use crate::render::raster::GroundRaster;
use geometry::{RefLine, RefPoint};
use graph::LaneGraph;
use index::{Aabb, Chunk, SpatialIndex};
use signals::Signals;

pub use route::Route;

/// A position along a lane, as scenario formats and the gRPC contract
/// express it.
#[derive(Clone, Debug, PartialEq)]
pub struct LanePosition {
    pub road_id: String,
    pub lane_id: i32,
    /// Distance along the road reference line, metres.
    pub s: f64,
    /// Lateral offset from the lane centre, metres, positive left of the
    /// reference line direction.
    pub offset: f64,
}

/// Where a world point lies on the road network.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneLocation {
    /// Index of the road in [`Map::roads`].
    pub road: usize,
    /// Index of the lane section in the road.
    pub section: usize,
    pub lane_id: i32,
    pub s: f64,
    /// Lateral position from the reference line, metres, positive left.
    pub t: f64,
    /// Lateral offset from the lane centre, metres, positive left.
    pub offset: f64,
    pub lane_type: LaneType,
    /// Direction of travel of the lane at `s` (for lanes without a
    /// direction, the reference-line direction on the left side and its
    /// reverse on the right, as for traffic lanes).
    pub heading: f64,
    /// Lane width at `s`.
    pub width: f64,
    /// The lane-graph node, for drivable lanes.
    pub node: Option<u32>,
}

/// A hint for [`Map::locate_with_hint`]: where overlapping lanes make a point
/// ambiguous (junctions), prefer the lane an actor is driving along.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocateHint {
    /// The actor's heading.
    pub heading: f64,
    /// The road the actor was on at the previous step.
    pub road: Option<usize>,
}

/// Bounding box of the road network, metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    pub min: [f64; 3],
    pub max: [f64; 3],
}

/// Lateral extent of one lane at some `s`: t of its inner and outer border
/// and their derivatives along s.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub inner: f64,
    pub outer: f64,
    pub d_inner: f64,
    pub d_outer: f64,
}

impl Span {
    pub fn centre(&self) -> f64 {
        0.5 * (self.inner + self.outer)
    }
    pub fn d_centre(&self) -> f64 {
        0.5 * (self.d_inner + self.d_outer)
    }
    pub fn width(&self) -> f64 {
        (self.outer - self.inner).abs()
    }
    pub fn contains(&self, t: f64) -> bool {
        let (lo, hi) = if self.inner <= self.outer {
            (self.inner, self.outer)
        } else {
            (self.outer, self.inner)
        };
        t >= lo && t <= hi
    }
    /// Distance from `t` to the lane (0 inside).
    pub fn distance(&self, t: f64) -> f64 {
        let (lo, hi) = if self.inner <= self.outer {
            (self.inner, self.outer)
        } else {
            (self.outer, self.inner)
        };
        (lo - t).max(t - hi).max(0.0)
    }
}

/// A loaded, validated map.
pub struct Map {
    name: String,
    file: String,
    odr: OpenDrive,
    ref_lines: Vec<RefLine>,
    road_ids: BTreeMap<String, usize>,
    junction_ids: BTreeMap<String, usize>,
    graph: LaneGraph,
    signals: Signals,
    pub(crate) index: SpatialIndex,
    raster: OnceLock<GroundRaster>,
    warnings: Vec<MapWarning>,
}

impl std::fmt::Debug for Map {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Map")
            .field("name", &self.name)
            .field("roads", &self.odr.roads.len())
            .field("junctions", &self.odr.junctions.len())
            .field("lanes", &self.graph.nodes().len())
            .field("warnings", &self.warnings.len())
            .finish()
    }
}

/// Widest road network accepted, metres.
pub const MAX_SPAN: f64 = 400_000.0;

/// Most plan-view length a map may have in all (10,000 km): bounds the
/// knot tables of curved geometry records.
pub const MAX_TOTAL_GEOMETRY: f64 = 1.0e7;

/// Most lane length (summed over every lane of every section) a map may
/// have (20,000 km): lane centre lines are sampled every [`SAMPLE`] metres,
/// so this bounds the lane graph's memory.
pub const MAX_TOTAL_LANE_LENGTH: f64 = 2.0e7;

/// Round-off tolerance on `s` at lane-section boundaries, relative to
/// `max(|s|, 1)`: sections meeting at `2.0` and `2.0000000000000568` meet.
pub const S_TOL: f64 = 1e-9;

fn s_tol(s: f64) -> f64 {
    S_TOL * s.abs().max(1.0)
}

/// Heading of a lane-centre curve at lateral position `t` on the reference
/// line point `p`, where `dt` is dt/ds of the centre.
///
/// The lane centre is `P(s) = C(s) + t(s)·N(s)` with derivative
/// `(1 - κt)·T + t'·N`. Where the lane lies farther out than the radius of
/// curvature (`1 - κt < 0`, a lane outside a very tight curve's centre)
/// the offset curve runs backwards: its tangent line is kept but oriented
/// along the reference line's direction, so the heading never turns by
/// 180° (the lane still runs the way its road runs).
pub(crate) fn offset_heading(p: &RefPoint, t: f64, dt: f64) -> f64 {
    let m = 1.0 - p.kappa * t;
    let lateral = if m < 0.0 { -dt } else { dt };
    p.hdg + lateral.atan2(m.abs())
}

/// Sample spacing along roads for the index and lane polylines, metres.
pub(crate) const SAMPLE: f64 = 1.0;

impl Map {
    /// Loads a map from an `.xodr` file; its name is the file stem.
    pub fn from_file(path: &Path) -> Result<Self, MapError> {
        Self::from_file_with(path, &LoadOptions::default())
    }

    /// Loads a map from an `.xodr` file with `options`; its name is the file
    /// stem, and errors and [`Map::warnings`] name the file's path.
    pub fn from_file_with(path: &Path, options: &LoadOptions) -> Result<Self, MapError> {
        let odr = opendrive::parse_file_with(path, options)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::from_opendrive_with(odr, &name, &path.display().to_string(), options)
    }

    /// Loads a map from an OpenDRIVE document held in memory; `name` names it
    /// in errors and snapshots.
    pub fn from_xml(xml: &str, name: &str) -> Result<Self, MapError> {
        Self::from_xml_with(xml, name, name, &LoadOptions::default())
    }

    /// Loads a map from an OpenDRIVE document held in memory that was read
    /// from `file` (the path errors and warnings name); `name` names the map
    /// in snapshots.
    pub fn from_xml_with(
        xml: &str,
        name: &str,
        file: &str,
        options: &LoadOptions,
    ) -> Result<Self, MapError> {
        let odr = opendrive::parse_str_with(xml, file, options)?;
        Self::from_opendrive_with(odr, name, file, options)
    }

    /// Validates cross references and builds the derived structures.
    pub fn from_opendrive(odr: OpenDrive, name: &str, file: &str) -> Result<Self, MapError> {
        Self::from_opendrive_with(odr, name, file, &LoadOptions::default())
    }

    /// Validates cross references and builds the derived structures.
    ///
    /// Where CARLA and esmini read past untidy exports, so does this, with
    /// a [`MapWarning`] added to the document's own in [`Map::warnings`]
    /// (each an error under [`LoadOptions::strict`]): a road or junction id
    /// used twice keeps its first definition; a road link to a road or
    /// junction that does not exist, or a junction connection naming a
    /// road that does not exist, is dropped; a road said to belong to a
    /// junction that does not exist is an ordinary road. What makes the map
    /// unusable (sizes beyond the limits below) stays an error.
    pub fn from_opendrive_with(
        mut odr: OpenDrive,
        name: &str,
        file: &str,
        options: &LoadOptions,
    ) -> Result<Self, MapError> {
        let invalid = |line: u32, element: &str, message: String| MapError::Invalid {
            file: file.to_owned(),
            line,
            element: element.to_owned(),
            message,
        };
        let mut warnings = std::mem::take(&mut odr.warnings);
        if options.strict
            && let Some(first) = warnings.first()
        {
            return Err(first.clone().into());
        }
        let mut warn = |line: u32, element: &str, message: String| -> Result<(), MapError> {
            let w = MapWarning {
                file: file.to_owned(),
                line,
                element: element.to_owned(),
                message,
            };
            if options.strict {
                return Err(w.into());
            }
            warnings.push(w);
            Ok(())
        };
        // Duplicate ids: the first definition stands (as in CARLA's and
        // esmini's readers, which look roads up by id).
        let mut seen = std::collections::BTreeSet::new();
        let mut dropped = Vec::new();
        for r in &odr.roads {
            if !seen.insert(r.id.clone()) {
                dropped.push((r.line, r.id.clone()));
            }
        }
        for (line, id) in &dropped {
            warn(
                *line,
                "road",
                format!("duplicate road id \"{id}\": this definition is ignored"),
            )?;
        }
        if !dropped.is_empty() {
            let mut seen = std::collections::BTreeSet::new();
            odr.roads.retain(|r| seen.insert(r.id.clone()));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut dropped = Vec::new();
        for j in &odr.junctions {
            if !seen.insert(j.id.clone()) {
                dropped.push((j.line, j.id.clone()));
            }
        }
        for (line, id) in &dropped {
            warn(
                *line,
                "junction",
                format!("duplicate junction id \"{id}\": this definition is ignored"),
            )?;
        }
        if !dropped.is_empty() {
            let mut seen = std::collections::BTreeSet::new();
            odr.junctions.retain(|j| seen.insert(j.id.clone()));
        }
        let road_ids: BTreeMap<String, usize> = odr
            .roads
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let junction_ids: BTreeMap<String, usize> = odr
            .junctions
            .iter()
            .enumerate()
            .map(|(i, j)| (j.id.clone(), i))
            .collect();
        for r in &mut odr.roads {
            for (tag, slot) in [
                ("predecessor", &mut r.predecessor),
                ("successor", &mut r.successor),
            ] {
                let Some(link) = slot else { continue };
                let known = match link.element_type {
                    ElementType::Road => road_ids.contains_key(&link.element_id),
                    ElementType::Junction => junction_ids.contains_key(&link.element_id),
                };
                if !known {
                    warn(
                        link.line,
                        tag,
                        format!(
                            "road {}: links to unknown {} \"{}\" (link ignored)",
                            r.id,
                            match link.element_type {
                                ElementType::Road => "road",
                                ElementType::Junction => "junction",
                            },
                            link.element_id
                        ),
                    )?;
                    *slot = None;
                }
            }
            if let Some(j) = &r.junction
                && !junction_ids.contains_key(j)
            {
                warn(
                    r.line,
                    "road",
                    format!(
                        "road {}: belongs to unknown junction \"{j}\" (read as an ordinary road)",
                        r.id
                    ),
                )?;
                r.junction = None;
            }
        }
        for j in &mut odr.junctions {
            let mut keep = Vec::with_capacity(j.connections.len());
            for c in std::mem::take(&mut j.connections) {
                let missing = [
                    ("incomingRoad", &c.incoming_road),
                    ("connectingRoad", &c.connecting_road),
                ]
                .into_iter()
                .find(|(_, id)| !road_ids.contains_key(*id));
                match missing {
                    Some((what, id)) => warn(
                        c.line,
                        "connection",
                        format!(
                            "junction {}: {what} \"{id}\" is not a road (connection ignored)",
                            j.id
                        ),
                    )?,
                    None => keep.push(c),
                }
            }
            j.connections = keep;
        }
        let mut geometry_total = 0.0;
        let mut lane_total = 0.0;
        for r in &odr.roads {
            for g in &r.plan_view {
                geometry_total += g.length;
                if geometry_total > MAX_TOTAL_GEOMETRY {
                    return Err(invalid(
                        g.line,
                        "geometry",
                        format!(
                            "road {}: the plan views add up to more than {:.0} km",
                            r.id,
                            MAX_TOTAL_GEOMETRY / 1000.0
                        ),
                    ));
                }
            }
            for (k, ls) in r.lane_sections.iter().enumerate() {
                let end = r.lane_sections.get(k + 1).map_or(r.length, |n| n.s);
                let len = (end.min(r.length) - ls.s).max(0.0);
                lane_total += len * (ls.left.len() + ls.right.len()) as f64;
                if lane_total > MAX_TOTAL_LANE_LENGTH {
                    return Err(invalid(
                        ls.line,
                        "laneSection",
                        format!(
                            "road {}: the lanes add up to more than {:.0} km",
                            r.id,
                            MAX_TOTAL_LANE_LENGTH / 1000.0
                        ),
                    ));
                }
            }
        }
        let ref_lines = odr
            .roads
            .iter()
            .map(|r| RefLine::new(&r.plan_view))
            .collect();
        let mut map = Self {
            name: name.to_owned(),
            file: file.to_owned(),
            odr,
            ref_lines,
            road_ids,
            junction_ids,
            graph: LaneGraph::default(),
            signals: Signals::default(),
            index: SpatialIndex::build(Vec::new()),
            raster: OnceLock::new(),
            warnings,
        };
        map.index = SpatialIndex::build(map.chunks());
        let b = map.index.bounds;
        let span = (b.max.x - b.min.x).max(b.max.y - b.min.y);
        if span > MAX_SPAN {
            // Name the road farthest from the first one.
            let origin = map.ref_point(0, 0.0).pos;
            let far = (0..map.odr.roads.len())
                .max_by(|&a, &c| {
                    let da = (map.ref_point(a, 0.0).pos - origin).length();
                    let dc = (map.ref_point(c, 0.0).pos - origin).length();
                    da.total_cmp(&dc)
                })
                .unwrap_or(0);
            let r = &map.odr.roads[far];
            return Err(invalid(
                r.line,
                "road",
                format!(
                    "road {}: the road network spans {:.0} km; at most {:.0} km is supported",
                    r.id,
                    span / 1000.0,
                    MAX_SPAN / 1000.0
                ),
            ));
        }
        map.graph = LaneGraph::build(&map);
        map.signals = Signals::build(&map);
        Ok(map)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file (or name) the map was loaded from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// What loading read past (see [`Map::from_opendrive_with`]), in the
    /// order found: the reader's (unknown elements and attributes) first.
    /// Empty for a tidy map.
    pub fn warnings(&self) -> &[MapWarning] {
        &self.warnings
    }

    pub fn opendrive(&self) -> &OpenDrive {
        &self.odr
    }

    pub fn roads(&self) -> &[Road] {
        &self.odr.roads
    }

    /// Index of the road with `id`.
    pub fn road_index(&self, id: &str) -> Option<usize> {
        self.road_ids.get(id).copied()
    }

    /// Index of the junction with `id`.
    pub fn junction_index(&self, id: &str) -> Option<usize> {
        self.junction_ids.get(id).copied()
    }

    pub fn junction_count(&self) -> usize {
        self.odr.junctions.len()
    }

    pub fn graph(&self) -> &LaneGraph {
        &self.graph
    }

    /// Traffic lights and signs with the lanes they govern.
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// Sum of reference-line lengths.
    pub fn total_road_length(&self) -> f64 {
        self.odr.roads.iter().map(|r| r.length).sum()
    }

    /// Bounding box of every road's full lateral extent.
    pub fn bounds(&self) -> Bounds {
        let b = self.index.bounds;
        let mut zmin = f64::INFINITY;
        let mut zmax = f64::NEG_INFINITY;
        for r in &self.odr.roads {
            let n = (r.length / 10.0).ceil() as usize;
            for i in 0..=n {
                let s = r.length * i as f64 / n.max(1) as f64;
                let z = eval_piecewise(&r.elevation, s).0;
                zmin = zmin.min(z);
                zmax = zmax.max(z);
            }
        }
        Bounds {
            min: [b.min.x, b.min.y, zmin],
            max: [b.max.x, b.max.y, zmax],
        }
    }

    /// The shared top-down class raster (tiles are built on first use).
    pub fn raster(&self) -> &GroundRaster {
        self.raster.get_or_init(|| GroundRaster::new(self))
    }

    // ------------------------------------------------------------ geometry

    pub(crate) fn road(&self, road: usize) -> &Road {
        &self.odr.roads[road]
    }

    pub(crate) fn ref_point(&self, road: usize, s: f64) -> RefPoint {
        self.ref_lines[road].eval(s)
    }

    /// Index of the lane section covering `s`. At a boundary (within
    /// round-off, [`S_TOL`]) the later section is chosen.
    pub(crate) fn section_at(&self, road: usize, s: f64) -> usize {
        let tol = s_tol(s);
        self.odr.roads[road]
            .lane_sections
            .partition_point(|ls| ls.s <= s + tol)
            .saturating_sub(1)
    }

    /// Index of the lane section covering `s` that has `lane_id`: where `s`
    /// lies on a boundary between sections (within round-off, [`S_TOL`];
    /// exporters write `2.0000000000000568` for `2`), the one on either
    /// side that holds the lane, the later one when both do.
    pub(crate) fn section_with_lane(&self, road: usize, s: f64, lane_id: i32) -> usize {
        let sections = &self.odr.roads[road].lane_sections;
        let at = self.section_at(road, s);
        if sections[at].lane(lane_id).is_some() {
            return at;
        }
        let tol = s_tol(s);
        // Every section whose start lies within round-off of s (a run of
        // near-zero-length sections included), and the one before them.
        let first = sections.partition_point(|ls| ls.s < s - tol);
        let candidates = first.saturating_sub(1)..=at;
        candidates
            .rev()
            .find(|&k| sections[k].lane(lane_id).is_some())
            .unwrap_or(at)
    }

    /// The section's `[start, end]` in s.
    pub(crate) fn section_range(&self, road: usize, section: usize) -> (f64, f64) {
        let r = &self.odr.roads[road];
        let start = r.lane_sections[section].s;
        let end = r
            .lane_sections
            .get(section + 1)
            .map_or(r.length, |n| n.s)
            .max(start);
        (start, end)
    }

    /// Whether traffic in `lane_id` of `road` runs along +s.
    pub fn lane_runs_forward(&self, road: usize, lane_id: i32) -> bool {
        match self.odr.roads[road].rule {
            TrafficRule::RightHand => lane_id < 0,
            TrafficRule::LeftHand => lane_id > 0,
        }
    }

    /// Lateral extent of `lane_id` at `s` in `section`.
    pub(crate) fn lane_span(
        &self,
        road: usize,
        section: usize,
        lane_id: i32,
        s: f64,
    ) -> Option<Span> {
        if lane_id == 0 {
            return None;
        }
        let r = &self.odr.roads[road];
        let ls = &r.lane_sections[section];
        let (mut t, mut dt) = eval_piecewise(&r.lane_offsets, s);
        let ds = s - ls.s;
        let (lanes, sign) = if lane_id > 0 {
            (&ls.left, 1.0)
        } else {
            (&ls.right, -1.0)
        };
        for l in lanes {
            let (w, dw) = lane_width(l, ds);
            let span = Span {
                inner: t,
                outer: t + sign * w,
                d_inner: dt,
                d_outer: dt + sign * dw,
            };
            if l.id == lane_id {
                return Some(span);
            }
            t = span.outer;
            dt = span.d_outer;
        }
        None
    }

    /// Lateral extent of the whole road (all lanes) at `s`: (min t, max t).
    pub(crate) fn road_extent(&self, road: usize, s: f64) -> (f64, f64) {
        let r = &self.odr.roads[road];
        let sec = self.section_at(road, s);
        let ls = &r.lane_sections[sec];
        let off = eval_piecewise(&r.lane_offsets, s).0;
        let ds = s - ls.s;
        let left: f64 = ls.left.iter().map(|l| lane_width(l, ds).0).sum();
        let right: f64 = ls.right.iter().map(|l| lane_width(l, ds).0).sum();
        (off.min(off - right), off.max(off + left))
    }

    /// World position of reference-line coordinates `(s, t)`.
    pub(crate) fn st_to_xy(&self, road: usize, s: f64, t: f64) -> Vec2 {
        let p = self.ref_point(road, s);
        p.pos + Vec2::from_angle(p.hdg).perp() * t
    }

    /// World pose of a point in a lane: heading is the lane's direction of
    /// travel.
    pub(crate) fn lane_point(
        &self,
        road: usize,
        section: usize,
        lane_id: i32,
        s: f64,
        offset: f64,
    ) -> Option<Pose> {
        let span = self.lane_span(road, section, lane_id, s)?;
        let p = self.ref_point(road, s);
        let t = span.centre() + offset;
        let pos = p.pos + Vec2::from_angle(p.hdg).perp() * t;
        // The heading of the lane centre (the offset does not turn it).
        let mut heading = offset_heading(&p, span.centre(), span.d_centre());
        let (z, dz) = eval_piecewise(&self.odr.roads[road].elevation, s);
        let mut pitch = -dz.atan();
        if !self.lane_runs_forward(road, lane_id) {
            heading += std::f64::consts::PI;
            pitch = -pitch;
        }
        Some(Pose {
            x: pos.x,
            y: pos.y,
            z,
            yaw: wrap_angle(heading),
            pitch,
            roll: 0.0,
        })
    }

    /// Ground height of the road network at reference-line `s` of `road`.
    pub(crate) fn elevation(&self, road: usize, s: f64) -> f64 {
        eval_piecewise(&self.odr.roads[road].elevation, s).0
    }

    // ------------------------------------------------------------ queries

    /// Resolves a lane position to a world pose whose yaw is the lane's
    /// direction of travel.
    pub fn lane_pose(&self, pos: &LanePosition) -> Result<Pose, QueryError> {
        if !pos.s.is_finite() {
            return Err(QueryError::NotFinite { field: "s" });
        }
        if !pos.offset.is_finite() {
            return Err(QueryError::NotFinite { field: "offset" });
        }
        let road = self
            .road_index(&pos.road_id)
            .ok_or_else(|| QueryError::UnknownRoad {
                map: self.name.clone(),
                road: pos.road_id.clone(),
            })?;
        let len = self.odr.roads[road].length;
        if pos.s < -1e-6 || pos.s > len + 1e-6 {
            return Err(QueryError::SOutOfRange {
                road: pos.road_id.clone(),
                s: pos.s,
                length: len,
            });
        }
        let s = pos.s.clamp(0.0, len);
        let section = self.section_with_lane(road, s, pos.lane_id);
        self.lane_point(road, section, pos.lane_id, s, pos.offset)
            .ok_or_else(|| QueryError::UnknownLane {
                road: pos.road_id.clone(),
                lane: pos.lane_id,
                s,
            })
    }

    /// The lane at world point `p`, if it lies on a road.
    pub fn locate(&self, p: Vec2) -> Option<LaneLocation> {
        self.locate_with_hint(p, None)
    }

    /// As [`Map::locate`], resolving overlaps (junctions) in favour of lanes
    /// that run along `hint.heading` and of the hinted road.
    pub fn locate_with_hint(&self, p: Vec2, hint: Option<LocateHint>) -> Option<LaneLocation> {
        let mut best: Option<(f64, LaneLocation)> = None;
        for &ci in self.index.at(p) {
            if !self.index.boxes[ci as usize].contains(p) {
                continue;
            }
            let Some(loc) = self.locate_in_chunk(ci, p) else {
                continue;
            };
            let score = Self::score(&loc, hint);
            if best.as_ref().is_none_or(|(b, _)| score < *b) {
                best = Some((score, loc));
            }
        }
        best.map(|(_, l)| l)
    }

    fn score(loc: &LaneLocation, hint: Option<LocateHint>) -> f64 {
        let mut score = if loc.lane_type.is_drivable() {
            0.0
        } else {
            2.0
        };
        if let Some(h) = hint {
            let diff = wrap_angle(loc.heading - h.heading).abs();
            score += if loc.lane_type.is_drivable() {
                diff
            } else {
                diff.min(std::f64::consts::PI - diff)
            };
            if h.road == Some(loc.road) {
                score -= 0.5;
            }
        }
        score + 0.1 * loc.offset.abs() / loc.width.max(0.1)
    }

    /// Drivable lanes within `radius` of `p` (0 for lanes containing it),
    /// each once, nearest first.
    pub fn drivable_near(&self, p: Vec2, radius: f64) -> Vec<(f64, LaneLocation)> {
        let mut out: Vec<(f64, LaneLocation)> = Vec::new();
        for ci in self.index.near(p, radius) {
            let Some((s, t)) = self.project_chunk(ci, p) else {
                continue;
            };
            let road = self.index.chunks[ci as usize].road as usize;
            let section = self.section_at(road, s);
            let r = &self.odr.roads[road];
            for lane in r.lane_sections[section].side_lanes() {
                if !lane.kind.is_drivable() {
                    continue;
                }
                let Some(span) = self.lane_span(road, section, lane.id, s) else {
                    continue;
                };
                let d = span.distance(t);
                if d > radius {
                    continue;
                }
                let loc = self.make_location(road, section, lane, s, t, span);
                if let Some(existing) = out
                    .iter_mut()
                    .find(|(_, l)| l.road == road && l.section == section && l.lane_id == lane.id)
                {
                    if d < existing.0 {
                        *existing = (d, loc);
                    }
                } else {
                    out.push((d, loc));
                }
            }
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    pub(crate) fn make_location(
        &self,
        road: usize,
        section: usize,
        lane: &Lane,
        s: f64,
        t: f64,
        span: Span,
    ) -> LaneLocation {
        let p = self.ref_point(road, s);
        let c = span.centre();
        let mut heading = offset_heading(&p, c, span.d_centre());
        if !self.lane_runs_forward(road, lane.id) {
            heading += std::f64::consts::PI;
        }
        LaneLocation {
            road,
            section,
            lane_id: lane.id,
            s,
            t,
            offset: t - c,
            lane_type: lane.kind.clone(),
            heading: wrap_angle(heading),
            width: span.width(),
            node: self.graph.node_id(road, section, lane.id),
        }
    }

    /// Projects `p` onto the reference line within chunk `ci`: `(s, t)` when
    /// the foot of the perpendicular falls inside the chunk.
    fn project_chunk(&self, ci: u32, p: Vec2) -> Option<(f64, f64)> {
        let c = self.index.chunks[ci as usize];
        let road = c.road as usize;
        let rl = &self.ref_lines[road];
        let mut s = 0.5 * (c.s0 + c.s1);
        let len = self.odr.roads[road].length;
        for _ in 0..6 {
            let rp = rl.eval(s);
            let tan = Vec2::from_angle(rp.hdg);
            let d = p - rp.pos;
            let along = d.dot(tan);
            let t = d.dot(tan.perp());
            let denom = (1.0 - rp.kappa * t).max(0.2);
            let step = along / denom;
            s = (s + step).clamp(c.s0 - 0.5, c.s1 + 0.5).clamp(0.0, len);
            if step.abs() < 1e-9 {
                break;
            }
        }
        let tol = 1e-7;
        if s < c.s0 - tol || s > c.s1 + tol {
            return None;
        }
        let rp = rl.eval(s);
        let tan = Vec2::from_angle(rp.hdg);
        let d = p - rp.pos;
        // At the ends of a road the point may lie beyond it.
        if d.dot(tan).abs() > 1e-3 {
            return None;
        }
        Some((s, d.dot(tan.perp())))
    }

    fn locate_in_chunk(&self, ci: u32, p: Vec2) -> Option<LaneLocation> {
        let (s, t) = self.project_chunk(ci, p)?;
        let road = self.index.chunks[ci as usize].road as usize;
        let section = self.section_at(road, s);
        let r = &self.odr.roads[road];
        let (off, _) = eval_piecewise(&r.lane_offsets, s);
        // On a section boundary (within round-off) the lane may be one that
        // ends there: look in the earlier section too.
        let tol = s_tol(s);
        let earlier = (section > 0 && s <= r.lane_sections[section].s + tol).then(|| section - 1);
        for section in std::iter::once(section).chain(earlier) {
            let ls = &r.lane_sections[section];
            let side = if t >= off { &ls.left } else { &ls.right };
            for lane in side {
                let Some(span) = self.lane_span(road, section, lane.id, s) else {
                    break;
                };
                if span.contains(t) && span.width() > 1e-9 {
                    return Some(self.make_location(road, section, lane, s, t, span));
                }
            }
        }
        None
    }

    /// Road chunks for the spatial index.
    fn chunks(&self) -> Vec<(Chunk, Aabb)> {
        let mut out = Vec::new();
        for (ri, r) in self.odr.roads.iter().enumerate() {
            let rl = &self.ref_lines[ri];
            let mut breaks: Vec<f64> = rl
                .breaks()
                .chain(r.lane_sections.iter().map(|ls| ls.s))
                .chain([0.0, r.length])
                .filter(|s| *s >= 0.0 && *s <= r.length)
                .collect();
            breaks.sort_by(f64::total_cmp);
            breaks.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
            for w in breaks.windows(2) {
                let (a, b) = (w[0], w[1]);
                let n = ((b - a) / (2.0 * SAMPLE)).ceil().max(1.0) as usize;
                for i in 0..n {
                    let s0 = a + (b - a) * i as f64 / n as f64;
                    let s1 = a + (b - a) * (i + 1) as f64 / n as f64;
                    let mut bb = Aabb::empty();
                    for s in [s0, 0.5 * (s0 + s1), s1] {
                        let (tmin, tmax) = self.road_extent(ri, s);
                        let p = rl.eval(s);
                        let nrm = Vec2::from_angle(p.hdg).perp();
                        bb.add(p.pos + nrm * tmin);
                        bb.add(p.pos + nrm * tmax);
                        bb.add(p.pos);
                    }
                    // Sagitta of the chunk plus slack for the lateral extent
                    // bulging between samples.
                    let margin = 0.5 + rl.max_curvature_near(s0) * (s1 - s0) * 10.0;
                    out.push((
                        Chunk {
                            road: ri as u32,
                            s0,
                            s1,
                        },
                        bb.grow(margin),
                    ));
                }
            }
        }
        out
    }
}

/// Width of a lane and its derivative at `ds` from the start of its section.
pub(crate) fn lane_width(lane: &Lane, ds: f64) -> (f64, f64) {
    let (w, dw) = eval_piecewise(&lane.widths, ds);
    if w <= 0.0 { (0.0, 0.0) } else { (w, dw) }
}

#[cfg(test)]
mod tests;
