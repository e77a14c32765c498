//! The one error type of the crate and its single mapping to gRPC status
//! codes (§5.9 of the egodriver contract, carla-driver-interface column).

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

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        use tonic::Code;
        let code = match &e {
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
        };
        let status = tonic::Status::new(code, e.to_string());
        match e {
            Error::Overloaded { retry_after_ms, .. } => atlas_rt::retry::with_retry_after(
                atlas_proto::reason::with_reason(status, atlas_proto::reason::Reason::Overloaded),
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
    }
}
