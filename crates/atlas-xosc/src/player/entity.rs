//! What the player holds per entity: its pose, speed and counters, and the
//! controllers (longitudinal, lateral, trajectory) that actions hand it.

use std::collections::BTreeSet;

use crate::model::{BoundingBox, Entity, EntityKind, Shape};
use crate::position::LaneCoord;

/// An entity's state as the player holds it.
#[derive(Clone, Debug)]
pub struct EntityState {
    pub name: String,
    pub kind: EntityKind,
    pub bbox: BoundingBox,
    /// Placed in the world (by a teleport or AddEntityAction).
    pub present: bool,
    /// Driven from outside (the policy's ego).
    pub external: bool,
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub yaw: f64,
    pub speed: f64,
    /// Longitudinal acceleration, m/s^2.
    pub accel: f64,
    pub lane: Option<LaneCoord>,
    /// Distance travelled since the start.
    pub odometer: f64,
    pub(super) still_for: f64,
    pub(super) offroad_for: f64,
    pub(super) end_of_road_for: f64,
    pub(super) at_end_of_road: bool,
    pub(super) collided: BTreeSet<String>,
    pub(super) long: Option<Long>,
    pub(super) lat: Option<Lat>,
    pub(super) path: Option<PathCtl>,
    /// Waypoints of an assigned route.
    pub route: Vec<(f64, f64)>,
    /// The controller overrides in force (OverrideControllerValueAction).
    pub overrides: Overrides,
    /// The controller assigned hands the entity to an outside agent
    /// (ScenarioRunner's `external_control`).
    pub external_controller: bool,
}

/// The controller overrides in force on an entity: `None` channels are
/// the controller's own.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Overrides {
    pub throttle: Option<f64>,
    pub brake: Option<f64>,
    pub clutch: Option<f64>,
    pub parking_brake: Option<f64>,
    /// Steering wheel angle, radians.
    pub steering_wheel: Option<f64>,
    pub gear: Option<i32>,
}

impl Overrides {
    /// Applies one action's sets and releases.
    pub fn apply(&mut self, o: &crate::model::ControlOverrides) {
        fn set<T: Copy>(slot: &mut Option<T>, o: Option<Option<T>>) {
            if let Some(v) = o {
                *slot = v;
            }
        }
        set(&mut self.throttle, o.throttle);
        set(&mut self.brake, o.brake);
        set(&mut self.clutch, o.clutch);
        set(&mut self.parking_brake, o.parking_brake);
        set(&mut self.steering_wheel, o.steering_wheel);
        set(&mut self.gear, o.gear);
    }

    pub fn any(&self) -> bool {
        *self != Overrides::default()
    }
}

impl EntityState {
    /// A declared entity before the storyboard places it.
    pub(super) fn new(e: &Entity, external: bool) -> Self {
        EntityState {
            name: e.name.clone(),
            kind: e.kind,
            bbox: e.bbox,
            present: false,
            external,
            x: 0.0,
            y: 0.0,
            z: 0.0,
            yaw: 0.0,
            speed: 0.0,
            accel: 0.0,
            lane: None,
            odometer: 0.0,
            still_for: 0.0,
            offroad_for: 0.0,
            end_of_road_for: 0.0,
            at_end_of_road: false,
            collided: BTreeSet::new(),
            long: None,
            lat: None,
            path: None,
            route: Vec::new(),
            overrides: Overrides::default(),
            external_controller: false,
        }
    }
}

/// The longitudinal controller an action installed, and which action.
#[derive(Clone, Debug)]
pub(super) struct Long {
    pub(super) owner: Option<usize>,
    pub(super) kind: LongKind,
}

#[derive(Clone, Debug)]
pub(super) enum LongKind {
    /// v(t) = v0 + (v1 - v0) f(t / T); `None` duration never arrives.
    Speed {
        v0: f64,
        v1: f64,
        shape: Shape,
        duration: Option<f64>,
        elapsed: f64,
        /// Continuous relative target: keeps tracking the entity + delta.
        track: Option<(String, f64, bool)>,
    },
    /// Arrive at (tx, ty) when `master` arrives at (mx, my)
    /// (SynchronizeAction), at `final_speed` when given.
    Sync {
        master: usize,
        mx: f64,
        my: f64,
        tx: f64,
        ty: f64,
        final_speed: Option<crate::model::FinalSpeed>,
    },
    /// Keep a gap to an entity (continuous LongitudinalDistanceAction).
    Gap {
        entity: String,
        value: f64,
        time_gap: bool,
        freespace: bool,
        leading: bool,
    },
}

/// The lateral controller: a lane offset moving from `o0` to `o1`.
#[derive(Clone, Debug)]
pub(super) struct Lat {
    pub(super) owner: Option<usize>,
    pub(super) o0: f64,
    pub(super) o1: f64,
    pub(super) shape: Shape,
    pub(super) duration: f64,
    pub(super) elapsed: f64,
    /// Continuous relative offset: keeps tracking the entity's offset.
    pub(super) track: Option<(String, f64)>,
    /// A lane change (its lateral motion is part of the step's length, as
    /// esmini moves it) rather than a lane offset (moved across on top of
    /// the distance along the lane).
    pub(super) lane_change: bool,
}

/// A trajectory the entity follows instead of its lane.
#[derive(Clone, Debug)]
pub(super) struct PathCtl {
    pub(super) owner: Option<usize>,
    pub(super) points: Vec<(f64, f64, f64)>,
    /// Times of the points (timed trajectories), seconds from `t0`.
    pub(super) times: Option<Vec<f64>>,
    pub(super) yaws: Vec<Option<f64>>,
    pub(super) t0: f64,
    /// Distance along the polyline (untimed).
    pub(super) along: f64,
}
