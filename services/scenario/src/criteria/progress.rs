//! Route progress and the criteria that end a run: completion, route
//! deviation, a blocked ego and the route timeout.

use atlas_proto::scenario as pb;

use super::{Category, EgoSample, Evaluator, Failure};
use crate::geometry::Polyline;

/// How far ahead of the last progress point the route search looks, metres.
const PROGRESS_WINDOW_M: f64 = 25.0;

impl Evaluator {
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

    /// The route timeout in force now (it grows as the ego advances).
    pub fn timeout_now(&self) -> f64 {
        self.limits.timeout_s + self.limits.timeout_per_m * self.progress_s
    }

    /// Moves the progress point on to the ego's projection: within a
    /// window ahead of the last progress, so a route that passes the same
    /// place twice is credited in order. Returns the metres advanced.
    pub(super) fn advance_progress(&mut self, ego: EgoSample) -> f64 {
        let before = self.progress_s;
        let ahead = self.route.segment_at(self.progress_s + PROGRESS_WINDOW_M) + 1;
        let proj = self
            .route
            .project_range((ego.x, ego.y), self.segment, ahead);
        self.near_distance = proj.distance;
        if proj.distance <= self.limits.deviation_m && proj.s > self.progress_s {
            self.progress_s = proj.s;
            self.segment = proj.segment;
        }
        self.progress_s - before
    }

    /// Ends the run when the ego completed the route, deviated from it, got
    /// blocked or ran out of time.
    pub(super) fn check_end(&mut self, ego: EgoSample, raised: &mut Vec<pb::Infraction>) {
        let len = self.route.length();
        let (lx, ly) = self.route.last();
        if self.progress_s > 0.99 * len && (ego.x - lx).hypot(ego.y - ly) < 10.0 {
            self.completed = true;
            return;
        }
        // Near the progress point the ego is usually on the route: only
        // when it is not there is the whole route searched (the distance
        // from the whole route is never more than that near distance).
        let dist = if self.near_distance <= self.limits.deviation_m {
            self.near_distance
        } else {
            self.route.project((ego.x, ego.y)).distance
        };
        if dist > self.limits.deviation_m {
            self.fail(
                Failure::RouteDeviation,
                Category::RouteDev,
                format!("Agent deviated from the route by {dist:.1} m"),
                ego,
                raised,
            );
            return;
        }
        if ego.speed.abs() < self.limits.blocked_speed {
            let since = *self.stopped_since.get_or_insert(ego.time);
            if ego.time - since >= self.limits.blocked_s {
                self.fail(
                    Failure::Blocked,
                    Category::VehicleBlocked,
                    format!("Agent got blocked for {:.0} s", ego.time - since),
                    ego,
                    raised,
                );
                return;
            }
        } else {
            self.stopped_since = None;
        }
        if ego.time >= self.timeout_now() {
            self.fail(
                Failure::Timeout,
                Category::RouteTimeout,
                format!("Route timeout after {:.0} s", ego.time),
                ego,
                raised,
            );
        }
    }
}
