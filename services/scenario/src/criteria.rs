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

use atlas_proto::scenario as pb;
use atlas_proto::sim;

use crate::geometry::Polyline;

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
    /// Route timeout, seconds, before any extension.
    pub timeout_s: f64,
    /// Seconds the timeout grows per metre of route advanced (0: fixed).
    /// The Leaderboard adds the time to cover it at 10 % of the speed limit.
    pub timeout_per_m: f64,
    pub blocked_s: f64,
    pub deviation_m: f64,
    pub blocked_speed: f64,
    pub collision_dedup_m: f64,
    pub collision_dedup_s: f64,
    /// Red lights farther than this from the ego are not checked, metres.
    pub red_light_distance_m: f64,
    /// A stop sign needs the ego below `stop_speed` within this distance
    /// before its line, metres.
    pub stop_distance_m: f64,
    pub stop_speed: f64,
    /// Minimum-speed checkpoints along the route.
    pub min_speed_checkpoints: u32,
}

impl Limits {
    pub fn new(timeout_s: f64, blocked_s: f64) -> Self {
        Self {
            timeout_s,
            timeout_per_m: 0.0,
            blocked_s,
            deviation_m: 30.0,
            blocked_speed: 0.1,
            collision_dedup_m: 5.0,
            collision_dedup_s: 5.0,
            red_light_distance_m: 15.0,
            stop_distance_m: 4.0,
            stop_speed: 0.1,
            min_speed_checkpoints: 4,
        }
    }

    /// The Leaderboard route timeout: at least 300 s (or `timeout_s` if
    /// larger), plus the time to advance each metre at 10 % of a
    /// `speed_limit` (m/s).
    pub fn leaderboard_route(timeout_s: f64, blocked_s: f64, speed_limit: f64) -> Self {
        let mut l = Self::new(timeout_s.max(300.0), blocked_s);
        l.timeout_per_m = 1.0 / (0.1 * speed_limit.max(0.1));
        l
    }
}

/// What the ego looks like at one snapshot.
#[derive(Clone, Copy, Debug, Default)]
pub struct EgoSample {
    pub time: f64,
    pub x: f64,
    pub y: f64,
    pub speed: f64,
    /// Yaw, radians.
    pub heading: f64,
}

/// Everything one snapshot tells the criteria beyond the ego's pose.
#[derive(Clone, Copy, Debug, Default)]
pub struct Observation<'a> {
    /// The ego's lane, as the simulator located it.
    pub lane: Option<&'a sim::LaneState>,
    pub events: &'a [sim::Event],
    /// Traffic lights and signs with their stop lines.
    pub lights: &'a [sim::TrafficLightState],
    /// Mean speed of the other vehicles this snapshot (None without any).
    pub traffic_speed: Option<f64>,
    /// Whether `lane` was looked up (a None lane is then off the road).
    pub lanes_known: bool,
    /// Distance from the ego's rig point to its front bumper, metres.
    pub front_m: f64,
}

impl<'a> Observation<'a> {
    /// Reads an observation off a bridge snapshot.
    pub fn from_snapshot(snap: &'a sim::Snapshot, ego_id: u64) -> Self {
        let me = snap.actors.iter().find(|a| a.actor_id == ego_id);
        let lane = me.and_then(|a| a.lane.as_ref());
        let front_m = me
            .and_then(|a| a.dimensions)
            .map_or(0.0, |d| (d.length - d.rear_overhang).max(0.0));
        let others: Vec<f64> = snap
            .actors
            .iter()
            .filter(|a| a.actor_id != ego_id && a.kind == sim::ActorKind::Vehicle as i32)
            .map(|a| a.speed.abs())
            .collect();
        Self {
            lane,
            events: &snap.events,
            lights: &snap.traffic_lights,
            traffic_speed: (!others.is_empty())
                .then(|| others.iter().sum::<f64>() / others.len() as f64),
            lanes_known: true,
            front_m,
        }
    }
}

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

/// Running sums of one minimum-speed checkpoint.
#[derive(Clone, Copy, Debug, Default)]
struct SpeedWindow {
    ego: f64,
    traffic: f64,
    points: u32,
}

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
    completed: bool,
    failure: Option<Failure>,
    infractions: Vec<pb::Infraction>,
    last_collision: Option<(f64, f64, f64)>,
    stopped_since: Option<f64>,
    penalty: f64,
    prev: Option<EgoSample>,
    /// Light id and time of the last red light counted.
    red_lights: Vec<(String, f64)>,
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

    /// Percent of the advanced route driven outside the route lanes.
    pub fn outside_lanes_pct(&self) -> f64 {
        if self.stats.route_m <= 0.0 {
            0.0
        } else {
            (100.0 * self.stats.outside_m / self.stats.route_m).clamp(0.0, 100.0)
        }
    }

    /// Minimum-speed checkpoint values so far, percent of traffic speed.
    pub fn min_speed_checkpoints(&self) -> &[f64] {
        &self.checkpoint_pcts
    }

    /// The route timeout in force now (it grows as the ego advances).
    pub fn timeout_now(&self) -> f64 {
        self.limits.timeout_s + self.limits.timeout_per_m * self.progress_s
    }

    fn push(
        &mut self,
        category: &str,
        message: String,
        time: f64,
        x: f64,
        y: f64,
    ) -> pb::Infraction {
        let inf = pb::Infraction {
            category: category.into(),
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
            "scenario_timeouts",
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
            "yield_emergency_vehicle_infractions",
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
                "outside_route_lanes",
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

    fn close_checkpoint(&mut self, ego: EgoSample) -> Option<pb::Infraction> {
        let w = std::mem::take(&mut self.window);
        let pct = if w.points > 0 && w.traffic > 0.0 {
            let ego_mean = w.ego / w.points as f64;
            let traffic_mean = w.traffic / w.points as f64;
            (ego_mean / traffic_mean * 100.0 * 100.0).round() / 100.0
        } else {
            100.0
        };
        self.checkpoint_pcts.push(pct);
        if pct >= 100.0 {
            return None;
        }
        self.penalty *= min_speed_penalty(pct);
        Some(self.push(
            "min_speed_infractions",
            format!("Average speed is {pct}% of the surrounding traffic's one"),
            ego.time,
            ego.x,
            ego.y,
        ))
    }

    /// Signal criteria: red lights and stop signs, from the stop lines.
    fn signals(&mut self, ego: EgoSample, obs: &Observation, raised: &mut Vec<pb::Infraction>) {
        let Some(prev) = self.prev else {
            return;
        };
        for light in obs.lights {
            let kind =
                sim::SignalKind::try_from(light.kind).unwrap_or(sim::SignalKind::Unspecified);
            for (li, line) in light.stop_lines.iter().enumerate() {
                let p = line.position.unwrap_or_default();
                let (c, s) = (line.heading.cos(), line.heading.sin());
                let lon = |x: f64, y: f64| (x - p.x) * c + (y - p.y) * s;
                let lat = |x: f64, y: f64| -(x - p.x) * s + (y - p.y) * c;
                let aligned = (ego.heading - line.heading).cos() > 0.5;
                let half = line.width.max(2.0) / 2.0 + 0.5;
                let (l0, l1) = (lon(prev.x, prev.y), lon(ego.x, ego.y));
                let in_lane = lat(ego.x, ego.y).abs() <= half;
                let crossed = aligned && l0 < 0.0 && l1 >= 0.0 && in_lane;
                match kind {
                    sim::SignalKind::TrafficLight => {
                        let near =
                            (ego.x - p.x).hypot(ego.y - p.y) <= self.limits.red_light_distance_m;
                        if crossed && near && light.state == sim::LightState::Red as i32 {
                            raised.extend(self.red_light(&light.id, ego));
                        }
                    }
                    sim::SignalKind::Stop => {
                        let key = (light.id.clone(), li);
                        // The stop counts with the front bumper within the
                        // last metres before the line.
                        let front = l1 + obs.front_m;
                        if aligned
                            && in_lane
                            && (-self.limits.stop_distance_m..=0.5).contains(&front)
                            && ego.speed.abs() < self.limits.stop_speed
                            && !self.stops_served.contains(&key)
                        {
                            self.stops_served.push(key.clone());
                        }
                        if crossed {
                            let served = self.stops_served.contains(&key);
                            self.stops_served.retain(|k| *k != key);
                            if !served {
                                raised.extend(self.stop_run(&light.id, ego));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// A stop sign run, counted once per sign and passage (the simulator
    /// may report the same one).
    fn stop_run(&mut self, id: &str, ego: EgoSample) -> Option<pb::Infraction> {
        if self
            .stops_run
            .iter()
            .any(|(s, t)| s == id && ego.time - t < 10.0)
        {
            return None;
        }
        self.stops_run.push((id.to_string(), ego.time));
        self.penalty *= PENALTY_STOP;
        Some(self.push(
            "stop_infraction",
            format!(
                "Agent ran a stop with id={id} at (x={:.3}, y={:.3})",
                ego.x, ego.y
            ),
            ego.time,
            ego.x,
            ego.y,
        ))
    }

    fn red_light(&mut self, id: &str, ego: EgoSample) -> Option<pb::Infraction> {
        if self
            .red_lights
            .iter()
            .any(|(l, t)| l == id && ego.time - t < 10.0)
        {
            return None;
        }
        self.red_lights.push((id.to_string(), ego.time));
        self.penalty *= PENALTY_RED_LIGHT;
        Some(self.push(
            "red_light",
            format!(
                "Agent ran a red light {id} at (x={:.3}, y={:.3})",
                ego.x, ego.y
            ),
            ego.time,
            ego.x,
            ego.y,
        ))
    }

    /// Outside-lanes bookkeeping for `advanced` metres of route progress.
    fn lanes(&mut self, ego: EgoSample, lane: Option<&sim::LaneState>, advanced: f64) {
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
        // Progress: project within a window ahead of the last progress, so a
        // route that passes the same place twice is credited in order.
        let before = self.progress_s;
        let ahead = self.route.segment_at(self.progress_s + PROGRESS_WINDOW_M) + 1;
        let proj = self
            .route
            .project_range((ego.x, ego.y), self.segment, ahead);
        if proj.distance <= self.limits.deviation_m && proj.s > self.progress_s {
            self.progress_s = proj.s;
            self.segment = proj.segment;
        }
        let advanced = self.progress_s - before;

        // Counters.
        if let Some(p) = self.prev {
            self.stats.driven_m += (ego.x - p.x).hypot(ego.y - p.y);
        }
        self.stats.max_speed = self.stats.max_speed.max(ego.speed.abs());
        self.stats.first_time.get_or_insert(ego.time);
        self.stats.last_time = ego.time;

        for ev in obs.events {
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
        self.signals(ego, obs, &mut raised);
        if obs.lanes_known {
            self.lanes(ego, obs.lane, advanced);
        }
        if let Some(ts) = obs.traffic_speed {
            self.window.ego += ego.speed.abs();
            self.window.traffic += ts;
            self.window.points += 1;
        }
        let len = self.route.length();
        let n = self.limits.min_speed_checkpoints.max(1);
        if self.checkpoints_done + 1 < n
            && self.progress_s >= len * (self.checkpoints_done + 1) as f64 / n as f64
        {
            self.checkpoints_done += 1;
            raised.extend(self.close_checkpoint(ego));
        }
        self.prev = Some(ego);

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
        if ego.time >= self.timeout_now() {
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

    /// The scores and status of the run so far (call [`Evaluator::finish`]
    /// first at the end of a run).
    pub fn outcome(&self) -> (pb::Scores, String) {
        let rc = self.completion();
        let scores = pb::Scores {
            score_route: rc,
            score_penalty: self.penalty,
            score_composed: driving_score(rc, self.penalty),
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

/// The result of one ScenarioRunner-style pass criterion.
#[derive(Clone, Debug, PartialEq)]
pub struct CriterionResult {
    /// The criterion as named in the file, e.g. `criteria_CollisionTest`.
    pub name: String,
    /// None when the criterion is not known (or needs a value it lacks).
    pub passed: Option<bool>,
    /// What was measured, in the criterion's units, and why it failed.
    pub detail: String,
}

/// Answers ScenarioRunner pass criteria (`criteria_<Name>`, from StopTrigger
/// ParameterConditions; `value` is the condition's value, used as the limit
/// of MaxVelocityTest, DrivenDistanceTest and AverageVelocityTest) from the
/// evaluator's state at the end of a run (after [`Evaluator::finish`]).
pub fn pass_criteria(ev: &Evaluator, criteria: &[(String, String)]) -> Vec<CriterionResult> {
    let count = |cat: &str| {
        ev.infractions()
            .iter()
            .filter(|i| i.category == cat)
            .count()
    };
    let none = |cats: &[&str]| -> (bool, String) {
        let n: usize = cats.iter().map(|c| count(c)).sum();
        (n == 0, format!("{n} event(s)"))
    };
    let st = ev.stats();
    criteria
        .iter()
        .map(|(name, value)| {
            let bare = name.strip_prefix("criteria_").unwrap_or(name);
            let limit = value.trim().parse::<f64>().ok();
            let res: Option<(bool, String)> = match bare {
                "CollisionTest" => Some(none(&[
                    "collisions_layout",
                    "collisions_pedestrian",
                    "collisions_vehicle",
                ])),
                "RouteCompletionTest" => Some((
                    ev.completed,
                    format!("{:.1}% of the route", ev.completion()),
                )),
                "InRouteTest" => Some(none(&["route_dev"])),
                "OutsideRouteLanesTest" => Some((
                    st.outside_m <= 0.0,
                    format!("{:.2}% outside the route lanes", ev.outside_lanes_pct()),
                )),
                "RunningRedLightTest" => Some(none(&["red_light"])),
                "RunningStopTest" => Some(none(&["stop_infraction"])),
                "ActorBlockedTest" => Some(none(&["vehicle_blocked"])),
                "MinimumSpeedRouteTest" => Some(none(&["min_speed_infractions"])),
                "ScenarioTimeoutTest" => Some(none(&["scenario_timeouts"])),
                "YieldToEmergencyVehicleTest" => {
                    Some(none(&["yield_emergency_vehicle_infractions"]))
                }
                "KeepLaneTest" => Some((
                    st.lane_invasions == 0,
                    format!("{} lane invasion(s)", st.lane_invasions),
                )),
                "OffRoadTest" => Some((!st.off_road, format!("off road: {}", st.off_road))),
                "OnSidewalkTest" => Some((
                    !st.on_sidewalk,
                    format!("on a sidewalk: {}", st.on_sidewalk),
                )),
                "WrongLaneTest" => Some((
                    st.wrong_lane_m <= 0.0,
                    format!(
                        "{:.1} m in lanes of the opposite direction",
                        st.wrong_lane_m
                    ),
                )),
                "MaxVelocityTest" => limit.map(|v| {
                    (
                        st.max_speed <= v,
                        format!("max speed {:.2} m/s (limit {v})", st.max_speed),
                    )
                }),
                "DrivenDistanceTest" => limit.map(|v| {
                    (
                        st.driven_m >= v,
                        format!("drove {:.1} m (needs {v})", st.driven_m),
                    )
                }),
                "AverageVelocityTest" => limit.map(|v| {
                    let dt = st.last_time - st.first_time.unwrap_or(st.last_time);
                    let avg = if dt > 0.0 { st.driven_m / dt } else { 0.0 };
                    (avg >= v, format!("average {avg:.2} m/s (needs {v})"))
                }),
                _ => None,
            };
            match res {
                Some((passed, detail)) => CriterionResult {
                    name: name.clone(),
                    passed: Some(passed),
                    detail,
                },
                None => CriterionResult {
                    name: name.clone(),
                    passed: None,
                    detail: if matches!(
                        bare,
                        "MaxVelocityTest" | "DrivenDistanceTest" | "AverageVelocityTest"
                    ) {
                        format!("{bare} needs a numeric value, got {value:?}")
                    } else {
                        format!("unknown criterion {bare}")
                    },
                },
            }
        })
        .collect()
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
            heading: 0.0,
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
                heading: 0.0,
            },
            1,
            &[],
        );
        assert_eq!(ev.outcome().1, "Failed - Agent deviated from the route");
        assert_eq!(ev.completion(), 0.0);
    }

    fn lane(road: &str, id: i32, s: f64, kind: &str) -> sim::LaneState {
        sim::LaneState {
            on_road: true,
            road_id: road.into(),
            lane_id: id,
            s,
            offset: 0.0,
            lane_type: kind.into(),
        }
    }

    fn event(t: f64, kind: sim::event::Kind) -> sim::Event {
        sim::Event {
            frame: 0,
            sim_time_s: t,
            kind: Some(kind),
        }
    }

    /// Drives `ev` along the straight route, one metre per 0.1 s, with the
    /// lane and traffic speed given per position.
    fn drive(
        ev: &mut Evaluator,
        to: usize,
        lane_at: impl Fn(usize) -> sim::LaneState,
        speed_at: impl Fn(usize) -> (f64, Option<f64>),
    ) {
        for i in 0..=to {
            let l = lane_at(i);
            let (v, traffic) = speed_at(i);
            let obs = Observation {
                lane: Some(&l),
                traffic_speed: traffic,
                lanes_known: true,
                ..Default::default()
            };
            ev.observe(sample(i as f64 * 0.1, i as f64, v), 1, &obs);
        }
    }

    fn limits() -> Limits {
        Limits::new(600.0, 180.0)
    }

    #[test]
    fn penalties_multiply_per_infraction() {
        // Pedestrian 0.5 x vehicle 0.6 x red light 0.7 x stop 0.8 = 0.168.
        let mut ev = Evaluator::new(straight(100.0), limits());
        let ped = collision(1.0, sim::ActorKind::Pedestrian);
        ev.update(sample(1.0, 10.0, 5.0), 1, &[ped]);
        let veh = collision(8.0, sim::ActorKind::Vehicle);
        ev.update(sample(8.0, 30.0, 5.0), 1, &[veh]);
        let red = event(
            9.0,
            sim::event::Kind::SignalViolation(sim::SignalViolationEvent {
                actor_id: 1,
                signal_id: "12".into(),
                signal_kind: sim::SignalKind::TrafficLight as i32,
            }),
        );
        ev.update(sample(9.0, 40.0, 5.0), 1, std::slice::from_ref(&red));
        // The same light again right after is the same infraction.
        ev.update(sample(9.5, 41.0, 5.0), 1, &[red]);
        let stop = event(
            12.0,
            sim::event::Kind::SignalViolation(sim::SignalViolationEvent {
                actor_id: 1,
                signal_id: "20".into(),
                signal_kind: sim::SignalKind::Stop as i32,
            }),
        );
        ev.update(sample(12.0, 60.0, 5.0), 1, &[stop]);
        for x in 61..=100 {
            ev.update(sample(12.0 + (x - 60) as f64 * 0.2, x as f64, 5.0), 1, &[]);
        }
        assert!(ev.done());
        ev.finish();
        let (scores, status) = ev.outcome();
        assert_eq!(status, "Completed");
        assert!((scores.score_penalty - 0.168).abs() < 1e-12, "{scores:?}");
        assert!((scores.score_composed - 16.8).abs() < 1e-9);
        let cats: Vec<&str> = ev
            .infractions()
            .iter()
            .map(|i| i.category.as_str())
            .collect();
        assert_eq!(
            cats,
            [
                "collisions_pedestrian",
                "collisions_vehicle",
                "red_light",
                "stop_infraction"
            ]
        );
    }

    #[test]
    fn outside_lanes_share_of_distance_is_the_penalty() {
        // Sidewalk from 76 m to 100 m: 25 of 100 route metres outside.
        let mut ev = Evaluator::new(straight(100.0), limits());
        drive(
            &mut ev,
            100,
            |i| {
                let kind = if i > 75 { "sidewalk" } else { "driving" };
                lane("1", -1, i as f64, kind)
            },
            |_| (10.0, None),
        );
        assert!(ev.done());
        ev.finish();
        assert!((ev.outside_lanes_pct() - 25.0).abs() < 1e-9);
        let (scores, status) = ev.outcome();
        assert!((scores.score_penalty - 0.75).abs() < 1e-12);
        assert!((scores.score_composed - 75.0).abs() < 1e-9);
        assert_eq!(status, "Completed");
        assert_eq!(ev.infractions()[0].category, "outside_route_lanes");
        assert!(ev.infractions()[0].message.contains("25.00%"));
    }

    #[test]
    fn a_lane_of_the_opposite_direction_counts_as_outside() {
        // Lane 1 runs against s in right-hand traffic; driving along +s in
        // it is wrong-way from the second sample in it (x = 52) to the end.
        let mut ev = Evaluator::new(straight(100.0), limits());
        drive(
            &mut ev,
            100,
            |i| lane("1", if i > 50 { 1 } else { -1 }, i as f64, "driving"),
            |_| (10.0, None),
        );
        ev.finish();
        assert!((ev.outside_lanes_pct() - 49.0).abs() < 1e-9);
        assert!((ev.stats().wrong_lane_m - 49.0).abs() < 1e-9);
        assert!((ev.outcome().0.score_penalty - 0.51).abs() < 1e-12);
    }

    #[test]
    fn minimum_speed_checkpoints_compare_with_traffic() {
        // Half the traffic speed over the first quarter: 50 % there,
        // penalty 1 - 0.3 * (1 - 0.5) = 0.85; the other three are at 100 %.
        let mut ev = Evaluator::new(straight(100.0), limits());
        drive(
            &mut ev,
            100,
            |i| lane("1", -1, i as f64, "driving"),
            |i| (if i <= 25 { 5.0 } else { 10.0 }, Some(10.0)),
        );
        ev.finish();
        assert_eq!(ev.min_speed_checkpoints(), &[50.0, 100.0, 100.0, 100.0]);
        let (scores, status) = ev.outcome();
        assert!((scores.score_penalty - 0.85).abs() < 1e-12, "{scores:?}");
        assert!((scores.score_composed - 85.0).abs() < 1e-9);
        assert_eq!(status, "Completed");
        let inf = &ev.infractions()[0];
        assert_eq!(inf.category, "min_speed_infractions");
        assert_eq!(
            inf.message,
            "Average speed is 50% of the surrounding traffic's one"
        );
        // Without traffic nothing is measured and nothing is charged.
        let mut ev = Evaluator::new(straight(100.0), limits());
        drive(
            &mut ev,
            100,
            |i| lane("1", -1, i as f64, "driving"),
            |_| (1.0, None),
        );
        ev.finish();
        assert_eq!(ev.outcome().1, "Perfect");
    }

    #[test]
    fn min_speed_and_scenario_timeout_penalties_compose() {
        assert!((min_speed_penalty(80.0) - 0.94).abs() < 1e-12);
        assert_eq!(min_speed_penalty(120.0), 1.0);
        assert_eq!(outside_lanes_penalty(100.0), 0.0);
        assert_eq!(driving_score(60.0, 0.5), 30.0);
        assert_eq!(driving_score(-1.0, 0.5), 0.0);
        let mut ev = Evaluator::new(straight(100.0), limits());
        ev.update(sample(0.5, 20.0, 5.0), 1, &[]);
        ev.update(sample(1.0, 40.0, 5.0), 1, &[]);
        ev.scenario_timeout("Accident_1", sample(1.0, 40.0, 5.0));
        ev.failed_to_yield(sample(2.0, 41.0, 5.0));
        // RC 40 x 0.7 x 0.7, the run not finished: Failed.
        let (scores, status) = ev.outcome();
        assert!((scores.score_penalty - 0.49).abs() < 1e-12);
        assert!((scores.score_composed - 40.0 * 0.49).abs() < 1e-9);
        assert_eq!(status, "Failed - Simulation ended before the route");
    }

    fn light(kind: sim::SignalKind, state: sim::LightState, at: f64) -> sim::TrafficLightState {
        sim::TrafficLightState {
            id: "7".into(),
            kind: kind as i32,
            state: state as i32,
            position: Some(sim::Vec3 {
                x: at,
                y: 5.0,
                z: 3.0,
            }),
            stop_lines: vec![sim::StopLine {
                road_id: "1".into(),
                lane_id: -1,
                s: at,
                position: Some(sim::Vec3 {
                    x: at,
                    y: 0.0,
                    z: 0.0,
                }),
                heading: 0.0,
                width: 3.5,
            }],
            ..Default::default()
        }
    }

    fn pass_line(lights: &[sim::TrafficLightState], speeds: &[(f64, f64)]) -> Evaluator {
        let mut ev = Evaluator::new(straight(100.0), limits());
        for (k, &(x, v)) in speeds.iter().enumerate() {
            let l = lane("1", -1, x, "driving");
            let obs = Observation {
                lane: Some(&l),
                lights,
                lanes_known: true,
                front_m: 3.7,
                ..Default::default()
            };
            ev.observe(sample(k as f64, x, v), 1, &obs);
        }
        ev
    }

    #[test]
    fn red_lights_are_checked_at_the_stop_line() {
        let red = [light(
            sim::SignalKind::TrafficLight,
            sim::LightState::Red,
            50.0,
        )];
        let ev = pass_line(&red, &[(45.0, 8.0), (49.5, 8.0), (50.5, 8.0), (55.0, 8.0)]);
        assert_eq!(ev.infractions().len(), 1);
        assert_eq!(ev.infractions()[0].category, "red_light");
        assert!((ev.penalty() - 0.7).abs() < 1e-12);
        let green = [light(
            sim::SignalKind::TrafficLight,
            sim::LightState::Green,
            50.0,
        )];
        let ev = pass_line(&green, &[(45.0, 8.0), (49.5, 8.0), (50.5, 8.0)]);
        assert!(ev.infractions().is_empty());
        // Driving the other way over the line is not running it.
        let mut back = red.clone();
        back[0].stop_lines[0].heading = std::f64::consts::PI;
        let ev = pass_line(&back, &[(45.0, 8.0), (49.5, 8.0), (50.5, 8.0)]);
        assert!(ev.infractions().is_empty());
    }

    #[test]
    fn stop_signs_need_a_stop_within_four_metres() {
        let stop = [light(sim::SignalKind::Stop, sim::LightState::Off, 50.0)];
        // Rolling through.
        let ev = pass_line(&stop, &[(40.0, 3.0), (44.0, 2.0), (49.0, 1.0), (51.0, 1.0)]);
        assert_eq!(ev.infractions().len(), 1);
        assert_eq!(ev.infractions()[0].category, "stop_infraction");
        assert!((ev.penalty() - 0.8).abs() < 1e-12);
        // Stopped with the front bumper 2 m before the line (rig 5.7 m).
        let ev = pass_line(
            &stop,
            &[
                (40.0, 3.0),
                (44.3, 0.05),
                (44.3, 0.0),
                (49.0, 2.0),
                (51.0, 3.0),
            ],
        );
        assert!(ev.infractions().is_empty(), "{:?}", ev.infractions());
        // Stopped too early (front 8 m before the line) does not count.
        let ev = pass_line(
            &stop,
            &[
                (30.0, 3.0),
                (38.3, 0.0),
                (44.0, 3.0),
                (49.0, 3.0),
                (51.0, 3.0),
            ],
        );
        assert_eq!(ev.infractions().len(), 1);
    }

    #[test]
    fn the_route_timeout_grows_with_progress() {
        let mut ev = Evaluator::new(
            straight(100.0),
            Limits::leaderboard_route(60.0, 180.0, 10.0),
        );
        assert_eq!(ev.timeout_now(), 300.0);
        ev.update(sample(5.0, 25.0, 5.0), 1, &[]);
        ev.update(sample(10.0, 50.0, 5.0), 1, &[]);
        // 1 / (0.1 * 10 m/s) = 1 s per metre.
        assert!((ev.timeout_now() - 350.0).abs() < 1e-9);
        ev.update(sample(351.0, 51.0, 5.0), 1, &[]);
        assert_eq!(ev.outcome().1, "Failed - Agent timed out");
    }

    #[test]
    fn pass_criteria_read_the_evaluator() {
        let mut ev = Evaluator::new(straight(100.0), limits());
        ev.update(
            sample(1.0, 10.0, 5.0),
            1,
            &[collision(1.0, sim::ActorKind::Vehicle)],
        );
        ev.update(sample(2.0, 20.0, 12.0), 1, &[]);
        let ask: Vec<(String, String)> = [
            ("criteria_CollisionTest", ""),
            ("criteria_RunningRedLightTest", ""),
            ("criteria_RouteCompletionTest", ""),
            ("criteria_MaxVelocityTest", "10"),
            ("criteria_DrivenDistanceTest", "5"),
            ("criteria_MaxVelocityTest", "fast"),
            ("criteria_FlyingTest", ""),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let r = pass_criteria(&ev, &ask);
        let passed: Vec<Option<bool>> = r.iter().map(|c| c.passed).collect();
        assert_eq!(
            passed,
            [
                Some(false),
                Some(true),
                Some(false),
                Some(false),
                Some(true),
                None,
                None
            ]
        );
        assert!(r[3].detail.contains("12.00"), "{}", r[3].detail);
        assert!(r[6].detail.contains("unknown criterion FlyingTest"));
    }
}
