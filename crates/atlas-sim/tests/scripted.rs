//! Scripted actors: placed from outside each step (a scenario player), they
//! move on along their heading at the commanded speed and acceleration
//! between placements, collide like everything else and can be removed.

use std::path::PathBuf;
use std::sync::Arc;

use atlas_sim::{
    ActorKind, ActorSpec, Behavior, Dimensions, EventKind, LanePosition, Map, Placement, Pose,
    World,
};

fn world() -> World {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/Town01.xodr");
    World::new(Arc::new(Map::from_file(&path).unwrap()), 0.05, 1).unwrap()
}

fn car(name: &str, s: f64, behavior: Behavior) -> ActorSpec {
    ActorSpec {
        kind: ActorKind::Vehicle,
        role: "car".into(),
        name: name.into(),
        placement: Placement::Lane(LanePosition {
            road_id: "4".into(),
            lane_id: -1,
            s,
            offset: 0.0,
        }),
        speed: 0.0,
        dimensions: Dimensions::UNSET,
        behavior,
    }
}

#[test]
fn a_scripted_actor_goes_on_at_its_speed_and_acceleration() {
    let mut w = world();
    let (id, start) = w.spawn(car("s", 20.0, Behavior::Scripted)).unwrap();
    let pose = Pose { yaw: 0.3, ..start };
    w.set_state(id, pose, 10.0, 2.0).unwrap();
    for _ in 0..4 {
        w.step();
    }
    let st = w.actor_state(id).unwrap();
    // Four 0.05 s steps, speed raised by 2 m/s^2 before each move:
    // 10.1 + 10.2 + 10.3 + 10.4 = 41 m/s·step.
    let d = ((st.pose.x - pose.x).powi(2) + (st.pose.y - pose.y).powi(2)).sqrt();
    assert!((d - 41.0 * 0.05).abs() < 1e-9, "moved {d}");
    assert!((st.speed - 10.4).abs() < 1e-9);
    assert!(((st.pose.y - pose.y).atan2(st.pose.x - pose.x) - 0.3).abs() < 1e-9);
    // Not driveable by controls; states are only for scripted actors.
    let (ext, _) = w.spawn(car("e", 60.0, Behavior::External)).unwrap();
    assert!(w.set_state(ext, pose, 1.0, 0.0).is_err());
    assert!(w.set_state(id, pose, f64::NAN, 0.0).is_err());
    assert!(w.set_state(id, pose, -1.0, 0.0).is_err());
}

#[test]
fn placing_a_scripted_actor_onto_another_is_a_collision_once() {
    let mut w = world();
    let (ego, ego_pose) = w.spawn(car("ego", 60.0, Behavior::External)).unwrap();
    let (s, _) = w.spawn(car("s", 20.0, Behavior::Scripted)).unwrap();
    w.snapshot();
    // Put it 1 m behind the ego's rig point: the boxes overlap.
    let onto = Pose {
        x: ego_pose.x - 1.0 * ego_pose.yaw.cos(),
        y: ego_pose.y - 1.0 * ego_pose.yaw.sin(),
        ..ego_pose
    };
    w.set_state(s, onto, 0.0, 0.0).unwrap();
    w.set_state(s, onto, 0.0, 0.0).unwrap();
    w.step();
    let snap = w.snapshot();
    let hits: Vec<_> = snap
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Collision { actor, other, .. } => Some((actor, other)),
            _ => None,
        })
        .collect();
    assert_eq!(hits, vec![(s, ego), (ego, s)]);
    w.destroy(s).unwrap();
    assert!(w.actor_state(s).is_err());
    assert_eq!(w.actor_count(), 1);
}
