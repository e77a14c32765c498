//! The `atlas.sim.v1.Simulator` service over a simulator [`Backend`].
//!
//! Worlds live in a table of world id → world, each behind its own mutex so
//! independent worlds step in parallel. The table lock is only held to look
//! a world up or to add or remove one; a world's lock is only taken on a
//! blocking-pool thread (`spawn_blocking`), never on the async runtime,
//! because stepping, rendering and encoding are CPU work (or, for a backend
//! on a simulator server, waiting on it). The service owns what is the same
//! for every backend: world ids and labels, the limits, request validation
//! and defaults (`convert`), and the blocking-pool discipline.
//!
//! Each RPC is a thin wrapper over an `inner_*` function returning
//! [`BridgeError`], which maps to a gRPC status in one place.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use atlas_proto::sim as pb;
use atlas_proto::sim::simulator_server::Simulator;
use tonic::{Request, Response, Status};

use crate::backend::{Backend, BackendWorld, RoadNetwork};
use crate::convert::*;
use crate::error::BridgeError;

/// Limits the service enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_worlds: usize,
    pub max_actors: usize,
    pub max_steps_per_call: u32,
}

#[derive(Clone)]
struct WorldEntry {
    roads: Arc<dyn RoadNetwork>,
    label: String,
    world: Arc<Mutex<Box<dyn BackendWorld>>>,
}

/// The simulator service.
pub struct SimulatorService {
    backend: Arc<dyn Backend>,
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

/// Runs blocking backend work on the blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, BridgeError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, BridgeError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await?
}

/// Drops a world on the blocking pool: releasing one may be blocking work
/// (a simulator server destroying its actors).
async fn release<T: Send + 'static>(world: T) {
    if let Err(e) = tokio::task::spawn_blocking(move || drop(world)).await {
        tracing::error!(error = %e, "releasing a world failed");
    }
}

fn new_world_id() -> String {
    format!("w-{}", uuid::Uuid::new_v4().simple())
}

impl SimulatorService {
    pub fn new(backend: Arc<dyn Backend>, limits: Limits) -> Self {
        Self {
            backend,
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

    /// Runs `f` on a world on the blocking pool.
    async fn with_world<T, F>(&self, id: &str, f: F) -> Result<T, BridgeError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn BackendWorld) -> Result<T, BridgeError> + Send + 'static,
    {
        let entry = self.entry(id)?;
        blocking(move || {
            let mut world = entry.world.lock().map_err(|_| {
                BridgeError::Internal("world state lost after an earlier failure".into())
            })?;
            f(&mut **world)
        })
        .await
    }

    /// Adds a world under a new id, unless `max_worlds` are alive (the
    /// refused world is released).
    async fn insert(
        &self,
        world: Box<dyn BackendWorld>,
        label: String,
    ) -> Result<String, BridgeError> {
        let id = new_world_id();
        let entry = WorldEntry {
            roads: world.road_network(),
            label,
            world: Arc::new(Mutex::new(world)),
        };
        let refused = {
            let mut table = self.table()?;
            if table.len() >= self.limits.max_worlds {
                Some(entry)
            } else {
                table.insert(id.clone(), entry);
                None
            }
        };
        match refused {
            None => Ok(id),
            Some(entry) => {
                release(entry).await;
                Err(BridgeError::Exhausted {
                    what: "worlds",
                    limit: self.limits.max_worlds,
                    retry_after: None,
                })
            }
        }
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
        let label = req.label.clone();
        let spec = world_spec_in(req)?;
        let seed = spec.seed;
        let backend = self.backend.clone();
        let world = blocking(move || backend.create_world(spec)).await?;
        let dt = world.fixed_delta_s();
        let map = world.road_network().summary();
        let id = self.insert(world, label.clone()).await?;
        tracing::info!(world_id = %id, map = %map.name, label = %label, dt, seed, "world created");
        Ok(pb::CreateWorldResponse {
            world_id: id,
            map: Some(map_info(&map)),
            fixed_delta_s: dt,
        })
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id))]
    async fn inner_destroy_world(
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
                release(e).await;
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
        let spec = actor_spec_in(&req)?;
        let max = self.limits.max_actors;
        self.with_world(&req.world_id, move |w| {
            if w.actor_count() >= max {
                return Err(BridgeError::Exhausted {
                    what: "actors per world",
                    limit: max,
                    retry_after: None,
                });
            }
            let (id, pose) = w.spawn_actor(spec)?;
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
        self.with_world(&req.world_id, move |w| {
            let want = req.vehicles as usize + req.pedestrians as usize;
            if w.actor_count() + want > max {
                return Err(BridgeError::Exhausted {
                    what: "actors per world",
                    limit: max,
                    retry_after: None,
                });
            }
            let t = w.spawn_traffic(req.vehicles, req.pedestrians, req.seed)?;
            Ok(pb::SpawnTrafficResponse {
                actor_ids: t.ids,
                vehicles_placed: t.vehicles,
                pedestrians_placed: t.pedestrians,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id, actor_id = req.actor_id))]
    async fn inner_destroy_actor(
        &self,
        req: pb::DestroyActorRequest,
    ) -> Result<pb::DestroyActorResponse, BridgeError> {
        let id = req.actor_id;
        self.with_world(&req.world_id, move |w| {
            w.destroy_actor(id)?;
            Ok(pb::DestroyActorResponse {})
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id))]
    async fn inner_snapshot_world(
        &self,
        req: pb::SnapshotWorldRequest,
    ) -> Result<pb::SnapshotWorldResponse, BridgeError> {
        self.with_world(&req.world_id, move |w| {
            let snapshot_id = w.snapshot()?;
            let clock = w.clock();
            Ok(pb::SnapshotWorldResponse {
                snapshot_id,
                frame: clock.frame,
                sim_time_s: clock.sim_time_s,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id, snapshot_id = %req.snapshot_id))]
    async fn inner_restore_world(
        &self,
        req: pb::RestoreWorldRequest,
    ) -> Result<pb::RestoreWorldResponse, BridgeError> {
        self.with_world(&req.world_id, move |w| {
            w.restore(&req.snapshot_id)?;
            let clock = w.clock();
            Ok(pb::RestoreWorldResponse {
                frame: clock.frame,
                sim_time_s: clock.sim_time_s,
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
        let fork = self
            .with_world(&req.world_id, move |w| w.fork(&snapshot_id))
            .await?;
        let clock = fork.clock();
        let label = if req.label.is_empty() {
            source.label.clone()
        } else {
            req.label.clone()
        };
        let id = self.insert(fork, label.clone()).await?;
        tracing::info!(world_id = %id, source = %req.world_id, label = %label, frame = clock.frame, "world forked");
        Ok(pb::ForkWorldResponse {
            world_id: id,
            frame: clock.frame,
            sim_time_s: clock.sim_time_s,
        })
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id, actor_id = req.actor_id))]
    async fn inner_attach_sensor(
        &self,
        req: pb::AttachSensorRequest,
    ) -> Result<pb::AttachSensorResponse, BridgeError> {
        let (spec, encoding) = sensor_in(req.spec)?;
        let (actor, name) = (req.actor_id, req.name);
        self.with_world(&req.world_id, move |w| {
            let sensor_id = w.attach_sensor(actor, &name, spec, encoding)?;
            Ok(pb::AttachSensorResponse { sensor_id })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id, steps = req.steps, render = req.render))]
    async fn inner_step(&self, req: pb::StepRequest) -> Result<pb::StepResponse, BridgeError> {
        let input = step_in(&req, self.limits.max_steps_per_call)?;
        let world_id = req.world_id.clone();
        self.with_world(&req.world_id, move |w| {
            let out = w.step(input)?;
            Ok(pb::StepResponse {
                snapshot: Some(snapshot_out(world_id, &out.snapshot, out.frames)),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id))]
    async fn inner_plan_route(
        &self,
        req: pb::PlanRouteRequest,
    ) -> Result<pb::PlanRouteResponse, BridgeError> {
        let roads = self.entry(&req.world_id)?.roads;
        let (points, spacing) = route_in(&req)?;
        let route = blocking(move || roads.plan_route(&points, spacing)).await?;
        Ok(route_out(&route))
    }

    #[tracing::instrument(skip_all, fields(world_id = %req.world_id))]
    async fn inner_lane_pose(
        &self,
        req: pb::LanePoseRequest,
    ) -> Result<pb::LanePoseResponse, BridgeError> {
        let roads = self.entry(&req.world_id)?.roads;
        let Some(lp) = &req.lane_position else {
            return Err(BridgeError::invalid("lane_position", "is required"));
        };
        let lp = lane_position_in(lp, "lane_position")?;
        let pose = blocking(move || roads.lane_pose(&lp)).await?;
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
        reply(
            "DestroyWorld",
            self.inner_destroy_world(r.into_inner()).await,
        )
    }

    async fn list_maps(&self, _: Request<pb::ListMapsRequest>) -> Reply<pb::ListMapsResponse> {
        reply(
            "ListMaps",
            Ok(pb::ListMapsResponse {
                names: self.backend.map_names(),
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
        reply("LanePose", self.inner_lane_pose(r.into_inner()).await)
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
        reply(
            "DestroyActor",
            self.inner_destroy_actor(r.into_inner()).await,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use atlas_proto::reason::{self, Reason};
    use atlas_sim::{ActorId, ActorSpec, Encoding, Pose, SensorId, SensorSpec};
    use tonic::Code;

    use super::*;
    use crate::backend::builtin::Builtin;
    use crate::backend::{StepInput, StepOutput, WorldClock, WorldSpec};

    fn builtin() -> Builtin {
        Builtin::open(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps")).unwrap()
    }

    fn service(backend: impl Backend, max_worlds: usize) -> SimulatorService {
        SimulatorService::new(
            Arc::new(backend),
            Limits {
                max_worlds,
                max_actors: 10,
                max_steps_per_call: 10,
            },
        )
    }

    async fn create(s: &SimulatorService) -> Result<pb::CreateWorldResponse, Status> {
        let req = pb::CreateWorldRequest {
            map: Some(pb::create_world_request::Map::MapName("atlas_loop".into())),
            ..Default::default()
        };
        s.create_world(Request::new(req))
            .await
            .map(Response::into_inner)
    }

    async fn destroy(s: &SimulatorService, world_id: String) {
        s.destroy_world(Request::new(pb::DestroyWorldRequest { world_id }))
            .await
            .unwrap();
    }

    /// Snapshots a world and forks it from that snapshot.
    async fn snapshot_and_fork(
        s: &SimulatorService,
        world_id: &str,
    ) -> Result<pb::ForkWorldResponse, Status> {
        let snap = s
            .snapshot_world(Request::new(pb::SnapshotWorldRequest {
                world_id: world_id.into(),
            }))
            .await?
            .into_inner();
        let fork = s
            .fork_world(Request::new(pb::ForkWorldRequest {
                world_id: world_id.into(),
                snapshot_id: snap.snapshot_id,
                label: String::new(),
            }))
            .await?;
        Ok(fork.into_inner())
    }

    #[tokio::test]
    async fn the_builtin_backend_gets_no_world_beyond_max_worlds() {
        let s = service(builtin(), 1);
        let first = create(&s).await.unwrap();
        assert_eq!(first.map.unwrap().name, "atlas_loop");
        assert_eq!(first.fixed_delta_s, crate::convert::DEFAULT_DT);
        let err = create(&s).await.unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert_eq!(reason::reason(&err), Some(Reason::Overloaded));
        assert_eq!(err.message(), "worlds: limit of 1 reached");
        // The bridge cannot tell when a world will be free: no hint.
        assert_eq!(atlas_rt::retry::retry_after(&err), None);
        assert_eq!(s.world_count(), 1);

        // A fork is a world too.
        let err = snapshot_and_fork(&s, &first.world_id).await.unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert_eq!(s.world_count(), 1);

        destroy(&s, first.world_id).await;
        create(&s).await.unwrap();
    }

    /// A simulator server that holds one world at a time, as a CARLA server
    /// does: the built-in backend with a one-world slot that a world frees
    /// when it is dropped.
    struct OneWorld {
        inner: Builtin,
        busy: Arc<AtomicBool>,
    }

    const BUSY_HINT: Duration = Duration::from_millis(750);

    impl Backend for OneWorld {
        fn map_names(&self) -> Vec<String> {
            self.inner.map_names()
        }

        fn warm_up(&self, maps: &[String]) -> Result<Vec<String>, BridgeError> {
            self.inner.warm_up(maps)
        }

        fn create_world(&self, spec: WorldSpec) -> Result<Box<dyn BackendWorld>, BridgeError> {
            if self.busy.swap(true, Ordering::SeqCst) {
                return Err(BridgeError::Exhausted {
                    what: "worlds of this simulator server",
                    limit: 1,
                    retry_after: Some(BUSY_HINT),
                });
            }
            match self.inner.create_world(spec) {
                Ok(inner) => Ok(Box::new(Held {
                    inner,
                    busy: self.busy.clone(),
                })),
                Err(e) => {
                    self.busy.store(false, Ordering::SeqCst);
                    Err(e)
                }
            }
        }
    }

    /// The one world of [`OneWorld`]; dropping it frees the server.
    struct Held {
        inner: Box<dyn BackendWorld>,
        busy: Arc<AtomicBool>,
    }

    impl Drop for Held {
        fn drop(&mut self) {
            self.busy.store(false, Ordering::SeqCst);
        }
    }

    impl BackendWorld for Held {
        fn road_network(&self) -> Arc<dyn RoadNetwork> {
            self.inner.road_network()
        }
        fn fixed_delta_s(&self) -> f64 {
            self.inner.fixed_delta_s()
        }
        fn clock(&self) -> WorldClock {
            self.inner.clock()
        }
        fn actor_count(&self) -> usize {
            self.inner.actor_count()
        }
        fn spawn_actor(&mut self, spec: ActorSpec) -> Result<(ActorId, Pose), BridgeError> {
            self.inner.spawn_actor(spec)
        }
        fn spawn_traffic(
            &mut self,
            vehicles: u32,
            pedestrians: u32,
            seed: u64,
        ) -> Result<atlas_sim::Traffic, BridgeError> {
            self.inner.spawn_traffic(vehicles, pedestrians, seed)
        }
        fn destroy_actor(&mut self, id: ActorId) -> Result<(), BridgeError> {
            self.inner.destroy_actor(id)
        }
        fn attach_sensor(
            &mut self,
            actor: ActorId,
            name: &str,
            spec: SensorSpec,
            encoding: Encoding,
        ) -> Result<SensorId, BridgeError> {
            self.inner.attach_sensor(actor, name, spec, encoding)
        }
        fn step(&mut self, input: StepInput) -> Result<StepOutput, BridgeError> {
            self.inner.step(input)
        }
        fn snapshot(&mut self) -> Result<String, BridgeError> {
            self.inner.snapshot()
        }
        fn restore(&mut self, snapshot_id: &str) -> Result<(), BridgeError> {
            self.inner.restore(snapshot_id)
        }
        fn fork(&self, _: &str) -> Result<Box<dyn BackendWorld>, BridgeError> {
            Err(BridgeError::Unsupported("forking a world"))
        }
    }

    #[tokio::test]
    async fn a_one_world_backend_refuses_the_second_with_a_retry_hint() {
        let s = service(
            OneWorld {
                inner: builtin(),
                busy: Arc::default(),
            },
            64,
        );
        let first = create(&s).await.unwrap();
        let err = create(&s).await.unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert_eq!(reason::reason(&err), Some(Reason::Overloaded));
        assert_eq!(atlas_rt::retry::retry_after(&err), Some(BUSY_HINT));
        assert_eq!(err.metadata().get("retry-after-ms").unwrap(), "750");
        assert_eq!(err.metadata().get("grpc-retry-pushback-ms").unwrap(), "750");

        // What the backend cannot do is UNIMPLEMENTED, not a failure.
        let err = snapshot_and_fork(&s, &first.world_id).await.unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{err:?}");

        // Destroying the world releases the server's slot.
        destroy(&s, first.world_id).await;
        create(&s).await.unwrap();
    }
}
