//! The `.xodr` reader: roxmltree in, [`OpenDrive`] out, with errors that
//! name the file, line and element.

use std::path::Path;

use roxmltree::{Document, Node, ParsingOptions};

use super::*;
use crate::error::MapError;

/// Reads and parses an OpenDRIVE file.
pub fn parse_file(path: &Path) -> Result<OpenDrive, MapError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| MapError::Io {
        file: file.clone(),
        source,
    })?;
    parse_str(&text, &file)
}

/// Parses an OpenDRIVE document; `file` names it in errors.
pub fn parse_str(xml: &str, file: &str) -> Result<OpenDrive, MapError> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let opts = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, opts).map_err(|e| {
        let pos = e.pos();
        MapError::Xml {
            file: file.to_owned(),
            line: pos.row,
            column: pos.col,
            message: e.to_string(),
        }
    })?;
    // Byte offset of every line start, for line numbers in O(log n) (the
    // document's own lookup scans from the start each time, which made
    // loading quadratic in the file size).
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(xml.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let cx = Cx {
        file,
        line_starts,
        doc: &doc,
    };
    cx.document()
}

struct Cx<'a, 'input> {
    file: &'a str,
    line_starts: Vec<usize>,
    doc: &'a Document<'input>,
}

type R<T> = Result<T, MapError>;

/// Longest road or geometry record accepted, metres (1000 km).
pub const MAX_LENGTH: f64 = 1.0e6;

/// Widest lane accepted anywhere along its section, metres.
pub const MAX_LANE_WIDTH: f64 = 100.0;

/// Largest lateral offset of the lanes from the reference line
/// (`<laneOffset>`), metres.
pub const MAX_LANE_OFFSET: f64 = 1000.0;

fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(|n| n.is_element())
}

fn named<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    elements(node).filter(move |n| n.tag_name().name() == name)
}

fn first<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    named(node, name).next()
}

impl Cx<'_, '_> {
    fn line(&self, node: Node) -> u32 {
        let at = node.range().start;
        self.line_starts.partition_point(|&start| start <= at) as u32
    }

    fn invalid(&self, node: Node, message: impl Into<String>) -> MapError {
        MapError::Invalid {
            file: self.file.to_owned(),
            line: self.line(node),
            element: node.tag_name().name().to_owned(),
            message: message.into(),
        }
    }

    fn unsupported(&self, node: Node, what: impl Into<String>) -> MapError {
        MapError::Unsupported {
            file: self.file.to_owned(),
            line: self.line(node),
            element: node.tag_name().name().to_owned(),
            what: what.into(),
        }
    }

    fn str<'n>(&self, node: Node<'n, '_>, attr: &str) -> R<&'n str> {
        node.attribute(attr)
            .ok_or_else(|| self.invalid(node, format!("missing attribute `{attr}`")))
    }

    fn opt_f64(&self, node: Node, attr: &str) -> R<Option<f64>> {
        match node.attribute(attr) {
            None => Ok(None),
            Some(raw) if raw.trim().is_empty() => Ok(None),
            Some(raw) => {
                let v: f64 = raw.trim().parse().map_err(|_| {
                    self.invalid(
                        node,
                        format!("attribute `{attr}`: \"{raw}\" is not a number"),
                    )
                })?;
                if !v.is_finite() {
                    return Err(self.invalid(node, format!("attribute `{attr}` is not finite")));
                }
                Ok(Some(v))
            }
        }
    }

    fn f64(&self, node: Node, attr: &str) -> R<f64> {
        self.opt_f64(node, attr)?
            .ok_or_else(|| self.invalid(node, format!("missing attribute `{attr}`")))
    }

    fn f64_or(&self, node: Node, attr: &str, default: f64) -> R<f64> {
        Ok(self.opt_f64(node, attr)?.unwrap_or(default))
    }

    fn i32(&self, node: Node, attr: &str) -> R<i32> {
        let raw = self.str(node, attr)?;
        let t = raw.trim();
        // Some exporters write lane ids as floats ("-1.0").
        t.parse::<i32>()
            .ok()
            .or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .filter(|v| v.fract() == 0.0 && v.abs() < 1e6)
                    .map(|v| v as i32)
            })
            .ok_or_else(|| {
                self.invalid(
                    node,
                    format!("attribute `{attr}`: \"{raw}\" is not an integer"),
                )
            })
    }

    fn cubic(&self, node: Node, s_attr: &str) -> R<Cubic> {
        Ok(Cubic {
            s: self.f64(node, s_attr)?,
            a: self.f64_or(node, "a", 0.0)?,
            b: self.f64_or(node, "b", 0.0)?,
            c: self.f64_or(node, "c", 0.0)?,
            d: self.f64_or(node, "d", 0.0)?,
        })
    }

    fn sorted_cubics(&self, parent: Node, name: &'static str, s_attr: &str) -> R<Vec<Cubic>> {
        let mut out: Vec<Cubic> = Vec::new();
        for n in named(parent, name) {
            let c = self.cubic(n, s_attr)?;
            if c.s < 0.0 {
                return Err(self.invalid(n, format!("`{s_attr}` must not be negative")));
            }
            out.push(c);
        }
        // Stable: records with equal s keep document order, the last wins
        // when evaluated.
        out.sort_by(|a, b| a.s.total_cmp(&b.s));
        Ok(out)
    }

    fn document(&self) -> R<OpenDrive> {
        let root = self.doc.root_element();
        if root.tag_name().name() != "OpenDRIVE" {
            return Err(self.invalid(root, "root element must be <OpenDRIVE>"));
        }
        let mut odr = OpenDrive::default();
        for n in elements(root) {
            match n.tag_name().name() {
                "header" => odr.header = self.header(n)?,
                "road" => odr.roads.push(self.road(n)?),
                "junction" => odr.junctions.push(self.junction(n)?),
                "controller" => odr.controllers.push(self.controller(n)?),
                _ => {}
            }
        }
        if odr.roads.is_empty() {
            return Err(self.invalid(root, "the document has no <road>"));
        }
        Ok(odr)
    }

    fn header(&self, n: Node) -> R<Header> {
        let rev = |attr| -> R<u32> {
            match n.attribute(attr) {
                None => Ok(0),
                Some(v) => v.trim().parse().map_err(|_| {
                    self.invalid(n, format!("attribute `{attr}`: \"{v}\" is not an integer"))
                }),
            }
        };
        Ok(Header {
            rev_major: rev("revMajor")?,
            rev_minor: rev("revMinor")?,
            name: n.attribute("name").unwrap_or_default().to_owned(),
            vendor: n.attribute("vendor").unwrap_or_default().to_owned(),
            north: self.opt_f64(n, "north")?,
            south: self.opt_f64(n, "south")?,
            east: self.opt_f64(n, "east")?,
            west: self.opt_f64(n, "west")?,
            geo_reference: first(n, "geoReference")
                .and_then(|g| g.text())
                .map(|t| t.trim().to_owned()),
        })
    }

    fn road(&self, n: Node) -> R<Road> {
        let id = self.str(n, "id")?.to_owned();
        let length = self.f64(n, "length")?;
        if !(0.0..=MAX_LENGTH).contains(&length) {
            return Err(self.invalid(
                n,
                format!("road {id}: length {length} is outside 0-{MAX_LENGTH} m"),
            ));
        }
        let junction = match n.attribute("junction").map(str::trim) {
            None | Some("") | Some("-1") => None,
            Some(j) => Some(j.to_owned()),
        };
        let rule = match n.attribute("rule") {
            None | Some("RHT") => TrafficRule::RightHand,
            Some("LHT") => TrafficRule::LeftHand,
            Some(other) => {
                return Err(self.invalid(n, format!("road {id}: unknown rule \"{other}\"")));
            }
        };
        let mut road = Road {
            id,
            name: n.attribute("name").unwrap_or_default().to_owned(),
            length,
            junction,
            rule,
            predecessor: None,
            successor: None,
            types: Vec::new(),
            plan_view: Vec::new(),
            elevation: Vec::new(),
            lane_offsets: Vec::new(),
            lane_sections: Vec::new(),
            signals: Vec::new(),
            signal_references: Vec::new(),
            line: self.line(n),
        };
        let mut plan_view = None;
        let mut lanes = None;
        for c in elements(n) {
            match c.tag_name().name() {
                "link" => {
                    road.predecessor = first(c, "predecessor")
                        .map(|p| self.road_link(p))
                        .transpose()?;
                    road.successor = first(c, "successor")
                        .map(|p| self.road_link(p))
                        .transpose()?;
                }
                "type" => road.types.push(self.road_type(c)?),
                "planView" => plan_view = Some(c),
                "elevationProfile" => {
                    road.elevation = self.sorted_cubics(c, "elevation", "s")?;
                }
                "lanes" => lanes = Some(c),
                "signals" => {
                    for s in elements(c) {
                        match s.tag_name().name() {
                            "signal" => road.signals.push(self.signal(s)?),
                            "signalReference" => {
                                road.signal_references.push(self.signal_reference(s)?)
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        let plan_view = plan_view
            .ok_or_else(|| self.invalid(n, format!("road {}: missing <planView>", road.id)))?;
        road.plan_view = self.plan_view(plan_view, &road)?;
        let lanes =
            lanes.ok_or_else(|| self.invalid(n, format!("road {}: missing <lanes>", road.id)))?;
        road.lane_offsets = self.sorted_cubics(lanes, "laneOffset", "s")?;
        for ls in named(lanes, "laneSection") {
            road.lane_sections.push(self.lane_section(ls, &road.id)?);
        }
        if road.lane_sections.is_empty() {
            return Err(self.invalid(lanes, format!("road {}: no <laneSection>", road.id)));
        }
        road.lane_sections.sort_by(|a, b| a.s.total_cmp(&b.s));
        self.check_lateral_extent(lanes, &road)?;
        if let Some(last) = road.lane_sections.last()
            && last.s > road.length + 1e-6
        {
            let ls = named(lanes, "laneSection")
                .find(|x| self.line(*x) == last.line)
                .unwrap_or(lanes);
            return Err(self.invalid(
                ls,
                format!(
                    "road {}: lane section starts at s = {} beyond the road length {}",
                    road.id, last.s, road.length
                ),
            ));
        }
        Ok(road)
    }

    /// Rejects lane widths and lane offsets that grow absurdly anywhere
    /// along the stretch they apply to (a cubic width record on a long
    /// section easily reaches kilometres): such a road would make every
    /// derived structure (spatial index, raster) enormous.
    fn check_lateral_extent(&self, lanes: Node, road: &Road) -> R<()> {
        // Records apply from their start up to the next record's start; the
        // first one also covers everything before it.
        fn spans<'a, 'i>(recs: &[(f64, Node<'a, 'i>)], end: f64) -> Vec<(f64, f64, Node<'a, 'i>)> {
            recs.iter()
                .enumerate()
                .map(|(k, &(s, n))| {
                    let lo = if k == 0 { 0.0f64.min(s) } else { s };
                    let hi = recs.get(k + 1).map_or(end, |next| next.0).min(end);
                    (lo, hi.max(lo), n)
                })
                .collect()
        }
        let mut offsets = Vec::new();
        for n in named(lanes, "laneOffset") {
            offsets.push((self.f64(n, "s")?, n));
        }
        offsets.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (lo, hi, n) in spans(&offsets, road.length) {
            let c = self.cubic(n, "s")?;
            let (m, at) = c.max_abs(lo - c.s, hi - c.s);
            if m > MAX_LANE_OFFSET {
                return Err(self.invalid(
                    n,
                    format!(
                        "road {}: lane offset reaches {m:.3e} m at s = {:.3}; at most {MAX_LANE_OFFSET} m is supported",
                        road.id,
                        c.s + at
                    ),
                ));
            }
        }
        for ls in named(lanes, "laneSection") {
            let start = self.f64(ls, "s")?;
            let end = road
                .lane_sections
                .iter()
                .map(|x| x.s)
                .filter(|&x| x > start + 1e-9)
                .fold(road.length, f64::min)
                .max(start);
            let len = end - start;
            for lane in elements(ls)
                .filter(|n| matches!(n.tag_name().name(), "left" | "right"))
                .flat_map(|side| named(side, "lane"))
            {
                let mut widths = Vec::new();
                for w in named(lane, "width") {
                    widths.push((self.f64(w, "sOffset")?, w));
                }
                widths.sort_by(|a, b| a.0.total_cmp(&b.0));
                for (lo, hi, w) in spans(&widths, len) {
                    let c = self.cubic(w, "sOffset")?;
                    let (m, at) = c.max_abs(lo - c.s, hi - c.s);
                    if m > MAX_LANE_WIDTH {
                        return Err(self.invalid(
                            w,
                            format!(
                                "lane {} of road {}: width reaches {m:.3e} m at s = {:.3}; at most {MAX_LANE_WIDTH} m is supported",
                                lane.attribute("id").unwrap_or("?"),
                                road.id,
                                start + c.s + at
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn road_link(&self, n: Node) -> R<RoadLink> {
        let element_type = match self.str(n, "elementType")? {
            "road" => ElementType::Road,
            "junction" => ElementType::Junction,
            other => {
                return Err(self.invalid(n, format!("unknown elementType \"{other}\"")));
            }
        };
        let contact_point = match n.attribute("contactPoint") {
            None | Some("") => None,
            Some("start") => Some(ContactPoint::Start),
            Some("end") => Some(ContactPoint::End),
            Some(other) => {
                return Err(self.invalid(n, format!("unknown contactPoint \"{other}\"")));
            }
        };
        Ok(RoadLink {
            element_type,
            element_id: self.str(n, "elementId")?.to_owned(),
            contact_point,
            line: self.line(n),
        })
    }

    fn road_type(&self, n: Node) -> R<RoadType> {
        let max_speed = match first(n, "speed") {
            None => None,
            Some(sp) => {
                let raw = self.str(sp, "max")?;
                match raw.trim() {
                    "no limit" | "undefined" => None,
                    _ => {
                        let v = self.f64(sp, "max")?;
                        let factor = match sp.attribute("unit").unwrap_or("m/s") {
                            "m/s" => 1.0,
                            "km/h" => 1.0 / 3.6,
                            "mph" => 0.447_04,
                            other => {
                                return Err(
                                    self.invalid(sp, format!("unknown speed unit \"{other}\""))
                                );
                            }
                        };
                        Some(v * factor)
                    }
                }
            }
        };
        Ok(RoadType {
            s: self.f64_or(n, "s", 0.0)?,
            kind: n.attribute("type").unwrap_or_default().to_owned(),
            max_speed,
        })
    }

    fn plan_view(&self, pv: Node, road: &Road) -> R<Vec<Geometry>> {
        let mut out: Vec<Geometry> = Vec::new();
        for g in named(pv, "geometry") {
            let s = self.f64(g, "s")?;
            let length = self.f64(g, "length")?;
            if !(0.0..=MAX_LENGTH).contains(&length) {
                return Err(self.invalid(
                    g,
                    format!(
                        "road {}: length {length} is outside 0-{MAX_LENGTH} m",
                        road.id
                    ),
                ));
            }
            let shapes: Vec<Node> = elements(g).collect();
            let shape = match shapes.as_slice() {
                [one] => *one,
                [] => return Err(self.invalid(g, format!("road {}: no shape element", road.id))),
                [_, second, ..] => {
                    return Err(self.invalid(
                        *second,
                        format!("road {}: a <geometry> holds exactly one shape", road.id),
                    ));
                }
            };
            let kind = match shape.tag_name().name() {
                "line" => GeometryKind::Line,
                "arc" => GeometryKind::Arc {
                    curvature: self.f64(shape, "curvature")?,
                },
                "spiral" => GeometryKind::Spiral {
                    curv_start: self.f64(shape, "curvStart")?,
                    curv_end: self.f64(shape, "curvEnd")?,
                },
                "poly3" => GeometryKind::Poly3 {
                    a: self.f64_or(shape, "a", 0.0)?,
                    b: self.f64_or(shape, "b", 0.0)?,
                    c: self.f64_or(shape, "c", 0.0)?,
                    d: self.f64_or(shape, "d", 0.0)?,
                },
                "paramPoly3" => {
                    // OpenDRIVE 1.4 had no pRange (p runs over [0, 1]);
                    // from 1.5 on `normalized` is the default.
                    let range = match shape.attribute("pRange").map(str::trim) {
                        Some("arcLength") => ParamRange::ArcLength,
                        None | Some("normalized") => ParamRange::Normalized,
                        Some(other) => {
                            return Err(self.invalid(shape, format!("unknown pRange \"{other}\"")));
                        }
                    };
                    let mut u = [0.0; 4];
                    let mut v = [0.0; 4];
                    for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
                        u[i] = self.f64_or(shape, &format!("{k}U"), 0.0)?;
                        v[i] = self.f64_or(shape, &format!("{k}V"), 0.0)?;
                    }
                    GeometryKind::ParamPoly3 { u, v, range }
                }
                other => {
                    return Err(self.unsupported(shape, format!("geometry kind <{other}>")));
                }
            };
            out.push(Geometry {
                s,
                x: self.f64(g, "x")?,
                y: self.f64(g, "y")?,
                hdg: self.f64_or(g, "hdg", 0.0)?,
                length,
                kind,
                line: self.line(g),
            });
        }
        if out.is_empty() {
            return Err(self.invalid(pv, format!("road {}: empty <planView>", road.id)));
        }
        out.sort_by(|a, b| a.s.total_cmp(&b.s));
        Ok(out)
    }

    fn lane_section(&self, n: Node, road_id: &str) -> R<LaneSection> {
        let s = self.f64(n, "s")?;
        if s < 0.0 {
            return Err(self.invalid(n, format!("road {road_id}: negative s")));
        }
        let single_side = matches!(n.attribute("singleSide"), Some("true") | Some("1"));
        let mut section = LaneSection {
            s,
            single_side,
            left: Vec::new(),
            right: Vec::new(),
            center: None,
            line: self.line(n),
        };
        for side in elements(n) {
            let name = side.tag_name().name();
            if !matches!(name, "left" | "center" | "right") {
                continue;
            }
            for l in named(side, "lane") {
                let lane = self.lane(l, road_id)?;
                let ok = match name {
                    "left" => lane.id > 0,
                    "right" => lane.id < 0,
                    _ => lane.id == 0,
                };
                if !ok {
                    return Err(self.invalid(
                        l,
                        format!(
                            "road {road_id}: lane id {} does not belong in <{name}>",
                            lane.id
                        ),
                    ));
                }
                match name {
                    "left" => section.left.push(lane),
                    "right" => section.right.push(lane),
                    _ => section.center = Some(lane),
                }
            }
        }
        section.left.sort_by_key(|l| l.id);
        section.right.sort_by_key(|l| -l.id);
        for side in [&section.left, &section.right] {
            for w in side.windows(2) {
                if w[0].id == w[1].id {
                    let node = named(n, "left")
                        .chain(named(n, "right"))
                        .flat_map(|s| named(s, "lane"))
                        .find(|x| self.line(*x) == w[1].line)
                        .unwrap_or(n);
                    return Err(self.invalid(
                        node,
                        format!("road {road_id}: duplicate lane id {}", w[1].id),
                    ));
                }
            }
        }
        Ok(section)
    }

    fn lane(&self, n: Node, road_id: &str) -> R<Lane> {
        let id = self.i32(n, "id")?;
        let mut lane = Lane {
            id,
            kind: LaneType::parse(n.attribute("type").unwrap_or("none")),
            level: matches!(n.attribute("level"), Some("true") | Some("1")),
            predecessors: Vec::new(),
            successors: Vec::new(),
            widths: Vec::new(),
            road_marks: Vec::new(),
            line: self.line(n),
        };
        let mut has_border = None;
        for c in elements(n) {
            match c.tag_name().name() {
                "link" => {
                    for p in named(c, "predecessor") {
                        lane.predecessors.push(self.i32(p, "id")?);
                    }
                    for p in named(c, "successor") {
                        lane.successors.push(self.i32(p, "id")?);
                    }
                }
                "width" => lane.widths.push(self.cubic(c, "sOffset")?),
                "border" => has_border = Some(c),
                "roadMark" => lane.road_marks.push(self.road_mark(c)?),
                _ => {}
            }
        }
        if id != 0 && lane.widths.is_empty() {
            if let Some(b) = has_border {
                return Err(self.unsupported(
                    b,
                    format!("lane {id} of road {road_id}: <border> records (use <width>)"),
                ));
            }
            return Err(self.invalid(n, format!("road {road_id}: lane {id} has no <width>")));
        }
        lane.widths.sort_by(|a, b| a.s.total_cmp(&b.s));
        lane.road_marks
            .sort_by(|a, b| a.s_offset.total_cmp(&b.s_offset));
        Ok(lane)
    }

    fn road_mark(&self, n: Node) -> R<RoadMark> {
        let kind = match n.attribute("type").unwrap_or("none") {
            "none" => RoadMarkType::None,
            "solid" => RoadMarkType::Solid,
            "broken" => RoadMarkType::Broken,
            "solid solid" => RoadMarkType::SolidSolid,
            "solid broken" => RoadMarkType::SolidBroken,
            "broken solid" => RoadMarkType::BrokenSolid,
            "broken broken" => RoadMarkType::BrokenBroken,
            "botts dots" => RoadMarkType::BottsDots,
            "grass" => RoadMarkType::Grass,
            "curb" => RoadMarkType::Curb,
            "edge" => RoadMarkType::Edge,
            _ => RoadMarkType::Custom,
        };
        let color = match n.attribute("color").unwrap_or("standard") {
            "standard" | "white" => RoadMarkColor::White,
            "yellow" | "orange" => RoadMarkColor::Yellow,
            _ => RoadMarkColor::Other,
        };
        let width = self.opt_f64(n, "width")?.filter(|w| *w > 0.0);
        Ok(RoadMark {
            s_offset: self.f64_or(n, "sOffset", 0.0)?,
            kind,
            color,
            width: width.unwrap_or(0.12),
        })
    }

    fn validity(&self, n: Node) -> R<Vec<(i32, i32)>> {
        named(n, "validity")
            .map(|v| Ok((self.i32(v, "fromLane")?, self.i32(v, "toLane")?)))
            .collect()
    }

    fn signal(&self, n: Node) -> R<Signal> {
        let text = |a: &str| n.attribute(a).unwrap_or_default().to_owned();
        Ok(Signal {
            id: self.str(n, "id")?.to_owned(),
            name: text("name"),
            s: self.f64(n, "s")?,
            t: self.f64_or(n, "t", 0.0)?,
            z_offset: self.f64_or(n, "zOffset", 0.0)?,
            h_offset: self.f64_or(n, "hOffset", 0.0)?,
            orientation: n.attribute("orientation").unwrap_or("none").to_owned(),
            dynamic: matches!(n.attribute("dynamic"), Some("yes") | Some("true")),
            country: text("country"),
            kind: text("type"),
            subtype: text("subtype"),
            value: self.opt_f64(n, "value")?,
            unit: text("unit"),
            text: text("text"),
            height: self.opt_f64(n, "height")?,
            width: self.opt_f64(n, "width")?,
            validity: self.validity(n)?,
            line: self.line(n),
        })
    }

    fn signal_reference(&self, n: Node) -> R<SignalReference> {
        Ok(SignalReference {
            id: self.str(n, "id")?.to_owned(),
            s: self.f64(n, "s")?,
            t: self.f64_or(n, "t", 0.0)?,
            orientation: n.attribute("orientation").unwrap_or("none").to_owned(),
            validity: self.validity(n)?,
            line: self.line(n),
        })
    }

    fn junction(&self, n: Node) -> R<Junction> {
        let mut j = Junction {
            id: self.str(n, "id")?.to_owned(),
            name: n.attribute("name").unwrap_or_default().to_owned(),
            connections: Vec::new(),
            controllers: Vec::new(),
            line: self.line(n),
        };
        for c in elements(n) {
            match c.tag_name().name() {
                "connection" => {
                    // OpenDRIVE 1.7 direct junctions name the outgoing road
                    // `linkedRoad`.
                    let connecting = c
                        .attribute("connectingRoad")
                        .or_else(|| c.attribute("linkedRoad"))
                        .ok_or_else(|| self.invalid(c, "missing attribute `connectingRoad`"))?;
                    let contact_point = match c.attribute("contactPoint") {
                        Some("start") => ContactPoint::Start,
                        Some("end") => ContactPoint::End,
                        Some(other) => {
                            return Err(
                                self.invalid(c, format!("unknown contactPoint \"{other}\""))
                            );
                        }
                        None => return Err(self.invalid(c, "missing attribute `contactPoint`")),
                    };
                    let lane_links = named(c, "laneLink")
                        .map(|l| Ok((self.i32(l, "from")?, self.i32(l, "to")?)))
                        .collect::<R<Vec<_>>>()?;
                    j.connections.push(Connection {
                        id: c.attribute("id").unwrap_or_default().to_owned(),
                        incoming_road: self.str(c, "incomingRoad")?.to_owned(),
                        connecting_road: connecting.to_owned(),
                        contact_point,
                        lane_links,
                        line: self.line(c),
                    });
                }
                "controller" => j.controllers.push(self.str(c, "id")?.to_owned()),
                _ => {}
            }
        }
        Ok(j)
    }

    fn controller(&self, n: Node) -> R<Controller> {
        Ok(Controller {
            id: self.str(n, "id")?.to_owned(),
            name: n.attribute("name").unwrap_or_default().to_owned(),
            signals: named(n, "control")
                .map(|c| Ok(self.str(c, "signalId")?.to_owned()))
                .collect::<R<Vec<_>>>()?,
            line: self.line(n),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"<?xml version="1.0"?>
<OpenDRIVE>
  <header revMajor="1" revMinor="6" name="mini"/>
  <road id="7" length="10" junction="-1">
    <link><successor elementType="junction" elementId="3"/></link>
    <type s="0" type="town"><speed max="36" unit="km/h"/></type>
    <planView>
      <geometry s="0" x="1" y="2" hdg="0" length="10"><line/></geometry>
    </planView>
    <lanes>
      <laneSection s="0">
        <left><lane id="1" type="sidewalk"><width sOffset="0" a="2"/></lane></left>
        <center><lane id="0" type="none"><roadMark type="broken" color="yellow"/></lane></center>
        <right><lane id="-1" type="driving"><link><successor id="-2"/></link><width sOffset="0" a="3.5"/></lane></right>
      </laneSection>
    </lanes>
  </road>
</OpenDRIVE>"#;

    #[test]
    fn parses_a_minimal_road() {
        let odr = parse_str(MINI, "mini.xodr").unwrap();
        assert_eq!(odr.header.name, "mini");
        let r = &odr.roads[0];
        assert_eq!(r.id, "7");
        assert_eq!(r.line, 4);
        assert_eq!(
            r.successor.as_ref().unwrap().element_type,
            ElementType::Junction
        );
        assert!((r.types[0].max_speed.unwrap() - 10.0).abs() < 1e-12);
        let ls = &r.lane_sections[0];
        assert_eq!(ls.lane(-1).unwrap().successors, vec![-2]);
        assert_eq!(ls.lane(1).unwrap().kind, LaneType::Sidewalk);
        assert_eq!(
            ls.center.as_ref().unwrap().road_marks[0].color,
            RoadMarkColor::Yellow
        );
    }

    #[test]
    fn rejects_unknown_geometry_with_line_and_element() {
        let bad = MINI.replace("<line/>", "<hyperbola k=\"1\"/>");
        let err = parse_str(&bad, "bad.xodr").unwrap_err();
        match &err {
            MapError::Unsupported {
                file,
                line,
                element,
                ..
            } => {
                assert_eq!(file, "bad.xodr");
                assert_eq!(*line, 8);
                assert_eq!(element, "hyperbola");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("bad.xodr:8"));
    }

    #[test]
    fn rejects_bad_numbers_and_missing_attributes() {
        let bad = MINI.replace("a=\"3.5\"", "a=\"wide\"");
        let err = parse_str(&bad, "w.xodr").unwrap_err().to_string();
        assert!(
            err.contains("w.xodr:14") && err.contains("<width>"),
            "{err}"
        );
        let bad = MINI.replace("length=\"10\" junction", "junction");
        let err = parse_str(&bad, "l.xodr").unwrap_err().to_string();
        assert!(err.contains("l.xodr:4") && err.contains("length"), "{err}");
        let bad = MINI.replace("length=\"10\" junction", "length=\"1e9\" junction");
        let err = parse_str(&bad, "h.xodr").unwrap_err().to_string();
        assert!(err.contains("h.xodr:4") && err.contains("outside"), "{err}");
        let bad = MINI.replace("<lane id=\"-1\"", "<lane id=\"2\"");
        let err = parse_str(&bad, "s.xodr").unwrap_err().to_string();
        assert!(err.contains("does not belong"), "{err}");
    }

    #[test]
    fn rejects_absurd_lane_widths_and_offsets() {
        // A cubic width that is harmless at the start of the section but
        // reaches kilometres by its end.
        let bad = MINI.replace("a=\"3.5\"", "a=\"3.5\" d=\"5\"");
        let err = parse_str(&bad, "w.xodr").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("w.xodr:14: <width>"), "{text}");
        assert!(
            text.contains("lane -1 of road 7") && text.contains("s = 10"),
            "{text}"
        );
        // The same width limited to where it applies is fine.
        let ok = MINI.replace("a=\"3.5\"", "a=\"3.5\" d=\"0.01\"");
        assert!(parse_str(&ok, "ok.xodr").is_ok());
        let bad = MINI.replace("<lanes>", "<lanes><laneOffset s=\"0\" a=\"0\" c=\"50\"/>");
        let err = parse_str(&bad, "o.xodr").unwrap_err().to_string();
        assert!(err.starts_with("o.xodr:10: <laneOffset>"), "{err}");
    }

    #[test]
    fn reports_xml_errors_with_position() {
        let err = parse_str("<OpenDRIVE><road></OpenDRIVE>", "x.xodr").unwrap_err();
        assert!(matches!(err, MapError::Xml { line: 1, .. }), "{err:?}");
        let err = parse_str("<Other/>", "x.xodr").unwrap_err();
        assert!(err.to_string().contains("root element"));
    }

    #[test]
    fn accepts_a_byte_order_mark() {
        let with_bom = format!("\u{feff}{MINI}");
        assert!(parse_str(&with_bom, "bom.xodr").is_ok());
    }
}
