//! The world port over gRPC: one world on an `atlas.sim.v1` bridge.

use atlas_geometry::Pose2;
use atlas_proto::sim;
use tonic::codegen::InterceptedService;
use tonic::transport::Channel;

use crate::camera;
use crate::closed_loop::WorldPort;
use crate::controller::Control;
use crate::error::{Error, upstream};

/// A bridge client that carries the caller's trace context.
pub type SimClient = sim::simulator_client::SimulatorClient<
    InterceptedService<Channel, atlas_rt::trace_context::TraceInterceptor>,
>;

/// A bridge client on `channel`, with trace context and ATLAS's message size.
pub fn sim_client(channel: Channel) -> SimClient {
    sim::simulator_client::SimulatorClient::with_interceptor(
        channel,
        atlas_rt::trace_context::TraceInterceptor,
    )
    .max_decoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES)
    .max_encoding_message_size(atlas_rt::serve::MAX_MESSAGE_BYTES)
}

/// One world on a bridge: what a run creates, populates, steps and
/// destroys.
pub struct BridgeWorld {
    client: SimClient,
    created: sim::CreateWorldResponse,
}

impl BridgeWorld {
    /// Creates a world of `map` at `1 / fixed_delta_s` Hz; `what` names the
    /// run's file for the error.
    pub async fn create(
        mut client: SimClient,
        map: sim::create_world_request::Map,
        fixed_delta_s: f64,
        seed: u64,
        label: &str,
        what: &str,
    ) -> Result<Self, Error> {
        let created = client
            .create_world(sim::CreateWorldRequest {
                map: Some(map),
                fixed_delta_s,
                seed,
                label: label.into(),
            })
            .await
            .map_err(upstream(format!("bridge CreateWorld for {what}")))?
            .into_inner();
        Ok(Self { client, created })
    }

    pub fn id(&self) -> &str {
        &self.created.world_id
    }

    /// The map's name as the bridge reports it.
    pub fn map_name(&self) -> String {
        self.created
            .map
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default()
    }

    /// Spawns an actor (the request's world id is filled in); `what` names
    /// it for the error.
    pub async fn spawn(
        &mut self,
        mut req: sim::SpawnActorRequest,
        what: impl Into<String>,
    ) -> Result<sim::SpawnActorResponse, Error> {
        req.world_id = self.id().into();
        Ok(self
            .client
            .spawn_actor(req)
            .await
            .map_err(upstream(what))?
            .into_inner())
    }

    /// Removes actor `actor_id`.
    pub async fn destroy_actor(
        &mut self,
        actor_id: u64,
        what: impl Into<String>,
    ) -> Result<(), Error> {
        let world_id = self.id().into();
        self.client
            .destroy_actor(sim::DestroyActorRequest { world_id, actor_id })
            .await
            .map_err(upstream(what))?;
        Ok(())
    }

    /// The world pose of a lane position.
    pub async fn lane_pose(
        &mut self,
        lane_position: sim::LanePosition,
        what: impl Into<String>,
    ) -> Result<sim::Pose, Error> {
        let world_id = self.id().into();
        Ok(self
            .client
            .lane_pose(sim::LanePoseRequest {
                world_id,
                lane_position: Some(lane_position),
            })
            .await
            .map_err(upstream(what))?
            .into_inner()
            .pose
            .unwrap_or_default())
    }

    /// A route through `waypoints` over the map's lanes, as points
    /// `spacing` metres apart.
    pub async fn plan_route(
        &mut self,
        waypoints: Vec<sim::Vec3>,
        spacing: f64,
        what: impl Into<String>,
    ) -> Result<Vec<sim::Vec3>, Error> {
        let world_id = self.id().into();
        Ok(self
            .client
            .plan_route(sim::PlanRouteRequest {
                world_id,
                waypoints,
                spacing,
            })
            .await
            .map_err(upstream(what))?
            .into_inner()
            .points)
    }

    /// Background traffic drawn from `seed`.
    pub async fn spawn_traffic(
        &mut self,
        vehicles: u32,
        pedestrians: u32,
        seed: u64,
        what: impl Into<String>,
    ) -> Result<sim::SpawnTrafficResponse, Error> {
        let world_id = self.id().into();
        let r = self
            .client
            .spawn_traffic(sim::SpawnTrafficRequest {
                world_id,
                vehicles,
                pedestrians,
                seed,
            })
            .await
            .map_err(upstream(what))?;
        Ok(r.into_inner())
    }

    /// Attaches the runtime's camera ([`camera::spec`], JPEG at
    /// [`camera::JPEG_QUALITY`]) to actor `actor_id`, named
    /// [`camera::LOGICAL_ID`].
    pub async fn attach_camera(&mut self, actor_id: u64) -> Result<(), Error> {
        let c = camera::spec();
        let m = c.mount;
        let world_id = self.id().into();
        self.client
            .attach_sensor(sim::AttachSensorRequest {
                world_id,
                actor_id,
                name: camera::LOGICAL_ID.into(),
                spec: Some(sim::attach_sensor_request::Spec::Camera(sim::CameraSpec {
                    width: c.width,
                    height: c.height,
                    fov_deg: c.fov_deg,
                    fx: c.fx,
                    fy: c.fy,
                    cx: c.cx,
                    cy: c.cy,
                    mount: Some(sim::Pose {
                        position: Some(sim::Vec3 {
                            x: m.x,
                            y: m.y,
                            z: m.z,
                        }),
                        yaw: m.yaw,
                        pitch: m.pitch,
                        roll: m.roll,
                    }),
                    encoding: sim::ImageEncoding::Jpeg as i32,
                    jpeg_quality: camera::JPEG_QUALITY,
                })),
            })
            .await
            .map_err(upstream("bridge AttachSensor"))?;
        Ok(())
    }

    /// Destroys the world; a failure is logged (the run is over either way).
    pub async fn destroy(mut self) {
        let world_id = self.id().to_owned();
        if let Err(e) = self
            .client
            .destroy_world(sim::DestroyWorldRequest {
                world_id: world_id.clone(),
            })
            .await
        {
            tracing::warn!(error = %e, world = %world_id, "DestroyWorld failed");
        }
    }
}

impl WorldPort for BridgeWorld {
    type Snapshot = sim::Snapshot;
    type Command = sim::ActorCommand;
    type Error = Error;

    async fn step(
        &mut self,
        steps: u32,
        commands: Vec<sim::ActorCommand>,
        render: bool,
    ) -> Result<sim::Snapshot, Error> {
        let world_id = self.id().into();
        Ok(self
            .client
            .step(sim::StepRequest {
                world_id,
                steps,
                commands,
                render,
            })
            .await
            .map_err(upstream("bridge Step"))?
            .into_inner()
            .snapshot
            .unwrap_or_default())
    }
}

/// The command that applies `control` to the ego `actor_id`.
pub fn ego_command(actor_id: u64, control: &Control) -> sim::ActorCommand {
    sim::ActorCommand {
        actor_id,
        control: Some(sim::VehicleControl {
            throttle: control.throttle,
            brake: control.brake,
            steer: control.steer,
        }),
        state: None,
    }
}

/// The ego's state in `snap` and its pose.
pub fn ego_state(snap: &sim::Snapshot, ego_id: u64) -> Result<(&sim::ActorState, Pose2), Error> {
    let me = snap
        .actors
        .iter()
        .find(|a| a.actor_id == ego_id)
        .ok_or_else(|| Error::Invalid("the bridge lost the ego actor".into()))?;
    let pose = me.pose.unwrap_or_default();
    let pos = pose.position.unwrap_or_default();
    Ok((me, Pose2::new(pos.x, pos.y, pos.z, pose.yaw)))
}
