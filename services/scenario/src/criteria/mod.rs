//! Evaluation criteria and scoring, following the CARLA Leaderboard 2.0.
//!
//! Route completion is the share of the route travelled; every infraction
//! multiplies the penalty; the driving score is their product. Route
//! deviation, a blocked ego and the route timeout end a run.
//!
//! Criteria (see the project's scoring rules):
//! - collisions by the kind of the other actor, once per 5 m / 5 s, none
//!   while the ego stands still;
//! - red lights: the ego's rig point crosses the stop line of a red light
//!   within 15 m of it (or the simulator reports it), once per light;
//! - stop signs: crossing a stop line without having dropped below 0.1 m/s
//!   within the 4 m before it;
//! - outside route lanes: share of the route distance advanced while off the
//!   drivable lanes (sidewalk, shoulder, off road) or in a lane of the
//!   opposite direction, one infraction with penalty `1 - pct/100`;
//! - minimum speed: at each of 4 route checkpoints the ego's mean speed
//!   against the mean speed of the other vehicles, penalty
//!   `1 - 0.3 (1 - pct/100)` when below 100 %;
//! - scenario timeouts and failing to yield to an emergency vehicle are
//!   reported by the scenario player ([`Evaluator::scenario_timeout`],
//!   [`Evaluator::failed_to_yield`]);
//! - route deviation (30 m), blocked (0.1 m/s for 180 s) and the route
//!   timeout end the run without a multiplier.
//!
//! [`pass_criteria`] answers ScenarioRunner-style `criteria_*` pass
//! criteria from the same state.
//!
//! # Layout
//!
//! [`Evaluator`] holds the running state and feeds each snapshot to the
//! criteria, one module each: `progress` (route progress and the criteria
//! that end a run), `collisions`, `signals` (red lights, stop signs),
//! `lanes` (outside route lanes) and `min_speed`; `scoring` holds the
//! penalties, categories and the run's outcome, `inputs` what the criteria
//! are tuned by and fed, and `pass` the ScenarioRunner pass criteria.

mod collisions;
mod inputs;
mod lanes;
mod min_speed;
mod pass;
mod progress;
mod scoring;
mod signals;
#[cfg(test)]
mod tests;

use atlas_proto::scenario as pb;
use atlas_proto::sim;

use crate::geometry::Polyline;

pub use atlas_proto::leaderboard::{Category, Failure};
pub use inputs::{EgoSample, Limits, Observation};
use min_speed::SpeedWindow;
pub use pass::{CriterionResult, pass_criteria};
pub use scoring::{
    MIN_SPEED_WEIGHT, PENALTY_COLLISION_LAYOUT, PENALTY_COLLISION_PEDESTRIAN,
    PENALTY_COLLISION_VEHICLE, PENALTY_RED_LIGHT, PENALTY_SCENARIO_TIMEOUT, PENALTY_STOP,
    PENALTY_YIELD_EMERGENCY, driving_score, min_speed_penalty, outside_lanes_penalty,
};

/// Counters the pass criteria read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub max_speed: f64,
    pub driven_m: f64,
    pub lane_invasions: u32,
    pub off_road: bool,
    pub on_sidewalk: bool,
    pub wrong_lane_m: f64,
    pub outside_m: f64,
    pub route_m: f64,
    pub first_time: Option<f64>,
    pub last_time: f64,
}

/// Running state of all criteria over one run.
pub struct Evaluator {
    route: Polyline,
    limits: Limits,
    progress_s: f64,
    segment: usize,
    /// The ego's distance from the route near its progress at the last
    /// sample (an upper bound of its distance from the whole route).
    near_distance: f64,
    completed: bool,
    failure: Option<Failure>,
    infractions: Vec<pb::Infraction>,
    last_collision: Option<(f64, f64, f64)>,
    stopped_since: Option<f64>,
    penalty: f64,
    prev: Option<EgoSample>,
    /// Light id and time of the last red light counted.
    /// Red lights run: (signal id, time, x, y).
    red_lights: Vec<(String, f64, f64, f64)>,
    /// Stop lines (sign id, line index) the ego has come to rest before.
    stops_served: Vec<(String, usize)>,
    /// Stop signs counted, with time (one per passage).
    stops_run: Vec<(String, f64)>,
    prev_lane: Option<(String, i32, f64)>,
    wrong_lane: bool,
    window: SpeedWindow,
    checkpoints_done: u32,
    checkpoint_pcts: Vec<f64>,
    finished: bool,
    stats: Stats,
}

impl Evaluator {
    pub fn new(route: Polyline, limits: Limits) -> Self {
        Self {
            route,
            limits,
            progress_s: 0.0,
            segment: 0,
            near_distance: f64::INFINITY,
            completed: false,
            failure: None,
            infractions: Vec::new(),
            last_collision: None,
            stopped_since: None,
            penalty: 1.0,
            prev: None,
            red_lights: Vec::new(),
            stops_served: Vec::new(),
            stops_run: Vec::new(),
            prev_lane: None,
            wrong_lane: false,
            window: SpeedWindow::default(),
            checkpoints_done: 0,
            checkpoint_pcts: Vec::new(),
            finished: false,
            stats: Stats::default(),
        }
    }

    /// The criteria's counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The penalty so far (outside-lanes is applied by [`Evaluator::finish`]).
    pub fn penalty(&self) -> f64 {
        self.penalty
    }

    fn push(
        &mut self,
        category: Category,
        message: String,
        time: f64,
        x: f64,
        y: f64,
    ) -> pb::Infraction {
        let inf = pb::Infraction {
            category: category.as_str().into(),
            message,
            sim_time_s: time,
            x,
            y,
        };
        self.infractions.push(inf.clone());
        inf
    }

    /// A scenario of the run timed out (the scenario player decides when).
    pub fn scenario_timeout(&mut self, scenario: &str, ego: EgoSample) -> pb::Infraction {
        self.penalty *= PENALTY_SCENARIO_TIMEOUT;
        self.push(
            Category::ScenarioTimeouts,
            format!("Agent timed out a scenario ({scenario})"),
            ego.time,
            ego.x,
            ego.y,
        )
    }

    /// The ego blocked an emergency vehicle for too long.
    pub fn failed_to_yield(&mut self, ego: EgoSample) -> pb::Infraction {
        self.penalty *= PENALTY_YIELD_EMERGENCY;
        self.push(
            Category::YieldEmergencyVehicleInfractions,
            "Agent failed to yield to an emergency vehicle".into(),
            ego.time,
            ego.x,
            ego.y,
        )
    }

    /// Closes the run: the last minimum-speed checkpoint (when the ego got
    /// past 95 % of the route) and the outside-lanes infraction. Returns the
    /// infractions it raised. Idempotent.
    pub fn finish(&mut self) -> Vec<pb::Infraction> {
        let mut raised = Vec::new();
        if self.finished {
            return raised;
        }
        self.finished = true;
        let len = self.route.length();
        let last = self.prev.unwrap_or_default();
        if len > 0.0
            && self.progress_s / len > 0.95
            && self.checkpoints_done < self.limits.min_speed_checkpoints
        {
            self.checkpoints_done = self.limits.min_speed_checkpoints;
            raised.extend(self.close_checkpoint(last));
        }
        if self.stats.outside_m > 0.0 {
            let pct = self.outside_lanes_pct();
            self.penalty *= outside_lanes_penalty(pct);
            raised.push(self.push(
                Category::OutsideRouteLanes,
                format!(
                    "Agent went outside its route lanes for about {:.3} meters ({:.2}% of the completed route)",
                    self.stats.outside_m, pct
                ),
                last.time,
                last.x,
                last.y,
            ));
        }
        raised
    }

    /// True once the run is over (completed or failed).
    pub fn done(&self) -> bool {
        self.completed || self.failure.is_some()
    }

    /// The run failed (timeout, blocked, …), whether or not the route was
    /// completed.
    pub fn failed(&self) -> bool {
        self.failure.is_some()
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

    /// Feeds one snapshot with only the ego's pose and the events; returns
    /// the infractions it raised.
    pub fn update(
        &mut self,
        ego: EgoSample,
        ego_id: u64,
        events: &[sim::Event],
    ) -> Vec<pb::Infraction> {
        let obs = Observation {
            events,
            ..Default::default()
        };
        self.observe(ego, ego_id, &obs)
    }

    /// Feeds one snapshot; returns the infractions it raised.
    pub fn observe(
        &mut self,
        ego: EgoSample,
        ego_id: u64,
        obs: &Observation,
    ) -> Vec<pb::Infraction> {
        let mut raised = Vec::new();
        if self.done() {
            return raised;
        }
        let advanced = self.advance_progress(ego);
        self.count(ego);
        self.events(ego, ego_id, obs.events, &mut raised);
        self.signals(ego, obs, &mut raised);
        if obs.lanes_known {
            self.lanes(ego, obs.lane, advanced);
        }
        self.min_speed(ego, obs.traffic_speed, &mut raised);
        self.prev = Some(ego);
        self.check_end(ego, &mut raised);
        raised
    }

    /// The counters of distance, speed and time.
    fn count(&mut self, ego: EgoSample) {
        if let Some(p) = self.prev {
            self.stats.driven_m += (ego.x - p.x).hypot(ego.y - p.y);
        }
        self.stats.max_speed = self.stats.max_speed.max(ego.speed.abs());
        self.stats.first_time.get_or_insert(ego.time);
        self.stats.last_time = ego.time;
    }

    /// The simulator's events about the ego: collisions, signal violations,
    /// lane invasions and leaving the road.
    fn events(
        &mut self,
        ego: EgoSample,
        ego_id: u64,
        events: &[sim::Event],
        raised: &mut Vec<pb::Infraction>,
    ) {
        for ev in events {
            match &ev.kind {
                Some(sim::event::Kind::Collision(c)) if c.actor_id == ego_id => {
                    if let Some(inf) = self.collision(ev.sim_time_s, ego, c) {
                        raised.push(inf);
                    }
                }
                Some(sim::event::Kind::SignalViolation(v))
                    if v.actor_id == ego_id
                        && v.signal_kind == sim::SignalKind::TrafficLight as i32 =>
                {
                    raised.extend(self.red_light(&v.signal_id, ego));
                }
                Some(sim::event::Kind::SignalViolation(v))
                    if v.actor_id == ego_id && v.signal_kind == sim::SignalKind::Stop as i32 =>
                {
                    raised.extend(self.stop_run(&v.signal_id, ego));
                }
                Some(sim::event::Kind::LaneInvasion(l)) if l.actor_id == ego_id => {
                    self.stats.lane_invasions += 1;
                }
                Some(sim::event::Kind::OffRoad(o)) if o.actor_id == ego_id => {
                    self.stats.off_road = true;
                }
                _ => {}
            }
        }
    }

    fn fail(
        &mut self,
        why: Failure,
        category: Category,
        message: String,
        ego: EgoSample,
        raised: &mut Vec<pb::Infraction>,
    ) {
        self.failure = Some(why);
        let inf = pb::Infraction {
            category: category.as_str().into(),
            message,
            sim_time_s: ego.time,
            x: ego.x,
            y: ego.y,
        };
        self.infractions.push(inf.clone());
        raised.push(inf);
    }
}
