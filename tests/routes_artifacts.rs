//! Leaderboard route files end to end: `atlas run routes.xml` runs a Town01
//! route of the Leaderboard 1.0 training routes with background traffic
//! through the three services (real gRPC), and writes Leaderboard-shaped
//! results, JUnit XML and per-run artifacts from the trace the runtime sends
//! back. Bad route requests get the right status codes.

mod common;

use std::path::PathBuf;
use std::process::Command;

use atlas_proto::scenario as pb;

const ATLAS: &str = env!("CARGO_BIN_EXE_atlas");

fn training_routes() -> PathBuf {
    let p = common::repo().join("scenarios/routes/leaderboard-1.0/routes_training.xml");
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

#[test]
fn a_town01_training_route_runs_with_traffic_and_writes_every_artifact() {
    let routes = training_routes();
    let out = tempfile::tempdir().unwrap();
    let results = out.path().join("results.json");
    let junit = out.path().join("junit.xml");
    let artifacts = out.path().join("runs");
    let run = Command::new(ATLAS)
        .current_dir(common::repo())
        .env("RUST_LOG", "warn")
        .args(["run"])
        .arg(&routes)
        .args([
            "--routes-subset",
            "1",
            "--town",
            "Town01",
            "--timeout-s",
            "20",
            "--traffic-vehicles",
            "12",
            "--traffic-pedestrians",
            "6",
            "--seed",
            "3",
        ])
        .arg("--results")
        .arg(&results)
        .arg("--junit")
        .arg(&junit)
        .arg("--artifacts")
        .arg(&artifacts)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "atlas run failed: {stderr}");

    // Leaderboard-shaped results with one record for route 1.
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    let cp = &doc["_checkpoint"];
    assert_eq!(cp["progress"], serde_json::json!([1, 1]));
    let rec = &cp["records"][0];
    assert_eq!(rec["route_id"], "route_1");
    assert_eq!(rec["atlas"]["map"], "Town01");
    assert_eq!(rec["infractions"].as_object().unwrap().len(), 12);
    assert_eq!(rec["meta"]["traffic"]["vehicles"], 12);
    assert_eq!(rec["meta"]["traffic"]["pedestrians"], 6);
    let route_length = rec["meta"]["route_length"].as_f64().unwrap();
    assert!(route_length > 500.0, "route 1 is long: {route_length}");
    let rc = rec["scores"]["score_route"].as_f64().unwrap();
    assert!(rc > 0.0 && rc < 100.0, "20 s cover part of the route: {rc}");
    assert_eq!(rec["status"], "Failed - Agent timed out");
    let status = rec["status"].as_str().unwrap();

    // JUnit: one failing testcase with the score as a property.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let jd = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = jd
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1);
    assert!(cases[0].children().any(|c| c.has_tag_name("failure")));
    let ds = cases[0]
        .descendants()
        .find(|p| p.attribute("name") == Some("score_composed"))
        .unwrap();
    assert_eq!(
        ds.attribute("value").unwrap().parse::<f64>().unwrap(),
        rec["scores"]["score_composed"].as_f64().unwrap()
    );

    // Artifacts of run 0, route 1.
    let dir = artifacts.join("0_route_1");
    let csv = std::fs::read_to_string(dir.join("trajectory.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "time,entity,actor_id,kind,role,x,y,z,heading,speed"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let actors: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[2]).collect();
    // The ego and all 18 background actors, every control step (10 Hz).
    assert_eq!(actors.len(), 1 + 12 + 6, "{actors:?}");
    let ego_rows = rows.iter().filter(|r| r[4] == "ego").count();
    assert!(
        (195..=202).contains(&ego_rows),
        "{ego_rows} ego rows in 20 s"
    );
    assert!(rows.iter().any(|r| r[3] == "pedestrian"));
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The timeout is an infraction event, placed where the ego was.
    let timeout = events
        .iter()
        .find(|e| e["kind"] == "route_timeout")
        .unwrap_or_else(|| panic!("no route_timeout event ({status}): {events:?}"));
    assert_eq!(timeout["infraction"], true);
    let png = image::open(dir.join("topdown.png")).unwrap().to_rgb8();
    assert!(png.width() >= 480 && png.height() >= 480);
    // Roads of Town01 are drawn under the paths (road grey), and the ego
    // path (magenta) over them.
    assert!(png.pixels().any(|p| p.0 == [110, 110, 116]));
    assert!(png.pixels().any(|p| p.0 == [200, 30, 160]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_requests_name_the_route_and_the_file() {
    let stack = common::local_stack().await;
    let mut client = atlas::client::connect(&stack.scenario.to_string())
        .await
        .unwrap();
    let two = r#"<routes>
  <route id="a" town="Town01"><waypoint x="1" y="2" z="0"/><waypoint x="9" y="2" z="0"/></route>
  <route id="b" town="Town01"><waypoint x="1" y="2" z="0"/><waypoint x="9" y="2" z="0"/></route>
</routes>"#;
    let req = |content: &str, route_id: &str| pb::RunScenarioRequest {
        scenario: Some(pb::run_scenario_request::Scenario::Source(
            pb::ScenarioSource {
                file_name: "two.xml".into(),
                content: content.into(),
                ..Default::default()
            },
        )),
        options: Some(pb::RunOptions {
            route_id: route_id.into(),
            ..Default::default()
        }),
        index: 0,
    };
    let e = client.run_scenario(req(two, "")).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("2 routes"), "{}", e.message());
    let e = client.run_scenario(req(two, "zz")).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    assert!(e.message().contains("has: a, b"), "{}", e.message());
    let bad = two.replace("x=\"9\"", "x=\"nine\"");
    let e = client.run_scenario(req(&bad, "a")).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message().starts_with("two.xml: line 2: <waypoint>"),
        "{}",
        e.message()
    );
    stack.shutdown().await.unwrap();
}
