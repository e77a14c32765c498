//! The three services as three separate processes, the health probe against
//! each, `atlas run --scenario-addr` against them, and a clean drain on SIGTERM.

mod common;

use common::{Service, free_port};

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ATLAS: &str = env!("CARGO_BIN_EXE_atlas");
const PROBE: &str = env!("CARGO_BIN_EXE_atlas-probe");

fn start(args: &[&str]) -> Service {
    Service(
        Command::new(ATLAS)
            .args(args)
            .current_dir(common::repo())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a service process"),
    )
}

fn probe(args: &[&str]) -> Output {
    Command::new(PROBE).args(args).output().unwrap()
}

/// Polls the health probe until it exits 0 or `limit` passes.
fn wait_healthy(addr: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let out = probe(&["-addr", addr]);
        if out.status.code() == Some(0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} not healthy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sigterm(s: &mut Service) -> std::process::ExitStatus {
    let pid = s.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = s.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "process {pid} ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn three_processes_serve_a_run_and_drain_on_sigterm() {
    let (pb, pv, ps) = (free_port(), free_port(), free_port());
    let bridge_addr = format!("127.0.0.1:{pb}");
    let vla_addr = format!("127.0.0.1:{pv}");
    let scenario_addr = format!("127.0.0.1:{ps}");

    // The runtime alone: it cannot work without its upstreams, and says so.
    let mut scenario = start(&[
        "serve",
        "scenario",
        "--listen",
        &scenario_addr,
        "--bridge-addr",
        &format!("http://{bridge_addr}"),
        "--driver-addr",
        &format!("http://{vla_addr}"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = probe(&["-addr", &scenario_addr]);
        match out.status.code() {
            Some(4) => break,
            Some(2) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!(
                "expected NOT_SERVING (4), got {other:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    let mut bridge = start(&[
        "serve",
        "bridge",
        "--listen",
        &bridge_addr,
        "--maps-dir",
        "maps",
    ]);
    let mut vla = start(&["serve", "vla", "--listen", &vla_addr]);
    for addr in [&bridge_addr, &vla_addr, &scenario_addr] {
        wait_healthy(addr, Duration::from_secs(120));
    }
    // Named services too, as a Swarm healthcheck would ask.
    assert_eq!(
        probe(&["-addr", &vla_addr, "-service", "egodriver.EgodriverService"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        probe(&["-addr", &bridge_addr, "-service", "atlas.sim.v1.Simulator"])
            .status
            .code(),
        Some(0)
    );
    // grpc_health_probe's other exit codes.
    assert_eq!(probe(&["-bogus"]).status.code(), Some(1));
    assert_eq!(
        probe(&["-addr", &bridge_addr, "-service", "no.such.Service"])
            .status
            .code(),
        Some(3)
    );
    let closed = format!("127.0.0.1:{}", free_port());
    assert_eq!(probe(&["-addr", &closed]).status.code(), Some(2));

    // A client process against the running stack.
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.json");
    let out = Command::new(ATLAS)
        .current_dir(common::repo())
        .args([
            "run",
            "--scenario-addr",
            &scenario_addr,
            "--results",
            results.to_str().unwrap(),
            "scenarios/town01_right_turn.toml",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("town01_right_turn"), "{stdout}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    let record = &doc["_checkpoint"]["records"][0];
    assert_eq!(record["route_id"], "town01_right_turn");
    assert_eq!(record["scores"]["score_route"], 100.0);
    assert_eq!(doc["_checkpoint"]["progress"], serde_json::json!([1, 1]));
    assert_eq!(doc["entry_status"], "Finished");

    // SIGTERM drains and exits cleanly.
    for s in [&mut scenario, &mut vla, &mut bridge] {
        let status = sigterm(s);
        assert!(status.success(), "exit after SIGTERM: {status:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_run_finish() {
    use atlas_proto::scenario as pb;

    let (pb_, pv, ps) = (free_port(), free_port(), free_port());
    let bridge_addr = format!("127.0.0.1:{pb_}");
    let vla_addr = format!("127.0.0.1:{pv}");
    let scenario_addr = format!("127.0.0.1:{ps}");
    let _bridge = start(&["serve", "bridge", "--listen", &bridge_addr]);
    let _vla = start(&["serve", "vla", "--listen", &vla_addr]);
    let mut scenario = start(&[
        "serve",
        "scenario",
        "--listen",
        &scenario_addr,
        "--bridge-addr",
        &format!("http://{bridge_addr}"),
        "--driver-addr",
        &format!("http://{vla_addr}"),
        "--grace-period-s",
        "60",
    ]);
    tokio::task::block_in_place(|| wait_healthy(&scenario_addr, Duration::from_secs(120)));

    let mut client = atlas::client::connect(&scenario_addr).await.unwrap();
    let source = atlas::client::source(&common::scenario_path("town01_blocked.toml")).unwrap();
    let mut stream = client
        .run_scenario(pb::RunScenarioRequest {
            scenario: Some(pb::run_scenario_request::Scenario::Source(source)),
            options: Some(pb::RunOptions {
                progress_every: 1,
                ..Default::default()
            }),
            index: 0,
        })
        .await
        .unwrap()
        .into_inner();
    // Wait until the run is under way, then ask the runtime to stop.
    loop {
        let ev = stream.message().await.unwrap().expect("a progress event");
        if matches!(ev.kind, Some(pb::run_event::Kind::Progress(_))) {
            break;
        }
    }
    let pid = scenario.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // The run in flight still streams to its end and its record arrives.
    let record = loop {
        match stream.message().await {
            Ok(Some(pb::RunEvent {
                kind: Some(pb::run_event::Kind::Finished(f)),
            })) => break f.record.unwrap(),
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended without the record"),
            Err(e) => panic!("the run was cut off by SIGTERM: {e}"),
        }
    };
    assert_eq!(record.route_id, "town01_blocked");
    assert!(
        record.meta.as_ref().unwrap().duration_game >= 39.9,
        "{record:?}"
    );
    let status = tokio::task::block_in_place(|| sigterm_wait(&mut scenario));
    assert!(status.success(), "{status:?}");
    // Drained: it no longer accepts connections.
    assert_eq!(probe(&["-addr", &scenario_addr]).status.code(), Some(2));
}

/// Waits for a process already sent SIGTERM.
fn sigterm_wait(s: &mut Service) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = s.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "process ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
