//! CARLA ScenarioRunner's own OpenSCENARIO examples (`tests/data/
//! scenario_runner`, MIT) through the three services in-process, with the
//! policy driving `hero` and on the storyboard alone: ScenarioRunner's
//! conventions — the `CARLA:` coordinate frame, pass criteria named
//! `criteria_<Test>`, `external_control` egos, inactive controller
//! overrides, a LogicFile naming a town — are honoured, every vehicle
//! starts on a lane of Town01, and a file read in the wrong frame is an
//! error, never a scored run.

mod common;

use std::path::{Path, PathBuf};

use atlas_proto::scenario as pb;
use common::track;

fn dir() -> PathBuf {
    common::repo().join("tests/data/scenario_runner")
}

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xosc"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 4, "the four ScenarioRunner examples");
    v
}

async fn run(
    addr: &str,
    file: &Path,
    ego: &str,
    timeout_s: f64,
) -> Result<(pb::RouteRecord, pb::Trace), tonic::Status> {
    common::run_traced(addr, atlas::client::source(file).unwrap(), ego, timeout_s).await
}

/// The `criteria_*` condition names of a file's StopTriggers, in order.
fn criteria_in(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    text.match_indices("name=\"criteria_")
        .map(|(i, _)| {
            let rest = &text[i + 6..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

fn town01() -> atlas_sim::Map {
    atlas_sim::Map::from_file(&common::repo().join("maps/Town01.xodr")).unwrap()
}

/// Every vehicle's first traced position lies on a drivable lane.
fn assert_starts_on_lanes(map: &atlas_sim::Map, trace: &pb::Trace, what: &str) {
    for t in trace.tracks.iter().filter(|t| t.kind == "vehicle") {
        let p = atlas_sim::Vec2::new(t.x[0] as f64, t.y[0] as f64);
        let on = map.locate(p).is_some_and(|l| l.lane_type.is_drivable());
        assert!(on, "{what}: {} starts off the lanes at {p:?}", t.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_runner_examples_run_with_the_policy_and_on_the_storyboard() {
    let stack = common::local_stack().await;
    let addr = stack.scenario.to_string();
    let map = town01();
    for f in examples() {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let want = criteria_in(&f);
        for ego in ["", "storyboard"] {
            let what = format!("{name} (ego {ego:?})");
            let (rec, trace) = run(&addr, &f, ego, 8.0)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let meta = rec.meta.as_ref().unwrap();
            assert!(
                meta.warnings
                    .iter()
                    .any(|w| w.contains("CARLA's left-handed frame")),
                "{what}: {:?}",
                meta.warnings
            );
            assert_starts_on_lanes(&map, &trace, &what);
            // The criteria are answered, by name, none unknown.
            let got: Vec<&str> = meta.pass_criteria.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(got, want, "{what}");
            for c in &meta.pass_criteria {
                assert!(
                    c.result == "passed" || c.result == "failed",
                    "{what}: {} is {} ({})",
                    c.name,
                    c.result,
                    c.detail
                );
            }
            if ego == "storyboard" {
                // The hero's controller is external_control: held at its
                // start, as ScenarioRunner holds it without an agent.
                assert!(
                    meta.warnings
                        .iter()
                        .any(|w| w.contains("held at its start")),
                    "{what}: {:?}",
                    meta.warnings
                );
                let hero = track(&trace, "hero");
                let moved =
                    (hero.x.last().unwrap() - hero.x[0]).hypot(hero.y.last().unwrap() - hero.y[0]);
                assert!(moved < 0.5, "{what}: the held hero moved {moved} m");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carla_frame_positions_land_where_scenario_runner_puts_them() {
    let stack = common::local_stack().await;
    let addr = stack.scenario.to_string();
    // FollowLeadingVehicle: the hero at RoadPosition road 4, s 48.58,
    // t 2.75 — ScenarioRunner puts it 2.75 m to the right of the reference
    // line, in lane -1 — and the adversary 50 m further along the road,
    // 1 m to the left of that (dt -1 in CARLA's frame).
    let f = dir().join("FollowLeadingVehicle.xosc");
    let (rec, trace) = run(&addr, &f, "storyboard", 2.0).await.unwrap();
    let map = town01();
    let at = |name: &str| {
        let t = track(&trace, name);
        map.locate(atlas_sim::Vec2::new(t.x[0] as f64, t.y[0] as f64))
            .unwrap_or_else(|| panic!("{name} is not on a lane"))
    };
    let (hero, adv) = (at("hero"), at("adversary"));
    assert_eq!(map.roads()[hero.road].id, "4");
    assert_eq!(hero.lane_id, -1, "{hero:?}");
    assert!((hero.t + 2.75).abs() < 0.05, "{hero:?}");
    assert!((hero.s - 48.58).abs() < 0.05, "{hero:?}");
    assert_eq!(adv.lane_id, -1, "{adv:?}");
    assert!((adv.s - hero.s - 50.0).abs() < 0.5, "{adv:?}");
    assert!((adv.t - hero.t - 1.0).abs() < 0.05, "{adv:?}");
    assert!(rec.scores.is_some());

    // PedestrianCrossingFront: WorldPositions (150, 55) and (110, 52) are
    // CARLA's; read in OpenDRIVE's frame (the `CARLA:` prefix dropped) the
    // same numbers lie 55 m off Town01 and the run is refused, naming the
    // entity and where it is.
    let file = dir().join("PedestrianCrossingFront.xosc");
    let mut source = atlas::client::source(&file).unwrap();
    source.content = source.content.replace(
        "description=\"CARLA:PedestrianCrossing\"",
        "description=\"PedestrianCrossing\"",
    );
    let err = common::run_traced(&addr, source, "", 2.0)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(
        err.message().contains("starts off the road"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("(150.00, 55.00)"),
        "{}",
        err.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_controller_overrides_drive_the_policys_ego() {
    let stack = common::local_stack().await;
    let addr = stack.scenario.to_string();
    // OscControllerExample with the hero's parking brake and full brake
    // overridden: whatever the policy asks, the hero stays put.
    let file = dir().join("OscControllerExample.xosc");
    let mut source = atlas::client::source(&file).unwrap();
    let first = source
        .content
        .find("<Brake value=\"0\" active=\"false\"/>")
        .unwrap();
    source.content.replace_range(
        first..first + "<Brake value=\"0\" active=\"false\"/>".len(),
        "<Brake value=\"1\" active=\"true\"/>",
    );
    let (rec, trace) = common::run_traced(&addr, source, "", 6.0).await.unwrap();
    let hero = track(&trace, "hero");
    let moved = (hero.x.last().unwrap() - hero.x[0]).hypot(hero.y.last().unwrap() - hero.y[0]);
    assert!(moved < 0.5, "the braked hero moved {moved} m");
    assert!(rec.scores.is_some());
    // Unchanged, the policy drives it away.
    let (_, trace) = run(&addr, &file, "", 6.0).await.unwrap();
    let hero = track(&trace, "hero");
    let moved = (hero.x.last().unwrap() - hero.x[0]).hypot(hero.y.last().unwrap() - hero.y[0]);
    assert!(moved > 5.0, "the policy's hero moved only {moved} m");
}
