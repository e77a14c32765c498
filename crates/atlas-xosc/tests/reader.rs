//! The reader and the player on small hand-written documents with
//! closed-form answers, and bad input.

use std::collections::BTreeMap;
use std::sync::Arc;

use atlas_xosc::model::{ActionKind, PrivateAction, SpeedTarget};
use atlas_xosc::{MemoryFiles, Options, Player, read_str};

const ROAD: &str = include_str!("data/straight.xodr");

const CATALOG: &str = include_str!("data/catalogs/cars.xosc");

fn files() -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    f.insert("road.xodr".to_owned(), ROAD.to_owned());
    f.insert("catalogs/cars.xosc".to_owned(), CATALOG.to_owned());
    f
}

/// A scenario with the ego on lane -1 and `story` as its only story.
fn doc(params: &str, init_extra: &str, story: &str, stop: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<OpenSCENARIO>
  <FileHeader revMajor="1" revMinor="1" date="2024-01-01T00:00:00" description="test" author="t"/>
  <ParameterDeclarations>
    <ParameterDeclaration name="V" parameterType="double" value="10"/>
    {params}
  </ParameterDeclarations>
  <CatalogLocations><VehicleCatalog><Directory path="./catalogs"/></VehicleCatalog></CatalogLocations>
  <RoadNetwork><LogicFile filepath="./road.xodr"/></RoadNetwork>
  <Entities>
    <ScenarioObject name="Ego"><CatalogReference catalogName="cars" entryName="car"/></ScenarioObject>
    <ScenarioObject name="Other">
      <CatalogReference catalogName="cars" entryName="car">
        <ParameterAssignments><ParameterAssignment parameterRef="Len" value="${{2 * 3}}"/></ParameterAssignments>
      </CatalogReference>
    </ScenarioObject>
  </Entities>
  <Storyboard>
    <Init><Actions>
      <Private entityRef="Ego">
        <PrivateAction><TeleportAction><Position><LanePosition roadId="1" laneId="-1" s="10" offset="0"/></Position></TeleportAction></PrivateAction>
        <PrivateAction><LongitudinalAction><SpeedAction>
          <SpeedActionDynamics dynamicsShape="step" dynamicsDimension="time" value="0"/>
          <SpeedActionTarget><AbsoluteTargetSpeed value="$V"/></SpeedActionTarget>
        </SpeedAction></LongitudinalAction></PrivateAction>
      </Private>
      <Private entityRef="Other">
        <PrivateAction><TeleportAction><Position><RelativeLanePosition entityRef="Ego" dLane="-1" ds="20" offset="0"/></Position></TeleportAction></PrivateAction>
      </Private>
      {init_extra}
    </Actions></Init>
    {story}
    <StopTrigger><ConditionGroup>
      <Condition name="End" delay="0" conditionEdge="rising"><ByValueCondition>{stop}</ByValueCondition></Condition>
    </ConditionGroup></StopTrigger>
  </Storyboard>
</OpenSCENARIO>
"#
    )
}

fn story(action: &str, trigger: &str) -> String {
    format!(
        r#"<Story name="S"><Act name="A">
      <ManeuverGroup maximumExecutionCount="1" name="G">
        <Actors selectTriggeringEntities="false"><EntityRef entityRef="Ego"/></Actors>
        <Maneuver name="M"><Event name="E" priority="overwrite">
          <Action name="X">{action}</Action>
          <StartTrigger><ConditionGroup>{trigger}</ConditionGroup></StartTrigger>
        </Event></Maneuver>
      </ManeuverGroup>
      <StartTrigger><ConditionGroup><Condition name="go" delay="0" conditionEdge="none"><ByValueCondition><SimulationTimeCondition value="0" rule="greaterOrEqual"/></ByValueCondition></Condition></ConditionGroup></StartTrigger>
    </Act></Story>"#
    )
}

const SPEED_LINEAR: &str = r#"<PrivateAction><LongitudinalAction><SpeedAction>
  <SpeedActionDynamics dynamicsShape="linear" dynamicsDimension="time" value="4"/>
  <SpeedActionTarget><AbsoluteTargetSpeed value="${$V * 2}"/></SpeedActionTarget>
</SpeedAction></LongitudinalAction></PrivateAction>"#;

const STOP_AT_20: &str = r#"<SimulationTimeCondition value="20" rule="greaterOrEqual"/>"#;

fn time_trigger(at: f64, delay: f64, edge: &str) -> String {
    format!(
        r#"<Condition name="t" delay="{delay}" conditionEdge="{edge}"><ByValueCondition><SimulationTimeCondition value="{at}" rule="greaterOrEqual"/></ByValueCondition></Condition>"#
    )
}

fn read(text: &str) -> Result<atlas_xosc::Scenario, atlas_xosc::XoscError> {
    read_lenient(text, false)
}

fn read_lenient(text: &str, lenient: bool) -> Result<atlas_xosc::Scenario, atlas_xosc::XoscError> {
    let f = files();
    read_str(
        text,
        "t.xosc",
        &MemoryFiles(&f),
        &Options {
            lenient,
            parameters: Vec::new(),
            strict: false,
        },
    )
    .map(|(s, _)| s)
}

fn player(text: &str) -> Player {
    let sc = read(text).unwrap();
    let map = Arc::new(atlas_sim::Map::from_xml(ROAD, "straight").unwrap());
    Player::new(sc, map, Vec::new(), &[]).unwrap()
}

/// Steps at 0.05 s until `t`; returns the ego's speed at each step.
fn run_to(p: &mut Player, t: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    while p.time() < t - 1e-9 {
        p.update().unwrap();
        out.push((p.time(), p.entity("Ego").unwrap().speed));
        p.advance(0.05).unwrap();
    }
    out
}

#[test]
fn parameters_expressions_and_catalog_assignments_resolve() {
    let sc = read(&doc(
        "",
        "",
        &story(SPEED_LINEAR, &time_trigger(1.0, 0.0, "rising")),
        STOP_AT_20,
    ))
    .unwrap();
    assert_eq!(sc.entities.len(), 2);
    let ego = sc.entity("Ego").unwrap();
    assert_eq!(ego.bbox.length, 4.0);
    assert!((ego.wheelbase.unwrap() - 2.8).abs() < 1e-12);
    // The assignment `${2 * 3}` overrides the catalog's default length.
    assert_eq!(sc.entity("Other").unwrap().bbox.length, 6.0);
    let a = &sc.stories[0].acts[0].groups[0].maneuvers[0].events[0].actions[0];
    match &a.kind {
        ActionKind::Private(PrivateAction::Speed {
            target: SpeedTarget::Absolute(v),
            ..
        }) => assert_eq!(*v, 20.0),
        other => panic!("{other:?}"),
    }
    // Overrides from the caller replace declarations.
    let f = files();
    let (sc2, loaded) = read_str(
        &doc("", "", "", STOP_AT_20),
        "t.xosc",
        &MemoryFiles(&f),
        &Options {
            lenient: false,
            parameters: vec![("V".into(), "12.5".into())],
            strict: false,
        },
    )
    .unwrap();
    assert!(loaded.files.contains_key("road.xodr"));
    assert!(loaded.files.contains_key("catalogs/cars.xosc"));
    let map = Arc::new(atlas_sim::Map::from_xml(ROAD, "straight").unwrap());
    let p = Player::new(sc2, map, Vec::new(), &[]).unwrap();
    assert_eq!(p.entity("Ego").unwrap().speed, 12.5);
}

#[test]
fn relative_lane_position_places_the_other_vehicle() {
    let p = player(&doc("", "", "", STOP_AT_20));
    let ego = p.entity("Ego").unwrap();
    let other = p.entity("Other").unwrap();
    // One lane to the right (lane -2, centre y = -5.25), 20 m ahead.
    assert!((ego.x - 10.0).abs() < 1e-9 && (ego.y + 1.75).abs() < 1e-9);
    assert!((other.x - 30.0).abs() < 1e-9 && (other.y + 5.25).abs() < 1e-9);
    assert_eq!(other.lane.as_ref().unwrap().lane, -2);
}

#[test]
fn linear_speed_change_over_time_is_exact() {
    let mut p = player(&doc(
        "",
        "",
        &story(SPEED_LINEAR, &time_trigger(1.0, 0.0, "rising")),
        STOP_AT_20,
    ));
    let speeds = run_to(&mut p, 8.0);
    let at = |t: f64| {
        speeds
            .iter()
            .find(|(tt, _)| (tt - t).abs() < 1e-6)
            .unwrap()
            .1
    };
    // Rising at t = 1.0 (the step that evaluates t = 1.0 starts the
    // event), 10 → 20 m/s over 4 s: v(t) = 10 + 10 (t - 1) / 4.
    assert_eq!(at(1.0), 10.0);
    assert!((at(3.0) - 15.0).abs() < 1e-9, "{}", at(3.0));
    assert!((at(5.0) - 20.0).abs() < 1e-9);
    assert_eq!(p.element_state("X"), Some("complete"));
    // Distance from s = 10: 1 s at 10 m/s, the 80 steps of the ramp each
    // at the speed reached at its end (as esmini moves: updated speed ×
    // dt, so 40 + 0.05 × 0.125 × (1 + … + 80) = 60.25), 3 s at 20.
    let x = p.entity("Ego").unwrap().x;
    let expect = 10.0 + 10.0 + 60.25 + 60.0;
    assert!((x - expect).abs() < 1e-6, "x {x} vs {expect}");
}

#[test]
fn delays_and_edges_shift_and_gate_triggers() {
    // A delay of 2 s: the condition turns true at 1.0, the event starts at 3.0.
    let mut p = player(&doc(
        "",
        "",
        &story(SPEED_LINEAR, &time_trigger(1.0, 2.0, "rising")),
        STOP_AT_20,
    ));
    run_to(&mut p, 2.95);
    assert_eq!(p.element_state("E"), Some("standby"));
    run_to(&mut p, 3.05);
    assert_eq!(p.element_state("E"), Some("running"));
    // A falling edge of "time >= 1" never comes.
    let mut q = player(&doc(
        "",
        "",
        &story(SPEED_LINEAR, &time_trigger(1.0, 0.0, "falling")),
        STOP_AT_20,
    ));
    run_to(&mut q, 6.0);
    assert_eq!(q.element_state("E"), Some("standby"));
    // A rising edge needs a false before: "time >= 0" is true from the start.
    let mut r = player(&doc(
        "",
        "",
        &story(SPEED_LINEAR, &time_trigger(0.0, 0.0, "rising")),
        STOP_AT_20,
    ));
    run_to(&mut r, 2.0);
    assert_eq!(r.element_state("E"), Some("standby"));
    // With no edge it starts at once.
    let mut s = player(&doc(
        "",
        "",
        &story(SPEED_LINEAR, &time_trigger(0.0, 0.0, "none")),
        STOP_AT_20,
    ));
    run_to(&mut s, 0.1);
    assert_eq!(s.element_state("E"), Some("running"));
}

#[test]
fn scenario_runner_criteria_are_collected_not_played() {
    let stop = r#"<SimulationTimeCondition value="2" rule="greaterOrEqual"/></ByValueCondition></Condition>
      <Condition name="c" delay="0" conditionEdge="rising"><ByValueCondition><ParameterCondition parameterRef="criteria_CollisionTest" value="" rule="lessThan"/></ByValueCondition></Condition>
      <Condition name="d" delay="0" conditionEdge="rising"><ByValueCondition><ParameterCondition parameterRef="criteria_MaxVelocityTest" value="25" rule="lessThan"/>"#;
    let sc = read(&doc("", "", "", stop)).unwrap();
    assert_eq!(
        sc.criteria,
        vec![
            ("criteria_CollisionTest".to_owned(), String::new()),
            ("criteria_MaxVelocityTest".to_owned(), "25".to_owned())
        ]
    );
    // The stop trigger still fires on its time condition alone.
    let mut p = player(&doc("", "", "", stop));
    run_to(&mut p, 2.2);
    assert!(p.finished());
    // Other undeclared parameters stay errors.
    let bad = stop.replace("criteria_MaxVelocityTest", "MaxVelocity");
    assert!(
        read(&doc("", "", "", &bad))
            .unwrap_err()
            .message
            .contains("MaxVelocity")
    );
}

#[test]
fn the_stop_trigger_ends_the_storyboard() {
    let mut p = player(&doc(
        "",
        "",
        "",
        r#"<SimulationTimeCondition value="2" rule="greaterOrEqual"/>"#,
    ));
    let mut steps = 0;
    while !p.finished() {
        p.update().unwrap();
        p.advance(0.1).unwrap();
        steps += 1;
        assert!(steps < 100);
    }
    assert!((p.time() - 2.1).abs() < 1e-9, "{}", p.time());
}

#[test]
fn lane_change_reaches_the_target_lane_centre() {
    let lc = r#"<PrivateAction><LateralAction><LaneChangeAction>
      <LaneChangeActionDynamics dynamicsShape="sinusoidal" dynamicsDimension="time" value="3"/>
      <LaneChangeTarget><RelativeTargetLane entityRef="Ego" value="-1"/></LaneChangeTarget>
    </LaneChangeAction></LateralAction></PrivateAction>"#;
    let mut p = player(&doc(
        "",
        "",
        &story(lc, &time_trigger(1.0, 0.0, "rising")),
        STOP_AT_20,
    ));
    run_to(&mut p, 2.5);
    // Half way through a sinusoidal 3.5 m change: half the offset.
    let mid = p.entity("Ego").unwrap().y;
    assert!((mid + 3.5).abs() < 0.02, "mid y {mid}");
    run_to(&mut p, 5.0);
    let e = p.entity("Ego").unwrap();
    assert_eq!(e.lane.as_ref().unwrap().lane, -2);
    assert!((e.y + 5.25).abs() < 1e-9);
    assert_eq!(p.element_state("X"), Some("complete"));
}

#[test]
fn unknown_elements_name_element_and_line() {
    let text = doc(
        "",
        r#"<Private entityRef="Ego">
        <PrivateAction><LateralAction><LateralDistanceAction entityRef="Other" continuous="false"/></LateralAction></PrivateAction>
      </Private>"#,
        "",
        STOP_AT_20,
    );
    let e = read(&text).unwrap_err();
    assert_eq!(e.element, "LateralDistanceAction");
    let line = text
        .lines()
        .position(|l| l.contains("LateralDistanceAction"))
        .unwrap() as u32
        + 1;
    assert_eq!(e.line, line);
    assert!(e.to_string().contains("not supported"), "{e}");
    // Lenient: a warning naming the same element, and the rest reads.
    let sc = read_lenient(&text, true).unwrap();
    assert_eq!(sc.warnings.len(), 1);
    assert!(
        sc.warnings[0].contains("LateralDistanceAction"),
        "{:?}",
        sc.warnings
    );
    // Unknown conditions too.
    let text = doc(
        "",
        "",
        &story(
            SPEED_LINEAR,
            r#"<Condition name="c" delay="0" conditionEdge="none"><ByValueCondition><TimeOfDayCondition dateTime="2020-01-01T10:00:00" rule="greaterThan"/></ByValueCondition></Condition>"#,
        ),
        STOP_AT_20,
    );
    assert_eq!(read(&text).unwrap_err().element, "TimeOfDayCondition");
}

#[test]
fn bad_references_are_errors() {
    // An unknown parameter.
    let text = doc("", "", "", STOP_AT_20).replace("value=\"$V\"", "value=\"$Nope\"");
    let e = read(&text).unwrap_err();
    assert!(e.to_string().contains("$Nope"), "{e}");
    assert_eq!(e.element, "AbsoluteTargetSpeed");
    // A bad expression.
    let text = doc(
        "",
        "",
        &story(
            SPEED_LINEAR.replace("$V * 2", "$V *").as_str(),
            &time_trigger(1.0, 0.0, "none"),
        ),
        STOP_AT_20,
    );
    let e = read(&text).unwrap_err();
    assert!(e.message.contains("expression"), "{e}");
    // A missing catalog entry.
    let text = doc("", "", "", STOP_AT_20).replace("entryName=\"car\"/>", "entryName=\"bus\"/>");
    let e = read(&text).unwrap_err();
    assert_eq!(e.element, "CatalogReference");
    assert!(e.message.contains("cars/bus"), "{e}");
    // An assignment to a parameter the entry does not declare.
    let text =
        doc("", "", "", STOP_AT_20).replace("parameterRef=\"Len\"", "parameterRef=\"Width\"");
    let e = read(&text).unwrap_err();
    assert!(e.message.contains("Width"), "{e}");
    // An unknown entity.
    let text = doc(
        "",
        "",
        &story(SPEED_LINEAR, &time_trigger(1.0, 0.0, "none")).replace(
            "entityRef=\"Ego\"/></Actors>",
            "entityRef=\"Ghost\"/></Actors>",
        ),
        STOP_AT_20,
    );
    let e = read(&text).unwrap_err();
    assert!(e.message.contains("Ghost"), "{e}");
    // A missing road network file.
    let text = doc("", "", "", STOP_AT_20).replace("./road.xodr", "./other.xodr");
    let e = read(&text).unwrap_err();
    assert_eq!(e.element, "LogicFile");
    // Malformed XML reports its line.
    let e = read("<OpenSCENARIO>\n<Storyboard>\n</OpenSCENARIO>").unwrap_err();
    assert_eq!(e.line, 3);
    // A version this reader does not know.
    let text = doc("", "", "", STOP_AT_20).replace(
        "revMajor=\"1\" revMinor=\"1\" date=\"2024-01-01T00:00:00\" description=\"test\"",
        "revMajor=\"2\" revMinor=\"0\" date=\"2024-01-01T00:00:00\" description=\"test\"",
    );
    assert_eq!(read(&text).unwrap_err().element, "FileHeader");
}

#[test]
fn the_fuzz_body_survives_the_seeds_and_their_mutations() {
    let seeds = [
        doc(
            "",
            "",
            &story(SPEED_LINEAR, &time_trigger(1.0, 0.5, "rising")),
            STOP_AT_20,
        ),
        doc("", "", "", STOP_AT_20),
    ];
    for s in &seeds {
        atlas_xosc::fuzzing::exercise(s.as_bytes());
        let b = s.as_bytes();
        // Truncations and byte flips.
        for cut in (0..b.len()).step_by(97) {
            atlas_xosc::fuzzing::exercise(&b[..cut]);
        }
        for i in (0..b.len()).step_by(131) {
            let mut m = b.to_vec();
            m[i] ^= 0x20;
            atlas_xosc::fuzzing::exercise(&m);
        }
    }
}

#[test]
fn synchronize_action_arrives_with_the_master_at_the_final_speed() {
    // Other (lane -2, s 30) drives at 20 m/s and reaches s 230 at t = 10 s;
    // Ego (s 10, 10 m/s) must be at s 160 then, at 20 m/s: a linear ramp
    // 10 → 20 m/s over the 10 s covers exactly the 150 m.
    let other_speed = r#"<Private entityRef="Other"><PrivateAction><LongitudinalAction><SpeedAction>
      <SpeedActionDynamics dynamicsShape="step" dynamicsDimension="time" value="0"/>
      <SpeedActionTarget><AbsoluteTargetSpeed value="20"/></SpeedActionTarget>
    </SpeedAction></LongitudinalAction></PrivateAction></Private>"#;
    let sync = r#"<PrivateAction><SynchronizeAction masterEntityRef="Other">
      <TargetPositionMaster><LanePosition roadId="1" laneId="-2" s="230" offset="0"/></TargetPositionMaster>
      <TargetPosition><LanePosition roadId="1" laneId="-1" s="160" offset="0"/></TargetPosition>
      <FinalSpeed><AbsoluteSpeed value="20"/></FinalSpeed>
    </SynchronizeAction></PrivateAction>"#;
    let mut p = player(&doc(
        "",
        other_speed,
        &story(sync, &time_trigger(0.0, 0.0, "none")),
        STOP_AT_20,
    ));
    run_to(&mut p, 10.0);
    let ego = p.entity("Ego").unwrap();
    let s = ego.lane.as_ref().unwrap().s;
    assert!(
        (s - 160.0).abs() < 1.5,
        "ego at s {s} when the master arrives"
    );
    run_to(&mut p, 10.5);
    assert_eq!(p.element_state("X"), Some("complete"));
    let ego = p.entity("Ego").unwrap();
    assert!((ego.speed - 20.0).abs() < 1e-9, "final speed {}", ego.speed);
}

#[test]
fn route_positions_place_along_the_route() {
    let route = r#"<RouteRef><Route name="R" closed="false">
      <Waypoint routeStrategy="shortest"><Position><LanePosition roadId="1" laneId="-1" s="20" offset="0"/></Position></Waypoint>
      <Waypoint routeStrategy="shortest"><Position><LanePosition roadId="1" laneId="-1" s="250" offset="0"/></Position></Waypoint>
    </Route></RouteRef>"#;
    let at = |inroute: &str| {
        format!(
            r#"<Private entityRef="Other"><PrivateAction><TeleportAction><Position><RoutePosition>{route}<InRoutePosition>{inroute}</InRoutePosition></RoutePosition></Position></TeleportAction></PrivateAction></Private>"#
        )
    };
    // 100 m along the route (from s 20), in lane -2.
    let p = player(&doc(
        "",
        &at(r#"<FromLaneCoordinates pathS="100" laneId="-2" laneOffset="0"/>"#),
        "",
        STOP_AT_20,
    ));
    let l = p.entity("Other").unwrap().lane.clone().unwrap();
    assert_eq!(l.lane, -2);
    assert!((l.s - 120.0).abs() < 0.5, "{l:?}");
    // 50 m along, at road t = -5.25 (lane -2's centre on this road).
    let p = player(&doc(
        "",
        &at(r#"<FromRoadCoordinates pathS="50" t="-5.25"/>"#),
        "",
        STOP_AT_20,
    ));
    let e = p.entity("Other").unwrap();
    assert!((e.y + 5.25).abs() < 1e-6, "y {}", e.y);
    assert!((e.x - 70.0).abs() < 0.5, "x {}", e.x);
    // Beyond the route's end: an error naming the position.
    let text = doc(
        "",
        &at(r#"<FromRoadCoordinates pathS="900" t="0"/>"#),
        "",
        STOP_AT_20,
    );
    let sc = read(&text).unwrap();
    let map = Arc::new(atlas_sim::Map::from_xml(ROAD, "road").unwrap());
    let Err(e) = Player::new(sc, map, Vec::new(), &[]) else {
        panic!("a route position past the route's end was accepted");
    };
    assert!(e.to_string().contains("pathS 900"), "{e}");
}
