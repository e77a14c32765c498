//! The collision criterion: by the kind of the other actor, once per
//! 5 m / 5 s, none while the ego stands still.

use atlas_proto::scenario as pb;
use atlas_proto::sim;

use super::{
    Category, EgoSample, Evaluator, PENALTY_COLLISION_LAYOUT, PENALTY_COLLISION_PEDESTRIAN,
    PENALTY_COLLISION_VEHICLE,
};

impl Evaluator {
    pub(super) fn collision(
        &mut self,
        time: f64,
        ego: EgoSample,
        c: &sim::CollisionEvent,
    ) -> Option<pb::Infraction> {
        // An ego standing still is not at fault.
        if ego.speed.abs() < self.limits.blocked_speed
            && c.relative_speed < self.limits.blocked_speed
        {
            return None;
        }
        if let Some((t, x, y)) = self.last_collision
            && (time - t < self.limits.collision_dedup_s
                || (ego.x - x).hypot(ego.y - y) < self.limits.collision_dedup_m)
        {
            return None;
        }
        self.last_collision = Some((time, ego.x, ego.y));
        let (category, what, mult) = match sim::ActorKind::try_from(c.other_kind) {
            Ok(sim::ActorKind::Pedestrian) => (
                Category::CollisionsPedestrian,
                "pedestrian",
                PENALTY_COLLISION_PEDESTRIAN,
            ),
            Ok(sim::ActorKind::Vehicle) => (
                Category::CollisionsVehicle,
                "vehicle",
                PENALTY_COLLISION_VEHICLE,
            ),
            _ => (
                Category::CollisionsLayout,
                "static object",
                PENALTY_COLLISION_LAYOUT,
            ),
        };
        self.penalty *= mult;
        let inf = pb::Infraction {
            category: category.as_str().into(),
            message: format!(
                "Agent collided against {what} (actor {}) at {:.1} m/s",
                c.other_actor_id, c.relative_speed
            ),
            sim_time_s: time,
            x: ego.x,
            y: ego.y,
        };
        self.infractions.push(inf.clone());
        Some(inf)
    }
}
