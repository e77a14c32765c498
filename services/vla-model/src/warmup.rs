//! Start-up self-test: one synthetic observation through the real policy.
//!
//! The server reports NOT_SERVING until this passes. The observation looks
//! like a real step: two ego samples a tenth of a second apart at 5 m/s, a
//! gently curving 50-point route and one pinhole camera whose frame went
//! through the same JPEG decoder as client images. The resulting trajectory
//! must satisfy everything `drive` promises (anchor, finite, strictly
//! increasing, covering the query).

use std::sync::Arc;

use atlas_proto::sensorsim::camera_spec::CameraParam;
use atlas_proto::sensorsim::{CameraSpec, OpenCvPinholeCameraParam, ShutterType};
use image::{Rgb, RgbImage};

use crate::Error;
use crate::decode::{decode_image, encode_jpeg};
use crate::geometry::{Pose, Quat, Vec3};
use crate::observation::{CameraDecl, CameraFrame, Dynamics, EgoSample, Observation, Route};
use crate::policy::{PLAN_STEP_US, Policy};
use crate::wire::plan_to_trajectory;

const WARMUP_CAMERA: &str = "warmup_front";
const WIDTH: u32 = 256;
const HEIGHT: u32 = 160;

fn synthetic_frame(t_us: u64) -> Result<CameraFrame, Error> {
    // Sky above a grey road with a bright centre line.
    let img = RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        if y < HEIGHT / 2 {
            Rgb([120, 160, 220])
        } else if x.abs_diff(WIDTH / 2) < 2 + (y - HEIGHT / 2) / 16 {
            Rgb([240, 240, 240])
        } else {
            Rgb([90, 90, 90])
        }
    });
    let bytes =
        encode_jpeg(&img, 90).map_err(|e| Error::WarmUp(format!("encoding the frame: {e}")))?;
    let (encoding, rgb) =
        decode_image(&bytes).map_err(|e| Error::WarmUp(format!("decoding the frame: {e}")))?;
    Ok(CameraFrame {
        logical_id: WARMUP_CAMERA.into(),
        frame_start_us: t_us.saturating_sub(17_000),
        frame_end_us: t_us,
        encoding,
        image: Arc::new(rgb),
    })
}

/// The observation the warm-up plans on.
pub fn synthetic_observation() -> Result<Observation, Error> {
    let now = 1_000_000;
    let speed = 5.0;
    let dynamics = Some(Dynamics {
        linear_velocity: Vec3::new(speed, 0.0, 0.0),
        ..Dynamics::default()
    });
    let ego = vec![
        EgoSample {
            timestamp_us: now - PLAN_STEP_US,
            pose: Pose::from_xyz_yaw(-0.5, 0.0, 0.0, 0.0),
            dynamics,
        },
        EgoSample {
            timestamp_us: now,
            pose: Pose::from_xyz_yaw(0.0, 0.0, 0.0, 0.0),
            dynamics,
        },
    ];
    // 50 points 2 m apart bending left with a 100 m radius.
    let waypoints = (0..50)
        .map(|i| {
            let a = f64::from(i) * 2.0 / 100.0;
            Vec3::new(100.0 * a.sin(), 100.0 * (1.0 - a.cos()), 0.0)
        })
        .collect();
    let spec = CameraSpec {
        logical_id: WARMUP_CAMERA.into(),
        resolution_w: WIDTH,
        resolution_h: HEIGHT,
        shutter_type: ShutterType::Global as i32,
        camera_param: Some(CameraParam::OpencvPinholeParam(OpenCvPinholeCameraParam {
            principal_point_x: f64::from(WIDTH) / 2.0,
            principal_point_y: f64::from(HEIGHT) / 2.0,
            focal_length_x: 200.0,
            focal_length_y: 200.0,
            ..Default::default()
        })),
        ..Default::default()
    };
    let camera = CameraDecl {
        logical_id: WARMUP_CAMERA.into(),
        intrinsics: spec,
        // Optical frame looking along rig +x, 2.5 m ahead and 1.5 m up.
        rig_to_camera: Pose::new(
            Vec3::new(2.5, 0.0, 1.5),
            Quat {
                w: -0.5,
                x: 0.5,
                y: -0.5,
                z: 0.5,
            },
        ),
    };
    Ok(Observation {
        session_uuid: "warm-up".into(),
        random_seed: 0,
        time_now_us: now,
        time_query_us: now + PLAN_STEP_US,
        ego,
        route: Some(Arc::new(Route {
            timestamp_us: now,
            waypoints,
        })),
        cameras: Arc::from(vec![camera]),
        frames: [(
            WARMUP_CAMERA.to_string(),
            vec![Arc::new(synthetic_frame(now)?)],
        )]
        .into(),
        ground_truth: None,
        renderer_data: Vec::new(),
    })
}

/// What a passed warm-up measured.
#[derive(Clone, Copy, Debug)]
pub struct WarmUpStats {
    pub poses: usize,
    pub inference: std::time::Duration,
}

/// The warm-up itself, on the calling thread: the synthetic observation
/// through `policy`, and the answer checked as `drive` would.
pub fn check(policy: &dyn Policy) -> Result<WarmUpStats, Error> {
    let obs = synthetic_observation()?;
    policy.accept_session(&obs.cameras)?;
    let anchor = obs.current().map(|s| s.pose).unwrap_or_default();
    let (now, query) = (obs.time_now_us, obs.time_query_us);
    let started = std::time::Instant::now();
    let plan = policy.plan(&obs)?;
    let inference = started.elapsed();
    let trajectory = plan_to_trajectory(anchor, now, query, plan)?;
    if trajectory.poses.len() < 2 {
        return Err(Error::WarmUp("the policy returned an empty plan".into()));
    }
    Ok(WarmUpStats {
        poses: trajectory.poses.len(),
        inference,
    })
}

/// Runs the warm-up on a blocking thread; `Ok` once the policy produced a
/// valid, moving plan.
pub async fn warm_up(policy: Arc<dyn Policy>) -> Result<(), Error> {
    tokio::task::spawn_blocking(move || {
        let stats = check(policy.as_ref())?;
        tracing::info!(
            policy = policy.name(),
            poses = stats.poses,
            inference_ms = stats.inference.as_secs_f64() * 1e3,
            "warm-up inference passed"
        );
        Ok(())
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Plan, PlannedPose, PolicyError, RouteFollower, RouteFollowerParams};

    #[derive(Debug)]
    struct Broken;

    impl Policy for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn plan(&self, obs: &Observation) -> Result<Plan, PolicyError> {
            Ok(Plan {
                poses: vec![PlannedPose {
                    timestamp_us: obs.time_query_us,
                    pose: Pose::from_xyz_yaw(f64::NAN, 0.0, 0.0, 0.0),
                }],
                terminate_session: false,
            })
        }
    }

    #[derive(Debug)]
    struct Idle;

    impl Policy for Idle {
        fn name(&self) -> &str {
            "idle"
        }
        fn plan(&self, _: &Observation) -> Result<Plan, PolicyError> {
            Ok(Plan::default())
        }
    }

    #[tokio::test]
    async fn route_follower_passes() {
        let p = RouteFollower::new(RouteFollowerParams::default()).unwrap();
        warm_up(Arc::new(p)).await.unwrap();
    }

    #[tokio::test]
    async fn non_finite_or_empty_plans_fail() {
        assert!(warm_up(Arc::new(Broken)).await.is_err());
        assert!(warm_up(Arc::new(Idle)).await.is_err());
    }

    #[test]
    fn synthetic_frame_went_through_the_decoder() {
        let obs = synthetic_observation().unwrap();
        let f = obs.latest_frame(WARMUP_CAMERA).unwrap();
        assert_eq!(f.image.dimensions(), (WIDTH, HEIGHT));
    }
}
