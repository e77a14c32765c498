//! The `model` policy: the learned driving model of `atlas-model`, run with
//! candle.
//!
//! Per `drive` the observation is turned into exactly the inputs the model
//! was trained on ([`atlas_model::DriveInput`]): the newest frame of the
//! front camera, speed, acceleration and yaw rate from the latest dynamic
//! state, past poses at 10 Hz interpolated from the session's ego history
//! and expressed in the current rig frame, the route moved into the current
//! rig frame, and an instruction made of the route's own ("turn left at the
//! next junction", …) and the configured one. The network plans 4 s of rig
//! poses, which are placed in the local frame through the current pose
//! (yaw-only rotations, z kept); a query beyond 4 s is covered by
//! continuing the last planned motion.
//!
//! The front camera is the declared camera named `camera_front`, else the
//! first declared camera; it must look forward. Until its first frame has
//! arrived the plan is empty ("no plan yet"), as the contract allows.

use std::path::{Path, PathBuf};

use atlas_geometry::Pose2;
use atlas_model::{
    DeviceChoice, DriveInput, DrivingModel, Features, ImageView, compose_instruction,
    route_instruction,
};

use super::{Plan, PlannedPose, Policy, PolicyError, plan_timestamps};
use crate::geometry::{Pose, Vec3};
use crate::observation::{CameraDecl, Observation};

/// The camera the model prefers (the runtime's front camera).
pub const FRONT_CAMERA: &str = "camera_front";

/// Plan step the model was trained for, µs.
const MODEL_STEP_US: u64 = 100_000;

/// The learned policy; see the module docs.
#[derive(Debug)]
pub struct CandlePolicy {
    model: DrivingModel,
    dir: PathBuf,
    sha256: String,
    instruction: String,
}

fn planar(p: &Pose) -> Pose2 {
    Pose2::planar(p.translation.x, p.translation.y, p.yaw())
}

/// The camera the model drives with among the declared ones.
pub fn front_camera(cameras: &[CameraDecl]) -> Option<&CameraDecl> {
    cameras
        .iter()
        .find(|c| c.logical_id == FRONT_CAMERA)
        .or_else(|| cameras.first())
}

impl CandlePolicy {
    /// Loads and verifies a model directory (checksum, shapes) on `device`.
    pub fn load(dir: &Path, device: DeviceChoice, instruction: &str) -> Result<Self, PolicyError> {
        let device = device
            .open()
            .map_err(|e| PolicyError::Failed(e.to_string()))?;
        let loaded =
            atlas_model::load(dir, &device).map_err(|e| PolicyError::Failed(e.to_string()))?;
        tracing::info!(
            dir = %dir.display(),
            parameters = loaded.parameters,
            bytes = loaded.weight_bytes,
            sha256 = %loaded.sha256,
            device = ?device,
            "model loaded"
        );
        Ok(Self::from_model(
            loaded.model,
            dir.to_path_buf(),
            loaded.sha256,
            instruction,
        ))
    }

    /// Wraps an already built model (tests use random tiny ones).
    pub fn from_model(
        model: DrivingModel,
        dir: PathBuf,
        sha256: String,
        instruction: &str,
    ) -> Self {
        Self {
            model,
            dir,
            sha256,
            instruction: instruction.trim().to_string(),
        }
    }

    pub fn model(&self) -> &DrivingModel {
        &self.model
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The model's inputs for `obs`, or `None` when the front camera has
    /// no frame yet.
    pub fn features(&self, obs: &Observation) -> Result<Option<Features>, PolicyError> {
        let cur = obs
            .current()
            .ok_or_else(|| PolicyError::NotEnoughContext("no ego pose yet".into()))?;
        let camera = front_camera(&obs.cameras)
            .ok_or_else(|| PolicyError::Unsupported("the session declared no camera".into()))?;
        let Some(frame) = obs.latest_frame(&camera.logical_id) else {
            return Ok(None);
        };
        let cfg = self.model.config();
        let here = planar(&cur.pose);
        let oldest = obs.ego.first().map_or(cur.timestamp_us, |s| s.timestamp_us);
        let history = (1..=cfg.history_len as u64)
            .map(|k| {
                let t = cur.timestamp_us.checked_sub(k * MODEL_STEP_US)?;
                if t < oldest {
                    return None;
                }
                let p = here.relative(&planar(&obs.pose_at(t)?));
                Some([p.x, p.y, p.yaw])
            })
            .collect();
        let route: Vec<[f64; 2]> = obs
            .route_in_local()
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let (x, y) = here.to_local(p.x, p.y);
                [x, y]
            })
            .collect();
        let dynamics = cur.dynamics.unwrap_or_default();
        let image = frame.image.as_ref();
        let input = DriveInput {
            image: ImageView {
                width: image.width(),
                height: image.height(),
                data: image.as_raw(),
            },
            speed: obs.current_speed(),
            accel: dynamics.linear_acceleration.x,
            yaw_rate: dynamics.angular_velocity.z,
            history,
            instruction: compose_instruction(route_instruction(&route), &self.instruction),
            route,
        };
        Features::encode(cfg, &input)
            .map(Some)
            .map_err(|e| PolicyError::Failed(e.to_string()))
    }

    /// Places one sample's rig-frame prediction on the plan timestamps.
    fn to_plan(&self, obs: &Observation, rig: &[[f32; 3]]) -> Result<Plan, PolicyError> {
        let cur = obs
            .current()
            .ok_or_else(|| PolicyError::NotEnoughContext("no ego pose yet".into()))?;
        let times = plan_timestamps(obs.time_now_us, obs.time_query_us, rig.len())
            .ok_or_else(|| PolicyError::Failed("plan horizon out of range".into()))?;
        let here = planar(&cur.pose);
        let z = cur.pose.translation.z;
        let mut poses = Vec::with_capacity(times.len());
        let (mut last, mut step) = (Pose2::default(), Pose2::default());
        for (k, &ts) in times.iter().enumerate() {
            let p = if let Some(q) = rig.get(k) {
                let p = Pose2::planar(f64::from(q[0]), f64::from(q[1]), f64::from(q[2]));
                step = last.relative(&p);
                p
            } else {
                // Past the model's horizon: repeat the last step's motion.
                last.compose(&step)
            };
            last = p;
            let w = here.compose(&p);
            if !(w.x.is_finite() && w.y.is_finite() && w.yaw.is_finite()) {
                return Err(PolicyError::Failed(format!(
                    "non-finite plan pose at {ts} µs"
                )));
            }
            poses.push(PlannedPose {
                timestamp_us: ts,
                pose: Pose::new(
                    Vec3::new(w.x, w.y, z),
                    crate::geometry::Quat::from_yaw(w.yaw),
                ),
            });
        }
        Ok(Plan {
            poses,
            terminate_session: false,
        })
    }

    /// Plans several observations in one forward pass; answers in order.
    pub fn plan_many(&self, obs: &[&Observation]) -> Vec<Result<Plan, PolicyError>> {
        let mut out: Vec<Option<Result<Plan, PolicyError>>> = vec![None; obs.len()];
        let mut ready = Vec::new();
        for (i, o) in obs.iter().enumerate() {
            match self.features(o) {
                Ok(Some(f)) => ready.push((i, f)),
                Ok(None) => out[i] = Some(Ok(Plan::default())),
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        if !ready.is_empty() {
            let feats: Vec<&Features> = ready.iter().map(|(_, f)| f).collect();
            match atlas_model::predict(&self.model, &feats) {
                Ok(rows) => {
                    for ((i, _), rig) in ready.iter().zip(rows) {
                        out[*i] = Some(self.to_plan(obs[*i], &rig));
                    }
                }
                Err(e) => {
                    for (i, _) in &ready {
                        out[*i] = Some(Err(PolicyError::Failed(e.to_string())));
                    }
                }
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(PolicyError::Failed("no answer".into()))))
            .collect()
    }
}

impl Policy for CandlePolicy {
    fn name(&self) -> &str {
        "model"
    }

    fn frames_per_camera(&self) -> usize {
        1
    }

    fn ego_history(&self) -> usize {
        // Enough for the model's 10 Hz window even if a client sends poses
        // at a few times that rate.
        4 * (self.model.config().history_len + 1)
    }

    fn accept_session(&self, cameras: &[CameraDecl]) -> Result<(), PolicyError> {
        let cam = front_camera(cameras).ok_or_else(|| {
            PolicyError::Unsupported(format!(
                "the model policy needs a forward-looking camera (ideally {FRONT_CAMERA:?}); \
                 declare one in start_session"
            ))
        })?;
        // The optical axis (camera +z) in the rig must point forward.
        let axis = cam.rig_to_camera.rotation.rotate(Vec3::new(0.0, 0.0, 1.0));
        if axis.x < 0.7 {
            return Err(PolicyError::Unsupported(format!(
                "camera {:?} does not look forward (optical axis {:.2}, {:.2}, {:.2} in the rig); \
                 the model policy drives with a forward-looking camera",
                cam.logical_id, axis.x, axis.y, axis.z
            )));
        }
        Ok(())
    }

    fn plan_batch(&self, obs: &[&Observation]) -> Vec<Result<Plan, PolicyError>> {
        self.plan_many(obs)
    }

    fn plan(&self, obs: &Observation) -> Result<Plan, PolicyError> {
        self.plan_many(&[obs])
            .pop()
            .unwrap_or_else(|| Err(PolicyError::Failed("no answer".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warmup::synthetic_observation;
    use atlas_model::ModelConfig;
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    fn tiny_policy() -> CandlePolicy {
        let vm = VarMap::new();
        let model = DrivingModel::new(
            &ModelConfig::tiny(),
            VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
        )
        .unwrap();
        CandlePolicy::from_model(model, PathBuf::new(), String::new(), "drive slowly")
    }

    #[test]
    fn plans_anchor_timestamps_and_extend_past_the_horizon() {
        let p = tiny_policy();
        let mut obs = synthetic_observation().unwrap();
        p.accept_session(&obs.cameras).unwrap();
        let plan = p.plan(&obs).unwrap();
        let h = p.model().config().horizon;
        assert_eq!(plan.poses.len(), h);
        assert_eq!(plan.poses[0].timestamp_us, obs.time_now_us + 100_000);
        // A query 2 s past the horizon.
        obs.time_query_us = obs.time_now_us + (h as u64 + 20) * 100_000;
        let plan = p.plan(&obs).unwrap();
        assert_eq!(plan.poses.len(), h + 20);
        for w in plan.poses.windows(2) {
            assert!(w[1].timestamp_us > w[0].timestamp_us);
        }
        let z = obs.current().unwrap().pose.translation.z;
        assert!(plan.poses.iter().all(|q| q.pose.translation.z == z));
    }

    #[test]
    fn no_frame_means_no_plan_and_batches_match_single_calls() {
        let p = tiny_policy();
        let obs = synthetic_observation().unwrap();
        let mut blind = obs.clone();
        blind.frames.clear();
        assert!(p.plan(&blind).unwrap().poses.is_empty());

        let mut moved = obs.clone();
        for s in &mut moved.ego {
            s.pose.translation.x += 30.0;
        }
        let many = p.plan_many(&[&obs, &blind, &moved]);
        assert!(many[1].as_ref().unwrap().poses.is_empty());
        for (batched, single) in [(&many[0], &obs), (&many[2], &moved)] {
            let single = p.plan(single).unwrap();
            let batched = batched.as_ref().unwrap();
            assert_eq!(batched.poses.len(), single.poses.len());
            for (a, b) in batched.poses.iter().zip(&single.poses) {
                assert_eq!(a.timestamp_us, b.timestamp_us);
                let d = a.pose.translation - b.pose.translation;
                assert!(d.x.abs() < 1e-4 && d.y.abs() < 1e-4, "{d:?}");
                assert!((a.pose.yaw() - b.pose.yaw()).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn features_are_in_the_current_rig_frame() {
        let p = tiny_policy();
        let obs = synthetic_observation().unwrap();
        let f = p.features(&obs).unwrap().unwrap();
        let cfg = p.model().config();
        // Route point 0 is at the rig origin, point 1 ~2 m ahead.
        assert_eq!(&f.route[..3], &[0.0, 0.0, 1.0]);
        assert!((f64::from(f.route[3]) * cfg.position_scale - 2.0).abs() < 0.01);
        // One past pose 0.1 s ago, 0.5 m behind; the rest unknown.
        assert!((f.ego[3] - (-0.1)).abs() < 1e-6, "{:?}", &f.ego[..8]);
        assert_eq!(f.ego[6], 1.0);
        assert_eq!(f.ego[10], 0.0);
        let words = atlas_model::tokenizer::decode(&f.tokens);
        assert!(words.starts_with("follow the lane"), "{words}");
    }

    #[test]
    fn refuses_sessions_without_a_forward_camera() {
        let p = tiny_policy();
        assert!(p.accept_session(&[]).is_err());
        let obs = synthetic_observation().unwrap();
        let mut cam = obs.cameras[0].clone();
        // Identity rotation: the optical axis points up the rig's z.
        cam.rig_to_camera = Pose::IDENTITY;
        assert!(p.accept_session(&[cam]).is_err());
    }
}
