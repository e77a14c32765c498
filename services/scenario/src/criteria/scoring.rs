//! Scoring: the Leaderboard's penalty multipliers, the driving score, and
//! a run's scores and status.

use atlas_proto::leaderboard::{Failure, RunStatus};
use atlas_proto::scenario as pb;

use super::Evaluator;

/// Penalty multipliers of the Leaderboard.
pub const PENALTY_COLLISION_PEDESTRIAN: f64 = 0.50;
pub const PENALTY_COLLISION_VEHICLE: f64 = 0.60;
pub const PENALTY_COLLISION_LAYOUT: f64 = 0.65;
pub const PENALTY_RED_LIGHT: f64 = 0.70;
pub const PENALTY_STOP: f64 = 0.80;
pub const PENALTY_SCENARIO_TIMEOUT: f64 = 0.70;
pub const PENALTY_YIELD_EMERGENCY: f64 = 0.70;
/// Minimum speed: the penalty is `1 - MIN_SPEED_WEIGHT * (1 - pct/100)`.
pub const MIN_SPEED_WEIGHT: f64 = 0.30;

/// Penalty of driving `pct` percent of the route outside its lanes.
pub fn outside_lanes_penalty(pct: f64) -> f64 {
    (1.0 - pct.clamp(0.0, 100.0) / 100.0).max(0.0)
}

/// Penalty of a minimum-speed checkpoint at `pct` percent of traffic speed.
pub fn min_speed_penalty(pct: f64) -> f64 {
    if pct >= 100.0 {
        1.0
    } else {
        1.0 - MIN_SPEED_WEIGHT * (1.0 - pct.max(0.0) / 100.0)
    }
}

/// Driving score from route completion (percent) and penalty.
pub fn driving_score(route_completion: f64, penalty: f64) -> f64 {
    (route_completion * penalty).max(0.0)
}

impl Evaluator {
    /// The scores and status of the run so far (call [`Evaluator::finish`]
    /// first at the end of a run).
    pub fn outcome(&self) -> (pb::Scores, RunStatus) {
        let rc = self.completion();
        let scores = pb::Scores {
            score_route: rc,
            score_penalty: self.penalty,
            score_composed: driving_score(rc, self.penalty),
        };
        let status = match self.failure {
            Some(f) => RunStatus::Failed(f),
            None if self.completed && self.infractions.is_empty() => RunStatus::Perfect,
            None if self.completed => RunStatus::Completed,
            None => RunStatus::Failed(Failure::SimulationEnded),
        };
        (scores, status)
    }
}
