//! The outside-route-lanes criterion: the share of the route advanced off
//! the drivable lanes or in a lane of the opposite direction.

use atlas_proto::sim;

use super::{EgoSample, Evaluator};

/// Lane types a vehicle may drive in for the outside-lanes criterion.
fn lane_allowed(lane_type: &str) -> bool {
    matches!(
        lane_type,
        "driving"
            | "entry"
            | "exit"
            | "onRamp"
            | "offRamp"
            | "connectingRamp"
            | "slipLane"
            | "bidirectional"
            | "bus"
            | "taxi"
            | "HOV"
            | "parking"
    )
}

impl Evaluator {
    /// Percent of the advanced route driven outside the route lanes.
    pub fn outside_lanes_pct(&self) -> f64 {
        if self.stats.route_m <= 0.0 {
            0.0
        } else {
            (100.0 * self.stats.outside_m / self.stats.route_m).clamp(0.0, 100.0)
        }
    }

    /// Outside-lanes bookkeeping for `advanced` metres of route progress.
    pub(super) fn lanes(&mut self, ego: EgoSample, lane: Option<&sim::LaneState>, advanced: f64) {
        let outside = match lane {
            None => true,
            Some(l) => !l.on_road || !lane_allowed(&l.lane_type),
        };
        if let Some(l) = lane
            && lane_allowed(&l.lane_type)
            && l.on_road
        {
            if let Some((road, id, s0)) = &self.prev_lane
                && *road == l.road_id
                && *id == l.lane_id
            {
                let ds = l.s - s0;
                let moved = ego.speed.abs() > self.limits.blocked_speed && ds.abs() > 0.05;
                if moved {
                    // Right-hand traffic: negative lanes run along +s.
                    let forward_lane = l.lane_id < 0;
                    let forward_travel = (ds > 0.0) == (ego.speed >= 0.0);
                    self.wrong_lane = forward_lane != forward_travel;
                }
            }
            self.prev_lane = Some((l.road_id.clone(), l.lane_id, l.s));
        }
        if lane.is_some_and(|l| l.lane_type == "sidewalk") {
            self.stats.on_sidewalk = true;
        }
        self.stats.route_m += advanced;
        if outside {
            self.stats.outside_m += advanced;
        } else if self.wrong_lane {
            self.stats.outside_m += advanced;
            self.stats.wrong_lane_m += advanced;
        }
    }
}
