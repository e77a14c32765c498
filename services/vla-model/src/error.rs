//! The one error type of the crate and its single mapping to gRPC status
//! codes (§5.9 of the egodriver contract, carla-driver-interface column).

use atlas_proto::reason::{self, Reason};

use crate::policy::PolicyError;

/// Everything that can go wrong serving the egodriver contract.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown session {0:?}")]
    SessionNotFound(String),
    #[error("session {0:?} already exists")]
    SessionExists(String),
    #[error("too many open sessions (limit {limit})")]
    TooManySessions { limit: usize },
    /// The in-flight `drive` limit is reached; retry after the hint.
    #[error("too many drive requests in flight (limit {limit}); retry in {retry_after_ms} ms")]
    Overloaded { limit: usize, retry_after_ms: u64 },
    #[error("unsupported contract revision {0:?} (this server speaks 1 and 2)")]
    UnsupportedRevision(String),
    /// A request field is malformed; the message names the field.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    /// The policy answered something the contract does not allow.
    #[error("policy produced an invalid plan: {0}")]
    BadPlan(String),
    #[error("warm-up failed: {0}")]
    WarmUp(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A start-up check failed; the message says what to do.
    #[error("preflight failed: {0}")]
    Preflight(String),
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Serve(#[from] atlas_rt::Error),
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}

impl Error {
    /// The gRPC code the error maps to.
    pub fn code(&self) -> tonic::Code {
        use tonic::Code;
        match self {
            Error::SessionNotFound(_) => Code::NotFound,
            Error::SessionExists(_) => Code::AlreadyExists,
            Error::TooManySessions { .. } | Error::Overloaded { .. } => Code::ResourceExhausted,
            Error::UnsupportedRevision(_) => Code::FailedPrecondition,
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::Policy(PolicyError::Unsupported(_) | PolicyError::NotEnoughContext(_)) => {
                Code::FailedPrecondition
            }
            Error::Policy(PolicyError::Failed(_))
            | Error::BadPlan(_)
            | Error::WarmUp(_)
            | Error::Task(_)
            | Error::Config(_)
            | Error::Preflight(_)
            | Error::Serve(_) => Code::Internal,
        }
    }

    /// The machine-readable reason a client decides on, where there is one.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Error::Overloaded { .. } => Some(Reason::Overloaded),
            Error::InvalidArgument(_) => Some(Reason::InvalidInput),
            _ => None,
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        let mut status = tonic::Status::new(e.code(), e.to_string());
        if let Some(r) = e.reason() {
            status = reason::with_reason(status, r);
        }
        match e {
            Error::Overloaded { retry_after_ms, .. } => atlas_rt::retry::with_retry_after(
                status,
                std::time::Duration::from_millis(retry_after_ms),
            ),
            _ => status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn codes_follow_the_contract() {
        let cases = [
            (Error::SessionNotFound("a".into()), Code::NotFound),
            (Error::SessionExists("a".into()), Code::AlreadyExists),
            (Error::TooManySessions { limit: 1 }, Code::ResourceExhausted),
            (
                Error::UnsupportedRevision("3".into()),
                Code::FailedPrecondition,
            ),
            (Error::invalid("x"), Code::InvalidArgument),
            (
                Error::Policy(PolicyError::Unsupported("cam".into())),
                Code::FailedPrecondition,
            ),
            (
                Error::Policy(PolicyError::Failed("boom".into())),
                Code::Internal,
            ),
            (Error::BadPlan("nan".into()), Code::Internal),
        ];
        for (e, code) in cases {
            assert_eq!(tonic::Status::from(e).code(), code);
        }
    }

    #[test]
    fn overload_carries_the_retry_hint_in_metadata() {
        let s = tonic::Status::from(Error::Overloaded {
            limit: 4,
            retry_after_ms: 37,
        });
        assert_eq!(s.code(), Code::ResourceExhausted);
        for key in [
            crate::batch::RETRY_AFTER_HEADER,
            crate::batch::GRPC_PUSHBACK_HEADER,
        ] {
            assert_eq!(s.metadata().get(key).unwrap().to_str().unwrap(), "37");
        }
        assert!(s.message().contains("retry in 37 ms"), "{}", s.message());
        assert_eq!(reason::reason(&s), Some(Reason::Overloaded));
    }

    #[test]
    fn malformed_requests_are_invalid_input_and_others_carry_no_reason() {
        let s = tonic::Status::from(Error::invalid("route: 1 waypoint, need 2"));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(reason::reason(&s), Some(Reason::InvalidInput));
        assert_eq!(s.message(), "route: 1 waypoint, need 2");
        // The message names the field; there is no file to point at.
        assert_eq!(
            reason::input_location(&s),
            Some(reason::InputLocation::default())
        );
        for e in [
            Error::SessionNotFound("a".into()),
            Error::TooManySessions { limit: 1 },
            Error::UnsupportedRevision("3".into()),
            Error::BadPlan("nan".into()),
        ] {
            assert_eq!(reason::reason(&tonic::Status::from(e)), None);
        }
    }
}
