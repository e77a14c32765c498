//! `atlas-model`: the ATLAS driving model — a small vision-language-action
//! network written with candle, its inputs, inference and weight files:
//! what serving the model needs, and no more (the expert, demonstration
//! collection and training, which need the simulator, are `atlas-train`'s).
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
//! - [`error`]: the crate's [`Error`].

pub mod config;
pub mod error;
pub mod features;
pub mod infer;
pub mod model;
pub mod pretrained;
pub mod tokenizer;

pub use config::ModelConfig;
pub use error::Error;
pub use features::{
    Batch, DriveInput, Features, ImageView, compose_instruction, route_instruction,
};
pub use infer::predict;
pub use model::DrivingModel;
pub use pretrained::{DeviceChoice, LoadedModel, default_dtype, load};
