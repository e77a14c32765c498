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
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use atlas_sim::*;
//!
//! let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../maps/atlas_loop.xodr");
//! let map = Arc::new(Map::from_file(&path)?);
//! let mut world = World::new(map, 0.05, 42)?;
//! let (ego, pose) = world.spawn(ActorSpec {
//!     kind: ActorKind::Vehicle,
//!     role: "ego".into(),
//!     name: "ego".into(),
//!     placement: Placement::Lane(LanePosition { road_id: "1".into(), lane_id: -1, s: 10.0, offset: 0.0 }),
//!     speed: 0.0,
//!     dimensions: Dimensions::UNSET,
//!     behavior: Behavior::External,
//! })?;
//! let snapshot = world.step_with(20, &[(ego, VehicleControl { throttle: 1.0, brake: 0.0, steer: 0.0 })])?;
//! assert_eq!(snapshot.frame, 20);
//! assert!(snapshot.actors[0].pose.x > pose.x);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod map;
pub mod math;
pub mod opendrive;
pub mod render;
pub mod world;

pub use error::{MapError, MapWarning, QueryError, WorldError};
pub use map::{Bounds, LaneLocation, LanePosition, LocateHint, Map, Route};
pub use math::{Pose, Vec2};
pub use opendrive::LoadOptions;
pub use render::Image;
pub use render::birdseye::BirdsEyeSpec;
pub use render::camera::CameraSpec;
pub use render::encode::{Encoding, encode};
pub use world::{
    ActorId, ActorKind, ActorSpec, ActorState, Behavior, Dimensions, Event, EventKind, LaneState,
    LightState, Placement, SensorFrame, SensorId, SensorSpec, SignalKind, SignalState, Snapshot,
    StopLineState, Traffic, VehicleControl, World,
};
