//! `atlas`: run scenarios, serve the stack, probe health.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use atlas::client::{Finished, Sources};
use atlas::local::{LocalConfig, LocalStack};
use atlas_proto::scenario as pb;
use atlas_scenario_format::routes::DEFAULT_TRAFFIC;
use clap::{Parser, Subcommand};

mod model_cmds;

#[derive(Parser)]
#[command(
    name = "atlas",
    version,
    about = "Closed-loop evaluation of driving policies over gRPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenario files and print their scores.
    ///
    /// Without --scenario-addr the bridge, the policy and the scenario
    /// runtime start in this process on loopback ports (still real gRPC).
    Run(RunArgs),
    /// Serve the bridge, the policy and the scenario runtime in one process.
    Up(UpArgs),
    /// Serve one service on its own (the same as its own binary).
    #[command(subcommand)]
    Serve(ServeCommand),
    /// Suites: many runs over one or more scenario runtimes, resumable; A/B comparison.
    #[command(subcommand)]
    Suite(SuiteCommand),
    /// Write a static HTML report (report.html) of a suite output directory.
    Report {
        /// The suite's output directory (holding manifest.json).
        #[arg(env = "ATLAS_REPORT_DIR")]
        dir: PathBuf,
    },
    /// Train the driving model by behaviour cloning in the built-in
    /// simulator, then drive scenarios with it through the three services.
    Train(Box<model_cmds::TrainCmd>),
    /// Check the model policy's setup as `atlas-vla --policy model` does at
    /// start-up (device, GPU, weights, checksum, shapes, warm-up).
    Preflight(Box<atlas_vla::Config>),
    /// Measure one control step phase by phase, and suite throughput.
    Bench(BenchArgs),
    /// Check a gRPC server's health (same flags and exit codes as grpc_health_probe).
    #[command(disable_help_flag = true)]
    Probe {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ServeCommand {
    /// The simulator bridge (atlas.sim.v1), as `atlas-bridge`.
    Bridge(atlas_bridge::Config),
    /// The driving policy (egodriver), as `atlas-vla`.
    Vla(atlas_vla::Config),
    /// The scenario runtime (atlas.scenario.v1), as `atlas-scenario`.
    Scenario(atlas_scenario::Config),
}

#[derive(Subcommand)]
enum SuiteCommand {
    /// Run a suite file: files × policies × seeds × repetitions.
    ///
    /// Exits 0 only when every selected run has a result.
    Run(SuiteRunArgs),
    /// Compare two suite outputs (A is the reference, deltas are B - A).
    Compare(SuiteCompareArgs),
}

/// How often a scenario runtime's name is re-resolved to its replicas.
#[derive(clap::Args)]
struct ResolveArgs {
    /// Seconds between two resolutions of the runtime's name (fractions allowed).
    #[arg(
        long = "resolve-interval",
        env = atlas_rt::balance::REFRESH_ENV,
        value_parser = atlas_rt::balance::parse_refresh,
        default_value = "3"
    )]
    interval: std::time::Duration,
}

#[derive(clap::Args)]
struct SuiteRunArgs {
    /// The suite file (TOML).
    #[arg(env = "ATLAS_SUITE")]
    suite: PathBuf,
    /// Output directory (manifest, results, metrics, per-run files). Default:
    /// --artifact-dir when given, else results/<suite name>.
    #[arg(long, env = "ATLAS_OUT")]
    out: Option<PathBuf>,
    /// Where a one-shot task leaves its artifacts; defaults to $SAKURA_ARTIFACT_DIR.
    #[arg(long, env = "ATLAS_ARTIFACT_DIR")]
    artifact_dir: Option<PathBuf>,
    /// The task runner's artifact directory, when --artifact-dir is not given.
    #[arg(long, env = "SAKURA_ARTIFACT_DIR", hide = true)]
    sakura_artifact_dir: Option<PathBuf>,
    #[command(flatten)]
    resolve: ResolveArgs,
    /// Scenario runtimes, comma-separated (host:port or URIs); without it the
    /// services start in this process.
    #[arg(long, env = "ATLAS_SCENARIO_ADDR")]
    scenario_addr: Option<String>,
    /// Runs at once (overrides the suite file).
    #[arg(long, env = "ATLAS_CONCURRENCY")]
    concurrency: Option<usize>,
    /// Wall seconds per attempt before a hedged retry (overrides the suite file).
    #[arg(long, env = "ATLAS_RUN_DEADLINE_S")]
    deadline_s: Option<f64>,
    /// Attempts per run (overrides the suite file).
    #[arg(long, env = "ATLAS_MAX_ATTEMPTS")]
    max_attempts: Option<u32>,
    /// Continue the manifest in the output directory: run only what has no result.
    #[arg(long, env = "ATLAS_RESUME")]
    resume: bool,
    /// List what would run and stop.
    #[arg(long, env = "ATLAS_DRY_RUN")]
    dry_run: bool,
    /// Run at most N of the runs still without a result.
    #[arg(long, env = "ATLAS_LIMIT")]
    limit: Option<usize>,
    /// Maps for the in-process bridge.
    #[arg(long, env = "ATLAS_MAPS_DIR", default_value = "maps")]
    maps_dir: PathBuf,
    /// No progress bar or per-run lines.
    #[arg(long, env = "ATLAS_QUIET")]
    quiet: bool,
    /// Write each run's artifacts (trajectory CSV, events, top-down PNG)
    /// under runs/<id>/artifacts/ from the trace the runtime sends back.
    #[arg(long, env = "ATLAS_ARTIFACTS")]
    artifacts: bool,
}

#[derive(clap::Args)]
struct SuiteCompareArgs {
    /// Output directory of suite A (the reference).
    a: PathBuf,
    /// Output directory of suite B.
    b: PathBuf,
    /// Where compare.json, diff.csv and diff_samples.jsonl go.
    #[arg(long, default_value = "compare")]
    out: PathBuf,
    /// The policy of A to compare, when A ran several.
    #[arg(long)]
    policy_a: Option<String>,
    /// The policy of B to compare, when B ran several.
    #[arg(long)]
    policy_b: Option<String>,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 10_000)]
    resamples: usize,
    /// Bootstrap RNG seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Scenario whose map and ego start the step measurements use.
    #[arg(long, default_value = "scenarios/town01_straight_clear.toml")]
    scenario: PathBuf,
    #[arg(long, env = "ATLAS_MAPS_DIR", default_value = "maps")]
    maps_dir: PathBuf,
    /// Control steps measured.
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Background vehicles in the measured world.
    #[arg(long, default_value_t = 0)]
    traffic: u32,
    /// Policy of the in-process policy service: baseline or model.
    #[arg(long, default_value = "baseline")]
    policy: String,
    /// Runs of the throughput suite (0 skips it).
    #[arg(long, default_value_t = 12)]
    suite_runs: usize,
    /// Runs at once in the throughput suite.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    /// Simulated seconds per suite run.
    #[arg(long, default_value_t = 10.0)]
    run_timeout_s: f64,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario files (native .toml, OpenSCENARIO .xosc) and CARLA
    /// Leaderboard route files (.xml, 1.0 or 2.x: every route of the file is
    /// a run).
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Route files: run only these route ids (comma-separated, ranges a-b).
    #[arg(long, value_name = "IDS")]
    routes_subset: Option<String>,
    /// Route files: run only the routes on this town.
    #[arg(long)]
    town: Option<String>,
    /// Background vehicles around the route (route files default to 30).
    #[arg(long)]
    traffic_vehicles: Option<u32>,
    /// Background pedestrians (route files default to 10).
    #[arg(long)]
    traffic_pedestrians: Option<u32>,
    /// Write JUnit XML here: one testcase per run.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// JUnit: also fail completed runs whose driving score is below this.
    #[arg(long, value_name = "DS")]
    junit_min_score: Option<f64>,
    /// Write per-run artifacts here: DIR/<index>_<route_id>/ with
    /// trajectory.csv, events.jsonl, record.json and topdown.png.
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
    /// A running scenario runtime, e.g. 127.0.0.1:50053.
    #[arg(long, env = "ATLAS_SCENARIO_ADDR")]
    scenario_addr: Option<String>,
    #[command(flatten)]
    resolve: ResolveArgs,
    /// Where the results JSON goes.
    #[arg(long, env = "ATLAS_RESULTS", default_value = "results/results.json")]
    results: PathBuf,
    /// Override every scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override every scenario's route timeout, seconds.
    #[arg(long)]
    timeout_s: Option<f64>,
    /// Egodriver endpoint to evaluate instead of the runtime's default.
    #[arg(long, env = "ATLAS_DRIVER")]
    driver: Option<String>,
    /// Maps for the in-process bridge.
    #[arg(long, env = "ATLAS_MAPS_DIR", default_value = "maps")]
    maps_dir: PathBuf,
    /// OpenSCENARIO: the entity the policy drives (default: the one named
    /// like Ego or hero), or `storyboard` to run every entity on the
    /// storyboard with no policy.
    #[arg(long, value_name = "NAME|storyboard")]
    ego: Option<String>,
    /// OpenSCENARIO: skip unsupported elements with a warning (listed in
    /// the record) instead of failing.
    #[arg(long, conflicts_with = "strict")]
    lenient: bool,
    /// OpenSCENARIO and its road network: what is otherwise a warning (an
    /// attribute never read, an unknown OpenDRIVE element, a dropped link)
    /// is an error.
    #[arg(long)]
    strict: bool,
    /// Print a progress line per event.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(clap::Args)]
struct UpArgs {
    #[arg(long, env = "ATLAS_BRIDGE_LISTEN", default_value = "0.0.0.0:50052")]
    bridge_listen: SocketAddr,
    #[arg(long, env = "ATLAS_VLA_LISTEN", default_value = "0.0.0.0:50051")]
    vla_listen: SocketAddr,
    #[arg(long, env = "ATLAS_SCENARIO_LISTEN", default_value = "0.0.0.0:50053")]
    scenario_listen: SocketAddr,
    #[arg(long, env = "ATLAS_MAPS_DIR", default_value = "maps")]
    maps_dir: PathBuf,
    #[arg(long, env = "ATLAS_SCENARIOS_DIR", default_value = "scenarios")]
    scenarios_dir: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Probe { args } = &cli.command {
        let args = match atlas::probe::parse_args(args.iter().cloned()) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(atlas::probe::EXIT_BAD_ARGUMENTS);
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (code, message) = rt.block_on(atlas::probe::probe(&args));
        if code == 0 {
            println!("{message}");
        } else {
            eprintln!("{message}");
        }
        std::process::exit(code);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let service_name = match &cli.command {
        Command::Serve(ServeCommand::Bridge(_)) => "atlas-bridge",
        Command::Serve(ServeCommand::Vla(_)) => "atlas-vla",
        Command::Serve(ServeCommand::Scenario(_)) => "atlas-scenario",
        _ => "atlas",
    };
    let default_log = match &cli.command {
        Command::Run(_) | Command::Suite(_) | Command::Report { .. } | Command::Bench(_) => "warn",
        _ => "info",
    };
    rt.block_on(async move {
        let _telemetry = atlas_rt::telemetry::init_with_filter(service_name, default_log)?;
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Up(args) => up(args).await,
            Command::Suite(cmd) => suite(cmd).await,
            Command::Bench(a) => {
                let v = atlas::bench::run(atlas::bench::BenchConfig {
                    scenario: a.scenario,
                    maps_dir: a.maps_dir,
                    steps: a.steps,
                    traffic: a.traffic,
                    policy: a.policy,
                    suite_runs: a.suite_runs,
                    concurrency: a.concurrency,
                    run_timeout_s: a.run_timeout_s,
                })
                .await?;
                print!("{}", atlas::bench::table(&v));
                if let Some(p) = a.json {
                    atlas::files::write_atomic(&p, &serde_json::to_vec_pretty(&v)?)?;
                }
                Ok(())
            }
            Command::Report { dir } => {
                let path = atlas::report::write(&dir)?;
                println!("{}", path.display());
                Ok(())
            }
            Command::Serve(service) => serve(service).await,
            Command::Train(cmd) => model_cmds::train(*cmd).await,
            Command::Preflight(config) => model_cmds::preflight(*config).await,
            Command::Probe { .. } => unreachable!("handled above"),
        }
    })
}

async fn suite(cmd: SuiteCommand) -> anyhow::Result<()> {
    match cmd {
        SuiteCommand::Run(a) => {
            let artifact_dir = a
                .artifact_dir
                .or(a.sakura_artifact_dir)
                .filter(|p| !p.as_os_str().is_empty());
            let out = match (a.out, artifact_dir) {
                (Some(o), _) => o,
                (None, Some(d)) => d,
                (None, None) => {
                    let stem = a
                        .suite
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "suite".into());
                    PathBuf::from("results").join(stem)
                }
            };
            let summary = atlas::suite::run(atlas::suite::RunConfig {
                suite: a.suite,
                out,
                scenario_addrs: a
                    .scenario_addr
                    .as_deref()
                    .map(atlas::suite::parse_addrs)
                    .unwrap_or_default(),
                concurrency: a.concurrency,
                deadline_s: a.deadline_s,
                max_attempts: a.max_attempts,
                resume: a.resume,
                dry_run: a.dry_run,
                limit: a.limit,
                maps_dir: a.maps_dir,
                progress: !a.quiet,
                artifacts: a.artifacts,
                resolve_interval: a.resolve.interval,
            })
            .await?;
            if summary.failed > 0 || summary.finished < summary.selected && !a.dry_run {
                bail!(
                    "{} of {} runs have no result",
                    summary.selected - summary.finished,
                    summary.selected
                );
            }
            Ok(())
        }
        SuiteCommand::Compare(a) => {
            let opts = atlas::suite::compare::Options {
                policy_a: a.policy_a,
                policy_b: a.policy_b,
                resamples: a.resamples,
                seed: a.seed,
                level: 0.95,
            };
            let summary = atlas::suite::compare::compare(&a.a, &a.b, &a.out, &opts)?;
            print!("{}", atlas::suite::compare::table(&summary));
            eprintln!(
                "wrote {0}/compare.json, {0}/diff.csv, {0}/diff_samples.jsonl",
                a.out.display()
            );
            Ok(())
        }
    }
}

async fn serve(service: ServeCommand) -> anyhow::Result<()> {
    let listen = match &service {
        ServeCommand::Bridge(c) => c.listen,
        ServeCommand::Vla(c) => c.listen,
        ServeCommand::Scenario(c) => c.listen,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let shutdown = atlas_rt::shutdown::signal();
    match service {
        ServeCommand::Bridge(c) => atlas_bridge::serve(listener, c, shutdown).await?,
        ServeCommand::Vla(c) => atlas_vla::serve(listener, c, shutdown).await?,
        ServeCommand::Scenario(c) => atlas_scenario::serve(listener, c, shutdown).await?,
    }
    Ok(())
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let mut stack = LocalStack::start(LocalConfig {
        bridge_listen: args.bridge_listen,
        vla_listen: args.vla_listen,
        scenario_listen: args.scenario_listen,
        maps_dir: args.maps_dir,
        scenarios_dir: args.scenarios_dir,
        vla_args: Vec::new(),
    })
    .await?;
    println!(
        "serving: policy (egodriver) {}  bridge (atlas.sim.v1) {}  scenario (atlas.scenario.v1) {}",
        stack.vla, stack.bridge, stack.scenario
    );
    tokio::select! {
        res = stack.stopped() => res,
        _ = atlas_rt::shutdown::signal() => stack.shutdown().await,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    // Read every file first: a typo should fail before anything starts.
    let subset = match &args.routes_subset {
        Some(s) => Some(atlas::routes::parse_subset(s)?),
        None => None,
    };
    let mut sources = Vec::new();
    for path in &args.scenarios {
        match atlas::client::read(path)? {
            Sources::One(source) => sources.push((source, String::new())),
            Sources::Routes { file, text } => {
                let (subset, town) = (subset.as_deref(), args.town.as_deref());
                for r in atlas::routes::select(&file, &text, subset, town)? {
                    sources.push((r.source, r.route_id));
                }
            }
        }
    }
    let traffic =
        (args.traffic_vehicles.is_some() || args.traffic_pedestrians.is_some()).then(|| {
            pb::TrafficOptions {
                vehicles: args.traffic_vehicles.unwrap_or(DEFAULT_TRAFFIC.0),
                pedestrians: args.traffic_pedestrians.unwrap_or(DEFAULT_TRAFFIC.1),
            }
        });
    let (addr, stack) = match &args.scenario_addr {
        Some(a) => (a.clone(), None),
        None => {
            let scenarios_dir =
                atlas::local::scenarios_dir(args.scenarios.first().map(PathBuf::as_path));
            let stack =
                LocalStack::start(LocalConfig::ephemeral(args.maps_dir.clone(), scenarios_dir))
                    .await
                    .context("starting the services in-process")?;
            eprintln!(
                "services in-process: policy {}  bridge {}  scenario {}",
                stack.vla, stack.bridge, stack.scenario
            );
            (stack.scenario.to_string(), Some(stack))
        }
    };
    let mut client = atlas::client::connect_with(&addr, args.resolve.interval).await?;
    let mut records = Vec::new();
    let mut failed = Vec::new();
    let started = Instant::now();
    for (i, (source, route_id)) in sources.into_iter().enumerate() {
        let name = if route_id.is_empty() {
            source.file_name.clone()
        } else {
            format!("{}#{route_id}", source.file_name)
        };
        let request = pb::RunScenarioRequest {
            scenario: Some(pb::run_scenario_request::Scenario::Source(source)),
            options: Some(pb::RunOptions {
                timeout_s: args.timeout_s.unwrap_or(0.0),
                seed: args.seed,
                driver_addr: args.driver.clone().unwrap_or_default(),
                record_trace: args.artifacts.is_some(),
                traffic,
                route_id,
                ego: args.ego.clone().unwrap_or_default(),
                lenient: args.lenient,
                strict: args.strict,
                ..Default::default()
            }),
            index: i as u32,
        };
        let verbose = args.verbose;
        let outcome = atlas::client::stream_run(&mut client, request, |ev| {
            if !verbose {
                return;
            }
            match &ev.kind {
                Some(pb::run_event::Kind::Started(s)) => eprintln!(
                    "[{}] started on {} (route {:.0} m)",
                    s.scenario, s.map, s.route_length
                ),
                Some(pb::run_event::Kind::Progress(p)) => eprintln!(
                    "  t={:6.1}s  RC={:5.1}%  v={:4.1} m/s",
                    p.sim_time_s, p.route_completion, p.speed
                ),
                Some(pb::run_event::Kind::Infraction(inf)) => {
                    eprintln!("  infraction {}: {}", inf.category, inf.message)
                }
                _ => {}
            }
        })
        .await;
        match outcome {
            Ok(Finished {
                record: r, trace, ..
            }) => {
                if let (Some(dir), Some(trace)) = (&args.artifacts, trace) {
                    let out = atlas::artifacts::write_run(dir, &args.maps_dir, &r, &trace)
                        .with_context(|| format!("writing the artifacts of {name}"))?;
                    eprintln!("artifacts: {}", out.display());
                }
                records.push(r)
            }
            Err(e) => {
                eprintln!("{name}: {e:#}");
                failed.push((name, format!("{e:#}")));
            }
        }
    }
    print!("{}", atlas::results::table(&records, &failed));
    let doc = atlas::results::document(&records, &failed);
    atlas::results::write(&args.results, &doc)
        .with_context(|| format!("writing {}", args.results.display()))?;
    if let Some(path) = &args.junit {
        let rule = atlas::junit::Rule {
            min_score: args.junit_min_score,
            ..Default::default()
        };
        let xml = atlas::junit::document("atlas", &records, &failed, &rule);
        atlas::junit::write(path, &xml).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("junit: {}", path.display());
    }
    eprintln!(
        "results: {}  ({} runs in {:.1} s)",
        args.results.display(),
        records.len() + failed.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(stack) = stack {
        stack.shutdown().await?;
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} runs failed",
            failed.len(),
            records.len() + failed.len()
        );
    }
    Ok(())
}
