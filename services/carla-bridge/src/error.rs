//! The bridge's one error type and its single mapping to gRPC status codes.

use atlas_proto::reason::{self, Reason};
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
    #[error("{what}: limit of {limit} reached")]
    Exhausted { what: &'static str, limit: usize },
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
            Self::Encode(_)
            | Self::Config { .. }
            | Self::MapsDir { .. }
            | Self::Serve(_)
            | Self::Internal(_) => Code::Internal,
        }
    }
}

impl BridgeError {
    /// The machine-readable reason a client decides on, where there is one.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Self::UnknownWorld(_) => Some(Reason::WorldLost),
            Self::Exhausted { .. } => Some(Reason::Overloaded),
            Self::Invalid { .. } | Self::UnknownMap { .. } | Self::Map(_) => {
                Some(Reason::InvalidInput)
            }
            _ => None,
        }
    }
}

impl From<BridgeError> for Status {
    fn from(e: BridgeError) -> Self {
        let status = Status::new(e.code(), e.to_string());
        match e.reason() {
            Some(r) => reason::with_reason(status, r),
            None => status,
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
                limit: 2
            })
            .code(),
            Code::ResourceExhausted
        );
    }
}
