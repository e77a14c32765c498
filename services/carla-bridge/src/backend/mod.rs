//! The simulator seam: what the `atlas.sim.v1` service needs from a
//! simulator, as traits the service holds behind `Arc<dyn Backend>`.
//!
//! A [`Backend`] makes worlds; a [`BackendWorld`] is one world (actors,
//! sensors, fixed-step stepping, snapshots); its [`RoadNetwork`] answers
//! lane queries. The types spoken across the seam are the simulator's plain
//! data types (`atlas_sim::{ActorSpec, Pose, Snapshot, …}`) and the few
//! below; protobuf messages stop at the service (`convert.rs`), so a
//! backend knows nothing of gRPC.
//!
//! # Blocking, locking, parallelism
//!
//! Every method is synchronous and may block: the built-in world is CPU
//! work, and a client of a real simulator waits on its server. The service
//! never calls a backend on the async runtime: each call runs on the
//! blocking pool (`spawn_blocking`), and each world sits behind its own
//! mutex, taken only there. Independent worlds therefore step in parallel;
//! calls on one world run one at a time, which is what a fixed-step
//! synchronous simulator wants anyway. Lane queries go to the
//! [`RoadNetwork`], shared and lock-free, so planning a route does not wait
//! for a step.
//!
//! # What a backend may refuse
//!
//! - No room for another world (a CARLA server holds one): return
//!   [`BridgeError::Exhausted`] with a `retry_after` hint; the client gets
//!   RESOURCE_EXHAUSTED, reason `OVERLOADED` and `retry-after-ms`.
//! - Snapshots, restore or fork it cannot do: return
//!   [`BridgeError::Unsupported`] (UNIMPLEMENTED).
//! - A request it cannot accept: [`BridgeError::Invalid`] naming the field
//!   (INVALID_ARGUMENT, reason `INVALID_INPUT`).
//!
//! Dropping a world releases it (and whatever server-side slot it holds);
//! the service drops worlds on the blocking pool too.

pub mod builtin;

use std::sync::Arc;

use atlas_sim::{
    ActorId, ActorSpec, Encoding, LanePosition, Pose, SensorId, SensorSpec, Snapshot, Vec2,
    VehicleControl,
};

use crate::error::BridgeError;

/// The file name errors in an inline OpenDRIVE document give: the request
/// field the document came in.
pub const INLINE_MAP_FILE: &str = "opendrive_xml";

/// A simulator that makes worlds.
pub trait Backend: Send + Sync + 'static {
    /// The names [`MapSource::Named`] accepts, sorted.
    fn map_names(&self) -> Vec<String>;

    /// Prepares the first worlds before health reports SERVING (parse and
    /// rasterise maps, connect to a server): `maps` are the wanted map
    /// names, some perhaps unknown. Returns what was prepared; an error
    /// keeps the server NOT_SERVING.
    fn warm_up(&self, maps: &[String]) -> Result<Vec<String>, BridgeError>;

    /// A new world, empty at frame 0.
    fn create_world(&self, spec: WorldSpec) -> Result<Box<dyn BackendWorld>, BridgeError>;
}

/// One world: actors, sensors and fixed-step synchronous stepping.
pub trait BackendWorld: Send + 'static {
    /// The world's road network, for lane queries without the world.
    fn road_network(&self) -> Arc<dyn RoadNetwork>;

    /// The fixed step, seconds.
    fn fixed_delta_s(&self) -> f64;

    /// The frame and simulation time now.
    fn clock(&self) -> WorldClock;

    /// Actors alive (NPC traffic included).
    fn actor_count(&self) -> usize;

    /// Spawns an actor; returns its id and where it stands.
    fn spawn_actor(&mut self, spec: ActorSpec) -> Result<(ActorId, Pose), BridgeError>;

    /// Spawns NPC vehicles and pedestrians at places drawn from `seed`, as
    /// many as the map has room for; returns their ids (vehicles first) and
    /// how many of each were placed.
    fn spawn_traffic(
        &mut self,
        vehicles: u32,
        pedestrians: u32,
        seed: u64,
    ) -> Result<atlas_sim::Traffic, BridgeError>;

    fn destroy_actor(&mut self, id: ActorId) -> Result<(), BridgeError>;

    /// Attaches a sensor to an actor; its frames come back from
    /// [`step`](Self::step) encoded as `encoding` says.
    fn attach_sensor(
        &mut self,
        actor: ActorId,
        name: &str,
        spec: SensorSpec,
        encoding: Encoding,
    ) -> Result<SensorId, BridgeError>;

    /// Applies the commands (all checked before any is applied: a refused
    /// step changes nothing), advances `steps` fixed steps and returns the
    /// snapshot, with every sensor's frame when `render`.
    fn step(&mut self, input: StepInput) -> Result<StepOutput, BridgeError>;

    /// Saves the world's state; returns the snapshot's id.
    fn snapshot(&mut self) -> Result<String, BridgeError>;

    /// Puts the world back to a snapshot of it.
    fn restore(&mut self, snapshot_id: &str) -> Result<(), BridgeError>;

    /// A new world continuing from a snapshot of this one.
    fn fork(&self, snapshot_id: &str) -> Result<Box<dyn BackendWorld>, BridgeError>;
}

/// Lane queries on a world's road network.
pub trait RoadNetwork: Send + Sync + 'static {
    fn summary(&self) -> MapSummary;

    /// The pose of a lane position.
    fn lane_pose(&self, at: &LanePosition) -> Result<Pose, BridgeError>;

    /// A lane-centre route through `waypoints`, resampled every `spacing`
    /// metres.
    fn plan_route(&self, waypoints: &[Vec2], spacing: f64) -> Result<PlannedRoute, BridgeError>;
}

/// What a world is created on.
#[derive(Clone, Debug)]
pub struct WorldSpec {
    pub map: MapSource,
    /// The fixed step, seconds (the backend checks its range).
    pub fixed_delta_s: f64,
    /// Every random draw of the world comes from it.
    pub seed: u64,
}

/// A world's map: one of the backend's by name, or an OpenDRIVE document.
#[derive(Clone, Debug)]
pub enum MapSource {
    Named(String),
    OpenDrive(String),
}

/// A map's name, size and extent.
#[derive(Clone, Debug, PartialEq)]
pub struct MapSummary {
    pub name: String,
    pub road_count: usize,
    pub junction_count: usize,
    pub min: [f64; 3],
    pub max: [f64; 3],
    pub total_road_length: f64,
}

/// A world's frame counter and simulation time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorldClock {
    pub frame: u64,
    pub sim_time_s: f64,
}

/// A planned route: lane-centre points `[x, y, z]` and the polyline length.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRoute {
    pub points: Vec<[f64; 3]>,
    pub length: f64,
}

/// One `Step` call's commands.
#[derive(Clone, Debug, Default)]
pub struct StepInput {
    /// Controls of externally driven vehicles.
    pub controls: Vec<(ActorId, VehicleControl)>,
    /// Placements of scripted actors.
    pub states: Vec<ScriptedState>,
    /// Fixed steps to advance (at least 1).
    pub steps: u32,
    /// Render and encode every sensor after the last step.
    pub render: bool,
}

/// Where a scripted actor is put before the step, and how it moves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScriptedState {
    pub actor: ActorId,
    pub pose: Pose,
    pub speed: f64,
    pub acceleration: f64,
}

/// What a step returns: the world state and the encoded sensor frames.
#[derive(Clone, Debug)]
pub struct StepOutput {
    pub snapshot: Snapshot,
    pub frames: Vec<EncodedFrame>,
}

/// A sensor image, already encoded as its sensor asked.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedFrame {
    pub sensor: SensorId,
    pub name: String,
    pub actor: ActorId,
    pub frame: u64,
    pub sim_time_s: f64,
    pub width: u32,
    pub height: u32,
    pub encoding: Encoding,
    pub data: Vec<u8>,
}
