//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use atlas::local::{LocalConfig, LocalStack};
use atlas_proto::scenario as pb;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub async fn local_stack() -> LocalStack {
    LocalStack::start(LocalConfig::ephemeral(
        repo().join("maps"),
        repo().join("scenarios"),
    ))
    .await
    .expect("the three services start in-process")
}

/// Runs a shipped scenario (by file name) through the runtime at `addr`.
pub async fn run_scenario(addr: &str, file: &str, seed: Option<u64>) -> pb::RouteRecord {
    let mut client = atlas::client::connect(addr).await.unwrap();
    let source = atlas::client::source(&repo().join("scenarios").join(file)).unwrap();
    atlas::client::run_one(
        &mut client,
        pb::RunScenarioRequest {
            scenario: Some(pb::run_scenario_request::Scenario::Source(source)),
            options: Some(pb::RunOptions {
                seed,
                ..Default::default()
            }),
            index: 0,
        },
        |_| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{file}: {e:#}"))
}

pub fn categories(r: &pb::RouteRecord) -> Vec<&str> {
    r.infractions.iter().map(|i| i.category.as_str()).collect()
}

pub fn scenario_path(file: &str) -> PathBuf {
    repo().join("scenarios").join(file)
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped, so a failing test leaves nothing behind.
pub struct Service(pub std::process::Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `atlas` CLI of this build, run from the repository root with quiet
/// logs and no artifact dir or runtime address inherited from the
/// environment, plus `envs`.
pub fn atlas_with_env(args: &[&str], envs: &[(&str, &Path)]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_atlas"));
    c.args(args)
        .current_dir(repo())
        .env("RUST_LOG", "error")
        .env_remove("SAKURA_ARTIFACT_DIR")
        .env_remove("ATLAS_SCENARIO_ADDR");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run the atlas CLI")
}

/// [`atlas_with_env`] with nothing added to the environment.
pub fn atlas(args: &[&str]) -> std::process::Output {
    atlas_with_env(args, &[])
}

/// The stdout of a command that must have succeeded (else both outputs).
pub fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A JSON file, read whole.
pub fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs a scenario source (OpenSCENARIO and its files) with `ego` and a
/// trace; the record and the trace, or the status the run ended with.
pub async fn run_traced(
    addr: &str,
    source: pb::ScenarioSource,
    ego: &str,
    timeout_s: f64,
) -> Result<(pb::RouteRecord, pb::Trace), tonic::Status> {
    let mut client = atlas::client::connect(addr).await.unwrap();
    let mut stream = client
        .run_scenario(pb::RunScenarioRequest {
            scenario: Some(pb::run_scenario_request::Scenario::Source(source)),
            options: Some(pb::RunOptions {
                timeout_s,
                ego: ego.into(),
                record_trace: true,
                ..Default::default()
            }),
            index: 0,
        })
        .await?
        .into_inner();
    while let Some(ev) = stream.message().await? {
        if let Some(pb::run_event::Kind::Finished(f)) = ev.kind {
            return Ok((f.record.unwrap(), f.trace.unwrap()));
        }
    }
    panic!("the stream ended without a result");
}

/// The track of the actor named `name` in a trace.
pub fn track<'a>(t: &'a pb::Trace, name: &str) -> &'a pb::ActorTrack {
    t.tracks
        .iter()
        .find(|k| k.name == name)
        .unwrap_or_else(|| panic!("no track {name}"))
}
