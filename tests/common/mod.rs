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
