//! `atlas train` and `atlas preflight`: the driving model's training run
//! (with a closed-loop evaluation through the three services afterwards)
//! and the vla-model service's start-up checks on their own.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use atlas::local::{LocalConfig, LocalStack};
use atlas_proto::scenario as pb;
use atlas_train::train::{self, TrainArgs};

#[derive(clap::Args)]
pub struct TrainCmd {
    #[command(flatten)]
    pub train: TrainArgs,
    /// Scenario files driven with the new weights through the three
    /// services after training; default every `*.toml` in
    /// --scenarios-dir.
    #[arg(long = "eval-scenario", value_delimiter = ',')]
    pub eval_scenarios: Vec<PathBuf>,
    #[arg(long, env = "ATLAS_SCENARIOS_DIR", default_value = "scenarios")]
    pub scenarios_dir: PathBuf,
    #[arg(long, env = "ATLAS_MAPS_DIR", default_value = "maps")]
    pub maps_dir: PathBuf,
    /// Skip the closed-loop evaluation.
    #[arg(long)]
    pub no_eval: bool,
}

/// The scenario files of `dir`, sorted.
fn scenario_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list scenarios", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!(
            "{}: no *.toml scenarios to evaluate on (pass --eval-scenario or --no-eval)",
            dir.display()
        );
    }
    Ok(files)
}

/// Trains (off the async runtime), then drives the evaluation scenarios
/// with `--policy model --model-dir <out>` through in-process services.
pub async fn train(cmd: TrainCmd) -> anyhow::Result<()> {
    let opts = cmd.train.options()?;
    // Read the scenarios first: a typo should fail before a long run.
    let sources = if cmd.no_eval {
        Vec::new()
    } else {
        let files = if cmd.eval_scenarios.is_empty() {
            scenario_files(&cmd.scenarios_dir)?
        } else {
            cmd.eval_scenarios.clone()
        };
        files
            .iter()
            .map(|p| atlas::client::source(p))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let out = opts.out.clone();
    let report = tokio::task::spawn_blocking(move || train::train(&opts)).await??;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if sources.is_empty() {
        return Ok(());
    }

    eprintln!(
        "evaluating {} closed loop on {} scenario(s) through the three services",
        out.display(),
        sources.len()
    );
    let mut local = LocalConfig::ephemeral(cmd.maps_dir, cmd.scenarios_dir);
    local.vla_args = vec![
        "--policy".into(),
        "model".into(),
        "--model-dir".into(),
        out.display().to_string(),
    ];
    let stack = LocalStack::start(local)
        .await
        .context("starting the services with the trained model")?;
    let mut client = atlas::client::connect(&stack.scenario.to_string()).await?;
    let (mut records, mut failed) = (Vec::new(), Vec::new());
    for (i, source) in sources.into_iter().enumerate() {
        let name = source.file_name.clone();
        let request = pb::RunScenarioRequest {
            scenario: Some(pb::run_scenario_request::Scenario::Source(source)),
            options: Some(pb::RunOptions::default()),
            index: i as u32,
        };
        match atlas::client::run_one(&mut client, request, |_| {}).await {
            Ok(r) => records.push(r),
            Err(e) => failed.push((name, format!("{e:#}"))),
        }
    }
    print!("{}", atlas::results::table(&records, &failed));
    stack.shutdown().await?;
    if !failed.is_empty() {
        bail!(
            "{} of {} evaluation runs failed (the weights are saved in {})",
            failed.len(),
            records.len() + failed.len(),
            out.display()
        );
    }
    Ok(())
}

/// Runs the model policy's preflight for `config` (device, GPU capability
/// and memory on CUDA, weights, checksum, shapes, warm-up) and prints the
/// passed checks; a failure is an error whose message says what to do.
pub async fn preflight(config: atlas_vla::Config) -> anyhow::Result<()> {
    config.validate()?;
    let report = tokio::task::spawn_blocking(move || atlas_vla::preflight::run(&config)).await??;
    print!("{report}");
    println!("preflight passed");
    Ok(())
}
