//! The learned policy end to end: the three services in this process with
//! `atlas-vla --policy model` on the shipped weights drive a shipped
//! scenario to completion; `atlas preflight` passes on the shipped model and
//! fails with a fix on a broken one; `atlas train` collects, trains, saves
//! and evaluates a (tiny) model through the services.

mod common;

use atlas::local::{LocalConfig, LocalStack};
use common::{categories, repo, run_scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_model_drives_the_clear_scenario() {
    let mut cfg = LocalConfig::ephemeral(repo().join("maps"), repo().join("scenarios"));
    let model_dir = repo().join("models/atlas-drive-v1");
    cfg.vla_args = vec![
        "--policy".into(),
        "model".into(),
        "--model-dir".into(),
        model_dir.display().to_string(),
    ];
    let stack = LocalStack::start(cfg)
        .await
        .expect("the services start with the model policy");
    let addr = stack.scenario.to_string();

    let clear = run_scenario(&addr, "town01_straight_clear.toml", None).await;
    let s = clear.scores.unwrap();
    assert_eq!(s.score_route, 100.0, "route completed: {clear:?}");
    assert!(
        !categories(&clear)
            .iter()
            .any(|c| c.starts_with("collisions")),
        "no collision: {clear:?}"
    );
    stack.shutdown().await.unwrap();
}

fn atlas() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_atlas"));
    c.current_dir(repo()).env("RAYON_NUM_THREADS", "1");
    c
}

#[test]
fn atlas_preflight_passes_on_the_shipped_model_and_says_what_to_do_otherwise() {
    let out = atlas()
        .args(["preflight", "--model-dir", "models/atlas-drive-v1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "ok  device",
        "ok  weights",
        "ok  warm-up",
        "preflight passed",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from {stdout}");
    }

    // An empty model directory: non-zero exit, the check and the fix named.
    let empty = tempfile::tempdir().unwrap();
    let out = atlas()
        .args(["preflight", "--model-dir"])
        .arg(empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("preflight failed: weights:") && stderr.contains("ATLAS_MODEL_DIR"),
        "{stderr}"
    );

    // CUDA in a CPU-only build: the device check fails first.
    let out = atlas()
        .args(["preflight", "--device", "cuda"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("preflight failed: device:") && stderr.contains("--device cpu"),
        "{stderr}"
    );
}

#[test]
fn atlas_train_writes_a_model_and_drives_it_through_the_services() {
    // A tiny architecture, four short episodes and a few steps: this checks
    // the pipeline (collect, train, save, preflight, closed loop over gRPC),
    // not the driving.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = atlas_model::ModelConfig::tiny();
    let cfg_path = tmp.path().join("tiny.json");
    std::fs::write(&cfg_path, serde_json::to_string(&cfg).unwrap()).unwrap();
    let out_dir = tmp.path().join("model");
    let out = atlas()
        .args(["train", "--config"])
        .arg(&cfg_path)
        .args(["--out"])
        .arg(&out_dir)
        .args([
            "--maps",
            "maps/Town01.xodr",
            "--episodes",
            "4",
            "--episode-steps",
            "40",
            "--val-fraction",
            "0.25",
            "--steps",
            "4",
            "--batch-size",
            "4",
            "--warmup-steps",
            "1",
            "--log-every",
            "1",
            "--eval-every",
            "2",
            "--quiet",
            "--eval-scenario",
            "scenarios/town01_straight_clear.toml",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for file in [
        "config.json",
        "model.safetensors",
        "model.safetensors.sha256",
    ] {
        assert!(out_dir.join(file).is_file(), "{file} not written");
    }
    let log = std::fs::read_to_string(out_dir.join("train_log.jsonl")).unwrap();
    assert!(log.lines().count() >= 4, "{log}");
    // The evaluation table names the scenario with a status.
    assert!(stdout.contains("town01_straight_clear"), "{stdout}");
    let device = atlas_model::DeviceChoice::Cpu.open().unwrap();
    let loaded = atlas_model::load(&out_dir, &device).unwrap();
    assert_eq!(loaded.model.config(), &cfg);

    // A bad flag value is refused before anything runs.
    let out = atlas()
        .args(["train", "--steps", "0", "--no-eval", "--out"])
        .arg(tmp.path().join("never"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!tmp.path().join("never").exists());
}
