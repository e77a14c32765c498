//! The `atlas.scenario.v1.ScenarioRunner` service: configuration, request
//! validation, one task per run streaming its events, and [`serve`].

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_proto::reason::{self, InputLocation, Reason};
use atlas_proto::scenario as pb;
use atlas_proto::scenario::scenario_runner_server::{ScenarioRunner, ScenarioRunnerServer};
use atlas_rt::balance::{self, Balanced, Pinned};
use atlas_scenario_format::native::{self, MapRef, Scenario};
use atlas_scenario_format::xosc::XoscRun;
use atlas_scenario_format::{Format, ScenarioSource};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use atlas_loop::{driver_client, sim_client};

use crate::runner::{self, DriverClient, MapSource, RunSettings, SimClient};

/// The gRPC service name, as health reports it.
pub const SERVICE_NAME: &str = "atlas.scenario.v1.ScenarioRunner";

/// Configuration by flags or the matching environment variables.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    /// Address to serve on.
    #[arg(
        long = "listen",
        env = "ATLAS_SCENARIO_LISTEN",
        default_value = "0.0.0.0:50053"
    )]
    pub listen: SocketAddr,
    /// Simulator bridge (atlas.sim.v1) endpoint.
    #[arg(
        long,
        env = "ATLAS_BRIDGE_ADDR",
        default_value = "http://127.0.0.1:50052"
    )]
    pub bridge_addr: String,
    /// Default egodriver policy endpoint.
    #[arg(
        long,
        env = "ATLAS_DRIVER_ADDR",
        default_value = "http://127.0.0.1:50051"
    )]
    pub driver_addr: String,
    /// Directory of scenario files runnable by name.
    #[arg(long, env = "ATLAS_SCENARIOS_DIR", default_value = "scenarios")]
    pub scenarios_dir: PathBuf,
    /// Directory of OpenDRIVE maps that OpenSCENARIO files name by map
    /// name (`<LogicFile filepath="Town01"/>`).
    #[arg(long, env = "ATLAS_MAPS_DIR", default_value = "maps")]
    pub maps_dir: PathBuf,
    /// Seconds between two resolutions of the bridge and policy names: each
    /// resolves to all its replicas (Swarm `tasks.<service>`), runs are
    /// spread over them and replicas that come or go are followed.
    #[arg(
        long = "resolve-interval-s",
        env = "ATLAS_RESOLVE_INTERVAL_S",
        default_value = "3",
        value_parser = balance::parse_refresh
    )]
    pub resolve_interval: Duration,
    /// Runs served at once; more get RESOURCE_EXHAUSTED.
    #[arg(long, env = "ATLAS_MAX_RUNS", default_value_t = 16)]
    pub max_runs: usize,
    /// Seconds in-flight runs get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "ATLAS_GRACE_PERIOD_S", default_value_t = 30.0)]
    pub grace_period_s: f64,
}

impl Config {
    /// Checks the values flags cannot check by type, naming the first bad
    /// one; [`serve`] calls it, so a configuration built in code gets the
    /// checks the binary's flags get.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &'static str, message: String| Err(Error::Config { field, message });
        for (field, addr) in [
            ("bridge_addr", &self.bridge_addr),
            ("driver_addr", &self.driver_addr),
        ] {
            if let Err(e) = balance::Target::parse(addr) {
                return bad(field, e.to_string());
            }
        }
        let refresh = self.resolve_interval.as_secs_f64();
        if !(refresh > 0.0 && refresh <= 3600.0) {
            return bad(
                "resolve_interval",
                format!("must be in (0, 3600] seconds, got {refresh}"),
            );
        }
        if self.max_runs == 0 {
            return bad("max_runs", "must be at least 1".into());
        }
        if let Err(message) = atlas_rt::serve::grace_period(self.grace_period_s) {
            return bad("grace_period_s", message);
        }
        Ok(())
    }

    /// The drain grace period (of a validated configuration).
    pub fn grace_period(&self) -> Duration {
        Duration::from_secs_f64(self.grace_period_s.max(0.0))
    }
}

#[cfg(test)]
mod config_tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    fn defaults() -> Config {
        Cli::try_parse_from(["atlas-scenario"]).unwrap().config
    }

    #[test]
    fn the_defaults_are_valid_and_bad_values_are_named() {
        defaults().validate().unwrap();
        type Spoil = fn(&mut Config);
        let cases: [(&str, Spoil); 6] = [
            ("bridge_addr", |c| c.bridge_addr = "http://".into()),
            ("driver_addr", |c| c.driver_addr = "no port".into()),
            ("resolve_interval", |c| c.resolve_interval = Duration::ZERO),
            ("max_runs", |c| c.max_runs = 0),
            ("grace_period_s", |c| c.grace_period_s = -1.0),
            ("grace_period_s", |c| c.grace_period_s = f64::INFINITY),
        ];
        for (field, spoil) in cases {
            let mut c = defaults();
            spoil(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.starts_with(&format!("configuration: {field}: ")), "{e}");
        }
    }

    #[tokio::test]
    async fn serve_checks_the_configuration_first() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = Config {
            max_runs: 0,
            ..defaults()
        };
        let e = serve(listener, config, std::future::pending())
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Config {
                    field: "max_runs",
                    ..
                }
            ),
            "{e}"
        );
    }
}

/// Failures of the service itself (not of a run).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {field}: {message}")]
    Config {
        field: &'static str,
        message: String,
    },
    #[error("invalid upstream address: {0}")]
    Endpoint(#[from] balance::Error),
    #[error(transparent)]
    Serve(#[from] atlas_rt::Error),
}

/// Resolves `addr` to all its addresses, re-resolving every `refresh`:
/// TCP_NODELAY, a 5 s connect timeout and 30 s HTTP/2 keep-alive pings on
/// every connection.
fn balanced(addr: &str, refresh: Duration) -> Result<Balanced, balance::Error> {
    Balanced::new(
        addr,
        balance::Options {
            refresh,
            ..balance::Options::default()
        },
    )
}

/// The runtime's upstreams: the bridge and the default policy, each
/// balanced over all its replicas.
#[derive(Clone)]
struct Upstreams {
    sim: Balanced,
    driver: Balanced,
    refresh: Duration,
}

/// The clients of one run, each on one replica for the whole run: a world
/// lives on one bridge and a policy session on one policy replica. The pins
/// count against their replicas until dropped, so runs spread evenly.
struct RunClients {
    sim: SimClient,
    driver: DriverClient,
    _pins: [Pinned; 2],
}

impl Upstreams {
    /// The policy of one run: the default, or the run's own address
    /// (`options.driver_addr`; an invalid one is the caller's error).
    fn driver_for(&self, addr: &str) -> Result<Balanced, Status> {
        if addr.is_empty() {
            return Ok(self.driver.clone());
        }
        balanced(addr, self.refresh)
            .map_err(|e| Status::invalid_argument(format!("`options.driver_addr`: {e}")))
    }

    /// Pins one bridge replica and one replica of `driver` for a run.
    async fn pin(&self, driver: &Balanced) -> Result<RunClients, Status> {
        // The names are re-resolved every `refresh`: come back after that.
        let unavailable =
            |what: &str, e: balance::Error| gone(format!("{what}: {e}"), self.refresh);
        let sim = self.sim.pin().await.map_err(|e| unavailable("bridge", e))?;
        let drv = driver.pin().await.map_err(|e| unavailable("policy", e))?;
        tracing::debug!(bridge = %sim.addr(), policy = %drv.addr(), "run pinned");
        Ok(RunClients {
            sim: sim_client(sim.channel()),
            driver: driver_client(drv.channel()),
            _pins: [sim, drv],
        })
    }
}

struct Runner {
    config: Config,
    upstreams: Upstreams,
    slots: Arc<Slots>,
}

/// The run slots of the runtime, and how soon one frees: a run refused for
/// want of a slot is told when to come back (`retry-after-ms`), estimated
/// from how long runs have been taking and how long the oldest running run
/// has been going.
struct Slots {
    sem: Arc<Semaphore>,
    max: usize,
    state: std::sync::Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    next_id: u64,
    /// Start of each running run, by slot id.
    running: std::collections::HashMap<u64, Instant>,
    /// Moving average of run durations (seconds); `None` before the first.
    mean_run_s: Option<f64>,
}

/// A held run slot; dropping it frees the slot and records the run's duration.
struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    slots: Arc<Slots>,
    id: u64,
}

impl Slots {
    /// Weight of the newest run in the moving average of durations.
    const ALPHA: f64 = 0.2;
    /// Hint before any run has finished.
    const FIRST_HINT: Duration = Duration::from_secs(1);
    const MIN_HINT: Duration = Duration::from_millis(200);
    const MAX_HINT: Duration = Duration::from_secs(30);

    fn new(max: usize) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Self {
            sem: Arc::new(Semaphore::new(max)),
            max,
            state: std::sync::Mutex::new(SlotState::default()),
        })
    }

    fn acquire(self: &Arc<Self>) -> Result<Slot, Status> {
        match self.sem.clone().try_acquire_owned() {
            Ok(permit) => {
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let id = st.next_id;
                st.next_id += 1;
                st.running.insert(id, Instant::now());
                Ok(Slot {
                    _permit: permit,
                    slots: self.clone(),
                    id,
                })
            }
            Err(_) => Err(atlas_rt::retry::with_retry_after(
                reason::with_reason(
                    Status::resource_exhausted(format!(
                        "all {} run slots are busy; retry later",
                        self.max
                    )),
                    Reason::Overloaded,
                ),
                self.retry_hint(Instant::now()),
            )),
        }
    }

    /// When a slot is likely to free: the mean run duration less how long
    /// the oldest running run has been going, within [MIN_HINT, MAX_HINT].
    fn retry_hint(&self, now: Instant) -> Duration {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mean) = st.mean_run_s else {
            return Self::FIRST_HINT;
        };
        let oldest = st
            .running
            .values()
            .map(|t| now.saturating_duration_since(*t).as_secs_f64())
            .fold(0.0, f64::max);
        Duration::from_secs_f64((mean - oldest).max(0.0)).clamp(Self::MIN_HINT, Self::MAX_HINT)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut st = self.slots.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = st.running.remove(&self.id) {
            let d = t.elapsed().as_secs_f64();
            st.mean_run_s = Some(match st.mean_run_s {
                None => d,
                Some(m) => m + Slots::ALPHA * (d - m),
            });
        }
    }
}

impl Runner {
    /// Finds a scenario named by a request: a path, or a name in the scenarios dir.
    fn locate(&self, path: &str) -> Result<PathBuf, Status> {
        let p = Path::new(path);
        let candidates = [
            p.to_path_buf(),
            self.config.scenarios_dir.join(p),
            self.config.scenarios_dir.join(format!("{path}.toml")),
        ];
        candidates.into_iter().find(|c| c.is_file()).ok_or_else(|| {
            Status::not_found(format!(
                "scenario {path:?} is neither a file nor a scenario in {}",
                self.config.scenarios_dir.display()
            ))
        })
    }

    /// Reads a request's scenario, once, into what runs: the file named by
    /// `path` (from disk) or sent whole as `source`, in whichever format it
    /// is; a route file gives the route `options.route_id` names and fills
    /// the route parts of `settings`.
    fn load(
        &self,
        req: &pb::RunScenarioRequest,
        options: &pb::RunOptions,
        settings: &mut RunSettings,
    ) -> Result<Loaded, Status> {
        let opts = atlas_scenario_format::Options {
            lenient: options.lenient,
            strict: options.strict,
        };
        let (source, opendrive_xml, on_disk) = match &req.scenario {
            None => {
                return Err(Status::invalid_argument(
                    "`scenario`: give a path or the scenario source",
                ));
            }
            Some(pb::run_scenario_request::Scenario::Path(path)) => {
                let file = self.locate(path)?;
                let loaded = atlas_scenario_format::load(&file, opts).map_err(invalid_input)?;
                (loaded.source, "", true)
            }
            Some(pb::run_scenario_request::Scenario::Source(src)) => {
                if src.file_name.trim().is_empty() {
                    return Err(Status::invalid_argument("`source.file_name` is empty"));
                }
                let files: Vec<(&str, &str)> = src
                    .files
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let sent = atlas_scenario_format::Sent {
                    file: &src.file_name,
                    text: &src.content,
                    files: &files,
                    first_line: src.first_line,
                };
                let source = atlas_scenario_format::read(&sent, opts).map_err(invalid_input)?;
                (source, src.opendrive_xml.as_str(), false)
            }
        };
        match source {
            ScenarioSource::Native(sc) => {
                let map = native_map(&sc, opendrive_xml, on_disk)?;
                Ok(Loaded::Native(sc, map))
            }
            ScenarioSource::Routes(file) => {
                let (sc, map) =
                    crate::routes::run_of(&file, &options.route_id, opendrive_xml, settings)?;
                Ok(Loaded::Native(sc, map))
            }
            ScenarioSource::OpenScenario(x) => x
                .into_run(&self.config.maps_dir, opendrive_xml)
                .map(Loaded::OpenScenario)
                .map_err(|e| invalid_input(e.into())),
        }
    }

    fn spawn_xosc(
        &self,
        x: XoscRun,
        options: pb::RunOptions,
        settings: RunSettings,
    ) -> Result<Response<EventStream>, Status> {
        // Check the ego choice before taking a slot.
        crate::storyboard::choose_ego(&x.scenario, &options.ego)?;
        let (name, driver_addr) = (x.name.clone(), options.driver_addr.clone());
        self.spawn_run(&name, &driver_addr, move |simc, driver, tx| async move {
            crate::storyboard::run(x, &options, &settings, simc, driver, &tx).await
        })
    }

    /// Takes a run slot (or refuses with RESOURCE_EXHAUSTED and a retry
    /// hint), pins a bridge and a policy replica, and runs `run` in its own
    /// task, streaming its events and then its record or its error.
    fn spawn_run<F, Fut>(
        &self,
        name: &str,
        driver_addr: &str,
        run: F,
    ) -> Result<Response<EventStream>, Status>
    where
        F: FnOnce(SimClient, DriverClient, RunSender) -> Fut + Send + 'static,
        Fut: Future<Output = Result<runner::RunOutput, runner::RunError>> + Send,
    {
        let slot = self.slots.acquire()?;
        let driver = self.upstreams.driver_for(driver_addr)?;
        let upstreams = self.upstreams.clone();
        let (tx, rx) = mpsc::channel(64);
        let span = tracing::info_span!("scenario.run", scenario = %name);
        tokio::spawn(
            async move {
                let _slot = slot;
                let RunClients {
                    sim: simc,
                    driver,
                    _pins,
                } = match upstreams.pin(&driver).await {
                    Ok(c) => c,
                    Err(status) => {
                        tracing::warn!(error = %status.message(), "run failed");
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                let last = match run(simc, driver, tx.clone()).await {
                    Ok(runner::RunOutput { record, trace }) => {
                        tracing::info!(
                            status = %record.status,
                            score = record.scores.as_ref().map_or(0.0, |s| s.score_composed),
                            "run finished"
                        );
                        Ok(pb::RunEvent {
                            kind: Some(pb::run_event::Kind::Finished(pb::Finished {
                                record: Some(record),
                                trace,
                            })),
                        })
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "run failed");
                        Err(run_status(e, upstreams.refresh))
                    }
                };
                let _ = tx.send(last).await;
            }
            .instrument(span),
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// The status a failed run ends with, decided on the upstream's typed
/// reason ([`atlas_proto::reason`]), never on its message.
///
/// - A bridge that answers `WORLD_LOST` has lost the run's world (it
///   restarted, or another bridge replica took its address): the run is
///   intact and can be run again, so that is ABORTED, the code for "retry
///   the whole operation", with the reason kept.
/// - An upstream that went away (UNAVAILABLE, or a transport failure under
///   a call) is UNAVAILABLE with reason `UPSTREAM_GONE` and a retry hint of
///   one re-resolution interval (`refresh`): by then the runtime follows a
///   replacement replica.
fn run_status(e: runner::RunError, refresh: Duration) -> Status {
    match e {
        runner::RunError::Upstream { context, status }
            if reason::reason(&status) == Some(Reason::WorldLost) =>
        {
            reason::with_reason(
                Status::aborted(format!(
                    "{context}: the bridge lost the run's world ({}); run it again",
                    status.message()
                )),
                Reason::WorldLost,
            )
        }
        runner::RunError::Upstream { context, status } if reason::transport_failure(&status) => {
            gone(format!("{context}: {}", status.message()), refresh)
        }
        e => Status::from(e),
    }
}

/// UNAVAILABLE with reason `UPSTREAM_GONE`: come back after `refresh`.
fn gone(message: String, refresh: Duration) -> Status {
    atlas_rt::retry::with_retry_after(
        reason::with_reason(Status::unavailable(message), Reason::UpstreamGone),
        refresh,
    )
}

type RunSender = mpsc::Sender<Result<pb::RunEvent, Status>>;

/// A request's scenario, read and ready to run.
enum Loaded {
    /// A native scenario, or a Leaderboard route made one.
    Native(Scenario, MapSource),
    OpenScenario(XoscRun),
}

/// The map of a native scenario: the OpenDRIVE document sent along, else
/// its map file (read for a scenario read from disk; a scenario sent whole
/// must send it) or the map's name.
fn native_map(sc: &Scenario, opendrive_xml: &str, on_disk: bool) -> Result<MapSource, Status> {
    if !opendrive_xml.is_empty() {
        return Ok(MapSource::Xml(opendrive_xml.to_owned()));
    }
    match &sc.map {
        MapRef::Name(n) => Ok(MapSource::Name(n.clone())),
        MapRef::File(f) if !on_disk => Err(reason::invalid_input(
            format!(
                "{}: `map`: {} was not sent with the scenario",
                sc.file,
                f.display()
            ),
            InputLocation {
                file: Some(sc.file.clone()),
                line: None,
                element: Some("map".into()),
            },
        )),
        MapRef::File(_) => match sc.read_map() {
            Ok(xml) => Ok(MapSource::Xml(xml.unwrap_or_default())),
            Err(e) => Err(invalid_input(e.into())),
        },
    }
}

/// INVALID_ARGUMENT for a scenario that cannot be read, with reason
/// `INVALID_INPUT` and where the problem is; a route the file does not
/// have is NOT_FOUND.
fn invalid_input(e: atlas_scenario_format::Error) -> Status {
    use atlas_scenario_format::{Error, routes::RouteError};
    if let Error::Routes(RouteError::NoSuchRoute { .. }) = e {
        return Status::not_found(e.to_string());
    }
    let at = e.location();
    reason::invalid_input(
        e.to_string(),
        InputLocation {
            file: Some(at.file),
            line: at.line,
            element: at.element,
        },
    )
}

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::RunEvent, Status>> + Send>>;

#[tonic::async_trait]
impl ScenarioRunner for Runner {
    type RunScenarioStream = EventStream;

    #[tracing::instrument(skip_all, err)]
    async fn run_scenario(
        &self,
        request: Request<pb::RunScenarioRequest>,
    ) -> Result<Response<Self::RunScenarioStream>, Status> {
        let req = request.into_inner();
        let options = req.options.clone().unwrap_or_default();
        let mut settings = RunSettings::from_options(&options, req.index).map_err(Status::from)?;
        let (sc, map) = match self.load(&req, &options, &mut settings)? {
            Loaded::OpenScenario(x) => return self.spawn_xosc(x, options, settings),
            Loaded::Native(sc, map) => (sc, map),
        };
        let (name, driver_addr) = (sc.name.clone(), options.driver_addr.clone());
        self.spawn_run(&name, &driver_addr, move |simc, driver, tx| async move {
            runner::run(&sc, map, &settings, simc, driver, &tx).await
        })
    }

    async fn list_scenarios(
        &self,
        _request: Request<pb::ListScenariosRequest>,
    ) -> Result<Response<pb::ListScenariosResponse>, Status> {
        let dir = self.config.scenarios_dir.clone();
        let scenarios = tokio::task::spawn_blocking(move || list(&dir))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(pb::ListScenariosResponse { scenarios }))
    }
}

fn list(dir: &Path) -> Result<Vec<pb::ScenarioEntry>, Status> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Status::failed_precondition(format!("scenarios dir {}: {e}", dir.display()))
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| Format::by_name(&p.to_string_lossy()) == Some(Format::Native))
        .collect();
    paths.sort();
    Ok(paths
        .iter()
        .filter_map(|p| match native::load(p) {
            Ok(sc) => Some(pb::ScenarioEntry {
                name: sc.name,
                path: p.display().to_string(),
                map: match sc.map {
                    MapRef::Name(n) => n,
                    MapRef::File(f) => f.display().to_string(),
                },
            }),
            Err(e) => {
                tracing::warn!(error = %e, "skipping a scenario that does not load");
                None
            }
        })
        .collect())
}

/// Watches one upstream's health (the gRPC Health `Watch` stream) and
/// mirrors it into `tx`: SERVING as soon as the upstream says so, not at
/// the next poll. A stream that cannot open or ends (the upstream not up
/// yet, a replica gone) reads as not serving and is reopened after a short
/// pause, at most 200 ms, so start-up waits for the upstream and no more.
async fn watch_upstream(ch: Channel, tx: tokio::sync::watch::Sender<bool>) {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut pause = Duration::from_millis(10);
    loop {
        let mut c = HealthClient::new(ch.clone());
        let req = HealthCheckRequest {
            service: String::new(),
        };
        if let Ok(Ok(resp)) = tokio::time::timeout(Duration::from_secs(2), c.watch(req)).await {
            let mut stream = resp.into_inner();
            pause = Duration::from_millis(10);
            while let Ok(Some(m)) = stream.message().await {
                tx.send_replace(m.status == ServingStatus::Serving as i32);
            }
        }
        tx.send_replace(false);
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Serves the runtime on `listener` until `shutdown`, then drains in-flight
/// runs under the configured grace period.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    config.validate()?;
    let upstreams = Upstreams {
        sim: balanced(&config.bridge_addr, config.resolve_interval)?,
        driver: balanced(&config.driver_addr, config.resolve_interval)?,
        refresh: config.resolve_interval,
    };
    let (sim, driver) = (upstreams.sim.channel(), upstreams.driver.channel());
    let (health, health_service) = atlas_rt::health::Health::new(&[SERVICE_NAME]).await;
    let grace = config.grace_period();
    let runner = Runner {
        slots: Slots::new(config.max_runs),
        config,
        upstreams,
    };

    let (drain_tx, mut drain_rx) = tokio::sync::watch::channel(false);
    let monitor_health = health.clone();
    let (sim_tx, mut sim_rx) = tokio::sync::watch::channel(false);
    let (driver_tx, mut driver_rx) = tokio::sync::watch::channel(false);
    let watchers = [
        tokio::spawn(watch_upstream(sim, sim_tx)),
        tokio::spawn(watch_upstream(driver, driver_tx)),
    ];
    tokio::spawn(async move {
        // The runtime can do its job only when the bridge and the policy
        // both serve.
        let mut last = None;
        loop {
            let ok = *sim_rx.borrow_and_update() && *driver_rx.borrow_and_update();
            if last != Some(ok) {
                tracing::info!(serving = ok, "upstream health changed");
                monitor_health.set(ok).await;
                last = Some(ok);
            }
            tokio::select! {
                r = sim_rx.changed() => if r.is_err() { break },
                r = driver_rx.changed() => if r.is_err() { break },
                _ = drain_rx.changed() => break,
            }
        }
        for w in watchers {
            w.abort();
        }
    });

    let router = atlas_rt::serve::server_builder()
        .add_service(health_service)
        .add_service(
            ScenarioRunnerServer::new(runner)
                .max_decoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES),
        );
    atlas_rt::serve::serve(router, listener, shutdown, grace, move || async move {
        let _ = drain_tx.send(true);
        health.set(false).await;
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_worlds_abort_and_gone_upstreams_are_unavailable_with_a_hint() {
        let up = |status| runner::RunError::Upstream {
            context: "bridge Step".into(),
            status,
        };
        let refresh = Duration::from_secs(3);
        let lost = reason::with_reason(Status::not_found("world w-7"), Reason::WorldLost);
        let s = run_status(up(lost), refresh);
        assert_eq!(s.code(), tonic::Code::Aborted, "{s:?}");
        assert_eq!(reason::reason(&s), Some(Reason::WorldLost));
        // A connection that broke under the call: tonic's UNKNOWN with the
        // transport error as its source.
        let broken = Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        )));
        let s = run_status(up(broken), refresh);
        assert_eq!(s.code(), tonic::Code::Unavailable, "{s:?}");
        assert_eq!(reason::reason(&s), Some(Reason::UpstreamGone));
        assert_eq!(atlas_rt::retry::retry_after(&s), Some(refresh));
        // The same words sent by a server are the server's own failure.
        let s = run_status(up(Status::unknown("transport error")), refresh);
        assert_eq!(s.code(), tonic::Code::Unknown, "{s:?}");
        let s = run_status(up(Status::unavailable("tcp connect error")), refresh);
        assert_eq!(atlas_rt::retry::retry_after(&s), Some(refresh));
        // Other upstream failures keep their code and carry no hint.
        let s = run_status(up(Status::invalid_argument("bad lane")), refresh);
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        assert_eq!(atlas_rt::retry::retry_after(&s), None);
        let s = run_status(up(Status::not_found("unknown actor 3")), refresh);
        assert_eq!(s.code(), tonic::Code::NotFound);
    }

    #[test]
    fn a_full_runtime_refuses_with_a_hint_and_frees_its_slot() {
        let slots = Slots::new(1);
        let held = slots.acquire().expect("one slot free");
        let refused = slots.acquire().err().expect("the only slot is taken");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        // No run has finished: the first hint.
        assert_eq!(
            atlas_rt::retry::retry_after(&refused),
            Some(Slots::FIRST_HINT)
        );
        drop(held);
        let again = slots.acquire().expect("the slot is free again");
        assert!(slots.state.lock().unwrap().mean_run_s.is_some());
        drop(again);
        assert!(slots.state.lock().unwrap().running.is_empty());
    }

    #[test]
    fn the_hint_is_the_mean_run_less_the_oldest_run_so_far() {
        let slots = Slots::new(2);
        let now = Instant::now();
        {
            let mut st = slots.state.lock().unwrap();
            st.mean_run_s = Some(10.0);
            st.running.insert(0, now - Duration::from_secs(4));
            st.running.insert(1, now - Duration::from_secs(1));
        }
        assert_eq!(slots.retry_hint(now), Duration::from_secs(6));
        // A run past the mean: soon, but not at once.
        slots
            .state
            .lock()
            .unwrap()
            .running
            .insert(2, now - Duration::from_secs(12));
        assert_eq!(slots.retry_hint(now), Slots::MIN_HINT);
        // Very long runs: capped.
        slots.state.lock().unwrap().mean_run_s = Some(3600.0);
        slots.state.lock().unwrap().running.clear();
        assert_eq!(slots.retry_hint(now), Slots::MAX_HINT);
    }

    #[test]
    fn the_mean_follows_finished_runs() {
        let slots = Slots::new(1);
        {
            let mut st = slots.state.lock().unwrap();
            st.mean_run_s = Some(10.0);
        }
        let s = slots.acquire().unwrap();
        // Pretend the run took 20 s.
        slots
            .state
            .lock()
            .unwrap()
            .running
            .insert(s.id, Instant::now() - Duration::from_secs(20));
        drop(s);
        let m = slots.state.lock().unwrap().mean_run_s.unwrap();
        assert!((m - 12.0).abs() < 0.01, "{m}");
    }
}
