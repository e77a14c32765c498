//! The `atlas` command-line tool and the pieces it is made of.
//!
//! # Layout
//!
//! - [`local`]: the three services in one process on loopback ports.
//! - [`client`]: running scenario files against a scenario runtime.
//! - [`results`]: Leaderboard-shaped results JSON and the result table.
//! - [`probe`]: the `grpc_health_probe`-compatible health check.
//! - [`suite`]: suites of runs with a resumable manifest, and A/B comparison.
//! - [`report`]: the static HTML report of a suite.
//! - [`bench`]: the closed-loop step breakdown and suite throughput.

pub mod bench;
pub mod client;
pub mod local;
pub mod probe;
pub mod report;
pub mod results;
pub mod suite;
