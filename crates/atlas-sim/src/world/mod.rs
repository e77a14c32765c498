//! Deterministic fixed-step worlds.
//!
//! A [`World`] holds actors on a shared [`Map`] and advances them in fixed
//! steps of `dt` seconds:
//!
//! 1. lane-following NPCs decide their acceleration (IDM car following
//!    along their planned path, taking turns through junctions, stopping
//!    for red lights and at stop signs; see [`traffic`]);
//! 2. every actor moves: external vehicles through a kinematic bicycle fed
//!    by CARLA-style controls, NPCs along their lanes, lane-following
//!    pedestrians along sidewalks (crossing at road ends), other
//!    pedestrians straight on;
//! 3. oriented-box collision detection raises events for new contacts, and
//!    actors that drove into something are put back where they were with
//!    speed zero (external vehicles first, so a blocked ego does not stop
//!    the NPC it ran into);
//! 4. lane states are updated, with lane-invasion and off-road events for
//!    externally driven vehicles, and signal violations for every vehicle
//!    (red lights, and stop signs passed without standing first; see
//!    [`stopsigns`]).
//!
//! Everything iterates in actor-id order over `Vec`s and `BTree`s and all
//! randomness comes from the world seed, so the same map, seed and commands
//! give bit-identical snapshots. Worlds are `Clone`: a clone is a snapshot
//! that can be restored by assignment.
//!
//! # Layout
//!
//! This module holds the world's state and the actor record; its jobs live
//! beside it: `spawning` (actors in and out), `commands` (controls and
//! scripted states between steps), `stepping` (one fixed step),
//! `contacts` (collision events and blocking), `stopsigns` (signal
//! violations), `snapshot` (states and snapshots read out) and
//! `sensors` (cameras and their rendering), over the NPC models of
//! `traffic`, `lanechange` and `walkers` and the boxes of
//! `collision`.

mod collision;
mod commands;
mod contacts;
mod lanechange;
mod sensors;
mod snapshot;
mod spawning;
mod stepping;
mod stopsigns;
pub(crate) mod traffic;
mod types;
mod walkers;

use std::collections::{BTreeSet, VecDeque};
use std::f64::consts::PI;
use std::sync::Arc;

pub use collision::Obb;
pub use sensors::{SensorFrame, SensorSpec};
pub use spawning::Traffic;
pub use types::*;

use crate::error::WorldError;
use crate::map::{LaneLocation, Map};
use crate::math::{Pose, Rng, Vec2};
use sensors::Sensor;

/// Largest front-wheel angle, radians (35°).
pub const MAX_STEER: f64 = 35.0 * PI / 180.0;
/// Acceleration at full throttle, m/s².
pub const MAX_ACCEL: f64 = 3.5;
/// Deceleration at full brake, m/s².
pub const MAX_BRAKE: f64 = 8.0;
/// Speeds and target speeds above this are rejected, m/s.
pub const MAX_SPEED: f64 = 100.0;

/// NPC lane-following state.
#[derive(Clone, Debug)]
pub(crate) struct Follow {
    pub node: u32,
    pub s: f64,
    pub offset: f64,
    /// Upcoming lane nodes, chosen ahead of time from the actor's seed.
    pub plan: VecDeque<u32>,
    /// Junction lanes this NPC holds.
    pub reserved: Vec<u32>,
    /// Nodes left during the current step (to undo a blocked move).
    pub passed: Vec<u32>,
    /// m/s; 0 follows the speed limit.
    pub target_speed: f64,
    /// The stop sign this NPC has stood at and may now pass.
    pub served_stop: Option<u32>,
    /// The current (or last) lane change.
    pub lane_change: Option<lanechange::LaneChange>,
}

#[derive(Clone, Debug)]
pub(crate) struct Actor {
    pub id: ActorId,
    pub kind: ActorKind,
    pub role: String,
    pub name: String,
    pub dims: Dimensions,
    pub behavior: Behavior,
    pub pose: Pose,
    pub speed: f64,
    pub velocity: [f64; 3],
    pub accel: [f64; 3],
    pub yaw_rate: f64,
    pub control: VehicleControl,
    pub lane: Option<LaneLocation>,
    pub follow: Option<Follow>,
    pub walk: Option<walkers::Walker>,
    pub rng: Rng,
    /// Distance travelled since the actor last stood, metres (for stop
    /// signs; see [`stopsigns`]).
    pub since_stand: f64,
    /// Longitudinal acceleration a scripted actor holds between placements.
    pub scripted_accel: f64,
}

impl Actor {
    pub fn obb(&self) -> Obb {
        let fwd = Vec2::from_angle(self.pose.yaw);
        let c = self.pose.xy() + fwd * self.dims.centre_offset(self.kind);
        Obb::new(
            c,
            self.pose.yaw,
            self.dims.length,
            self.dims.width,
            self.pose.z,
            self.dims.height,
        )
    }

    fn is_external_vehicle(&self) -> bool {
        self.kind == ActorKind::Vehicle && self.behavior == Behavior::External
    }
}

/// A simulated world.
#[derive(Clone, Debug)]
pub struct World {
    map: Arc<Map>,
    dt: f64,
    seed: u64,
    frame: u64,
    actors: Vec<Actor>,
    next_actor: ActorId,
    sensors: Vec<Sensor>,
    next_sensor: SensorId,
    events: Vec<Event>,
    contacts: BTreeSet<(ActorId, ActorId)>,
}

impl World {
    /// An empty world on `map`, stepping `dt` seconds, with all randomness
    /// drawn from `seed`.
    pub fn new(map: Arc<Map>, dt: f64, seed: u64) -> Result<Self, WorldError> {
        if !(dt.is_finite() && dt > 0.0 && dt <= 1.0) {
            return Err(WorldError::invalid(
                "fixed_delta_s",
                format!("must be in (0, 1] seconds, got {dt}"),
            ));
        }
        Ok(Self {
            map,
            dt,
            seed,
            frame: 0,
            actors: Vec::new(),
            next_actor: 1,
            sensors: Vec::new(),
            next_sensor: 1,
            events: Vec::new(),
            contacts: BTreeSet::new(),
        })
    }

    pub fn map(&self) -> &Arc<Map> {
        &self.map
    }

    pub fn dt(&self) -> f64 {
        self.dt
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Steps taken since creation.
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// Simulated seconds since creation.
    pub fn time(&self) -> f64 {
        self.frame as f64 * self.dt
    }

    pub fn actor_count(&self) -> usize {
        self.actors.len()
    }

    fn index_of(&self, id: ActorId) -> Result<usize, WorldError> {
        self.actors
            .binary_search_by_key(&id, |a| a.id)
            .map_err(|_| WorldError::UnknownActor(id))
    }
}

#[cfg(test)]
mod tests;
