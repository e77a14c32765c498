//! The model's hyper-parameters and input conventions, stored beside the
//! weights as `config.json` (Hugging Face layout: one directory per model).
//!
//! Everything that fixes a tensor shape or how raw observations are turned
//! into tensors lives here, so a weights file can never be paired with a
//! different preprocessing by accident: a mismatch fails at load time on the
//! shapes, and [`ModelConfig::validate`] refuses combinations the network
//! cannot be built with.

use serde::{Deserialize, Serialize};

use crate::Error;

/// Architecture and input conventions of the driving model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Free-form identifier, e.g. `atlas-drive-v1`.
    #[serde(default = "default_name")]
    pub name: String,

    /// Network input size after cropping and resizing the camera frame, in
    /// pixels. Both must be multiples of 16 (four stride-2 stages).
    pub image_width: usize,
    pub image_height: usize,
    /// Fraction of the frame's height dropped from the top before resizing
    /// (sky carries nothing the policy needs; a level camera has its horizon
    /// at one half).
    pub image_crop_top: f64,

    /// Channels of the three convolution stages before the patch embedding.
    pub stem_channels: [usize; 3],

    /// Width of every token and of the fusion transformer.
    pub d_model: usize,
    pub num_heads: usize,
    pub num_layers: usize,
    /// Hidden width of the transformer MLPs.
    pub d_ff: usize,

    /// Past ego poses (10 Hz) the model sees, excluding the current one.
    pub history_len: usize,
    /// Route points (rig frame) the model sees.
    pub route_points: usize,
    /// Tokens the route encoder emits.
    pub route_tokens: usize,
    /// Longest instruction, in tokens (longer ones are cut).
    pub max_instruction_tokens: usize,

    /// Planned poses at 10 Hz after the current instant.
    pub horizon: usize,

    /// Scales that bring metres, metres per second and radians to order one
    /// inside the network.
    pub position_scale: f64,
    pub speed_scale: f64,
}

fn default_name() -> String {
    "atlas-drive".into()
}

impl Default for ModelConfig {
    /// The shipped architecture: about 0.3 M parameters.
    fn default() -> Self {
        Self {
            name: "atlas-drive-v1".into(),
            image_width: 128,
            image_height: 48,
            image_crop_top: 0.4,
            stem_channels: [16, 32, 48],
            d_model: 96,
            num_heads: 4,
            num_layers: 3,
            d_ff: 192,
            history_len: 5,
            route_points: 20,
            route_tokens: 2,
            max_instruction_tokens: 8,
            horizon: 40,
            position_scale: 20.0,
            speed_scale: 10.0,
        }
    }
}

impl ModelConfig {
    /// A very small configuration for unit tests.
    pub fn tiny() -> Self {
        Self {
            name: "tiny".into(),
            image_width: 32,
            image_height: 16,
            image_crop_top: 0.4,
            stem_channels: [4, 8, 8],
            d_model: 16,
            num_heads: 2,
            num_layers: 1,
            d_ff: 32,
            history_len: 3,
            route_points: 6,
            route_tokens: 1,
            max_instruction_tokens: 4,
            horizon: 8,
            position_scale: 20.0,
            speed_scale: 10.0,
        }
    }

    /// Patch tokens the camera encoder emits.
    pub fn image_tokens(&self) -> usize {
        (self.image_width / 16) * (self.image_height / 16)
    }

    /// Length of the flat ego feature vector: speed, acceleration, yaw rate,
    /// then (x, y, yaw, valid) per past pose.
    pub fn ego_features(&self) -> usize {
        3 + 4 * self.history_len
    }

    /// Length of the flat route feature vector: (x, y, valid) per point.
    pub fn route_features(&self) -> usize {
        3 * self.route_points
    }

    /// Tokens in the fusion sequence.
    pub fn sequence_len(&self) -> usize {
        self.image_tokens() + 1 + self.route_tokens + self.max_instruction_tokens + 1
    }

    /// Checks the configuration can be built; the message names the field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Config(m));
        if self.image_width == 0
            || self.image_height == 0
            || !self.image_width.is_multiple_of(16)
            || !self.image_height.is_multiple_of(16)
        {
            return bad(format!(
                "image_width and image_height must be positive multiples of 16, got {}x{}",
                self.image_width, self.image_height
            ));
        }
        if self.image_width > 1024 || self.image_height > 1024 {
            return bad("image_width and image_height must be at most 1024".into());
        }
        if !(self.image_crop_top.is_finite() && (0.0..0.9).contains(&self.image_crop_top)) {
            return bad(format!(
                "image_crop_top must be in [0, 0.9), got {}",
                self.image_crop_top
            ));
        }
        if self.stem_channels.contains(&0) {
            return bad("stem_channels must all be positive".into());
        }
        if self.d_model == 0 || self.num_heads == 0 || !self.d_model.is_multiple_of(self.num_heads)
        {
            return bad(format!(
                "d_model ({}) must be a positive multiple of num_heads ({})",
                self.d_model, self.num_heads
            ));
        }
        for (name, v) in [
            ("num_layers", self.num_layers),
            ("d_ff", self.d_ff),
            ("route_points", self.route_points),
            ("route_tokens", self.route_tokens),
            ("horizon", self.horizon),
        ] {
            if v == 0 {
                return bad(format!("{name} must be at least 1"));
            }
        }
        if self.horizon > 600 || self.route_points > 1000 || self.history_len > 100 {
            return bad("horizon, route_points or history_len is implausibly large".into());
        }
        for (name, v) in [
            ("position_scale", self.position_scale),
            ("speed_scale", self.speed_scale),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} must be a positive number, got {v}"));
            }
        }
        Ok(())
    }

    /// Parses `config.json` text; `origin` names the file in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, Error> {
        let cfg: Self = serde_json::from_str(text).map_err(|e| {
            Error::Config(format!(
                "{origin}: line {} column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        cfg.validate()
            .map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_tiny_are_valid_and_round_trip() {
        for cfg in [ModelConfig::default(), ModelConfig::tiny()] {
            cfg.validate().unwrap();
            let text = serde_json::to_string_pretty(&cfg).unwrap();
            assert_eq!(ModelConfig::from_json(&text, "config.json").unwrap(), cfg);
        }
        assert_eq!(ModelConfig::default().image_tokens(), 24);
    }

    #[test]
    fn bad_configs_are_refused_with_the_field_named() {
        let cases = [
            (
                ModelConfig {
                    image_width: 100,
                    ..ModelConfig::tiny()
                },
                "image_width",
            ),
            (
                ModelConfig {
                    d_model: 15,
                    ..ModelConfig::tiny()
                },
                "d_model",
            ),
            (
                ModelConfig {
                    horizon: 0,
                    ..ModelConfig::tiny()
                },
                "horizon",
            ),
            (
                ModelConfig {
                    image_crop_top: f64::NAN,
                    ..ModelConfig::tiny()
                },
                "image_crop_top",
            ),
        ];
        for (cfg, field) in cases {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
        let e = ModelConfig::from_json("{\"image_width\": 16, \"bogus\": 1}", "x/config.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x/config.json") && e.contains("line 1"), "{e}");
    }
}
