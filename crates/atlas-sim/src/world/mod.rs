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

mod collision;
mod lanechange;
mod stopsigns;
pub(crate) mod traffic;
mod types;
mod walkers;

use std::collections::{BTreeSet, VecDeque};
use std::f64::consts::PI;
use std::sync::Arc;

pub use collision::Obb;
pub use types::*;

use crate::error::WorldError;
use crate::map::{LaneLocation, LanePosition, LocateHint, Map};
use crate::math::{Pose, Rng, Vec2, wrap_angle};
use crate::render::birdseye::BirdsEyeSpec;
use crate::render::camera::{Camera, CameraSpec};
use crate::render::{BoxShape, Image};

/// Largest front-wheel angle, radians (35°).
pub const MAX_STEER: f64 = 35.0 * PI / 180.0;
/// Acceleration at full throttle, m/s².
pub const MAX_ACCEL: f64 = 3.5;
/// Deceleration at full brake, m/s².
pub const MAX_BRAKE: f64 = 8.0;
/// Rolling resistance (m/s²) and aerodynamic drag (1/m) of a coasting car.
const ROLLING: f64 = 0.3;
const DRAG: f64 = 0.0015;
/// Boxes closer than this stay "in contact", metres.
const CONTACT_MARGIN: f64 = 0.25;
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

#[derive(Clone, Debug)]
enum SensorKind {
    Camera(Box<Camera>),
    BirdsEye(BirdsEyeSpec),
}

#[derive(Clone, Debug)]
struct Sensor {
    id: SensorId,
    name: String,
    actor: ActorId,
    kind: SensorKind,
}

/// What a sensor is, for [`World::attach_sensor`].
#[derive(Clone, Debug, PartialEq)]
pub enum SensorSpec {
    Camera(CameraSpec),
    BirdsEye(BirdsEyeSpec),
}

/// One rendered sensor image.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorFrame {
    pub sensor: SensorId,
    pub name: String,
    pub actor: ActorId,
    pub frame: u64,
    pub time: f64,
    pub image: Image,
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

    /// Places an actor; returns its id and the pose it was placed at.
    pub fn spawn(&mut self, spec: ActorSpec) -> Result<(ActorId, Pose), WorldError> {
        let dims = spec.dimensions;
        for (field, v) in [
            ("dimensions.length", dims.length),
            ("dimensions.width", dims.width),
            ("dimensions.height", dims.height),
            ("dimensions.wheelbase", dims.wheelbase),
            ("dimensions.rear_overhang", dims.rear_overhang),
        ] {
            if !v.is_finite() || !(0.0..=100.0).contains(&v) {
                return Err(WorldError::invalid(
                    field,
                    format!("must be in [0, 100] metres, got {v}"),
                ));
            }
        }
        let dims = dims.or_defaults(spec.kind);
        if dims.rear_overhang >= dims.length {
            return Err(WorldError::invalid(
                "dimensions.rear_overhang",
                format!(
                    "{} must be shorter than the length {}",
                    dims.rear_overhang, dims.length
                ),
            ));
        }
        if !spec.speed.is_finite() || !(0.0..=MAX_SPEED).contains(&spec.speed) {
            return Err(WorldError::invalid(
                "speed",
                format!("must be in [0, {MAX_SPEED}] m/s, got {}", spec.speed),
            ));
        }
        if let Behavior::LaneFollow { target_speed } = spec.behavior
            && (!target_speed.is_finite() || !(0.0..=MAX_SPEED).contains(&target_speed))
        {
            return Err(WorldError::invalid(
                "behavior.lane_follow.target_speed",
                format!("must be in [0, {MAX_SPEED}] m/s, got {target_speed}"),
            ));
        }
        if spec.kind == ActorKind::Static && matches!(spec.behavior, Behavior::LaneFollow { .. }) {
            return Err(WorldError::invalid(
                "behavior",
                "a static prop cannot follow a lane",
            ));
        }
        let mut pose = match &spec.placement {
            Placement::Pose(p) => {
                if !p.is_finite() {
                    return Err(WorldError::invalid("pose", "has a non-finite component"));
                }
                *p
            }
            Placement::Lane(lp) => self.map.lane_pose(lp)?,
        };
        let hint = |pose: &Pose| LocateHint {
            heading: pose.yaw,
            road: None,
        };
        let mut lane = self.map.locate_with_hint(pose.xy(), Some(hint(&pose)));
        let mut follow = None;
        if spec.kind == ActorKind::Vehicle
            && let Behavior::LaneFollow { target_speed } = spec.behavior
        {
            let loc = match &spec.placement {
                Placement::Lane(lp) => {
                    let road = self
                        .map
                        .road_index(&lp.road_id)
                        .expect("lane_pose checked the road");
                    let section = self.map.section_at(road, lp.s);
                    self.map
                        .graph()
                        .node_id(road, section, lp.lane_id)
                        .map(|node| (node, lp.s, lp.offset))
                }
                Placement::Pose(_) => lane
                    .as_ref()
                    .and_then(|l| l.node.map(|n| (n, l.s, l.offset))),
            };
            let Some((node, s, offset)) = loc else {
                return Err(WorldError::invalid(
                    "behavior",
                    "a lane-following vehicle must be placed on a drivable lane",
                ));
            };
            let n = self.map.graph().node(node);
            let snapped = self
                .map
                .lane_point(n.road, n.section, n.lane_id, s, offset)
                .expect("graph nodes are lanes");
            pose = snapped;
            lane = self.map.locate_with_hint(pose.xy(), Some(hint(&pose)));
            follow = Some(Follow {
                node,
                s,
                offset,
                plan: VecDeque::new(),
                reserved: Vec::new(),
                passed: Vec::new(),
                target_speed,
                served_stop: None,
                lane_change: None,
            });
        }
        let mut walk = None;
        if spec.kind == ActorKind::Pedestrian
            && matches!(spec.behavior, Behavior::LaneFollow { .. })
            && let Some(l) = lane.as_ref().filter(|l| l.lane_type.is_walkable())
            && let Some(wk) = walkers::Walker::new(&self.map, l.road, l.lane_id, l.s, pose.yaw)
        {
            if let Some(p) = walkers::lane_centre(&self.map, wk.road, wk.lane_id, wk.s, wk.dir) {
                pose = p;
            }
            walk = Some(wk);
        }
        let id = self.next_actor;
        let speed = if spec.kind == ActorKind::Static || spec.behavior == Behavior::Stopped {
            0.0
        } else {
            spec.speed
        };
        let dir = Vec2::from_angle(pose.yaw);
        let actor = Actor {
            id,
            kind: spec.kind,
            role: spec.role,
            name: spec.name,
            dims,
            behavior: spec.behavior,
            pose,
            speed,
            velocity: [dir.x * speed, dir.y * speed, 0.0],
            accel: [0.0; 3],
            yaw_rate: 0.0,
            control: VehicleControl::default(),
            lane,
            follow,
            walk,
            rng: Rng::new(self.seed ^ id.wrapping_mul(0xA24B_AED4_963E_E407)),
            since_stand: f64::INFINITY,
            scripted_accel: 0.0,
        };
        let obb = actor.obb();
        if let Some(other) = self.actors.iter().find(|o| o.obb().overlaps(&obb)) {
            return Err(WorldError::invalid(
                "placement",
                format!(
                    "the actor would overlap actor {} ({})",
                    other.id, other.name
                ),
            ));
        }
        self.next_actor += 1;
        self.actors.push(actor);
        Ok((id, pose))
    }

    /// Spawns `vehicles` lane-following NPC vehicles on drivable lanes
    /// (outside junctions, at least 8 m apart, standing) and `pedestrians`
    /// sidewalk-walking pedestrians (1.0–1.6 m/s, either direction), at
    /// places drawn from `seed`. Returns the new ids, vehicles first. All or
    /// nothing: when the map has no room for them all, nothing is spawned.
    pub fn spawn_traffic(
        &mut self,
        vehicles: u32,
        pedestrians: u32,
        seed: u64,
    ) -> Result<Vec<ActorId>, WorldError> {
        const MAX: u32 = 10_000;
        if vehicles > MAX || pedestrians > MAX {
            return Err(WorldError::invalid(
                "spawn_traffic",
                format!("at most {MAX} vehicles and {MAX} pedestrians at once"),
            ));
        }
        let map = Arc::clone(&self.map);
        let g = map.graph();
        let mut rng = Rng::new(seed ^ 0x5EED_7A4F_F1C0_0001);
        let unit = |rng: &mut Rng| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let lanes: Vec<u32> = (0..g.nodes().len() as u32)
            .filter(|&n| {
                let nd = g.node(n);
                nd.junction.is_none() && nd.length >= 14.0
            })
            .collect();
        let mut walks = Vec::new();
        for (ri, r) in map.roads().iter().enumerate() {
            if r.junction.is_some() {
                continue;
            }
            for (si, ls) in r.lane_sections.iter().enumerate() {
                let (a, b) = map.section_range(ri, si);
                if b - a < 4.0 {
                    continue;
                }
                for l in ls.side_lanes().filter(|l| l.kind.is_walkable()) {
                    walks.push((ri, l.id, a, b));
                }
            }
        }
        let mut ids = Vec::new();
        let undo = |w: &mut Self, ids: &[ActorId]| {
            for &id in ids {
                let _ = w.destroy(id);
            }
        };
        let mut tries = 0u32;
        let mut placed = 0;
        while placed < vehicles {
            tries += 1;
            if lanes.is_empty() || tries > 200 + vehicles * 100 {
                undo(self, &ids);
                return Err(WorldError::invalid(
                    "vehicles",
                    format!("found room for only {placed} of {vehicles} vehicles"),
                ));
            }
            let nd = g.node(lanes[rng.below(lanes.len())]);
            let (a, b) = (nd.s_start + 4.0, nd.s_end - 6.0);
            if b <= a {
                continue;
            }
            let s = a + (b - a) * unit(&mut rng);
            let lp = LanePosition {
                road_id: map.roads()[nd.road].id.clone(),
                lane_id: nd.lane_id,
                s,
                offset: 0.0,
            };
            let Ok(pose) = map.lane_pose(&lp) else {
                continue;
            };
            if self
                .actors
                .iter()
                .any(|o| (o.pose.xy() - pose.xy()).length() < 8.0)
            {
                continue;
            }
            let spec = ActorSpec {
                kind: ActorKind::Vehicle,
                role: "npc".into(),
                name: format!("npc_vehicle_{}", self.next_actor),
                placement: Placement::Lane(lp),
                speed: 0.0,
                dimensions: Dimensions::UNSET,
                behavior: Behavior::LaneFollow { target_speed: 0.0 },
            };
            if let Ok((id, _)) = self.spawn(spec) {
                ids.push(id);
                placed += 1;
            }
        }
        let mut placed = 0;
        let mut tries = 0u32;
        while placed < pedestrians {
            tries += 1;
            if walks.is_empty() || tries > 200 + pedestrians * 100 {
                undo(self, &ids);
                return Err(WorldError::invalid(
                    "pedestrians",
                    format!("found room for only {placed} of {pedestrians} pedestrians"),
                ));
            }
            let (road, lane_id, a, b) = walks[rng.below(walks.len())];
            let s = a + 1.0 + (b - a - 2.0) * unit(&mut rng);
            let dir = if rng.below(2) == 0 { 1.0 } else { -1.0 };
            let Some(pose) = walkers::lane_centre(&map, road, lane_id, s, dir) else {
                continue;
            };
            if self
                .actors
                .iter()
                .any(|o| (o.pose.xy() - pose.xy()).length() < 1.5)
            {
                continue;
            }
            let spec = ActorSpec {
                kind: ActorKind::Pedestrian,
                role: "npc".into(),
                name: format!("npc_pedestrian_{}", self.next_actor),
                placement: Placement::Pose(pose),
                speed: 0.0,
                dimensions: Dimensions::UNSET,
                behavior: Behavior::LaneFollow {
                    target_speed: 1.0 + 0.6 * unit(&mut rng),
                },
            };
            match self.spawn(spec) {
                Ok((id, _)) if self.actors.last().is_some_and(|a| a.walk.is_some()) => {
                    ids.push(id);
                    placed += 1;
                }
                Ok((id, _)) => {
                    let _ = self.destroy(id);
                }
                Err(_) => {}
            }
        }
        Ok(ids)
    }

    /// Removes an actor and its sensors.
    pub fn destroy(&mut self, id: ActorId) -> Result<(), WorldError> {
        let i = self.index_of(id)?;
        self.actors.remove(i);
        self.sensors.retain(|s| s.actor != id);
        self.contacts.retain(|(a, b)| *a != id && *b != id);
        Ok(())
    }

    /// Checks that [`World::set_control`] would accept these controls.
    pub fn check_control(&self, id: ActorId, c: VehicleControl) -> Result<(), WorldError> {
        let i = self.index_of(id)?;
        if !(c.throttle.is_finite() && c.brake.is_finite() && c.steer.is_finite()) {
            return Err(WorldError::invalid(
                "control",
                format!("actor {id}: non-finite control value"),
            ));
        }
        if !self.actors[i].is_external_vehicle() {
            return Err(WorldError::invalid(
                "commands",
                format!("actor {id} is not an externally controlled vehicle"),
            ));
        }
        Ok(())
    }

    /// Sets the controls an externally driven vehicle holds until changed
    /// (values are clamped to their ranges).
    pub fn set_control(&mut self, id: ActorId, c: VehicleControl) -> Result<(), WorldError> {
        self.check_control(id, c)?;
        let i = self.index_of(id)?;
        let a = &mut self.actors[i];
        a.control = VehicleControl {
            throttle: c.throttle.clamp(0.0, 1.0),
            brake: c.brake.clamp(0.0, 1.0),
            steer: c.steer.clamp(-1.0, 1.0),
        };
        Ok(())
    }

    /// Puts a [`Behavior::Scripted`] actor at `pose`, moving along its
    /// heading at `speed` with longitudinal acceleration `accel` held until
    /// the next call. A placement that newly overlaps another actor raises
    /// the collision events a step would.
    pub fn set_state(
        &mut self,
        id: ActorId,
        pose: Pose,
        speed: f64,
        accel: f64,
    ) -> Result<(), WorldError> {
        self.check_state(id, &pose, speed, accel)?;
        let i = self.index_of(id)?;
        let before = self.actors[i].obb();
        let yaw0 = self.actors[i].pose.yaw;
        {
            let a = &mut self.actors[i];
            a.pose = pose;
            a.speed = speed;
            a.scripted_accel = accel;
            let dir = Vec2::from_angle(pose.yaw);
            a.velocity = [dir.x * speed, dir.y * speed, 0.0];
            a.accel = [dir.x * accel, dir.y * accel, 0.0];
            a.yaw_rate = wrap_angle(pose.yaw - yaw0) / self.dt;
            a.lane = self.map.locate_with_hint(
                pose.xy(),
                Some(LocateHint {
                    heading: pose.yaw,
                    road: a.lane.as_ref().map(|l| l.road),
                }),
            );
        }
        let obb = self.actors[i].obb();
        let id = self.actors[i].id;
        for j in 0..self.actors.len() {
            if j == i {
                continue;
            }
            let other = self.actors[j].obb();
            if !obb.overlaps(&other) || before.overlaps(&other) {
                continue;
            }
            let oid = self.actors[j].id;
            let key = (id.min(oid), id.max(oid));
            if self.contacts.insert(key) {
                self.collision_events(i, j);
            }
        }
        Ok(())
    }

    /// Checks that [`World::set_state`] would accept this state.
    pub fn check_state(
        &self,
        id: ActorId,
        pose: &Pose,
        speed: f64,
        accel: f64,
    ) -> Result<(), WorldError> {
        let i = self.index_of(id)?;
        if self.actors[i].behavior != Behavior::Scripted {
            return Err(WorldError::invalid(
                "commands",
                format!("actor {id} is not a scripted actor"),
            ));
        }
        if !pose.is_finite() {
            return Err(WorldError::invalid(
                "state.pose",
                format!("actor {id}: non-finite pose"),
            ));
        }
        if !speed.is_finite() || !(0.0..=MAX_SPEED).contains(&speed) {
            return Err(WorldError::invalid(
                "state.speed",
                format!("actor {id}: must be in [0, {MAX_SPEED}] m/s, got {speed}"),
            ));
        }
        if !accel.is_finite() || accel.abs() > 100.0 {
            return Err(WorldError::invalid(
                "state.acceleration",
                format!("actor {id}: must be within ±100 m/s², got {accel}"),
            ));
        }
        Ok(())
    }

    /// Advances the world one fixed step.
    pub fn step(&mut self) {
        self.frame += 1;
        let dt = self.dt;
        let before: Vec<(Pose, f64, [f64; 3])> = self
            .actors
            .iter()
            .map(|a| (a.pose, a.speed, a.velocity))
            .collect();
        let follow_before: Vec<Option<(u32, f64)>> = self
            .actors
            .iter()
            .map(|a| a.follow.as_ref().map(|f| (f.node, f.s)))
            .collect();
        let accels = traffic::decide(self);
        let map = Arc::clone(&self.map);
        let vehicles: Vec<(Vec2, f64)> = if self.actors.iter().any(|a| a.walk.is_some()) {
            self.actors
                .iter()
                .filter(|a| a.kind == ActorKind::Vehicle)
                .map(|a| {
                    let o = a.obb();
                    (o.centre, o.radius())
                })
                .collect()
        } else {
            Vec::new()
        };
        for (a, acc) in self.actors.iter_mut().zip(accels) {
            match (a.kind, a.behavior) {
                (ActorKind::Static, _) | (_, Behavior::Stopped) => {
                    a.speed = 0.0;
                }
                (ActorKind::Vehicle, Behavior::External) => drive(a, dt),
                (ActorKind::Vehicle, Behavior::LaneFollow { .. }) => {
                    traffic::advance(&map, a, acc, dt)
                }
                (ActorKind::Pedestrian, Behavior::LaneFollow { target_speed }) => {
                    if a.walk.is_some() {
                        walkers::advance(&map, a, target_speed, dt, &vehicles);
                    } else {
                        a.speed = target_speed;
                        walk(a, dt);
                    }
                }
                (ActorKind::Pedestrian, Behavior::External) => walk(a, dt),
                (_, Behavior::Scripted) => {
                    a.speed = (a.speed + a.scripted_accel * dt).max(0.0);
                    walk(a, dt);
                }
            }
        }
        self.resolve_collisions(&before, &follow_before);
        self.npc_violations(&follow_before);
        for (i, (pose0, _, vel0)) in before.iter().enumerate() {
            let a = &mut self.actors[i];
            let dir = Vec2::from_angle(a.pose.yaw);
            let vz = (a.pose.z - pose0.z) / dt;
            a.velocity = [dir.x * a.speed, dir.y * a.speed, vz];
            a.accel = std::array::from_fn(|k| (a.velocity[k] - vel0[k]) / dt);
            a.yaw_rate = wrap_angle(a.pose.yaw - pose0.yaw) / dt;
        }
        self.update_lanes(&before);
    }

    /// Collision events and the blocking response.
    fn resolve_collisions(
        &mut self,
        before: &[(Pose, f64, [f64; 3])],
        follow_before: &[Option<(u32, f64)>],
    ) {
        let n = self.actors.len();
        let obb_before: Vec<Obb> = (0..n)
            .map(|i| {
                let a = &self.actors[i];
                let fwd = Vec2::from_angle(before[i].0.yaw);
                let p = before[i].0;
                Obb::new(
                    p.xy() + fwd * a.dims.centre_offset(a.kind),
                    p.yaw,
                    a.dims.length,
                    a.dims.width,
                    p.z,
                    a.dims.height,
                )
            })
            .collect();
        let mut obb: Vec<Obb> = self.actors.iter().map(Actor::obb).collect();
        let moved: Vec<bool> = (0..n).map(|i| self.actors[i].pose != before[i].0).collect();
        let mut contacts = BTreeSet::new();
        let mut reverted = vec![false; n];
        // Round 0 blocks only external vehicles; if overlaps remain, later
        // rounds block every actor that moved into one.
        let mut round = 0;
        loop {
            let mut to_revert = vec![false; n];
            let mut overlap = false;
            for i in 0..n {
                for j in i + 1..n {
                    if !(moved[i] || moved[j])
                        || !obb[i].overlaps(&obb[j])
                        || obb_before[i].overlaps(&obb_before[j])
                    {
                        continue;
                    }
                    overlap = true;
                    let key = (self.actors[i].id, self.actors[j].id);
                    if contacts.insert(key) && !self.contacts.contains(&key) {
                        self.collision_events(i, j);
                    }
                    for k in [i, j] {
                        if moved[k]
                            && !reverted[k]
                            && (round > 0 || self.actors[k].is_external_vehicle())
                        {
                            to_revert[k] = true;
                        }
                    }
                }
            }
            if !to_revert.contains(&true) {
                if overlap && round == 0 {
                    round = 1;
                    continue;
                }
                break;
            }
            for k in 0..n {
                if to_revert[k] {
                    let a = &mut self.actors[k];
                    a.pose = before[k].0;
                    a.speed = 0.0;
                    if let (Some(f), Some((node, s))) = (&mut a.follow, follow_before[k]) {
                        traffic::restore(f, node, s);
                    }
                    obb[k] = obb_before[k];
                    reverted[k] = true;
                }
            }
            round += 1;
            if round > n + 2 {
                break;
            }
        }
        // A pair stays in contact (raising no new event) until it has
        // really separated, so a blocked vehicle pushing on does not collide
        // afresh every few steps.
        for &(a, b) in &self.contacts {
            if let (Ok(i), Ok(j)) = (self.index_of(a), self.index_of(b))
                && obb[i]
                    .grown(CONTACT_MARGIN)
                    .overlaps(&obb[j].grown(CONTACT_MARGIN))
            {
                contacts.insert((a, b));
            }
        }
        self.contacts = contacts;
    }

    /// Red lights and stop signs passed by lane-following vehicles.
    fn npc_violations(&mut self, follow_before: &[Option<(u32, f64)>]) {
        if self.map.signals().is_empty() {
            return;
        }
        let time = self.time();
        let mut found = Vec::new();
        for (i, a) in self.actors.iter().enumerate() {
            let (Some(f), Some(b)) = (&a.follow, follow_before[i]) else {
                continue;
            };
            traffic::crossed_stops(&self.map, b, &f.passed, (f.node, f.s), |si| {
                if self.violates(si, time, f.served_stop) {
                    found.push((a.id, si));
                }
            });
        }
        for (actor, si) in found {
            self.push_violation(actor, si);
        }
    }

    /// Whether passing signal `si` at `time` breaks it.
    fn violates(&self, si: usize, time: f64, served: Option<u32>) -> bool {
        let sigs = self.map.signals();
        match sigs.state(si, time) {
            LightState::Red => true,
            LightState::Off => sigs.all()[si].kind == SignalKind::Stop && served != Some(si as u32),
            _ => false,
        }
    }

    fn push_violation(&mut self, actor: ActorId, si: usize) {
        let sig = &self.map.signals().all()[si];
        self.events.push(Event {
            frame: self.frame,
            time: self.time(),
            kind: EventKind::SignalViolation {
                actor,
                signal_id: sig.id.clone(),
                kind: sig.kind,
            },
        });
    }

    fn collision_events(&mut self, i: usize, j: usize) {
        let (a, b) = (&self.actors[i], &self.actors[j]);
        // Velocities are refreshed after collisions; the speeds along the
        // headings are already this step's.
        let va = Vec2::from_angle(a.pose.yaw) * a.speed;
        let vb = Vec2::from_angle(b.pose.yaw) * b.speed;
        let rel = (va - vb).length();
        let (frame, time) = (self.frame, self.time());
        for (x, y) in [(a, b), (b, a)] {
            self.events.push(Event {
                frame,
                time,
                kind: EventKind::Collision {
                    actor: x.id,
                    other: y.id,
                    other_kind: y.kind,
                    relative_speed: rel,
                },
            });
        }
    }

    fn update_lanes(&mut self, before: &[(Pose, f64, [f64; 3])]) {
        let (frame, time) = (self.frame, self.time());
        for (i, (pose0, speed0, _)) in before.iter().enumerate() {
            let a = &self.actors[i];
            if a.pose == *pose0 && a.lane.is_some() {
                if a.speed < stopsigns::STAND_SPEED {
                    self.actors[i].since_stand = 0.0;
                }
                continue;
            }
            let walked = a
                .walk
                .as_ref()
                .and_then(|w| walkers::location(&self.map, w));
            let new = match &a.follow {
                Some(f) => traffic::location(&self.map, f),
                None if walked.is_some() => walked,
                None => self.map.locate_with_hint(
                    a.pose.xy(),
                    Some(LocateHint {
                        heading: a.pose.yaw,
                        road: a.lane.as_ref().map(|l| l.road),
                    }),
                ),
            };
            if a.is_external_vehicle() {
                let was_on = a.lane.as_ref().is_some_and(|l| l.lane_type.is_drivable());
                let is_on = new.as_ref().is_some_and(|l| l.lane_type.is_drivable());
                if let (Some(p), Some(n)) = (&a.lane, &new)
                    && p.road == n.road
                    && p.lane_id != n.lane_id
                {
                    self.events.push(Event {
                        frame,
                        time,
                        kind: EventKind::LaneInvasion {
                            actor: a.id,
                            road_id: self.map.roads()[n.road].id.clone(),
                            from_lane: p.lane_id,
                            to_lane: n.lane_id,
                        },
                    });
                }
                let a = &self.actors[i];
                if was_on && !is_on {
                    self.events.push(Event {
                        frame,
                        time,
                        kind: EventKind::OffRoad { actor: a.id },
                    });
                }
            }
            self.free_vehicle_violations(i, pose0, *speed0, new.as_ref());
            let a = &mut self.actors[i];
            if let Some(l) = &new
                && a.follow.is_none()
            {
                a.pose.z = self.map.elevation(l.road, l.s);
            }
            a.lane = new;
        }
    }

    /// Steps `n` times holding `commands` for the external vehicles, and
    /// returns the snapshot after the last step.
    pub fn step_with(
        &mut self,
        n: u32,
        commands: &[(ActorId, VehicleControl)],
    ) -> Result<Snapshot, WorldError> {
        for &(id, c) in commands {
            self.set_control(id, c)?;
        }
        for _ in 0..n.max(1) {
            self.step();
        }
        Ok(self.snapshot())
    }

    /// The state of one actor.
    pub fn actor_state(&self, id: ActorId) -> Result<ActorState, WorldError> {
        Ok(self.state_of(&self.actors[self.index_of(id)?]))
    }

    fn state_of(&self, a: &Actor) -> ActorState {
        let lane = match &a.lane {
            Some(l) => LaneState {
                on_road: l.lane_type.is_drivable(),
                road_id: self.map.roads()[l.road].id.clone(),
                lane_id: l.lane_id,
                s: l.s,
                offset: l.offset,
                lane_type: l.lane_type.as_str().to_owned(),
            },
            None => LaneState::default(),
        };
        ActorState {
            id: a.id,
            kind: a.kind,
            role: a.role.clone(),
            name: a.name.clone(),
            pose: a.pose,
            velocity: a.velocity,
            acceleration: a.accel,
            yaw_rate: a.yaw_rate,
            speed: a.speed,
            dimensions: a.dims,
            lane,
        }
    }

    /// Every actor's state, in id order.
    pub fn actor_states(&self) -> Vec<ActorState> {
        self.actors.iter().map(|a| self.state_of(a)).collect()
    }

    /// The world state now, with the events since the previous snapshot.
    pub fn snapshot(&mut self) -> Snapshot {
        Snapshot {
            frame: self.frame,
            time: self.time(),
            actors: self.actor_states(),
            events: std::mem::take(&mut self.events),
            signals: self.signal_states(),
        }
    }

    /// Every traffic light and sign with its state now.
    pub fn signal_states(&self) -> Vec<SignalState> {
        let sigs = self.map.signals();
        let time = self.time();
        let roads = self.map.roads();
        sigs.all()
            .iter()
            .enumerate()
            .map(|(i, sg)| SignalState {
                id: sg.id.clone(),
                kind: sg.kind,
                state: sigs.state(i, time),
                position: sg.position,
                facing: sg.facing,
                road_id: roads[sg.road].id.clone(),
                junction_id: sg
                    .junction
                    .map(|j| self.map.opendrive().junctions[j].id.clone())
                    .unwrap_or_default(),
                stop_lines: sg
                    .stop_lines
                    .iter()
                    .map(|st| StopLineState {
                        road_id: roads[st.road].id.clone(),
                        lane_id: st.lane_id,
                        s: st.s,
                        position: [st.pos.x, st.pos.y, self.map.elevation(st.road, st.s)],
                        heading: st.heading,
                        width: st.width,
                    })
                    .collect(),
            })
            .collect()
    }

    // ------------------------------------------------------------ sensors

    /// Attaches a sensor to an actor; names are unique per world.
    pub fn attach_sensor(
        &mut self,
        actor: ActorId,
        name: &str,
        spec: SensorSpec,
    ) -> Result<SensorId, WorldError> {
        self.index_of(actor)?;
        if name.is_empty() {
            return Err(WorldError::invalid("name", "must not be empty"));
        }
        if self.sensors.iter().any(|s| s.name == name) {
            return Err(WorldError::invalid(
                "name",
                format!("a sensor named \"{name}\" already exists"),
            ));
        }
        let kind = match spec {
            SensorSpec::Camera(c) => SensorKind::Camera(Box::new(Camera::new(c)?)),
            SensorSpec::BirdsEye(b) => {
                b.validate()?;
                SensorKind::BirdsEye(b)
            }
        };
        let id = self.next_sensor;
        self.next_sensor += 1;
        self.sensors.push(Sensor {
            id,
            name: name.to_owned(),
            actor,
            kind,
        });
        Ok(id)
    }

    /// Boxes of every actor, for the renderers.
    pub fn boxes(&self) -> Vec<BoxShape> {
        self.actors
            .iter()
            .map(|a| {
                let o = a.obb();
                BoxShape {
                    id: a.id,
                    kind: a.kind,
                    centre: o.centre,
                    z0: a.pose.z,
                    yaw: a.pose.yaw,
                    length: a.dims.length,
                    width: a.dims.width,
                    height: a.dims.height,
                    colour: None,
                    lit: false,
                }
            })
            .collect()
    }

    /// Renders one sensor.
    pub fn render(&self, sensor: SensorId) -> Result<SensorFrame, WorldError> {
        let s = self
            .sensors
            .iter()
            .find(|s| s.id == sensor)
            .ok_or(WorldError::UnknownSensor(sensor))?;
        let boxes = self.boxes();
        Ok(self.render_one(s, &boxes))
    }

    fn render_one(&self, s: &Sensor, boxes: &[BoxShape]) -> SensorFrame {
        let actor = &self.actors[self
            .index_of(s.actor)
            .expect("sensors are removed with their actor")];
        let image = match &s.kind {
            SensorKind::Camera(c) => {
                let mut all = crate::render::signal_boxes(&self.map, self.time());
                all.extend_from_slice(boxes);
                c.render(&self.map, &actor.pose, &all, Some(actor.id))
            }
            SensorKind::BirdsEye(b) => {
                let mut all = crate::render::stop_line_boxes(&self.map, self.time());
                all.extend_from_slice(boxes);
                b.render(&self.map, &actor.pose, &all, actor.id)
            }
        };
        SensorFrame {
            sensor: s.id,
            name: s.name.clone(),
            actor: actor.id,
            frame: self.frame,
            time: self.time(),
            image,
        }
    }

    /// Renders every sensor, in attachment order.
    pub fn render_all(&self) -> Vec<SensorFrame> {
        let boxes = self.boxes();
        self.sensors
            .iter()
            .map(|s| self.render_one(s, &boxes))
            .collect()
    }
}

/// Kinematic bicycle about the rear axle under the actor's controls.
fn drive(a: &mut Actor, dt: f64) {
    let c = a.control;
    let v = a.speed;
    let mut acc = c.throttle * MAX_ACCEL;
    if v > 0.0 {
        acc -= c.brake * MAX_BRAKE + ROLLING + DRAG * v * v;
    }
    let mut v1 = v + acc * dt;
    if v >= 0.0 && v1 < 0.0 {
        v1 = 0.0;
    }
    let d = 0.5 * (v + v1) * dt;
    let delta = c.steer * MAX_STEER;
    let dth = d * delta.tan() / a.dims.wheelbase.max(0.1);
    let half = 0.5 * dth;
    let chord = if half.abs() < 1e-9 {
        d
    } else {
        d * half.sin() / half
    };
    let dir = Vec2::from_angle(a.pose.yaw + half);
    a.pose.x += chord * dir.x;
    a.pose.y += chord * dir.y;
    a.pose.yaw = wrap_angle(a.pose.yaw + dth);
    a.speed = v1;
}

/// Straight-line walking at the actor's speed.
fn walk(a: &mut Actor, dt: f64) {
    let dir = Vec2::from_angle(a.pose.yaw);
    a.pose.x += dir.x * a.speed * dt;
    a.pose.y += dir.y * a.speed * dt;
}

#[cfg(test)]
mod tests;
