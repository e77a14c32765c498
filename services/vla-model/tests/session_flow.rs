//! Whole sessions against the real server: the vehicle is moved along the
//! returned plans, as a closed loop would, and the plans are checked against
//! the contract and the baseline's driving limits.

mod common;

use common::*;

/// Moves the ego to the plan's pose at the next step, like the
/// carla-driver-interface fake loop, with the plan's speed at that instant
/// (central difference around it).
fn advance(_ego: Pose2, poses: &[Pose2]) -> (Pose2, f64) {
    let next = poses[1];
    let speed =
        (poses[2].x - poses[0].x).hypot(poses[2].y - poses[0].y) / (2.0 * STEP_US as f64 * 1e-6);
    (next, speed)
}

#[tokio::test]
async fn straight_route_drives_forward_along_x() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let uuid = "straight";
    start_session(&mut client, uuid).await;
    let jpeg = jpeg_bytes();

    let mut ego = Pose2 {
        x: 0.0,
        y: 0.0,
        z: 0.25,
        yaw: 0.0,
    };
    let mut speed = 0.0;
    let mut last_speed = 0.0;
    for k in 0..60u64 {
        // The clock starts at 0, so the first drive has no time_now_us on the
        // wire.
        let now = k * STEP_US;
        let lane: Vec<(f64, f64)> = (0..50).map(|i| (ego.x + 2.0 * f64::from(i), 0.0)).collect();
        let resp = step(&mut client, uuid, now, ego, speed, &lane, &jpeg).await;
        let poses = check_layout(&resp, now, now + STEP_US, ego);
        assert_eq!(poses.len(), 41);
        for w in poses.windows(2) {
            let dx = w[1].x - w[0].x;
            assert!(dx >= -1e-6, "moved backwards at step {k}");
            // Never faster than the target speed (plus f32 rounding).
            assert!(dx <= 8.0 * 0.1 + 1e-3, "too fast at step {k}: {dx}");
            assert!(w[1].y.abs() < 1e-4);
            assert!(w[1].yaw.abs() < 1e-4);
        }
        // Acceleration stays within +2 m/s².
        let v_end = (poses[40].x - poses[39].x) / 0.1;
        assert!(v_end <= 8.0 + 1e-3);
        (ego, speed) = advance(ego, &poses);
        assert!(
            speed - last_speed <= 2.0 * 0.1 + 1e-3,
            "accel too high at step {k}"
        );
        last_speed = speed;
    }
    // Six seconds from rest: well on the way and at cruise speed.
    assert!(ego.x > 25.0, "only {} m", ego.x);
    assert!((speed - 8.0).abs() < 0.3, "speed {speed}");
    close(&mut client, uuid).await;
    server.stop().await;
}

#[tokio::test]
async fn curved_route_is_followed_within_lateral_limits() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let uuid = "curve";
    start_session(&mut client, uuid).await;
    let jpeg = jpeg_bytes();

    // A left-hand circle of radius 30 m through the origin, centre (0, 30).
    let r = 30.0;
    let lane_from = |ego: Pose2| -> Vec<(f64, f64)> {
        let a0 = ego.x.atan2(r - ego.y);
        (0..50)
            .map(|i| {
                let a = a0 + 2.0 * f64::from(i) / r;
                (r * a.sin(), r * (1.0 - a.cos()))
            })
            .collect()
    };
    let mut ego = Pose2 {
        x: 0.0,
        y: 0.0,
        z: 0.0,
        yaw: 0.0,
    };
    let mut speed = 6.0;
    let v_curve = (2.0f64 * r).sqrt();
    for k in 0..80u64 {
        let now = 5_000_000 + k * STEP_US;
        let resp = step(&mut client, uuid, now, ego, speed, &lane_from(ego), &jpeg).await;
        let poses = check_layout(&resp, now, now + STEP_US, ego);
        for (i, p) in poses.iter().enumerate().skip(1) {
            // The plan runs along the circle the route samples, not along
            // its 2 m chords (which cut inside by up to 1.7 cm).
            let dist = p.x.hypot(p.y - r);
            assert!(
                (dist - r).abs() < 0.01,
                "step {k} pose {i} off the arc by {}",
                dist - r
            );
            let tangent = p.x.atan2(r - p.y);
            assert!(
                angle_diff(p.yaw, tangent).abs() < 0.01,
                "heading off at step {k} pose {i}"
            );
        }
        (ego, speed) = advance(ego, &poses);
        assert!(speed < v_curve + 0.1, "too fast in the curve: {speed}");
    }
    // Eight seconds around the circle at about sqrt(a_lat·r).
    let angle = ego.x.atan2(r - ego.y).rem_euclid(std::f64::consts::TAU);
    let travelled = angle * r;
    assert!(travelled > 0.8 * v_curve * 8.0, "travelled {travelled} m");
    assert!(
        (speed - v_curve).abs() < 0.3,
        "speed {speed}, expected about {v_curve}"
    );
    close(&mut client, uuid).await;
    server.stop().await;
}

#[tokio::test]
async fn lateral_offset_is_removed_smoothly() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let uuid = "offset";
    start_session(&mut client, uuid).await;
    let jpeg = jpeg_bytes();
    let mut ego = Pose2 {
        x: 0.0,
        y: 1.5,
        z: 0.0,
        yaw: 0.0,
    };
    let mut speed = 8.0;
    for k in 0..40u64 {
        let now = k * STEP_US;
        let lane: Vec<(f64, f64)> = (0..50).map(|i| (ego.x + 2.0 * f64::from(i), 0.0)).collect();
        let resp = step(&mut client, uuid, now, ego, speed, &lane, &jpeg).await;
        let poses = check_layout(&resp, now, now + STEP_US, ego);
        let (next, s) = advance(ego, &poses);
        assert!(
            next.y <= ego.y + 1e-4,
            "drifted away from the lane at step {k}"
        );
        assert!((next.y - ego.y).abs() < 0.25, "lateral jump at step {k}");
        (ego, speed) = (next, s);
    }
    assert!(ego.y.abs() < 0.05, "still {} m off the lane", ego.y);
    server.stop().await;
}

#[tokio::test]
async fn png_frames_and_large_messages_are_accepted() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let uuid = "png";
    start_session(&mut client, uuid).await;
    // Noise does not compress: well over tonic's default 4 MiB limit.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let img = image::RgbImage::from_fn(1600, 1200, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let b = seed.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let png = atlas_vla::decode::encode_png(&img).unwrap();
    assert!(png.len() > 4 << 20, "PNG only {} bytes", png.len());
    client
        .submit_image_observation(image(uuid, CAMERA, 0, png))
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn drive_before_egomotion_is_an_empty_plan() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    start_session(&mut client, "early").await;
    let resp = client
        .drive(drive_request("early", 0, STEP_US))
        .await
        .unwrap()
        .into_inner();
    assert!(resp.trajectory.unwrap_or_default().poses.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn nan_route_padding_and_no_dynamics_are_accepted() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let uuid = "padding";
    start_session(&mut client, uuid).await;
    let ego = Pose2 {
        x: 10.0,
        y: -3.0,
        z: 0.0,
        yaw: 0.0,
    };
    let mut ego_msg = egomotion(uuid, 1_000_000, ego, 0.0);
    ego_msg.dynamic_states.clear();
    client.submit_egomotion_observation(ego_msg).await.unwrap();
    // AlpaSim style: 20 points 4.21 m apart, cut after 5 and NaN-padded.
    let mut lane: Vec<(f64, f64)> = (0..5)
        .map(|i| (ego.x + 4.21 * f64::from(i), -3.0))
        .collect();
    lane.extend(std::iter::repeat_n((f64::NAN, f64::NAN), 15));
    client
        .submit_route(route(uuid, 1_000_000, ego, &lane))
        .await
        .unwrap();
    let resp = client
        .drive(drive_request(uuid, 1_000_000, 1_100_000))
        .await
        .unwrap()
        .into_inner();
    let poses = check_layout(&resp, 1_000_000, 1_100_000, ego);
    assert!(poses[40].x > ego.x + 10.0);
    assert!(poses.iter().all(|p| (p.y + 3.0).abs() < 1e-3));
    server.stop().await;
}

#[tokio::test]
async fn a_long_query_extends_the_plan() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let uuid = "long";
    start_session(&mut client, uuid).await;
    let ego = Pose2 {
        x: 0.0,
        y: 0.0,
        z: 0.0,
        yaw: 0.0,
    };
    client
        .submit_egomotion_observation(egomotion(uuid, 0, ego, 5.0))
        .await
        .unwrap();
    let resp = client
        .drive(drive_request(uuid, 0, 6_050_000))
        .await
        .unwrap()
        .into_inner();
    let poses = check_layout(&resp, 0, 6_050_000, ego);
    assert_eq!(poses.len(), 62);
    server.stop().await;
}

#[tokio::test]
async fn many_concurrent_sessions() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let jpeg = std::sync::Arc::new(jpeg_bytes());
    let mut tasks = Vec::new();
    for n in 0..24 {
        let mut client = client.clone();
        let jpeg = jpeg.clone();
        tasks.push(tokio::spawn(async move {
            let uuid = format!("concurrent-{n}");
            start_session(&mut client, &uuid).await;
            // Each session on its own lane, so a mix-up would show.
            let y0 = f64::from(n) * 10.0;
            let mut ego = Pose2 {
                x: 0.0,
                y: y0,
                z: 0.0,
                yaw: 0.0,
            };
            let mut speed = 0.0;
            for k in 0..15u64 {
                let now = k * STEP_US;
                let lane: Vec<(f64, f64)> =
                    (0..50).map(|i| (ego.x + 2.0 * f64::from(i), y0)).collect();
                let resp = step(&mut client, &uuid, now, ego, speed, &lane, &jpeg).await;
                let poses = check_layout(&resp, now, now + STEP_US, ego);
                assert!(poses.iter().all(|p| (p.y - y0).abs() < 1e-3));
                (ego, speed) = advance(ego, &poses);
            }
            close(&mut client, &uuid).await;
            ego.x
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap() > 1.0);
    }
    server.stop().await;
}
