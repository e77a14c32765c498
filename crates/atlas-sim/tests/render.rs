//! Sensor rendering on a real map: a camera frame and a bird's-eye raster on
//! Town01's long straight road 4, with a car stopped ahead of the ego. The
//! images are written under the cargo target tmp dir for inspection.

use std::path::PathBuf;
use std::sync::Arc;

use atlas_sim::render::birdseye::{EGO, LANE_MARKING, ROAD, VEHICLE};
use atlas_sim::render::camera::{AMBIENT, Camera, base_colour};
use atlas_sim::render::encode::{Encoding, encode};
use atlas_sim::{
    ActorKind, ActorSpec, Behavior, BirdsEyeSpec, CameraSpec, Dimensions, LanePosition, Map,
    Placement, Pose, SensorSpec, World,
};

fn town01() -> Arc<Map> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/Town01.xodr");
    Arc::new(Map::from_file(&path).unwrap())
}

fn car(s: f64, behavior: Behavior) -> ActorSpec {
    ActorSpec {
        kind: ActorKind::Vehicle,
        role: "car".into(),
        name: format!("car@{s}"),
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

fn camera_spec() -> CameraSpec {
    CameraSpec {
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
            pitch: 0.05,
            ..Pose::default()
        },
    }
}

fn out_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("atlas-sim-render");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn is_greyish(p: [u8; 3]) -> bool {
    let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
    (r - g).abs() < 12 && (g - b).abs() < 16 && (50..140).contains(&r)
}

#[test]
fn camera_frame_shows_sky_road_and_the_car_ahead() {
    let map = town01();
    let mut world = World::new(map.clone(), 0.05, 1).unwrap();
    let (ego, ego_pose) = world.spawn(car(20.0, Behavior::External)).unwrap();
    let (other, other_pose) = world.spawn(car(40.0, Behavior::Stopped)).unwrap();
    let cam = world
        .attach_sensor(ego, "front", SensorSpec::Camera(camera_spec()))
        .unwrap();
    let frame = world.render(cam).unwrap();
    let img = &frame.image;
    assert_eq!((img.width, img.height), (320, 180));
    std::fs::write(
        out_dir().join("town01_camera.png"),
        encode(img, Encoding::Png).unwrap(),
    )
    .unwrap();

    // Sky across the top rows: blue dominates.
    for x in (0..320).step_by(40) {
        let p = img.pixel(x, 2);
        assert!(p[2] > p[0] && p[2] > 150, "sky at ({x}, 2): {p:?}");
    }
    // Road asphalt straight ahead at the bottom.
    let p = img.pixel(160, 175);
    assert!(is_greyish(p), "road at (160, 175): {p:?}");

    // The other car's rear face, where it projects: the rear faces away from
    // the sun, so it is the body colour at ambient light.
    let c = Camera::new(camera_spec()).unwrap();
    let rear_centre = [other_pose.x - 0.9, other_pose.y, 0.75];
    let (u, v, z) = c.project(&ego_pose, rear_centre).unwrap();
    assert!((z - (20.0 - 0.9 - 1.5)).abs() < 0.1, "{z}");
    assert!((u - 160.0).abs() < 2.0, "{u}");
    let shapes = world.boxes();
    let other_box = shapes.iter().find(|b| b.id == other).unwrap();
    let base = base_colour(other_box);
    let want = base.map(|c| (c as f64 * AMBIENT) as u8);
    assert_eq!(img.pixel(u as u32, v as u32), want);
    // The car is 1.9 m wide at 17.6 m with fx = 160: ±8.6 px around the
    // centre.
    assert_eq!(img.pixel(u as u32 + 6, v as u32), want);
    assert_eq!(img.pixel(u as u32 - 6, v as u32), want);
    assert_ne!(img.pixel(u as u32 + 12, v as u32), want);

    // Without the car the same pixel is road or haze, not the car.
    let mut empty = World::new(map, 0.05, 1).unwrap();
    let (ego2, _) = empty.spawn(car(20.0, Behavior::External)).unwrap();
    let cam2 = empty
        .attach_sensor(ego2, "front", SensorSpec::Camera(camera_spec()))
        .unwrap();
    let bare = empty.render(cam2).unwrap().image;
    assert_ne!(bare.pixel(u as u32, v as u32), want);

    // JPEG of the frame decodes to the same size.
    let jpg = encode(img, Encoding::Jpeg { quality: 90 }).unwrap();
    let back = image::load_from_memory(&jpg).unwrap();
    assert_eq!((back.width(), back.height()), (320, 180));
}

/// The level camera's row-at-a-time ground pass and the general per-pixel
/// one (taken as soon as the mount has any roll) draw the same picture.
#[test]
fn level_rows_match_the_per_pixel_ground_pass() {
    let map = town01();
    let mut world = World::new(map, 0.05, 1).unwrap();
    let (ego, _) = world.spawn(car(20.0, Behavior::External)).unwrap();
    world.spawn(car(40.0, Behavior::Stopped)).unwrap();
    let level = world
        .attach_sensor(ego, "level", SensorSpec::Camera(camera_spec()))
        .unwrap();
    let mut rolled_spec = camera_spec();
    rolled_spec.mount.roll = 1e-9;
    let rolled = world
        .attach_sensor(ego, "rolled", SensorSpec::Camera(rolled_spec))
        .unwrap();
    let a = world.render(level).unwrap().image;
    let b = world.render(rolled).unwrap().image;
    let mut far_off = 0;
    for y in 0..180 {
        for x in 0..320 {
            let (p, q) = (a.pixel(x, y), b.pixel(x, y));
            if (0..3).any(|k| (p[k] as i32 - q[k] as i32).abs() > 3) {
                far_off += 1;
            }
        }
    }
    // Only a few pixels on class borders may differ.
    assert!(far_off < 320 * 180 / 100, "{far_off} pixels differ");
}

#[test]
fn birds_eye_centres_the_ego_heading_up() {
    let map = town01();
    let mut world = World::new(map, 0.05, 1).unwrap();
    let (ego, _) = world.spawn(car(20.0, Behavior::External)).unwrap();
    world.spawn(car(40.0, Behavior::Stopped)).unwrap();
    let spec = BirdsEyeSpec {
        width: 200,
        height: 200,
        metres_per_pixel: 0.25,
    };
    let bev = world
        .attach_sensor(ego, "bev", SensorSpec::BirdsEye(spec))
        .unwrap();
    let img = world.render(bev).unwrap().image;
    std::fs::write(
        out_dir().join("town01_birds_eye.png"),
        encode(&img, Encoding::Png).unwrap(),
    )
    .unwrap();
    // The rig is at the centre; the car body spans 0.9 m behind to 3.7 m
    // ahead of it.
    assert_eq!(img.pixel(100, 96), EGO);
    assert_eq!(img.pixel(100, 102), EGO);
    // The other car's rig is 20 m (80 px) ahead.
    assert_eq!(img.pixel(100, 15), VEHICLE);
    // Road between, and the broken yellow centre line 2 m to the left.
    assert_eq!(img.pixel(100, 50), ROAD);
    let marks = (0..200)
        .filter(|&y| (90..=93).any(|x| img.pixel(x, y) == LANE_MARKING))
        .count();
    assert!(marks > 40 && marks < 120, "{marks}");
    // The opposite lane is to the left; 8 m to the right is off the road.
    assert_eq!(img.pixel(84, 100), ROAD);
    assert_ne!(img.pixel(140, 100), ROAD);
}
