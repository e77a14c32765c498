//! The learned policy end to end: the three services in this process with
//! `atlas-vla --policy model` on the shipped weights drive a shipped
//! scenario to completion.

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
