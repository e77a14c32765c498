//! The three services in this process, each on its own listener and talking
//! to the others over real gRPC: what `atlas run` (without an endpoint), `atlas
//! up` and the integration tests use.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the in-process services listen and what they load.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    pub bridge_listen: SocketAddr,
    pub vla_listen: SocketAddr,
    pub scenario_listen: SocketAddr,
    pub maps_dir: PathBuf,
    pub scenarios_dir: PathBuf,
    /// Extra `atlas-vla` flags, e.g. `["--policy", "baseline"]`.
    pub vla_args: Vec<String>,
}

/// The scenarios dir of an in-process runtime started for `first`, the
/// first file a command runs: that file's directory (so the runtime finds
/// what the file names beside it), else `scenarios`.
pub fn scenarios_dir(first: Option<&Path>) -> PathBuf {
    first
        .and_then(Path::parent)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("scenarios"))
}

impl LocalConfig {
    /// Everything on loopback ephemeral ports.
    pub fn ephemeral(maps_dir: PathBuf, scenarios_dir: PathBuf) -> Self {
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        Self {
            bridge_listen: any,
            vla_listen: any,
            scenario_listen: any,
            maps_dir,
            scenarios_dir,
            vla_args: Vec::new(),
        }
    }
}

/// Running in-process services.
pub struct LocalStack {
    pub bridge: SocketAddr,
    pub vla: SocketAddr,
    pub scenario: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

/// Parses a service's `Config` from its defaults, the environment and `args`,
/// exactly as its own binary would.
fn service_config<C: clap::Args>(name: &str, args: &[String]) -> anyhow::Result<C> {
    #[derive(Parser)]
    struct Wrap<C: clap::Args> {
        #[command(flatten)]
        config: C,
    }
    let argv = std::iter::once(name.to_string()).chain(args.iter().cloned());
    Ok(Wrap::<C>::try_parse_from(argv)
        .with_context(|| format!("{name} configuration"))?
        .config)
}

fn stop_signal(rx: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

impl LocalStack {
    /// Binds the three listeners and starts the services; returns once all
    /// three are serving (the scenario runtime reports SERVING only when the
    /// bridge and the policy both do).
    pub async fn start(cfg: LocalConfig) -> anyhow::Result<Self> {
        if !cfg.maps_dir.is_dir() {
            let shown = std::path::absolute(&cfg.maps_dir).unwrap_or_else(|_| cfg.maps_dir.clone());
            bail!(
                "no maps directory at {} (the bridge loads its towns and OpenDRIVE files from \
                 it): run from the ATLAS repository, or point at one with --maps-dir DIR or \
                 ATLAS_MAPS_DIR=DIR",
                shown.display()
            );
        }
        let bind = |addr: SocketAddr, what: &'static str| async move {
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for the {what} on {addr}"))
        };
        let bridge_l = bind(cfg.bridge_listen, "bridge").await?;
        let vla_l = bind(cfg.vla_listen, "policy").await?;
        let scenario_l = bind(cfg.scenario_listen, "scenario runtime").await?;
        let bridge = bridge_l.local_addr()?;
        let vla = vla_l.local_addr()?;
        let scenario = scenario_l.local_addr()?;

        let mut bridge_cfg: atlas_bridge::Config = service_config("atlas-bridge", &[])?;
        bridge_cfg.listen = bridge;
        bridge_cfg.maps_dir = cfg.maps_dir.clone();
        let mut vla_cfg: atlas_vla::Config = service_config("atlas-vla", &cfg.vla_args)?;
        vla_cfg.listen = vla;
        let mut sc_cfg: atlas_scenario::Config = service_config("atlas-scenario", &[])?;
        sc_cfg.listen = scenario;
        sc_cfg.bridge_addr = format!("http://{bridge}");
        sc_cfg.driver_addr = format!("http://{vla}");
        sc_cfg.scenarios_dir = cfg.scenarios_dir.clone();
        sc_cfg.maps_dir = cfg.maps_dir.clone();

        let (stop, rx) = watch::channel(false);
        let mut tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)> = Vec::new();
        let s = stop_signal(&rx);
        tasks.push((
            "atlas-bridge",
            tokio::spawn(async move { Ok(atlas_bridge::serve(bridge_l, bridge_cfg, s).await?) }),
        ));
        let s = stop_signal(&rx);
        tasks.push((
            "atlas-vla",
            tokio::spawn(async move { Ok(atlas_vla::serve(vla_l, vla_cfg, s).await?) }),
        ));
        let s = stop_signal(&rx);
        tasks.push((
            "atlas-scenario",
            tokio::spawn(async move { Ok(atlas_scenario::serve(scenario_l, sc_cfg, s).await?) }),
        ));
        let mut stack = Self {
            bridge,
            vla,
            scenario,
            stop,
            tasks,
        };
        stack.wait_serving(Duration::from_secs(120)).await?;
        Ok(stack)
    }

    /// Waits until the scenario runtime reports SERVING, failing early, with
    /// its own error, if a service stops.
    async fn wait_serving(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        let args = crate::probe::ProbeArgs {
            addr: self.scenario.to_string(),
            service: String::new(),
            connect_timeout: Duration::from_secs(1),
            rpc_timeout: Duration::from_secs(1),
            user_agent: "atlas".into(),
            verbose: false,
        };
        loop {
            if let Some(i) = self.tasks.iter().position(|(_, t)| t.is_finished()) {
                let (name, task) = self.tasks.remove(i);
                return match task.await {
                    Ok(Ok(())) => bail!("{name} stopped while starting"),
                    Ok(Err(e)) => Err(e.context(format!("{name} failed to start"))),
                    Err(e) => bail!("{name} panicked while starting: {e}"),
                };
            }
            if crate::probe::probe(&args).await.0 == crate::probe::EXIT_SERVING {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the services did not become healthy within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resolves when any service stops on its own (an error).
    pub async fn stopped(&mut self) -> anyhow::Result<()> {
        let (res, i, _) = futures::future::select_all(self.tasks.iter_mut().map(|(_, t)| t)).await;
        let name = self.tasks[i].0;
        match res {
            Ok(Ok(())) => bail!("{name} stopped"),
            Ok(Err(e)) => Err(e.context(format!("{name} failed"))),
            Err(e) => bail!("{name} panicked: {e}"),
        }
    }

    /// Drains all three services and waits for them.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        for (name, task) in self.tasks {
            task.await
                .with_context(|| format!("{name} panicked"))?
                .with_context(|| format!("{name} failed"))?;
        }
        Ok(())
    }
}
