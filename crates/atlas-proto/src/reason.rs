//! Machine-readable reasons on gRPC statuses, shared by every ATLAS server
//! and client.
//!
//! A status code says what kind of failure happened; it does not say, for
//! instance, that a `NOT_FOUND` from the bridge means "the run's world is
//! gone" (retry the run) rather than "no such actor" (a bug in the request).
//! Servers therefore attach a reason as a `google.rpc.ErrorInfo` status
//! detail (gRPC's richer error model, in `grpc-status-details-bin`) with
//! [`DOMAIN`] as its domain, and clients decide on [`reason`], never on the
//! words of the message. Any gRPC client that reads status details (grpcio's
//! `grpc_status.rpc_status.from_call`, tonic-types' `StatusExt`) sees the
//! same reasons.
//!
//! | reason | meaning | where it starts |
//! | --- | --- | --- |
//! | `WORLD_LOST` | the bridge has no world of that id (it restarted, or another replica took its address) | bridge |
//! | `UPSTREAM_GONE` | a server the caller depends on went away mid-run | scenario runtime |
//! | `OVERLOADED` | every slot is busy; a retry hint (`retry-after-ms`) says when to come back | runtime, policy, bridge |
//! | `INVALID_INPUT` | a request or file the server cannot accept; metadata `file`, `line`, `element` where known | every server |
//!
//! A status raised on the client side by the transport (connection refused
//! or broken under a call) carries the transport error as its
//! [`std::error::Error::source`]; a status sent by a server never does.
//! [`transport_failure`] tells the two apart without reading the message.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of ATLAS's reasons.
pub const DOMAIN: &str = "atlas.dev";

/// Why a call failed, as the client needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The bridge has no world of the requested id.
    WorldLost,
    /// An upstream server went away under a call.
    UpstreamGone,
    /// Every slot is busy; come back after the status's retry hint.
    Overloaded,
    /// The request or one of its files cannot be accepted.
    InvalidInput,
}

impl Reason {
    /// Every reason, for tests and documentation.
    pub const ALL: [Reason; 4] = [
        Reason::WorldLost,
        Reason::UpstreamGone,
        Reason::Overloaded,
        Reason::InvalidInput,
    ];

    /// The `ErrorInfo.reason` string (UPPER_SNAKE_CASE, as AIP-193 asks).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::WorldLost => "WORLD_LOST",
            Reason::UpstreamGone => "UPSTREAM_GONE",
            Reason::Overloaded => "OVERLOADED",
            Reason::InvalidInput => "INVALID_INPUT",
        }
    }

    /// The reason named `s`, if ATLAS defines one.
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in an input file a problem is, for `INVALID_INPUT`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputLocation {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub element: Option<String>,
}

impl InputLocation {
    fn into_metadata(self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        if let Some(f) = self.file {
            m.insert("file".to_owned(), f);
        }
        if let Some(l) = self.line {
            m.insert("line".to_owned(), l.to_string());
        }
        if let Some(e) = self.element {
            m.insert("element".to_owned(), e);
        }
        m
    }
}

/// A status of `code` and `message` carrying `reason` (and `metadata`) as
/// an `ErrorInfo` detail; `base`'s metadata (retry hints, say) is kept.
fn build(base: Status, reason: Reason, metadata: HashMap<String, String>) -> Status {
    let details = ErrorDetails::with_error_info(reason.as_str(), DOMAIN, metadata);
    Status::with_error_details_and_metadata(
        base.code(),
        base.message().to_owned(),
        details,
        base.metadata().clone(),
    )
}

/// `status` with `reason` attached (code, message and metadata unchanged).
pub fn with_reason(status: Status, reason: Reason) -> Status {
    build(status, reason, HashMap::new())
}

/// `INVALID_ARGUMENT` with `message`, reason `INVALID_INPUT` and the
/// location of the problem.
pub fn invalid_input(message: impl Into<String>, at: InputLocation) -> Status {
    build(
        Status::invalid_argument(message),
        Reason::InvalidInput,
        at.into_metadata(),
    )
}

/// The ATLAS reason a status carries, if any.
pub fn reason(status: &Status) -> Option<Reason> {
    let info = status.get_details_error_info()?;
    (info.domain == DOMAIN)
        .then(|| Reason::parse(&info.reason))
        .flatten()
}

/// The input location of an `INVALID_INPUT` status.
pub fn input_location(status: &Status) -> Option<InputLocation> {
    let info = status.get_details_error_info()?;
    if info.domain != DOMAIN || Reason::parse(&info.reason) != Some(Reason::InvalidInput) {
        return None;
    }
    Some(InputLocation {
        file: info.metadata.get("file").cloned(),
        line: info.metadata.get("line").and_then(|l| l.parse().ok()),
        element: info.metadata.get("element").cloned(),
    })
}

/// Whether `status` was raised by this side's transport (the server could
/// not be reached, or the connection broke under the call) rather than sent
/// by the server: a client-side transport failure keeps the transport error
/// as its source, a status read off the wire has none.
pub fn transport_failure(status: &Status) -> bool {
    let from_transport = std::error::Error::source(status).is_some();
    match status.code() {
        // tonic's connect and keep-alive failures.
        Code::Unavailable => true,
        // A connection that broke under a call, or an h2 reset.
        Code::Unknown | Code::Internal | Code::Cancelled => from_transport,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_the_wire_form() {
        for r in Reason::ALL {
            let s = with_reason(Status::not_found("x"), r);
            // What a client sees: the status rebuilt from its headers.
            let mut headers = tonic::codegen::http::HeaderMap::new();
            s.add_header(&mut headers).unwrap();
            let wire = Status::from_header_map(&headers).unwrap();
            assert_eq!(reason(&wire), Some(r), "{r}");
            assert_eq!(wire.code(), Code::NotFound);
            assert_eq!(wire.message(), "x");
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn metadata_survives_and_plain_statuses_have_no_reason() {
        let mut s = Status::resource_exhausted("busy");
        s.metadata_mut().insert(
            "retry-after-ms",
            tonic::metadata::MetadataValue::from(40u64),
        );
        let s = with_reason(s, Reason::Overloaded);
        assert_eq!(s.metadata().get("retry-after-ms").unwrap(), "40");
        assert_eq!(reason(&s), Some(Reason::Overloaded));
        assert_eq!(reason(&Status::not_found("world_id: no world")), None);
        // Another domain's reason is not ours.
        let other = Status::with_error_details(
            Code::NotFound,
            "x",
            ErrorDetails::with_error_info("WORLD_LOST", "example.com", HashMap::new()),
        );
        assert_eq!(reason(&other), None);
    }

    #[test]
    fn invalid_input_names_its_location() {
        let s = invalid_input(
            "a.xosc:12: <Act>: bad",
            InputLocation {
                file: Some("a.xosc".into()),
                line: Some(12),
                element: Some("Act".into()),
            },
        );
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(reason(&s), Some(Reason::InvalidInput));
        let at = input_location(&s).unwrap();
        assert_eq!(at.file.as_deref(), Some("a.xosc"));
        assert_eq!(at.line, Some(12));
        assert_eq!(at.element.as_deref(), Some("Act"));
        assert_eq!(input_location(&with_reason(s, Reason::WorldLost)), None);
    }

    #[test]
    fn transport_failures_are_told_by_their_source() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone");
        let local = Status::from_error(Box::new(io));
        assert_eq!(local.code(), Code::Unknown);
        assert!(transport_failure(&local));
        // The same code sent by a server is the server's own failure.
        assert!(!transport_failure(&Status::unknown("transport error")));
        assert!(transport_failure(&Status::unavailable("connect")));
        assert!(!transport_failure(&Status::not_found("x")));
    }
}
