//! `atlas`: run scenarios, serve the stack, probe health.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use atlas::local::{LocalConfig, LocalStack};
use atlas_proto::scenario as pb;
use clap::{Parser, Subcommand};

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

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario files (native .toml).
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// A running scenario runtime, e.g. 127.0.0.1:50053.
    #[arg(long, env = "ATLAS_SCENARIO_ADDR")]
    scenario_addr: Option<String>,
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
        Command::Run(_) => "warn",
        _ => "info",
    };
    rt.block_on(async move {
        let _telemetry = atlas_rt::telemetry::init_with_filter(service_name, default_log)?;
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Up(args) => up(args).await,
            Command::Serve(service) => serve(service).await,
            Command::Probe { .. } => unreachable!("handled above"),
        }
    })
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
    let mut sources = Vec::new();
    for path in &args.scenarios {
        sources.push(atlas::client::source(path)?);
    }
    let (addr, stack) = match &args.scenario_addr {
        Some(a) => (a.clone(), None),
        None => {
            let scenarios_dir = args
                .scenarios
                .first()
                .and_then(|p| p.parent())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("scenarios"));
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
    let mut client = atlas::client::connect(&addr).await?;
    let mut records = Vec::new();
    let mut failed = Vec::new();
    let started = Instant::now();
    for (i, source) in sources.into_iter().enumerate() {
        let name = source.file_name.clone();
        let request = pb::RunScenarioRequest {
            scenario: Some(pb::run_scenario_request::Scenario::Source(source)),
            options: Some(pb::RunOptions {
                timeout_s: args.timeout_s.unwrap_or(0.0),
                seed: args.seed,
                driver_addr: args.driver.clone().unwrap_or_default(),
                ..Default::default()
            }),
            index: i as u32,
        };
        let verbose = args.verbose;
        let outcome = atlas::client::run_one(&mut client, request, |ev| {
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
            Ok(r) => records.push(r),
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
