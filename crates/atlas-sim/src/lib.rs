//! atlas-sim: the built-in simulator core of ATLAS.
//!
//! Deterministic fixed-step worlds on ASAM OpenDRIVE road networks, with
//! kinematic vehicles, lane-following NPC traffic, pedestrians, collision
//! and lane events, and software-rendered sensors. It is a plain library:
//! no gRPC, no async; the `atlas-bridge` service wraps it.
//!
//! # Layout
//!
//! - [`opendrive`]: the `.xodr` document model and reader.
//! - [`map`]: the evaluated road network shared by worlds: lane poses,
//!   world → lane lookup, lane graph, route planning.
//! - [`world`]: worlds, actors, NPC traffic, collisions, events,
//!   snapshots, and the sensors attached to actors.
//! - [`render`]: the ground class raster, pinhole camera, bird's-eye
//!   raster and image encoding.
//! - [`math`], [`error`]: shared helpers and error types.

pub mod error;
pub mod map;
pub mod math;
pub mod opendrive;
pub mod render;
pub mod world;

pub use error::{MapError, QueryError, WorldError};
pub use map::{Bounds, LaneLocation, LanePosition, LocateHint, Map, Route};
pub use math::{Pose, Vec2};
pub use render::Image;
pub use render::birdseye::BirdsEyeSpec;
pub use render::camera::CameraSpec;
pub use render::encode::{Encoding, encode};
pub use world::{
    ActorId, ActorKind, ActorSpec, ActorState, Behavior, Dimensions, Event, EventKind, LaneState,
    Placement, SensorFrame, SensorId, SensorSpec, Snapshot, VehicleControl, World,
};
