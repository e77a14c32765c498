//! What a policy sees at a `drive` call: a snapshot of one session's
//! validated observations, in plain Rust types.
//!
//! The server builds an [`Observation`] from the session state
//! ([`crate::session`]) after every submission has been checked
//! ([`crate::wire`]), so a policy never sees NaN poses, undeclared cameras or
//! undecodable images. Frames are shared (`Arc`), so a snapshot is cheap.

use std::collections::HashMap;
use std::sync::Arc;

use atlas_proto::sensorsim::CameraSpec;
use image::RgbImage;

use crate::geometry::{Pose, Vec3};

/// Velocities and accelerations in the rig frame (x forward, y left, z up).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Dynamics {
    pub angular_velocity: Vec3,
    pub linear_velocity: Vec3,
    pub linear_acceleration: Vec3,
    pub angular_acceleration: Vec3,
}

/// One estimated ego pose (`local → rig_est`) with its time and, when the
/// client sent one, its dynamic state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EgoSample {
    pub timestamp_us: u64,
    pub pose: Pose,
    pub dynamics: Option<Dynamics>,
}

/// The latest route: a polyline in the rig frame at `timestamp_us`, NaN
/// padding removed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Route {
    pub timestamp_us: u64,
    pub waypoints: Vec<Vec3>,
}

/// A recorded (ground-truth) trajectory, each pose in the rig frame at
/// `timestamp_us`. Only sent by runtimes configured to do so.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroundTruth {
    pub timestamp_us: u64,
    pub poses: Vec<(u64, Pose)>,
}

/// A camera declared in `start_session`.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraDecl {
    pub logical_id: String,
    /// Projection model and native resolution, as declared (validated).
    pub intrinsics: CameraSpec,
    /// Pose of the camera's optical frame (x right, y down, z forward) in
    /// the rig, whatever contract revision the client spoke.
    pub rig_to_camera: Pose,
}

/// How a frame was encoded on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageEncoding {
    Jpeg,
    Png,
}

/// One decoded camera frame.
#[derive(Clone, Debug)]
pub struct CameraFrame {
    pub logical_id: String,
    pub frame_start_us: u64,
    /// Shutter close: the frame's timestamp.
    pub frame_end_us: u64,
    pub encoding: ImageEncoding,
    /// 8-bit RGB pixels; the size may differ from the declared resolution
    /// (scale the intrinsics by the ratio).
    pub image: Arc<RgbImage>,
}

/// Everything a policy may use to plan one `drive`.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    pub session_uuid: String,
    pub random_seed: u64,
    /// Planning instant; the plan is anchored here.
    pub time_now_us: u64,
    /// The instant the runtime will next advance the vehicle to; the plan
    /// must reach at least this far.
    pub time_query_us: u64,
    /// Ego history, oldest first, strictly increasing timestamps.
    pub ego: Vec<EgoSample>,
    pub route: Option<Arc<Route>>,
    /// Cameras declared at session start.
    pub cameras: Arc<[CameraDecl]>,
    /// Most recent frames per camera logical id, oldest first.
    pub frames: HashMap<String, Vec<Arc<CameraFrame>>>,
    pub ground_truth: Option<Arc<GroundTruth>>,
    /// Opaque runtime payload of the `drive` request (may be empty).
    pub renderer_data: Vec<u8>,
}

impl Observation {
    /// The latest ego sample.
    pub fn current(&self) -> Option<&EgoSample> {
        self.ego.last()
    }

    /// The ego pose at `t_us`: interpolated between samples, clamped to the
    /// first and last sample outside the history.
    pub fn pose_at(&self, t_us: u64) -> Option<Pose> {
        let first = self.ego.first()?;
        let last = self.ego.last()?;
        if t_us <= first.timestamp_us {
            return Some(first.pose);
        }
        if t_us >= last.timestamp_us {
            return Some(last.pose);
        }
        // Timestamps are strictly increasing, so this finds the bracket.
        let i = self.ego.partition_point(|s| s.timestamp_us <= t_us);
        let (a, b) = (&self.ego[i - 1], &self.ego[i]);
        let span = (b.timestamp_us - a.timestamp_us) as f64;
        let t = (t_us - a.timestamp_us) as f64 / span;
        Some(a.pose.interpolate(&b.pose, t))
    }

    /// Forward speed (m/s) now: the latest dynamic state's rig-x velocity,
    /// or the displacement between the last two poses projected on the
    /// heading when the client sent no dynamics.
    pub fn current_speed(&self) -> f64 {
        let Some(cur) = self.current() else {
            return 0.0;
        };
        if let Some(d) = cur.dynamics {
            return d.linear_velocity.x;
        }
        if self.ego.len() < 2 {
            return 0.0;
        }
        let prev = &self.ego[self.ego.len() - 2];
        let dt = (cur.timestamp_us - prev.timestamp_us) as f64 * 1e-6;
        let d = cur.pose.translation - prev.pose.translation;
        let yaw = cur.pose.yaw();
        (d.x * yaw.cos() + d.y * yaw.sin()) / dt
    }

    /// The route in the local frame, through the ego pose at the route's
    /// timestamp.
    pub fn route_in_local(&self) -> Option<Vec<Vec3>> {
        let route = self.route.as_ref()?;
        let rig = self.pose_at(route.timestamp_us)?;
        Some(
            route
                .waypoints
                .iter()
                .map(|p| rig.transform_point(*p))
                .collect(),
        )
    }

    /// The newest frame of camera `logical_id`.
    pub fn latest_frame(&self, logical_id: &str) -> Option<&Arc<CameraFrame>> {
        self.frames.get(logical_id).and_then(|f| f.last())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: u64, x: f64, yaw: f64, v: Option<f64>) -> EgoSample {
        EgoSample {
            timestamp_us: t,
            pose: Pose::from_xyz_yaw(x, 0.0, 0.0, yaw),
            dynamics: v.map(|v| Dynamics {
                linear_velocity: Vec3::new(v, 0.0, 0.0),
                ..Dynamics::default()
            }),
        }
    }

    #[test]
    fn pose_at_interpolates_and_clamps() {
        let obs = Observation {
            ego: vec![sample(100, 0.0, 0.0, None), sample(300, 2.0, 0.0, None)],
            ..Observation::default()
        };
        assert_eq!(obs.pose_at(0).unwrap().translation.x, 0.0);
        assert!((obs.pose_at(200).unwrap().translation.x - 1.0).abs() < 1e-12);
        assert_eq!(obs.pose_at(1000).unwrap().translation.x, 2.0);
        assert!(Observation::default().pose_at(0).is_none());
    }

    #[test]
    fn speed_from_dynamics_or_from_poses() {
        let with = Observation {
            ego: vec![sample(0, 0.0, 0.0, Some(3.0))],
            ..Observation::default()
        };
        assert_eq!(with.current_speed(), 3.0);
        let without = Observation {
            ego: vec![sample(0, 0.0, 0.0, None), sample(500_000, 2.0, 0.0, None)],
            ..Observation::default()
        };
        assert!((without.current_speed() - 4.0).abs() < 1e-12);
    }

    #[test]
    fn route_is_moved_into_local_through_the_pose_at_its_time() {
        let obs = Observation {
            ego: vec![sample(0, 10.0, std::f64::consts::FRAC_PI_2, None)],
            route: Some(Arc::new(Route {
                timestamp_us: 0,
                waypoints: vec![Vec3::new(5.0, 0.0, 0.0)],
            })),
            ..Observation::default()
        };
        let r = obs.route_in_local().unwrap();
        assert!((r[0].x - 10.0).abs() < 1e-9 && (r[0].y - 5.0).abs() < 1e-9);
    }
}
