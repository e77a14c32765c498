//! The `.xodr` reader: roxmltree in, [`OpenDrive`] out, with errors that
//! name the file, line and element.

use std::cell::RefCell;
use std::path::Path;

use roxmltree::{Document, Node, ParsingOptions};

use super::*;
use crate::error::{MapError, MapWarning};

/// Reads and parses an OpenDRIVE file.
pub fn parse_file(path: &Path) -> Result<OpenDrive, MapError> {
    parse_file_with(path, &LoadOptions::default())
}

/// Reads and parses an OpenDRIVE file with `options`.
pub fn parse_file_with(path: &Path, options: &LoadOptions) -> Result<OpenDrive, MapError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| MapError::Io {
        file: file.clone(),
        source,
    })?;
    parse_str_with(&text, &file, options)
}

/// Parses an OpenDRIVE document; `file` names it in errors.
pub fn parse_str(xml: &str, file: &str) -> Result<OpenDrive, MapError> {
    parse_str_with(xml, file, &LoadOptions::default())
}

/// Parses an OpenDRIVE document with `options`; `file` names it in errors
/// and warnings.
pub fn parse_str_with(xml: &str, file: &str, options: &LoadOptions) -> Result<OpenDrive, MapError> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let opts = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, opts).map_err(|e| xml_error(xml, file, &e))?;
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
        warnings: RefCell::new(Vec::new()),
    };
    let mut odr = cx.document()?;
    odr.warnings = cx.warnings.into_inner();
    if options.strict
        && let Some(first) = odr.warnings.first()
    {
        return Err(first.clone().into());
    }
    Ok(odr)
}

/// A malformed-XML error at its true position: (line, column, message).
/// roxmltree places errors it only finds at the end of the input (a
/// truncated file: the stream ends inside a tag, or the root is never
/// closed) at 1:1; those are reported where the document ends. Shared by
/// every reader of XML in the workspace (OpenDRIVE here, OpenSCENARIO).
pub fn xml_error_at(xml: &str, e: &roxmltree::Error) -> (u32, u32, String) {
    use roxmltree::Error as E;
    match e {
        E::UnexpectedEndOfStream | E::UnclosedRootNode => {
            let trimmed = xml.trim_end();
            let line = trimmed.matches('\n').count() as u32 + 1;
            let last = trimmed.rsplit('\n').next().unwrap_or("");
            let column = last.chars().count() as u32 + 1;
            (
                line,
                column,
                format!("the document ends early (truncated?): {e}"),
            )
        }
        _ => {
            let pos = e.pos();
            (pos.row, pos.col, e.to_string())
        }
    }
}

/// [`xml_error_at`] as a map error of `file`.
fn xml_error(xml: &str, file: &str, e: &roxmltree::Error) -> MapError {
    let (line, column, message) = xml_error_at(xml, e);
    MapError::Xml {
        file: file.to_owned(),
        line,
        column,
        message,
    }
}

/// The elements and attributes of OpenDRIVE 1.4–1.8 the reader checks
/// documents against, for the elements it reads: `(element, attributes,
/// child elements)`. Children of other elements (user data, objects,
/// surfaces, road-mark details, …) are not checked.
mod schema {
    pub const USER: [&str; 3] = ["userData", "include", "dataQuality"];
    pub const OPEN_DRIVE: &[&str] = &[
        "header",
        "road",
        "controller",
        "junction",
        "junctionGroup",
        "station",
    ];
    pub const HEADER_ATTRS: &[&str] = &[
        "revMajor", "revMinor", "name", "version", "date", "north", "south", "east", "west",
        "vendor",
    ];
    pub const HEADER: &[&str] = &["geoReference", "offset", "license", "defaultRegulations"];
    pub const ROAD_ATTRS: &[&str] = &["id", "name", "length", "junction", "rule"];
    pub const ROAD: &[&str] = &[
        "link",
        "type",
        "planView",
        "elevationProfile",
        "lateralProfile",
        "lanes",
        "objects",
        "signals",
        "surface",
        "railroad",
    ];
    pub const ROAD_LINK: &[&str] = &["predecessor", "successor", "neighbor"];
    pub const ROAD_LINK_ATTRS: &[&str] = &[
        "elementType",
        "elementId",
        "contactPoint",
        "elementS",
        "elementDir",
    ];
    pub const ROAD_TYPE_ATTRS: &[&str] = &["s", "type", "country"];
    pub const ROAD_TYPE: &[&str] = &["speed"];
    pub const SPEED_ATTRS: &[&str] = &["max", "unit"];
    pub const PLAN_VIEW: &[&str] = &["geometry"];
    pub const GEOMETRY_ATTRS: &[&str] = &["s", "x", "y", "hdg", "length"];
    pub const PARAM_POLY3_ATTRS: &[&str] =
        &["aU", "bU", "cU", "dU", "aV", "bV", "cV", "dV", "pRange"];
    pub const CUBIC_ATTRS: &[&str] = &["s", "a", "b", "c", "d"];
    pub const WIDTH_ATTRS: &[&str] = &["sOffset", "a", "b", "c", "d"];
    pub const ELEVATION_PROFILE: &[&str] = &["elevation"];
    pub const LANES: &[&str] = &["laneOffset", "laneSection"];
    pub const LANE_SECTION_ATTRS: &[&str] = &["s", "singleSide"];
    pub const LANE_SECTION: &[&str] = &["left", "center", "right"];
    pub const SIDE: &[&str] = &["lane"];
    pub const LANE_ATTRS: &[&str] = &[
        "id",
        "type",
        "level",
        "direction",
        "advisory",
        "dynamicLaneDirection",
        "dynamicLaneType",
        "roadWorks",
    ];
    pub const LANE: &[&str] = &[
        "link",
        "width",
        "border",
        "roadMark",
        "material",
        "visibility",
        "speed",
        "access",
        "height",
        "rule",
    ];
    pub const LANE_LINK: &[&str] = &["predecessor", "successor"];
    pub const ID_ATTRS: &[&str] = &["id"];
    pub const ROAD_MARK_ATTRS: &[&str] = &[
        "sOffset",
        "type",
        "weight",
        "color",
        "material",
        "width",
        "laneChange",
        "height",
    ];
    pub const SIGNALS: &[&str] = &["signal", "signalReference"];
    pub const SIGNAL_ATTRS: &[&str] = &[
        "s",
        "t",
        "id",
        "name",
        "dynamic",
        "orientation",
        "zOffset",
        "country",
        "countryRevision",
        "type",
        "subtype",
        "value",
        "unit",
        "height",
        "width",
        "text",
        "hOffset",
        "pitch",
        "roll",
    ];
    pub const SIGNAL: &[&str] = &[
        "validity",
        "dependency",
        "reference",
        "positionRoad",
        "positionInertial",
        "semantics",
        "staticBoard",
        "vmsBoard",
        "displayArea",
    ];
    pub const SIGNAL_REFERENCE_ATTRS: &[&str] = &["s", "t", "id", "orientation"];
    pub const SIGNAL_REFERENCE: &[&str] = &["validity"];
    pub const VALIDITY_ATTRS: &[&str] = &["fromLane", "toLane"];
    pub const JUNCTION_ATTRS: &[&str] = &[
        "id",
        "name",
        "type",
        "mainRoad",
        "sStart",
        "sEnd",
        "orientation",
    ];
    pub const JUNCTION: &[&str] = &[
        "connection",
        "crossPath",
        "priority",
        "controller",
        "surface",
        "boundary",
        "elevationGrid",
        "roadSection",
        "planView",
        "objects",
    ];
    pub const CONNECTION_ATTRS: &[&str] = &[
        "id",
        "incomingRoad",
        "connectingRoad",
        "contactPoint",
        "linkedRoad",
        "type",
    ];
    pub const CONNECTION: &[&str] = &["laneLink", "predecessor", "successor"];
    pub const LANE_LINK_ATTRS: &[&str] = &["from", "to", "overlapZone"];
    pub const JUNCTION_CONTROLLER_ATTRS: &[&str] = &["id", "type", "sequence"];
    pub const CONTROLLER_ATTRS: &[&str] = &["id", "name", "sequence"];
    pub const CONTROLLER: &[&str] = &["control"];
    pub const CONTROL_ATTRS: &[&str] = &["signalId", "type"];
    pub const NONE: &[&str] = &[];
}

struct Cx<'a, 'input> {
    file: &'a str,
    line_starts: Vec<usize>,
    doc: &'a Document<'input>,
    warnings: RefCell<Vec<MapWarning>>,
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

    fn warn(&self, node: Node, message: impl Into<String>) {
        self.warnings.borrow_mut().push(MapWarning {
            file: self.file.to_owned(),
            line: self.line(node),
            element: node.tag_name().name().to_owned(),
            message: message.into(),
        });
    }

    /// Warns about attributes of `node` not in `attrs` (namespaced ones,
    /// like `xsi:schemaLocation`, are not OpenDRIVE's and pass) and child
    /// elements not in `children` or the user-data elements allowed
    /// everywhere.
    fn check(&self, node: Node, attrs: &[&str], children: &[&str]) {
        self.check_attrs(node, attrs);
        for c in elements(node) {
            let name = c.tag_name().name();
            // Elements of another vocabulary (a vendor's namespace) are not
            // OpenDRIVE's to judge.
            if c.tag_name().namespace() != node.tag_name().namespace() {
                continue;
            }
            if !children.contains(&name) && !schema::USER.contains(&name) {
                self.warn(
                    c,
                    format!(
                        "unknown element <{name}> in <{}> (ignored)",
                        node.tag_name().name()
                    ),
                );
            }
        }
    }

    fn check_attrs(&self, node: Node, attrs: &[&str]) {
        for a in node.attributes() {
            if a.namespace().is_some() {
                continue;
            }
            if !attrs.contains(&a.name()) {
                self.warn(
                    node,
                    format!(
                        "unknown attribute `{}` of <{}> (ignored)",
                        a.name(),
                        node.tag_name().name()
                    ),
                );
            }
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
            self.check(n, schema::CUBIC_ATTRS, schema::NONE);
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
        self.check(root, schema::NONE, schema::OPEN_DRIVE);
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
        self.check(n, schema::HEADER_ATTRS, schema::HEADER);
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
        self.check(n, schema::ROAD_ATTRS, schema::ROAD);
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
                    self.check(c, schema::NONE, schema::ROAD_LINK);
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
                    self.check(c, schema::NONE, schema::ELEVATION_PROFILE);
                    road.elevation = self.sorted_cubics(c, "elevation", "s")?;
                }
                "lanes" => lanes = Some(c),
                "signals" => {
                    self.check(c, schema::NONE, schema::SIGNALS);
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
        self.check(lanes, schema::NONE, schema::LANES);
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
        self.check(n, schema::ROAD_LINK_ATTRS, schema::NONE);
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
        self.check(n, schema::ROAD_TYPE_ATTRS, schema::ROAD_TYPE);
        let max_speed = match first(n, "speed") {
            None => None,
            Some(sp) => {
                self.check(sp, schema::SPEED_ATTRS, schema::NONE);
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
        self.check(pv, schema::NONE, schema::PLAN_VIEW);
        let mut out: Vec<Geometry> = Vec::new();
        for g in named(pv, "geometry") {
            self.check_attrs(g, schema::GEOMETRY_ATTRS);
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
            let shape_attrs: &[&str] = match shape.tag_name().name() {
                "arc" => &["curvature"],
                "spiral" => &["curvStart", "curvEnd"],
                "poly3" => &["a", "b", "c", "d"],
                "paramPoly3" => schema::PARAM_POLY3_ATTRS,
                _ => &[],
            };
            self.check(shape, shape_attrs, schema::NONE);
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
        self.check(n, schema::LANE_SECTION_ATTRS, schema::LANE_SECTION);
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
            self.check(side, schema::NONE, schema::SIDE);
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
        self.check(n, schema::LANE_ATTRS, schema::LANE);
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
                    self.check(c, schema::NONE, schema::LANE_LINK);
                    for p in named(c, "predecessor") {
                        self.check_attrs(p, schema::ID_ATTRS);
                        lane.predecessors.push(self.i32(p, "id")?);
                    }
                    for p in named(c, "successor") {
                        self.check_attrs(p, schema::ID_ATTRS);
                        lane.successors.push(self.i32(p, "id")?);
                    }
                }
                "width" => {
                    self.check(c, schema::WIDTH_ATTRS, schema::NONE);
                    lane.widths.push(self.cubic(c, "sOffset")?);
                }
                "border" => has_border = Some(c),
                "roadMark" => {
                    self.check_attrs(c, schema::ROAD_MARK_ATTRS);
                    lane.road_marks.push(self.road_mark(c)?);
                }
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
            .map(|v| {
                self.check(v, schema::VALIDITY_ATTRS, schema::NONE);
                Ok((self.i32(v, "fromLane")?, self.i32(v, "toLane")?))
            })
            .collect()
    }

    fn signal(&self, n: Node) -> R<Signal> {
        self.check(n, schema::SIGNAL_ATTRS, schema::SIGNAL);
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
        self.check(n, schema::SIGNAL_REFERENCE_ATTRS, schema::SIGNAL_REFERENCE);
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
        self.check(n, schema::JUNCTION_ATTRS, schema::JUNCTION);
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
                    self.check(c, schema::CONNECTION_ATTRS, schema::CONNECTION);
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
                        .map(|l| {
                            self.check(l, schema::LANE_LINK_ATTRS, schema::NONE);
                            Ok((self.i32(l, "from")?, self.i32(l, "to")?))
                        })
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
                "controller" => {
                    self.check_attrs(c, schema::JUNCTION_CONTROLLER_ATTRS);
                    j.controllers.push(self.str(c, "id")?.to_owned());
                }
                _ => {}
            }
        }
        Ok(j)
    }

    fn controller(&self, n: Node) -> R<Controller> {
        self.check(n, schema::CONTROLLER_ATTRS, schema::CONTROLLER);
        Ok(Controller {
            id: self.str(n, "id")?.to_owned(),
            name: n.attribute("name").unwrap_or_default().to_owned(),
            signals: named(n, "control")
                .map(|c| {
                    self.check(c, schema::CONTROL_ATTRS, schema::NONE);
                    Ok(self.str(c, "signalId")?.to_owned())
                })
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
    fn reports_a_truncated_document_where_it_ends() {
        // Cut inside a tag (line 14) and between elements (line 12).
        let lines: Vec<&str> = MINI.lines().collect();
        let mid_tag = format!("{}\n{}", lines[..13].join("\n"), &lines[13][..30]);
        let err = parse_str(&mid_tag, "maps/cut.xodr").unwrap_err();
        assert!(
            matches!(&err, MapError::Xml { file, line: 14, column: 31, .. } if file == "maps/cut.xodr"),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("maps/cut.xodr:14:31: malformed XML: the document ends early"),
            "{text}"
        );
        let between = format!("{}\n\n", lines[..12].join("\n"));
        let err = parse_str(&between, "maps/cut.xodr").unwrap_err();
        assert!(matches!(err, MapError::Xml { line: 12, .. }), "{err:?}");
        assert!(err.to_string().contains("never closed"), "{err}");
    }

    #[test]
    fn accepts_a_byte_order_mark() {
        let with_bom = format!("\u{feff}{MINI}");
        assert!(parse_str(&with_bom, "bom.xodr").is_ok());
    }
}
