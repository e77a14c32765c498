//! The bridge's one error type and its single mapping to gRPC status codes
//! and machine-readable reasons.

use std::time::Duration;

use atlas_proto::reason::{self, InputLocation, Reason};
use atlas_sim::render::encode::EncodeError;
use atlas_sim::{MapError, QueryError, WorldError};
use thiserror::Error;
use tonic::{Code, Status};

#[derive(Debug, Error)]
pub enum BridgeError {
    /// A request field the bridge cannot accept.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("world_id: no world \"{0}\"")]
    UnknownWorld(String),
    #[error("snapshot_id: no snapshot \"{0}\" of this world")]
    UnknownSnapshot(String),
    #[error("map_name: no map named \"{name}\" (known: {known})")]
    UnknownMap { name: String, known: String },
    /// Parsing a map failed; the message names file, line and element.
    #[error("map: {0}")]
    Map(#[from] MapError),
    #[error(transparent)]
    World(#[from] WorldError),
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A limit is reached; `retry_after` says when to come back, where the
    /// refusing side can tell (a backend whose one world is in use).
    #[error("{what}: limit of {limit} reached")]
    Exhausted {
        what: &'static str,
        limit: usize,
        retry_after: Option<Duration>,
    },
    /// The backend cannot do this at all (snapshots on a simulator without
    /// them, say).
    #[error("{0} is not supported by this simulator backend")]
    Unsupported(&'static str),
    #[error("encoding a sensor frame: {0}")]
    Encode(#[from] EncodeError),
    #[error("configuration: {field}: {message}")]
    Config { field: String, message: String },
    #[error("maps directory {path}: {message}")]
    MapsDir { path: String, message: String },
    #[error(transparent)]
    Serve(#[from] atlas_rt::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl BridgeError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The gRPC code the error maps to.
    pub fn code(&self) -> Code {
        match self {
            Self::Invalid { .. } | Self::UnknownMap { .. } | Self::Map(_) => Code::InvalidArgument,
            Self::UnknownWorld(_) | Self::UnknownSnapshot(_) => Code::NotFound,
            Self::World(WorldError::UnknownActor(_) | WorldError::UnknownSensor(_)) => {
                Code::NotFound
            }
            Self::World(WorldError::Query(QueryError::NoRoute(_)))
            | Self::Query(QueryError::NoRoute(_)) => Code::FailedPrecondition,
            Self::World(_) | Self::Query(_) => Code::InvalidArgument,
            Self::Exhausted { .. } => Code::ResourceExhausted,
            Self::Unsupported(_) => Code::Unimplemented,
            Self::Encode(_)
            | Self::Config { .. }
            | Self::MapsDir { .. }
            | Self::Serve(_)
            | Self::Internal(_) => Code::Internal,
        }
    }

    /// The machine-readable reason a client decides on, where there is one:
    /// every INVALID_ARGUMENT is `INVALID_INPUT`.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Self::UnknownWorld(_) => Some(Reason::WorldLost),
            Self::Exhausted { .. } => Some(Reason::Overloaded),
            _ if self.code() == Code::InvalidArgument => Some(Reason::InvalidInput),
            _ => None,
        }
    }

    /// Where the bad input is, for `INVALID_INPUT`: the file, line and XML
    /// element of a map that failed to parse, or the request field (as the
    /// element) of a bad request.
    pub fn location(&self) -> InputLocation {
        let field = |f: &str| InputLocation {
            element: Some(f.to_owned()),
            ..InputLocation::default()
        };
        match self {
            Self::Invalid { field: f, .. } => field(f),
            Self::UnknownMap { .. } => field("map_name"),
            Self::Map(e) => map_location(e),
            Self::World(WorldError::Invalid { field: f, .. }) => field(f),
            Self::World(WorldError::Query(q)) | Self::Query(q) => field(query_field(q)),
            _ => InputLocation::default(),
        }
    }
}

fn map_location(e: &MapError) -> InputLocation {
    let element = match e {
        MapError::Invalid { element, .. } | MapError::Unsupported { element, .. } => {
            Some(element.clone())
        }
        MapError::Io { .. } | MapError::Xml { .. } => None,
    };
    InputLocation {
        file: Some(e.file().to_owned()),
        line: e.line(),
        element,
    }
}

/// The request field a map query's error is about (its message's prefix).
fn query_field(q: &QueryError) -> &'static str {
    match q {
        QueryError::NotFinite { field } => field,
        QueryError::UnknownRoad { .. } => "road_id",
        QueryError::UnknownLane { .. } => "lane_id",
        QueryError::SOutOfRange { .. } => "s",
        QueryError::Route(_) | QueryError::NoRoute(_) => "waypoints",
    }
}

impl From<BridgeError> for Status {
    fn from(e: BridgeError) -> Self {
        let message = e.to_string();
        let status = match e.reason() {
            Some(Reason::InvalidInput) => reason::invalid_input(message, e.location()),
            Some(r) => reason::with_reason(Status::new(e.code(), message), r),
            None => Status::new(e.code(), message),
        };
        match e {
            BridgeError::Exhausted {
                retry_after: Some(after),
                ..
            } => atlas_rt::retry::with_retry_after(status, after),
            _ => status,
        }
    }
}

impl From<tokio::task::JoinError> for BridgeError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(format!("worker task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let lost = Status::from(BridgeError::UnknownWorld("w".into()));
        assert_eq!(lost.code(), Code::NotFound);
        assert_eq!(reason::reason(&lost), Some(Reason::WorldLost));
        // Other NOT_FOUNDs are the request's own error, not a lost world.
        let actor = Status::from(BridgeError::World(WorldError::UnknownActor(3)));
        assert_eq!(reason::reason(&actor), None);
        assert_eq!(
            Status::from(BridgeError::World(WorldError::UnknownActor(3))).code(),
            Code::NotFound
        );
        let s = Status::from(BridgeError::World(WorldError::Invalid {
            field: "speed",
            message: "bad".into(),
        }));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "speed: bad");
        assert_eq!(
            Status::from(BridgeError::Query(QueryError::NoRoute("x".into()))).code(),
            Code::FailedPrecondition
        );
        assert_eq!(
            Status::from(BridgeError::Exhausted {
                what: "worlds",
                limit: 2,
                retry_after: None,
            })
            .code(),
            Code::ResourceExhausted
        );
        assert_eq!(
            Status::from(BridgeError::Unsupported("snapshots")).code(),
            Code::Unimplemented
        );
    }

    #[test]
    fn exhaustion_is_overloaded_with_the_hint_where_there_is_one() {
        let s = Status::from(BridgeError::Exhausted {
            what: "worlds",
            limit: 2,
            retry_after: None,
        });
        assert_eq!(reason::reason(&s), Some(Reason::Overloaded));
        assert_eq!(atlas_rt::retry::retry_after(&s), None);
        let s = Status::from(BridgeError::Exhausted {
            what: "worlds of this server",
            limit: 1,
            retry_after: Some(Duration::from_millis(1500)),
        });
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(reason::reason(&s), Some(Reason::Overloaded));
        assert_eq!(
            atlas_rt::retry::retry_after(&s),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(s.metadata().get("retry-after-ms").unwrap(), "1500");
    }

    #[test]
    fn a_broken_map_names_file_line_and_element() {
        let e = BridgeError::Map(MapError::Unsupported {
            file: "maps/Broken.xodr".into(),
            line: 4,
            element: "clothoid".into(),
            what: "geometry".into(),
        });
        let s = Status::from(e);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(
            s.message(),
            "map: maps/Broken.xodr:4: <clothoid>: unsupported geometry"
        );
        assert_eq!(reason::reason(&s), Some(Reason::InvalidInput));
        assert_eq!(
            reason::input_location(&s),
            Some(InputLocation {
                file: Some("maps/Broken.xodr".into()),
                line: Some(4),
                element: Some("clothoid".into()),
            })
        );
        // Malformed XML knows its line but no element; an unreadable file
        // only itself.
        let s = Status::from(BridgeError::Map(MapError::Xml {
            file: "opendrive_xml".into(),
            line: 2,
            column: 7,
            message: "unexpected end".into(),
        }));
        let at = reason::input_location(&s).unwrap();
        assert_eq!(
            (at.file.as_deref(), at.line, at.element),
            (Some("opendrive_xml"), Some(2), None)
        );
        let s = Status::from(BridgeError::Map(MapError::Io {
            file: "maps/Gone.xodr".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }));
        let at = reason::input_location(&s).unwrap();
        assert_eq!(
            (at.file.as_deref(), at.line),
            (Some("maps/Gone.xodr"), None)
        );
    }

    #[test]
    fn bad_requests_are_invalid_input_naming_the_field() {
        let cases = [
            (
                BridgeError::invalid("pose.position.x", "NaN"),
                "pose.position.x",
            ),
            (
                BridgeError::UnknownMap {
                    name: "Atlantis".into(),
                    known: "Town01".into(),
                },
                "map_name",
            ),
            (
                BridgeError::World(WorldError::Invalid {
                    field: "fixed_delta_s",
                    message: "must be in (0, 1]".into(),
                }),
                "fixed_delta_s",
            ),
            (
                BridgeError::World(WorldError::Query(QueryError::UnknownLane {
                    road: "4".into(),
                    lane: -7,
                    s: 20.0,
                })),
                "lane_id",
            ),
            (
                BridgeError::Query(QueryError::Route("one waypoint".into())),
                "waypoints",
            ),
        ];
        for (e, field) in cases {
            let s = Status::from(e);
            assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
            assert_eq!(reason::reason(&s), Some(Reason::InvalidInput), "{s:?}");
            let at = reason::input_location(&s).unwrap();
            assert_eq!(at.element.as_deref(), Some(field), "{s:?}");
            assert_eq!((at.file, at.line), (None, None));
        }
        // A route the lane graph cannot connect is no bad input.
        let s = Status::from(BridgeError::Query(QueryError::NoRoute("x".into())));
        assert_eq!(reason::reason(&s), None);
    }
}
