//! What the criteria are tuned by ([`Limits`]) and fed at each snapshot
//! ([`EgoSample`], [`Observation`]).

use atlas_proto::sim;

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
