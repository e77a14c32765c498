//! One closed-loop run: create a world on the bridge, open a session on the
//! egodriver policy, then per control step
//! `Step` → criteria → submit image, egomotion, route → `drive` → controller,
//! until the route is completed or a criterion ends it.

use std::time::{Duration, Instant};

use atlas_loop::{
    BridgeWorld, ClosedLoop, Control, EgodriverPolicy, End, Flow, Hooks, RouteView, ego_command,
    ego_state,
};
use atlas_proto::leaderboard::RunStatus;
use atlas_proto::scenario as pb;
use atlas_proto::sim;
use atlas_scenario_format::native::{self as scenario, Placement, Scenario};
use tokio::sync::mpsc;
use tonic::Status;

use crate::criteria::{EgoSample, Evaluator, Limits, Observation};
use crate::geometry::{Polyline, Pose2};

pub use atlas_loop::{DriverClient, SimClient, camera};

/// Why a run could not be carried out (as opposed to a scored failure).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("scenario: {0}")]
    Scenario(#[from] scenario::ScenarioError),
    #[error("{context}: {status}")]
    Upstream { context: String, status: Status },
    #[error("{0}")]
    Invalid(String),
    #[error("the run was cancelled")]
    Cancelled,
}

impl From<RunError> for Status {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Scenario(e) => Status::invalid_argument(e.to_string()),
            RunError::Upstream { context, status } => {
                Status::new(status.code(), format!("{context}: {}", status.message()))
            }
            RunError::Invalid(m) => Status::invalid_argument(m),
            RunError::Cancelled => Status::cancelled("the run was cancelled"),
        }
    }
}

impl From<atlas_loop::Error> for RunError {
    fn from(e: atlas_loop::Error) -> Self {
        match e {
            atlas_loop::Error::Upstream { context, status } => Self::Upstream { context, status },
            atlas_loop::Error::Invalid(m) => Self::Invalid(m),
        }
    }
}

/// Rates and overrides of one run.
#[derive(Clone, Debug)]
pub struct RunSettings {
    pub sim_hz: f64,
    pub control_hz: f64,
    pub timeout_s: Option<f64>,
    pub seed: Option<u64>,
    pub progress_every: u32,
    pub index: u32,
    /// Send the run's trace back (RunOptions.record_trace).
    pub record_trace: bool,
    /// Background traffic: vehicles and pedestrians.
    pub traffic: Option<(u32, u32)>,
    /// Leaderboard route scoring: a 300 s route timeout that grows as the
    /// ego advances (routes), instead of the scenario's fixed timeout.
    pub leaderboard_timeout: bool,
    /// Scenarios of a Leaderboard route, for the record.
    pub route_scenarios: Vec<pb::RouteScenario>,
    /// Reader warnings for the record.
    pub warnings: Vec<String>,
}

/// The result of one run: its record, and its trace when asked for.
pub struct RunOutput {
    pub record: pb::RouteRecord,
    pub trace: Option<pb::Trace>,
}

impl RunSettings {
    pub fn from_options(o: &pb::RunOptions, index: u32) -> Result<Self, RunError> {
        let sim_hz = if o.sim_hz > 0.0 { o.sim_hz } else { 20.0 };
        let control_hz = if o.control_hz > 0.0 {
            o.control_hz
        } else {
            10.0
        };
        if !(sim_hz.is_finite() && control_hz.is_finite() && sim_hz <= 1000.0) {
            return Err(RunError::Invalid(
                "options.sim_hz and options.control_hz must be finite, sim_hz <= 1000".into(),
            ));
        }
        let ratio = sim_hz / control_hz;
        if ratio < 1.0 || (ratio - ratio.round()).abs() > 1e-9 {
            return Err(RunError::Invalid(format!(
                "options: sim_hz ({sim_hz}) must be a whole multiple of control_hz ({control_hz})"
            )));
        }
        if !o.timeout_s.is_finite() || o.timeout_s < 0.0 {
            return Err(RunError::Invalid("options.timeout_s must be >= 0".into()));
        }
        Ok(Self {
            sim_hz,
            control_hz,
            timeout_s: (o.timeout_s > 0.0).then_some(o.timeout_s),
            seed: o.seed,
            progress_every: if o.progress_every == 0 {
                10
            } else {
                o.progress_every
            },
            index,
            record_trace: o.record_trace,
            traffic: o.traffic.map(|t| (t.vehicles, t.pedestrians)),
            leaderboard_timeout: false,
            route_scenarios: Vec::new(),
            warnings: Vec::new(),
        })
    }
}

impl RunSettings {
    /// World steps per control step.
    pub fn steps_per_control(&self) -> u32 {
        (self.sim_hz / self.control_hz).round() as u32
    }

    /// Seconds between control steps.
    pub fn control_dt(&self) -> f64 {
        1.0 / self.control_hz
    }
}

/// The scenario's map as the bridge wants it.
pub enum MapSource {
    Name(String),
    Xml(String),
}

/// Runs `sc` to the end and returns its record; streams events to `events`.
pub async fn run(
    sc: &Scenario,
    map: MapSource,
    settings: &RunSettings,
    simc: SimClient,
    driver: DriverClient,
    events: &mpsc::Sender<Result<pb::RunEvent, Status>>,
) -> Result<RunOutput, RunError> {
    let seed = settings.seed.unwrap_or(sc.seed);
    let map = match map {
        MapSource::Name(n) => sim::create_world_request::Map::MapName(n),
        MapSource::Xml(x) => sim::create_world_request::Map::OpendriveXml(x),
    };
    let mut world =
        BridgeWorld::create(simc, map, 1.0 / settings.sim_hz, seed, &sc.name, &sc.file).await?;
    let session_uuid = uuid::Uuid::new_v4().to_string();
    let mut policy = EgodriverPolicy::new(driver, &session_uuid, settings.control_dt());
    let result = run_in_world(sc, seed, settings, &mut world, &mut policy, events).await;
    release(world, Some(&mut policy)).await;
    result
}

/// Releases what a run held, whatever happened to it: the policy session
/// (when one was opened) and the world. Failures are logged.
pub(crate) async fn release(world: BridgeWorld, policy: Option<&mut EgodriverPolicy>) {
    if let Some(p) = policy {
        p.close().await;
    }
    world.destroy().await;
}

async fn resolve(
    world: &mut BridgeWorld,
    p: &Placement,
    what: impl Fn() -> String,
) -> Result<(f64, f64, f64), RunError> {
    match p {
        Placement::World { x, y, yaw } => Ok((*x, *y, *yaw)),
        Placement::Lane {
            road,
            lane,
            s,
            offset,
        } => {
            let pose = world
                .lane_pose(
                    lane_position(road, *lane, *s, *offset),
                    format!("{} (lane position road {road} lane {lane} s {s})", what()),
                )
                .await?;
            let pos = pose.position.unwrap_or_default();
            Ok((pos.x, pos.y, pose.yaw))
        }
    }
}

fn lane_position(road: &str, lane: i32, s: f64, offset: f64) -> sim::LanePosition {
    sim::LanePosition {
        road_id: road.into(),
        lane_id: lane,
        s,
        offset,
    }
}

fn placement(p: &Placement) -> sim::spawn_actor_request::Placement {
    match p {
        Placement::World { x, y, yaw } => sim::spawn_actor_request::Placement::Pose(sim::Pose {
            position: Some(sim::Vec3 {
                x: *x,
                y: *y,
                z: 0.0,
            }),
            yaw: *yaw,
            pitch: 0.0,
            roll: 0.0,
        }),
        Placement::Lane {
            road,
            lane,
            s,
            offset,
        } => sim::spawn_actor_request::Placement::LanePosition(lane_position(
            road, *lane, *s, *offset,
        )),
    }
}

/// What a native scenario or Leaderboard route sets up in its world: the
/// ego, its planned route, the other actors, background traffic, the camera.
pub struct Setup {
    pub ego_id: u64,
    pub route: Polyline,
    /// What setting up left undone but the run can go on without (the map
    /// had room for less background traffic than asked).
    pub warnings: Vec<String>,
}

/// Sets up `sc` in `world` (see [`Setup`]).
pub async fn set_up(
    sc: &Scenario,
    seed: u64,
    traffic: Option<(u32, u32)>,
    world: &mut BridgeWorld,
) -> Result<Setup, RunError> {
    let ego = world
        .spawn(
            sim::SpawnActorRequest {
                kind: sim::ActorKind::Vehicle as i32,
                role: "ego".into(),
                name: "ego".into(),
                placement: Some(placement(&sc.ego.start)),
                speed: sc.ego.speed,
                dimensions: None,
                behavior: Some(sim::Behavior {
                    kind: Some(sim::behavior::Kind::External(sim::behavior::External {})),
                }),
                ..Default::default()
            },
            format!("{}: `ego.start`", sc.file),
        )
        .await?;
    let ego_pos = ego.pose.unwrap_or_default().position.unwrap_or_default();

    let mut route_positions = vec![sim::Vec3 {
        x: ego_pos.x,
        y: ego_pos.y,
        z: 0.0,
    }];
    for (i, w) in sc.route.waypoints.iter().enumerate() {
        let (x, y, _) =
            resolve(world, w, || format!("{}: `route.waypoints[{i}]`", sc.file)).await?;
        route_positions.push(sim::Vec3 { x, y, z: 0.0 });
    }
    let planned = world
        .plan_route(
            route_positions,
            1.0,
            format!("{}: planning `route`", sc.file),
        )
        .await?;
    let route = Polyline::new(planned.iter().map(|p| (p.x, p.y))).ok_or_else(|| {
        RunError::Invalid(format!(
            "{}: `route`: the planned route has no length",
            sc.file
        ))
    })?;

    for (i, a) in sc.actors.iter().enumerate() {
        let kind = match a.kind {
            scenario::ActorKind::Vehicle => sim::ActorKind::Vehicle,
            scenario::ActorKind::Pedestrian => sim::ActorKind::Pedestrian,
            scenario::ActorKind::Static => sim::ActorKind::Static,
        };
        let behavior = match a.behavior {
            scenario::Behavior::Stopped => sim::behavior::Kind::Stopped(sim::behavior::Stopped {}),
            scenario::Behavior::LaneFollow => {
                sim::behavior::Kind::LaneFollow(sim::behavior::LaneFollow {
                    target_speed: a.speed,
                })
            }
        };
        world
            .spawn(
                sim::SpawnActorRequest {
                    kind: kind as i32,
                    role: "npc".into(),
                    name: a.name.clone(),
                    placement: Some(placement(&a.start)),
                    speed: a.speed,
                    dimensions: None,
                    behavior: Some(sim::Behavior {
                        kind: Some(behavior),
                    }),
                    ..Default::default()
                },
                format!("{}: `actors[{i}]` ({})", sc.file, a.name),
            )
            .await?;
    }

    let mut warnings = Vec::new();
    if let Some((vehicles, pedestrians)) = traffic
        && vehicles + pedestrians > 0
    {
        let placed = world
            .spawn_traffic(
                vehicles,
                pedestrians,
                seed,
                format!(
                    "{}: background traffic ({vehicles} vehicles, {pedestrians} pedestrians)",
                    sc.file
                ),
            )
            .await?;
        if placed.vehicles_placed < vehicles || placed.pedestrians_placed < pedestrians {
            // The route still runs, with the traffic that fits.
            warnings.push(format!(
                "{}: background traffic: the map had room for {} of {vehicles} vehicles and {} \
                 of {pedestrians} pedestrians",
                sc.file, placed.vehicles_placed, placed.pedestrians_placed
            ));
        }
    }

    world.attach_camera(ego.actor_id).await?;
    Ok(Setup {
        ego_id: ego.actor_id,
        route,
        warnings,
    })
}

async fn run_in_world(
    sc: &Scenario,
    seed: u64,
    settings: &RunSettings,
    world: &mut BridgeWorld,
    policy: &mut EgodriverPolicy,
    events: &mpsc::Sender<Result<pb::RunEvent, Status>>,
) -> Result<RunOutput, RunError> {
    let wall_start = Instant::now();
    let map_name = world.map_name();
    let Setup {
        ego_id,
        route,
        warnings: setup_warnings,
    } = set_up(sc, seed, settings.traffic, world).await?;
    policy.set_ego(ego_id);
    policy.open(seed, Some(&sc.name)).await?;

    send_started(
        events,
        &sc.name,
        &map_name,
        route.length(),
        world.id(),
        policy.session_uuid(),
    )
    .await;

    let timeout_s = settings.timeout_s.unwrap_or(sc.timeout_s);
    let limits = if settings.leaderboard_timeout && settings.timeout_s.is_none() {
        // Town speed limit of CARLA's towns: 30 km/h.
        Limits::leaderboard_route(sc.timeout_s, sc.blocked_s, 30.0 / 3.6)
    } else {
        Limits::new(timeout_s, sc.blocked_s)
    };
    let recorder = settings
        .record_trace
        .then(|| crate::trace::Recorder::new(&map_name, ego_id, route.points()));
    let evaluator = Evaluator::new(route, limits);
    let mut hooks = Scored {
        scorer: Scorer::new(evaluator, recorder, events, settings, wall_start),
        ego_id,
    };
    let end = ClosedLoop::new(settings.steps_per_control())
        .run(world, policy, &mut hooks, Control::hold())
        .await?;
    if end == End::Cancelled {
        return Err(RunError::Cancelled);
    }
    let mut scorer = hooks.scorer;
    scorer.finish().await;
    let outcome = scorer.evaluator.outcome();
    let meta = pb::Meta {
        warnings: settings
            .warnings
            .iter()
            .cloned()
            .chain(setup_warnings)
            .collect(),
        route_scenarios: settings.route_scenarios.clone(),
        traffic_vehicles: settings.traffic.map_or(0, |t| t.0),
        traffic_pedestrians: settings.traffic.map_or(0, |t| t.1),
        pass_criteria: Vec::new(),
        ..Default::default()
    };
    Ok(scorer.output(sc.name.clone(), seed, map_name, outcome, meta))
}

/// The hooks of a scored run with one policy-driven ego: the ego's command,
/// and the criteria on every snapshot.
struct Scored<'e> {
    scorer: Scorer<'e>,
    ego_id: u64,
}

impl Hooks<BridgeWorld, Control> for Scored<'_> {
    type Route = Evaluator;
    type Error = RunError;

    fn cancelled(&self) -> bool {
        self.scorer.events.is_closed()
    }

    fn commands(&mut self, control: &Control) -> Vec<sim::ActorCommand> {
        vec![ego_command(self.ego_id, control)]
    }

    async fn observe(
        &mut self,
        _world: &mut BridgeWorld,
        snap: &sim::Snapshot,
    ) -> Result<Flow, RunError> {
        self.scorer.score(snap, self.ego_id).await
    }

    fn route(&self) -> &Evaluator {
        &self.scorer.evaluator
    }

    fn driver_ended(&mut self) {
        self.scorer.evaluator.terminate();
    }

    fn step_done(&mut self, wall: Duration) {
        self.scorer.step_took(wall);
    }
}

impl RouteView for Evaluator {
    fn route(&self) -> &Polyline {
        Evaluator::route(self)
    }

    fn progress(&self) -> f64 {
        Evaluator::progress(self)
    }
}

pub(crate) fn event(kind: pb::run_event::Kind) -> Result<pb::RunEvent, Status> {
    Ok(pb::RunEvent { kind: Some(kind) })
}

/// Where a run streams its events.
pub(crate) type Events = mpsc::Sender<Result<pb::RunEvent, Status>>;

/// Streams the `Started` event of a run in world `world_id`.
pub(crate) async fn send_started(
    events: &Events,
    scenario: &str,
    map: &str,
    route_length: f64,
    world_id: &str,
    session_uuid: &str,
) {
    let _ = events
        .send(event(pb::run_event::Kind::Started(pb::Started {
            run_id: format!("{scenario}-{}", &session_uuid[..8]),
            scenario: scenario.into(),
            map: map.into(),
            route_length,
            world_id: world_id.into(),
            session_uuid: session_uuid.into(),
        })))
        .await;
}

/// The scoring side of a run: the criteria, the trace, and the infraction
/// and progress events streamed as the run goes.
pub(crate) struct Scorer<'e> {
    pub evaluator: Evaluator,
    recorder: Option<crate::trace::Recorder>,
    pub events: &'e Events,
    progress_every: u64,
    /// Control steps scored so far.
    step: u64,
    /// Simulated time of the last step scored, seconds.
    last_time: f64,
    index: u32,
    wall_start: Instant,
    /// Wall time of each full control step.
    step_times: Vec<Duration>,
}

impl<'e> Scorer<'e> {
    pub fn new(
        evaluator: Evaluator,
        recorder: Option<crate::trace::Recorder>,
        events: &'e Events,
        settings: &RunSettings,
        wall_start: Instant,
    ) -> Self {
        Self {
            evaluator,
            recorder,
            events,
            progress_every: settings.progress_every as u64,
            step: 0,
            last_time: 0.0,
            index: settings.index,
            wall_start,
            step_times: Vec::new(),
        }
    }

    /// Notes the wall time a full control step took.
    pub fn step_took(&mut self, d: Duration) {
        self.step_times.push(d);
    }

    /// Scores one control step's snapshot for the ego (`me` at `here`),
    /// records it and streams the infractions it raised.
    pub async fn observe(
        &mut self,
        snap: &sim::Snapshot,
        ego_id: u64,
        me: &sim::ActorState,
        here: &Pose2,
    ) {
        self.step += 1;
        let sample = EgoSample {
            time: snap.sim_time_s,
            x: here.x,
            y: here.y,
            speed: me.speed,
            heading: here.yaw,
        };
        self.last_time = sample.time;
        let raised =
            self.evaluator
                .observe(sample, ego_id, &Observation::from_snapshot(snap, ego_id));
        if let Some(r) = &mut self.recorder {
            r.record(snap, &raised);
        }
        for inf in raised {
            let _ = self
                .events
                .send(event(pb::run_event::Kind::Infraction(inf)))
                .await;
        }
    }

    /// Scores the ego `ego_id` in one control step's snapshot and streams
    /// what it raised and the progress; [`Flow::Stop`] when the criteria
    /// end the run.
    pub async fn score(&mut self, snap: &sim::Snapshot, ego_id: u64) -> Result<Flow, RunError> {
        let (me, here) = ego_state(snap, ego_id)?;
        self.observe(snap, ego_id, me, &here).await;
        let done = self.evaluator.done();
        self.progress(snap, me, &here, done).await;
        Ok(if done { Flow::Stop } else { Flow::Continue })
    }

    /// Streams the run's progress every `progress_every` steps, and on the
    /// last step (`last`).
    pub async fn progress(
        &self,
        snap: &sim::Snapshot,
        me: &sim::ActorState,
        here: &Pose2,
        last: bool,
    ) {
        if self.step.is_multiple_of(self.progress_every) || last {
            let _ = self
                .events
                .send(event(pb::run_event::Kind::Progress(pb::Progress {
                    step: self.step,
                    sim_time_s: snap.sim_time_s,
                    route_completion: self.evaluator.completion(),
                    speed: me.speed,
                    x: here.x,
                    y: here.y,
                    yaw: here.yaw,
                })))
                .await;
        }
    }

    /// Closes the criteria at the end of the run; records and streams what
    /// they raise.
    pub async fn finish(&mut self) {
        let closing = self.evaluator.finish();
        if let Some(r) = &mut self.recorder {
            r.infractions(&closing);
        }
        for inf in closing {
            let _ = self
                .events
                .send(event(pb::run_event::Kind::Infraction(inf)))
                .await;
        }
    }

    /// The finished run's output: its record, with the outcome `scores`
    /// and `status` and `meta` completed with the route length and the
    /// simulated and wall durations, and its trace.
    pub fn output(
        mut self,
        route_id: String,
        seed: u64,
        map: String,
        (scores, status): (pb::Scores, RunStatus),
        meta: pb::Meta,
    ) -> RunOutput {
        let infractions = self.evaluator.infractions().to_vec();
        let record = pb::RouteRecord {
            index: self.index,
            route_id,
            status: status.as_str().into(),
            num_infractions: infractions.len() as u32,
            infractions,
            scores: Some(scores),
            meta: Some(pb::Meta {
                route_length: self.evaluator.route().length(),
                duration_game: self.last_time,
                duration_system: self.wall_start.elapsed().as_secs_f64(),
                ..meta
            }),
            timing: Some(timing(&mut self.step_times)),
            seed,
            map,
        };
        RunOutput {
            record,
            trace: self.recorder.map(|r| r.finish()),
        }
    }
}

pub(crate) fn timing(samples: &mut [Duration]) -> pb::Timing {
    if samples.is_empty() {
        return pb::Timing::default();
    }
    samples.sort_unstable();
    let q = |p: f64| {
        let i = ((samples.len() - 1) as f64 * p).round() as usize;
        samples[i].as_secs_f64() * 1e3
    };
    let mean = samples.iter().map(|d| d.as_secs_f64()).sum::<f64>() / samples.len() as f64 * 1e3;
    pb::Timing {
        control_steps: samples.len() as u64,
        step_p50_ms: q(0.5),
        step_p99_ms: q(0.99),
        step_mean_ms: mean,
    }
}
