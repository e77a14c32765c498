//! Runtime plumbing shared by the three ATLAS services and the CLI.
//!
//! # Layout
//!
//! - [`telemetry`]: `tracing` logs, plus OpenTelemetry traces over OTLP when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//! - [`trace_context`]: W3C trace context carried in gRPC metadata, so one
//!   scenario run is one trace across the services.
//! - [`shutdown`]: SIGTERM and SIGINT as one future.
//! - [`serve`]: serve a tonic router on a listener and drain in-flight calls
//!   under a grace period when shutdown is requested.
//! - [`balance`]: per-request load balancing over every address of a name
//!   (Swarm `dnsrr` services), re-resolved as replicas come and go.
//! - [`health`]: the `grpc.health.v1` service and a small handle around it.
//! - [`gate`]: the warm-up/drain health gate of a server ([`gate::HealthGate`]).
//! - [`retry`]: retry hints (`retry-after-ms`, `grpc-retry-pushback-ms`) on statuses.

pub mod balance;
pub mod gate;
pub mod health;
pub mod retry;
pub mod serve;
pub mod shutdown;
pub mod telemetry;
pub mod trace_context;

/// Errors of the serving plumbing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("gRPC transport failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("telemetry setup failed: {0}")]
    Telemetry(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
