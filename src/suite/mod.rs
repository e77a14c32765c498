//! Suites: many runs (files × policies × seeds × repetitions) over one or
//! more scenario runtimes, with a manifest written after every run so a
//! suite can be resumed, compared and reported on.
//!
//! - [`spec`]: the suite file and its expansion into runs with stable ids.
//! - [`exec`]: one run against the replicas, with retries and deadlines.
//! - [`manifest`]: the per-run record of results and attempts.
//! - [`compare`]: A/B comparison of two suite outputs.

pub mod compare;
pub mod exec;
pub mod manifest;
pub mod spec;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use atlas_proto::scenario as pb;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::client::{Finished, Sources};
use crate::files::write_atomic;
use exec::{Replicas, RetryPolicy};
use manifest::Manifest;
use spec::{PolicyTarget, RunSpec, Suite};

/// How `suite run` was asked to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub suite: PathBuf,
    pub out: PathBuf,
    /// Scenario runtimes; empty: start the services in this process.
    pub scenario_addrs: Vec<String>,
    pub concurrency: Option<usize>,
    pub deadline_s: Option<f64>,
    pub max_attempts: Option<u32>,
    pub resume: bool,
    pub dry_run: bool,
    pub limit: Option<usize>,
    pub maps_dir: PathBuf,
    pub progress: bool,
    /// Ask the runtime for each run's trace and write its artifacts
    /// (trajectory CSV, events, top-down PNG) under `runs/<id>/artifacts/`.
    pub artifacts: bool,
    /// How often a runtime's name is re-resolved.
    pub resolve_interval: Duration,
}

/// What a suite invocation came to.
#[derive(Debug)]
pub struct Summary {
    pub selected: usize,
    pub finished: usize,
    pub failed: usize,
    /// Runs of the suite without a result after this invocation.
    pub missing: usize,
}

/// Parses a comma-separated list of scenario runtime addresses.
pub fn parse_addrs(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect()
}

/// Local egodriver servers for `baseline`/`model` policies.
struct LocalDrivers {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

async fn start_vla(
    policy: &str,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<anyhow::Result<()>>)> {
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        config: atlas_vla::Config,
    }
    let mut cfg = <Wrap as clap::Parser>::try_parse_from(["atlas-vla", "--policy", policy])
        .context("atlas-vla configuration")?
        .config;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    cfg.listen = addr;
    let mut rx = stop.clone();
    let task: tokio::task::JoinHandle<anyhow::Result<()>> = tokio::spawn(async move {
        let s = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        Ok(atlas_vla::serve(listener, cfg, s).await?)
    });
    // Wait until it serves (the model policy loads its weights first).
    let probe = crate::probe::ProbeArgs {
        addr: addr.to_string(),
        service: String::new(),
        connect_timeout: Duration::from_secs(1),
        rpc_timeout: Duration::from_secs(1),
        user_agent: "atlas".into(),
        verbose: false,
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if task.is_finished() {
            return match task.await {
                Ok(Err(e)) => Err(e.context(format!("the {policy} policy failed to start"))),
                _ => bail!("the {policy} policy stopped while starting"),
            };
        }
        if crate::probe::probe(&probe).await.0 == crate::probe::EXIT_SERVING {
            return Ok((addr, task));
        }
        if Instant::now() > deadline {
            bail!("the {policy} policy did not become healthy within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl LocalDrivers {
    async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        for t in self.tasks {
            t.await.context("a local policy panicked")??;
        }
        Ok(())
    }
}

fn median_and_p99(mut v: Vec<f64>) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// The metrics JSON of a manifest; `wall_s` is this invocation's wall time.
pub fn metrics(m: &Manifest, wall_s: f64, ran_now: usize) -> Value {
    let fin = m.finished();
    let failed = m.failed();
    let records: Vec<&manifest::Record> = fin.iter().filter_map(|e| e.record.as_ref()).collect();
    let attempts: usize = m
        .runs
        .values()
        .map(|e| e.attempts.iter().filter(|a| a.n > 0).count())
        .sum();
    let retries = attempts.saturating_sub(m.runs.len());
    let (p50, _) = median_and_p99(records.iter().map(|r| r.step_p50_ms).collect());
    let (_, p99) = median_and_p99(records.iter().map(|r| r.step_p99_ms).collect());
    let (eval_p50, eval_p99) = median_and_p99(fin.iter().map(|e| e.eval_s).collect());
    let eval_mean = if fin.is_empty() {
        0.0
    } else {
        fin.iter().map(|e| e.eval_s).sum::<f64>() / fin.len() as f64
    };
    let completed = records
        .iter()
        .filter(|r| atlas_proto::leaderboard::completed(&r.status))
        .count();
    json!({
        "suite": m.suite,
        "planned": m.planned,
        "runs": m.runs.len(),
        "successes": fin.len(),
        "failures": failed.len(),
        "missing": m.planned.saturating_sub(fin.len()),
        "routes_completed": completed,
        "attempts": attempts,
        "retries": retries,
        "late_results_ignored": m.runs.values().map(|e| e.late_results).sum::<u32>(),
        "this_invocation": {
            "runs": ran_now,
            "wall_s": wall_s,
            "runs_per_s": if wall_s > 0.0 { ran_now as f64 / wall_s } else { 0.0 },
        },
        "control_step_ms": {
            "p50": p50,
            "p99": p99,
            "note": "p50: median of the runs' median control step; p99: 99th percentile of the runs' p99",
        },
        "eval_s_per_run": { "mean": eval_mean, "p50": eval_p50, "p99": eval_p99 },
        "control_steps": records.iter().map(|r| r.control_steps).sum::<u64>(),
    })
}

/// Writes the Leaderboard-shaped results, the metrics and prints the table.
pub fn write_outputs(
    m: &Manifest,
    out: &Path,
    wall_s: f64,
    ran_now: usize,
) -> anyhow::Result<String> {
    let fin = m.finished();
    let records: Vec<pb::RouteRecord> = fin
        .iter()
        .filter_map(|e| e.record.as_ref().map(|r| r.to_pb()))
        .collect();
    let failed: Vec<(String, String)> = m
        .failed()
        .iter()
        .map(|e| {
            (
                format!(
                    "{} [{} seed {:?} rep {}]",
                    e.file, e.policy, e.seed, e.repetition
                ),
                e.error.clone().unwrap_or_default(),
            )
        })
        .collect();
    let doc = crate::results::document(&records, &failed);
    write_atomic(&out.join("results.json"), &serde_json::to_vec_pretty(&doc)?)?;
    let metrics = metrics(m, wall_s, ran_now);
    write_atomic(
        &out.join("metrics.json"),
        &serde_json::to_vec_pretty(&metrics)?,
    )?;
    Ok(crate::results::table(&records, &failed))
}

/// The request source of every run of the suite, by file and route: every
/// file read once (a bad file fails before anything starts), and each route
/// of a route file sent alone.
fn sources_of(
    runs: &[RunSpec],
) -> anyhow::Result<BTreeMap<(PathBuf, Option<String>), pb::ScenarioSource>> {
    let mut read: BTreeMap<&Path, Sources> = BTreeMap::new();
    let mut sources = BTreeMap::new();
    for r in runs {
        let key = (r.file.clone(), r.route_id.clone());
        if sources.contains_key(&key) {
            continue;
        }
        if !read.contains_key(r.file.as_path()) {
            read.insert(&r.file, crate::client::read(&r.file)?);
        }
        let source = match (&read[r.file.as_path()], &r.route_id) {
            (Sources::Routes { file, text }, Some(id)) => {
                crate::routes::source(file, text, file.route(id)?)
            }
            (Sources::One(s), Some(_)) => {
                bail!("{}: not a Leaderboard route file", s.file_name)
            }
            // A route file listed under `scenarios` runs its one route.
            (whole, None) => whole.single()?,
        };
        sources.insert(key, source);
    }
    Ok(sources)
}

fn run_dir(out: &Path, id: &str) -> PathBuf {
    out.join("runs").join(id)
}

/// Runs (or with `dry_run` lists) a suite; returns the counts.
pub async fn run(cfg: RunConfig) -> anyhow::Result<Summary> {
    let suite: Suite = spec::load(&cfg.suite).map_err(anyhow::Error::msg)?;
    let sources = sources_of(&suite.runs)?;
    let mut manifest = if cfg.resume && cfg.out.join(manifest::FILE_NAME).exists() {
        let m = Manifest::load(&cfg.out)?;
        if m.suite != suite.name {
            bail!(
                "{}: the manifest is of suite {:?}, not {:?}; use another --out",
                cfg.out.join(manifest::FILE_NAME).display(),
                m.suite,
                suite.name
            );
        }
        m
    } else {
        if !cfg.dry_run && cfg.out.join(manifest::FILE_NAME).exists() {
            bail!(
                "{} already holds a suite manifest; pass --resume to continue it or choose another --out",
                cfg.out.display()
            );
        }
        Manifest::new(&suite.name, &suite.file, suite.runs.len())
    };
    manifest.planned = suite.runs.len();
    let mut todo: Vec<RunSpec> = suite
        .runs
        .iter()
        .filter(|r| !manifest.is_finished(&r.id))
        .cloned()
        .collect();
    let done_before = suite.runs.len() - todo.len();
    if let Some(n) = cfg.limit {
        todo.truncate(n);
    }

    if cfg.dry_run {
        println!(
            "suite {}: {} runs planned, {} already finished, {} would run now",
            suite.name,
            suite.runs.len(),
            done_before,
            todo.len()
        );
        // The file last: paths are long. `route` is the route id of a route file.
        println!(
            "{:<20} {:<8} {:<8} {:<12} {:>6} {:>4}  file",
            "run id", "kind", "route", "policy", "seed", "rep"
        );
        for r in &todo {
            println!(
                "{:<20} {:<8} {:<8} {:<12} {:>6} {:>4}  {}",
                r.id,
                format!("{:?}", r.kind).to_lowercase(),
                r.route_id.as_deref().unwrap_or("-"),
                r.policy,
                r.seed
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "file".into()),
                r.repetition,
                r.file.display()
            );
        }
        return Ok(Summary {
            selected: todo.len(),
            finished: 0,
            failed: 0,
            missing: suite.runs.len() - done_before,
        });
    }
    std::fs::create_dir_all(&cfg.out)
        .with_context(|| format!("cannot create {}", cfg.out.display()))?;

    // Where the runs go and which driver each policy uses.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut drivers = LocalDrivers {
        stop: stop_tx,
        tasks: Vec::new(),
    };
    let mut stack = None;
    let mut driver_addr: BTreeMap<String, String> = BTreeMap::new();
    let addrs = if cfg.scenario_addrs.is_empty() {
        let scenarios_dir =
            crate::local::scenarios_dir(suite.runs.first().map(|r| r.file.as_path()));
        let mut local = crate::local::LocalConfig::ephemeral(cfg.maps_dir.clone(), scenarios_dir);
        local.vla_args = vec!["--policy".into(), "baseline".into()];
        let s = crate::local::LocalStack::start(local)
            .await
            .context("starting the services in-process")?;
        let addr = s.scenario.to_string();
        stack = Some(s);
        vec![addr]
    } else {
        cfg.scenario_addrs.clone()
    };
    let mut model_addr: Option<String> = None;
    for (name, target) in &suite.policies {
        let addr = match target {
            PolicyTarget::Default => String::new(),
            PolicyTarget::Endpoint(e) => e.clone(),
            PolicyTarget::Baseline | PolicyTarget::Model if stack.is_none() => bail!(
                "{}: policy `{name}` is {:?}, which needs the in-process services; with --scenario-addr give an egodriver endpoint or `default`",
                suite.file.display(),
                format!("{target:?}").to_lowercase()
            ),
            PolicyTarget::Baseline => String::new(),
            PolicyTarget::Model => {
                if model_addr.is_none() {
                    let (a, task) = start_vla("model", &stop_rx).await?;
                    drivers.tasks.push(task);
                    model_addr = Some(format!("http://{a}"));
                }
                model_addr.clone().unwrap_or_default()
            }
        };
        driver_addr.insert(name.clone(), addr);
    }

    let replicas = Replicas::new(addrs, cfg.resolve_interval);
    let policy = RetryPolicy {
        max_attempts: cfg.max_attempts.unwrap_or(suite.max_attempts),
        deadline: Duration::from_secs_f64(cfg.deadline_s.unwrap_or(suite.deadline_s)),
        base_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(15),
    };
    let concurrency = cfg.concurrency.unwrap_or(suite.concurrency).max(1);
    eprintln!(
        "suite {}: {} runs, {} finished before, {} to run on {} ({} at a time) -> {}",
        suite.name,
        suite.runs.len(),
        done_before,
        todo.len(),
        replicas.addrs().join(", "),
        concurrency,
        cfg.out.display()
    );

    let bar = indicatif::ProgressBar::with_draw_target(
        Some(todo.len() as u64),
        if cfg.progress && std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr_with_hz(4)
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} runs  {per_sec}  eta {eta}  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let plain = cfg.progress && !std::io::stderr().is_terminal();

    let started = Instant::now();
    let total = todo.len();
    let timeout_s = suite.timeout_s.unwrap_or(0.0);
    let mut results = futures::stream::iter(todo.into_iter().map(|spec| {
        let request = pb::RunScenarioRequest {
            scenario: Some(pb::run_scenario_request::Scenario::Source(
                sources[&(spec.file.clone(), spec.route_id.clone())].clone(),
            )),
            options: Some(pb::RunOptions {
                timeout_s,
                seed: spec.seed,
                progress_every: 2,
                driver_addr: driver_addr[&spec.policy].clone(),
                route_id: spec.route_id.clone().unwrap_or_default(),
                record_trace: cfg.artifacts,
                ..Default::default()
            }),
            index: spec.ordinal,
        };
        let replicas = &replicas;
        let policy = &policy;
        async move {
            let outcome = exec::run(replicas, request, policy).await;
            (spec, outcome)
        }
    }))
    .buffer_unordered(concurrency);

    let (mut ok, mut bad, mut retries) = (0usize, 0usize, 0usize);
    let mut done = 0usize;
    while let Some((spec, outcome)) = results.next().await {
        done += 1;
        retries += outcome.attempts.iter().filter(|a| a.n > 1).count();
        let line = match outcome.result {
            Ok(Finished {
                record,
                trace,
                ego_path,
            }) => {
                let dir = run_dir(&cfg.out, &spec.id);
                if let Some(trace) = &trace
                    && let Err(e) = crate::artifacts::write_run(
                        &dir.join("artifacts"),
                        &cfg.maps_dir,
                        &record,
                        trace,
                    )
                {
                    eprintln!("{}: artifacts: {e:#}", spec.id);
                }
                let rec = manifest::Record::from_pb(&record);
                write_atomic(&dir.join("record.json"), &serde_json::to_vec_pretty(&rec)?)?;
                write_atomic(
                    &dir.join("trajectory.json"),
                    &serde_json::to_vec(&json!({ "t_x_y_yaw": ego_path }))?,
                )?;
                let first = manifest.finish(&spec, &record, outcome.attempts, outcome.eval_s);
                ok += usize::from(first);
                format!(
                    "{} {} [{} seed {}] {} DS {:.1} ({} attempts)",
                    spec.id,
                    record.route_id,
                    spec.policy,
                    spec.seed
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "file".into()),
                    record.status,
                    record.scores.unwrap_or_default().score_composed,
                    manifest.runs[&spec.id].attempts.len()
                )
            }
            Err(e) => {
                bad += 1;
                let line = format!(
                    "{} {} [{}] FAILED: {e}",
                    spec.id,
                    spec.file.display(),
                    spec.policy
                );
                manifest.fail(&spec, e, outcome.attempts, outcome.eval_s);
                line
            }
        };
        manifest.write(&cfg.out)?;
        bar.set_message(format!("ok {ok}  failed {bad}  retries {retries}"));
        bar.inc(1);
        if plain {
            eprintln!("[{done}/{total}] {line}");
        }
    }
    bar.finish_and_clear();
    drop(results);
    let wall = started.elapsed().as_secs_f64();

    let table = write_outputs(&manifest, &cfg.out, wall, total)?;
    print!("{table}");
    let missing = suite
        .runs
        .iter()
        .filter(|r| !manifest.is_finished(&r.id))
        .count();
    eprintln!(
        "suite {}: {ok} finished, {bad} failed, {retries} retries, {total} runs in {wall:.1} s ({:.2} runs/s); {missing} of {} without a result; outputs in {}",
        suite.name,
        if wall > 0.0 { total as f64 / wall } else { 0.0 },
        suite.runs.len(),
        cfg.out.display()
    );

    drivers.shutdown().await?;
    if let Some(s) = stack {
        s.shutdown().await?;
    }
    Ok(Summary {
        selected: total,
        finished: ok,
        failed: bad,
        missing,
    })
}
