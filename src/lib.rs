//! The `atlas` command-line tool and the pieces it is made of.
//!
//! # Layout
//!
//! - [`local`]: the three services in one process on loopback ports.
//! - [`client`]: reading scenario files for sending, and a run's event
//!   stream.
//! - [`results`]: Leaderboard-shaped results JSON and the result table.
//! - [`probe`]: the `grpc_health_probe`-compatible health check.
//! - [`routes`]: running CARLA Leaderboard route files, a route per run.
//! - [`artifacts`]: per-run trajectory CSV, events JSONL and top-down PNG.
//! - [`junit`]: JUnit XML of a batch of runs.
//! - [`suite`]: suites of runs with a resumable manifest, and A/B comparison.
//! - [`report`]: the static HTML report of a suite.
//! - [`bench`]: the closed-loop step breakdown and suite throughput.
//! - [`files`]: output files written whole.

pub mod artifacts;
pub mod bench;
pub mod client;
pub mod files;
pub mod junit;
pub mod local;
pub mod probe;
pub mod report;
pub mod results;
pub mod routes;
pub mod suite;
