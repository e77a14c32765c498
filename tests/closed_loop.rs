//! The shipped scenarios end to end through the three real gRPC services
//! (in this process, on loopback ports).

mod common;

use common::{categories, local_stack, run_scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_scenarios_score_as_the_leaderboard_would() {
    let stack = local_stack().await;
    let addr = stack.scenario.to_string();

    let clear = run_scenario(&addr, "town01_straight_clear.toml", None).await;
    let s = clear.scores.unwrap();
    assert_eq!(s.score_route, 100.0, "clear route completed: {clear:?}");
    assert!(
        !categories(&clear)
            .iter()
            .any(|c| c.starts_with("collisions")),
        "no collision on the clear route: {clear:?}"
    );
    assert!(
        clear.status == "Perfect" || clear.status == "Completed",
        "{}",
        clear.status
    );
    let t = clear.timing.unwrap();
    assert!(t.control_steps > 50 && t.step_p50_ms > 0.0, "{t:?}");

    let turn = run_scenario(&addr, "town01_right_turn.toml", None).await;
    assert_eq!(
        turn.scores.unwrap().score_route,
        100.0,
        "right turn completed: {turn:?}"
    );

    let blocked = run_scenario(&addr, "town01_blocked.toml", None).await;
    let b = blocked.scores.unwrap();
    assert!(
        categories(&blocked).contains(&"collisions_vehicle"),
        "the baseline hits the stopped car: {blocked:?}"
    );
    assert!((b.score_penalty - 0.6).abs() < 1e-9, "{b:?}");
    assert!(b.score_route < 100.0 && b.score_route > 20.0, "{b:?}");
    assert!(b.score_composed < s.score_composed, "{b:?} vs {s:?}");
    assert!(blocked.status.starts_with("Failed"), "{}", blocked.status);

    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_result() {
    let stack = local_stack().await;
    let addr = stack.scenario.to_string();
    let a = run_scenario(&addr, "town01_blocked.toml", Some(11)).await;
    let b = run_scenario(&addr, "town01_blocked.toml", Some(11)).await;
    // Wall-clock fields differ; everything simulated must not.
    let strip = |mut r: atlas_proto::scenario::RouteRecord| {
        r.timing = None;
        if let Some(m) = r.meta.as_mut() {
            m.duration_system = 0.0;
        }
        r
    };
    assert_eq!(strip(a), strip(b));
    stack.shutdown().await.unwrap();
}
