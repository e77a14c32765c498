//! The crate's error type.

/// Everything that can go wrong collecting demonstrations, training or
/// evaluating the model in the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad training options; the message names the option.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// Data that cannot be trained on (no samples, a diverging loss).
    #[error("invalid model input: {0}")]
    Input(String),
    /// Demonstration collection failed in the simulator.
    #[error("simulator: {0}")]
    Sim(String),
    /// What atlas-model reports: the network, its tensors, weight files
    /// and devices, and file I/O.
    #[error(transparent)]
    Model(#[from] atlas_model::Error),
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Model(e.into())
    }
}

impl From<atlas_sim::WorldError> for Error {
    fn from(e: atlas_sim::WorldError) -> Self {
        Error::Sim(e.to_string())
    }
}

impl Error {
    /// A file that could not be read or written, named by its path.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Model(atlas_model::Error::io(path, source))
    }
}
