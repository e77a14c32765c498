//! The `atlas.scenario.v1.ScenarioRunner` service: configuration, request
//! validation, one task per run streaming its events, and [`serve`].

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use atlas_proto::scenario as pb;
use atlas_proto::scenario::scenario_runner_server::{ScenarioRunner, ScenarioRunnerServer};
use atlas_rt::trace_context::TraceInterceptor;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::runner::{self, DriverClient, MapSource, RunSettings, SimClient};
use crate::scenario::{self, MapRef};

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
    /// Runs served at once; more get RESOURCE_EXHAUSTED.
    #[arg(long, env = "ATLAS_MAX_RUNS", default_value_t = 16)]
    pub max_runs: usize,
    /// Seconds in-flight runs get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "ATLAS_GRACE_PERIOD_S", default_value_t = 30.0)]
    pub grace_period_s: f64,
}

/// Failures of the service itself (not of a run).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid endpoint {addr}: {message}")]
    Endpoint { addr: String, message: String },
    #[error(transparent)]
    Serve(#[from] atlas_rt::Error),
}

fn endpoint(addr: &str) -> Result<Endpoint, Error> {
    let uri = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    Endpoint::from_shared(uri)
        .map(|e| {
            e.connect_timeout(Duration::from_secs(5))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(30))
        })
        .map_err(|e| Error::Endpoint {
            addr: addr.into(),
            message: e.to_string(),
        })
}

fn sim_client(ch: Channel) -> SimClient {
    atlas_proto::sim::simulator_client::SimulatorClient::with_interceptor(ch, TraceInterceptor)
        .max_decoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES)
}

fn driver_client(ch: Channel) -> DriverClient {
    atlas_proto::egodriver::egodriver_service_client::EgodriverServiceClient::with_interceptor(
        ch,
        TraceInterceptor,
    )
    .max_decoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES)
    .max_encoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES)
}

struct Runner {
    config: Config,
    sim: Channel,
    driver: Channel,
    slots: Arc<Semaphore>,
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

    fn load(
        &self,
        req: &pb::RunScenarioRequest,
    ) -> Result<(scenario::Scenario, MapSource), Status> {
        let invalid = |e: scenario::ScenarioError| Status::invalid_argument(e.to_string());
        match &req.scenario {
            None => Err(Status::invalid_argument(
                "`scenario`: give a path or the scenario source",
            )),
            Some(pb::run_scenario_request::Scenario::Path(path)) => {
                let file = self.locate(path)?;
                let sc = scenario::load(&file).map_err(invalid)?;
                let map = match &sc.map {
                    MapRef::Name(n) => MapSource::Name(n.clone()),
                    MapRef::File(f) => MapSource::Xml(std::fs::read_to_string(f).map_err(|e| {
                        Status::invalid_argument(format!(
                            "{}: `map`: cannot read {}: {e}",
                            sc.file,
                            f.display()
                        ))
                    })?),
                };
                Ok((sc, map))
            }
            Some(pb::run_scenario_request::Scenario::Source(src)) => {
                if src.file_name.trim().is_empty() {
                    return Err(Status::invalid_argument("`source.file_name` is empty"));
                }
                let sc = scenario::parse(&src.content, &src.file_name, None).map_err(invalid)?;
                let map = if !src.opendrive_xml.is_empty() {
                    MapSource::Xml(src.opendrive_xml.clone())
                } else {
                    match &sc.map {
                        MapRef::Name(n) => MapSource::Name(n.clone()),
                        MapRef::File(f) => {
                            return Err(Status::invalid_argument(format!(
                                "{}: `map`: {} was not sent with the scenario",
                                sc.file,
                                f.display()
                            )));
                        }
                    }
                };
                Ok((sc, map))
            }
        }
    }
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
        let settings = RunSettings::from_options(&options, req.index).map_err(Status::from)?;
        let (sc, map) = self.load(&req)?;
        let permit = self.slots.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "all {} run slots are busy; retry later",
                self.config.max_runs
            ))
        })?;
        let driver_channel = if options.driver_addr.is_empty() {
            self.driver.clone()
        } else {
            endpoint(&options.driver_addr)
                .map_err(|e| Status::invalid_argument(format!("`options.driver_addr`: {e}")))?
                .connect_lazy()
        };
        let simc = sim_client(self.sim.clone());
        let driver = driver_client(driver_channel);
        let (tx, rx) = mpsc::channel(64);
        let span = tracing::info_span!("scenario.run", scenario = %sc.name);
        tokio::spawn(
            async move {
                let _permit = permit;
                let outcome = runner::run(&sc, map, &settings, simc, driver, &tx).await;
                let last = match outcome {
                    Ok(record) => {
                        tracing::info!(
                            status = %record.status,
                            score = record.scores.as_ref().map_or(0.0, |s| s.score_composed),
                            "run finished"
                        );
                        Ok(pb::RunEvent {
                            kind: Some(pb::run_event::Kind::Finished(pb::Finished {
                                record: Some(record),
                            })),
                        })
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "run failed");
                        Err(Status::from(e))
                    }
                };
                let _ = tx.send(last).await;
            }
            .instrument(span),
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
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
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    Ok(paths
        .iter()
        .filter_map(|p| match scenario::load(p) {
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

/// Polls the health of both upstreams; the runtime can do its job only
/// when the bridge and the policy both serve.
async fn upstreams_serving(sim: &Channel, driver: &Channel) -> bool {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let check = |ch: Channel| async move {
        let mut c = HealthClient::new(ch);
        let req = HealthCheckRequest {
            service: String::new(),
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), c.check(req)).await,
            Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32
        )
    };
    let (a, b) = tokio::join!(check(sim.clone()), check(driver.clone()));
    a && b
}

/// Serves the runtime on `listener` until `shutdown`, then drains in-flight
/// runs under the configured grace period.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let sim = endpoint(&config.bridge_addr)?.connect_lazy();
    let driver = endpoint(&config.driver_addr)?.connect_lazy();
    let (health, health_service) = atlas_rt::health::Health::new(&[SERVICE_NAME]).await;
    let grace = Duration::from_secs_f64(config.grace_period_s.max(0.0));
    let runner = Runner {
        slots: Arc::new(Semaphore::new(config.max_runs.max(1))),
        config,
        sim: sim.clone(),
        driver: driver.clone(),
    };

    let (drain_tx, mut drain_rx) = tokio::sync::watch::channel(false);
    let monitor_health = health.clone();
    tokio::spawn(async move {
        let mut last = None;
        loop {
            let ok = upstreams_serving(&sim, &driver).await;
            if last != Some(ok) {
                tracing::info!(serving = ok, "upstream health changed");
                monitor_health.set(ok).await;
                last = Some(ok);
            }
            let pause = if ok { 5 } else { 1 };
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(pause)) => {}
                _ = drain_rx.changed() => return,
            }
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
