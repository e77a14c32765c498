//! Running scenario files against a scenario runtime (`atlas.scenario.v1`).
//!
//! A file is read and checked here, once ([`read`], on
//! [`atlas_scenario_format`]), then sent whole (with the map when a native
//! scenario points at an `.xodr` file, with its catalogs and road network
//! when it is OpenSCENARIO), so the runtime need not see the client's disk;
//! each route of a Leaderboard route file is sent alone
//! ([`crate::routes`]). [`stream_run`] reads a run's event stream to its
//! record, for every command that runs scenarios.

use std::path::Path;

use anyhow::bail;
use atlas_proto::scenario as pb;
use atlas_proto::scenario::scenario_runner_client::ScenarioRunnerClient;
use atlas_scenario_format::routes::RouteFile;
use atlas_scenario_format::{Options, ScenarioSource};
use tonic::transport::Channel;

/// Connects to the scenario runtime(s) at `addr` (`host:port` or a URI).
///
/// A name is resolved to all its addresses (on Swarm, `tasks.scenario:50053`
/// gives one per replica) and each request goes to one of them; the name is
/// re-resolved every 3 s so replicas that come and go are followed. Fails
/// unless at least one address accepts a connection.
pub async fn connect(addr: &str) -> anyhow::Result<ScenarioRunnerClient<Channel>> {
    connect_with(addr, atlas_rt::balance::DEFAULT_REFRESH).await
}

/// [`connect`], re-resolving the name every `refresh` (`--resolve-interval`,
/// `ATLAS_RESOLVE_INTERVAL_S`).
pub async fn connect_with(
    addr: &str,
    refresh: std::time::Duration,
) -> anyhow::Result<ScenarioRunnerClient<Channel>> {
    use anyhow::Context;
    let options = atlas_rt::balance::Options::with_refresh(refresh);
    let balanced = atlas_rt::balance::Balanced::connect(addr, options)
        .await
        .with_context(|| format!("scenario runtime address {addr:?}"))?;
    balanced
        .reachable()
        .await
        .with_context(|| format!("cannot connect to the scenario runtime at {addr}"))?;
    Ok(ScenarioRunnerClient::new(balanced.channel())
        .max_decoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES))
}

/// A scenario file read for sending.
pub enum Sources {
    /// A native or OpenSCENARIO file: one request source.
    One(pb::ScenarioSource),
    /// A Leaderboard route file, one run per route: the routes as read and
    /// the text they were read from ([`crate::routes::source`] makes a
    /// route's own request source).
    Routes { file: RouteFile, text: String },
}

/// Reads a scenario file once, in whichever format it is, into what its
/// runs send. OpenSCENARIO files go with the catalogs and road network they
/// refer to, keyed by their path relative to the scenario's directory; they
/// are checked leniently here (the runtime applies the run's own option).
pub fn read(path: &Path) -> anyhow::Result<Sources> {
    let loaded = atlas_scenario_format::load(
        path,
        Options {
            lenient: true,
            strict: false,
        },
    )?;
    let (opendrive_xml, files) = match loaded.source {
        ScenarioSource::Routes(file) => {
            return Ok(Sources::Routes {
                file,
                text: loaded.text,
            });
        }
        ScenarioSource::Native(sc) => (sc.read_map()?.unwrap_or_default(), Default::default()),
        ScenarioSource::OpenScenario(x) => (String::new(), x.files.into_iter().collect()),
    };
    Ok(Sources::One(pb::ScenarioSource {
        file_name: loaded.file,
        content: loaded.text,
        opendrive_xml,
        files,
        first_line: 0,
    }))
}

impl Sources {
    /// The one request source that runs the file: a route file must hold a
    /// single route.
    pub fn single(&self) -> anyhow::Result<pb::ScenarioSource> {
        match self {
            Sources::One(s) => Ok(s.clone()),
            Sources::Routes { file, text } => match file.routes.as_slice() {
                [route] => Ok(crate::routes::source(file, text, route)),
                many => bail!(
                    "{}: the file has {} routes; run it with `atlas run` (a run per route) or list it under a suite's `routes`",
                    file.file,
                    many.len()
                ),
            },
        }
    }
}

/// Reads a scenario file into the one request source that runs it (see
/// [`Sources::single`]).
pub fn source(path: &Path) -> anyhow::Result<pb::ScenarioSource> {
    match read(path)? {
        Sources::One(s) => Ok(s),
        routes => routes.single(),
    }
}

/// A point of the ego's path: sim time, x, y, yaw.
pub type EgoPoint = [f64; 4];

/// What a run's stream ended with.
#[derive(Debug)]
pub struct Finished {
    pub record: pb::RouteRecord,
    /// The run's trace, present when `options.record_trace` was set.
    pub trace: Option<pb::Trace>,
    /// The ego's path as its progress events gave it.
    pub ego_path: Vec<EgoPoint>,
}

/// Why a run's stream ended without a record.
#[derive(Debug)]
pub enum StreamError {
    /// The runtime refused the run, or the stream ended with an error;
    /// `started` says whether the run had started (a Started or Progress
    /// event came before).
    Status {
        status: tonic::Status,
        started: bool,
    },
    /// The stream ended without a result.
    Ended,
    /// The run finished without a record.
    NoRecord,
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Status { status, .. } => {
                write!(f, "{:?}: {}", status.code(), status.message())
            }
            StreamError::Ended => f.write_str("the run stream ended without a result"),
            StreamError::NoRecord => f.write_str("the runtime finished without a record"),
        }
    }
}

impl std::error::Error for StreamError {}

/// Runs one request and reads its stream to the end; `on_event` sees every
/// event as it comes.
pub async fn stream_run(
    client: &mut ScenarioRunnerClient<Channel>,
    request: impl tonic::IntoRequest<pb::RunScenarioRequest>,
    mut on_event: impl FnMut(&pb::RunEvent),
) -> Result<Finished, StreamError> {
    let mut stream = client
        .run_scenario(request)
        .await
        .map_err(|status| StreamError::Status {
            status,
            started: false,
        })?
        .into_inner();
    let mut started = false;
    let mut ego_path = Vec::new();
    loop {
        let ev = match stream.message().await {
            Ok(Some(ev)) => ev,
            Ok(None) => return Err(StreamError::Ended),
            Err(status) => return Err(StreamError::Status { status, started }),
        };
        on_event(&ev);
        match ev.kind {
            Some(pb::run_event::Kind::Started(_)) => started = true,
            Some(pb::run_event::Kind::Progress(p)) => {
                started = true;
                ego_path.push([p.sim_time_s, p.x, p.y, p.yaw]);
            }
            Some(pb::run_event::Kind::Finished(f)) => {
                return match f.record {
                    Some(record) => Ok(Finished {
                        record,
                        trace: f.trace,
                        ego_path,
                    }),
                    None => Err(StreamError::NoRecord),
                };
            }
            _ => {}
        }
    }
}

/// Runs one scenario to its end; `on_event` sees every streamed event.
pub async fn run_one(
    client: &mut ScenarioRunnerClient<Channel>,
    request: pb::RunScenarioRequest,
    on_event: impl FnMut(&pb::RunEvent),
) -> anyhow::Result<pb::RouteRecord> {
    Ok(stream_run(client, request, on_event).await?.record)
}
