//! The 15 ALKS OpenSCENARIO files through the three services in-process
//! (real gRPC): each runs with the policy driving the ego and with every
//! entity on the storyboard (`--ego storyboard`), and the traces show the
//! storyboard doing what the scenario names.

mod common;

use std::path::PathBuf;

use atlas_proto::scenario as pb;
use common::track;

fn corpus() -> PathBuf {
    let p = std::env::var_os("ATLAS_ALKS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo().join("scenarios/alks"));
    assert!(
        p.is_dir(),
        "the ALKS corpus is not at {} (set ATLAS_ALKS_DIR)",
        p.display()
    );
    p
}

fn alks_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xosc"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 15);
    v
}

async fn run(
    addr: &str,
    file: &std::path::Path,
    ego: &str,
    timeout_s: f64,
) -> Result<(pb::RouteRecord, pb::Trace), tonic::Status> {
    common::run_traced(addr, atlas::client::source(file).unwrap(), ego, timeout_s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_alks_scenarios_run_with_the_policy_and_on_the_storyboard() {
    let stack = common::local_stack().await;
    let addr = stack.scenario.to_string();
    for f in alks_files() {
        // The policy drives the ego for 6 simulated seconds.
        let (rec, trace) = run(&addr, &f, "", 6.0)
            .await
            .unwrap_or_else(|e| panic!("{} (policy): {e}", f.display()));
        assert!(
            rec.meta.as_ref().unwrap().duration_game > 5.0,
            "{}",
            f.display()
        );
        assert!(rec.meta.as_ref().unwrap().route_length > 50.0);
        let ego = track(&trace, "Ego");
        assert_eq!(ego.role, "ego");
        // Storyboard mode: no policy; every entity on the default controller.
        let (rec, trace) = run(&addr, &f, "storyboard", 25.0)
            .await
            .unwrap_or_else(|e| panic!("{} (storyboard): {e}", f.display()));
        let ego = track(&trace, "Ego");
        let moved = (ego.x.last().unwrap() - ego.x[0]).hypot(ego.y.last().unwrap() - ego.y[0]);
        assert!(moved > 100.0, "{}: ego moved {moved} m", f.display());
        assert!(rec.scores.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storyboard_mode_shows_the_swerve_and_the_crossing() {
    let stack = common::local_stack().await;
    let addr = stack.scenario.to_string();
    let dir = corpus();
    // Swerving lead vehicle: 1.5 m left from t = 10 s (about 5 s), on a road
    // along x, so y rises by 1.5 m while x keeps increasing.
    let (_, trace) = run(
        &addr,
        &dir.join("alks_scenario_4_1_2_swerving_lead_vehicle_template.xosc"),
        "storyboard",
        17.0,
    )
    .await
    .unwrap();
    let lead = track(&trace, "LeadVehicle");
    let y0 = lead.y[0];
    let ymax = lead.y.iter().copied().fold(f32::MIN, f32::max);
    assert!((ymax - y0 - 1.5).abs() < 0.1, "swerve {}", ymax - y0);
    // Crossing pedestrian: walks 10 m across the ego's lane.
    let (_, trace) = run(
        &addr,
        &dir.join("alks_scenario_4_2_3_crossing_pedestrian_template.xosc"),
        "storyboard",
        60.0,
    )
    .await
    .unwrap();
    let ped = track(&trace, "TargetBlocking");
    assert_eq!(ped.kind, "pedestrian");
    let dy = ped.y.last().unwrap() - ped.y[0];
    assert!((dy - 10.0).abs() < 0.3, "crossed {dy} m");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_openscenario_input_is_invalid_argument() {
    let stack = common::local_stack().await;
    let addr = stack.scenario.to_string();
    let file = corpus().join("alks_scenario_4_4_1_cut_in_no_collision_template.xosc");
    // No such ego entity.
    let err = run(&addr, &file, "Nobody", 2.0).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("Nobody"), "{}", err.message());
    // An unsupported element: error with element and line; lenient runs.
    let mut source = atlas::client::source(&file).unwrap();
    source.content = source.content.replacen(
        "<PrivateAction>",
        "<PrivateAction><LateralAction><LateralDistanceAction entityRef=\"Ego\" continuous=\"false\"/></LateralAction></PrivateAction><PrivateAction>",
        1,
    );
    let mut client = atlas::client::connect(&addr).await.unwrap();
    let req = |lenient: bool| pb::RunScenarioRequest {
        scenario: Some(pb::run_scenario_request::Scenario::Source(source.clone())),
        options: Some(pb::RunOptions {
            timeout_s: 1.0,
            ego: "storyboard".into(),
            lenient,
            ..Default::default()
        }),
        index: 0,
    };
    let err = client.run_scenario(req(false)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("LateralDistanceAction"),
        "{}",
        err.message()
    );
    assert!(err.message().contains(":"), "{}", err.message());
    let rec = atlas::client::run_one(&mut client, req(true), |_| {})
        .await
        .unwrap();
    let warnings = &rec.meta.unwrap().warnings;
    assert!(
        warnings.iter().any(|w| w.contains("LateralDistanceAction")),
        "{warnings:?}"
    );
    // A catalog the client did not send.
    let mut missing = atlas::client::source(&file).unwrap();
    missing.files.retain(|k, _| !k.contains("vehicle_catalog"));
    let err = client
        .run_scenario(pb::RunScenarioRequest {
            scenario: Some(pb::run_scenario_request::Scenario::Source(missing)),
            options: None,
            index: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("not found"), "{}", err.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_runner_pass_criteria_are_answered_in_the_record() {
    let stack = common::local_stack().await;
    let addr = stack.scenario.to_string();
    let file = corpus().join("alks_scenario_4_2_1_fully_blocking_target_template.xosc");
    // ScenarioRunner's convention: pass criteria as StopTrigger
    // ParameterConditions on undeclared `criteria_*` parameters.
    let criteria = r#"<ConditionGroup>
        <Condition name="c1" delay="0" conditionEdge="rising"><ByValueCondition><ParameterCondition parameterRef="criteria_CollisionTest" value="" rule="lessThan"/></ByValueCondition></Condition>
        <Condition name="c2" delay="0" conditionEdge="rising"><ByValueCondition><ParameterCondition parameterRef="criteria_MaxVelocityTest" value="1000" rule="lessThan"/></ByValueCondition></Condition>
        <Condition name="c3" delay="0" conditionEdge="rising"><ByValueCondition><ParameterCondition parameterRef="criteria_NoSuchTest" value="" rule="lessThan"/></ByValueCondition></Condition>
      </ConditionGroup>
    </StopTrigger>
  </Storyboard>"#;
    let mut source = atlas::client::source(&file).unwrap();
    let end = source.content.rfind("</StopTrigger>").unwrap();
    let tail_end = source.content.rfind("</Storyboard>").unwrap() + "</Storyboard>".len();
    source.content.replace_range(end..tail_end, criteria);
    let mut client = atlas::client::connect(&addr).await.unwrap();
    let rec = atlas::client::run_one(
        &mut client,
        pb::RunScenarioRequest {
            scenario: Some(pb::run_scenario_request::Scenario::Source(source)),
            options: Some(pb::RunOptions {
                ego: "storyboard".into(),
                ..Default::default()
            }),
            index: 0,
        },
        |_| {},
    )
    .await
    .unwrap();
    let meta = rec.meta.as_ref().unwrap();
    let result = |name: &str| {
        meta.pass_criteria
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", meta.pass_criteria))
            .result
            .clone()
    };
    // The scripted ego has no controller of its own: it hits the blocking
    // target, so the collision criterion fails and says so.
    let collided = rec
        .infractions
        .iter()
        .any(|i| i.category.starts_with("collisions_"));
    assert_eq!(
        result("criteria_CollisionTest"),
        if collided { "failed" } else { "passed" },
        "{rec:?}"
    );
    assert_eq!(result("criteria_MaxVelocityTest"), "passed", "{rec:?}");
    assert_eq!(result("criteria_NoSuchTest"), "unknown", "{rec:?}");
    let json = atlas::results::document(std::slice::from_ref(&rec), &[]);
    assert!(
        json.to_string().contains("criteria_CollisionTest"),
        "results JSON lacks the pass criteria"
    );
}
