//! A world on Town01 driven through a real tonic client: ego and NPC,
//! camera and bird's-eye frames, collisions, routes through a junction.

mod common;

use atlas_proto::sim as pb;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn town01_world_with_ego_npc_and_sensors() {
    let server = TestServer::start().await;
    server.wait_serving().await;
    let mut c = server.client().await;

    let maps = c
        .list_maps(pb::ListMapsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(maps.names.iter().any(|n| n == "Town01"), "{:?}", maps.names);

    let w = create_world(&mut c, "Town01").await;
    let info = w.map.unwrap();
    assert_eq!(info.name, "Town01");
    assert_eq!(info.junction_count, 12);
    assert!(info.road_count > 100);
    assert!(info.total_road_length > 3000.0);
    assert_eq!(w.fixed_delta_s, 0.05);

    let ego = c
        .spawn_actor(vehicle_at(
            &w.world_id,
            "ego",
            lane("4", -1, 20.0),
            external(),
        ))
        .await
        .unwrap()
        .into_inner();
    let pose = ego.pose.unwrap();
    let p = pose.position.unwrap();
    assert!(
        (p.x - 121.42).abs() < 0.1 && (p.y - (-133.41)).abs() < 0.1,
        "{p:?}"
    );
    let npc = c
        .spawn_actor(vehicle_at(
            &w.world_id,
            "npc",
            lane("4", -1, 60.0),
            lane_follow(6.0),
        ))
        .await
        .unwrap()
        .into_inner();

    let cam = c
        .attach_sensor(pb::AttachSensorRequest {
            world_id: w.world_id.clone(),
            actor_id: ego.actor_id,
            name: "front".into(),
            spec: Some(pb::attach_sensor_request::Spec::Camera(camera(320, 180))),
        })
        .await
        .unwrap()
        .into_inner();
    let bev = c
        .attach_sensor(pb::AttachSensorRequest {
            world_id: w.world_id.clone(),
            actor_id: ego.actor_id,
            name: "bev".into(),
            spec: Some(pb::attach_sensor_request::Spec::BirdsEye(
                pb::BirdsEyeSpec {
                    width: 128,
                    height: 128,
                    metres_per_pixel: 0.25,
                    encoding: pb::ImageEncoding::Png as i32,
                },
            )),
        })
        .await
        .unwrap()
        .into_inner();

    let resp = c
        .step(pb::StepRequest {
            world_id: w.world_id.clone(),
            steps: 20,
            commands: vec![throttle(ego.actor_id, 0.6, 0.0, 0.0)],
            render: true,
        })
        .await
        .unwrap()
        .into_inner();
    let snap = resp.snapshot.unwrap();
    assert_eq!(snap.frame, 20);
    assert!((snap.sim_time_s - 1.0).abs() < 1e-9);
    assert_eq!(snap.actors.len(), 2);
    let e = &snap.actors[0];
    assert_eq!(e.actor_id, ego.actor_id);
    assert_eq!(e.role, "ego");
    assert!(e.speed > 1.0, "{}", e.speed);
    let lane_state = e.lane.as_ref().unwrap();
    assert_eq!((lane_state.road_id.as_str(), lane_state.lane_id), ("4", -1));
    assert!(lane_state.on_road);
    assert_eq!(lane_state.lane_type, "driving");
    let n = &snap.actors[1];
    assert_eq!(n.actor_id, npc.actor_id);
    assert!(n.speed > 1.0);
    assert!(n.pose.as_ref().unwrap().position.unwrap().x > 161.42);
    assert!(snap.events.is_empty(), "{:?}", snap.events);

    assert_eq!(snap.frames.len(), 2);
    let f = snap
        .frames
        .iter()
        .find(|f| f.sensor_id == cam.sensor_id)
        .unwrap();
    assert_eq!(
        (f.name.as_str(), f.actor_id, f.frame),
        ("front", ego.actor_id, 20)
    );
    assert_eq!(f.encoding, pb::ImageEncoding::Jpeg as i32);
    let img = image::load_from_memory_with_format(&f.data, image::ImageFormat::Jpeg)
        .unwrap()
        .to_rgb8();
    assert_eq!((img.width(), img.height()), (320, 180));
    // Sky on top, asphalt below the car.
    let top = img.get_pixel(160, 3).0;
    assert!(top[2] > top[0] + 30, "{top:?}");
    let bottom = img.get_pixel(160, 176).0;
    assert!(
        (bottom[0] as i32 - bottom[2] as i32).abs() < 20 && bottom[0] < 140,
        "{bottom:?}"
    );
    let b = snap
        .frames
        .iter()
        .find(|f| f.sensor_id == bev.sensor_id)
        .unwrap();
    assert_eq!(b.encoding, pb::ImageEncoding::Png as i32);
    let img = image::load_from_memory_with_format(&b.data, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8();
    assert_eq!(img.get_pixel(64, 63).0, [255, 200, 0], "ego at the centre");

    // Without render no frames; time keeps going.
    let snap = c
        .step(pb::StepRequest {
            world_id: w.world_id.clone(),
            steps: 0,
            commands: vec![],
            render: false,
        })
        .await
        .unwrap()
        .into_inner()
        .snapshot
        .unwrap();
    assert_eq!(snap.frame, 21);
    assert!(snap.frames.is_empty());

    c.destroy_world(pb::DestroyWorldRequest {
        world_id: w.world_id.clone(),
    })
    .await
    .unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driving_into_a_stopped_car_reports_a_collision() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let w = create_world(&mut c, "Town01").await;
    let ego = c
        .spawn_actor(vehicle_at(
            &w.world_id,
            "ego",
            lane("4", -1, 20.0),
            external(),
        ))
        .await
        .unwrap()
        .into_inner();
    let parked = c
        .spawn_actor(vehicle_at(
            &w.world_id,
            "parked",
            lane("4", -1, 40.0),
            stopped(),
        ))
        .await
        .unwrap()
        .into_inner();
    let mut collisions = Vec::new();
    for _ in 0..10 {
        let snap = c
            .step(pb::StepRequest {
                world_id: w.world_id.clone(),
                steps: 10,
                commands: vec![throttle(ego.actor_id, 1.0, 0.0, 0.0)],
                render: false,
            })
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap();
        for e in snap.events {
            if let Some(pb::event::Kind::Collision(col)) = e.kind {
                collisions.push((e.frame, col));
            }
        }
    }
    let mine: Vec<_> = collisions
        .iter()
        .filter(|(_, c)| c.actor_id == ego.actor_id)
        .collect();
    assert_eq!(mine.len(), 1, "{collisions:?}");
    let (frame, col) = mine[0];
    assert_eq!(col.other_actor_id, parked.actor_id);
    assert_eq!(col.other_kind, pb::ActorKind::Vehicle as i32);
    assert!(col.relative_speed > 3.0);
    assert!(*frame > 20 && *frame < 100);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_a_route_through_a_junction_with_a_right_turn() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let w = create_world(&mut c, "Town01").await;
    let pose_of = |lp: pb::LanePosition| pb::LanePoseRequest {
        world_id: w.world_id.clone(),
        lane_position: Some(lp),
    };
    // Eastbound on road 4, right turn at junction 278, southbound on road 18.
    let start = c
        .lane_pose(pose_of(lane("4", -1, 150.0)))
        .await
        .unwrap()
        .into_inner()
        .pose
        .unwrap();
    let end = c
        .lane_pose(pose_of(lane("18", -1, 20.0)))
        .await
        .unwrap()
        .into_inner()
        .pose
        .unwrap();
    let (s, e) = (start.position.unwrap(), end.position.unwrap());
    assert!((start.yaw).abs() < 0.01);
    assert!(
        (end.yaw + std::f64::consts::FRAC_PI_2).abs() < 0.01,
        "{}",
        end.yaw
    );
    let route = c
        .plan_route(pb::PlanRouteRequest {
            world_id: w.world_id.clone(),
            waypoints: vec![s, e],
            spacing: 1.0,
        })
        .await
        .unwrap()
        .into_inner();
    let pts = &route.points;
    assert!((route.length - 113.0).abs() < 5.0, "{}", route.length);
    let first = pts.first().unwrap();
    let last = pts.last().unwrap();
    assert!((first.x - s.x).hypot(first.y - s.y) < 1e-6);
    assert!((last.x - e.x).hypot(last.y - e.y) < 1e-6);
    for w in pts.windows(2) {
        let d = (w[1].x - w[0].x).hypot(w[1].y - w[0].y);
        assert!(d <= 1.0 + 1e-6 && d > 0.5, "{d}");
    }
    // It turns right through the junction: eastbound, then southbound,
    // never leaving the lane centre by crossing to the other side.
    let corner = pts
        .iter()
        .filter(|p| p.x > 330.0 && p.y > -140.0 && p.y < -133.0)
        .count();
    assert!(corner > 2, "no points in the junction corner");
    assert!(
        pts.iter().all(|p| p.y < -131.0),
        "crossed into the westbound lane"
    );

    // A left turn onto road 17 northbound also routes; a point far from
    // any road does not.
    let north = c
        .lane_pose(pose_of(lane("17", 1, 30.0)))
        .await
        .unwrap()
        .into_inner()
        .pose
        .unwrap();
    let left = c
        .plan_route(pb::PlanRouteRequest {
            world_id: w.world_id.clone(),
            waypoints: vec![s, north.position.unwrap()],
            spacing: 0.0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(left.length > 90.0 && left.length < 130.0, "{}", left.length);
    let err = c
        .plan_route(pb::PlanRouteRequest {
            world_id: w.world_id.clone(),
            waypoints: vec![
                s,
                pb::Vec3 {
                    x: 5000.0,
                    y: 5000.0,
                    z: 0.0,
                },
            ],
            spacing: 1.0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("waypoint 1"), "{}", err.message());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_worlds_step_identically_in_parallel() {
    let server = TestServer::start().await;
    let run = |seed: u64| {
        let addr = server.addr;
        async move {
            let mut c = atlas_proto::sim::simulator_client::SimulatorClient::connect(format!(
                "http://{addr}"
            ))
            .await
            .unwrap();
            let w = c
                .create_world(pb::CreateWorldRequest {
                    map: Some(pb::create_world_request::Map::MapName("Town01".into())),
                    fixed_delta_s: 0.05,
                    seed,
                    label: format!("seed {seed}"),
                })
                .await
                .unwrap()
                .into_inner();
            let ego = c
                .spawn_actor(vehicle_at(
                    &w.world_id,
                    "ego",
                    lane("4", -1, 100.0),
                    external(),
                ))
                .await
                .unwrap()
                .into_inner();
            for (i, s) in [20.0, 60.0, 150.0].into_iter().enumerate() {
                let lane_id = if i % 2 == 0 { -1 } else { 1 };
                c.spawn_actor(vehicle_at(
                    &w.world_id,
                    "npc",
                    lane("4", lane_id, s),
                    lane_follow(0.0),
                ))
                .await
                .unwrap();
            }
            let mut snaps = Vec::new();
            for k in 0..20 {
                let steer = if k < 10 { 0.05 } else { -0.05 };
                let snap = c
                    .step(pb::StepRequest {
                        world_id: w.world_id.clone(),
                        steps: 10,
                        commands: vec![throttle(ego.actor_id, 0.5, 0.0, steer)],
                        render: false,
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .snapshot
                    .unwrap();
                snaps.push((snap.frame, snap.actors, snap.events));
            }
            snaps
        }
    };
    let (a, b) = tokio::join!(run(9), run(9));
    assert_eq!(a.len(), 20);
    assert!(a == b, "same seed, same commands, different snapshots");
    server.stop().await.unwrap();
}
