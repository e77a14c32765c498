//! Bad input gets a clear error and the right gRPC code, never a panic.

mod common;

use atlas_proto::scenario as pb;
use atlas_proto::{common as wire, egodriver, sim};
use common::local_stack;
use tonic::Code;

/// The shipped blocked scenario with one text edit, sent whole as `file_name`.
fn edited(file_name: &str, from: &str, to: &str) -> pb::RunScenarioRequest {
    let text = std::fs::read_to_string(common::scenario_path("town01_blocked.toml")).unwrap();
    assert!(text.contains(from), "the edit must apply: {from}");
    pb::RunScenarioRequest {
        scenario: Some(pb::run_scenario_request::Scenario::Source(
            pb::ScenarioSource {
                file_name: file_name.into(),
                content: text.replace(from, to),
                opendrive_xml: String::new(),
                files: Default::default(),
                first_line: 0,
            },
        )),
        options: None,
        index: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_inputs_are_refused_with_names_and_codes() {
    let stack = local_stack().await;

    // A scenario with a misspelt key: the error names the file and the key.
    let mut client = atlas::client::connect(&stack.scenario.to_string())
        .await
        .unwrap();
    let err = client
        .run_scenario(edited(
            "typo.toml",
            "behavior = \"stopped\"",
            "behaviour = \"stopped\"",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("typo.toml"), "{}", err.message());
    assert!(err.message().contains("behaviour"), "{}", err.message());

    // A value out of range: the element path and its line.
    let err = client
        .run_scenario(edited("neg.toml", "timeout_s = 40", "timeout_s = -4"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("neg.toml") && err.message().contains("timeout_s"),
        "{}",
        err.message()
    );

    // A lane that does not exist on the map: the run fails, naming the element.
    let mut stream = client
        .run_scenario(edited(
            "lane.toml",
            "{ road = \"12\", lane = -1, s = 90.0 }",
            "{ road = \"12\", lane = -7, s = 90.0 }",
        ))
        .await
        .unwrap()
        .into_inner();
    let err = loop {
        match stream.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("a run with a bad lane must fail"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("lane.toml") && err.message().contains("actors[0]"),
        "{}",
        err.message()
    );

    // The policy: an unknown session is NOT_FOUND, a NaN pose INVALID_ARGUMENT.
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{}", stack.vla))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut driver = egodriver::egodriver_service_client::EgodriverServiceClient::new(ch);
    let err = driver
        .drive(egodriver::DriveRequest {
            session_uuid: "no-such-session".into(),
            time_now_us: 0,
            time_query_us: 100_000,
            renderer_data: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    driver
        .start_session(egodriver::DriveSessionRequest {
            session_uuid: "s1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let nan_pose = wire::Pose {
        vec: Some(wire::Vec3 {
            x: f32::NAN,
            y: 0.0,
            z: 0.0,
        }),
        quat: Some(wire::Quat {
            w: 1.0,
            x: 0.0,
            y: 0.0,
            z: 0.0,
        }),
    };
    let err = driver
        .submit_egomotion_observation(egodriver::RolloutEgoTrajectory {
            session_uuid: "s1".into(),
            trajectory: Some(wire::Trajectory {
                poses: vec![wire::PoseAtTime {
                    pose: Some(nan_pose),
                    timestamp_us: 0,
                }],
            }),
            dynamic_states: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // The bridge: unknown world NOT_FOUND, NaN spawn pose INVALID_ARGUMENT.
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{}", stack.bridge))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut simc = sim::simulator_client::SimulatorClient::new(ch);
    let err = simc
        .step(sim::StepRequest {
            world_id: "nope".into(),
            steps: 1,
            commands: vec![],
            render: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let world = simc
        .create_world(sim::CreateWorldRequest {
            map: Some(sim::create_world_request::Map::MapName("Town01".into())),
            fixed_delta_s: 0.05,
            seed: 1,
            label: "bad-input".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let err = simc
        .spawn_actor(sim::SpawnActorRequest {
            world_id: world.world_id.clone(),
            kind: sim::ActorKind::Vehicle as i32,
            placement: Some(sim::spawn_actor_request::Placement::Pose(sim::Pose {
                position: Some(sim::Vec3 {
                    x: f64::NAN,
                    y: 0.0,
                    z: 0.0,
                }),
                ..Default::default()
            })),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = simc
        .create_world(sim::CreateWorldRequest {
            map: Some(sim::create_world_request::Map::MapName("NoSuchTown".into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::InvalidArgument | Code::NotFound),
        "{err:?}"
    );

    stack.shutdown().await.unwrap();
}

#[test]
fn a_malformed_file_is_named_by_the_cli_reader() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("broken.toml");
    std::fs::write(
        &p,
        "map = \"Town01\"\n[ego]\nstart = { road = \"1\", lane = -1 }\n",
    )
    .unwrap();
    let err = format!("{:#}", atlas::client::source(&p).unwrap_err());
    assert!(err.contains("broken.toml"), "{err}");
    assert!(err.contains("line"), "{err}");
}

/// The ALKS cut-in file as the CLI would send it, with `edit` applied to
/// its text and `edit_map` to its road network's.
fn alks_cut_in(
    edit: impl Fn(&str) -> String,
    edit_map: impl Fn(&str) -> String,
) -> pb::RunScenarioRequest {
    let file =
        common::repo().join("scenarios/alks/alks_scenario_4_4_1_cut_in_no_collision_template.xosc");
    let mut source = atlas::client::source(&file).unwrap();
    source.content = edit(&source.content);
    let key = source
        .files
        .keys()
        .find(|k| k.ends_with(".xodr"))
        .cloned()
        .expect("the road network is sent along");
    let map = edit_map(&source.files[&key]);
    source.files.insert(key, map);
    pb::RunScenarioRequest {
        scenario: Some(pb::run_scenario_request::Scenario::Source(source)),
        options: Some(pb::RunOptions {
            timeout_s: 1.0,
            ego: "storyboard".into(),
            ..Default::default()
        }),
        index: 0,
    }
}

/// The warnings of the record of a run that must go ahead.
async fn warnings_of(
    client: &mut pb::scenario_runner_client::ScenarioRunnerClient<tonic::transport::Channel>,
    req: pb::RunScenarioRequest,
) -> Vec<String> {
    let rec = atlas::client::run_one(client, req, |_| {}).await.unwrap();
    rec.meta.unwrap().warnings
}

/// Some warning contains every one of `parts`.
fn warned(warnings: &[String], parts: &[&str]) {
    assert!(
        warnings.iter().any(|w| parts.iter().all(|p| w.contains(p))),
        "no warning with {parts:?} in {warnings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untidy_field_files_are_named_or_warned_never_silently_run() {
    let stack = local_stack().await;
    let addr = stack.scenario.to_string();
    let mut client = atlas::client::connect(&addr).await.unwrap();
    let same = |s: &str| s.to_owned();

    // A truncated OpenSCENARIO file: reported where it ends, not at line 1.
    let req = alks_cut_in(|s| s[..s.len() / 2].to_owned(), same);
    let err = client.run_scenario(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("ends early"), "{}", err.message());
    assert!(!err.message().contains(".xosc:1:"), "{}", err.message());

    // A ParameterCondition with an empty parameterRef outside a StopTrigger
    // (ScenarioRunner's criteria written in the wrong place) says how a
    // criterion is written.
    let req = alks_cut_in(
        |s| {
            s.replacen(
                "<SimulationTimeCondition value=\"0\" rule=\"greaterOrEqual\" />",
                "<ParameterCondition parameterRef=\"\" value=\"\" rule=\"lessThan\" />",
                1,
            )
        },
        same,
    );
    let err = client.run_scenario(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("criteria_<Test>"),
        "{}",
        err.message()
    );

    // An unknown attribute in the scenario and a misspelt element in its
    // map: the run goes ahead, and the record says what was not read.
    let req = alks_cut_in(
        |s| s.replacen("<TeleportAction>", "<TeleportAction speeed=\"3\">", 1),
        |m| m.replacen("<right>", "<right><lnae id=\"-9\"/>", 1),
    );
    let warnings = warnings_of(&mut client, req).await;
    warned(&warnings, &["\"speeed\"", ".xosc:"]);
    warned(&warnings, &["lnae", ".xodr"]);
    // Strict: the same file is refused, naming the attribute and its line.
    let mut req = alks_cut_in(
        |s| s.replacen("<TeleportAction>", "<TeleportAction speeed=\"3\">", 1),
        same,
    );
    req.options.as_mut().unwrap().strict = true;
    let err = client.run_scenario(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("\"speeed\"") && err.message().contains(".xosc:92:"),
        "{}",
        err.message()
    );
    // Strict on the map: the misspelt element refuses the run (on the
    // stream, where the map is read).
    let mut req = alks_cut_in(same, |m| {
        m.replacen("<right>", "<right><lnae id=\"-9\"/>", 1)
    });
    req.options.as_mut().unwrap().strict = true;
    let r = atlas::client::run_one(&mut client, req, |_| {}).await;
    let e = format!("{:#}", r.unwrap_err());
    assert!(e.contains("lnae") && e.contains(".xodr"), "{e}");

    // A link to a junction the map does not have (as SUMO exports write
    // them): the map loads as CARLA and esmini load it, the link dropped
    // and named in the record.
    let req = alks_cut_in(same, |m| {
        m.replacen(
            "<link></link>",
            "<link><predecessor elementType=\"junction\" elementId=\"4\"/></link>",
            1,
        )
    });
    warned(&warnings_of(&mut client, req).await, &["\"4\"", ".xodr"]);

    // A map that cannot be used: the error names the map's file (it comes
    // on the stream, once the run reads its map).
    let req = alks_cut_in(same, |m| m[..m.len() / 2].to_owned());
    let err = match client.run_scenario(req).await {
        Err(e) => e,
        Ok(r) => {
            let mut stream = r.into_inner();
            loop {
                match stream.message().await {
                    Err(e) => break e,
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("a run on a truncated map finished"),
                }
            }
        }
    };
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains(".xodr"), "{}", err.message());
    assert!(
        !err.message().contains("opendrive_xml"),
        "{}",
        err.message()
    );
}

#[test]
fn the_cli_names_what_it_cannot_run_and_what_is_missing() {
    // A bare map: the error lists the formats ATLAS runs.
    let o = common::atlas(&["run", "maps/Town01.xodr"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(".toml") && err.contains(".xosc") && err.contains(".xml"),
        "{err}"
    );
    // Outside the repository there is no maps/: say so, and how to point at one.
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario_path("town01_straight_clear.toml");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_atlas"))
        .args(["run", scenario.to_str().unwrap()])
        .current_dir(dir.path())
        .env("RUST_LOG", "error")
        .env_remove("ATLAS_MAPS_DIR")
        .env_remove("ATLAS_SCENARIO_ADDR")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no maps directory"), "{err}");
    assert!(err.contains("--maps-dir"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_traffic_places_what_fits_and_says_what_did_not() {
    // A motorway with no sidewalks: the pedestrians asked for have no room,
    // the route still runs with the vehicles that fit, and the record says.
    let stack = local_stack().await;
    let mut client = atlas::client::connect(&stack.scenario.to_string())
        .await
        .unwrap();
    let road = std::fs::read_to_string(
        common::repo().join("scenarios/alks/road_networks/alks_road_straight.xodr"),
    )
    .unwrap();
    let toml = "name = \"motorway\"\nmap = \"alks_road_straight\"\ntimeout_s = 3\n\
                [ego]\nstart = { road = \"0\", lane = -4, s = 10.0 }\n\
                [route]\nwaypoints = [ { road = \"0\", lane = -4, s = 200.0 } ]\n";
    let req = pb::RunScenarioRequest {
        scenario: Some(pb::run_scenario_request::Scenario::Source(
            pb::ScenarioSource {
                file_name: "motorway.toml".into(),
                content: toml.into(),
                opendrive_xml: road,
                files: Default::default(),
                first_line: 0,
            },
        )),
        options: Some(pb::RunOptions {
            traffic: Some(pb::TrafficOptions {
                vehicles: 4,
                pedestrians: 6,
            }),
            ..Default::default()
        }),
        index: 0,
    };
    let rec = atlas::client::run_one(&mut client, req, |_| {})
        .await
        .unwrap();
    let warnings = &rec.meta.as_ref().unwrap().warnings;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("room for 4 of 4 vehicles and 0 of 6 pedestrians")),
        "{warnings:?}"
    );
    assert!(rec.scores.is_some());
}
