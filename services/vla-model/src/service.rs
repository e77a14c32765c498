//! The `egodriver.EgodriverService` implementation.
//!
//! Each rpc is a thin, instrumented wrapper over an `inner_*` method that
//! returns [`crate::Error`]; the single `From<Error> for Status` turns that
//! into the status code the contract asks for. Image decoding runs on
//! blocking threads and planning on the batcher's inference threads
//! ([`crate::batch`]), so the async runtime keeps serving other sessions
//! meanwhile.

use std::sync::Arc;

use atlas_proto::common::{self, Empty, SessionRequestStatus, VersionId, version_id::ApiVersion};
use atlas_proto::egodriver::{
    DriveRequest, DriveResponse, DriveSessionCloseRequest, DriveSessionRequest, GroundTruthRequest,
    RolloutCameraImage, RolloutEgoTrajectory, RouteRequest,
    egodriver_service_server::EgodriverService,
};
use tonic::{Request, Response, Status};

use crate::Error;
use crate::batch::{BatchSettings, Batcher};
use crate::decode::decode_image;
use crate::geometry::Pose;
use crate::observation::CameraFrame;
use crate::policy::{MAX_PLAN_HORIZON_US, Plan, Policy};
use crate::session::{Session, SessionInfo, Sessions};
use crate::wire::{self, Revision};

/// The egodriver server state: the policy, its batcher and the open
/// sessions.
#[derive(Debug)]
pub struct Driver {
    policy: Arc<dyn Policy>,
    batcher: Batcher,
    sessions: Sessions,
    version_id: String,
}

impl Driver {
    /// A driver planning with `policy` through a batcher with `batch`
    /// settings (which starts its inference threads).
    pub fn new(
        policy: Arc<dyn Policy>,
        max_sessions: usize,
        batch: BatchSettings,
    ) -> Result<Self, Error> {
        let version_id = format!("atlas-vla-{}-{}", policy.name(), env!("CARGO_PKG_VERSION"));
        Ok(Self {
            batcher: Batcher::new(policy.clone(), batch)?,
            policy,
            sessions: Sessions::new(max_sessions),
            version_id,
        })
    }

    /// The batcher (settings, counters).
    pub fn batcher(&self) -> &Batcher {
        &self.batcher
    }

    /// Number of open sessions.
    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    fn inner_get_version(&self) -> VersionId {
        let (major, minor, patch) = atlas_proto::EGODRIVER_API_VERSION;
        VersionId {
            version_id: self.version_id.clone(),
            git_hash: option_env!("ATLAS_GIT_HASH")
                .unwrap_or_default()
                .to_string(),
            grpc_api_version: Some(ApiVersion {
                major,
                minor,
                patch,
            }),
        }
    }

    fn inner_start_session(&self, request: Request<DriveSessionRequest>) -> Result<(), Error> {
        let revision = Revision::from_metadata(request.metadata())?;
        let req = request.into_inner();
        if req.session_uuid.is_empty() {
            return Err(Error::invalid("session_uuid is empty"));
        }
        let declared = req
            .rollout_spec
            .as_ref()
            .and_then(|r| r.vehicle.as_ref())
            .map(|v| v.available_cameras.as_slice())
            .unwrap_or_default();
        let cameras = wire::cameras(declared, revision)?;
        self.policy.accept_session(&cameras)?;
        let info = SessionInfo {
            uuid: req.session_uuid,
            random_seed: req.random_seed,
            scene_id: req.debug_info.map(|d| d.scene_id),
            cameras: cameras.into(),
        };
        let session = self.sessions.insert(Session::new(
            info,
            self.policy.ego_history(),
            self.policy.frames_per_camera(),
        ))?;
        tracing::info!(
            scene = session.info.scene_id.as_deref().unwrap_or(""),
            cameras = ?session.info.cameras.iter().map(|c| c.logical_id.as_str()).collect::<Vec<_>>(),
            ?revision,
            open = self.sessions.len(),
            "session started"
        );
        Ok(())
    }

    fn inner_close_session(&self, req: DriveSessionCloseRequest) {
        match self.sessions.remove(&req.session_uuid) {
            Some(s) => tracing::info!(drives = s.drives(), "session closed"),
            None => tracing::warn!("close_session for an unknown session"),
        }
    }

    async fn inner_submit_image(&self, req: RolloutCameraImage) -> Result<(), Error> {
        let session = self.sessions.get(&req.session_uuid)?;
        let image = req
            .camera_image
            .ok_or_else(|| Error::invalid("camera_image is missing"))?;
        if session.camera(&image.logical_id).is_none() {
            let known: Vec<&str> = session
                .info
                .cameras
                .iter()
                .map(|c| c.logical_id.as_str())
                .collect();
            return Err(Error::invalid(format!(
                "camera {:?} was not declared in start_session (declared: {known:?})",
                image.logical_id
            )));
        }
        let bytes = image.image_bytes;
        let (encoding, rgb) = tokio::task::spawn_blocking(move || decode_image(&bytes))
            .await?
            .map_err(|e| Error::invalid(format!("camera {:?}: {e}", image.logical_id)))?;
        tracing::debug!(
            camera = image.logical_id,
            frame_end_us = image.frame_end_us,
            width = rgb.width(),
            height = rgb.height(),
            "frame"
        );
        session.add_frame(CameraFrame {
            logical_id: image.logical_id,
            frame_start_us: image.frame_start_us,
            frame_end_us: image.frame_end_us,
            encoding,
            image: Arc::new(rgb),
        });
        Ok(())
    }

    fn inner_submit_egomotion(&self, req: RolloutEgoTrajectory) -> Result<(), Error> {
        let session = self.sessions.get(&req.session_uuid)?;
        let samples = wire::egomotion(&req)?;
        let offered = samples.len();
        let added = session.add_egomotion(samples);
        if added < offered {
            tracing::debug!(
                offered,
                added,
                "skipped egomotion poses at or before the latest held"
            );
        }
        Ok(())
    }

    fn inner_submit_route(&self, req: RouteRequest) -> Result<(), Error> {
        let session = self.sessions.get(&req.session_uuid)?;
        session.set_route(wire::route(req.route.as_ref())?);
        Ok(())
    }

    fn inner_submit_ground_truth(&self, req: GroundTruthRequest) -> Result<(), Error> {
        let session = self.sessions.get(&req.session_uuid)?;
        session.set_ground_truth(wire::ground_truth(req.ground_truth.as_ref())?);
        Ok(())
    }

    async fn inner_drive(&self, req: DriveRequest) -> Result<DriveResponse, Error> {
        let session = self.sessions.get(&req.session_uuid)?;
        let (now, query) = (req.time_now_us, req.time_query_us);
        if query.saturating_sub(now) > MAX_PLAN_HORIZON_US {
            return Err(Error::invalid(format!(
                "time_query_us {query} lies more than {} s after time_now_us {now}",
                MAX_PLAN_HORIZON_US / 1_000_000
            )));
        }
        let Some(obs) = session.snapshot(now, query, req.renderer_data) else {
            tracing::debug!("drive before the first egomotion; empty plan");
            return Ok(DriveResponse {
                trajectory: Some(common::Trajectory::default()),
                ..DriveResponse::default()
            });
        };
        let anchor = obs.current().map(|s| s.pose).unwrap_or_default();
        let plan = self.batcher.plan(obs).await?;
        let terminate_session = plan.terminate_session;
        let trajectory = plan_to_trajectory(anchor, now, query, plan)?;
        Ok(DriveResponse {
            trajectory: Some(trajectory),
            debug_info: None,
            terminate_session,
        })
    }
}

/// The contract's trajectory: the current pose stamped `now`, then the
/// plan. Plan poses at or before `now` are dropped (the anchor covers that
/// instant); the rest must be finite, strictly increasing and reach `query`.
/// An empty plan stays empty ("no plan yet").
pub fn plan_to_trajectory(
    anchor: Pose,
    now: u64,
    query: u64,
    plan: Plan,
) -> Result<common::Trajectory, Error> {
    if plan.poses.is_empty() {
        return Ok(common::Trajectory::default());
    }
    let mut poses = Vec::with_capacity(plan.poses.len() + 1);
    poses.push(common::PoseAtTime {
        pose: Some(anchor.to_wire()),
        timestamp_us: now,
    });
    let mut last = now;
    for p in plan.poses.into_iter().filter(|p| p.timestamp_us > now) {
        if p.timestamp_us <= last {
            return Err(Error::BadPlan(format!(
                "timestamp {} does not increase (previous {last})",
                p.timestamp_us
            )));
        }
        let t = p.pose.translation;
        if !t.is_finite() {
            return Err(Error::BadPlan(format!(
                "non-finite position at {} µs",
                p.timestamp_us
            )));
        }
        let q = p.pose.rotation;
        let rotation = crate::geometry::Quat::normalized(q.w, q.x, q.y, q.z)
            .map_err(|e| Error::BadPlan(format!("at {} µs: {e}", p.timestamp_us)))?;
        poses.push(common::PoseAtTime {
            pose: Some(Pose::new(t, rotation).to_wire()),
            timestamp_us: p.timestamp_us,
        });
        last = p.timestamp_us;
    }
    if poses.len() < 2 || last < query {
        return Err(Error::BadPlan(format!(
            "plan ends at {last} µs, before the queried {query} µs"
        )));
    }
    Ok(common::Trajectory { poses })
}

#[tonic::async_trait]
impl EgodriverService for Driver {
    #[tracing::instrument(skip_all, fields(session = %request.get_ref().session_uuid), err(level = "warn"))]
    async fn start_session(
        &self,
        request: Request<DriveSessionRequest>,
    ) -> Result<Response<SessionRequestStatus>, Status> {
        self.inner_start_session(request)?;
        Ok(Response::new(SessionRequestStatus {}))
    }

    #[tracing::instrument(skip_all, fields(session = %request.get_ref().session_uuid))]
    async fn close_session(
        &self,
        request: Request<DriveSessionCloseRequest>,
    ) -> Result<Response<Empty>, Status> {
        self.inner_close_session(request.into_inner());
        Ok(Response::new(Empty {}))
    }

    #[tracing::instrument(skip_all, fields(session = %request.get_ref().session_uuid), err(level = "warn"))]
    async fn submit_image_observation(
        &self,
        request: Request<RolloutCameraImage>,
    ) -> Result<Response<Empty>, Status> {
        self.inner_submit_image(request.into_inner()).await?;
        Ok(Response::new(Empty {}))
    }

    #[tracing::instrument(skip_all, fields(session = %request.get_ref().session_uuid), err(level = "warn"))]
    async fn submit_egomotion_observation(
        &self,
        request: Request<RolloutEgoTrajectory>,
    ) -> Result<Response<Empty>, Status> {
        self.inner_submit_egomotion(request.into_inner())?;
        Ok(Response::new(Empty {}))
    }

    #[tracing::instrument(skip_all, fields(session = %request.get_ref().session_uuid), err(level = "warn"))]
    async fn submit_route(
        &self,
        request: Request<RouteRequest>,
    ) -> Result<Response<Empty>, Status> {
        self.inner_submit_route(request.into_inner())?;
        Ok(Response::new(Empty {}))
    }

    #[tracing::instrument(skip_all, fields(session = %request.get_ref().session_uuid), err(level = "warn"))]
    async fn submit_recording_ground_truth(
        &self,
        request: Request<GroundTruthRequest>,
    ) -> Result<Response<Empty>, Status> {
        self.inner_submit_ground_truth(request.into_inner())?;
        Ok(Response::new(Empty {}))
    }

    #[tracing::instrument(
        skip_all,
        fields(session = %request.get_ref().session_uuid, now = request.get_ref().time_now_us),
        err(level = "warn")
    )]
    async fn drive(
        &self,
        request: Request<DriveRequest>,
    ) -> Result<Response<DriveResponse>, Status> {
        Ok(Response::new(self.inner_drive(request.into_inner()).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_version(&self, _request: Request<Empty>) -> Result<Response<VersionId>, Status> {
        let mut response = Response::new(self.inner_get_version());
        // Sent as initial metadata (response headers), where
        // carla-driver-interface looks for it; trailers would not count.
        response.metadata_mut().insert(
            atlas_proto::CONTRACT_REVISION_HEADER,
            tonic::metadata::MetadataValue::from_static(atlas_proto::CONTRACT_REVISION),
        );
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Vec3;
    use crate::policy::PlannedPose;

    fn planned(t: u64, x: f64) -> PlannedPose {
        PlannedPose {
            timestamp_us: t,
            pose: Pose::from_xyz_yaw(x, 0.0, 0.0, 0.0),
        }
    }

    fn plan(poses: Vec<PlannedPose>) -> Plan {
        Plan {
            poses,
            terminate_session: false,
        }
    }

    #[test]
    fn anchor_first_then_future_poses() {
        let anchor = Pose::from_xyz_yaw(1.0, 2.0, 3.0, 0.5);
        let t = plan_to_trajectory(
            anchor,
            1000,
            1100,
            plan(vec![
                planned(1000, 9.0),
                planned(1100, 1.0),
                planned(1200, 2.0),
            ]),
        )
        .unwrap();
        let times: Vec<u64> = t.poses.iter().map(|p| p.timestamp_us).collect();
        assert_eq!(times, vec![1000, 1100, 1200]);
        assert_eq!(t.poses[0].pose.unwrap().vec.unwrap().x, 1.0);
    }

    #[test]
    fn refuses_bad_plans() {
        let a = Pose::IDENTITY;
        assert!(
            plan_to_trajectory(a, 0, 300, plan(vec![planned(100, 0.0), planned(200, 0.0)]))
                .is_err()
        );
        assert!(
            plan_to_trajectory(a, 0, 100, plan(vec![planned(200, 0.0), planned(100, 0.0)]))
                .is_err()
        );
        assert!(plan_to_trajectory(a, 0, 100, plan(vec![planned(100, f64::NAN)])).is_err());
        let mut p = planned(100, 0.0);
        p.pose.translation = Vec3::new(0.0, f64::INFINITY, 0.0);
        assert!(plan_to_trajectory(a, 0, 100, plan(vec![p])).is_err());
        assert!(plan_to_trajectory(a, 500, 600, plan(vec![planned(400, 0.0)])).is_err());
        // An empty plan is "not ready", not an error.
        assert!(
            plan_to_trajectory(a, 0, 100, plan(vec![]))
                .unwrap()
                .poses
                .is_empty()
        );
    }
}
