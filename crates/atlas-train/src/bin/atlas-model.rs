//! `atlas-model`: train the driving model, evaluate it closed loop in the
//! built-in simulator, or inspect a model directory.
//!
//! CPU threads follow `RAYON_NUM_THREADS` (candle reads it); on a shared
//! machine run training as `RAYON_NUM_THREADS=1 nice -n 10 atlas-model train …`.

use std::path::PathBuf;

use anyhow::Context;
use atlas_model::{DeviceChoice, ModelConfig};
use atlas_train::collect::{self, Driver, EpisodeResult};
use atlas_train::train::{self, TrainArgs};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "atlas-model",
    version,
    about = "ATLAS driving model: train, evaluate, inspect"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Collect expert demonstrations in simulator worlds and train by
    /// behaviour cloning; writes a model directory.
    Train(TrainArgs),
    /// Drive random held-out routes closed loop with the model (or the
    /// expert) and report route completion and infractions.
    Eval(EvalArgs),
    /// Open-loop errors on fresh expert demonstrations, split by whether an
    /// obstacle is close ahead (tells whether the network reads the camera).
    OpenLoop(EvalArgs),
    /// Measure inference latency percentiles and throughput on encoded
    /// inputs from a simulator episode.
    Latency(LatencyArgs),
    /// Write a parity fixture for other implementations of the network:
    /// encoded inputs from a simulator episode and this model's outputs,
    /// as safetensors (`image`, `ego`, `route`, `tokens` (i64),
    /// `token_mask`, `output`).
    ExportFixture(FixtureArgs),
    /// Load a model directory, verify it and print its summary.
    Info {
        #[arg(long, default_value = "models/atlas-drive-v1")]
        model_dir: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct EvalArgs {
    #[arg(long, env = "ATLAS_MODEL_DIR", default_value = "models/atlas-drive-v1")]
    model_dir: PathBuf,
    /// Drive with the privileged expert instead of the model.
    #[arg(long)]
    expert: bool,
    #[arg(long, value_delimiter = ',', default_values = ["maps/Town01.xodr", "maps/Town02.xodr"])]
    maps: Vec<PathBuf>,
    #[arg(long, default_value_t = 30)]
    episodes: usize,
    #[arg(long, default_value_t = 400)]
    episode_steps: usize,
    /// Seed of the episode draws; pick one training did not use.
    #[arg(long, default_value_t = 1_000_003)]
    seed: u64,
    /// Extra instruction for the model (e.g. "drive slowly").
    #[arg(long, default_value = "")]
    instruction: String,
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// Print one JSON object per episode.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct LatencyArgs {
    #[arg(long, env = "ATLAS_MODEL_DIR", default_value = "models/atlas-drive-v1")]
    model_dir: PathBuf,
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8, 32])]
    batch: Vec<usize>,
    /// Timed forward passes per batch size (after 20 untimed ones).
    #[arg(long, default_value_t = 300)]
    iters: usize,
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// Time only the forward pass on ready input tensors and the copy of
    /// its output to the host (what bench/torch times in PyTorch), not the
    /// stacking of encoded features.
    #[arg(long)]
    forward_only: bool,
}

#[derive(clap::Args, Debug)]
struct FixtureArgs {
    #[arg(long, env = "ATLAS_MODEL_DIR", default_value = "models/atlas-drive-v1")]
    model_dir: PathBuf,
    /// Samples in the fixture.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long)]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(a) => run_train(a),
        Command::Eval(a) => run_eval(a),
        Command::Latency(a) => run_latency(a),
        Command::OpenLoop(a) => run_open_loop(a),
        Command::ExportFixture(a) => run_export_fixture(a),
        Command::Info { model_dir } => {
            let device = DeviceChoice::Cpu.open()?;
            let m = atlas_model::load(&model_dir, &device)?;
            println!(
                "{}: {} parameters, {} bytes, sha256 {}\n{}",
                model_dir.display(),
                m.parameters,
                m.weight_bytes,
                m.sha256,
                serde_json::to_string_pretty(m.model.config())?
            );
            Ok(())
        }
    }
}

fn run_train(a: TrainArgs) -> anyhow::Result<()> {
    let report = train::train(&a.options()?)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn run_eval(a: EvalArgs) -> anyhow::Result<()> {
    let maps = collect::load_maps(&a.maps)?;
    let device = a.device.open()?;
    let loaded = if a.expert {
        None
    } else {
        Some(atlas_model::load(&a.model_dir, &device)?)
    };
    let cfg = loaded
        .as_ref()
        .map_or_else(ModelConfig::default, |m| m.model.config().clone());
    let driver = match &loaded {
        Some(m) => Driver::Model {
            model: &m.model,
            instruction: &a.instruction,
        },
        None => Driver::Expert { noise: 0.0 },
    };
    let mut results: Vec<EpisodeResult> = Vec::new();
    for i in 0..a.episodes {
        let spec = collect::episode_spec(maps.len(), a.seed, i as u64, a.episode_steps);
        match collect::run_episode(&cfg, &maps, &spec, i as u32, &driver, None) {
            Ok(r) => {
                if a.json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "episode": i, "map": r.map, "route_length_m": r.route_length,
                            "completion": r.completion(), "collisions": r.collisions,
                            "off_road": r.off_road, "max_offset_m": r.max_offset,
                            "idle_s": r.idle_s, "steps": r.steps,
                            "collision_speed": r.collision_speed,
                        })
                    );
                }
                results.push(r);
            }
            Err(atlas_train::Error::Sim(msg)) => eprintln!("episode {i} skipped: {msg}"),
            Err(e) => return Err(e.into()),
        }
    }
    let n = results.len().max(1) as f64;
    let completion = results.iter().map(EpisodeResult::completion).sum::<f64>() / n;
    let completed = results.iter().filter(|r| r.completed).count();
    let collided = results.iter().filter(|r| r.collisions > 0).count();
    let off_road = results.iter().filter(|r| r.off_road > 0).count();
    let offset = results.iter().map(|r| r.max_offset).sum::<f64>() / n;
    println!(
        "{} over {} episodes: mean route completion {:.1} %, completed {}, with collisions {}, \
         off road {}, mean max offset {:.2} m",
        if a.expert { "expert" } else { "model" },
        results.len(),
        completion * 100.0,
        completed,
        collided,
        off_road,
        offset
    );
    Ok(())
}

/// Real model inputs: one expert episode on Town01.
fn episode_inputs(cfg: &ModelConfig) -> anyhow::Result<Vec<collect::Demo>> {
    let maps = collect::load_maps(&[PathBuf::from("maps/Town01.xodr")])?;
    let mut demos = Vec::new();
    let spec = collect::episode_spec(1, 99, 0, 64);
    collect::run_episode(
        cfg,
        &maps,
        &spec,
        0,
        &Driver::Expert { noise: 0.0 },
        Some(&mut demos),
    )?;
    anyhow::ensure!(!demos.is_empty(), "the episode produced no inputs");
    Ok(demos)
}

fn run_export_fixture(a: FixtureArgs) -> anyhow::Result<()> {
    use candle_core::{DType, Device, Tensor};
    anyhow::ensure!(a.batch > 0, "--batch must be positive");
    let loaded = atlas_model::load(&a.model_dir, &Device::Cpu)?;
    let model = &loaded.model;
    let cfg = model.config().clone();
    let demos = episode_inputs(&cfg)?;
    // Spread the samples over the episode (different speeds and views).
    let stride = (demos.len() / a.batch).max(1);
    let feats: Vec<&atlas_model::Features> = (0..a.batch)
        .map(|i| &demos[(i * stride) % demos.len()].features)
        .collect();
    let batch = atlas_model::Batch::new(&cfg, &feats, &Device::Cpu, DType::F32)?;
    let output = model.forward(&batch)?;
    let tensors: std::collections::HashMap<String, Tensor> = [
        ("image", batch.image.clone()),
        ("ego", batch.ego.clone()),
        ("route", batch.route.clone()),
        ("tokens", batch.tokens.to_dtype(DType::I64)?),
        ("token_mask", batch.token_mask.clone()),
        ("output", output),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(parent) = a.out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    candle_core::safetensors::save(&tensors, &a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{}: {} samples from {} (sha256 {})",
        a.out.display(),
        a.batch,
        a.model_dir.display(),
        loaded.sha256
    );
    Ok(())
}

fn run_latency(a: LatencyArgs) -> anyhow::Result<()> {
    let device = a.device.open()?;
    let loaded = atlas_model::load(&a.model_dir, &device)?;
    let model = &loaded.model;
    let cfg = model.config().clone();
    let demos = episode_inputs(&cfg)?;
    for &b in &a.batch {
        anyhow::ensure!(b > 0, "batch sizes must be positive");
        let feats: Vec<&atlas_model::Features> =
            (0..b).map(|i| &demos[i % demos.len()].features).collect();
        let batch = atlas_model::Batch::new(&cfg, &feats, model.device(), model.dtype())?;
        let once = || -> anyhow::Result<()> {
            if a.forward_only {
                let out = model.forward(&batch)?;
                std::hint::black_box(out.to_dtype(candle_core::DType::F32)?.to_vec3::<f32>()?);
            } else {
                std::hint::black_box(atlas_model::predict(model, &feats)?);
            }
            Ok(())
        };
        for _ in 0..20 {
            once()?;
        }
        let mut times: Vec<f64> = Vec::with_capacity(a.iters);
        for _ in 0..a.iters.max(1) {
            let t = std::time::Instant::now();
            once()?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let q = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "batch {b:>3}: p50 {:.2} ms  p99 {:.2} ms  mean {:.2} ms  throughput {:.0} samples/s",
            q(0.5),
            q(0.99),
            mean,
            b as f64 * 1e3 / mean
        );
    }
    Ok(())
}

fn run_open_loop(a: EvalArgs) -> anyhow::Result<()> {
    let maps = collect::load_maps(&a.maps)?;
    let device = a.device.open()?;
    let loaded = atlas_model::load(&a.model_dir, &device)?;
    let model = &loaded.model;
    let cfg = model.config().clone();
    let mut demos = Vec::new();
    for i in 0..a.episodes {
        let spec = collect::episode_spec(maps.len(), a.seed, i as u64, a.episode_steps);
        if let Err(e) = collect::run_episode(
            &cfg,
            &maps,
            &spec,
            i as u32,
            &Driver::Expert { noise: 0.0 },
            Some(&mut demos),
        ) {
            eprintln!("episode {i} skipped: {e}");
        }
    }
    // Groups: obstacle within 15 m, 15-40 m, none within 40 m.
    let mut groups = [(0usize, 0.0f64, 0.0f64, 0.0f64); 3];
    for chunk in demos.chunks(64) {
        let feats: Vec<&atlas_model::Features> = chunk.iter().map(|d| &d.features).collect();
        let preds = atlas_model::predict(model, &feats)?;
        for (d, p) in chunk.iter().zip(preds) {
            let g = if d.obstacle_gap < 15.0 {
                0
            } else if d.obstacle_gap < 40.0 {
                1
            } else {
                2
            };
            let (Some(t), Some(q)) = (d.target.last(), p.last()) else {
                continue;
            };
            let e = &mut groups[g];
            e.0 += 1;
            e.1 += f64::from((t[0] - q[0]).hypot(t[1] - q[1]));
            e.2 += f64::from(t[0]);
            e.3 += f64::from(q[0]);
        }
    }
    for (name, (n, fde, tx, px)) in ["obstacle < 15 m", "obstacle 15-40 m", "clear"]
        .iter()
        .zip(groups)
    {
        let k = n.max(1) as f64;
        println!(
            "{name:>17}: {n:>6} samples  FDE {:.2} m  4 s travel: expert {:.1} m, model {:.1} m",
            fde / k,
            tx / k,
            px / k
        );
    }
    Ok(())
}
