//! A scenario runtime with every run slot taken refuses with
//! RESOURCE_EXHAUSTED and tells the client when to come back
//! (`retry-after-ms`, `grpc-retry-pushback-ms`); a suite pointed at it waits
//! as told and finishes every run.

mod common;

use std::time::{Duration, Instant};

use atlas_proto::scenario as pb;
use tokio::net::TcpListener;
use tonic::Code;

/// A runtime with `max_runs` slots on a loopback port, in front of the local
/// stack's bridge and policy. Returns its address and a stop handle.
async fn runtime(
    stack: &atlas::local::LocalStack,
    max_runs: usize,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = atlas_scenario::Config {
        listen: addr,
        bridge_addr: format!("http://{}", stack.bridge),
        driver_addr: format!("http://{}", stack.vla),
        scenarios_dir: common::repo().join("scenarios"),
        maps_dir: common::repo().join("maps"),
        resolve_interval: Duration::from_secs(3),
        max_runs,
        grace_period_s: 5.0,
    };
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(atlas_scenario::serve(listener, config, async move {
        let _ = rx.await;
    }));
    // The local stack serves already; the runtime takes runs as soon as it listens.
    (addr.to_string(), stop)
}

fn request(file: &str, timeout_s: f64) -> pb::RunScenarioRequest {
    let source = atlas::client::source(&common::scenario_path(file)).unwrap();
    pb::RunScenarioRequest {
        scenario: Some(pb::run_scenario_request::Scenario::Source(source)),
        options: Some(pb::RunOptions {
            timeout_s,
            ..Default::default()
        }),
        index: 0,
    }
}

fn hint_ms(s: &tonic::Status) -> u64 {
    let read = |k: &str| -> u64 {
        s.metadata()
            .get(k)
            .unwrap_or_else(|| panic!("no {k} on {s:?}"))
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let ms = read("retry-after-ms");
    assert_eq!(ms, read("grpc-retry-pushback-ms"), "both keys agree");
    ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_runtime_refuses_with_a_hint_the_suite_honours() {
    let stack = common::local_stack().await;
    let (addr, _stop) = runtime(&stack, 1).await;
    let mut client = atlas::client::connect(&addr).await.unwrap();

    // The one slot, held while the stream is read.
    let started = Instant::now();
    let mut first = client
        .run_scenario(request("town01_straight_clear.toml", 4.0))
        .await
        .expect("the first run gets the slot")
        .into_inner();
    first.message().await.unwrap().expect("a first event");

    // Nothing has finished yet: the runtime has no duration to go by.
    let refused = client
        .run_scenario(request("town01_right_turn.toml", 4.0))
        .await
        .expect_err("the only slot is busy");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("1 run slots"), "{refused:?}");
    assert_eq!(hint_ms(&refused), 1000);

    // The first run finishes; its duration sets the next hint.
    while let Some(ev) = first.message().await.unwrap() {
        if matches!(ev.kind, Some(pb::run_event::Kind::Finished(_))) {
            break;
        }
    }
    let first_run = started.elapsed();
    // The slot is freed when the run's task ends, just after its last event.
    let mut second = None;
    for _ in 0..50 {
        match client
            .run_scenario(request("town01_right_turn.toml", 4.0))
            .await
        {
            Ok(s) => {
                second = Some(s.into_inner());
                break;
            }
            Err(s) if s.code() == Code::ResourceExhausted => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(s) => panic!("{s:?}"),
        }
    }
    let mut second = second.expect("the slot frees once the first run ends");
    second.message().await.unwrap().expect("a first event");
    let refused = client
        .run_scenario(request("town01_blocked.toml", 4.0))
        .await
        .expect_err("the only slot is busy again");
    let ms = hint_ms(&refused);
    // The mean of one run, less the time the running one has had, at least
    // 200 ms (a short run gives exactly the floor).
    let most = (first_run.as_millis() as u64 + 50).max(200);
    assert!(
        (200..=most).contains(&ms),
        "hint {ms} ms, first run took {first_run:?}"
    );
    drop(second);

    // A suite of 6 runs, 3 at a time, at most 2 attempts each, against the
    // one-slot runtime: the refused attempts wait as told, and every run
    // finishes.
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("busy.toml");
    std::fs::write(
        &suite,
        format!(
            "name = \"busy\"\nscenarios = [\"{}/scenarios/town01_straight_clear.toml\"]\nseeds = [1, 2, 3, 4, 5, 6]\ntimeout_s = 3\nconcurrency = 3\nmax_attempts = 2\n\n[policies]\nbaseline = \"default\"\n",
            common::repo().display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_atlas"))
        .args(["suite", "run"])
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .args(["--scenario-addr", &addr, "--quiet"])
        .env("RUST_LOG", "error")
        .env_remove("SAKURA_ARTIFACT_DIR")
        .output()
        .await
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let runs = m["runs"].as_object().unwrap();
    assert_eq!(runs.len(), 6);
    let refusals = runs
        .values()
        .flat_map(|r| r["attempts"].as_array().unwrap())
        .filter(|a| a["outcome"].as_str().unwrap().contains("ResourceExhausted"))
        .count();
    assert!(runs.values().all(|r| r["state"] == "finished"), "{runs:#?}");
    // Three at a time against one slot: some attempts were refused and
    // retried, more than the 2 attempts a run may spend: a refusal with the
    // runtime's hint costs none.
    assert!(refusals > 0, "no attempt was refused: {runs:#?}");
    let most = runs
        .values()
        .map(|r| r["attempts"].as_array().unwrap().len())
        .max()
        .unwrap();
    eprintln!("{refusals} refusals; at most {most} attempts for one run");
    stack.shutdown().await.unwrap();
}
