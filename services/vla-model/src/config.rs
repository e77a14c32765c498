//! Server configuration: command-line flags, each with an environment
//! variable, so the same struct configures the `atlas-vla` binary, the
//! `atlas` CLI (flattened) and tests (built directly).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use atlas_model::DeviceChoice;

use crate::Error;
use crate::batch::BatchSettings;
use crate::policy::{PolicyKind, RouteFollowerParams};

/// Where the shipped model lives, relative to the working directory.
pub const DEFAULT_MODEL_DIR: &str = "models/atlas-drive-v1";

/// Configuration of the vla-model server.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    /// Address to listen on (used by the binary; `serve` takes a bound
    /// listener).
    #[arg(long, env = "ATLAS_VLA_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,

    /// Driving policy to serve.
    #[arg(long, env = "ATLAS_POLICY", value_enum, default_value = "baseline")]
    pub policy: PolicyKind,

    /// Model directory of the `model` policy (config.json,
    /// model.safetensors, model.safetensors.sha256).
    #[arg(long, env = "ATLAS_MODEL_DIR", default_value = DEFAULT_MODEL_DIR)]
    pub model_dir: PathBuf,

    /// Device of the `model` policy: cpu, cuda or cuda:N (CUDA needs a
    /// build with the `cuda` feature).
    #[arg(long, env = "ATLAS_DEVICE", default_value = "cpu")]
    pub device: DeviceChoice,

    /// Instruction added to the route's own for the `model` policy, e.g.
    /// "drive slowly".
    #[arg(long, env = "ATLAS_INSTRUCTION", default_value = "")]
    pub instruction: String,

    /// Cruise speed of the baseline policy, m/s.
    #[arg(long, env = "ATLAS_TARGET_SPEED", default_value_t = 8.0)]
    pub target_speed: f64,

    /// Largest planned acceleration, m/s².
    #[arg(long, env = "ATLAS_MAX_ACCEL", default_value_t = 2.0)]
    pub max_accel: f64,

    /// Largest planned deceleration (positive), m/s².
    #[arg(long, env = "ATLAS_MAX_DECEL", default_value_t = 3.0)]
    pub max_decel: f64,

    /// Largest planned lateral acceleration in curves, m/s².
    #[arg(long, env = "ATLAS_MAX_LATERAL_ACCEL", default_value_t = 2.0)]
    pub max_lateral_accel: f64,

    /// Most sessions open at once; further `start_session` calls get
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "ATLAS_MAX_SESSIONS", default_value_t = 1024)]
    pub max_sessions: usize,

    /// Most `drive` requests (from different sessions) planned in one
    /// forward pass.
    #[arg(long, env = "ATLAS_BATCH_MAX_SIZE", default_value_t = 8)]
    pub batch_max_size: usize,

    /// Longest a `drive` waits for others to join its batch, milliseconds.
    /// 0 (the default): no window, a batch is whatever queued while the
    /// previous one was planned, so a lone caller never waits; a GPU
    /// deployment with many concurrent sessions sets a window of a few ms.
    #[arg(long, env = "ATLAS_BATCH_MAX_WAIT_MS", default_value_t = 0.0)]
    pub batch_max_wait_ms: f64,

    /// Most `drive` requests queued or being planned at once; beyond it
    /// `drive` gets RESOURCE_EXHAUSTED with a `retry-after-ms` hint.
    #[arg(long, env = "ATLAS_MAX_INFLIGHT", default_value_t = 64)]
    pub max_inflight: usize,

    /// Inference threads (forward passes never run on the async runtime).
    #[arg(long, env = "ATLAS_INFERENCE_THREADS", default_value_t = 1)]
    pub inference_threads: usize,

    /// Seconds in-flight calls may take to finish after SIGTERM/SIGINT.
    #[arg(long, env = "ATLAS_GRACE_PERIOD_S", default_value_t = 10.0)]
    pub grace_period_s: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 50051)),
            policy: PolicyKind::Baseline,
            model_dir: PathBuf::from(DEFAULT_MODEL_DIR),
            device: DeviceChoice::Cpu,
            instruction: String::new(),
            target_speed: 8.0,
            max_accel: 2.0,
            max_decel: 3.0,
            max_lateral_accel: 2.0,
            max_sessions: 1024,
            batch_max_size: 8,
            batch_max_wait_ms: 0.0,
            max_inflight: 64,
            inference_threads: 1,
            grace_period_s: 10.0,
        }
    }
}

impl Config {
    /// The baseline policy's tuning from these settings.
    pub fn route_follower_params(&self) -> RouteFollowerParams {
        RouteFollowerParams {
            target_speed: self.target_speed,
            max_accel: self.max_accel,
            max_decel: self.max_decel,
            max_lateral_accel: self.max_lateral_accel,
            ..RouteFollowerParams::default()
        }
    }

    /// The drain grace period; refuses negative or non-finite values.
    pub fn grace_period(&self) -> Result<Duration, Error> {
        atlas_rt::serve::grace_period(self.grace_period_s)
            .map_err(|m| Error::Config(format!("grace period {m}")))
    }

    /// The batcher's settings; refuses out-of-range values, naming the
    /// flag.
    pub fn batch_settings(&self) -> Result<BatchSettings, Error> {
        if !(self.batch_max_wait_ms.is_finite() && (0.0..=1000.0).contains(&self.batch_max_wait_ms))
        {
            return Err(Error::Config(format!(
                "--batch-max-wait-ms must be between 0 and 1000, got {}",
                self.batch_max_wait_ms
            )));
        }
        for (flag, v, max) in [
            ("--batch-max-size", self.batch_max_size, 1024),
            ("--max-inflight", self.max_inflight, 1 << 20),
            ("--inference-threads", self.inference_threads, 256),
        ] {
            if v == 0 || v > max {
                return Err(Error::Config(format!(
                    "{flag} must be between 1 and {max}, got {v}"
                )));
            }
        }
        Ok(BatchSettings {
            max_size: self.batch_max_size,
            max_wait: Duration::from_secs_f64(self.batch_max_wait_ms / 1e3),
            max_inflight: self.max_inflight,
            workers: self.inference_threads,
        })
    }

    /// Checks every setting, naming the first bad one. [`serve`](crate::serve)
    /// calls it; callers that only inspect the settings (the CLI's
    /// preflight) call it themselves.
    pub fn validate(&self) -> Result<(), Error> {
        self.checked().map(|_| ())
    }

    /// Checks every setting and returns what serving derives from them.
    pub(crate) fn checked(&self) -> Result<Checked, Error> {
        let grace = self.grace_period()?;
        let batch = self.batch_settings()?;
        if self.max_sessions == 0 {
            return Err(Error::Config("max sessions must be at least 1".into()));
        }
        self.route_follower_params()
            .validate()
            .map_err(Error::Config)?;
        Ok(Checked { grace, batch })
    }
}

/// What the server derives from a checked [`Config`].
pub(crate) struct Checked {
    /// The drain grace period.
    pub grace: Duration,
    /// The batcher's settings.
    pub batch: BatchSettings,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let cli = Cli::try_parse_from(["atlas-vla"]).unwrap();
        let d = Config::default();
        assert_eq!(cli.config.listen, d.listen);
        assert_eq!(cli.config.policy, d.policy);
        assert_eq!(cli.config.model_dir, d.model_dir);
        assert_eq!(cli.config.device, d.device);
        assert_eq!(cli.config.target_speed, d.target_speed);
        assert_eq!(cli.config.max_sessions, d.max_sessions);
        assert_eq!(cli.config.grace_period_s, d.grace_period_s);
        assert_eq!(cli.config.batch_max_size, d.batch_max_size);
        assert_eq!(cli.config.batch_max_wait_ms, d.batch_max_wait_ms);
        assert_eq!(cli.config.max_inflight, d.max_inflight);
        assert_eq!(cli.config.inference_threads, d.inference_threads);
        d.validate().unwrap();
        assert_eq!(d.batch_settings().unwrap(), BatchSettings::default());
    }

    #[test]
    fn flags_parse_and_bad_values_are_refused() {
        let cli = Cli::try_parse_from([
            "atlas-vla",
            "--listen",
            "127.0.0.1:9000",
            "--policy",
            "baseline",
            "--target-speed",
            "12.5",
            "--max-sessions",
            "3",
            "--grace-period-s",
            "1.5",
            "--batch-max-size",
            "16",
            "--batch-max-wait-ms",
            "0.5",
            "--max-inflight",
            "5",
        ])
        .unwrap();
        let b = cli.config.batch_settings().unwrap();
        assert_eq!(b.max_size, 16);
        assert!((b.max_wait.as_secs_f64() - 0.0005).abs() < 1e-9, "{b:?}");
        assert_eq!(b.max_inflight, 5);
        assert_eq!(cli.config.target_speed, 12.5);
        assert_eq!(cli.config.max_sessions, 3);
        cli.config.validate().unwrap();
        assert!(Cli::try_parse_from(["atlas-vla", "--policy", "nope"]).is_err());
        let cli = Cli::try_parse_from([
            "atlas-vla",
            "--policy",
            "model",
            "--model-dir",
            "/m",
            "--device",
            "cuda:1",
            "--instruction",
            "drive slowly",
        ])
        .unwrap();
        assert_eq!(cli.config.policy, PolicyKind::Model);
        assert_eq!(cli.config.model_dir, PathBuf::from("/m"));
        assert_eq!(cli.config.device, DeviceChoice::Cuda(1));
        assert!(Cli::try_parse_from(["atlas-vla", "--device", "tpu"]).is_err());

        for bad in [
            Config {
                grace_period_s: -1.0,
                ..Config::default()
            },
            Config {
                target_speed: f64::NAN,
                ..Config::default()
            },
            Config {
                max_decel: 0.0,
                ..Config::default()
            },
            Config {
                max_sessions: 0,
                ..Config::default()
            },
            Config {
                batch_max_size: 0,
                ..Config::default()
            },
            Config {
                batch_max_wait_ms: -1.0,
                ..Config::default()
            },
            Config {
                batch_max_wait_ms: f64::NAN,
                ..Config::default()
            },
            Config {
                max_inflight: 0,
                ..Config::default()
            },
            Config {
                inference_threads: 0,
                ..Config::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
