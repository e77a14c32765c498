//! `atlas-scenario`, the ATLAS scenario runtime.
//!
//! It loads a scenario, creates a world on a simulator bridge
//! (`atlas.sim.v1`), drives the ego with an egodriver policy in a closed loop
//! (10 Hz control over a 20 Hz world by default) and scores the run like the
//! CARLA Leaderboard 2.0. It serves `atlas.scenario.v1.ScenarioRunner`.
//!
//! The scenario files themselves (native TOML, Leaderboard routes,
//! OpenSCENARIO) are read by [`atlas_scenario_format`], once per request.
//!
//! # Layout
//!
//! - [`geometry`]: planar poses, wire quaternions, route polylines.
//! - [`criteria`]: Leaderboard criteria and scoring.
//! - [`routes`]: a Leaderboard route as a run.
//! - [`trace`]: recording a run for artifacts.
//! - [`runner`]: a native scenario or Leaderboard route run on the closed
//!   loop of [`atlas_loop`].
//! - [`storyboard`]: OpenSCENARIO runs (the storyboard played each step).
//! - [`service`]: the gRPC service, its configuration and [`serve`].

pub mod criteria;
pub mod geometry;
pub mod routes;
pub mod runner;
pub mod service;
pub mod storyboard;
pub mod trace;

pub use service::{Config, Error, serve};
