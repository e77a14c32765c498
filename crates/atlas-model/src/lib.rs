//! `atlas-model`: the ATLAS driving model — a small vision-language-action
//! network written with candle, the privileged expert that demonstrates
//! driving in the built-in simulator, and behaviour-cloning training.
//!
//! The network sees the front camera, the ego's recent motion, the route
//! ahead and an optional instruction ("turn left at the next junction",
//! "drive slowly"), and plans 4 s of 10 Hz poses with headings in the rig
//! frame. The vla-model service wraps it as its `model` policy.
//!
//! # Layout
//!
//! - [`config`]: [`ModelConfig`], stored as `config.json`.
//! - [`tokenizer`]: the fixed instruction vocabulary.
//! - [`features`]: raw observations → model inputs, shared by training
//!   and serving; [`Batch`] stacks them into tensors.
//! - [`model`]: [`DrivingModel`] (`Model::new(&cfg, vb)` / `forward`).
//! - [`infer`]: [`predict`], one forward pass for a batch of samples.
//! - [`pretrained`]: model directories (config, safetensors, checksum),
//!   devices and dtypes.
//! - [`expert`]: the privileged planner demonstrations come from.
//! - [`collect`]: demonstration collection in `atlas_sim` worlds.
//! - [`train`]: behaviour cloning with AdamW ([`train::train`]).
//! - [`geometry`], [`error`]: shared helpers.

pub mod collect;
pub mod config;
pub mod error;
pub mod expert;

pub mod features;
pub mod geometry;
pub mod infer;
pub mod model;
pub mod pretrained;
pub mod tokenizer;
pub mod train;

pub use config::ModelConfig;
pub use error::Error;
pub use features::{Batch, DriveInput, Features, ImageView, route_instruction};
pub use infer::predict;
pub use model::DrivingModel;
pub use pretrained::{DeviceChoice, LoadedModel, default_dtype, load};
