//! Traffic, traffic lights and world snapshots through a real tonic client:
//! SpawnTraffic, light states in snapshots, and SnapshotWorld /
//! RestoreWorld / ForkWorld continuing bit-identically.

mod common;

use atlas_proto::sim as pb;
use common::*;
use tonic::Code;

async fn step(
    c: &mut pb::simulator_client::SimulatorClient<tonic::transport::Channel>,
    world: &str,
    steps: u32,
    commands: Vec<pb::ActorCommand>,
) -> pb::Snapshot {
    c.step(pb::StepRequest {
        world_id: world.to_owned(),
        steps,
        commands,
        render: false,
    })
    .await
    .unwrap()
    .into_inner()
    .snapshot
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_restore_and_fork_continue_bit_identically() {
    let server = TestServer::start().await;
    server.wait_serving().await;
    let mut c = server.client().await;
    let w = create_world(&mut c, "Town01").await;
    let id = w.world_id.clone();

    let traffic = c
        .spawn_traffic(pb::SpawnTrafficRequest {
            world_id: id.clone(),
            vehicles: 20,
            pedestrians: 8,
            seed: 5,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(traffic.actor_ids.len(), 28);
    let ego = c
        .spawn_actor(vehicle_at(&id, "ego", lane("4", -1, 20.0), external()))
        .await
        .unwrap()
        .into_inner()
        .actor_id;

    let first = step(&mut c, &id, 40, vec![throttle(ego, 0.5, 0.0, 0.0)]).await;
    assert_eq!(first.traffic_lights.len(), 36);
    let light = &first.traffic_lights[0];
    assert!(!light.stop_lines.is_empty());
    assert!(light.position.is_some());
    assert_ne!(light.state, pb::LightState::Unspecified as i32);

    let snap = c
        .snapshot_world(pb::SnapshotWorldRequest {
            world_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(snap.frame, 40);

    // The original run from the snapshot on.
    let run = |c: &mut pb::simulator_client::SimulatorClient<tonic::transport::Channel>,
               world: String| {
        let mut c = c.clone();
        async move {
            let mut out = Vec::new();
            for k in 0..5 {
                let cmd = throttle(ego, 0.2 * k as f64, 0.0, 0.05 * k as f64);
                out.push(step(&mut c, &world, 30, vec![cmd]).await);
            }
            out
        }
    };
    let a = run(&mut c, id.clone()).await;

    // Restore and run again: identical.
    let r = c
        .restore_world(pb::RestoreWorldRequest {
            world_id: id.clone(),
            snapshot_id: snap.snapshot_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.frame, 40);
    let b = run(&mut c, id.clone()).await;
    assert_eq!(a, b, "restored world diverged");

    // Fork: a new world from the same snapshot, also identical.
    let fork = c
        .fork_world(pb::ForkWorldRequest {
            world_id: id.clone(),
            snapshot_id: snap.snapshot_id.clone(),
            label: "what-if".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(fork.world_id, id);
    assert_eq!(fork.frame, 40);
    let f = run(&mut c, fork.world_id.clone()).await;
    let strip = |v: &[pb::Snapshot]| {
        v.iter()
            .map(|s| pb::Snapshot {
                world_id: String::new(),
                ..s.clone()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&f), "forked world diverged");

    // Bad ids are named.
    let e = c
        .restore_world(pb::RestoreWorldRequest {
            world_id: id.clone(),
            snapshot_id: "s-999".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = c
        .fork_world(pb::ForkWorldRequest {
            world_id: "w-none".into(),
            snapshot_id: snap.snapshot_id.clone(),
            label: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = c
        .spawn_traffic(pb::SpawnTrafficRequest {
            world_id: id.clone(),
            vehicles: 5000,
            pedestrians: 0,
            seed: 1,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e.code(), Code::InvalidArgument | Code::ResourceExhausted),
        "{e:?}"
    );
}
