//! Behaviour cloning: collect expert demonstrations in simulator worlds,
//! fit the network with AdamW, save a model directory.
//!
//! [`train`] is the whole pipeline and the seam a CLI calls: it collects
//! `episodes` expert episodes ([`crate::collect`]), holds out every episode
//! whose index is a multiple of `1 / val_fraction` for validation, and
//! runs `steps` AdamW steps on random mini-batches with a linear warm-up
//! and cosine decay of the learning rate. The loss is a weighted L1 on the
//! planned poses (metres for x and y, radians for yaw; lateral and heading
//! errors weigh more, and so do the near-term poses a controller tracks).
//! Progress shows on a progress bar; every `log_every` steps a JSON line
//! (`step`, `lr`, `loss`, and on evaluation steps `val_loss`, `val_ade_m`,
//! `val_fde_m`) is appended to the log. Weights are initialised from the
//! seed (candle's CPU generator cannot be seeded), batches are drawn from
//! the seed, and the simulator is deterministic, so a run is repeatable up
//! to floating-point summation order across threads.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use atlas_sim::Map;
use atlas_sim::math::Rng;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use atlas_model::{Batch, DrivingModel, Features, ModelConfig, pretrained};

use crate::Error;
use crate::collect::{self, Demo, Driver};

/// Everything a training run needs.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub model: ModelConfig,
    /// OpenDRIVE maps episodes are drawn from.
    pub maps: Vec<PathBuf>,
    pub episodes: usize,
    /// Longest episode, in 0.1 s control steps.
    pub episode_steps: usize,
    /// Strength of the control perturbations while collecting (1 = default).
    pub noise: f64,
    /// Share of episodes held out for validation.
    pub val_fraction: f64,
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub warmup_steps: usize,
    pub seed: u64,
    pub log_every: usize,
    pub eval_every: usize,
    /// Model directory written at the end (and at every evaluation).
    pub out: PathBuf,
    /// JSON-lines loss log; `None` writes `<out>/train_log.jsonl`.
    pub log: Option<PathBuf>,
    /// Start from this model directory's weights (same architecture)
    /// instead of a fresh initialisation.
    pub init_from: Option<PathBuf>,
    /// Loss time weighting, see [`loss_weights`] (in [0, 2)).
    pub horizon_decay: f64,
    /// Sampling weight of demonstrations with an obstacle within
    /// [`OBSTACLE_NEAR`] metres ahead, relative to the others: braking
    /// behind things is rare in driving data and easily ignored.
    pub obstacle_weight: f64,
    /// Draw a progress bar on stderr (hidden when it is not a terminal).
    pub progress: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            maps: vec![
                PathBuf::from("maps/Town01.xodr"),
                PathBuf::from("maps/Town02.xodr"),
            ],
            episodes: 300,
            episode_steps: 250,
            noise: 1.0,
            val_fraction: 0.1,
            steps: 4000,
            batch_size: 32,
            lr: 1e-3,
            weight_decay: 1e-4,
            warmup_steps: 200,
            seed: 1,
            log_every: 25,
            eval_every: 500,
            out: PathBuf::from("models/atlas-drive-v1"),
            log: None,
            init_from: None,
            horizon_decay: 1.0,
            obstacle_weight: 1.0,
            progress: true,
        }
    }
}

/// Command-line flags of a training run, shared by `atlas-model train` and
/// `atlas train`; [`TrainArgs::options`] turns them into [`TrainOptions`].
#[derive(clap::Args, Clone, Debug)]
pub struct TrainArgs {
    /// Model directory to write (config.json, model.safetensors, checksum,
    /// train_log.jsonl).
    #[arg(long, default_value = "models/atlas-drive-v1")]
    pub out: PathBuf,
    /// Architecture as a config.json; the built-in default otherwise.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// OpenDRIVE maps to drive on (repeat or comma-separate).
    #[arg(long, value_delimiter = ',', default_values = ["maps/Town01.xodr", "maps/Town02.xodr"])]
    pub maps: Vec<PathBuf>,
    /// Demonstration episodes to collect.
    #[arg(long, default_value_t = 300)]
    pub episodes: usize,
    /// Longest episode in 0.1 s steps.
    #[arg(long, default_value_t = 250)]
    pub episode_steps: usize,
    /// Strength of the control perturbations while collecting.
    #[arg(long, default_value_t = 1.0)]
    pub noise: f64,
    /// Share of episodes held out for validation.
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// AdamW steps.
    #[arg(long, default_value_t = 4000)]
    pub steps: usize,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 200)]
    pub warmup_steps: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Steps between loss-log lines.
    #[arg(long, default_value_t = 25)]
    pub log_every: usize,
    /// Steps between validations (and checkpoints).
    #[arg(long, default_value_t = 500)]
    pub eval_every: usize,
    /// Loss log (JSON lines); default `<out>/train_log.jsonl`.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Start from this model directory's weights (fine-tuning).
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// Loss weight shift from the far to the near poses (0 = uniform).
    #[arg(long, default_value_t = 1.0)]
    pub horizon_decay: f64,
    /// Sampling weight of demonstrations with an obstacle close ahead.
    #[arg(long, default_value_t = 1.0)]
    pub obstacle_weight: f64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    /// The run these flags describe; reads and checks `--config`.
    pub fn options(&self) -> Result<TrainOptions, Error> {
        let model = match &self.config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                ModelConfig::from_json(&text, &p.display().to_string())?
            }
            None => ModelConfig::default(),
        };
        let opts = TrainOptions {
            model,
            maps: self.maps.clone(),
            episodes: self.episodes,
            episode_steps: self.episode_steps,
            noise: self.noise,
            val_fraction: self.val_fraction,
            steps: self.steps,
            batch_size: self.batch_size,
            lr: self.lr,
            weight_decay: self.weight_decay,
            warmup_steps: self.warmup_steps,
            seed: self.seed,
            log_every: self.log_every,
            eval_every: self.eval_every,
            out: self.out.clone(),
            log: self.log.clone(),
            init_from: self.init_from.clone(),
            horizon_decay: self.horizon_decay,
            obstacle_weight: self.obstacle_weight,
            progress: !self.quiet,
        };
        opts.validate()?;
        Ok(opts)
    }
}

impl TrainOptions {
    pub fn validate(&self) -> Result<(), Error> {
        self.model.validate()?;
        let bad = |m: &str| Err(Error::Config(m.into()));
        if self.maps.is_empty() {
            return bad("at least one map is needed");
        }
        if self.episodes < 2 || self.episode_steps == 0 {
            return bad("need at least 2 episodes of at least 1 step");
        }
        if self.steps == 0 || self.batch_size == 0 {
            return bad("steps and batch size must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("the learning rate must be a positive number");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("the weight decay must be non-negative");
        }
        if !(self.val_fraction.is_finite() && (0.0..0.5).contains(&self.val_fraction)) {
            return bad("the validation fraction must be in [0, 0.5)");
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return bad("the noise must be non-negative");
        }
        if !(self.horizon_decay.is_finite() && (0.0..2.0).contains(&self.horizon_decay)) {
            return bad("the horizon decay must be in [0, 2)");
        }
        if !(self.obstacle_weight.is_finite() && self.obstacle_weight > 0.0) {
            return bad("the obstacle weight must be a positive number");
        }
        Ok(())
    }
}

/// What a run achieved.
#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
    pub train_samples: usize,
    pub val_samples: usize,
    pub parameters: usize,
    pub first_loss: f64,
    pub final_loss: f64,
    pub val_loss: Option<f64>,
    pub val_ade_m: Option<f64>,
    pub val_fde_m: Option<f64>,
    pub collect_s: f64,
    pub train_s: f64,
    pub sha256: String,
}

/// One line of the loss log.
#[derive(Clone, Debug, Serialize)]
pub struct LogLine {
    pub step: usize,
    pub lr: f64,
    /// Mean training loss since the previous line.
    pub loss: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_ade_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_fde_m: Option<f64>,
    pub elapsed_s: f64,
}

/// Demonstrations with an obstacle closer than this (metres of free
/// distance) count as obstacle interactions for [`TrainOptions::obstacle_weight`].
pub const OBSTACLE_NEAR: f32 = 40.0;

/// Draws indices with probability proportional to their weights.
#[derive(Clone, Debug)]
pub struct WeightedSampler {
    cumulative: Vec<f64>,
}

impl WeightedSampler {
    /// `None` when there is nothing to draw (no positive weight).
    pub fn new(weights: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut total = 0.0;
        let cumulative: Vec<f64> = weights
            .into_iter()
            .map(|w| {
                total += if w.is_finite() && w > 0.0 { w } else { 0.0 };
                total
            })
            .collect();
        (total > 0.0).then_some(Self { cumulative })
    }

    pub fn draw(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&0.0);
        let u = uniform01(rng) * total;
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}

/// Loads a model directory's weights into `varmap` (checksum and shapes
/// verified), for warm starts.
pub fn load_into(varmap: &VarMap, cfg: &ModelConfig, dir: &std::path::Path) -> Result<(), Error> {
    let their = pretrained::load_config(dir)?;
    if &their != cfg {
        return Err(Error::Config(format!(
            "{} has a different architecture than the one being trained",
            dir.display()
        )));
    }
    let path = dir.join(pretrained::WEIGHTS_FILE);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    pretrained::verify_checksum(dir, &bytes)?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)?;
    pretrained::check_shapes(cfg, &tensors, &path.display().to_string())?;
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Config("var map poisoned".into()))?;
    for (name, var) in data.iter() {
        if let Some(t) = tensors.get(name) {
            var.set(&t.to_dtype(var.dtype())?.to_device(var.device())?)?;
        }
    }
    Ok(())
}

fn uniform01(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn normal(rng: &mut Rng) -> f64 {
    let u1 = uniform01(rng).max(1e-12);
    let u2 = uniform01(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Re-initialises every variable from `seed`: layer norms to identity,
/// biases to zero, positional parameters N(0, 0.02), embeddings N(0, 0.5),
/// convolutions He-normal, other weights N(0, 1/fan_in), the last head
/// layer scaled down so training starts from near-zero plans.
pub fn init_weights(varmap: &VarMap, seed: u64) -> Result<(), Error> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Config("var map poisoned".into()))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut rng = Rng::new(seed);
    for name in names {
        let var: &Var = &data[name];
        let t = var.as_tensor();
        let dims = t.dims().to_vec();
        let n = t.elem_count();
        let is_norm = name.split('.').any(|p| p.starts_with("norm"));
        let values: Vec<f32> = if is_norm {
            vec![if name.ends_with(".weight") { 1.0 } else { 0.0 }; n]
        } else if name.ends_with(".bias") {
            vec![0.0; n]
        } else {
            let std = if name.ends_with(".pos") || name.ends_with("plan_query") {
                0.02
            } else if name.starts_with("text.embed") {
                0.5
            } else {
                let fan_in: usize = dims.iter().skip(1).product::<usize>().max(1);
                let gain = if dims.len() == 4 { 2f64.sqrt() } else { 1.0 };
                let last = if name == "head.fc2.weight" { 0.1 } else { 1.0 };
                gain * last / (fan_in as f64).sqrt()
            };
            (0..n).map(|_| (normal(&mut rng) * std) as f32).collect()
        };
        let init = Tensor::from_vec(values, dims.as_slice(), t.device())?.to_dtype(t.dtype())?;
        var.set(&init)?;
    }
    Ok(())
}

/// Per-pose loss weights `[1, T, 3]` (mean 1): x 1, y 2, yaw 4 (per
/// radian), times a time factor falling linearly from `1 + decay / 2` for
/// the first pose to `1 - decay / 2` for the last (`decay` 0: uniform; the
/// far poses carry the braking, the near ones what a controller tracks).
pub fn loss_weights(cfg: &ModelConfig, device: &Device, decay: f64) -> Result<Tensor, Error> {
    let t = cfg.horizon;
    let mut w = Vec::with_capacity(t * 3);
    for k in 0..t {
        let time = 1.0 + decay / 2.0 - decay * k as f64 / (t.max(2) - 1) as f64;
        for dim in [1.0, 2.0, 4.0] {
            w.push(time * dim);
        }
    }
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    let w: Vec<f32> = w.iter().map(|v| (v / mean) as f32).collect();
    Ok(Tensor::from_vec(w, (1, t, 3), device)?)
}

/// Weighted L1 between predicted and target poses `[B, T, 3]`.
pub fn loss(pred: &Tensor, target: &Tensor, weights: &Tensor) -> Result<Tensor, Error> {
    Ok((pred - target)?.abs()?.broadcast_mul(weights)?.mean_all()?)
}

/// Targets of `demos` as `[B, T, 3]`.
pub fn targets(cfg: &ModelConfig, demos: &[&Demo], device: &Device) -> Result<Tensor, Error> {
    let mut v: Vec<f32> = Vec::with_capacity(demos.len() * cfg.horizon * 3);
    for d in demos {
        if d.target.len() != cfg.horizon {
            return Err(Error::Input(format!(
                "a demonstration has {} target poses, the model plans {}",
                d.target.len(),
                cfg.horizon
            )));
        }
        v.extend(d.target.iter().flatten());
    }
    Ok(Tensor::from_vec(v, (demos.len(), cfg.horizon, 3), device)?)
}

/// Collects `opts.episodes` expert episodes (a progress bar per episode).
pub fn collect_demos(opts: &TrainOptions, maps: &[Arc<Map>]) -> Result<Vec<Demo>, Error> {
    let bar = progress_bar(opts.progress, opts.episodes as u64, "collecting");
    let mut demos = Vec::new();
    let (mut done, mut failed) = (0usize, 0usize);
    for i in 0..opts.episodes {
        let spec = collect::episode_spec(maps.len(), opts.seed, i as u64, opts.episode_steps);
        match collect::run_episode(
            &opts.model,
            maps,
            &spec,
            i as u32,
            &Driver::Expert { noise: opts.noise },
            Some(&mut demos),
        ) {
            Ok(_) => done += 1,
            // A random draw that yields no usable route is skipped.
            Err(Error::Sim(msg)) => {
                failed += 1;
                tracing::debug!(episode = i, %msg, "episode skipped");
            }
            Err(e) => return Err(e),
        }
        bar.set_message(format!("{} samples", demos.len()));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if done == 0 {
        return Err(Error::Sim(format!(
            "all {failed} episodes failed: check the maps have drivable lanes"
        )));
    }
    Ok(demos)
}

fn progress_bar(enabled: bool, len: u64, what: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} (eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_string());
    bar
}

/// Losses on a set of demonstrations: weighted L1, mean and final
/// displacement error (metres).
pub fn evaluate(
    model: &DrivingModel,
    demos: &[&Demo],
    weights: &Tensor,
    batch_size: usize,
) -> Result<(f64, f64, f64), Error> {
    let cfg = model.config();
    let (mut loss_sum, mut ade_sum, mut fde_sum, mut n) = (0.0, 0.0, 0.0, 0usize);
    for chunk in demos.chunks(batch_size.max(1)) {
        let feats: Vec<&Features> = chunk.iter().map(|d| &d.features).collect();
        let batch = Batch::new(cfg, &feats, model.device(), model.dtype())?;
        let pred = model.forward(&batch)?.to_dtype(DType::F32)?;
        let tgt = targets(cfg, chunk, model.device())?;
        let l = loss(&pred, &tgt, weights)?.to_scalar::<f32>()?;
        let diff = (pred - tgt)?.narrow(2, 0, 2)?;
        let dist = diff.sqr()?.sum(2)?.sqrt()?; // [B, T]
        let ade = dist.mean(1)?.sum_all()?.to_scalar::<f32>()?;
        let fde = dist
            .narrow(1, cfg.horizon - 1, 1)?
            .sum_all()?
            .to_scalar::<f32>()?;
        loss_sum += f64::from(l) * chunk.len() as f64;
        ade_sum += f64::from(ade);
        fde_sum += f64::from(fde);
        n += chunk.len();
    }
    let n = n.max(1) as f64;
    Ok((loss_sum / n, ade_sum / n, fde_sum / n))
}

/// Fits a fresh model on `train` (validating on `val`), writing the loss
/// log and the model directory. Returns the trained variables and report.
pub fn fit(
    opts: &TrainOptions,
    train: &[&Demo],
    val: &[&Demo],
    device: &Device,
) -> Result<(VarMap, TrainReport), Error> {
    if train.is_empty() {
        return Err(Error::Input("no training samples".into()));
    }
    let cfg = &opts.model;
    let varmap = VarMap::new();
    let model = DrivingModel::new(cfg, VarBuilder::from_varmap(&varmap, DType::F32, device))?;
    init_weights(&varmap, opts.seed)?;
    if let Some(dir) = &opts.init_from {
        load_into(&varmap, cfg, dir)?;
    }
    let sampler = WeightedSampler::new(train.iter().map(|d| {
        if d.obstacle_gap < OBSTACLE_NEAR {
            opts.obstacle_weight
        } else {
            1.0
        }
    }))
    .ok_or_else(|| Error::Input("no training samples".into()))?;
    let parameters = varmap.all_vars().iter().map(|v| v.elem_count()).sum();
    let mut opt = AdamW::new(
        varmap.all_vars(),
        ParamsAdamW {
            lr: opts.lr,
            weight_decay: opts.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let weights = loss_weights(cfg, device, opts.horizon_decay)?;
    let log_path = opts
        .log
        .clone()
        .unwrap_or_else(|| opts.out.join("train_log.jsonl"));
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut log = std::fs::File::create(&log_path).map_err(|e| Error::io(&log_path, e))?;
    let bar = progress_bar(opts.progress, opts.steps as u64, "training");
    let mut rng = Rng::new(opts.seed ^ 0xB47C_4E55);
    let started = Instant::now();
    let (mut first_loss, mut window, mut window_n, mut last_loss) = (None, 0.0, 0usize, 0.0);
    let mut last_eval = None;
    let mut sha256 = String::new();

    for step in 1..=opts.steps {
        let lr = schedule(opts, step);
        opt.set_learning_rate(lr);
        let picks: Vec<&Demo> = (0..opts.batch_size)
            .map(|_| {
                // Equal weights draw exactly as plain uniform sampling.
                if opts.obstacle_weight == 1.0 {
                    train[rng.below(train.len())]
                } else {
                    train[sampler.draw(&mut rng)]
                }
            })
            .collect();
        let feats: Vec<&Features> = picks.iter().map(|d| &d.features).collect();
        let batch = Batch::new(cfg, &feats, device, DType::F32)?;
        let pred = model.forward(&batch)?;
        let l = loss(&pred, &targets(cfg, &picks, device)?, &weights)?;
        opt.backward_step(&l)?;
        let lv = f64::from(l.to_scalar::<f32>()?);
        if !lv.is_finite() {
            return Err(Error::Input(format!(
                "the loss diverged at step {step}; lower --lr"
            )));
        }
        first_loss.get_or_insert(lv);
        window += lv;
        window_n += 1;
        bar.inc(1);

        let eval_now = step % opts.eval_every.max(1) == 0 || step == opts.steps;
        if step % opts.log_every.max(1) == 0 || eval_now {
            last_loss = window / window_n.max(1) as f64;
            let mut line = LogLine {
                step,
                lr,
                loss: last_loss,
                val_loss: None,
                val_ade_m: None,
                val_fde_m: None,
                elapsed_s: started.elapsed().as_secs_f64(),
            };
            if eval_now && !val.is_empty() {
                let (vl, ade, fde) = evaluate(&model, val, &weights, 64)?;
                (line.val_loss, line.val_ade_m, line.val_fde_m) = (Some(vl), Some(ade), Some(fde));
                last_eval = Some((vl, ade, fde));
            }
            if eval_now {
                // A checkpoint at every evaluation: a cut-short run still
                // leaves usable weights.
                sha256 = pretrained::save(&opts.out, cfg, &varmap)?;
            }
            let text = serde_json::to_string(&line)
                .map_err(|e| Error::Config(format!("log line: {e}")))?;
            writeln!(log, "{text}").map_err(|e| Error::io(&log_path, e))?;
            bar.set_message(match last_eval {
                Some((vl, ade, _)) => format!("loss {last_loss:.4} val {vl:.4} ade {ade:.2} m"),
                None => format!("loss {last_loss:.4}"),
            });
            window = 0.0;
            window_n = 0;
        }
    }
    bar.finish_and_clear();
    let report = TrainReport {
        train_samples: train.len(),
        val_samples: val.len(),
        parameters,
        first_loss: first_loss.unwrap_or(0.0),
        final_loss: last_loss,
        val_loss: last_eval.map(|e| e.0),
        val_ade_m: last_eval.map(|e| e.1),
        val_fde_m: last_eval.map(|e| e.2),
        collect_s: 0.0,
        train_s: started.elapsed().as_secs_f64(),
        sha256,
    };
    Ok((varmap, report))
}

/// Linear warm-up, then cosine decay to 5 % of the peak.
fn schedule(opts: &TrainOptions, step: usize) -> f64 {
    let warm = opts.warmup_steps.max(1);
    if step <= warm {
        return opts.lr * step as f64 / warm as f64;
    }
    let span = (opts.steps.saturating_sub(warm)).max(1) as f64;
    let p = ((step - warm) as f64 / span).min(1.0);
    opts.lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()))
}

/// The whole pipeline: collect, split by episode, fit, save to `opts.out`.
pub fn train(opts: &TrainOptions) -> Result<TrainReport, Error> {
    opts.validate()?;
    let maps = collect::load_maps(&opts.maps)?;
    let started = Instant::now();
    let demos = collect_demos(opts, &maps)?;
    let collect_s = started.elapsed().as_secs_f64();
    let every = if opts.val_fraction > 0.0 {
        (1.0 / opts.val_fraction).round().max(2.0) as u32
    } else {
        u32::MAX
    };
    let (val, train): (Vec<&Demo>, Vec<&Demo>) =
        demos.iter().partition(|d| d.episode % every == every - 1);
    tracing::info!(
        train = train.len(),
        val = val.len(),
        collect_s,
        "demonstrations collected"
    );
    let (_, mut report) = fit(opts, &train, &val, &Device::Cpu)?;
    report.collect_s = collect_s;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_model::{DriveInput, ImageView};

    fn demo(cfg: &ModelConfig, speed: f64, turn: f64) -> Demo {
        let data: Vec<u8> = (0..32 * 24 * 3)
            .map(|i| ((i as f64 * turn).sin() * 100.0 + 128.0) as u8)
            .collect();
        let input = DriveInput {
            image: ImageView {
                width: 32,
                height: 24,
                data: &data,
            },
            speed,
            accel: 0.0,
            yaw_rate: 0.0,
            history: vec![],
            route: (0..6)
                .map(|i| {
                    let x = 4.0 * f64::from(i);
                    [x, turn * x * x / 40.0]
                })
                .collect(),
            instruction: String::new(),
        };
        Demo {
            features: Features::encode(cfg, &input).unwrap(),
            target: (1..=cfg.horizon)
                .map(|k| {
                    let x = speed * 0.1 * k as f64;
                    [
                        x as f32,
                        (turn * x * x / 40.0) as f32,
                        (turn * x / 20.0) as f32,
                    ]
                })
                .collect(),
            episode: 0,
            obstacle_gap: f32::INFINITY,
        }
    }

    #[test]
    fn a_few_steps_lower_the_loss_on_a_tiny_batch() {
        let cfg = ModelConfig::tiny();
        let demos: Vec<Demo> = [(2.0, 0.5), (6.0, -0.5), (8.0, 0.0), (4.0, 1.0)]
            .iter()
            .map(|&(v, t)| demo(&cfg, v, t))
            .collect();
        let refs: Vec<&Demo> = demos.iter().collect();
        let tmp = tempfile::tempdir().unwrap();
        let opts = TrainOptions {
            model: cfg.clone(),
            steps: 60,
            batch_size: 4,
            lr: 3e-3,
            warmup_steps: 5,
            log_every: 10,
            eval_every: 30,
            out: tmp.path().join("m"),
            progress: false,
            ..TrainOptions::default()
        };
        let device = Device::Cpu;
        let weights = loss_weights(&cfg, &device, opts.horizon_decay).unwrap();
        let (varmap, report) = fit(&opts, &refs, &refs, &device).unwrap();
        let model =
            DrivingModel::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &device)).unwrap();
        let (after, _, _) = evaluate(&model, &refs, &weights, 8).unwrap();
        assert!(
            after < report.first_loss * 0.5,
            "loss {} → {after}",
            report.first_loss
        );
        // The log has a line per 10 steps, the directory loads back.
        let log = std::fs::read_to_string(tmp.path().join("m/train_log.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 6);
        assert!(log.lines().nth(2).unwrap().contains("val_ade_m"));
        let loaded = pretrained::load(&tmp.path().join("m"), &device).unwrap();
        assert_eq!(loaded.sha256, report.sha256);
    }

    #[test]
    fn initialisation_is_seeded() {
        let cfg = ModelConfig::tiny();
        let snapshot = |seed| {
            let vm = VarMap::new();
            DrivingModel::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu))
                .unwrap();
            init_weights(&vm, seed).unwrap();
            let data = vm.data().lock().unwrap();
            let t = data["fusion.layers.0.attn.qkv.weight"].as_tensor().clone();
            let ln = data["fusion.norm.weight"].as_tensor().clone();
            (
                t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                ln.to_vec1::<f32>().unwrap(),
            )
        };
        let (a, ln) = snapshot(3);
        assert_eq!(a, snapshot(3).0);
        assert_ne!(a, snapshot(4).0);
        assert!(ln.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn weighted_sampling_follows_the_weights_and_warm_starts_load() {
        let s = WeightedSampler::new([1.0, 0.0, 3.0]).unwrap();
        let mut rng = Rng::new(1);
        let mut counts = [0usize; 3];
        for _ in 0..4000 {
            counts[s.draw(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        let ratio = counts[2] as f64 / counts[0] as f64;
        assert!((2.5..3.5).contains(&ratio), "{counts:?}");
        assert!(WeightedSampler::new([0.0, f64::NAN]).is_none());

        let cfg = ModelConfig::tiny();
        let tmp = tempfile::tempdir().unwrap();
        let a = VarMap::new();
        DrivingModel::new(&cfg, VarBuilder::from_varmap(&a, DType::F32, &Device::Cpu)).unwrap();
        init_weights(&a, 1).unwrap();
        pretrained::save(tmp.path(), &cfg, &a).unwrap();
        let b = VarMap::new();
        DrivingModel::new(&cfg, VarBuilder::from_varmap(&b, DType::F32, &Device::Cpu)).unwrap();
        init_weights(&b, 2).unwrap();
        load_into(&b, &cfg, tmp.path()).unwrap();
        let get = |vm: &VarMap| {
            vm.data().lock().unwrap()["head.fc1.weight"]
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(get(&a), get(&b));
        let other = ModelConfig { d_ff: 64, ..cfg };
        assert!(load_into(&b, &other, tmp.path()).is_err());
    }

    #[test]
    fn schedule_warms_up_then_decays() {
        let opts = TrainOptions {
            steps: 1000,
            warmup_steps: 100,
            lr: 1e-3,
            ..TrainOptions::default()
        };
        assert!((schedule(&opts, 50) - 5e-4).abs() < 1e-12);
        assert!((schedule(&opts, 100) - 1e-3).abs() < 1e-12);
        assert!((schedule(&opts, 1000) - 5e-5).abs() < 1e-9);
        assert!(
            TrainOptions {
                lr: f64::NAN,
                ..opts.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            TrainOptions {
                maps: vec![],
                ..opts
            }
            .validate()
            .is_err()
        );
    }
}
