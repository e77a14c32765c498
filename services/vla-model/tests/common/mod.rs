//! Shared by the integration tests: start the real server on 127.0.0.1:0,
//! connect real tonic clients, and build contract messages the way the
//! AlpaSim runtime and carla-driver-interface send them.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

pub use atlas_geometry::Pose2;
use atlas_proto::common::{self, DynamicState, PoseAtTime, Trajectory};
use atlas_proto::egodriver::drive_session_request::rollout_spec::VehicleDefinition;
use atlas_proto::egodriver::drive_session_request::{DebugInfo, RolloutSpec};
use atlas_proto::egodriver::egodriver_service_client::EgodriverServiceClient;
use atlas_proto::egodriver::rollout_camera_image::CameraImage;
use atlas_proto::egodriver::{
    DriveRequest, DriveResponse, DriveSessionCloseRequest, DriveSessionRequest, RolloutCameraImage,
    RolloutEgoTrajectory, Route, RouteRequest,
};
use atlas_proto::sensorsim::available_cameras_return::AvailableCamera;
use atlas_proto::sensorsim::camera_spec::CameraParam;
use atlas_proto::sensorsim::{CameraSpec, OpenCvPinholeCameraParam, ShutterType};
pub use atlas_proto::wire::PoseWire;
use atlas_vla::{Config, Policy};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub const CAMERA: &str = "camera_front";
pub const STEP_US: u64 = 100_000;

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), atlas_vla::Error>>,
}

fn test_config() -> Config {
    Config {
        grace_period_s: 5.0,
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(test_config(), None).await
    }

    pub async fn start_with_config(config: Config) -> Self {
        Self::start_with(config, None).await
    }

    pub async fn start_with_policy(policy: Arc<dyn Policy>) -> Self {
        Self::start_with(test_config(), Some(policy)).await
    }

    pub async fn start_with_config_and_policy(config: Config, policy: Arc<dyn Policy>) -> Self {
        Self::start_with(config, Some(policy)).await
    }

    async fn start_with(config: Config, policy: Option<Arc<dyn Policy>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        let task = tokio::spawn(async move {
            match policy {
                Some(p) => atlas_vla::serve_with_policy(listener, config, p, shutdown).await,
                None => atlas_vla::serve(listener, config, shutdown).await,
            }
        });
        Self {
            addr,
            shutdown: Some(tx),
            task,
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn client(&self) -> EgodriverServiceClient<Channel> {
        EgodriverServiceClient::new(self.channel().await)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }

    /// Starts the drain without waiting for the server to stop.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Shuts down and checks the server exited cleanly.
    pub async fn stop(mut self) {
        self.begin_shutdown();
        self.task.await.unwrap().unwrap();
    }
}

pub fn pinhole_camera(id: &str) -> AvailableCamera {
    let (w, h) = (640u32, 360u32);
    let f = f64::from(w) / (2.0 * (52f64.to_radians() / 2.0).tan());
    AvailableCamera {
        logical_id: id.into(),
        intrinsics: Some(CameraSpec {
            logical_id: id.into(),
            resolution_w: w,
            resolution_h: h,
            shutter_type: ShutterType::Global as i32,
            camera_param: Some(CameraParam::OpencvPinholeParam(OpenCvPinholeCameraParam {
                principal_point_x: f64::from(w) / 2.0,
                principal_point_y: f64::from(h) / 2.0,
                focal_length_x: f,
                focal_length_y: f,
                ..Default::default()
            })),
            ..Default::default()
        }),
        rig_to_camera: Some(common::Pose {
            vec: Some(common::Vec3 {
                x: 2.5,
                y: 0.0,
                z: 1.5,
            }),
            quat: Some(common::Quat {
                w: -0.5,
                x: 0.5,
                y: -0.5,
                z: 0.5,
            }),
        }),
    }
}

pub fn session_request(
    uuid: &str,
    cameras: Vec<AvailableCamera>,
) -> tonic::Request<DriveSessionRequest> {
    let mut req = tonic::Request::new(DriveSessionRequest {
        session_uuid: uuid.into(),
        random_seed: 7,
        debug_info: Some(DebugInfo {
            scene_id: "test:scene".into(),
        }),
        rollout_spec: Some(RolloutSpec {
            vehicle: Some(VehicleDefinition {
                available_cameras: cameras,
            }),
        }),
    });
    req.metadata_mut().insert(
        atlas_proto::CONTRACT_REVISION_HEADER,
        atlas_proto::CONTRACT_REVISION.parse().unwrap(),
    );
    req
}

pub async fn start_session(client: &mut EgodriverServiceClient<Channel>, uuid: &str) {
    client
        .start_session(session_request(uuid, vec![pinhole_camera(CAMERA)]))
        .await
        .unwrap();
}

/// Reads a trajectory pose, checking it is a normalised yaw-only rotation.
pub fn pose_at(p: &PoseAtTime) -> Pose2 {
    let pose = p.pose.unwrap();
    let q = pose.quat.unwrap();
    assert!(q.x.abs() < 1e-6 && q.y.abs() < 1e-6, "not yaw-only: {q:?}");
    let n = (q.w * q.w + q.z * q.z).sqrt();
    assert!((n - 1.0).abs() < 1e-4, "quaternion not normalised: {q:?}");
    Pose2::from_wire(&pose).expect("a finite pose")
}

pub fn egomotion(uuid: &str, t_us: u64, pose: Pose2, speed: f64) -> RolloutEgoTrajectory {
    RolloutEgoTrajectory {
        session_uuid: uuid.into(),
        trajectory: Some(Trajectory {
            poses: vec![PoseAtTime {
                pose: Some(pose.to_wire()),
                timestamp_us: t_us,
            }],
        }),
        dynamic_states: vec![DynamicState {
            linear_velocity: Some(common::Vec3 {
                x: speed as f32,
                y: 0.0,
                z: 0.0,
            }),
            ..Default::default()
        }],
    }
}

/// A route request from local-frame lane points, expressed in `ego`'s rig.
pub fn route(uuid: &str, t_us: u64, ego: Pose2, lane_local: &[(f64, f64)]) -> RouteRequest {
    RouteRequest {
        session_uuid: uuid.into(),
        route: Some(Route {
            waypoints: lane_local
                .iter()
                .map(|&(x, y)| {
                    let (rx, ry) = ego.to_local(x, y);
                    common::Vec3 {
                        x: rx as f32,
                        y: ry as f32,
                        z: 0.0,
                    }
                })
                .collect(),
            timestamp_us: t_us,
        }),
    }
}

/// A small RGB road picture, JPEG-encoded.
pub fn jpeg_bytes() -> Vec<u8> {
    let img = image::RgbImage::from_fn(160, 90, |x, y| {
        if y < 45 {
            image::Rgb([120, 160, 220])
        } else {
            image::Rgb([90, (x % 256) as u8, 90])
        }
    });
    atlas_vla::decode::encode_jpeg(&img, 90).unwrap()
}

pub fn image(uuid: &str, camera: &str, t_us: u64, bytes: Vec<u8>) -> RolloutCameraImage {
    RolloutCameraImage {
        session_uuid: uuid.into(),
        camera_image: Some(CameraImage {
            frame_start_us: t_us,
            frame_end_us: t_us,
            image_bytes: bytes,
            logical_id: camera.into(),
        }),
    }
}

pub fn drive_request(uuid: &str, now: u64, query: u64) -> DriveRequest {
    DriveRequest {
        session_uuid: uuid.into(),
        time_now_us: now,
        time_query_us: query,
        renderer_data: Vec::new(),
    }
}

/// One full step as a client sends it: egomotion, route, image, drive.
pub async fn step(
    client: &mut EgodriverServiceClient<Channel>,
    uuid: &str,
    now: u64,
    ego: Pose2,
    speed: f64,
    lane_local: &[(f64, f64)],
    jpeg: &[u8],
) -> DriveResponse {
    client
        .submit_egomotion_observation(egomotion(uuid, now, ego, speed))
        .await
        .unwrap();
    client
        .submit_route(route(uuid, now, ego, lane_local))
        .await
        .unwrap();
    client
        .submit_image_observation(image(uuid, CAMERA, now, jpeg.to_vec()))
        .await
        .unwrap();
    client
        .drive(drive_request(uuid, now, now + STEP_US))
        .await
        .unwrap()
        .into_inner()
}

pub async fn close(client: &mut EgodriverServiceClient<Channel>, uuid: &str) {
    client
        .close_session(DriveSessionCloseRequest {
            session_uuid: uuid.into(),
        })
        .await
        .unwrap();
}

/// Checks the contract's trajectory layout and returns the poses.
pub fn check_layout(resp: &DriveResponse, now: u64, query: u64, ego: Pose2) -> Vec<Pose2> {
    let traj = resp.trajectory.as_ref().expect("trajectory set");
    assert!(traj.poses.len() >= 41, "{} poses", traj.poses.len());
    assert_eq!(traj.poses[0].timestamp_us, now);
    for (i, p) in traj.poses.iter().enumerate() {
        assert_eq!(p.timestamp_us, now + i as u64 * STEP_US);
    }
    assert!(traj.poses.last().unwrap().timestamp_us >= query);
    let poses: Vec<Pose2> = traj.poses.iter().map(pose_at).collect();
    let first = poses[0];
    assert!((first.x - ego.x).abs() < 1e-4 && (first.y - ego.y).abs() < 1e-4);
    assert!((first.z - ego.z).abs() < 1e-4);
    assert!(angle_diff(first.yaw, ego.yaw).abs() < 1e-4);
    for p in &poses {
        assert!(
            (p.z - ego.z).abs() < 1e-4,
            "z changed: {} vs {}",
            p.z,
            ego.z
        );
    }
    assert!(!resp.terminate_session);
    poses
}

pub fn angle_diff(a: f64, b: f64) -> f64 {
    atlas_geometry::wrap_angle(a - b)
}
