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
    /// The model itself: its configuration, inputs, weights or device.
    #[error(transparent)]
    Model(#[from] atlas_model::Error),
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<atlas_sim::WorldError> for Error {
    fn from(e: atlas_sim::WorldError) -> Self {
        Error::Sim(e.to_string())
    }
}

impl Error {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
