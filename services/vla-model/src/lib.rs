//! `atlas-vla`: a driving policy served over the AlpaSim egodriver contract
//! (`egodriver.EgodriverService`, wire compatible with AlpaSim's runtime and
//! the `carla-driver-interface` client).
//!
//! A client opens a session, submits camera images, egomotion and a route
//! each step, and calls `drive`; the server validates and stores the
//! observations per session and answers with a trajectory from a
//! [`Policy`]: the current pose stamped `time_now_us`, then 10 Hz poses in
//! the local frame.
//!
//! # Layout
//!
//! - [`config`]: [`Config`], flags with environment variables.
//! - [`server`]: [`serve`] (the seam the binary, the `atlas` CLI and tests
//!   use) — health, warm-up, drain.
//! - [`service`]: the eight rpcs as thin wrappers over `inner_*` methods.
//! - [`wire`]: validation of incoming messages into domain types, and a
//!   plan back into the contract's trajectory.
//! - [`batch`]: micro-batching of `drive` across sessions on inference
//!   threads, and the in-flight limit (RESOURCE_EXHAUSTED + retry hint).
//! - [`session`]: per-session observation state and the session table.
//! - [`observation`]: what a policy sees.
//! - [`policy`]: the [`Policy`] trait, the `baseline` [`RouteFollower`]
//!   and the learned `model` [`CandlePolicy`].
//! - [`preflight`]: start-up checks of the model policy (device, weights,
//!   checksum, shapes, warm-up), and the policy a configuration names.
//! - [`decode`]: JPEG/PNG decoding by magic bytes.
//! - [`warmup`]: the start-up inference that gates health.
//! - [`geometry`]: poses and quaternions in the contract's conventions.
//! - [`error`]: [`Error`] and its one mapping to `tonic::Status`.

pub mod batch;
pub mod config;
pub mod decode;
pub mod error;
pub mod geometry;
pub mod observation;
pub mod policy;
pub mod preflight;
pub mod server;
pub mod service;
pub mod session;
pub mod warmup;
pub mod wire;

pub use config::Config;
pub use error::Error;
pub use observation::Observation;
pub use policy::{
    CandlePolicy, Plan, PlannedPose, Policy, PolicyError, PolicyKind, RouteFollower,
    RouteFollowerParams,
};
pub use server::{serve, serve_with_policy};
