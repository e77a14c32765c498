//! Retry hints on gRPC statuses.
//!
//! A server that refuses work it could do a little later (RESOURCE_EXHAUSTED,
//! UNAVAILABLE while draining) tells the client when to come back, in
//! milliseconds, under two metadata keys: `retry-after-ms`, which ATLAS's
//! own clients read, and `grpc-retry-pushback-ms`, which gRPC's built-in
//! client retry policies honour.

use std::time::Duration;

use tonic::Status;
use tonic::metadata::MetadataValue;

/// Metadata key of the retry hint ATLAS clients read (milliseconds).
pub const RETRY_AFTER_KEY: &str = "retry-after-ms";
/// The same hint under the name gRPC client retry policies honour.
pub const GRPC_PUSHBACK_KEY: &str = "grpc-retry-pushback-ms";

/// `status` with a hint to retry after `after` (rounded up to whole
/// milliseconds, at least 1) under both keys.
pub fn with_retry_after(mut status: Status, after: Duration) -> Status {
    let ms = u64::try_from(after.as_micros().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1);
    let value = MetadataValue::from(ms);
    let md = status.metadata_mut();
    md.insert(RETRY_AFTER_KEY, value.clone());
    md.insert(GRPC_PUSHBACK_KEY, value);
    status
}

/// The retry hint a status carries, if any: `retry-after-ms`, else
/// `grpc-retry-pushback-ms`. A malformed or negative value is no hint
/// (gRPC's own rule for pushback: a negative value means "do not retry",
/// which callers decide from the status code).
pub fn retry_after(status: &Status) -> Option<Duration> {
    [RETRY_AFTER_KEY, GRPC_PUSHBACK_KEY].iter().find_map(|k| {
        status
            .metadata()
            .get(*k)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_round_trips_under_both_keys() {
        let s = with_retry_after(
            Status::resource_exhausted("busy"),
            Duration::from_micros(1500),
        );
        assert_eq!(s.metadata().get(RETRY_AFTER_KEY).unwrap(), "2");
        assert_eq!(s.metadata().get(GRPC_PUSHBACK_KEY).unwrap(), "2");
        assert_eq!(retry_after(&s), Some(Duration::from_millis(2)));
        let zero = with_retry_after(Status::unavailable("x"), Duration::ZERO);
        assert_eq!(retry_after(&zero), Some(Duration::from_millis(1)));
    }

    #[test]
    fn pushback_alone_is_read_and_garbage_is_no_hint() {
        let mut s = Status::unavailable("x");
        s.metadata_mut()
            .insert(GRPC_PUSHBACK_KEY, MetadataValue::from_static("250"));
        assert_eq!(retry_after(&s), Some(Duration::from_millis(250)));
        let mut bad = Status::unavailable("x");
        bad.metadata_mut()
            .insert(RETRY_AFTER_KEY, MetadataValue::from_static("-3"));
        assert_eq!(retry_after(&bad), None);
        assert_eq!(retry_after(&Status::unavailable("x")), None);
    }
}
