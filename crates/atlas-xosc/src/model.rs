//! A read OpenSCENARIO document: parameters resolved, catalog references
//! replaced by their entries, positions kept symbolic (they are resolved
//! against the map and the entities when the storyboard runs).

use std::path::PathBuf;

/// Where the scenario's road network comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum RoadNetwork {
    /// An OpenDRIVE file, resolved against the scenario file's directory.
    File { path: PathBuf, as_written: String },
    /// A map name such as `Town01`, resolved through a maps directory.
    Name(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityKind {
    Vehicle,
    Pedestrian,
    MiscObject,
}

/// A bounding box in the entity's frame (origin: its reference point,
/// the rear axle for vehicles).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoundingBox {
    pub cx: f64,
    pub cy: f64,
    pub cz: f64,
    pub length: f64,
    pub width: f64,
    pub height: f64,
}

#[derive(Clone, Debug)]
pub struct Entity {
    pub name: String,
    pub kind: EntityKind,
    /// vehicleCategory / pedestrianCategory / miscObjectCategory.
    pub category: String,
    pub bbox: BoundingBox,
    /// Front minus rear axle position, vehicles only.
    pub wheelbase: Option<f64>,
    pub max_speed: Option<f64>,
    pub line: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    Equal,
    NotEqual,
}

impl Rule {
    pub fn test(self, a: f64, b: f64) -> bool {
        match self {
            Rule::Greater => a > b,
            Rule::GreaterOrEqual => a >= b,
            Rule::Less => a < b,
            Rule::LessOrEqual => a <= b,
            Rule::Equal => (a - b).abs() < 1e-9,
            Rule::NotEqual => (a - b).abs() >= 1e-9,
        }
    }

    /// As [`Rule::test`] with `a` known only to within `eps` (a time summed
    /// step by step): `a > b` holds from `b + eps`, `a >= b` from `b - eps`,
    /// `a == b` within `eps`, as esmini compares simulation time.
    pub fn test_within(self, a: f64, b: f64, eps: f64) -> bool {
        match self {
            Rule::Greater => a > b + eps,
            Rule::GreaterOrEqual => a >= b - eps,
            Rule::Less => a < b - eps,
            Rule::LessOrEqual => a <= b + eps,
            Rule::Equal => (a - b).abs() <= eps,
            Rule::NotEqual => (a - b).abs() > eps,
        }
    }
}

/// Orientation of a position; `relative` adds to the road's (or the
/// reference entity's) heading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Orientation {
    pub h: f64,
    pub relative: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Position {
    World {
        x: f64,
        y: f64,
        z: f64,
        h: Option<f64>,
    },
    RelativeWorld {
        entity: String,
        dx: f64,
        dy: f64,
        orientation: Option<Orientation>,
    },
    RelativeObject {
        entity: String,
        dx: f64,
        dy: f64,
        orientation: Option<Orientation>,
    },
    Road {
        road: String,
        s: f64,
        t: f64,
        orientation: Option<Orientation>,
    },
    RelativeRoad {
        entity: String,
        ds: f64,
        dt: f64,
        orientation: Option<Orientation>,
    },
    Lane {
        road: String,
        lane: i32,
        s: f64,
        offset: f64,
        orientation: Option<Orientation>,
    },
    RelativeLane {
        entity: String,
        dlane: i32,
        ds: f64,
        offset: f64,
        orientation: Option<Orientation>,
    },
    /// RoutePosition (1.1+): a place along a route through `waypoints`.
    Route {
        waypoints: Vec<Position>,
        at: InRoute,
        orientation: Option<Orientation>,
    },
}

/// Where along a route a RoutePosition is.
#[derive(Clone, Debug, PartialEq)]
pub enum InRoute {
    /// Where the entity is now (FromCurrentEntity).
    Entity(String),
    /// `path_s` metres along the route, at road coordinate `t` there
    /// (FromRoadCoordinates).
    Road { path_s: f64, t: f64 },
    /// `path_s` metres along the route, in lane `lane` of the road there,
    /// `offset` from its centre (FromLaneCoordinates).
    Lane { path_s: f64, lane: i32, offset: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Step,
    Linear,
    Cubic,
    Sinusoidal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    Time,
    Distance,
    Rate,
}

/// How a quantity moves to its target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dynamics {
    pub shape: Shape,
    pub dimension: Dimension,
    pub value: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SpeedTarget {
    Absolute(f64),
    /// `delta` adds `value` to the entity's speed, `factor` multiplies it.
    Relative {
        entity: String,
        value: f64,
        factor: bool,
        continuous: bool,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum LaneTarget {
    Absolute(i32),
    Relative { entity: String, value: i32 },
}

#[derive(Clone, Debug, PartialEq)]
pub enum OffsetTarget {
    Absolute(f64),
    Relative { entity: String, value: f64 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Vertex {
    pub time: Option<f64>,
    pub position: Position,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PrivateAction {
    Speed {
        dynamics: Dynamics,
        target: SpeedTarget,
    },
    LaneChange {
        dynamics: Dynamics,
        target: LaneTarget,
        target_offset: f64,
    },
    LaneOffset {
        /// Maximum lateral acceleration, when given instead of a shape
        /// duration.
        max_lateral_acc: Option<f64>,
        shape: Shape,
        target: OffsetTarget,
        continuous: bool,
    },
    Teleport(Position),
    /// AssignRouteAction: the route's waypoints, in order.
    AssignRoute(Vec<Position>),
    AcquirePosition(Position),
    FollowTrajectory {
        vertices: Vec<Vertex>,
        /// Timing present: vertices are reached at their times (scaled and
        /// offset); otherwise the entity drives the polyline at its speed.
        timed: bool,
        scale: f64,
        offset: f64,
        absolute: bool,
    },
    LongitudinalDistance {
        entity: String,
        /// Metres, or a time gap (seconds) when `time_gap`.
        value: f64,
        time_gap: bool,
        freespace: bool,
        continuous: bool,
        /// The entity ends up ahead of the reference (leading) or behind.
        leading: bool,
    },
    ActivateController {
        lateral: bool,
        longitudinal: bool,
    },
    /// SynchronizeAction: arrive at `target` when `master` arrives at
    /// `master_target`, at `final_speed` when given.
    Synchronize {
        master: String,
        master_target: Position,
        target: Position,
        final_speed: Option<FinalSpeed>,
    },
    /// OverrideControllerValueAction (1.0–1.2): pedal, steering wheel,
    /// gear and brake overrides of the entity's controller.
    OverrideControls(ControlOverrides),
    /// AssignControllerAction: the controller's name and whether it hands
    /// the entity to an outside agent (ScenarioRunner's
    /// `module = external_control`); the default controller (or the policy)
    /// stays in charge of the motion.
    AssignController {
        name: String,
        external: bool,
    },
    /// Visibility and appearance: accepted, no effect on motion.
    Accepted(&'static str),
}

/// A SynchronizeAction's speed on arrival.
#[derive(Clone, Debug, PartialEq)]
pub enum FinalSpeed {
    Absolute(f64),
    /// The master's speed plus `value` (delta) or times it (factor).
    RelativeToMaster {
        value: f64,
        factor: bool,
    },
}

/// One override of an OverrideControllerValueAction: `None` leaves the
/// channel as it is, `Some(None)` releases it (`active = false`),
/// `Some(Some(v))` sets it.
pub type Override<T> = Option<Option<T>>;

/// The overrides one OverrideControllerValueAction sets or releases.
/// Pedals, clutch and parking brake are 0..1; the steering wheel angle is
/// in radians; a gear number is the manual gear (0 neutral, negative
/// reverse).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControlOverrides {
    pub throttle: Override<f64>,
    pub brake: Override<f64>,
    pub clutch: Override<f64>,
    pub parking_brake: Override<f64>,
    pub steering_wheel: Override<f64>,
    pub gear: Override<i32>,
}

impl ControlOverrides {
    /// Whether the action sets any channel (rather than only releasing).
    pub fn sets_any(&self) -> bool {
        [
            self.throttle,
            self.brake,
            self.clutch,
            self.parking_brake,
            self.steering_wheel,
        ]
        .iter()
        .any(|o| matches!(o, Some(Some(_))))
            || matches!(self.gear, Some(Some(_)))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum GlobalAction {
    AddEntity {
        entity: String,
        position: Position,
    },
    DeleteEntity {
        entity: String,
    },
    /// EnvironmentAction: recorded, not simulated.
    Environment(String),
    ParameterSet {
        name: String,
        value: String,
    },
    ParameterAdd {
        name: String,
        value: f64,
    },
    ParameterMultiply {
        name: String,
        value: f64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    Private(PrivateAction),
    Global(GlobalAction),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub name: String,
    pub kind: ActionKind,
    pub line: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    None,
    Rising,
    Falling,
    RisingOrFalling,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementType {
    Story,
    Act,
    ManeuverGroup,
    Maneuver,
    Event,
    Action,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementState {
    StandbyState,
    RunningState,
    CompleteState,
    StartTransition,
    EndTransition,
    StopTransition,
    SkipTransition,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistanceType {
    Longitudinal,
    Lateral,
    Cartesian,
}

/// Where a distance is measured to.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Entity(String),
    Position(Position),
}

#[derive(Clone, Debug, PartialEq)]
pub enum EntityCondition {
    TraveledDistance(f64),
    ReachPosition {
        position: Position,
        tolerance: f64,
    },
    Distance {
        target: Target,
        kind: DistanceType,
        road: bool,
        freespace: bool,
        rule: Rule,
        value: f64,
    },
    TimeHeadway {
        entity: String,
        kind: DistanceType,
        road: bool,
        freespace: bool,
        rule: Rule,
        value: f64,
    },
    TimeToCollision {
        target: Target,
        freespace: bool,
        rule: Rule,
        value: f64,
    },
    Speed {
        rule: Rule,
        value: f64,
    },
    RelativeSpeed {
        entity: String,
        rule: Rule,
        value: f64,
    },
    Acceleration {
        rule: Rule,
        value: f64,
    },
    StandStill(f64),
    Collision(Option<String>),
    EndOfRoad(f64),
    Offroad(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConditionKind {
    ByEntity {
        entities: Vec<String>,
        all: bool,
        condition: EntityCondition,
    },
    SimulationTime {
        rule: Rule,
        value: f64,
    },
    StoryboardElementState {
        kind: ElementType,
        name: String,
        state: ElementState,
    },
    Parameter {
        name: String,
        rule: Rule,
        value: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub name: String,
    pub delay: f64,
    pub edge: Edge,
    pub kind: ConditionKind,
    pub line: u32,
}

/// Condition groups, ORed; the conditions of a group are ANDed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trigger {
    pub groups: Vec<Vec<Condition>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// overwrite (1.0/1.1) or override (1.2): stops the maneuver's running events.
    Override,
    /// Not started while another event of the maneuver runs.
    Skip,
    Parallel,
}

#[derive(Clone, Debug)]
pub struct Event {
    pub name: String,
    pub priority: Priority,
    pub max_exec: u32,
    pub actions: Vec<Action>,
    pub start: Option<Trigger>,
}

#[derive(Clone, Debug)]
pub struct Maneuver {
    pub name: String,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug)]
pub struct ManeuverGroup {
    pub name: String,
    pub max_exec: u32,
    pub actors: Vec<String>,
    pub select_triggering: bool,
    pub maneuvers: Vec<Maneuver>,
}

#[derive(Clone, Debug)]
pub struct Act {
    pub name: String,
    pub groups: Vec<ManeuverGroup>,
    pub start: Option<Trigger>,
    pub stop: Option<Trigger>,
}

#[derive(Clone, Debug)]
pub struct Story {
    pub name: String,
    pub acts: Vec<Act>,
}

/// An Init action: private ones name their entity.
#[derive(Clone, Debug)]
pub struct InitAction {
    pub entity: Option<String>,
    pub action: Action,
}

/// A whole scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub file: String,
    pub description: String,
    pub road_network: Option<RoadNetwork>,
    pub entities: Vec<Entity>,
    pub init: Vec<InitAction>,
    pub stories: Vec<Story>,
    pub stop: Option<Trigger>,
    /// Global parameters after declaration and overrides (name, value).
    pub parameters: Vec<(String, crate::expr::Value)>,
    /// Elements skipped under the lenient option, and other notes.
    pub warnings: Vec<String>,
    /// ScenarioRunner pass criteria: undeclared `criteria_*` parameters of
    /// ParameterConditions (name, value). They are not conditions of the
    /// run; a runtime scores them at its end.
    pub criteria: Vec<(String, String)>,
    /// Positions were given in CARLA's frame (`CARLA:` description) and
    /// have been mirrored into OpenDRIVE's.
    pub carla_frame: bool,
}

impl Scenario {
    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.name == name)
    }
}
