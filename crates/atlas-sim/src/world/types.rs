//! The public data types of a world: actor specifications, controls,
//! states, events and snapshots.

use crate::map::LanePosition;
pub use crate::map::signals::{LightState, SignalKind};
use crate::math::Pose;

/// Actor ids are unique per world and never reused.
pub type ActorId = u64;
/// Sensor ids are unique per world and never reused.
pub type SensorId = u64;

/// What an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActorKind {
    Vehicle,
    Pedestrian,
    /// A static prop (cone, barrier, parked object).
    Static,
}

/// Box dimensions, metres. For vehicles the rig (pose) is the centre of the
/// rear axle on the ground; for pedestrians and props it is the centre of
/// the box's footprint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dimensions {
    pub length: f64,
    pub width: f64,
    pub height: f64,
    /// Vehicles: distance between the axles.
    pub wheelbase: f64,
    /// Vehicles: distance from the rear axle to the rear bumper.
    pub rear_overhang: f64,
}

impl Dimensions {
    /// All zero: every field takes the kind's default.
    pub const UNSET: Self = Self {
        length: 0.0,
        width: 0.0,
        height: 0.0,
        wheelbase: 0.0,
        rear_overhang: 0.0,
    };

    /// The defaults of a kind: a mid-size car 4.6 × 1.9 × 1.5 m (wheelbase
    /// 2.8, rear overhang 0.9), a pedestrian 0.5 × 0.5 × 1.8 m, a 1 m prop.
    pub fn default_for(kind: ActorKind) -> Self {
        match kind {
            ActorKind::Vehicle => Self {
                length: 4.6,
                width: 1.9,
                height: 1.5,
                wheelbase: 2.8,
                rear_overhang: 0.9,
            },
            ActorKind::Pedestrian => Self {
                length: 0.5,
                width: 0.5,
                height: 1.8,
                wheelbase: 0.0,
                rear_overhang: 0.0,
            },
            ActorKind::Static => Self {
                length: 1.0,
                width: 1.0,
                height: 1.0,
                wheelbase: 0.0,
                rear_overhang: 0.0,
            },
        }
    }

    /// Replaces zero fields with the kind's defaults.
    pub fn or_defaults(self, kind: ActorKind) -> Self {
        let d = Self::default_for(kind);
        let pick = |v: f64, dv: f64| if v == 0.0 { dv } else { v };
        let mut out = Self {
            length: pick(self.length, d.length),
            width: pick(self.width, d.width),
            height: pick(self.height, d.height),
            wheelbase: pick(self.wheelbase, d.wheelbase),
            rear_overhang: pick(self.rear_overhang, d.rear_overhang),
        };
        if kind == ActorKind::Vehicle && self.length != 0.0 {
            // A custom length without axle data: keep the default proportions.
            if self.wheelbase == 0.0 {
                out.wheelbase = out.length * d.wheelbase / d.length;
            }
            if self.rear_overhang == 0.0 {
                out.rear_overhang = out.length * d.rear_overhang / d.length;
            }
        }
        out
    }

    /// Distance from the rig forward to the centre of the box.
    pub fn centre_offset(&self, kind: ActorKind) -> f64 {
        match kind {
            ActorKind::Vehicle => 0.5 * self.length - self.rear_overhang,
            _ => 0.0,
        }
    }

    /// Distance from the rig forward to the front of the box.
    pub fn front(&self, kind: ActorKind) -> f64 {
        self.centre_offset(kind) + 0.5 * self.length
    }
}

/// Who moves an actor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behavior {
    /// Vehicles: driven by [`VehicleControl`]s through a kinematic bicycle.
    /// Pedestrians: walk straight on at their spawn speed.
    External,
    /// Vehicles: follow the lane (and the lane graph) at `target_speed`
    /// m/s, keeping distance to whatever is ahead (0 selects the road's
    /// speed limit, or 30 km/h without one). Pedestrians placed on a
    /// sidewalk walk along it at `target_speed`, crossing the road at its
    /// ends; elsewhere they walk straight on.
    LaneFollow { target_speed: f64 },
    /// Does not move.
    Stopped,
    /// Placed from outside by [`World::set_state`](super::World::set_state)
    /// (a scenario player); between placements it goes on along its
    /// heading at its speed, changed by the held acceleration.
    Scripted,
}

/// Where an actor is placed.
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    Pose(Pose),
    /// On a lane, heading along the lane's direction of travel.
    Lane(LanePosition),
}

/// Everything needed to spawn an actor.
#[derive(Clone, Debug, PartialEq)]
pub struct ActorSpec {
    pub kind: ActorKind,
    pub role: String,
    pub name: String,
    pub placement: Placement,
    /// Initial forward speed, m/s.
    pub speed: f64,
    /// Zero fields take the kind's defaults.
    pub dimensions: Dimensions,
    pub behavior: Behavior,
}

/// CARLA-style normalised vehicle controls.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VehicleControl {
    /// [0, 1]
    pub throttle: f64,
    /// [0, 1]
    pub brake: f64,
    /// [-1, 1], positive turns left.
    pub steer: f64,
}

/// Where an actor is on the road network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaneState {
    /// On a drivable lane.
    pub on_road: bool,
    /// Empty when the actor is on no lane at all.
    pub road_id: String,
    pub lane_id: i32,
    pub s: f64,
    /// Signed lateral distance from the lane centre, positive left.
    pub offset: f64,
    /// OpenDRIVE lane type, e.g. "driving", "sidewalk"; empty off the map.
    pub lane_type: String,
}

/// An actor's state in a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct ActorState {
    pub id: ActorId,
    pub kind: ActorKind,
    pub role: String,
    pub name: String,
    pub pose: Pose,
    /// World-frame velocity, m/s.
    pub velocity: [f64; 3],
    /// World-frame acceleration over the last step, m/s².
    pub acceleration: [f64; 3],
    pub yaw_rate: f64,
    /// Signed forward speed, m/s.
    pub speed: f64,
    pub dimensions: Dimensions,
    pub lane: LaneState,
}

/// Something that happened during a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub frame: u64,
    pub time: f64,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// `actor` started touching `other`.
    Collision {
        actor: ActorId,
        other: ActorId,
        other_kind: ActorKind,
        relative_speed: f64,
    },
    /// An externally driven actor moved from one lane to another of the
    /// same road.
    LaneInvasion {
        actor: ActorId,
        road_id: String,
        from_lane: i32,
        to_lane: i32,
    },
    /// An externally driven vehicle left the drivable lanes.
    OffRoad { actor: ActorId },
    /// A vehicle passed the stop line of a red light, or of a stop sign
    /// without having stood (below 0.1 m/s) within 4 m before it.
    SignalViolation {
        actor: ActorId,
        signal_id: String,
        kind: SignalKind,
    },
}

/// Where traffic must stop for a signal, as seen in snapshots.
#[derive(Clone, Debug, PartialEq)]
pub struct StopLineState {
    pub road_id: String,
    pub lane_id: i32,
    pub s: f64,
    /// Lane-centre point of the stop line.
    pub position: [f64; 3],
    /// Direction of travel there.
    pub heading: f64,
    pub width: f64,
}

/// A traffic light or sign and its state.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalState {
    /// The OpenDRIVE signal id.
    pub id: String,
    pub kind: SignalKind,
    pub state: LightState,
    /// The signal head.
    pub position: [f64; 3],
    /// The direction the signal faces.
    pub facing: f64,
    /// The road it stands on.
    pub road_id: String,
    /// The junction it controls; empty if none.
    pub junction_id: String,
    pub stop_lines: Vec<StopLineState>,
}

/// The state of a world after a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub frame: u64,
    pub time: f64,
    /// In actor-id order.
    pub actors: Vec<ActorState>,
    /// Events since the previous snapshot, in order.
    pub events: Vec<Event>,
    /// Every traffic light and sign of the map, in map order.
    pub signals: Vec<SignalState>,
}
