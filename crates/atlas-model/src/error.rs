//! The crate's error type.

/// Everything that can go wrong building, loading or running the model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad `config.json` or setting; the message names the field.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// An input that does not fit the model (wrong sizes, empty batch).
    #[error("invalid model input: {0}")]
    Input(String),
    /// Weights missing, unreadable, corrupt or not matching the config.
    #[error("{0}")]
    Weights(String),
    /// The requested device is not available in this build or machine.
    #[error("device: {0}")]
    Device(String),
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
