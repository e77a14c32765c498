//! The driver port over gRPC: a session on an egodriver policy (AlpaSim's
//! driver contract) and the controller that follows its plans.
//!
//! Per control step: the camera frames (`submit_image_observation`), the
//! ego's pose and dynamics in the rig axes (`submit_egomotion_observation`)
//! and the next 80 m of route as 20 points in the rig frame, NaN-padded
//! (`submit_route`), concurrently; then `drive`; the trajectory it returns
//! is followed by pure pursuit and a speed PID ([`Controller`]).

use std::time::{Duration, Instant};

use atlas_geometry::{Polyline, Pose2};
use atlas_proto::wire::{PoseWire, optical_mount};
use atlas_proto::{common, egodriver, sensorsim, sim};
use tonic::codegen::InterceptedService;
use tonic::transport::Channel;

use crate::bridge::ego_state;
use crate::camera;
use crate::closed_loop::DriverPort;
use crate::controller::{Control, Controller, ControllerConfig, Plan};
use crate::error::{Error, upstream};

/// An egodriver client that carries the caller's trace context.
pub type DriverClient = egodriver::egodriver_service_client::EgodriverServiceClient<
    InterceptedService<Channel, atlas_rt::trace_context::TraceInterceptor>,
>;

/// An egodriver client on `channel`, with trace context and ATLAS's message size.
pub fn driver_client(channel: Channel) -> DriverClient {
    egodriver::egodriver_service_client::EgodriverServiceClient::with_interceptor(
        channel,
        atlas_rt::trace_context::TraceInterceptor,
    )
    .max_decoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES)
    .max_encoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES)
}

/// The route is sent as 20 points about 4.21 m apart (80 m look-ahead), as AlpaSim does.
pub const ROUTE_POINTS: usize = 20;
pub const ROUTE_SPACING: f64 = 80.0 / 19.0;

/// What the driver is told of the run's route: the route, and how far
/// along it the ego is.
pub trait RouteView {
    fn route(&self) -> &Polyline;
    /// Arc length of the ego's progress, metres.
    fn progress(&self) -> f64;
}

/// Wall time of each phase of the driver's side of a step, when recorded
/// ([`EgodriverPolicy::record_phases`]).
#[derive(Clone, Debug, Default)]
pub struct PhaseTimes {
    /// The step's submits (image, egomotion, route), concurrent.
    pub submit: Vec<Duration>,
    /// `drive`, the policy's inference inside.
    pub drive: Vec<Duration>,
    /// The controller.
    pub control: Vec<Duration>,
}

/// A policy session driving ego `ego_id`.
pub struct EgodriverPolicy {
    client: DriverClient,
    session_uuid: String,
    ego_id: u64,
    controller: Controller,
    control_dt: f64,
    phases: Option<PhaseTimes>,
}

impl EgodriverPolicy {
    /// A policy for session `session_uuid` at one control step every
    /// `control_dt` seconds; the session is opened by [`Self::open`].
    pub fn new(client: DriverClient, session_uuid: &str, control_dt: f64) -> Self {
        Self {
            client,
            session_uuid: session_uuid.into(),
            ego_id: 0,
            controller: Controller::new(ControllerConfig::default()),
            control_dt,
            phases: None,
        }
    }

    pub fn session_uuid(&self) -> &str {
        &self.session_uuid
    }

    /// The actor the policy drives.
    pub fn set_ego(&mut self, ego_id: u64) {
        self.ego_id = ego_id;
    }

    /// Records the wall time of each phase from now on.
    pub fn record_phases(&mut self) {
        self.phases = Some(PhaseTimes::default());
    }

    pub fn phases(&self) -> Option<&PhaseTimes> {
        self.phases.as_ref()
    }

    /// Checks the policy answers and opens the session; `scene` names the
    /// scenario for the policy's logs.
    pub async fn open(&mut self, seed: u64, scene: Option<&str>) -> Result<(), Error> {
        self.client
            .get_version(common::Empty {})
            .await
            .map_err(upstream("driver get_version"))?;
        self.client
            .start_session(session_request(&self.session_uuid, seed, scene))
            .await
            .map_err(upstream("driver start_session"))?;
        Ok(())
    }

    /// Closes the session; a failure is logged (the run is over either way).
    pub async fn close(&mut self) {
        if let Err(e) = self
            .client
            .close_session(egodriver::DriveSessionCloseRequest {
                session_uuid: self.session_uuid.clone(),
            })
            .await
        {
            tracing::warn!(error = %e, "close_session failed");
        }
    }

    async fn submit(
        &mut self,
        now_us: u64,
        here: &Pose2,
        me: &sim::ActorState,
        snap: &sim::Snapshot,
        route: &(impl RouteView + ?Sized),
    ) -> Result<(), Error> {
        let session = self.session_uuid.as_str();
        let images = snap
            .frames
            .iter()
            .filter(|f| f.actor_id == me.actor_id && f.name == camera::LOGICAL_ID)
            .map(|f| egodriver::RolloutCameraImage {
                session_uuid: session.into(),
                camera_image: Some(egodriver::rollout_camera_image::CameraImage {
                    frame_start_us: now_us,
                    frame_end_us: now_us,
                    image_bytes: f.data.clone(),
                    logical_id: f.name.clone(),
                }),
            });
        let ego = egomotion(session, now_us, here, me);
        let route_req = egodriver::RouteRequest {
            session_uuid: session.into(),
            route: Some(egodriver::Route {
                waypoints: route_waypoints(route.route(), route.progress(), here),
                timestamp_us: now_us,
            }),
        };
        // All submits of a step complete before its drive; their order is free.
        let (mut d1, mut d2) = (self.client.clone(), self.client.clone());
        let image_calls = futures::future::try_join_all(images.map(|img| {
            let mut d = self.client.clone();
            async move { d.submit_image_observation(img).await }
        }));
        let (imgs, ego_r, route_r) = tokio::join!(
            image_calls,
            d1.submit_egomotion_observation(ego),
            d2.submit_route(route_req)
        );
        imgs.map_err(upstream("driver submit_image_observation"))?;
        ego_r.map_err(upstream("driver submit_egomotion_observation"))?;
        route_r.map_err(upstream("driver submit_route"))?;
        Ok(())
    }
}

impl<R: RouteView + Sync + ?Sized> DriverPort<sim::Snapshot, R> for EgodriverPolicy {
    type Control = Control;
    type Error = Error;

    /// Submits the step's observations, asks `drive` for a plan and returns
    /// the control that follows it; `None` when the policy ends the session.
    async fn drive(&mut self, snap: &sim::Snapshot, route: &R) -> Result<Option<Control>, Error> {
        let (me, here) = ego_state(snap, self.ego_id)?;
        let now_us = (snap.sim_time_s * 1e6).round() as u64;
        let control_dt_us = (self.control_dt * 1e6).round() as u64;
        let t0 = Instant::now();
        self.submit(now_us, &here, me, snap, route).await?;
        let t1 = Instant::now();
        let reply = self
            .client
            .drive(egodriver::DriveRequest {
                session_uuid: self.session_uuid.clone(),
                time_now_us: now_us,
                time_query_us: now_us + control_dt_us,
                renderer_data: Vec::new(),
            })
            .await
            .map_err(upstream("driver drive"))?
            .into_inner();
        let t2 = Instant::now();
        if reply.terminate_session {
            return Ok(None);
        }
        let plan = to_plan(reply.trajectory.as_ref(), now_us);
        let control = self
            .controller
            .control(&here, me.speed, &plan, self.control_dt);
        if let Some(p) = &mut self.phases {
            p.submit.push(t1 - t0);
            p.drive.push(t2 - t1);
            p.control.push(t2.elapsed());
        }
        Ok(Some(control))
    }
}

/// The request that opens policy session `session_uuid`, declaring the
/// runtime's camera; `scene` names the scenario for the policy's logs.
pub fn session_request(
    session_uuid: &str,
    seed: u64,
    scene: Option<&str>,
) -> tonic::Request<egodriver::DriveSessionRequest> {
    let mut start = tonic::Request::new(egodriver::DriveSessionRequest {
        session_uuid: session_uuid.into(),
        random_seed: seed,
        debug_info: scene
            .map(|s| egodriver::drive_session_request::DebugInfo { scene_id: s.into() }),
        rollout_spec: Some(egodriver::drive_session_request::RolloutSpec {
            vehicle: Some(
                egodriver::drive_session_request::rollout_spec::VehicleDefinition {
                    available_cameras: vec![declared_camera()],
                },
            ),
        }),
    });
    start.metadata_mut().insert(
        atlas_proto::CONTRACT_REVISION_HEADER,
        tonic::metadata::MetadataValue::from_static(atlas_proto::CONTRACT_REVISION),
    );
    start
}

/// The camera as the runtime declares it to the policy in its session.
pub fn declared_camera() -> sensorsim::available_cameras_return::AvailableCamera {
    let (mx, my, mz) = camera::MOUNT;
    sensorsim::available_cameras_return::AvailableCamera {
        intrinsics: Some(sensorsim::CameraSpec {
            camera_param: Some(sensorsim::camera_spec::CameraParam::OpencvPinholeParam(
                sensorsim::OpenCvPinholeCameraParam {
                    principal_point_x: camera::WIDTH as f64 / 2.0,
                    principal_point_y: camera::HEIGHT as f64 / 2.0,
                    focal_length_x: camera::focal(),
                    focal_length_y: camera::focal(),
                    ..Default::default()
                },
            )),
            logical_id: camera::LOGICAL_ID.into(),
            resolution_h: camera::HEIGHT,
            resolution_w: camera::WIDTH,
            shutter_type: sensorsim::ShutterType::Global as i32,
            ..Default::default()
        }),
        rig_to_camera: Some(optical_mount(mx, my, mz, 0.0)),
        logical_id: camera::LOGICAL_ID.into(),
    }
}

/// The ego's egomotion observation at `now_us`: its pose, and its dynamics
/// resolved in the rig axes.
pub fn egomotion(
    session_uuid: &str,
    now_us: u64,
    here: &Pose2,
    me: &sim::ActorState,
) -> egodriver::RolloutEgoTrajectory {
    let v = me.velocity.unwrap_or_default();
    let a = me.acceleration.unwrap_or_default();
    let (s, c) = here.yaw.sin_cos();
    let rig = |x: f64, y: f64, z: f64| common::Vec3 {
        x: (c * x + s * y) as f32,
        y: (-s * x + c * y) as f32,
        z: z as f32,
    };
    egodriver::RolloutEgoTrajectory {
        session_uuid: session_uuid.into(),
        trajectory: Some(common::Trajectory {
            poses: vec![common::PoseAtTime {
                pose: Some(here.to_wire()),
                timestamp_us: now_us,
            }],
        }),
        dynamic_states: vec![common::DynamicState {
            angular_velocity: Some(common::Vec3 {
                x: 0.0,
                y: 0.0,
                z: me.yaw_rate as f32,
            }),
            linear_velocity: Some(rig(v.x, v.y, v.z)),
            linear_acceleration: Some(rig(a.x, a.y, a.z)),
            angular_acceleration: Some(common::Vec3::default()),
        }],
    }
}

/// The route's next [`ROUTE_POINTS`] points from arc length `s0`,
/// [`ROUTE_SPACING`] apart, in the frame of `here`; NaN past the route's end.
pub fn route_waypoints(route: &Polyline, s0: f64, here: &Pose2) -> Vec<common::Vec3> {
    (0..ROUTE_POINTS)
        .map(|k| {
            let s = s0 + k as f64 * ROUTE_SPACING;
            if s > route.length() + 1e-6 {
                return common::Vec3 {
                    x: f32::NAN,
                    y: f32::NAN,
                    z: f32::NAN,
                };
            }
            let (wx, wy) = route.point_at(s);
            let (lx, ly) = here.to_local(wx, wy);
            common::Vec3 {
                x: lx as f32,
                y: ly as f32,
                z: 0.0,
            }
        })
        .collect()
}

/// The policy's trajectory as a plan: poses with their time after `now_us`, seconds.
pub fn to_plan(traj: Option<&common::Trajectory>, now_us: u64) -> Plan {
    let poses = traj
        .map(|t| {
            t.poses
                .iter()
                .filter_map(|p| {
                    let pose = Pose2::from_wire(p.pose.as_ref()?)?;
                    let dt = (p.timestamp_us as f64 - now_us as f64) / 1e6;
                    Some((dt, pose))
                })
                .collect()
        })
        .unwrap_or_default();
    Plan { poses }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_points_are_in_the_rig_frame_and_nan_past_the_end() {
        let route = Polyline::new([(0.0, 0.0), (50.0, 0.0)]).unwrap();
        let here = Pose2::planar(10.0, 0.0, std::f64::consts::FRAC_PI_2);
        let pts = route_waypoints(&route, 10.0, &here);
        assert_eq!(pts.len(), ROUTE_POINTS);
        // Facing +y, the route ahead along +x is to the ego's right.
        assert!(pts[0].x.abs() < 1e-6 && pts[0].y.abs() < 1e-6);
        assert!(
            (pts[1].y + ROUTE_SPACING as f32).abs() < 1e-4,
            "{:?}",
            pts[1]
        );
        // 10 + 9 × 4.21 = 47.9 m is on the route; 52.1 m is not.
        assert!(pts[9].x.is_finite() && pts[10].x.is_nan());
    }

    #[test]
    fn plans_are_timed_from_now_and_drop_bad_poses() {
        let ok = Pose2::planar(1.0, 2.0, 0.3).to_wire();
        let bad = common::Pose {
            vec: Some(common::Vec3 {
                x: f32::NAN,
                y: 0.0,
                z: 0.0,
            }),
            quat: None,
        };
        let traj = common::Trajectory {
            poses: vec![
                common::PoseAtTime {
                    pose: Some(ok),
                    timestamp_us: 1_100_000,
                },
                common::PoseAtTime {
                    pose: Some(bad),
                    timestamp_us: 1_200_000,
                },
            ],
        };
        let plan = to_plan(Some(&traj), 1_000_000);
        assert_eq!(plan.poses.len(), 1);
        assert!((plan.poses[0].0 - 0.1).abs() < 1e-9);
        assert!(to_plan(None, 0).poses.is_empty());
    }
}
