//! atlas-bridge: the simulator bridge of ATLAS.
//!
//! Owns many independent simulated worlds per process and serves them over
//! `atlas.sim.v1.Simulator` (see `proto/atlas/sim/v1/sim.proto`): create a
//! world from a named map or an inline OpenDRIVE document, spawn actors,
//! attach cameras and bird's-eye rasters, step N fixed steps under commands
//! and get the snapshot (states, events, encoded frames) back, plan routes
//! and resolve lane positions. The backend is the built-in simulator
//! (`atlas-sim`).
//!
//! # Layout
//!
//! - [`config`]: flags and environment variables ([`Config`]).
//! - [`server`]: [`serve`], the seam the binary, the CLI and the tests use;
//!   health and graceful drain.
//! - [`service`]: the gRPC service over the world table.
//! - [`maps`]: the maps directory and the parsed-map cache.
//! - `convert`: message ↔ simulator conversions with field-named
//!   validation.
//! - [`error`]: [`BridgeError`] and its one mapping to `tonic::Status`.

pub mod config;
pub(crate) mod convert;
pub mod error;
pub mod maps;
pub mod server;
pub mod service;

pub use config::Config;
pub use error::BridgeError;
pub use server::{SERVICE_NAME, serve};
