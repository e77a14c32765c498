//! One closed-loop run: create a world on the bridge, open a session on the
//! egodriver policy, then per control step
//! `Step` → criteria → submit image, egomotion, route → `drive` → controller,
//! until the route is completed or a criterion ends it.

use std::time::{Duration, Instant};

use atlas_proto::scenario as pb;
use atlas_proto::sim;
use atlas_proto::{common, egodriver, sensorsim};
use atlas_scenario_format::native::{self as scenario, Placement, Scenario};
use tokio::sync::mpsc;
use tonic::Status;
use tonic::codegen::InterceptedService;
use tonic::transport::Channel;

use crate::controller::{Control, Controller, ControllerConfig, Plan};
use crate::criteria::{EgoSample, Evaluator, Limits, Observation};
use crate::geometry::{Polyline, Pose2, PoseWire, optical_mount};

pub type SimClient = sim::simulator_client::SimulatorClient<
    InterceptedService<Channel, atlas_rt::trace_context::TraceInterceptor>,
>;
pub type DriverClient = egodriver::egodriver_service_client::EgodriverServiceClient<
    InterceptedService<Channel, atlas_rt::trace_context::TraceInterceptor>,
>;

/// The camera the runtime declares to the policy and renders on the bridge.
pub mod camera {
    pub const LOGICAL_ID: &str = "camera_front";
    pub const WIDTH: u32 = 320;
    pub const HEIGHT: u32 = 180;
    pub const HFOV_DEG: f64 = 90.0;
    /// Mount in the rig (rear-axle centre): forward, left, up, metres.
    pub const MOUNT: (f64, f64, f64) = (1.5, 0.0, 1.6);
    pub const JPEG_QUALITY: u32 = 90;

    /// Focal length in pixels for the horizontal field of view.
    pub fn focal() -> f64 {
        WIDTH as f64 / (2.0 * (HFOV_DEG.to_radians() / 2.0).tan())
    }

    /// The camera as the simulator takes it: intrinsics, and the mount in
    /// the rig, level and looking ahead.
    pub fn spec() -> atlas_sim::CameraSpec {
        let (x, y, z) = MOUNT;
        atlas_sim::CameraSpec {
            width: WIDTH,
            height: HEIGHT,
            fov_deg: HFOV_DEG,
            fx: focal(),
            fy: focal(),
            cx: WIDTH as f64 / 2.0,
            cy: HEIGHT as f64 / 2.0,
            mount: atlas_sim::Pose {
                x,
                y,
                z,
                ..atlas_sim::Pose::default()
            },
        }
    }
}

/// Attaches the runtime's camera ([`camera::spec`], JPEG at
/// [`camera::JPEG_QUALITY`]) to actor `actor_id` of world `world_id` on the
/// bridge, named [`camera::LOGICAL_ID`].
pub async fn attach_camera<T>(
    simc: &mut sim::simulator_client::SimulatorClient<T>,
    world_id: &str,
    actor_id: u64,
) -> Result<(), RunError>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let c = camera::spec();
    let m = c.mount;
    simc.attach_sensor(sim::AttachSensorRequest {
        world_id: world_id.into(),
        actor_id,
        name: camera::LOGICAL_ID.into(),
        spec: Some(sim::attach_sensor_request::Spec::Camera(sim::CameraSpec {
            width: c.width,
            height: c.height,
            fov_deg: c.fov_deg,
            fx: c.fx,
            fy: c.fy,
            cx: c.cx,
            cy: c.cy,
            mount: Some(sim::Pose {
                position: Some(sim::Vec3 {
                    x: m.x,
                    y: m.y,
                    z: m.z,
                }),
                yaw: m.yaw,
                pitch: m.pitch,
                roll: m.roll,
            }),
            encoding: sim::ImageEncoding::Jpeg as i32,
            jpeg_quality: camera::JPEG_QUALITY,
        })),
    })
    .await
    .map_err(upstream("bridge AttachSensor"))?;
    Ok(())
}

/// The route is sent as 20 points about 4.21 m apart (80 m look-ahead), as AlpaSim does.
const ROUTE_POINTS: usize = 20;
const ROUTE_SPACING: f64 = 80.0 / 19.0;

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

pub(crate) fn upstream(context: impl Into<String>) -> impl FnOnce(Status) -> RunError {
    let context = context.into();
    move |status| RunError::Upstream { context, status }
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
    mut simc: SimClient,
    mut driver: DriverClient,
    events: &mpsc::Sender<Result<pb::RunEvent, Status>>,
) -> Result<RunOutput, RunError> {
    let seed = settings.seed.unwrap_or(sc.seed);
    let map = match map {
        MapSource::Name(n) => sim::create_world_request::Map::MapName(n),
        MapSource::Xml(x) => sim::create_world_request::Map::OpendriveXml(x),
    };
    let created = create_world(&mut simc, map, settings, seed, &sc.name, &sc.file).await?;
    let session_uuid = uuid::Uuid::new_v4().to_string();

    let result = run_in_world(
        sc,
        &created,
        &session_uuid,
        seed,
        settings,
        &mut simc,
        &mut driver,
        events,
    )
    .await;

    release(
        &mut simc,
        Some(&mut driver),
        &session_uuid,
        &created.world_id,
    )
    .await;
    result
}

/// Creates the world of a run (`label`, from scenario file `file`) on the
/// bridge at the run's simulation rate.
pub(crate) async fn create_world(
    simc: &mut SimClient,
    map: sim::create_world_request::Map,
    settings: &RunSettings,
    seed: u64,
    label: &str,
    file: &str,
) -> Result<sim::CreateWorldResponse, RunError> {
    Ok(simc
        .create_world(sim::CreateWorldRequest {
            map: Some(map),
            fixed_delta_s: 1.0 / settings.sim_hz,
            seed,
            label: label.into(),
        })
        .await
        .map_err(upstream(format!("bridge CreateWorld for {file}")))?
        .into_inner())
}

/// Releases what a run held, whatever happened to it: the policy session
/// (when one was opened on `driver`) and the world. Failures are logged.
pub(crate) async fn release(
    simc: &mut SimClient,
    driver: Option<&mut DriverClient>,
    session_uuid: &str,
    world_id: &str,
) {
    if let Some(driver) = driver
        && let Err(e) = driver
            .close_session(egodriver::DriveSessionCloseRequest {
                session_uuid: session_uuid.into(),
            })
            .await
    {
        tracing::warn!(error = %e, "close_session failed");
    }
    if let Err(e) = simc
        .destroy_world(sim::DestroyWorldRequest {
            world_id: world_id.into(),
        })
        .await
    {
        tracing::warn!(error = %e, world = %world_id, "DestroyWorld failed");
    }
}

async fn resolve(
    simc: &mut SimClient,
    world_id: &str,
    p: &Placement,
) -> Result<(f64, f64, f64), RunError> {
    match p {
        Placement::World { x, y, yaw } => Ok((*x, *y, *yaw)),
        Placement::Lane {
            road,
            lane,
            s,
            offset,
        } => {
            let pose = simc
                .lane_pose(sim::LanePoseRequest {
                    world_id: world_id.into(),
                    lane_position: Some(lane_position(road, *lane, *s, *offset)),
                })
                .await
                .map_err(upstream(format!(
                    "lane position road {road} lane {lane} s {s}"
                )))?
                .into_inner()
                .pose
                .unwrap_or_default();
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

#[allow(clippy::too_many_arguments)]
async fn run_in_world(
    sc: &Scenario,
    created: &sim::CreateWorldResponse,
    session_uuid: &str,
    seed: u64,
    settings: &RunSettings,
    simc: &mut SimClient,
    driver: &mut DriverClient,
    events: &mpsc::Sender<Result<pb::RunEvent, Status>>,
) -> Result<RunOutput, RunError> {
    let wall_start = Instant::now();
    let world_id = created.world_id.as_str();
    let map_name = created
        .map
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();

    // Ego, route, other actors, camera.
    let ego = simc
        .spawn_actor(sim::SpawnActorRequest {
            world_id: world_id.into(),
            kind: sim::ActorKind::Vehicle as i32,
            role: "ego".into(),
            name: "ego".into(),
            placement: Some(placement(&sc.ego.start)),
            speed: sc.ego.speed,
            dimensions: None,
            behavior: Some(sim::Behavior {
                kind: Some(sim::behavior::Kind::External(sim::behavior::External {})),
            }),
        })
        .await
        .map_err(upstream(format!("{}: `ego.start`", sc.file)))?
        .into_inner();
    let ego_pose = ego.pose.unwrap_or_default();
    let ego_pos = ego_pose.position.unwrap_or_default();

    let mut route_positions = vec![sim::Vec3 {
        x: ego_pos.x,
        y: ego_pos.y,
        z: 0.0,
    }];
    for (i, w) in sc.route.waypoints.iter().enumerate() {
        let (x, y, _) = resolve(simc, world_id, w).await.map_err(|e| match e {
            RunError::Upstream { context, status } => RunError::Upstream {
                context: format!("{}: `route.waypoints[{i}]` ({context})", sc.file),
                status,
            },
            other => other,
        })?;
        route_positions.push(sim::Vec3 { x, y, z: 0.0 });
    }
    let planned = simc
        .plan_route(sim::PlanRouteRequest {
            world_id: world_id.into(),
            waypoints: route_positions,
            spacing: 1.0,
        })
        .await
        .map_err(upstream(format!("{}: planning `route`", sc.file)))?
        .into_inner();
    let route = Polyline::new(planned.points.iter().map(|p| (p.x, p.y))).ok_or_else(|| {
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
        simc.spawn_actor(sim::SpawnActorRequest {
            world_id: world_id.into(),
            kind: kind as i32,
            role: "npc".into(),
            name: a.name.clone(),
            placement: Some(placement(&a.start)),
            speed: a.speed,
            dimensions: None,
            behavior: Some(sim::Behavior {
                kind: Some(behavior),
            }),
        })
        .await
        .map_err(upstream(format!("{}: `actors[{i}]` ({})", sc.file, a.name)))?;
    }

    if let Some((vehicles, pedestrians)) = settings.traffic
        && vehicles + pedestrians > 0
    {
        simc.spawn_traffic(sim::SpawnTrafficRequest {
            world_id: world_id.into(),
            vehicles,
            pedestrians,
            seed,
        })
        .await
        .map_err(upstream(format!(
            "{}: background traffic ({vehicles} vehicles, {pedestrians} pedestrians)",
            sc.file
        )))?;
    }

    attach_camera(simc, world_id, ego.actor_id).await?;

    open_session(driver, session_uuid, seed, &sc.name).await?;

    send_started(
        events,
        &sc.name,
        &map_name,
        route.length(),
        world_id,
        session_uuid,
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
        .then(|| crate::trace::Recorder::new(&map_name, ego.actor_id, route.points()));
    let evaluator = Evaluator::new(route, limits);
    let mut scorer = Scorer::new(evaluator, recorder, events, settings, wall_start);
    let mut policy = Policy::new(driver, session_uuid, settings.control_dt());
    let steps_per_control = settings.steps_per_control();
    let mut control = Control::hold();

    loop {
        if events.is_closed() {
            return Err(RunError::Cancelled);
        }
        let t0 = Instant::now();
        let commands = vec![ego_command(ego.actor_id, &control)];
        let snap = step_world(simc, world_id, steps_per_control, commands, true).await?;
        let (me, here) = ego_state(&snap, ego.actor_id)?;
        scorer.observe(&snap, ego.actor_id, me, &here).await;
        let done = scorer.evaluator.done();
        scorer.progress(&snap, me, &here, done).await;
        if done {
            break;
        }
        match policy.step(&snap, me, &here, &mut scorer.evaluator).await? {
            Some(c) => control = c,
            None => break,
        }
        scorer.step_took(t0.elapsed());
    }

    scorer.finish().await;
    let outcome = scorer.evaluator.outcome();
    let meta = pb::Meta {
        warnings: settings.warnings.clone(),
        route_scenarios: settings.route_scenarios.clone(),
        traffic_vehicles: settings.traffic.map_or(0, |t| t.0),
        traffic_pedestrians: settings.traffic.map_or(0, |t| t.1),
        pass_criteria: Vec::new(),
        ..Default::default()
    };
    Ok(scorer.output(sc.name.clone(), seed, map_name, outcome, meta))
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

/// The request that opens policy session `session_uuid`, declaring the
/// runtime's camera; `scene` names the scenario for the policy's logs.
pub fn session_request(
    session_uuid: &str,
    seed: u64,
    scene: Option<&str>,
) -> tonic::Request<egodriver::DriveSessionRequest> {
    let mut start = tonic::Request::new(egodriver::DriveSessionRequest {
        session_uuid: session_uuid.into(),
        random_seed: seed,
        debug_info: scene
            .map(|s| egodriver::drive_session_request::DebugInfo { scene_id: s.into() }),
        rollout_spec: Some(egodriver::drive_session_request::RolloutSpec {
            vehicle: Some(
                egodriver::drive_session_request::rollout_spec::VehicleDefinition {
                    available_cameras: vec![declared_camera()],
                },
            ),
        }),
    });
    start.metadata_mut().insert(
        atlas_proto::CONTRACT_REVISION_HEADER,
        tonic::metadata::MetadataValue::from_static(atlas_proto::CONTRACT_REVISION),
    );
    start
}

/// Checks the policy answers and opens session `session_uuid` on it.
pub(crate) async fn open_session(
    driver: &mut DriverClient,
    session_uuid: &str,
    seed: u64,
    scene: &str,
) -> Result<(), RunError> {
    driver
        .get_version(common::Empty {})
        .await
        .map_err(upstream("driver get_version"))?;
    driver
        .start_session(session_request(session_uuid, seed, Some(scene)))
        .await
        .map_err(upstream("driver start_session"))?;
    Ok(())
}

/// The command that applies `control` to the ego `actor_id`.
pub fn ego_command(actor_id: u64, control: &Control) -> sim::ActorCommand {
    sim::ActorCommand {
        actor_id,
        control: Some(sim::VehicleControl {
            throttle: control.throttle,
            brake: control.brake,
            steer: control.steer,
        }),
        state: None,
    }
}

/// Advances world `world_id` by one control step (`steps` world steps)
/// under `commands` and returns the snapshot after it.
pub(crate) async fn step_world(
    simc: &mut SimClient,
    world_id: &str,
    steps: u32,
    commands: Vec<sim::ActorCommand>,
    render: bool,
) -> Result<sim::Snapshot, RunError> {
    Ok(simc
        .step(sim::StepRequest {
            world_id: world_id.into(),
            steps,
            commands,
            render,
        })
        .await
        .map_err(upstream("bridge Step"))?
        .into_inner()
        .snapshot
        .unwrap_or_default())
}

/// The ego's state in `snap` and its pose.
pub(crate) fn ego_state(
    snap: &sim::Snapshot,
    ego_id: u64,
) -> Result<(&sim::ActorState, Pose2), RunError> {
    let me = snap
        .actors
        .iter()
        .find(|a| a.actor_id == ego_id)
        .ok_or_else(|| RunError::Invalid("the bridge lost the ego actor".into()))?;
    let pose = me.pose.unwrap_or_default();
    let pos = pose.position.unwrap_or_default();
    Ok((me, Pose2::new(pos.x, pos.y, pos.z, pose.yaw)))
}

/// The scoring side of a run: the criteria, the trace, and the infraction
/// and progress events streamed as the run goes.
pub(crate) struct Scorer<'e> {
    pub evaluator: Evaluator,
    recorder: Option<crate::trace::Recorder>,
    events: &'e Events,
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
        (scores, status): (pb::Scores, String),
        meta: pb::Meta,
    ) -> RunOutput {
        let infractions = self.evaluator.infractions().to_vec();
        let record = pb::RouteRecord {
            index: self.index,
            route_id,
            status,
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

/// The policy's side of a run: its session, and the controller that turns
/// its plans into the ego's control.
pub(crate) struct Policy<'d> {
    driver: &'d mut DriverClient,
    session_uuid: &'d str,
    controller: Controller,
    control_dt: f64,
}

impl<'d> Policy<'d> {
    pub fn new(driver: &'d mut DriverClient, session_uuid: &'d str, control_dt: f64) -> Self {
        Self {
            driver,
            session_uuid,
            controller: Controller::new(ControllerConfig::default()),
            control_dt,
        }
    }

    /// Submits the step's observations (image, egomotion, route), asks
    /// `drive` for a plan and returns the control that follows it for the
    /// next step; `None` when the policy ends the session (the run is then
    /// terminated in `evaluator`).
    pub async fn step(
        &mut self,
        snap: &sim::Snapshot,
        me: &sim::ActorState,
        here: &Pose2,
        evaluator: &mut Evaluator,
    ) -> Result<Option<Control>, RunError> {
        let now_us = (snap.sim_time_s * 1e6).round() as u64;
        let control_dt_us = (self.control_dt * 1e6).round() as u64;
        submit_observations(
            self.driver,
            self.session_uuid,
            now_us,
            here,
            me,
            snap,
            evaluator,
        )
        .await?;
        let reply = self
            .driver
            .drive(egodriver::DriveRequest {
                session_uuid: self.session_uuid.into(),
                time_now_us: now_us,
                time_query_us: now_us + control_dt_us,
                renderer_data: Vec::new(),
            })
            .await
            .map_err(upstream("driver drive"))?
            .into_inner();
        if reply.terminate_session {
            evaluator.terminate();
            return Ok(None);
        }
        let plan = to_plan(reply.trajectory.as_ref(), now_us);
        Ok(Some(self.controller.control(
            here,
            me.speed,
            &plan,
            self.control_dt,
        )))
    }
}

/// The camera as the runtime declares it to the policy in its session.
pub fn declared_camera() -> sensorsim::available_cameras_return::AvailableCamera {
    let (mx, my, mz) = camera::MOUNT;
    sensorsim::available_cameras_return::AvailableCamera {
        intrinsics: Some(sensorsim::CameraSpec {
            camera_param: Some(sensorsim::camera_spec::CameraParam::OpencvPinholeParam(
                sensorsim::OpenCvPinholeCameraParam {
                    principal_point_x: camera::WIDTH as f64 / 2.0,
                    principal_point_y: camera::HEIGHT as f64 / 2.0,
                    focal_length_x: camera::focal(),
                    focal_length_y: camera::focal(),
                    ..Default::default()
                },
            )),
            logical_id: camera::LOGICAL_ID.into(),
            resolution_h: camera::HEIGHT,
            resolution_w: camera::WIDTH,
            shutter_type: sensorsim::ShutterType::Global as i32,
            ..Default::default()
        }),
        rig_to_camera: Some(optical_mount(mx, my, mz, 0.0)),
        logical_id: camera::LOGICAL_ID.into(),
    }
}

/// The ego's egomotion observation at `now_us`: its pose, and its dynamics
/// resolved in the rig axes.
pub fn egomotion(
    session_uuid: &str,
    now_us: u64,
    here: &Pose2,
    me: &sim::ActorState,
) -> egodriver::RolloutEgoTrajectory {
    let v = me.velocity.unwrap_or_default();
    let a = me.acceleration.unwrap_or_default();
    let (s, c) = here.yaw.sin_cos();
    let rig = |x: f64, y: f64, z: f64| common::Vec3 {
        x: (c * x + s * y) as f32,
        y: (-s * x + c * y) as f32,
        z: z as f32,
    };
    egodriver::RolloutEgoTrajectory {
        session_uuid: session_uuid.into(),
        trajectory: Some(common::Trajectory {
            poses: vec![common::PoseAtTime {
                pose: Some(here.to_wire()),
                timestamp_us: now_us,
            }],
        }),
        dynamic_states: vec![common::DynamicState {
            angular_velocity: Some(common::Vec3 {
                x: 0.0,
                y: 0.0,
                z: me.yaw_rate as f32,
            }),
            linear_velocity: Some(rig(v.x, v.y, v.z)),
            linear_acceleration: Some(rig(a.x, a.y, a.z)),
            angular_acceleration: Some(common::Vec3::default()),
        }],
    }
}

async fn submit_observations(
    driver: &mut DriverClient,
    session_uuid: &str,
    now_us: u64,
    here: &Pose2,
    me: &sim::ActorState,
    snap: &sim::Snapshot,
    evaluator: &Evaluator,
) -> Result<(), RunError> {
    // Images of the step's camera frames.
    let images = snap
        .frames
        .iter()
        .filter(|f| f.actor_id == me.actor_id && f.name == camera::LOGICAL_ID)
        .map(|f| egodriver::RolloutCameraImage {
            session_uuid: session_uuid.into(),
            camera_image: Some(egodriver::rollout_camera_image::CameraImage {
                frame_start_us: now_us,
                frame_end_us: now_us,
                image_bytes: f.data.clone(),
                logical_id: f.name.clone(),
            }),
        });

    let ego = egomotion(session_uuid, now_us, here, me);

    // Route: 20 points ahead along the route in the rig frame, NaN-padded.
    let route = evaluator.route();
    let s0 = evaluator.progress();
    let waypoints = (0..ROUTE_POINTS)
        .map(|k| {
            let s = s0 + k as f64 * ROUTE_SPACING;
            if s > route.length() + 1e-6 {
                return common::Vec3 {
                    x: f32::NAN,
                    y: f32::NAN,
                    z: f32::NAN,
                };
            }
            let (wx, wy) = route.point_at(s);
            let (lx, ly) = here.to_local(wx, wy);
            common::Vec3 {
                x: lx as f32,
                y: ly as f32,
                z: 0.0,
            }
        })
        .collect();
    let route_req = egodriver::RouteRequest {
        session_uuid: session_uuid.into(),
        route: Some(egodriver::Route {
            waypoints,
            timestamp_us: now_us,
        }),
    };

    // All submits of a step complete before its drive; their order is free.
    let mut d1 = driver.clone();
    let mut d2 = driver.clone();
    let image_calls = futures::future::try_join_all(images.map(|img| {
        let mut d = driver.clone();
        async move { d.submit_image_observation(img).await }
    }));
    let (imgs, ego_r, route_r) = tokio::join!(
        image_calls,
        d1.submit_egomotion_observation(ego),
        d2.submit_route(route_req)
    );
    imgs.map_err(upstream("driver submit_image_observation"))?;
    ego_r.map_err(upstream("driver submit_egomotion_observation"))?;
    route_r.map_err(upstream("driver submit_route"))?;
    Ok(())
}

/// The policy's trajectory as a plan: poses with their time after `now_us`, seconds.
pub fn to_plan(traj: Option<&common::Trajectory>, now_us: u64) -> Plan {
    let poses = traj
        .map(|t| {
            t.poses
                .iter()
                .filter_map(|p| {
                    let pose = Pose2::from_wire(p.pose.as_ref()?)?;
                    let dt = (p.timestamp_us as f64 - now_us as f64) / 1e6;
                    Some((dt, pose))
                })
                .collect()
        })
        .unwrap_or_default();
    Plan { poses }
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
