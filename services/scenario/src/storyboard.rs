//! OpenSCENARIO (`.xosc`) runs: the file is read with its catalogs and
//! road network ([`atlas_scenario_format::xosc`]), the storyboard is played
//! each control step, and every entity it moves is a `Scripted` actor on
//! the bridge that the player places before each `Step`.
//!
//! The ego (`RunOptions.ego`, by default the entity named like `Ego` or
//! `hero`) takes its start from the file and is then driven by the policy;
//! with `ego = "storyboard"` it too follows the storyboard on the default
//! controller and no policy runs. The ego's route is its assigned route, or
//! its lane ahead for as long as the scenario means to run; the run is
//! scored like any other.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_proto::leaderboard::{Failure, RunStatus};
use atlas_proto::scenario as pb;
use atlas_proto::sim;
use atlas_scenario_format::xosc::XoscRun;
use atlas_xosc::Player;
use atlas_xosc::model::EntityKind;
use tokio::sync::mpsc;
use tonic::Status;

use atlas_loop::{
    BridgeWorld, ClosedLoop, Control, EgodriverPolicy, End, Flow, Hooks, ego_command, ego_state,
};

use crate::criteria::{Evaluator, Limits};
use crate::geometry::Polyline;
use crate::runner::{self, DriverClient, RunError, RunOutput, RunSettings, Scorer, SimClient};

/// The `RunOptions.ego` value that runs every entity on the storyboard.
pub const STORYBOARD: &str = "storyboard";

fn invalid(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(e.to_string())
}

/// The entity the policy drives: `requested` when given, else the one named
/// like "Ego" or "hero". `None` in storyboard mode.
pub fn choose_ego(sc: &atlas_xosc::Scenario, requested: &str) -> Result<Option<String>, Status> {
    if requested == STORYBOARD {
        return Ok(None);
    }
    let names: Vec<&str> = sc.entities.iter().map(|e| e.name.as_str()).collect();
    if !requested.is_empty() {
        let e = sc.entity(requested).ok_or_else(|| {
            invalid(format!(
                "`options.ego`: {}: no entity {requested:?} (entities: {})",
                sc.file,
                names.join(", ")
            ))
        })?;
        if e.kind != EntityKind::Vehicle {
            return Err(invalid(format!(
                "`options.ego`: {}: {requested:?} is not a vehicle",
                sc.file
            )));
        }
        return Ok(Some(requested.to_owned()));
    }
    default_ego(sc).map(Some).ok_or_else(|| {
        invalid(format!(
            "{}: no entity is named like Ego or hero; choose one with --ego (entities: {})",
            sc.file,
            names.join(", ")
        ))
    })
}

/// The entity named `ego`/`hero` (case-insensitive), or else the first
/// vehicle whose name contains one of them.
pub fn default_ego(sc: &atlas_xosc::Scenario) -> Option<String> {
    let vehicles = || sc.entities.iter().filter(|e| e.kind == EntityKind::Vehicle);
    vehicles()
        .find(|e| e.name.eq_ignore_ascii_case("ego") || e.name.eq_ignore_ascii_case("hero"))
        .or_else(|| {
            vehicles().find(|e| {
                let n = e.name.to_ascii_lowercase();
                n.contains("ego") || n.contains("hero")
            })
        })
        .map(|e| e.name.clone())
}

fn dimensions(e: &atlas_xosc::EntityState) -> sim::Dimensions {
    let b = e.bbox;
    let (wheelbase, rear_overhang) = match e.kind {
        EntityKind::Vehicle => {
            let rear = (0.5 * b.length - b.cx).clamp(0.0, (b.length - 0.01).max(0.0));
            (0.0, rear)
        }
        _ => (0.0, 0.0),
    };
    sim::Dimensions {
        length: b.length,
        width: b.width,
        height: b.height,
        wheelbase,
        rear_overhang,
    }
}

fn kind_of(k: EntityKind) -> sim::ActorKind {
    match k {
        EntityKind::Vehicle => sim::ActorKind::Vehicle,
        EntityKind::Pedestrian => sim::ActorKind::Pedestrian,
        EntityKind::MiscObject => sim::ActorKind::Static,
    }
}

fn pose(e: &atlas_xosc::EntityState) -> sim::Pose {
    sim::Pose {
        position: Some(sim::Vec3 {
            x: e.x,
            y: e.y,
            z: e.z,
        }),
        yaw: e.yaw,
        pitch: 0.0,
        roll: 0.0,
    }
}

/// A steering wheel turned this far (radians) gives full steering lock:
/// a steering ratio of 16 over the bridge's 35° road-wheel lock.
pub const STEERING_WHEEL_LOCK: f64 = 16.0 * 35.0 * std::f64::consts::PI / 180.0;

/// The policy's control with an OverrideControllerValueAction's overrides
/// in force: pedals replaced, the steering wheel angle as a fraction of
/// [`STEERING_WHEEL_LOCK`] (positive left, as OpenSCENARIO's), the parking
/// brake as brake, and no drive in neutral, in reverse (the bridge's
/// vehicles have no reverse gear) or with the clutch pressed.
pub fn overridden(control: &Control, o: &atlas_xosc::Overrides) -> Control {
    let mut c = *control;
    if let Some(t) = o.throttle {
        c.throttle = t;
    }
    if let Some(b) = o.brake {
        c.brake = b;
    }
    if let Some(w) = o.steering_wheel {
        c.steer = (w / STEERING_WHEEL_LOCK).clamp(-1.0, 1.0);
    }
    if let Some(p) = o.parking_brake {
        c.brake = c.brake.max(p);
    }
    let no_drive = o.gear.is_some_and(|g| g <= 0) || o.clutch.is_some_and(|k| k >= 0.5);
    if no_drive {
        c.throttle = 0.0;
    }
    c
}

/// Every vehicle the Init actions place must start on a drivable lane:
/// one placed farther than half a lane's width from every drivable lane
/// (a wrong road id, a position in another frame, a typo in a coordinate)
/// would drive over empty ground and be scored as if it had not.
fn check_starts(player: &Player, file: &str) -> Result<(), RunError> {
    let map = player.map();
    for e in player.entities() {
        if !e.present || e.kind != EntityKind::Vehicle {
            continue;
        }
        let near = map.drivable_near(atlas_sim::Vec2::new(e.x, e.y), 10.0);
        let on = near.iter().any(|(d, l)| *d <= 0.5 * l.width);
        if !on {
            let nearest = match near.first() {
                Some((d, l)) => format!(
                    "; the nearest drivable lane is {:.1} m away (road {}, lane {})",
                    d,
                    map.roads()[l.road].id,
                    l.lane_id
                ),
                None => "; no drivable lane is within 10 m".into(),
            };
            return Err(RunError::Invalid(format!(
                "{file}: entity {} starts off the road at ({:.2}, {:.2}){nearest}",
                e.name, e.x, e.y
            )));
        }
    }
    Ok(())
}

fn play_err(e: atlas_xosc::PlayError) -> RunError {
    RunError::Invalid(e.to_string())
}

/// Spawns the entities the player has placed but the world lacks, and
/// removes those it deleted.
async fn sync_actors(
    player: &Player,
    ids: &mut HashMap<String, u64>,
    ego: Option<&str>,
    scored: Option<&str>,
    world: &mut BridgeWorld,
    file: &str,
) -> Result<(), RunError> {
    for e in player.entities() {
        match (e.present, ids.get(&e.name).copied()) {
            (true, None) => {
                let is_ego = Some(e.name.as_str()) == ego;
                let behavior = if is_ego {
                    sim::behavior::Kind::External(sim::behavior::External {})
                } else {
                    sim::behavior::Kind::Scripted(sim::behavior::Scripted {})
                };
                let role = if Some(e.name.as_str()) == scored {
                    "ego"
                } else {
                    "npc"
                };
                let r = world
                    .spawn(
                        sim::SpawnActorRequest {
                            kind: kind_of(e.kind) as i32,
                            role: role.into(),
                            name: e.name.clone(),
                            placement: Some(sim::spawn_actor_request::Placement::Pose(pose(e))),
                            speed: e.speed.clamp(0.0, 70.0),
                            dimensions: Some(dimensions(e)),
                            behavior: Some(sim::Behavior {
                                kind: Some(behavior),
                            }),
                            ..Default::default()
                        },
                        format!("{file}: placing entity {}", e.name),
                    )
                    .await?;
                ids.insert(e.name.clone(), r.actor_id);
            }
            (false, Some(id)) => {
                world
                    .destroy_actor(id, format!("{file}: deleting entity {}", e.name))
                    .await?;
                ids.remove(&e.name);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs an OpenSCENARIO scenario to its storyboard's end (or the timeout)
/// and returns its record.
pub async fn run(
    x: XoscRun,
    options: &pb::RunOptions,
    settings: &RunSettings,
    simc: SimClient,
    driver: DriverClient,
    events: &mpsc::Sender<Result<pb::RunEvent, Status>>,
) -> Result<RunOutput, RunError> {
    let ego =
        choose_ego(&x.scenario, &options.ego).map_err(|s| RunError::Invalid(s.message().into()))?;
    let map = atlas_sim::Map::from_xml_with(
        &x.map_xml,
        &x.map_name,
        &x.map_file,
        &atlas_sim::LoadOptions {
            strict: options.strict,
        },
    )
    .map_err(|e| RunError::Invalid(format!("{}: road network: {e}", x.scenario.file)))?;
    let seed = settings.seed.unwrap_or(0);
    let xml = sim::create_world_request::Map::OpendriveXml(x.map_xml.clone());
    let mut world = BridgeWorld::create(
        simc,
        xml,
        1.0 / settings.sim_hz,
        seed,
        &x.name,
        &x.scenario.file,
    )
    .await?;
    let session_uuid = uuid::Uuid::new_v4().to_string();
    let mut policy = EgodriverPolicy::new(driver, &session_uuid, settings.control_dt());
    let result = run_in_world(
        &x,
        Arc::new(map),
        ego.as_deref(),
        seed,
        settings,
        &mut world,
        &mut policy,
        events,
    )
    .await;
    runner::release(world, ego.is_some().then_some(&mut policy)).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_in_world(
    x: &XoscRun,
    map: Arc<atlas_sim::Map>,
    ego: Option<&str>,
    seed: u64,
    settings: &RunSettings,
    world: &mut BridgeWorld,
    policy: &mut EgodriverPolicy,
    events: &mpsc::Sender<Result<pb::RunEvent, Status>>,
) -> Result<RunOutput, RunError> {
    let wall_start = Instant::now();
    let file = x.scenario.file.clone();
    // The bridge names a map sent as XML generically; the record names it
    // as the maps dir knows it.
    let map_name = if x.map_name.is_empty() {
        world.map_name()
    } else {
        x.map_name.clone()
    };
    let external: Vec<String> = ego.iter().map(|s| s.to_string()).collect();
    let mut player =
        Player::new(x.scenario.clone(), map, Vec::new(), &external).map_err(play_err)?;
    // The entity scored: the policy's ego, or in storyboard mode the one
    // that would be the ego.
    let scored = ego
        .map(str::to_owned)
        .or_else(|| default_ego(&x.scenario))
        .or_else(|| {
            x.scenario
                .entities
                .iter()
                .find(|e| e.kind == EntityKind::Vehicle)
                .map(|e| e.name.clone())
        })
        .ok_or_else(|| {
            RunError::Invalid(format!("{file}: the scenario has no vehicle to score"))
        })?;
    if !player.entity(&scored).is_some_and(|e| e.present) {
        return Err(RunError::Invalid(format!(
            "{file}: entity {scored} is never placed by the Init actions"
        )));
    }
    player.update().map_err(play_err)?;
    check_starts(&player, &file)?;
    let mut notes = Vec::new();
    if ego.is_none()
        && player
            .entity(&scored)
            .is_some_and(|e| e.external_controller)
    {
        // ScenarioRunner's ExternalControl leaves the entity to an outside
        // agent; with none attached (its `--openscenario` run without an
        // agent) the entity stands where Init put it. So it does here.
        notes.push(format!(
            "{file}: {scored} is assigned an external controller (external_control): in \
             storyboard mode nothing drives it and it is held at its start, as ScenarioRunner \
             holds it without an agent; run with the policy (--ego {scored}) to drive it"
        ));
    }
    let mut ids: HashMap<String, u64> = HashMap::new();
    sync_actors(&player, &mut ids, ego, Some(&scored), world, &file).await?;
    let ego_id = ids[&scored];

    // The route: assigned, or the lane ahead for the planned duration.
    let start_speed = player.entity(&scored).map_or(0.0, |e| e.speed);
    let planned = player.planned_duration().unwrap_or(60.0).clamp(1.0, 3600.0);
    let length = (start_speed.max(5.0) * planned).clamp(50.0, 20_000.0);
    let route_pts = player.route_ahead(&scored, length);
    let route = Polyline::new(route_pts.iter().copied())
        .ok_or_else(|| RunError::Invalid(format!("{file}: the ego's route ahead has no length")))?;

    if ego.is_some() {
        world.attach_camera(ego_id).await?;
        policy.set_ego(ego_id);
        policy.open(seed, Some(&x.name)).await?;
    }

    runner::send_started(
        events,
        &x.name,
        &map_name,
        route.length(),
        world.id(),
        policy.session_uuid(),
    )
    .await;

    // The storyboard's stop trigger ends the run; the timeout caps it.
    let timeout_s = settings.timeout_s.unwrap_or(planned + 30.0);
    let recorder = settings
        .record_trace
        .then(|| crate::trace::Recorder::new(&map_name, ego_id, route.points()));
    let evaluator = Evaluator::new(route, Limits::new(timeout_s, 180.0));
    let mut hooks = Storyboard {
        scorer: Scorer::new(evaluator, recorder, events, settings, wall_start),
        player,
        ids,
        ego,
        scored: &scored,
        ego_id,
        file: &file,
        control_dt: if ego.is_some() {
            settings.control_dt()
        } else {
            1.0 / settings.sim_hz
        },
        ended_by_storyboard: false,
    };
    // On the storyboard alone there is no policy to wait for: the player
    // steps with the simulator (esmini's fixed step), not at control rate.
    let steps = if ego.is_some() {
        settings.steps_per_control()
    } else {
        1
    };
    let end = ClosedLoop::new(steps)
        .run(world, policy, &mut hooks, Control::hold())
        .await?;
    if end == End::Cancelled {
        return Err(RunError::Cancelled);
    }
    let Storyboard {
        mut scorer,
        player,
        ended_by_storyboard,
        ..
    } = hooks;

    scorer.finish().await;
    let (scores, mut status) = scorer.evaluator.outcome();
    if ended_by_storyboard && status == RunStatus::Failed(Failure::SimulationEnded) {
        // The scenario, not the ego, decided when the run ends.
        status = RunStatus::Completed;
    }
    let pass_criteria = crate::criteria::pass_criteria(&scorer.evaluator, &x.scenario.criteria)
        .into_iter()
        .map(|c| pb::PassCriterion {
            name: c.name,
            result: match c.passed {
                Some(true) => "passed",
                Some(false) => "failed",
                None => "unknown",
            }
            .into(),
            detail: c.detail,
        })
        .collect();
    let mut warnings = x.scenario.warnings.clone();
    // What loading the road network tolerated (dangling links, duplicate
    // ids, unknown elements), so a run on an untidy map says so.
    warnings.extend(player.map().warnings().iter().map(|w| w.to_string()));
    warnings.extend(notes);
    warnings.extend(player.warnings().iter().cloned());
    for l in player.log() {
        tracing::info!(scenario = %x.name, time = l.time, "{}", l.message);
    }
    let meta = pb::Meta {
        warnings,
        pass_criteria,
        ..Default::default()
    };
    Ok(scorer.output(x.name.clone(), seed, map_name, (scores, status), meta))
}

/// The hooks of an OpenSCENARIO run: every entity the storyboard moves is a
/// scripted actor placed before each step; the player sees the world after
/// it (collisions, the policy's ego) and may add or remove entities.
struct Storyboard<'a> {
    scorer: Scorer<'a>,
    player: Player,
    ids: HashMap<String, u64>,
    /// The entity the policy drives; `None` in storyboard mode.
    ego: Option<&'a str>,
    scored: &'a str,
    ego_id: u64,
    file: &'a str,
    control_dt: f64,
    ended_by_storyboard: bool,
}

impl Hooks<BridgeWorld, Control> for Storyboard<'_> {
    type Route = Evaluator;
    type Error = RunError;

    fn cancelled(&self) -> bool {
        self.scorer.events.is_closed()
    }

    fn commands(&mut self, control: &Control) -> Vec<sim::ActorCommand> {
        let mut commands = Vec::new();
        if let Some(name) = self.ego {
            let control = match self.player.entity(name) {
                Some(e) if e.overrides.any() => overridden(control, &e.overrides),
                _ => *control,
            };
            commands.push(ego_command(self.ego_id, &control));
        }
        for e in self.player.entities() {
            if !e.present || e.external {
                continue;
            }
            if let Some(&id) = self.ids.get(&e.name) {
                commands.push(sim::ActorCommand {
                    actor_id: id,
                    control: None,
                    state: Some(sim::ScriptedState {
                        pose: Some(pose(e)),
                        speed: e.speed.clamp(0.0, 70.0),
                        acceleration: e.accel.clamp(-50.0, 50.0),
                    }),
                });
            }
        }
        commands
    }

    fn render(&self) -> bool {
        self.ego.is_some()
    }

    async fn observe(
        &mut self,
        world: &mut BridgeWorld,
        snap: &sim::Snapshot,
    ) -> Result<Flow, RunError> {
        // The storyboard sees the world: collisions and the policy's ego.
        let name_of: HashMap<u64, &str> =
            self.ids.iter().map(|(n, id)| (*id, n.as_str())).collect();
        let mut touches = Vec::new();
        for ev in &snap.events {
            if let Some(sim::event::Kind::Collision(c)) = &ev.kind
                && let (Some(a), Some(b)) =
                    (name_of.get(&c.actor_id), name_of.get(&c.other_actor_id))
            {
                touches.push((a.to_string(), b.to_string()));
            }
        }
        self.player.advance(self.control_dt).map_err(play_err)?;
        for (a, b) in touches {
            self.player.note_collision(&a, &b);
        }
        let (me, here) = ego_state(snap, self.ego_id)?;
        if let Some(name) = self.ego {
            let a = me.acceleration.unwrap_or_default();
            let along = a.x * here.yaw.cos() + a.y * here.yaw.sin();
            self.player
                .set_external(name, here.x, here.y, here.yaw, me.speed, along);
        }
        self.player.update().map_err(play_err)?;
        sync_actors(
            &self.player,
            &mut self.ids,
            self.ego,
            Some(self.scored),
            world,
            self.file,
        )
        .await?;

        self.scorer.observe(snap, self.ego_id, me, &here).await;
        // With the policy driving, the run ends when the route is done or
        // failed; on the storyboard alone, only its stop trigger (or a
        // failure such as the timeout) ends it: reaching the end of the
        // route the runtime derived is not the scenario's end.
        let ev = &self.scorer.evaluator;
        let route_over = if self.ego.is_some() {
            ev.done()
        } else {
            ev.failed()
        };
        let over = self.player.finished() || route_over;
        self.scorer.progress(snap, me, &here, over).await;
        if over {
            self.ended_by_storyboard = self.player.finished();
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    }

    fn drives(&self) -> bool {
        self.ego.is_some()
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
