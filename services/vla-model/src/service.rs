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
use crate::observation::CameraFrame;
use crate::policy::{MAX_PLAN_HORIZON_US, Policy};
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
        let trajectory = wire::plan_to_trajectory(anchor, now, query, plan)?;
        Ok(DriveResponse {
            trajectory: Some(trajectory),
            debug_info: None,
            terminate_session,
        })
    }
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
