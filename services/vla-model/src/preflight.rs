//! Start-up checks of the `model` policy, run before the server binds its
//! policy (and by `atlas preflight` on their own): the device opens (on
//! CUDA: compute capability at least 7.0 and free memory at least the
//! model's need plus 20 %),
//! the model directory is complete, the weights match their SHA-256
//! sidecar and their shapes match `config.json`, and a warm-up inference on
//! a synthetic observation yields a finite trajectory. Each failure is an
//! [`Error::Preflight`] whose message names the check and says what to do.
//!
//! [`build_policy`] is where a server gets its policy: the one its
//! configuration names, the model only through these checks.

use std::sync::Arc;
use std::time::Instant;

use crate::policy::{CandlePolicy, Policy, PolicyKind, RouteFollower};
use crate::{Config, Error};

/// The policy `config.policy` names, ready to serve: the baseline from its
/// parameters, the model once every check of [`run`] passed. Blocking (the
/// model's checks read weights and run an inference).
pub fn build_policy(config: &Config) -> Result<Arc<dyn Policy>, Error> {
    match config.policy {
        PolicyKind::Baseline => {
            let p = RouteFollower::new(config.route_follower_params()).map_err(Error::Config)?;
            Ok(Arc::new(p))
        }
        PolicyKind::Model => Ok(run(config)?.policy),
    }
}

/// One passed check.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: &'static str,
    pub detail: String,
}

/// The checks that passed and the policy they produced.
#[derive(Debug)]
pub struct PreflightReport {
    pub checks: Vec<Check>,
    pub policy: Arc<dyn Policy>,
}

impl std::fmt::Display for PreflightReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.checks {
            writeln!(f, "ok  {:<10} {}", c.name, c.detail)?;
        }
        Ok(())
    }
}

/// Runs every check for `config`'s model policy; see the module docs.
pub fn run(config: &Config) -> Result<PreflightReport, Error> {
    let mut checks = Vec::new();
    let fail = |check: &str, msg: String| Error::Preflight(format!("{check}: {msg}"));

    let device = config
        .device
        .open()
        .map_err(|e| fail("device", e.to_string()))?;
    checks.push(Check {
        name: "device",
        detail: format!(
            "{} ({:?})",
            config.device,
            atlas_model::default_dtype(&device)
        ),
    });

    let dir = &config.model_dir;
    if device.is_cuda() {
        checks.push(cuda_check(config, &device).map_err(|msg| fail("device", msg))?);
    }
    for file in [
        atlas_model::pretrained::CONFIG_FILE,
        atlas_model::pretrained::WEIGHTS_FILE,
        atlas_model::pretrained::CHECKSUM_FILE,
    ] {
        let path = dir.join(file);
        if !path.is_file() {
            return Err(fail(
                "weights",
                format!(
                    "{} is missing; set --model-dir / ATLAS_MODEL_DIR to a model directory \
                     (the repository ships models/atlas-drive-v1; run from the repository root \
                     or pass an absolute path), or train one with `atlas-model train --out {}`",
                    path.display(),
                    dir.display()
                ),
            ));
        }
    }
    let started = Instant::now();
    let policy = CandlePolicy::load(dir, config.device, &config.instruction)
        .map_err(|e| fail("weights", e.to_string()))?;
    checks.push(Check {
        name: "weights",
        detail: format!(
            "{} sha256 {} matches, shapes match config.json ({} ms)",
            dir.display(),
            policy.sha256(),
            started.elapsed().as_millis()
        ),
    });

    let stats = crate::warmup::check(&policy).map_err(|e| {
        fail(
            "warm-up",
            format!(
                "{e}; the weights load but do not produce a usable plan: retrain or restore the \
                 shipped model"
            ),
        )
    })?;
    checks.push(Check {
        name: "warm-up",
        detail: format!(
            "{} finite poses in {:.1} ms",
            stats.poses,
            stats.inference.as_secs_f64() * 1e3
        ),
    });
    for c in &checks {
        tracing::info!(check = c.name, detail = %c.detail, "preflight passed");
    }
    Ok(PreflightReport {
        checks,
        policy: Arc::new(policy),
    })
}

/// On a CUDA device: compute capability at least 7.0 and free memory at
/// least the model's need (weights, activations at `--batch-max-size`,
/// workspaces) plus 20 %.
fn cuda_check(config: &Config, device: &candle_core::Device) -> Result<Check, String> {
    use atlas_model::pretrained;
    let cfg = pretrained::load_config(&config.model_dir).map_err(|e| e.to_string())?;
    let parameters: usize = pretrained::expected_shapes(&cfg)
        .map_err(|e| e.to_string())?
        .values()
        .map(|shape| shape.iter().product::<usize>())
        .sum();
    let dtype = atlas_model::default_dtype(device);
    let need =
        pretrained::device_memory_need(&cfg, parameters, dtype, config.batch_max_size.max(1));
    let res = pretrained::cuda_resources(device).map_err(|e| e.to_string())?;
    pretrained::check_cuda(&res, need)?;
    let mib = |b: u64| b / (1 << 20);
    Ok(Check {
        name: "gpu",
        detail: format!(
            "compute capability {}.{}, {} MiB free of {}, model needs {} MiB + {:.0} %",
            res.compute_capability.0,
            res.compute_capability.1,
            mib(res.free_bytes),
            mib(res.total_bytes),
            mib(need),
            pretrained::MEMORY_HEADROOM * 100.0
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_model::{DeviceChoice, DrivingModel, ModelConfig};
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    fn tiny_model_dir(dir: &std::path::Path) {
        let cfg = ModelConfig::tiny();
        let vm = VarMap::new();
        DrivingModel::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu)).unwrap();
        atlas_model::pretrained::save(dir, &cfg, &vm).unwrap();
    }

    fn config(dir: &std::path::Path) -> Config {
        Config {
            policy: crate::PolicyKind::Model,
            model_dir: dir.to_path_buf(),
            ..Config::default()
        }
    }

    #[test]
    fn passes_on_a_complete_model_directory() {
        let tmp = tempfile::tempdir().unwrap();
        tiny_model_dir(tmp.path());
        let report = run(&config(tmp.path())).unwrap();
        let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
        assert_eq!(names, ["device", "weights", "warm-up"]);
        assert_eq!(report.policy.name(), "model");
        assert!(report.to_string().contains("sha256"));
    }

    #[test]
    fn failures_name_the_check_and_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let e = run(&config(tmp.path())).unwrap_err().to_string();
        assert!(
            e.contains("weights:") && e.contains("ATLAS_MODEL_DIR"),
            "{e}"
        );

        tiny_model_dir(tmp.path());
        std::fs::write(
            tmp.path().join(atlas_model::pretrained::CHECKSUM_FILE),
            format!("{}  model.safetensors\n", "0".repeat(64)),
        )
        .unwrap();
        let e = run(&config(tmp.path())).unwrap_err().to_string();
        assert!(e.contains("weights:") && e.contains("corrupt"), "{e}");

        if !candle_core::utils::cuda_is_available() {
            let mut c = config(tmp.path());
            c.device = DeviceChoice::Cuda(0);
            let e = run(&c).unwrap_err().to_string();
            assert!(e.starts_with("preflight failed: device:"), "{e}");
        }
    }
}
