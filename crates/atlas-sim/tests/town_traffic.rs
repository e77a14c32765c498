//! Town01 with 50 vehicles and 20 pedestrians for 10 simulated minutes:
//! no vehicle leaves the road network, no two vehicles ever overlap, the
//! traffic lights cycle and the NPCs obey them. A camera frame from the end
//! of the run is written under the cargo target tmp dir.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use atlas_sim::world::Obb;
use atlas_sim::{
    ActorKind, CameraSpec, Encoding, EventKind, LightState, Map, Pose, SensorSpec, Vec2, World,
    encode,
};

fn town01() -> Arc<Map> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/Town01.xodr");
    Arc::new(Map::from_file(&path).unwrap())
}

fn obb(a: &atlas_sim::ActorState) -> Obb {
    let fwd = Vec2::from_angle(a.pose.yaw);
    let c = a.pose.xy() + fwd * a.dimensions.centre_offset(a.kind);
    Obb::new(
        c,
        a.pose.yaw,
        a.dimensions.length,
        a.dimensions.width,
        a.pose.z,
        a.dimensions.height,
    )
}

#[test]
fn town01_ten_minutes_with_50_vehicles_and_20_pedestrians() {
    let map = town01();
    let mut w = World::new(map, 0.05, 2024).unwrap();
    let ids = w.spawn_traffic(50, 20, 2024).unwrap();
    assert_eq!(ids.len(), 70);
    let steps = (600.0 / w.dt()).round() as u64;
    let mut light_states: BTreeMap<String, BTreeSet<LightState>> = BTreeMap::new();
    let mut travelled: BTreeMap<u64, f64> = BTreeMap::new();
    let mut last: BTreeMap<u64, Vec2> = BTreeMap::new();
    let mut waits_at_red = 0usize;
    for _ in 0..steps {
        w.step();
        let snap = w.snapshot();
        for e in &snap.events {
            match &e.kind {
                EventKind::SignalViolation {
                    actor, signal_id, ..
                } => {
                    panic!("frame {}: actor {actor} ran signal {signal_id}", e.frame)
                }
                EventKind::OffRoad { actor } => panic!("frame {}: {actor} off road", e.frame),
                _ => {}
            }
        }
        let vehicles: Vec<_> = snap
            .actors
            .iter()
            .filter(|a| a.kind == ActorKind::Vehicle)
            .collect();
        let boxes: Vec<Obb> = vehicles.iter().map(|a| obb(a)).collect();
        for (i, a) in vehicles.iter().enumerate() {
            assert!(
                a.lane.on_road,
                "frame {}: vehicle {} left the road network: {:?}",
                snap.frame, a.id, a.lane
            );
            for (j, b) in vehicles.iter().enumerate().skip(i + 1) {
                assert!(
                    !boxes[i].overlaps(&boxes[j]),
                    "frame {}: vehicles {} and {} overlap",
                    snap.frame,
                    a.id,
                    b.id
                );
            }
            let p = a.pose.xy();
            if let Some(q) = last.insert(a.id, p) {
                *travelled.entry(a.id).or_default() += (p - q).length();
            }
        }
        for s in &snap.signals {
            light_states
                .entry(s.id.clone())
                .or_default()
                .insert(s.state);
            if s.state == LightState::Red {
                for st in &s.stop_lines {
                    let p = Vec2::new(st.position[0], st.position[1]);
                    waits_at_red += vehicles
                        .iter()
                        .filter(|a| a.speed < 0.1 && (a.pose.xy() - p).length() < 6.0)
                        .count();
                }
            }
        }
    }
    // Every light went through green, yellow and red.
    assert_eq!(light_states.len(), 36);
    for (id, s) in &light_states {
        assert_eq!(s.len(), 3, "light {id}: {s:?}");
    }
    assert!(waits_at_red > 0, "no vehicle ever waited at a red light");
    // Traffic kept moving: most vehicles covered real distance.
    let far = travelled.values().filter(|&&d| d > 500.0).count();
    assert!(
        far >= 35,
        "only {far} of 50 vehicles drove 500 m: {travelled:?}"
    );

    // A camera frame from the end of the run.
    let car = ids[0];
    let cam = w
        .attach_sensor(
            car,
            "front",
            SensorSpec::Camera(CameraSpec {
                width: 640,
                height: 360,
                fov_deg: 90.0,
                fx: 0.0,
                fy: 0.0,
                cx: 0.0,
                cy: 0.0,
                mount: Pose {
                    x: 1.5,
                    y: 0.0,
                    z: 1.6,
                    yaw: 0.0,
                    pitch: 0.05,
                    roll: 0.0,
                },
            }),
        )
        .unwrap();
    let frame = w.render(cam).unwrap();
    let png = encode(&frame.image, Encoding::Png).unwrap();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("town01_traffic.png");
    std::fs::write(&out, png).unwrap();
    eprintln!("camera frame: {}", out.display());
}
