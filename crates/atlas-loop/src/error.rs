//! The ports' error: an upstream call that failed, or a reply the loop
//! cannot use.

use tonic::Status;

/// Why a port could not do what the loop asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An upstream call failed; `context` names the call and what it was for.
    #[error("{context}: {status}")]
    Upstream { context: String, status: Status },
    /// The world or the policy answered something the loop cannot use (the
    /// ego vanished, a route of no length).
    #[error("{0}")]
    Invalid(String),
}

/// Wraps a failed call's status with what the call was for.
pub fn upstream(context: impl Into<String>) -> impl FnOnce(Status) -> Error {
    let context = context.into();
    move |status| Error::Upstream { context, status }
}
