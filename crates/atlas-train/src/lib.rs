//! `atlas-train`: everything that teaches the ATLAS driving model and needs
//! the built-in simulator for it — the privileged expert that demonstrates
//! driving, demonstration collection and closed-loop episodes in
//! `atlas_sim` worlds, and behaviour-cloning training.
//!
//! The network, its inputs, inference and weight files are `atlas-model`'s;
//! this crate sits above it (and above `atlas-sim`), so a service that only
//! serves the model links neither the simulator nor the training code.
//!
//! # Layout
//!
//! - [`expert`]: the privileged planner demonstrations come from.
//! - [`collect`]: demonstration collection and closed-loop episodes.
//! - [`train`]: behaviour cloning with AdamW ([`train::train`]).
//! - [`error`]: the crate's [`Error`].
//!
//! The `atlas-model` binary (train, eval, open-loop, latency,
//! export-fixture, info) is this crate's command line.

pub mod collect;
pub mod error;
pub mod expert;
pub mod train;

pub use error::Error;
