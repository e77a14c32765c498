//! World stepping with NPC traffic and camera rendering on Town01.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use atlas_sim::{
    ActorKind, ActorSpec, Behavior, CameraSpec, Dimensions, LanePosition, Map, Placement, Pose,
    SensorSpec, Vec2, World,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn town01() -> Arc<Map> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/Town01.xodr");
    Arc::new(Map::from_file(&path).expect("Town01 loads"))
}

fn car(road: &str, lane: i32, s: f64, behavior: Behavior) -> ActorSpec {
    ActorSpec {
        kind: ActorKind::Vehicle,
        role: "npc".into(),
        name: String::new(),
        placement: Placement::Lane(LanePosition {
            road_id: road.into(),
            lane_id: lane,
            s,
            offset: 0.0,
        }),
        speed: 5.0,
        dimensions: Dimensions::UNSET,
        behavior,
    }
}

/// A Town01 world with `n` lane-following NPCs spread over its lanes.
fn traffic(map: &Arc<Map>, n: usize) -> World {
    let mut w = World::new(map.clone(), 0.05, 42).expect("valid world");
    let g = map.graph();
    let (mut k, mut placed) = (0, 0);
    while placed < n && k < g.nodes().len() * 4 {
        let node = g.node(((k * 37) % g.nodes().len()) as u32);
        k += 1;
        if node.junction.is_some() || node.length < 12.0 {
            continue;
        }
        let s = node.s_start + (node.s_end - node.s_start) * (0.25 + 0.5 * ((k % 3) as f64 / 2.0));
        let spec = car(
            &map.roads()[node.road].id,
            node.lane_id,
            s,
            Behavior::LaneFollow { target_speed: 0.0 },
        );
        if w.spawn(spec).is_ok() {
            placed += 1;
        }
    }
    w
}

fn step(c: &mut Criterion) {
    let map = town01();
    for n in [10, 50] {
        let mut w = traffic(&map, n);
        c.bench_function(&format!("town01 step, {n} npcs"), |b| b.iter(|| w.step()));
    }
    // The figure: 50 vehicles and 20 pedestrians from a seed, with
    // traffic lights, after a minute of warm-up.
    let mut w = World::new(map.clone(), 0.05, 7).expect("valid world");
    w.spawn_traffic(50, 20, 7).expect("room for the traffic");
    for _ in 0..1200 {
        w.step();
    }
    c.bench_function("town01 step, 50 vehicles + 20 pedestrians", |b| {
        b.iter(|| w.step())
    });
}

fn locate(c: &mut Criterion) {
    let map = town01();
    let b = map.bounds();
    // A fixed grid of points over the map, on and off the roads.
    let pts: Vec<Vec2> = (0..1024)
        .map(|i| {
            let fx = ((i * 37) % 1024) as f64 / 1024.0;
            let fy = ((i * 91) % 1024) as f64 / 1024.0;
            Vec2::new(
                b.min[0] + fx * (b.max[0] - b.min[0]),
                b.min[1] + fy * (b.max[1] - b.min[1]),
            )
        })
        .collect();
    let mut k = 0;
    c.bench_function("town01 locate (world -> lane)", |bch| {
        bch.iter(|| {
            k = (k + 1) % pts.len();
            black_box(map.locate(pts[k]))
        })
    });
}

fn camera(c: &mut Criterion) {
    let map = town01();
    map.raster().build_all(&map);
    let mut w = traffic(&map, 20);
    let (ego, _) = w
        .spawn(car("4", -1, 20.0, Behavior::External))
        .expect("ego spawns");
    let spec = CameraSpec {
        width: 320,
        height: 180,
        fov_deg: 90.0,
        fx: 0.0,
        fy: 0.0,
        cx: 0.0,
        cy: 0.0,
        mount: Pose {
            x: 1.5,
            z: 1.6,
            ..Pose::default()
        },
    };
    let cam = w
        .attach_sensor(ego, "front", SensorSpec::Camera(spec))
        .expect("camera attaches");
    c.bench_function("camera 320x180", |b| {
        b.iter(|| black_box(w.render(cam).expect("renders")))
    });
    let bytes = w.render(cam).expect("renders").image;
    c.bench_function("jpeg 320x180 q90", |b| {
        b.iter(|| {
            black_box(atlas_sim::encode(
                &bytes,
                atlas_sim::Encoding::Jpeg { quality: 90 },
            ))
        })
    });
}

fn load(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/Town01.xodr");
    let xml = std::fs::read_to_string(&path).expect("Town01 is in the repository");
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("town01 load (parse + index + lane graph)", |b| {
        b.iter(|| black_box(Map::from_xml(&xml, "Town01").expect("loads")))
    });
    group.finish();
}

criterion_group!(benches, step, locate, camera, load);
criterion_main!(benches);
