//! The `atlas` command-line tool and the pieces it is made of.
//!
//! # Layout
//!
//! - [`local`]: the three services in one process on loopback ports.
//! - [`client`]: running scenario files against a scenario runtime.
//! - [`results`]: Leaderboard-shaped results JSON and the result table.
//! - [`probe`]: the `grpc_health_probe`-compatible health check.

pub mod client;
pub mod local;
pub mod probe;
pub mod results;
