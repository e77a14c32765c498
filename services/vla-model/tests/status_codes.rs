//! Status codes of every refusal the contract defines (§5.9,
//! carla-driver-interface column), through a real client.

mod common;

use atlas_proto::common::{DynamicState, PoseAtTime, Trajectory};
use atlas_proto::egodriver::{DriveSessionCloseRequest, GroundTruth, GroundTruthRequest};
use common::*;
use tonic::Code;

fn origin() -> Pose2 {
    Pose2 {
        x: 0.0,
        y: 0.0,
        z: 0.0,
        yaw: 0.0,
    }
}

#[tokio::test]
async fn unknown_session_is_not_found_except_for_close() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let uuid = "nobody";
    let code = c
        .submit_egomotion_observation(egomotion(uuid, 0, origin(), 0.0))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::NotFound);
    let code = c
        .submit_route(route(uuid, 0, origin(), &[(1.0, 0.0)]))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::NotFound);
    let code = c
        .submit_image_observation(image(uuid, CAMERA, 0, jpeg_bytes()))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::NotFound);
    let code = c
        .submit_recording_ground_truth(GroundTruthRequest {
            session_uuid: uuid.into(),
            ground_truth: Some(GroundTruth::default()),
        })
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::NotFound);
    let code = c
        .drive(drive_request(uuid, 0, STEP_US))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::NotFound);
    c.close_session(DriveSessionCloseRequest {
        session_uuid: uuid.into(),
    })
    .await
    .unwrap();

    // A closed session is unknown again.
    start_session(&mut c, "closed").await;
    close(&mut c, "closed").await;
    let code = c
        .drive(drive_request("closed", 0, STEP_US))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn duplicate_session_is_already_exists() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    start_session(&mut c, "twice").await;
    let err = c
        .start_session(session_request("twice", vec![pinhole_camera(CAMERA)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    server.stop().await;
}

#[tokio::test]
async fn session_limit_is_resource_exhausted() {
    let server = TestServer::start_with_config(atlas_vla::Config {
        max_sessions: 2,
        grace_period_s: 5.0,
        ..atlas_vla::Config::default()
    })
    .await;
    let mut c = server.client().await;
    start_session(&mut c, "a").await;
    start_session(&mut c, "b").await;
    let err = c
        .start_session(session_request("c", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    close(&mut c, "a").await;
    start_session(&mut c, "c").await;
    server.stop().await;
}

#[tokio::test]
async fn contract_revision_header_is_checked() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    for (value, ok) in [("1", true), ("2", true), ("3", false), ("x", false)] {
        let uuid = format!("rev-{value}");
        let mut req = session_request(&uuid, vec![pinhole_camera(CAMERA)]);
        req.metadata_mut().insert(
            atlas_proto::CONTRACT_REVISION_HEADER,
            value.parse().unwrap(),
        );
        let res = c.start_session(req).await;
        if ok {
            res.unwrap();
        } else {
            assert_eq!(res.unwrap_err().code(), Code::FailedPrecondition, "{value}");
        }
    }
    // No header at all: AlpaSim's runtime; accepted.
    let mut req = session_request("rev-none", vec![pinhole_camera(CAMERA)]);
    req.metadata_mut()
        .remove(atlas_proto::CONTRACT_REVISION_HEADER);
    c.start_session(req).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn malformed_cameras_are_invalid_argument() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let no_id = pinhole_camera("");
    let mut no_model = pinhole_camera("cam");
    no_model.intrinsics.as_mut().unwrap().camera_param = None;
    let mut no_size = pinhole_camera("cam");
    no_size.intrinsics.as_mut().unwrap().resolution_h = 0;
    let mut nan_focal = pinhole_camera("cam");
    if let Some(atlas_proto::sensorsim::camera_spec::CameraParam::OpencvPinholeParam(p)) =
        nan_focal.intrinsics.as_mut().unwrap().camera_param.as_mut()
    {
        p.focal_length_y = f64::NAN;
    }
    let mut no_intrinsics = pinhole_camera("cam");
    no_intrinsics.intrinsics = None;
    let cases = [
        vec![no_id],
        vec![no_model],
        vec![no_size],
        vec![nan_focal],
        vec![no_intrinsics],
        vec![pinhole_camera("dup"), pinhole_camera("dup")],
    ];
    for (i, cams) in cases.into_iter().enumerate() {
        let err = c
            .start_session(session_request(&format!("bad-cam-{i}"), cams))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "case {i}: {err:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_egomotion_is_invalid_argument() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let uuid = "ego";
    start_session(&mut c, uuid).await;

    let mut nan = egomotion(uuid, 0, origin(), 0.0);
    nan.trajectory.as_mut().unwrap().poses[0]
        .pose
        .as_mut()
        .unwrap()
        .vec
        .as_mut()
        .unwrap()
        .x = f32::NAN;
    let mut nan_quat = egomotion(uuid, 0, origin(), 0.0);
    nan_quat.trajectory.as_mut().unwrap().poses[0]
        .pose
        .as_mut()
        .unwrap()
        .quat
        .as_mut()
        .unwrap()
        .z = f32::INFINITY;
    let mut miscount = egomotion(uuid, 0, origin(), 0.0);
    miscount.dynamic_states.push(DynamicState::default());
    let pose = |t: u64| PoseAtTime {
        pose: Some(origin().to_wire()),
        timestamp_us: t,
    };
    let mut backwards = egomotion(uuid, 0, origin(), 0.0);
    backwards.trajectory = Some(Trajectory {
        poses: vec![pose(200), pose(100)],
    });
    backwards.dynamic_states.clear();
    let mut repeated = backwards.clone();
    repeated.trajectory = Some(Trajectory {
        poses: vec![pose(100), pose(100)],
    });

    for (name, req) in [
        ("nan position", nan),
        ("infinite quaternion", nan_quat),
        ("dynamic state count", miscount),
        ("decreasing timestamps", backwards),
        ("repeated timestamps", repeated),
    ] {
        let err = c.submit_egomotion_observation(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}: {err:?}");
    }

    // None of that was recorded: drive still has nothing to plan from.
    let resp = c
        .drive(drive_request(uuid, 0, STEP_US))
        .await
        .unwrap()
        .into_inner();
    assert!(resp.trajectory.unwrap_or_default().poses.is_empty());

    // An all-zero quaternion reads as the identity.
    let mut zero_quat = egomotion(uuid, 0, origin(), 0.0);
    zero_quat.trajectory.as_mut().unwrap().poses[0]
        .pose
        .as_mut()
        .unwrap()
        .quat = Some(Default::default());
    c.submit_egomotion_observation(zero_quat).await.unwrap();
    let resp = c
        .drive(drive_request(uuid, 0, STEP_US))
        .await
        .unwrap()
        .into_inner();
    let first = resp.trajectory.unwrap().poses[0]
        .pose
        .unwrap()
        .quat
        .unwrap();
    assert_eq!((first.w, first.x, first.y, first.z), (1.0, 0.0, 0.0, 0.0));
    server.stop().await;
}

#[tokio::test]
async fn bad_images_are_invalid_argument() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let uuid = "img";
    start_session(&mut c, uuid).await;

    let err = c
        .submit_image_observation(image(uuid, "camera_rear", 0, jpeg_bytes()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("camera_rear"), "{}", err.message());

    let mut fake_jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    fake_jpeg.extend(std::iter::repeat_n(0x5A, 4096));
    let mut truncated = jpeg_bytes();
    truncated.truncate(40);
    for (name, bytes) in [
        ("garbage", b"definitely not an image".to_vec()),
        ("empty", Vec::new()),
        ("jpeg magic then garbage", fake_jpeg),
        ("truncated jpeg", truncated),
    ] {
        let err = c
            .submit_image_observation(image(uuid, CAMERA, 0, bytes))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}: {err:?}");
    }
    // The session still works afterwards.
    c.submit_image_observation(image(uuid, CAMERA, 0, jpeg_bytes()))
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn infinite_route_points_and_far_queries_are_invalid_argument() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let uuid = "route";
    start_session(&mut c, uuid).await;
    let mut req = route(uuid, 0, origin(), &[(0.0, 0.0), (1.0, 0.0)]);
    req.route.as_mut().unwrap().waypoints[1].x = f32::INFINITY;
    let err = c.submit_route(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    c.submit_egomotion_observation(egomotion(uuid, 0, origin(), 0.0))
        .await
        .unwrap();
    let err = c
        .drive(drive_request(uuid, 0, 3_600_000_000))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    server.stop().await;
}
