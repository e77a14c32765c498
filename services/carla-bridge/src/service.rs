//! The `atlas.sim.v1.Simulator` service over the built-in simulator.
//!
//! Worlds live in a table of world id → world, each behind its own mutex so
//! independent worlds step in parallel. The table lock is only held to look
//! a world up or to add or remove one; a world's lock is only taken on a
//! blocking-pool thread (`spawn_blocking`), never on the async runtime,
//! because stepping, rendering and encoding are CPU work.
//!
//! Each RPC is a thin wrapper over an `inner_*` function returning
//! [`BridgeError`], which maps to a gRPC status in one place.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use atlas_proto::sim as pb;
use atlas_proto::sim::simulator_server::Simulator;
use atlas_sim::{
    ActorSpec, BirdsEyeSpec, CameraSpec, Encoding, Map, Placement, SensorId, SensorSpec, Vec2,
    VehicleControl, World,
};
use tonic::{Request, Response, Status};

use crate::convert::*;
use crate::error::BridgeError;
use crate::maps::MapStore;

/// Default fixed step, seconds (20 Hz).
pub const DEFAULT_DT: f64 = 0.05;
/// Default route spacing, metres.
pub const DEFAULT_SPACING: f64 = 1.0;
/// Default bird's-eye scale, metres per pixel.
pub const DEFAULT_BEV_SCALE: f64 = 0.2;

/// Limits the service enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_worlds: usize,
    pub max_actors: usize,
    pub max_steps_per_call: u32,
}

/// Snapshots kept per world.
pub const MAX_SNAPSHOTS: usize = 64;

#[derive(Clone)]
struct Saved {
    world: World,
    encodings: BTreeMap<SensorId, (Encoding, pb::ImageEncoding)>,
}

struct WorldState {
    world: World,
    encodings: BTreeMap<SensorId, (Encoding, pb::ImageEncoding)>,
    snapshots: BTreeMap<String, Saved>,
    next_snapshot: u64,
}

impl WorldState {
    fn new(world: World) -> Self {
        Self {
            world,
            encodings: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            next_snapshot: 1,
        }
    }
}

#[derive(Clone)]
struct WorldEntry {
    map: Arc<Map>,
    label: String,
    state: Arc<Mutex<WorldState>>,
}

/// The simulator service.
pub struct SimulatorService {
    maps: Arc<MapStore>,
    worlds: Mutex<BTreeMap<String, WorldEntry>>,
    limits: Limits,
}

type Reply<T> = Result<Response<T>, Status>;

fn reply<T>(op: &'static str, r: Result<T, BridgeError>) -> Reply<T> {
    match r {
        Ok(v) => Ok(Response::new(v)),
        Err(e) => {
            if e.code() == tonic::Code::Internal {
                tracing::error!(op, error = %e, "request failed");
            } else {
                tracing::debug!(op, error = %e, "request rejected");
            }
            Err(e.into())
        }
    }
}

impl SimulatorService {
    pub fn new(maps: Arc<MapStore>, limits: Limits) -> Self {
        Self {
            maps,
            worlds: Mutex::new(BTreeMap::new()),
            limits,
        }
    }

    fn table(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, WorldEntry>>, BridgeError> {
        self.worlds
            .lock()
            .map_err(|_| BridgeError::Internal("world table lock poisoned".into()))
    }

    fn entry(&self, id: &str) -> Result<WorldEntry, BridgeError> {
        if id.is_empty() {
            return Err(BridgeError::invalid("world_id", "is required"));
        }
        self.table()?
            .get(id)
            .cloned()
            .ok_or_else(|| BridgeError::UnknownWorld(id.to_owned()))
    }

    /// Runs `f` on a world's state on the blocking pool.
    async fn with_world<T, F>(&self, id: &str, f: F) -> Result<T, BridgeError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WorldState) -> Result<T, BridgeError> + Send + 'static,
    {
        let entry = self.entry(id)?;
        tokio::task::spawn_blocking(move || {
            let mut state = entry.state.lock().map_err(|_| {
                BridgeError::Internal("world state lost after an earlier failure".into())
            })?;
            f(&mut state)
        })
        .await?
    }

    /// Number of live worlds.
    pub fn world_count(&self) -> usize {
        self.table().map(|t| t.len()).unwrap_or(0)
    }

    #[tracing::instrument(skip_all, fields(label = %req.label, seed = req.seed))]
    async fn inner_create_world(
        &self,
        req: pb::CreateWorldRequest,
    ) -> Result<pb::CreateWorldResponse, BridgeError> {
        use pb::create_world_request::Map as M;
        let map = match req.map {
            Some(M::MapName(name)) => self.maps.get(&name).await?,
            Some(M::OpendriveXml(xml)) => Arc::new(
                tokio::task::spawn_blocking(move || Map::from_xml(&xml, "opendrive_xml")).await??,
            ),
            None => {
                return Err(BridgeError::invalid(
                    "map",
                    "one of map_name or opendrive_xml is required",
                ));
            }
        };
        let dt = if req.fixed_delta_s == 0.0 {
            DEFAULT_DT
        } else {
            req.fixed_delta_s
        };
        let world = World::new(map.clone(), dt, req.seed)?;
        let id = format!("w-{}", uuid::Uuid::new_v4().simple());
        {
            let mut table = self.table()?;
            if table.len() >= self.limits.max_worlds {
                return Err(BridgeError::Exhausted {
                    what: "worlds",
                    limit: self.limits.max_worlds,
                });
            }
            table.insert(
                id.clone(),
                WorldEntry {
                    map: map.clone(),
                    label: req.label.clone(),
                    state: Arc::new(Mutex::new(WorldState::new(world))),
                },
            );
        }
        tracing::info!(world_id = %id, map = map.name(), label = %req.label, dt, seed = req.seed, "world created");
        Ok(pb::CreateWorldResponse {
            world_id: id,
            map: Some(map_info(&map)),
            fixed_delta_s: dt,
        })
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id))]
    fn inner_destroy_world(
        &self,
        req: pb::DestroyWorldRequest,
    ) -> Result<pb::DestroyWorldResponse, BridgeError> {
        if req.world_id.is_empty() {
            return Err(BridgeError::invalid("world_id", "is required"));
        }
        let removed = self.table()?.remove(&req.world_id);
        match removed {
            Some(e) => {
                tracing::info!(world_id = %req.world_id, label = %e.label, "world destroyed");
                Ok(pb::DestroyWorldResponse {})
            }
            None => Err(BridgeError::UnknownWorld(req.world_id)),
        }
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id, role = %req.role))]
    async fn inner_spawn_actor(
        &self,
        req: pb::SpawnActorRequest,
    ) -> Result<pb::SpawnActorResponse, BridgeError> {
        use pb::spawn_actor_request::Placement as P;
        let kind = kind_in(req.kind)?;
        let placement = match &req.placement {
            Some(P::Pose(p)) => Placement::Pose(pose_in(p, "pose", false)?),
            Some(P::LanePosition(lp)) => Placement::Lane(lane_position_in(lp, "lane_position")?),
            None => {
                return Err(BridgeError::invalid(
                    "placement",
                    "one of pose or lane_position is required",
                ));
            }
        };
        let spec = ActorSpec {
            kind,
            role: req.role.clone(),
            name: req.name.clone(),
            placement,
            speed: finite("speed", req.speed)?,
            dimensions: dimensions_in(req.dimensions.as_ref())?,
            behavior: behavior_in(req.behavior.as_ref(), kind)?,
        };
        let max = self.limits.max_actors;
        self.with_world(&req.world_id, move |st| {
            if st.world.actor_count() >= max {
                return Err(BridgeError::Exhausted {
                    what: "actors per world",
                    limit: max,
                });
            }
            let (id, pose) = st.world.spawn(spec)?;
            Ok(pb::SpawnActorResponse {
                actor_id: id,
                pose: Some(pose_out(&pose)),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id, vehicles = req.vehicles, pedestrians = req.pedestrians))]
    async fn inner_spawn_traffic(
        &self,
        req: pb::SpawnTrafficRequest,
    ) -> Result<pb::SpawnTrafficResponse, BridgeError> {
        let max = self.limits.max_actors;
        self.with_world(&req.world_id, move |st| {
            let want = req.vehicles as usize + req.pedestrians as usize;
            if st.world.actor_count() + want > max {
                return Err(BridgeError::Exhausted {
                    what: "actors per world",
                    limit: max,
                });
            }
            let actor_ids = st
                .world
                .spawn_traffic(req.vehicles, req.pedestrians, req.seed)?;
            Ok(pb::SpawnTrafficResponse { actor_ids })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id))]
    async fn inner_snapshot_world(
        &self,
        req: pb::SnapshotWorldRequest,
    ) -> Result<pb::SnapshotWorldResponse, BridgeError> {
        self.with_world(&req.world_id, move |st| {
            if st.snapshots.len() >= MAX_SNAPSHOTS {
                return Err(BridgeError::Exhausted {
                    what: "snapshots per world",
                    limit: MAX_SNAPSHOTS,
                });
            }
            let id = format!("s-{}", st.next_snapshot);
            st.next_snapshot += 1;
            st.snapshots.insert(
                id.clone(),
                Saved {
                    world: st.world.clone(),
                    encodings: st.encodings.clone(),
                },
            );
            Ok(pb::SnapshotWorldResponse {
                snapshot_id: id,
                frame: st.world.frame(),
                sim_time_s: st.world.time(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id, snapshot_id = %req.snapshot_id))]
    async fn inner_restore_world(
        &self,
        req: pb::RestoreWorldRequest,
    ) -> Result<pb::RestoreWorldResponse, BridgeError> {
        self.with_world(&req.world_id, move |st| {
            let saved = st
                .snapshots
                .get(&req.snapshot_id)
                .ok_or_else(|| BridgeError::UnknownSnapshot(req.snapshot_id.clone()))?
                .clone();
            st.world = saved.world;
            st.encodings = saved.encodings;
            Ok(pb::RestoreWorldResponse {
                frame: st.world.frame(),
                sim_time_s: st.world.time(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id, snapshot_id = %req.snapshot_id))]
    async fn inner_fork_world(
        &self,
        req: pb::ForkWorldRequest,
    ) -> Result<pb::ForkWorldResponse, BridgeError> {
        let source = self.entry(&req.world_id)?;
        let snapshot_id = req.snapshot_id.clone();
        let saved = self
            .with_world(&req.world_id, move |st| {
                st.snapshots
                    .get(&snapshot_id)
                    .cloned()
                    .ok_or(BridgeError::UnknownSnapshot(snapshot_id))
            })
            .await?;
        let (frame, time) = (saved.world.frame(), saved.world.time());
        let label = if req.label.is_empty() {
            source.label.clone()
        } else {
            req.label.clone()
        };
        let id = format!("w-{}", uuid::Uuid::new_v4().simple());
        {
            let mut table = self.table()?;
            if table.len() >= self.limits.max_worlds {
                return Err(BridgeError::Exhausted {
                    what: "worlds",
                    limit: self.limits.max_worlds,
                });
            }
            let mut state = WorldState::new(saved.world);
            state.encodings = saved.encodings;
            table.insert(
                id.clone(),
                WorldEntry {
                    map: source.map.clone(),
                    label: label.clone(),
                    state: Arc::new(Mutex::new(state)),
                },
            );
        }
        tracing::info!(world_id = %id, source = %req.world_id, label = %label, frame, "world forked");
        Ok(pb::ForkWorldResponse {
            world_id: id,
            frame,
            sim_time_s: time,
        })
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id, actor_id = req.actor_id))]
    async fn inner_attach_sensor(
        &self,
        req: pb::AttachSensorRequest,
    ) -> Result<pb::AttachSensorResponse, BridgeError> {
        use pb::attach_sensor_request::Spec;
        let (spec, enc) = match req.spec {
            Some(Spec::Camera(c)) => {
                let mount = match &c.mount {
                    Some(m) => pose_in(m, "camera.mount", true)?,
                    None => atlas_sim::Pose::default(),
                };
                let enc = encoding_in(c.encoding, c.jpeg_quality, "camera")?;
                (
                    SensorSpec::Camera(CameraSpec {
                        width: c.width,
                        height: c.height,
                        fov_deg: c.fov_deg,
                        fx: c.fx,
                        fy: c.fy,
                        cx: c.cx,
                        cy: c.cy,
                        mount,
                    }),
                    enc,
                )
            }
            Some(Spec::BirdsEye(b)) => {
                let enc = encoding_in(b.encoding, 0, "birds_eye")?;
                let scale = if b.metres_per_pixel == 0.0 {
                    DEFAULT_BEV_SCALE
                } else {
                    b.metres_per_pixel
                };
                (
                    SensorSpec::BirdsEye(BirdsEyeSpec {
                        width: b.width,
                        height: b.height,
                        metres_per_pixel: scale,
                    }),
                    enc,
                )
            }
            None => {
                return Err(BridgeError::invalid(
                    "spec",
                    "one of camera or birds_eye is required",
                ));
            }
        };
        let (actor, name) = (req.actor_id, req.name);
        self.with_world(&req.world_id, move |st| {
            let id = st.world.attach_sensor(actor, &name, spec)?;
            st.encodings.insert(id, enc);
            Ok(pb::AttachSensorResponse { sensor_id: id })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id, steps = req.steps, render = req.render))]
    async fn inner_step(&self, req: pb::StepRequest) -> Result<pb::StepResponse, BridgeError> {
        let steps = req.steps.max(1);
        if steps > self.limits.max_steps_per_call {
            return Err(BridgeError::invalid(
                "steps",
                format!(
                    "{steps} exceeds the limit of {} per call",
                    self.limits.max_steps_per_call
                ),
            ));
        }
        let mut commands = Vec::with_capacity(req.commands.len());
        let mut states = Vec::new();
        for (i, c) in req.commands.iter().enumerate() {
            match (&c.control, &c.state) {
                (Some(ctl), None) => {
                    let ctl = VehicleControl {
                        throttle: finite(&format!("commands[{i}].control.throttle"), ctl.throttle)?,
                        brake: finite(&format!("commands[{i}].control.brake"), ctl.brake)?,
                        steer: finite(&format!("commands[{i}].control.steer"), ctl.steer)?,
                    };
                    commands.push((c.actor_id, ctl));
                }
                (None, Some(st)) => {
                    let field = format!("commands[{i}].state");
                    let pose = st.pose.as_ref().ok_or_else(|| {
                        BridgeError::invalid(format!("{field}.pose"), "is required")
                    })?;
                    let pose = pose_in(pose, &format!("{field}.pose"), false)?;
                    let speed = finite(&format!("{field}.speed"), st.speed)?;
                    let accel = finite(&format!("{field}.acceleration"), st.acceleration)?;
                    states.push((c.actor_id, pose, speed, accel));
                }
                (Some(_), Some(_)) => {
                    return Err(BridgeError::invalid(
                        format!("commands[{i}]"),
                        "give control or state, not both",
                    ));
                }
                (None, None) => {
                    return Err(BridgeError::invalid(
                        format!("commands[{i}].control"),
                        "is required (or state, for a scripted actor)",
                    ));
                }
            }
        }
        let world_id = req.world_id.clone();
        let render = req.render;
        self.with_world(&req.world_id, move |st| {
            // Check every command before changing anything.
            for &(id, c) in &commands {
                st.world.check_control(id, c)?;
            }
            for (id, pose, speed, accel) in &states {
                st.world.check_state(*id, pose, *speed, *accel)?;
            }
            for &(id, c) in &commands {
                st.world.set_control(id, c)?;
            }
            for &(id, pose, speed, accel) in &states {
                st.world.set_state(id, pose, speed, accel)?;
            }
            for _ in 0..steps {
                st.world.step();
            }
            let snap = st.world.snapshot();
            let mut frames = Vec::new();
            if render {
                for f in st.world.render_all() {
                    let (enc, pb_enc) = st
                        .encodings
                        .get(&f.sensor)
                        .copied()
                        .unwrap_or((Encoding::Jpeg { quality: 90 }, pb::ImageEncoding::Jpeg));
                    let data = atlas_sim::encode(&f.image, enc)?;
                    frames.push(pb::SensorFrame {
                        sensor_id: f.sensor,
                        name: f.name,
                        actor_id: f.actor,
                        frame: f.frame,
                        sim_time_s: f.time,
                        width: f.image.width,
                        height: f.image.height,
                        encoding: pb_enc as i32,
                        data,
                    });
                }
            }
            Ok(pb::StepResponse {
                snapshot: Some(pb::Snapshot {
                    world_id,
                    frame: snap.frame,
                    sim_time_s: snap.time,
                    actors: snap.actors.iter().map(actor_out).collect(),
                    events: snap.events.iter().map(event_out).collect(),
                    frames,
                    traffic_lights: snap.signals.iter().map(signal_out).collect(),
                }),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id))]
    async fn inner_plan_route(
        &self,
        req: pb::PlanRouteRequest,
    ) -> Result<pb::PlanRouteResponse, BridgeError> {
        let map = self.entry(&req.world_id)?.map;
        let spacing = if req.spacing == 0.0 {
            DEFAULT_SPACING
        } else {
            req.spacing
        };
        if !spacing.is_finite() || !(0.05..=100.0).contains(&spacing) {
            return Err(BridgeError::invalid(
                "spacing",
                format!("must be between 0.05 and 100 metres, got {spacing}"),
            ));
        }
        let mut points = Vec::with_capacity(req.waypoints.len());
        for (i, w) in req.waypoints.iter().enumerate() {
            points.push(Vec2::new(
                finite(&format!("waypoints[{i}].x"), w.x)?,
                finite(&format!("waypoints[{i}].y"), w.y)?,
            ));
        }
        let route = tokio::task::spawn_blocking(move || map.plan_route(&points, spacing)).await??;
        Ok(pb::PlanRouteResponse {
            points: route.points.iter().map(|p| vec3(*p)).collect(),
            length: route.length,
        })
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id))]
    fn inner_lane_pose(
        &self,
        req: pb::LanePoseRequest,
    ) -> Result<pb::LanePoseResponse, BridgeError> {
        let map = self.entry(&req.world_id)?.map;
        let Some(lp) = &req.lane_position else {
            return Err(BridgeError::invalid("lane_position", "is required"));
        };
        let lp = lane_position_in(lp, "lane_position")?;
        let pose = map.lane_pose(&lp)?;
        Ok(pb::LanePoseResponse {
            pose: Some(pose_out(&pose)),
        })
    }
}

#[tonic::async_trait]
impl Simulator for SimulatorService {
    async fn create_world(
        &self,
        r: Request<pb::CreateWorldRequest>,
    ) -> Reply<pb::CreateWorldResponse> {
        reply("CreateWorld", self.inner_create_world(r.into_inner()).await)
    }

    async fn destroy_world(
        &self,
        r: Request<pb::DestroyWorldRequest>,
    ) -> Reply<pb::DestroyWorldResponse> {
        reply("DestroyWorld", self.inner_destroy_world(r.into_inner()))
    }

    async fn list_maps(&self, _: Request<pb::ListMapsRequest>) -> Reply<pb::ListMapsResponse> {
        reply(
            "ListMaps",
            Ok(pb::ListMapsResponse {
                names: self.maps.names(),
            }),
        )
    }

    async fn spawn_actor(
        &self,
        r: Request<pb::SpawnActorRequest>,
    ) -> Reply<pb::SpawnActorResponse> {
        reply("SpawnActor", self.inner_spawn_actor(r.into_inner()).await)
    }

    async fn attach_sensor(
        &self,
        r: Request<pb::AttachSensorRequest>,
    ) -> Reply<pb::AttachSensorResponse> {
        reply(
            "AttachSensor",
            self.inner_attach_sensor(r.into_inner()).await,
        )
    }

    async fn step(&self, r: Request<pb::StepRequest>) -> Reply<pb::StepResponse> {
        reply("Step", self.inner_step(r.into_inner()).await)
    }

    async fn plan_route(&self, r: Request<pb::PlanRouteRequest>) -> Reply<pb::PlanRouteResponse> {
        reply("PlanRoute", self.inner_plan_route(r.into_inner()).await)
    }

    async fn lane_pose(&self, r: Request<pb::LanePoseRequest>) -> Reply<pb::LanePoseResponse> {
        reply("LanePose", self.inner_lane_pose(r.into_inner()))
    }

    async fn spawn_traffic(
        &self,
        r: Request<pb::SpawnTrafficRequest>,
    ) -> Reply<pb::SpawnTrafficResponse> {
        reply(
            "SpawnTraffic",
            self.inner_spawn_traffic(r.into_inner()).await,
        )
    }

    async fn snapshot_world(
        &self,
        r: Request<pb::SnapshotWorldRequest>,
    ) -> Reply<pb::SnapshotWorldResponse> {
        reply(
            "SnapshotWorld",
            self.inner_snapshot_world(r.into_inner()).await,
        )
    }

    async fn restore_world(
        &self,
        r: Request<pb::RestoreWorldRequest>,
    ) -> Reply<pb::RestoreWorldResponse> {
        reply(
            "RestoreWorld",
            self.inner_restore_world(r.into_inner()).await,
        )
    }

    async fn fork_world(&self, r: Request<pb::ForkWorldRequest>) -> Reply<pb::ForkWorldResponse> {
        reply("ForkWorld", self.inner_fork_world(r.into_inner()).await)
    }

    async fn destroy_actor(
        &self,
        r: Request<pb::DestroyActorRequest>,
    ) -> Reply<pb::DestroyActorResponse> {
        let req = r.into_inner();
        let id = req.actor_id;
        reply(
            "DestroyActor",
            self.with_world(&req.world_id, move |st| {
                st.world.destroy(id)?;
                Ok(pb::DestroyActorResponse {})
            })
            .await,
        )
    }
}
