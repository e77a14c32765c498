//! Evaluation criteria and scoring, following the CARLA Leaderboard 2.0.
//!
//! Route completion is the share of the route travelled; every infraction
//! multiplies the penalty; the driving score is their product. Route
//! deviation, a blocked ego and the route timeout end a run.

use atlas_proto::scenario as pb;
use atlas_proto::sim;

use crate::geometry::Polyline;

/// Penalty multipliers of the Leaderboard.
pub const PENALTY_COLLISION_PEDESTRIAN: f64 = 0.50;
pub const PENALTY_COLLISION_VEHICLE: f64 = 0.60;
pub const PENALTY_COLLISION_LAYOUT: f64 = 0.65;

/// Every infraction category of a Leaderboard record, in its order.
pub const CATEGORIES: [&str; 12] = [
    "collisions_layout",
    "collisions_pedestrian",
    "collisions_vehicle",
    "red_light",
    "stop_infraction",
    "outside_route_lanes",
    "min_speed_infractions",
    "yield_emergency_vehicle_infractions",
    "scenario_timeouts",
    "route_dev",
    "vehicle_blocked",
    "route_timeout",
];

/// Why a run ended early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    RouteDeviation,
    Blocked,
    Timeout,
    PolicyTerminated,
}

impl Failure {
    fn status(self) -> &'static str {
        match self {
            Failure::RouteDeviation => "Failed - Agent deviated from the route",
            Failure::Blocked => "Failed - Agent got blocked",
            Failure::Timeout => "Failed - Agent timed out",
            Failure::PolicyTerminated => "Failed - Agent terminated the session",
        }
    }
}

/// Tunables of the criteria (Leaderboard values by default).
#[derive(Clone, Debug)]
pub struct Limits {
    pub timeout_s: f64,
    pub blocked_s: f64,
    pub deviation_m: f64,
    pub blocked_speed: f64,
    pub collision_dedup_m: f64,
    pub collision_dedup_s: f64,
}

impl Limits {
    pub fn new(timeout_s: f64, blocked_s: f64) -> Self {
        Self {
            timeout_s,
            blocked_s,
            deviation_m: 30.0,
            blocked_speed: 0.1,
            collision_dedup_m: 5.0,
            collision_dedup_s: 5.0,
        }
    }
}

/// What the ego looks like at one snapshot.
#[derive(Clone, Copy, Debug)]
pub struct EgoSample {
    pub time: f64,
    pub x: f64,
    pub y: f64,
    pub speed: f64,
}

/// Running state of all criteria over one run.
pub struct Evaluator {
    route: Polyline,
    limits: Limits,
    progress_s: f64,
    segment: usize,
    completed: bool,
    failure: Option<Failure>,
    infractions: Vec<pb::Infraction>,
    last_collision: Option<(f64, f64, f64)>,
    stopped_since: Option<f64>,
    penalty: f64,
}

/// How far ahead of the last progress point the route search looks, metres.
const PROGRESS_WINDOW_M: f64 = 25.0;

impl Evaluator {
    pub fn new(route: Polyline, limits: Limits) -> Self {
        Self {
            route,
            limits,
            progress_s: 0.0,
            segment: 0,
            completed: false,
            failure: None,
            infractions: Vec::new(),
            last_collision: None,
            stopped_since: None,
            penalty: 1.0,
        }
    }

    pub fn route(&self) -> &Polyline {
        &self.route
    }

    /// Arc length of the ego's progress along the route.
    pub fn progress(&self) -> f64 {
        self.progress_s
    }

    /// Route completion in percent (100 once completed).
    pub fn completion(&self) -> f64 {
        if self.completed {
            return 100.0;
        }
        let len = self.route.length();
        if len <= 0.0 {
            return 0.0;
        }
        (100.0 * self.progress_s / len).clamp(0.0, 100.0)
    }

    /// True once the run is over (completed or failed).
    pub fn done(&self) -> bool {
        self.completed || self.failure.is_some()
    }

    pub fn infractions(&self) -> &[pb::Infraction] {
        &self.infractions
    }

    /// Records that the policy ended the session.
    pub fn terminate(&mut self) {
        if !self.done() {
            self.failure = Some(Failure::PolicyTerminated);
        }
    }

    /// Feeds one snapshot; returns the infractions it raised.
    pub fn update(
        &mut self,
        ego: EgoSample,
        ego_id: u64,
        events: &[sim::Event],
    ) -> Vec<pb::Infraction> {
        let mut raised = Vec::new();
        if self.done() {
            return raised;
        }
        // Progress: project within a window ahead of the last progress, so a
        // route that passes the same place twice is credited in order.
        let ahead = self.route.segment_at(self.progress_s + PROGRESS_WINDOW_M) + 1;
        let proj = self
            .route
            .project_range((ego.x, ego.y), self.segment, ahead);
        if proj.distance <= self.limits.deviation_m && proj.s > self.progress_s {
            self.progress_s = proj.s;
            self.segment = proj.segment;
        }

        for ev in events {
            if let Some(sim::event::Kind::Collision(c)) = &ev.kind
                && c.actor_id == ego_id
                && let Some(inf) = self.collision(ev.sim_time_s, ego, c)
            {
                raised.push(inf);
            }
        }

        let len = self.route.length();
        let (lx, ly) = self.route.last();
        if self.progress_s > 0.99 * len && (ego.x - lx).hypot(ego.y - ly) < 10.0 {
            self.completed = true;
            return raised;
        }
        let dist = self.route.project((ego.x, ego.y)).distance;
        if dist > self.limits.deviation_m {
            self.fail(
                Failure::RouteDeviation,
                "route_dev",
                format!("Agent deviated from the route by {dist:.1} m"),
                ego,
                &mut raised,
            );
            return raised;
        }
        if ego.speed.abs() < self.limits.blocked_speed {
            let since = *self.stopped_since.get_or_insert(ego.time);
            if ego.time - since >= self.limits.blocked_s {
                self.fail(
                    Failure::Blocked,
                    "vehicle_blocked",
                    format!("Agent got blocked for {:.0} s", ego.time - since),
                    ego,
                    &mut raised,
                );
                return raised;
            }
        } else {
            self.stopped_since = None;
        }
        if ego.time >= self.limits.timeout_s {
            self.fail(
                Failure::Timeout,
                "route_timeout",
                format!("Route timeout after {:.0} s", ego.time),
                ego,
                &mut raised,
            );
        }
        raised
    }

    fn fail(
        &mut self,
        why: Failure,
        category: &str,
        message: String,
        ego: EgoSample,
        raised: &mut Vec<pb::Infraction>,
    ) {
        self.failure = Some(why);
        let inf = pb::Infraction {
            category: category.into(),
            message,
            sim_time_s: ego.time,
            x: ego.x,
            y: ego.y,
        };
        self.infractions.push(inf.clone());
        raised.push(inf);
    }

    fn collision(
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
                "collisions_pedestrian",
                "pedestrian",
                PENALTY_COLLISION_PEDESTRIAN,
            ),
            Ok(sim::ActorKind::Vehicle) => {
                ("collisions_vehicle", "vehicle", PENALTY_COLLISION_VEHICLE)
            }
            _ => (
                "collisions_layout",
                "static object",
                PENALTY_COLLISION_LAYOUT,
            ),
        };
        self.penalty *= mult;
        let inf = pb::Infraction {
            category: category.into(),
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

    /// The scores and status of the run so far.
    pub fn outcome(&self) -> (pb::Scores, String) {
        let rc = self.completion();
        let scores = pb::Scores {
            score_route: rc,
            score_penalty: self.penalty,
            score_composed: (rc * self.penalty).max(0.0),
        };
        let status = match self.failure {
            Some(f) => f.status().to_string(),
            None if self.completed && self.infractions.is_empty() => "Perfect".into(),
            None if self.completed => "Completed".into(),
            None => "Failed - Simulation ended before the route".into(),
        };
        (scores, status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn straight(len: f64) -> Polyline {
        Polyline::new((0..=len as usize).map(|i| (i as f64, 0.0))).unwrap()
    }

    fn sample(time: f64, x: f64, speed: f64) -> EgoSample {
        EgoSample {
            time,
            x,
            y: 0.0,
            speed,
        }
    }

    fn collision(t: f64, kind: sim::ActorKind) -> sim::Event {
        sim::Event {
            frame: 0,
            sim_time_s: t,
            kind: Some(sim::event::Kind::Collision(sim::CollisionEvent {
                actor_id: 1,
                other_actor_id: 2,
                other_kind: kind as i32,
                relative_speed: 5.0,
            })),
        }
    }

    #[test]
    fn completing_a_clear_route_is_perfect() {
        let mut ev = Evaluator::new(straight(100.0), Limits::new(60.0, 180.0));
        for i in 0..=100 {
            ev.update(sample(i as f64 * 0.1, i as f64, 10.0), 1, &[]);
        }
        assert!(ev.done());
        let (scores, status) = ev.outcome();
        assert_eq!(status, "Perfect");
        assert_eq!(scores.score_composed, 100.0);
    }

    #[test]
    fn a_vehicle_collision_costs_forty_percent_once_per_window() {
        let mut ev = Evaluator::new(straight(100.0), Limits::new(60.0, 180.0));
        ev.update(
            sample(1.0, 10.0, 5.0),
            1,
            &[collision(1.0, sim::ActorKind::Vehicle)],
        );
        // Same place, two seconds later: the same collision.
        ev.update(
            sample(3.0, 10.5, 5.0),
            1,
            &[collision(3.0, sim::ActorKind::Vehicle)],
        );
        let (scores, _) = ev.outcome();
        assert!((scores.score_penalty - 0.6).abs() < 1e-12);
        assert_eq!(ev.infractions().len(), 1);
        // Other actors' collisions do not count against the ego.
        let mut other = collision(9.0, sim::ActorKind::Pedestrian);
        if let Some(sim::event::Kind::Collision(c)) = &mut other.kind {
            c.actor_id = 7;
        }
        ev.update(sample(9.0, 30.0, 5.0), 1, &[other]);
        assert_eq!(ev.infractions().len(), 1);
    }

    #[test]
    fn timeout_ends_the_run_with_partial_completion() {
        let mut ev = Evaluator::new(straight(100.0), Limits::new(10.0, 180.0));
        ev.update(sample(5.0, 25.0, 5.0), 1, &[]);
        ev.update(sample(10.0, 40.0, 5.0), 1, &[]);
        assert!(ev.done());
        let (scores, status) = ev.outcome();
        assert_eq!(status, "Failed - Agent timed out");
        assert!((scores.score_route - 40.0).abs() < 1e-9);
        assert_eq!(scores.score_penalty, 1.0);
    }

    #[test]
    fn standing_still_too_long_is_blocked_and_deviation_ends_the_run() {
        let mut ev = Evaluator::new(straight(100.0), Limits::new(600.0, 5.0));
        ev.update(sample(0.0, 10.0, 0.0), 1, &[]);
        ev.update(sample(5.0, 10.0, 0.0), 1, &[]);
        assert_eq!(ev.outcome().1, "Failed - Agent got blocked");

        let mut ev = Evaluator::new(straight(100.0), Limits::new(600.0, 180.0));
        ev.update(
            EgoSample {
                time: 1.0,
                x: 50.0,
                y: 31.0,
                speed: 5.0,
            },
            1,
            &[],
        );
        assert_eq!(ev.outcome().1, "Failed - Agent deviated from the route");
        assert_eq!(ev.completion(), 0.0);
    }
}
