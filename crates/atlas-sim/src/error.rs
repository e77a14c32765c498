//! Error types of the simulator core.
//!
//! - [`MapError`]: loading an OpenDRIVE document (every variant names the
//!   file, and the line and element where that makes sense).
//! - [`MapWarning`]: something in a map read past rather than refused
//!   (unknown elements and attributes, dangling links, duplicate ids),
//!   collected in [`crate::Map::warnings`]; an error under
//!   [`crate::opendrive::LoadOptions::strict`].
//! - [`QueryError`]: a map query with arguments the map cannot answer
//!   (unknown road or lane, `s` out of range, no route).
//! - [`WorldError`]: a world operation with bad arguments (unknown actor,
//!   invalid spawn, invalid sensor).

use thiserror::Error;

/// Loading or validating an OpenDRIVE map failed.
#[derive(Debug, Error)]
pub enum MapError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: malformed XML: {message}")]
    Xml {
        file: String,
        line: u32,
        column: u32,
        message: String,
    },
    #[error("{file}:{line}: <{element}>: {message}")]
    Invalid {
        file: String,
        line: u32,
        element: String,
        message: String,
    },
    #[error("{file}:{line}: <{element}>: unsupported {what}")]
    Unsupported {
        file: String,
        line: u32,
        element: String,
        what: String,
    },
}

impl MapError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            Self::Io { file, .. }
            | Self::Xml { file, .. }
            | Self::Invalid { file, .. }
            | Self::Unsupported { file, .. } => file,
        }
    }

    /// The 1-based line, when the error points into the document.
    pub fn line(&self) -> Option<u32> {
        match self {
            Self::Io { .. } => None,
            Self::Xml { line, .. }
            | Self::Invalid { line, .. }
            | Self::Unsupported { line, .. } => Some(*line),
        }
    }
}

/// Something in a map that loading read past: an element or attribute the
/// reader does not know, a link to a road or junction that does not exist,
/// a duplicate id. Displayed as `file:line: <element>: message`, like
/// [`MapError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapWarning {
    pub file: String,
    /// 1-based line of the element the warning is about.
    pub line: u32,
    pub element: String,
    pub message: String,
}

impl std::fmt::Display for MapWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: <{}>: {}",
            self.file, self.line, self.element, self.message
        )
    }
}

impl From<MapWarning> for MapError {
    /// The error a warning becomes in strict loading.
    fn from(w: MapWarning) -> Self {
        MapError::Invalid {
            file: w.file,
            line: w.line,
            element: w.element,
            message: w.message,
        }
    }
}

/// A map query the map cannot answer.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum QueryError {
    #[error("{field}: value is not finite")]
    NotFinite { field: &'static str },
    #[error("road_id: no road \"{road}\" in map \"{map}\"")]
    UnknownRoad { map: String, road: String },
    #[error("lane_id: road \"{road}\" has no lane {lane} at s = {s:.3}")]
    UnknownLane { road: String, lane: i32, s: f64 },
    #[error("s: {s:.3} is outside road \"{road}\" (length {length:.3})")]
    SOutOfRange { road: String, s: f64, length: f64 },
    /// Malformed route request (too few waypoints, bad spacing, a waypoint
    /// far from any drivable lane).
    #[error("waypoints: {0}")]
    Route(String),
    /// The waypoints are fine but the lane graph does not connect them.
    #[error("waypoints: {0}")]
    NoRoute(String),
}

/// A world operation with arguments the world cannot accept.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum WorldError {
    #[error("no actor {0} in this world")]
    UnknownActor(u64),
    #[error("no sensor {0} in this world")]
    UnknownSensor(u64),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl WorldError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}
