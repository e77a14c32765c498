//! The ASAM OpenDRIVE document model and its reader.
//!
//! [`parse_str`] and [`parse_file`] turn an `.xodr` document into an
//! [`OpenDrive`]: plain data, close to the XML, with every record that
//! later code might need to point an error at carrying its source `line`.
//! Geometry evaluation, lane queries and the lane graph live in
//! [`crate::map`], which is built from this model.
//!
//! Supported: header, roads (links, types with speed limits, planView with
//! line / arc / spiral / poly3 / paramPoly3, elevation, laneOffset, lane
//! sections with lanes, widths, road marks and lane links), junctions with
//! connections and lane links, signals and signal references, and
//! controllers. Elements of the standard the simulator has no use for
//! (objects, surfaces, user data) are skipped; elements and attributes the
//! standard does not have (a misspelt `<lnae>`) are skipped with a
//! [`MapWarning`] in [`OpenDrive::warnings`] (errors under
//! [`LoadOptions::strict`]); a geometry kind or lane construct the
//! simulator cannot evaluate is rejected with an error naming the element
//! and line.

mod parse;

pub use parse::{parse_file, parse_file_with, parse_str, parse_str_with, xml_error_at};

use crate::error::MapWarning;
use crate::math::Cubic;

/// How a map is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Refuse the map at the first warning (unknown element or attribute,
    /// dangling link, duplicate id) instead of collecting it.
    pub strict: bool,
}

/// A whole OpenDRIVE document.
#[derive(Clone, Debug, Default)]
pub struct OpenDrive {
    pub header: Header,
    pub roads: Vec<Road>,
    pub junctions: Vec<Junction>,
    pub controllers: Vec<Controller>,
    /// What the reader read past (unknown elements and attributes), in
    /// document order.
    pub warnings: Vec<MapWarning>,
}

/// `<header>`.
#[derive(Clone, Debug, Default)]
pub struct Header {
    pub rev_major: u32,
    pub rev_minor: u32,
    pub name: String,
    pub vendor: String,
    pub north: Option<f64>,
    pub south: Option<f64>,
    pub east: Option<f64>,
    pub west: Option<f64>,
    pub geo_reference: Option<String>,
}

/// Traffic rule of a road: which side vehicles drive on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrafficRule {
    /// Right-hand traffic: lanes with negative ids run along +s.
    #[default]
    RightHand,
    /// Left-hand traffic: lanes with positive ids run along +s.
    LeftHand,
}

/// `<road>`.
#[derive(Clone, Debug)]
pub struct Road {
    pub id: String,
    pub name: String,
    pub length: f64,
    /// The junction this road belongs to (a connecting road), if any.
    pub junction: Option<String>,
    pub rule: TrafficRule,
    pub predecessor: Option<RoadLink>,
    pub successor: Option<RoadLink>,
    pub types: Vec<RoadType>,
    pub plan_view: Vec<Geometry>,
    pub elevation: Vec<Cubic>,
    pub lane_offsets: Vec<Cubic>,
    pub lane_sections: Vec<LaneSection>,
    pub signals: Vec<Signal>,
    pub signal_references: Vec<SignalReference>,
    pub line: u32,
}

/// `<type>` of a road, with its optional speed limit.
#[derive(Clone, Debug)]
pub struct RoadType {
    pub s: f64,
    pub kind: String,
    /// Speed limit in m/s, when given.
    pub max_speed: Option<f64>,
}

/// What a road link points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementType {
    Road,
    Junction,
}

/// Which end of a road a link attaches to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContactPoint {
    Start,
    End,
}

/// `<predecessor>` / `<successor>` of a road.
#[derive(Clone, Debug)]
pub struct RoadLink {
    pub element_type: ElementType,
    pub element_id: String,
    pub contact_point: Option<ContactPoint>,
    pub line: u32,
}

/// One `<geometry>` record of the plan view.
#[derive(Clone, Debug)]
pub struct Geometry {
    pub s: f64,
    pub x: f64,
    pub y: f64,
    pub hdg: f64,
    pub length: f64,
    pub kind: GeometryKind,
    pub line: u32,
}

/// The shape of a plan-view record.
#[derive(Clone, Debug, PartialEq)]
pub enum GeometryKind {
    Line,
    Arc {
        curvature: f64,
    },
    /// Clothoid: curvature changes linearly from start to end.
    Spiral {
        curv_start: f64,
        curv_end: f64,
    },
    /// Cubic `v(u)` in the local frame (deprecated in OpenDRIVE 1.6 but
    /// still found in the wild).
    Poly3 {
        a: f64,
        b: f64,
        c: f64,
        d: f64,
    },
    /// Parametric cubics `u(p)`, `v(p)` in the local frame.
    ParamPoly3 {
        u: [f64; 4],
        v: [f64; 4],
        range: ParamRange,
    },
}

/// `pRange` of a paramPoly3: the range of the polynomials' parameter `p`.
/// Either way `s` along the record is the curve's arc length, not `p`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamRange {
    /// p runs over [0, length].
    ArcLength,
    /// p runs over [0, 1]; the reading of a paramPoly3 without `pRange`
    /// (OpenDRIVE 1.4 had no attribute; 1.5 on default to it).
    Normalized,
}

/// `<laneSection>`.
#[derive(Clone, Debug)]
pub struct LaneSection {
    pub s: f64,
    pub single_side: bool,
    /// Left lanes, ordered from the centre outwards (1, 2, …).
    pub left: Vec<Lane>,
    /// Right lanes, ordered from the centre outwards (-1, -2, …).
    pub right: Vec<Lane>,
    /// The centre lane (id 0): only its road marks matter.
    pub center: Option<Lane>,
    pub line: u32,
}

impl LaneSection {
    /// The lane with `id` in this section.
    pub fn lane(&self, id: i32) -> Option<&Lane> {
        match id {
            0 => self.center.as_ref(),
            i if i > 0 => self.left.iter().find(|l| l.id == i),
            i => self.right.iter().find(|l| l.id == i),
        }
    }

    /// Every lane except the centre lane, left then right.
    pub fn side_lanes(&self) -> impl Iterator<Item = &Lane> {
        self.left.iter().chain(self.right.iter())
    }
}

/// `<lane>`.
#[derive(Clone, Debug)]
pub struct Lane {
    pub id: i32,
    pub kind: LaneType,
    pub level: bool,
    pub predecessors: Vec<i32>,
    pub successors: Vec<i32>,
    /// Width records; `s` is the offset from the start of the lane section.
    pub widths: Vec<Cubic>,
    pub road_marks: Vec<RoadMark>,
    pub line: u32,
}

/// The lane types of OpenDRIVE 1.4–1.8 the simulator distinguishes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LaneType {
    None,
    Driving,
    Stop,
    Shoulder,
    Biking,
    Sidewalk,
    Walking,
    Border,
    Restricted,
    Parking,
    Bidirectional,
    Median,
    Curb,
    Entry,
    Exit,
    OnRamp,
    OffRamp,
    ConnectingRamp,
    SlipLane,
    Bus,
    Taxi,
    Hov,
    Tram,
    Rail,
    RoadWorks,
    /// Any other type, kept verbatim.
    Other(String),
}

impl LaneType {
    pub fn parse(s: &str) -> Self {
        match s {
            "none" => Self::None,
            "driving" => Self::Driving,
            "stop" => Self::Stop,
            "shoulder" => Self::Shoulder,
            "biking" => Self::Biking,
            "sidewalk" => Self::Sidewalk,
            "walking" => Self::Walking,
            "border" => Self::Border,
            "restricted" => Self::Restricted,
            "parking" => Self::Parking,
            "bidirectional" => Self::Bidirectional,
            "median" => Self::Median,
            "curb" => Self::Curb,
            "entry" | "mwyEntry" => Self::Entry,
            "exit" | "mwyExit" => Self::Exit,
            "onRamp" => Self::OnRamp,
            "offRamp" => Self::OffRamp,
            "connectingRamp" => Self::ConnectingRamp,
            "slipLane" => Self::SlipLane,
            "bus" => Self::Bus,
            "taxi" => Self::Taxi,
            "HOV" => Self::Hov,
            "tram" => Self::Tram,
            "rail" => Self::Rail,
            "roadWorks" => Self::RoadWorks,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The OpenDRIVE spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::None => "none",
            Self::Driving => "driving",
            Self::Stop => "stop",
            Self::Shoulder => "shoulder",
            Self::Biking => "biking",
            Self::Sidewalk => "sidewalk",
            Self::Walking => "walking",
            Self::Border => "border",
            Self::Restricted => "restricted",
            Self::Parking => "parking",
            Self::Bidirectional => "bidirectional",
            Self::Median => "median",
            Self::Curb => "curb",
            Self::Entry => "entry",
            Self::Exit => "exit",
            Self::OnRamp => "onRamp",
            Self::OffRamp => "offRamp",
            Self::ConnectingRamp => "connectingRamp",
            Self::SlipLane => "slipLane",
            Self::Bus => "bus",
            Self::Taxi => "taxi",
            Self::Hov => "HOV",
            Self::Tram => "tram",
            Self::Rail => "rail",
            Self::RoadWorks => "roadWorks",
            Self::Other(s) => s,
        }
    }

    /// Lanes vehicles drive in (and NPC traffic and routes may use).
    pub fn is_drivable(&self) -> bool {
        matches!(
            self,
            Self::Driving
                | Self::Entry
                | Self::Exit
                | Self::OnRamp
                | Self::OffRamp
                | Self::ConnectingRamp
                | Self::SlipLane
                | Self::Bidirectional
                | Self::Bus
                | Self::Taxi
                | Self::Hov
        )
    }

    /// Lanes meant for people on foot.
    pub fn is_walkable(&self) -> bool {
        matches!(self, Self::Sidewalk | Self::Walking)
    }
}

/// `<roadMark>` of a lane: the marking on the lane's outer border.
#[derive(Clone, Debug, PartialEq)]
pub struct RoadMark {
    /// Offset from the start of the lane section.
    pub s_offset: f64,
    pub kind: RoadMarkType,
    pub color: RoadMarkColor,
    /// Line width, metres.
    pub width: f64,
}

/// `type` of a road mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoadMarkType {
    None,
    Solid,
    Broken,
    SolidSolid,
    SolidBroken,
    BrokenSolid,
    BrokenBroken,
    BottsDots,
    Grass,
    Curb,
    Edge,
    Custom,
}

/// `color` of a road mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoadMarkColor {
    White,
    Yellow,
    Other,
}

/// `<junction>`.
#[derive(Clone, Debug)]
pub struct Junction {
    pub id: String,
    pub name: String,
    pub connections: Vec<Connection>,
    /// Ids of the controllers that govern the junction's signals, in order.
    pub controllers: Vec<String>,
    pub line: u32,
}

/// `<connection>` of a junction.
#[derive(Clone, Debug)]
pub struct Connection {
    pub id: String,
    pub incoming_road: String,
    pub connecting_road: String,
    /// The end of the connecting road that touches the incoming road.
    pub contact_point: ContactPoint,
    /// `(from, to)`: lane of the incoming road → lane of the connecting road.
    pub lane_links: Vec<(i32, i32)>,
    pub line: u32,
}

/// `<signal>`: kept for the traffic-light and sign behaviour.
#[derive(Clone, Debug)]
pub struct Signal {
    pub id: String,
    pub name: String,
    pub s: f64,
    pub t: f64,
    pub z_offset: f64,
    pub h_offset: f64,
    /// `+` (valid along +s), `-` (along -s) or `none`.
    pub orientation: String,
    pub dynamic: bool,
    pub country: String,
    pub kind: String,
    pub subtype: String,
    pub value: Option<f64>,
    pub unit: String,
    pub text: String,
    pub height: Option<f64>,
    pub width: Option<f64>,
    /// `(fromLane, toLane)` ranges the signal applies to.
    pub validity: Vec<(i32, i32)>,
    pub line: u32,
}

/// `<signalReference>`: a signal defined on another road that also
/// governs this one.
#[derive(Clone, Debug)]
pub struct SignalReference {
    pub id: String,
    pub s: f64,
    pub t: f64,
    pub orientation: String,
    pub validity: Vec<(i32, i32)>,
    pub line: u32,
}

/// A top-level `<controller>`: a group of signals switched together.
#[derive(Clone, Debug)]
pub struct Controller {
    pub id: String,
    pub name: String,
    pub signals: Vec<String>,
    pub line: u32,
}
