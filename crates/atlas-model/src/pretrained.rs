//! A model directory in the Hugging Face layout, and the device it runs on.
//!
//! ```text
//! models/atlas-drive-v1/
//!   config.json                 ModelConfig
//!   model.safetensors           weights, keys = vb.pp(..) paths
//!   model.safetensors.sha256    `sha256sum` line for the weights
//! ```
//!
//! Weights are read into memory and handed to
//! `VarBuilder::from_tensors` rather than memory-mapped: candle's
//! `from_mmaped_safetensors` is an `unsafe fn` (the file must not change
//! while mapped) and the workspace forbids `unsafe` code. At a few
//! megabytes the read costs about a millisecond, and the same bytes are
//! hashed for the checksum check, so nothing is read twice. Before the
//! network is built every tensor's name and shape is compared against the
//! configuration, so a mismatched pair fails with a list of differences
//! instead of a half-initialised model.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::config::ModelConfig;
use crate::model::DrivingModel;

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const CHECKSUM_FILE: &str = "model.safetensors.sha256";

/// Where the model runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChoice {
    Cpu,
    /// A CUDA device by ordinal (needs the `cuda` feature).
    Cuda(usize),
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;

    /// `cpu`, `cuda` (device 0) or `cuda:N`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| format!("expected cpu, cuda or cuda:N, got {s:?}")),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceChoice {
    /// Opens the device; a CUDA choice in a build without the `cuda`
    /// feature, or on a machine without that GPU, is an error that says so.
    pub fn open(self) -> Result<Device, Error> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(n) => {
                if !candle_core::utils::cuda_is_available() {
                    return Err(Error::Device(format!(
                        "{self} requested, but this build has no CUDA support: rebuild with \
                         `--features cuda` (CUDA toolkit required) or use --device cpu"
                    )));
                }
                Device::new_cuda(n).map_err(|e| {
                    Error::Device(format!(
                        "cannot open {self}: {e}; check `nvidia-smi` lists the GPU and the \
                         container was given it, or use --device cpu"
                    ))
                })
            }
        }
    }
}

/// F32 on the CPU, BF16 on CUDA.
pub fn default_dtype(device: &Device) -> DType {
    if device.is_cuda() {
        DType::BF16
    } else {
        DType::F32
    }
}

/// Oldest CUDA compute capability the model runs on (Volta): BF16 storage
/// and the tensor-core paths candle uses need it.
pub const MIN_COMPUTE_CAPABILITY: (i32, i32) = (7, 0);

/// Free device memory demanded beyond the model's estimated need.
pub const MEMORY_HEADROOM: f64 = 0.20;

/// What a CUDA device offers, as the preflight checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CudaResources {
    /// `(major, minor)`.
    pub compute_capability: (i32, i32),
    pub free_bytes: u64,
    pub total_bytes: u64,
}

/// Queries the compute capability and free memory of a CUDA `device`.
#[cfg(feature = "cuda")]
pub fn cuda_resources(device: &Device) -> Result<CudaResources, Error> {
    use candle_core::cuda_backend::cudarc::driver::result::mem_get_info;
    use candle_core::cuda_backend::cudarc::driver::sys::CUdevice_attribute;
    let dev = device
        .as_cuda_device()
        .map_err(|e| Error::Device(e.to_string()))?;
    let stream = dev.cuda_stream();
    let ctx = stream.context();
    fn query(what: &str, e: impl std::fmt::Debug) -> Error {
        Error::Device(format!("querying the GPU's {what}: {e:?}"))
    }
    let major = ctx
        .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
        .map_err(|e| query("compute capability", e))?;
    let minor = ctx
        .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
        .map_err(|e| query("compute capability", e))?;
    // The free-memory query reads the calling thread's current context.
    ctx.bind_to_thread().map_err(|e| query("context", e))?;
    let (free, total) = mem_get_info().map_err(|e| query("memory", e))?;
    Ok(CudaResources {
        compute_capability: (major, minor),
        free_bytes: free as u64,
        total_bytes: total as u64,
    })
}

/// Without the `cuda` feature there is no CUDA device to query.
#[cfg(not(feature = "cuda"))]
pub fn cuda_resources(_device: &Device) -> Result<CudaResources, Error> {
    Err(Error::Device(
        "this build has no CUDA support: rebuild with `--features cuda` (CUDA toolkit \
         required) or use --device cpu"
            .into(),
    ))
}

/// Device memory the model needs to answer batches of up to `max_batch`
/// in `dtype`: the weights, the largest live activations of one forward
/// pass (convolution maps, the fusion sequence, attention scores, the MLP
/// hidden layer, a few of each alive at once), and a fixed allowance for
/// the cuBLAS/cuDNN workspaces and the CUDA context's own allocations.
pub fn device_memory_need(
    cfg: &ModelConfig,
    parameters: usize,
    dtype: DType,
    max_batch: usize,
) -> u64 {
    const WORKSPACE: u64 = 64 << 20;
    const LIVE_COPIES: u64 = 4;
    let (h, w) = (cfg.image_height as u64, cfg.image_width as u64);
    let [c1, c2, c3] = cfg.stem_channels.map(|c| c as u64);
    let conv = 3 * h * w + c1 * (h / 2) * (w / 2) + c2 * (h / 4) * (w / 4) + c3 * (h / 8) * (w / 8);
    let s = cfg.sequence_len() as u64;
    let d = cfg.d_model as u64;
    let fusion = 3 * s * d + (cfg.num_heads as u64) * s * s + s * (cfg.d_ff as u64);
    let head = 3 * d + cfg.d_ff as u64 + 3 * cfg.horizon as u64;
    let per_sample = (conv + fusion + head) * LIVE_COPIES;
    let elem = dtype.size_in_bytes() as u64;
    parameters as u64 * elem + per_sample * max_batch.max(1) as u64 * elem + WORKSPACE
}

/// The preflight's decision on a CUDA device: compute capability at least
/// [`MIN_COMPUTE_CAPABILITY`] and free memory at least `need` plus
/// [`MEMORY_HEADROOM`]. The message says what to do.
pub fn check_cuda(res: &CudaResources, need: u64) -> Result<(), String> {
    let (major, minor) = res.compute_capability;
    if (major, minor) < MIN_COMPUTE_CAPABILITY {
        return Err(format!(
            "the GPU has compute capability {major}.{minor}, the model needs at least {}.{} \
             (Volta or newer): use a newer GPU or --device cpu",
            MIN_COMPUTE_CAPABILITY.0, MIN_COMPUTE_CAPABILITY.1
        ));
    }
    let want = (need as f64 * (1.0 + MEMORY_HEADROOM)).ceil() as u64;
    if res.free_bytes < want {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        return Err(format!(
            "the GPU has {:.0} MiB free of {:.0} MiB, the model needs {:.0} MiB plus {:.0} % \
             ({:.0} MiB): free GPU memory (other processes, `nvidia-smi`), lower \
             --batch-max-size, or use --device cpu",
            mib(res.free_bytes),
            mib(res.total_bytes),
            mib(need),
            MEMORY_HEADROOM * 100.0,
            mib(want)
        ));
    }
    Ok(())
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A loaded model and where it came from.
#[derive(Debug)]
pub struct LoadedModel {
    pub model: DrivingModel,
    pub dir: PathBuf,
    /// SHA-256 of `model.safetensors`, verified against the sidecar.
    pub sha256: String,
    pub weight_bytes: usize,
    pub parameters: usize,
}

/// Reads `config.json` of a model directory.
pub fn load_config(dir: &Path) -> Result<ModelConfig, Error> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::Weights(format!(
            "{}: {e}; point --model-dir (ATLAS_MODEL_DIR) at a model directory with {CONFIG_FILE}, \
             {WEIGHTS_FILE} and {CHECKSUM_FILE}, or train one with `atlas-model train --out DIR`",
            path.display()
        ))
    })?;
    ModelConfig::from_json(&text, &path.display().to_string())
}

/// The names and shapes a configuration's network has.
pub fn expected_shapes(cfg: &ModelConfig) -> Result<BTreeMap<String, Vec<usize>>, Error> {
    let vm = VarMap::new();
    DrivingModel::new(cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu))?;
    let data = vm
        .data()
        .lock()
        .map_err(|_| Error::Weights("var map poisoned".into()))?;
    Ok(data
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().dims().to_vec()))
        .collect())
}

/// Compares loaded tensors with the configuration; every difference is
/// listed.
pub fn check_shapes(
    cfg: &ModelConfig,
    tensors: &HashMap<String, Tensor>,
    origin: &str,
) -> Result<(), Error> {
    let want = expected_shapes(cfg)?;
    let mut problems = Vec::new();
    for (name, shape) in &want {
        match tensors.get(name) {
            None => problems.push(format!("missing {name} {shape:?}")),
            Some(t) if t.dims() != shape.as_slice() => problems.push(format!(
                "{name} has shape {:?}, config.json implies {shape:?}",
                t.dims()
            )),
            Some(_) => {}
        }
    }
    let mut extra: Vec<&String> = tensors.keys().filter(|k| !want.contains_key(*k)).collect();
    extra.sort();
    problems.extend(extra.into_iter().map(|k| format!("unexpected tensor {k}")));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Weights(format!(
            "{origin} does not match its config.json: {}",
            problems.join("; ")
        )))
    }
}

/// Loads a model directory onto `device` (F32 on the CPU, BF16 on CUDA),
/// verifying the checksum and every tensor's shape.
pub fn load(dir: &Path, device: &Device) -> Result<LoadedModel, Error> {
    load_with_dtype(dir, device, default_dtype(device))
}

/// Like [`load`] with an explicit dtype.
pub fn load_with_dtype(dir: &Path, device: &Device, dtype: DType) -> Result<LoadedModel, Error> {
    let cfg = load_config(dir)?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&weights_path).map_err(|e| {
        Error::Weights(format!(
            "{}: {e}; the model directory is incomplete: restore {WEIGHTS_FILE} (e.g. `git \
             checkout -- {}`) or retrain with `atlas-model train --out {}`",
            weights_path.display(),
            weights_path.display(),
            dir.display()
        ))
    })?;
    let sha256 = verify_checksum(dir, &bytes)?;
    let origin = weights_path.display().to_string();
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
        .map_err(|e| Error::Weights(format!("{origin}: not a readable safetensors file: {e}")))?;
    check_shapes(&cfg, &tensors, &origin)?;
    let parameters = tensors.values().map(|t| t.elem_count()).sum();
    let tensors = tensors
        .into_iter()
        .map(|(k, t)| Ok((k, t.to_dtype(dtype)?.to_device(device)?)))
        .collect::<Result<HashMap<_, _>, candle_core::Error>>()?;
    let vb = VarBuilder::from_tensors(tensors, dtype, device);
    let model = DrivingModel::new(&cfg, vb)?;
    Ok(LoadedModel {
        model,
        dir: dir.to_path_buf(),
        sha256,
        weight_bytes: bytes.len(),
        parameters,
    })
}

/// Checks `bytes` against `model.safetensors.sha256`; returns the digest.
pub fn verify_checksum(dir: &Path, bytes: &[u8]) -> Result<String, Error> {
    let path = dir.join(CHECKSUM_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::Weights(format!(
            "{}: {e}; every shipped model has a checksum sidecar: restore it, or after retraining \
             write it with `sha256sum {WEIGHTS_FILE} > {CHECKSUM_FILE}` in {}",
            path.display(),
            dir.display()
        ))
    })?;
    let want = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let got = sha256_hex(bytes);
    if want.len() != 64 || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::Weights(format!(
            "{}: expected a SHA-256 hex digest, got {:?}",
            path.display(),
            text.trim()
        )));
    }
    if want != got {
        return Err(Error::Weights(format!(
            "{} is corrupt or was replaced: its SHA-256 is {got}, {} says {want}; restore the \
             shipped file (`git checkout -- {}` / `git lfs pull`) or retrain and rewrite the \
             checksum",
            dir.join(WEIGHTS_FILE).display(),
            path.display(),
            dir.join(WEIGHTS_FILE).display()
        )));
    }
    Ok(got)
}

/// Writes a model directory: `config.json`, `model.safetensors` from
/// `varmap`, and the checksum sidecar. Returns the digest.
pub fn save(dir: &Path, cfg: &ModelConfig, varmap: &VarMap) -> Result<String, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let text = serde_json::to_string_pretty(cfg)
        .map_err(|e| Error::Config(format!("serialising the config: {e}")))?;
    let cfg_path = dir.join(CONFIG_FILE);
    std::fs::write(&cfg_path, text + "\n").map_err(|e| Error::io(&cfg_path, e))?;
    let weights = dir.join(WEIGHTS_FILE);
    // Write next to the target, then rename, so a reader never sees half a
    // file under the final name.
    let tmp = dir.join(format!("{WEIGHTS_FILE}.tmp"));
    varmap.save(&tmp)?;
    std::fs::rename(&tmp, &weights).map_err(|e| Error::io(&weights, e))?;
    let bytes = std::fs::read(&weights).map_err(|e| Error::io(&weights, e))?;
    let digest = sha256_hex(&bytes);
    let sum = dir.join(CHECKSUM_FILE);
    std::fs::write(&sum, format!("{digest}  {WEIGHTS_FILE}\n")).map_err(|e| Error::io(&sum, e))?;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved_tiny(dir: &Path) -> VarMap {
        let cfg = ModelConfig::tiny();
        let vm = VarMap::new();
        DrivingModel::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu)).unwrap();
        save(dir, &cfg, &vm).unwrap();
        vm
    }

    #[test]
    fn save_then_load_round_trips_with_checksum() {
        let tmp = tempfile::tempdir().unwrap();
        saved_tiny(tmp.path());
        let loaded = load(tmp.path(), &Device::Cpu).unwrap();
        assert_eq!(loaded.model.config(), &ModelConfig::tiny());
        assert_eq!(loaded.sha256.len(), 64);
        assert!(loaded.parameters > 1000);
        let sidecar = std::fs::read_to_string(tmp.path().join(CHECKSUM_FILE)).unwrap();
        assert!(sidecar.starts_with(&loaded.sha256));
    }

    #[test]
    fn missing_corrupt_and_mismatched_weights_say_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let e = load(tmp.path(), &Device::Cpu).unwrap_err().to_string();
        assert!(
            e.contains("config.json") && e.contains("--model-dir"),
            "{e}"
        );

        saved_tiny(tmp.path());
        let weights = tmp.path().join(WEIGHTS_FILE);
        let mut bytes = std::fs::read(&weights).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 0xff;
        std::fs::write(&weights, &bytes).unwrap();
        let e = load(tmp.path(), &Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("corrupt") && e.contains("retrain"), "{e}");

        // Valid file and checksum, but the config says a wider model.
        saved_tiny(tmp.path());
        let cfg = ModelConfig {
            d_model: 32,
            ..ModelConfig::tiny()
        };
        std::fs::write(
            tmp.path().join(CONFIG_FILE),
            serde_json::to_string(&cfg).unwrap(),
        )
        .unwrap();
        let e = load(tmp.path(), &Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("does not match its config.json"), "{e}");
        assert!(e.contains("fusion.norm.weight"), "{e}");

        std::fs::remove_file(tmp.path().join(CHECKSUM_FILE)).unwrap();
        let e = load(tmp.path(), &Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("sha256sum"), "{e}");
    }

    #[test]
    fn cuda_checks_capability_and_memory_with_headroom() {
        let cfg = ModelConfig::default();
        let params = 408_000;
        let one = device_memory_need(&cfg, params, DType::BF16, 1);
        let eight = device_memory_need(&cfg, params, DType::BF16, 8);
        let eight_f32 = device_memory_need(&cfg, params, DType::F32, 8);
        assert!(one > params as u64 * 2 && eight > one && eight_f32 > eight);
        let gpu = |cc, free| CudaResources {
            compute_capability: cc,
            free_bytes: free,
            total_bytes: 16 << 30,
        };
        check_cuda(&gpu((8, 6), 8 << 30), eight).unwrap();
        check_cuda(&gpu((7, 0), 8 << 30), eight).unwrap();
        let e = check_cuda(&gpu((6, 1), 8 << 30), eight).unwrap_err();
        assert!(
            e.contains("6.1") && e.contains("7.0") && e.contains("--device cpu"),
            "{e}"
        );
        // Exactly the need is not enough: 20 % more is required.
        let e = check_cuda(&gpu((8, 0), eight), eight).unwrap_err();
        assert!(e.contains("20 %") && e.contains("--batch-max-size"), "{e}");
        let just = (eight as f64 * 1.2).ceil() as u64;
        check_cuda(&gpu((8, 0), just), eight).unwrap();
        check_cuda(&gpu((8, 0), just - 1), eight).unwrap_err();
        if !candle_core::utils::cuda_is_available() {
            let e = cuda_resources(&Device::Cpu).unwrap_err().to_string();
            assert!(e.contains("--features cuda"), "{e}");
        }
    }

    #[test]
    fn device_choices_parse_and_cuda_needs_the_feature() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!(
            "cuda:1".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(1)
        );
        assert!("gpu".parse::<DeviceChoice>().is_err());
        assert_eq!(default_dtype(&Device::Cpu), DType::F32);
        if !candle_core::utils::cuda_is_available() {
            let e = DeviceChoice::Cuda(0).open().unwrap_err().to_string();
            assert!(e.contains("--features cuda"), "{e}");
        }
    }
}
