//! Putting actors into a world and taking them out: one actor from its
//! specification (checked, snapped onto its lane or sidewalk when it
//! follows one, never overlapping another), seeded NPC traffic spread over
//! the map, and removal.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{
    Actor, ActorId, ActorKind, ActorSpec, Behavior, Dimensions, Follow, MAX_SPEED, Placement,
    VehicleControl, World, walkers,
};
use crate::error::WorldError;
use crate::map::{LaneLocation, LanePosition, LocateHint};
use crate::math::{Pose, Rng, Vec2};

/// At most this many vehicles, and as many pedestrians, per
/// [`World::spawn_traffic`] call.
const MAX_TRAFFIC: u32 = 10_000;

fn hint(pose: &Pose) -> LocateHint {
    LocateHint {
        heading: pose.yaw,
        road: None,
    }
}

/// A uniform draw in [0, 1).
fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Checks a specification's numbers and combinations; returns its
/// dimensions with the kind's defaults filled in.
fn check_spec(spec: &ActorSpec) -> Result<Dimensions, WorldError> {
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
    Ok(dims)
}

impl World {
    /// Places an actor; returns its id and the pose it was placed at.
    pub fn spawn(&mut self, spec: ActorSpec) -> Result<(ActorId, Pose), WorldError> {
        let dims = check_spec(&spec)?;
        let mut pose = match &spec.placement {
            Placement::Pose(p) => {
                if !p.is_finite() {
                    return Err(WorldError::invalid("pose", "has a non-finite component"));
                }
                *p
            }
            Placement::Lane(lp) => self.map.lane_pose(lp)?,
        };
        let mut lane = self.map.locate_with_hint(pose.xy(), Some(hint(&pose)));
        let mut follow = None;
        if spec.kind == ActorKind::Vehicle
            && let Behavior::LaneFollow { target_speed } = spec.behavior
        {
            let (f, snapped) = self.lane_follower(&spec.placement, lane.as_ref(), target_speed)?;
            pose = snapped;
            lane = self.map.locate_with_hint(pose.xy(), Some(hint(&pose)));
            follow = Some(f);
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

    /// The lane-following state of a vehicle placed at `placement` (found
    /// at `lane`), and its pose snapped onto the lane-graph node it starts
    /// on.
    fn lane_follower(
        &self,
        placement: &Placement,
        lane: Option<&LaneLocation>,
        target_speed: f64,
    ) -> Result<(Follow, Pose), WorldError> {
        let loc = match placement {
            Placement::Lane(lp) => {
                let road = self
                    .map
                    .road_index(&lp.road_id)
                    .expect("lane_pose checked the road");
                let section = self.map.section_with_lane(road, lp.s, lp.lane_id);
                self.map
                    .graph()
                    .node_id(road, section, lp.lane_id)
                    .map(|node| (node, lp.s, lp.offset))
            }
            Placement::Pose(_) => lane.and_then(|l| l.node.map(|n| (n, l.s, l.offset))),
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
        let follow = Follow {
            node,
            s,
            offset,
            plan: VecDeque::new(),
            reserved: Vec::new(),
            passed: Vec::new(),
            target_speed,
            served_stop: None,
            lane_change: None,
        };
        Ok((follow, snapped))
    }

    /// Spawns `vehicles` lane-following NPC vehicles on drivable lanes
    /// (outside junctions, at least 8 m apart, standing) and `pedestrians`
    /// sidewalk-walking pedestrians (1.0–1.6 m/s, either direction), at
    /// places drawn from `seed`. Returns the new ids, vehicles first. All or
    /// nothing: when the map has no room for them all, nothing is spawned
    /// (see [`World::spawn_traffic_fitting`] for what fits).
    pub fn spawn_traffic(
        &mut self,
        vehicles: u32,
        pedestrians: u32,
        seed: u64,
    ) -> Result<Vec<ActorId>, WorldError> {
        let t = self.spawn_traffic_fitting(vehicles, pedestrians, seed)?;
        if t.vehicles < vehicles || t.pedestrians < pedestrians {
            for &id in &t.ids {
                let _ = self.destroy(id);
            }
            let (what, placed, count) = if t.vehicles < vehicles {
                ("vehicles", t.vehicles, vehicles)
            } else {
                ("pedestrians", t.pedestrians, pedestrians)
            };
            return Err(WorldError::invalid(
                what,
                format!("found room for only {placed} of {count} {what}"),
            ));
        }
        Ok(t.ids)
    }

    /// As [`World::spawn_traffic`], placing what fits: on a map without
    /// room (or sidewalks) for them all, as many vehicles and pedestrians as
    /// could be placed, and how many of each.
    pub fn spawn_traffic_fitting(
        &mut self,
        vehicles: u32,
        pedestrians: u32,
        seed: u64,
    ) -> Result<Traffic, WorldError> {
        if vehicles > MAX_TRAFFIC || pedestrians > MAX_TRAFFIC {
            return Err(WorldError::invalid(
                "spawn_traffic",
                format!("at most {MAX_TRAFFIC} vehicles and {MAX_TRAFFIC} pedestrians at once"),
            ));
        }
        let mut rng = Rng::new(seed ^ 0x5EED_7A4F_F1C0_0001);
        let mut ids = Vec::new();
        let v = self.spawn_npc_vehicles(vehicles, &mut rng, &mut ids);
        let p = self.spawn_npc_pedestrians(pedestrians, &mut rng, &mut ids);
        Ok(Traffic {
            ids,
            vehicles: v,
            pedestrians: p,
        })
    }

    /// Spawns up to `count` standing lane-following vehicles at least 8 m
    /// from any actor, on lanes outside junctions; their ids go to `ids`.
    /// Returns how many were placed.
    fn spawn_npc_vehicles(&mut self, count: u32, rng: &mut Rng, ids: &mut Vec<ActorId>) -> u32 {
        let map = Arc::clone(&self.map);
        let g = map.graph();
        let lanes: Vec<u32> = (0..g.nodes().len() as u32)
            .filter(|&n| {
                let nd = g.node(n);
                nd.junction.is_none() && nd.length >= 14.0
            })
            .collect();
        let mut tries = 0u32;
        let mut placed = 0;
        while placed < count {
            tries += 1;
            if lanes.is_empty() || tries > 200 + count * 100 {
                return placed;
            }
            let nd = g.node(lanes[rng.below(lanes.len())]);
            let (a, b) = (nd.s_start + 4.0, nd.s_end - 6.0);
            if b <= a {
                continue;
            }
            let s = a + (b - a) * unit(rng);
            let lp = LanePosition {
                road_id: map.roads()[nd.road].id.clone(),
                lane_id: nd.lane_id,
                s,
                offset: 0.0,
            };
            let Ok(pose) = map.lane_pose(&lp) else {
                continue;
            };
            if self.crowded(&pose, 8.0) {
                continue;
            }
            let spec = self.npc_spec(
                ActorKind::Vehicle,
                "vehicle",
                Placement::Lane(lp),
                Behavior::LaneFollow { target_speed: 0.0 },
            );
            if let Ok((id, _)) = self.spawn(spec) {
                ids.push(id);
                placed += 1;
            }
        }
        placed
    }

    /// Spawns up to `count` pedestrians walking the sidewalks of roads
    /// outside junctions, at least 1.5 m from any actor; their ids go to
    /// `ids`. Returns how many were placed.
    fn spawn_npc_pedestrians(&mut self, count: u32, rng: &mut Rng, ids: &mut Vec<ActorId>) -> u32 {
        let map = Arc::clone(&self.map);
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
        let mut placed = 0;
        let mut tries = 0u32;
        while placed < count {
            tries += 1;
            if walks.is_empty() || tries > 200 + count * 100 {
                return placed;
            }
            let (road, lane_id, a, b) = walks[rng.below(walks.len())];
            let s = a + 1.0 + (b - a - 2.0) * unit(rng);
            let dir = if rng.below(2) == 0 { 1.0 } else { -1.0 };
            let Some(pose) = walkers::lane_centre(&map, road, lane_id, s, dir) else {
                continue;
            };
            if self.crowded(&pose, 1.5) {
                continue;
            }
            let spec = self.npc_spec(
                ActorKind::Pedestrian,
                "pedestrian",
                Placement::Pose(pose),
                Behavior::LaneFollow {
                    target_speed: 1.0 + 0.6 * unit(rng),
                },
            );
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
        placed
    }

    /// Whether an actor stands within `d` metres of `at`.
    fn crowded(&self, at: &Pose, d: f64) -> bool {
        self.actors
            .iter()
            .any(|o| (o.pose.xy() - at.xy()).length() < d)
    }

    /// A standing NPC of `kind`, named `npc_<noun>_<the id it will get>`.
    fn npc_spec(
        &self,
        kind: ActorKind,
        noun: &str,
        placement: Placement,
        behavior: Behavior,
    ) -> ActorSpec {
        ActorSpec {
            kind,
            role: "npc".into(),
            name: format!("npc_{noun}_{}", self.next_actor),
            placement,
            speed: 0.0,
            dimensions: Dimensions::UNSET,
            behavior,
        }
    }

    /// Removes an actor and its sensors.
    pub fn destroy(&mut self, id: ActorId) -> Result<(), WorldError> {
        let i = self.index_of(id)?;
        self.actors.remove(i);
        self.sensors.retain(|s| s.actor != id);
        self.contacts.retain(|(a, b)| *a != id && *b != id);
        Ok(())
    }
}

/// Background traffic as placed by [`World::spawn_traffic_fitting`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// The new actors, vehicles first.
    pub ids: Vec<ActorId>,
    /// How many vehicles and pedestrians were placed.
    pub vehicles: u32,
    pub pedestrians: u32,
}
