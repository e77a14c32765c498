//! gRPC status codes for bad requests, through a real tonic client.

mod common;

use atlas_proto::sim as pb;
use common::*;
use tonic::Code;

fn step_req(world: &str, steps: u32, commands: Vec<pb::ActorCommand>) -> pb::StepRequest {
    pb::StepRequest {
        world_id: world.into(),
        steps,
        commands,
        render: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_and_invalid_argument() {
    let server = TestServer::start().await;
    let mut c = server.client().await;

    // Unknown world.
    let err = c.step(step_req("w-nope", 1, vec![])).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("w-nope"));
    let err = c
        .destroy_world(pb::DestroyWorldRequest {
            world_id: "w-nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .spawn_actor(vehicle_at("w-nope", "ego", lane("4", -1, 20.0), external()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Unknown map, missing map, broken inline map.
    let err = c
        .create_world(pb::CreateWorldRequest {
            map: Some(pb::create_world_request::Map::MapName("Atlantis".into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("map_name:") && err.message().contains("Town01"),
        "{}",
        err.message()
    );
    let err = c
        .create_world(pb::CreateWorldRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("map:"), "{}", err.message());
    let broken = "<OpenDRIVE>\n<road id=\"1\" length=\"10\">\n<planView>\n<geometry s=\"0\" x=\"0\" y=\"0\" hdg=\"0\" length=\"10\"><clothoid/></geometry>\n</planView>\n</road>\n</OpenDRIVE>";
    let err = c
        .create_world(pb::CreateWorldRequest {
            map: Some(pb::create_world_request::Map::OpendriveXml(broken.into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("opendrive_xml:4") && err.message().contains("<clothoid>"),
        "{}",
        err.message()
    );
    let err = c
        .create_world(pb::CreateWorldRequest {
            map: Some(pb::create_world_request::Map::MapName("Town01".into())),
            fixed_delta_s: -1.0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("fixed_delta_s:"),
        "{}",
        err.message()
    );

    let w = create_world(&mut c, "Town01").await;
    let world = w.world_id.as_str();

    // NaN pose, bad lane, bad kind.
    let mut req = vehicle_at(world, "ego", lane("4", -1, 20.0), external());
    req.placement = Some(pb::spawn_actor_request::Placement::Pose(pb::Pose {
        position: Some(pb::Vec3 {
            x: f64::NAN,
            y: 0.0,
            z: 0.0,
        }),
        ..Default::default()
    }));
    let err = c.spawn_actor(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("pose.position.x:"),
        "{}",
        err.message()
    );
    let err = c
        .spawn_actor(vehicle_at(world, "ego", lane("4", -7, 20.0), external()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("lane_id:"), "{}", err.message());
    let err = c
        .spawn_actor(vehicle_at(world, "ego", lane("4", -1, 900.0), external()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("s:"), "{}", err.message());
    let err = c
        .spawn_actor(vehicle_at(world, "ego", lane("nope", -1, 1.0), external()))
        .await
        .unwrap_err();
    assert!(err.message().starts_with("road_id:"), "{}", err.message());
    let mut req = vehicle_at(world, "ego", lane("4", -1, 20.0), external());
    req.kind = 0;
    let err = c.spawn_actor(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("kind:"));

    let ego = c
        .spawn_actor(vehicle_at(world, "ego", lane("4", -1, 20.0), external()))
        .await
        .unwrap()
        .into_inner();
    let npc = c
        .spawn_actor(vehicle_at(
            world,
            "npc",
            lane("4", -1, 60.0),
            lane_follow(5.0),
        ))
        .await
        .unwrap()
        .into_inner();

    // Sensors: zero size, unknown actor, duplicate name.
    let attach = |actor_id, name: &str, spec| pb::AttachSensorRequest {
        world_id: world.into(),
        actor_id,
        name: name.into(),
        spec: Some(pb::attach_sensor_request::Spec::Camera(spec)),
    };
    let err = c
        .attach_sensor(attach(ego.actor_id, "cam", camera(0, 180)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("camera.width:"),
        "{}",
        err.message()
    );
    let err = c
        .attach_sensor(attach(999, "cam", camera(64, 64)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    c.attach_sensor(attach(ego.actor_id, "cam", camera(64, 64)))
        .await
        .unwrap();
    let err = c
        .attach_sensor(attach(ego.actor_id, "cam", camera(64, 64)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Steps: too many, unknown actor, NaN control, command for an NPC.
    let err = c.step(step_req(world, 100_000, vec![])).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("steps:"), "{}", err.message());
    let err = c
        .step(step_req(world, 1, vec![throttle(999, 1.0, 0.0, 0.0)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .step(step_req(
            world,
            1,
            vec![throttle(ego.actor_id, f64::NAN, 0.0, 0.0)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("commands[0].control.throttle:"),
        "{}",
        err.message()
    );
    let err = c
        .step(step_req(
            world,
            1,
            vec![
                throttle(ego.actor_id, 1.0, 0.0, 0.0),
                throttle(npc.actor_id, 1.0, 0.0, 0.0),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // Nothing stepped after the rejected calls.
    let snap = c
        .step(step_req(world, 1, vec![]))
        .await
        .unwrap()
        .into_inner()
        .snapshot
        .unwrap();
    assert_eq!(snap.frame, 1);
    assert_eq!(snap.actors[0].speed, 0.0);

    // Lane pose and route argument errors.
    let err = c
        .lane_pose(pb::LanePoseRequest {
            world_id: world.into(),
            lane_position: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = c
        .plan_route(pb::PlanRouteRequest {
            world_id: world.into(),
            waypoints: vec![pb::Vec3::default()],
            spacing: 1.0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = c
        .plan_route(pb::PlanRouteRequest {
            world_id: world.into(),
            waypoints: vec![pb::Vec3::default(), pb::Vec3::default()],
            spacing: -1.0,
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("spacing:"), "{}", err.message());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_limit_is_resource_exhausted() {
    let server = TestServer::start_with(atlas_bridge::Config {
        max_worlds: 2,
        ..test_config()
    })
    .await;
    let mut c = server.client().await;
    let a = create_world(&mut c, "atlas_loop").await;
    create_world(&mut c, "atlas_loop").await;
    let err = c
        .create_world(pb::CreateWorldRequest {
            map: Some(pb::create_world_request::Map::MapName("atlas_loop".into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    // Destroying one frees a slot.
    c.destroy_world(pb::DestroyWorldRequest {
        world_id: a.world_id,
    })
    .await
    .unwrap();
    create_world(&mut c, "atlas_loop").await;
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_goes_serving_then_not_serving_on_drain() {
    use tokio_stream::StreamExt;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    let mut stream = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while let Some(Ok(msg)) = stream.next().await {
        seen.push(msg.status);
        if msg.status == ServingStatus::Serving as i32 {
            break;
        }
    }
    assert_eq!(
        seen.last(),
        Some(&(ServingStatus::Serving as i32)),
        "{seen:?}"
    );
    // On shutdown the watch sees NOT_SERVING before the server goes away.
    let stopping = tokio::spawn(server.stop());
    let mut after = Vec::new();
    while let Some(Ok(msg)) = stream.next().await {
        after.push(msg.status);
        if msg.status == ServingStatus::NotServing as i32 {
            break;
        }
    }
    assert_eq!(
        after.last(),
        Some(&(ServingStatus::NotServing as i32)),
        "{after:?}"
    );
    // The open watch would otherwise hold the drain for the grace period.
    drop(stream);
    stopping.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_maps_keep_the_bridge_not_serving() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Broken.xodr"),
        "<OpenDRIVE>\n  <road id=\"1\" length=\"x\"/>\n</OpenDRIVE>\n",
    )
    .unwrap();
    let server = TestServer::start_with(atlas_bridge::Config {
        maps_dir: dir.path().to_owned(),
        warm_maps: vec![],
        ..test_config()
    })
    .await;
    let mut c = server.client().await;
    // Loading the map names the file, line and element.
    let err = c
        .create_world(pb::CreateWorldRequest {
            map: Some(pb::create_world_request::Map::MapName("Broken".into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("Broken.xodr:2")
            && err.message().contains("<road>")
            && err.message().contains("length"),
        "{}",
        err.message()
    );
    let mut health = HealthClient::new(server.channel().await);
    for service in ["", atlas_bridge::SERVICE_NAME] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::NotServing as i32, "{service:?}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn missing_maps_dir_fails_fast() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = atlas_bridge::serve(
        listener,
        atlas_bridge::Config {
            maps_dir: "/nonexistent/atlas/maps".into(),
            ..test_config()
        },
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/atlas/maps"), "{err}");
}
