//! atlas-bridge: the simulator bridge of ATLAS.
//!
//! Owns many independent simulated worlds per process and serves them over
//! `atlas.sim.v1.Simulator` (see `proto/atlas/sim/v1/sim.proto`): create a
//! world from a named map or an inline OpenDRIVE document, spawn actors,
//! attach cameras and bird's-eye rasters, step N fixed steps under commands
//! and get the snapshot (states, events, encoded frames) back, plan routes
//! and resolve lane positions. The service speaks to the simulator through
//! the [`backend::Backend`] trait; the built-in simulator (`atlas-sim`,
//! [`backend::builtin`]) is the backend of this build.
//!
//! # Layout
//!
//! - [`config`]: flags and environment variables ([`Config`]).
//! - [`server`]: [`serve`], the seam the binary, the CLI and the tests use;
//!   configuration checks, health and graceful drain.
//! - [`service`]: the gRPC service over a backend's worlds: the world
//!   table, limits, and every backend call on the blocking pool.
//! - [`backend`]: the simulator seam ([`backend::Backend`],
//!   [`backend::BackendWorld`], [`backend::RoadNetwork`]) and its
//!   implementations; [`backend::builtin`] with its maps directory.
//! - `convert`: message ↔ backend conversions with field-named
//!   validation and the request defaults.
//! - [`error`]: [`BridgeError`] and its one mapping to `tonic::Status`
//!   (codes, reasons, input locations, retry hints).
//!
//! # Adding a backend
//!
//! A second simulator (a CARLA server, say) plugs in without touching the
//! service or the conversions:
//!
//! 1. A module under `backend/` (behind a cargo feature when it brings a
//!    heavy dependency, so the default build stays as it is) implements
//!    [`backend::Backend`] (map names, warm-up, world creation from a map
//!    name or OpenDRIVE text with a fixed step and seed),
//!    [`backend::BackendWorld`] (actors, sensors whose frames come back
//!    encoded, N synchronous fixed steps under commands returning the
//!    snapshot and its events, snapshots) and [`backend::RoadNetwork`]
//!    (lane poses, route planning). Calls may block; the service runs them
//!    on the blocking pool, one at a time per world.
//! 2. What it cannot do it refuses with the error the client understands:
//!    a server that holds one world answers a second `create_world` with
//!    [`BridgeError::Exhausted`] and a `retry_after` (RESOURCE_EXHAUSTED,
//!    `retry-after-ms`); snapshots it cannot take are
//!    [`BridgeError::Unsupported`] (UNIMPLEMENTED). Dropping a world
//!    releases what it holds on the server.
//! 3. [`Config`] gains the flags that choose and reach it, and [`serve`]
//!    builds that backend instead of [`backend::builtin::Builtin`]; the rest
//!    of `serve` (limits, health gate, drain) is shared.

pub mod backend;
pub mod config;
pub(crate) mod convert;
pub mod error;
pub mod server;
pub mod service;

pub use config::Config;
pub use error::BridgeError;
pub use server::{SERVICE_NAME, serve};
