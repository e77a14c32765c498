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
