//! Running scenario files against a scenario runtime (`atlas.scenario.v1`).
//!
//! Files are read and checked here, then sent whole (with the map when the
//! scenario points at an `.xodr` file), so the runtime need not see the
//! client's disk.

use std::path::Path;

use anyhow::{Context, anyhow};
use atlas_proto::scenario as pb;
use atlas_proto::scenario::scenario_runner_client::ScenarioRunnerClient;
use tonic::transport::Channel;

/// Connects to the scenario runtime(s) at `addr` (`host:port` or a URI).
///
/// A name is resolved to all its addresses (on Swarm, `tasks.scenario:50053`
/// gives one per replica) and each request goes to one of them; the name is
/// re-resolved every few seconds (`ATLAS_RESOLVE_INTERVAL_S`, default 3) so
/// replicas that come and go are followed. Fails unless at least one
/// address accepts a connection.
pub async fn connect(addr: &str) -> anyhow::Result<ScenarioRunnerClient<Channel>> {
    let options = atlas_rt::balance::Options::from_env()?;
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

/// Reads a scenario file and its map (if a file) into a request source.
/// OpenSCENARIO files go with the catalogs and road network they refer to,
/// keyed by their path relative to the scenario's directory; they are
/// checked leniently here (the runtime applies the run's own option).
pub fn source(path: &Path) -> anyhow::Result<pb::ScenarioSource> {
    if atlas_scenario::storyboard::is_xosc(&path.display().to_string()) {
        let opts = atlas_xosc::Options {
            lenient: true,
            parameters: Vec::new(),
        };
        let (_, loaded) = atlas_xosc::read_file(path, &opts)?;
        let content = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        return Ok(pb::ScenarioSource {
            file_name: path.display().to_string(),
            content,
            opendrive_xml: String::new(),
            files: loaded.files.into_iter().collect(),
        });
    }
    let sc = atlas_scenario::scenario::load(path)?;
    let content = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let opendrive_xml = match &sc.map {
        atlas_scenario::scenario::MapRef::File(f) => std::fs::read_to_string(f)
            .with_context(|| format!("{}: `map`: cannot read {}", path.display(), f.display()))?,
        atlas_scenario::scenario::MapRef::Name(_) => String::new(),
    };
    Ok(pb::ScenarioSource {
        file_name: path.display().to_string(),
        content,
        opendrive_xml,
        files: Default::default(),
    })
}

/// Runs one scenario to its end; `on_event` sees every streamed event.
pub async fn run_one(
    client: &mut ScenarioRunnerClient<Channel>,
    request: pb::RunScenarioRequest,
    mut on_event: impl FnMut(&pb::RunEvent),
) -> anyhow::Result<pb::RouteRecord> {
    let mut stream = client
        .run_scenario(request)
        .await
        .map_err(|s| anyhow!("{}", s.message()).context(format!("{:?}", s.code())))?
        .into_inner();
    loop {
        match stream.message().await {
            Ok(Some(ev)) => {
                on_event(&ev);
                if let Some(pb::run_event::Kind::Finished(f)) = ev.kind {
                    return f
                        .record
                        .ok_or_else(|| anyhow!("the runtime finished without a record"));
                }
            }
            Ok(None) => return Err(anyhow!("the run stream ended without a result")),
            Err(s) => return Err(anyhow!("{:?}: {}", s.code(), s.message())),
        }
    }
}
