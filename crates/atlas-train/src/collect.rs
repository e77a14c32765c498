//! Demonstrations and closed-loop episodes in `atlas_sim` worlds.
//!
//! An episode reproduces what the scenario runtime does, without gRPC: a
//! world at 20 Hz on a randomly chosen map, a random route between two
//! lane points planned by the map's route planner, random lane-following
//! traffic, and (at random) a stopped car or a slow car on the route or a
//! pedestrian about to cross it. The ego carries the runtime's front camera
//! ([`runtime_camera`]); every 0.1 s the world steps twice, the camera
//! renders, and the driver plans from the same inputs the runtime sends
//! over egodriver (20 route points 80/19 m apart in the rig frame, 10 Hz
//! ego history, speed, acceleration, yaw rate). A pure-pursuit and PID
//! controller like the runtime's tracks the plan.
//!
//! With [`Driver::Expert`] each step is recorded as a demonstration: the
//! encoded inputs and the expert's plan. The executed controls are
//! perturbed now and then (steering and speed disturbances of a few tenths
//! of a second) so the data also shows how to recover from states the
//! expert alone would never visit. With [`Driver::Model`] the episode is a
//! closed-loop evaluation of the network.

use std::collections::VecDeque;
use std::path::Path as FsPath;
use std::sync::Arc;

use atlas_loop::{ClosedLoop, DriverPort, Flow, Hooks, InProcessSnapshot, InProcessWorld};
use atlas_sim::math::Rng;
use atlas_sim::{
    ActorId, ActorKind, ActorSpec, ActorState, Behavior, CameraSpec, Dimensions, EventKind, Map,
    Placement, Pose, SensorId, SensorSpec, Vec2, VehicleControl, World,
};

use atlas_geometry::Pose2;
use atlas_model::{
    DriveInput, DrivingModel, Features, ImageView, ModelConfig, compose_instruction,
    route_instruction,
};

use crate::Error;
use crate::expert::{self, EgoState, ExpertParams, Path};

/// Simulation rate, Hz (the runtime's default).
pub const SIM_HZ: f64 = 20.0;
/// Control rate, Hz.
pub const CONTROL_HZ: f64 = 10.0;
/// Route points sent per step and their spacing, as the runtime sends them.
pub const ROUTE_POINTS: usize = 20;
pub const ROUTE_SPACING: f64 = 80.0 / 19.0;
/// Cruise speed the expert keeps when told to drive slowly, m/s.
pub const SLOW_SPEED: f64 = 4.5;

/// The front camera the scenario runtime declares: 320×180, 90° horizontal
/// field of view, 1.5 m ahead of the rear axle and 1.6 m up, level.
pub fn runtime_camera() -> CameraSpec {
    let (w, h) = (320u32, 180u32);
    let f = f64::from(w) / (2.0 * 45f64.to_radians().tan());
    CameraSpec {
        width: w,
        height: h,
        fov_deg: 90.0,
        fx: f,
        fy: f,
        cx: f64::from(w) / 2.0,
        cy: f64::from(h) / 2.0,
        mount: Pose {
            x: 1.5,
            y: 0.0,
            z: 1.6,
            ..Pose::default()
        },
    }
}

/// Loads maps from OpenDRIVE files.
pub fn load_maps(paths: &[impl AsRef<FsPath>]) -> Result<Vec<Arc<Map>>, Error> {
    paths
        .iter()
        .map(|p| {
            Map::from_file(p.as_ref())
                .map(Arc::new)
                .map_err(|e| Error::Sim(format!("{}: {e}", p.as_ref().display())))
        })
        .collect()
}

fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    lo + (hi - lo) * u
}

fn chance(rng: &mut Rng, p: f64) -> bool {
    uniform(rng, 0.0, 1.0) < p
}

/// One demonstration: model inputs and the expert's plan.
#[derive(Clone, Debug)]
pub struct Demo {
    pub features: Features,
    /// `horizon` poses `(x, y, yaw)`, rig frame, 0.1 s apart.
    pub target: Vec<[f32; 3]>,
    /// Which episode it came from (for train/validation splits).
    pub episode: u32,
    /// Free distance to the obstacle the expert planned around, metres
    /// (infinite when the road ahead was clear).
    pub obstacle_gap: f32,
}

/// Who drives an episode.
pub enum Driver<'a> {
    /// The privileged expert, with control perturbations of the given
    /// strength (0 = none, 1 = the default amount).
    Expert { noise: f64 },
    /// The network; `instruction` is appended to the route instruction.
    Model {
        model: &'a DrivingModel,
        instruction: &'a str,
    },
}

/// How an episode ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpisodeResult {
    pub map: String,
    pub route_length: f64,
    /// Metres of route driven (foot point), clamped to the route.
    pub progress: f64,
    pub steps: usize,
    pub collisions: usize,
    pub off_road: usize,
    /// Largest lateral distance from the route, metres.
    pub max_offset: f64,
    pub completed: bool,
    /// Seconds standing still (< 0.1 m/s) with nothing ahead within 30 m.
    pub idle_s: f64,
    /// Relative speed of the first collision, m/s.
    pub collision_speed: f64,
}

impl EpisodeResult {
    pub fn completion(&self) -> f64 {
        if self.route_length > 0.0 {
            (self.progress / self.route_length).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// Random scenario settings of one episode.
#[derive(Clone, Debug)]
pub struct EpisodeSpec {
    pub map: usize,
    pub seed: u64,
    pub max_steps: usize,
    /// Most lane-following NPCs.
    pub max_npcs: usize,
    /// Whether stopped cars, slow cars and crossing pedestrians may be
    /// placed on the route.
    pub obstacles: bool,
}

/// Pure pursuit on the plan plus a speed PID, as the runtime's controller.
#[derive(Debug, Default)]
pub struct Controller {
    integral: f64,
    last_error: Option<f64>,
}

impl Controller {
    /// Controls for the next 0.1 s from a plan given as rig-frame poses at
    /// 0.1 s, 0.2 s, ….
    pub fn control(&mut self, speed: f64, plan: &[[f64; 3]]) -> VehicleControl {
        let dt = 1.0 / CONTROL_HZ;
        let pts = std::iter::once([0.0, 0.0]).chain(plan.iter().map(|p| [p[0], p[1]]));
        let Some(path) = Path::new(pts) else {
            self.integral = 0.0;
            self.last_error = None;
            return VehicleControl {
                throttle: 0.0,
                brake: 1.0,
                steer: 0.0,
            };
        };
        // Mean planned speed over the first 0.5 s.
        let k = plan.len().min(5);
        let target = if k > 0 {
            let mut d = 0.0;
            let mut prev = [0.0, 0.0];
            for p in &plan[..k] {
                d += (p[0] - prev[0]).hypot(p[1] - prev[1]);
                prev = [p[0], p[1]];
            }
            d / (k as f64 * dt)
        } else {
            0.0
        };
        let (s0, _) = path.project([0.0, 0.0]);
        let look = 3.0 + 0.6 * speed.abs();
        let [tx, ty] = path.point_at(s0 + look);
        let ld2 = tx * tx + ty * ty;
        let curvature = if ld2 > 1e-6 { 2.0 * ty / ld2 } else { 0.0 };
        let steer = ((curvature * 2.8).atan() / 35f64.to_radians()).clamp(-1.0, 1.0);
        let error = target - speed;
        self.integral = (self.integral + error * dt).clamp(-10.0, 10.0);
        let derivative = self.last_error.map_or(0.0, |e| (error - e) / dt);
        self.last_error = Some(error);
        let u = 0.35 * error + 0.05 * self.integral + 0.02 * derivative;
        let (throttle, brake) = if target < 0.05 && speed < 0.5 {
            (0.0, 1.0)
        } else if u >= 0.0 {
            (u.min(1.0), 0.0)
        } else {
            (0.0, (-u).min(1.0))
        };
        VehicleControl {
            throttle,
            brake,
            steer,
        }
    }
}

/// A control perturbation in progress.
#[derive(Clone, Copy, Debug)]
struct Perturbation {
    steps_left: u32,
    steer: f64,
    throttle: f64,
    brake: f64,
}

struct Episode {
    world: World,
    ego: ActorId,
    camera: SensorId,
    route: Path,
    slow: bool,
    say_route: bool,
}

fn node_point(map: &Map, rng: &mut Rng, min_len: f64) -> Option<(Vec2, f64)> {
    let g = map.graph();
    for _ in 0..50 {
        let node = g.node(rng.below(g.nodes().len()) as u32);
        if node.junction.is_some() || node.length < min_len || node.points.len() < 3 {
            continue;
        }
        let p = node.points[1 + rng.below(node.points.len() - 2)];
        return Some((p.pos, p.heading));
    }
    None
}

fn vehicle(name: &str, pose: Pose, speed: f64, behavior: Behavior) -> ActorSpec {
    ActorSpec {
        kind: ActorKind::Vehicle,
        role: "npc".into(),
        name: name.into(),
        placement: Placement::Pose(pose),
        speed,
        dimensions: Dimensions::UNSET,
        behavior,
    }
}

fn route_pose(route: &Path, s: f64, lateral: f64) -> Pose {
    let p = route.point_at(s);
    let h = route.heading_at(s);
    Pose::planar(p[0] - h.sin() * lateral, p[1] + h.cos() * lateral, h)
}

fn build_episode(maps: &[Arc<Map>], spec: &EpisodeSpec) -> Result<Episode, Error> {
    let map = maps
        .get(spec.map)
        .ok_or_else(|| Error::Sim(format!("no map {}", spec.map)))?
        .clone();
    let mut rng = Rng::new(spec.seed);
    let mut world =
        World::new(map.clone(), 1.0 / SIM_HZ, spec.seed).map_err(|e| Error::Sim(e.to_string()))?;

    // A route of at least 80 m between two lane points.
    let mut found = None;
    for _ in 0..40 {
        let (Some((a, _)), Some((b, _))) = (
            node_point(&map, &mut rng, 20.0),
            node_point(&map, &mut rng, 20.0),
        ) else {
            continue;
        };
        if (a - b).length() < 100.0 {
            continue;
        }
        if let Ok(r) = map.plan_route(&[a, b], 1.0)
            && r.length > 80.0
            && let Some(p) = Path::new(r.points.iter().map(|q| [q[0], q[1]]))
        {
            found = Some(p);
            break;
        }
    }
    let route = found.ok_or_else(|| Error::Sim(format!("{}: no usable route", map.name())))?;

    // Ego at the route start, a little off the centre line at times.
    let lateral = if chance(&mut rng, 0.5) {
        uniform(&mut rng, -0.8, 0.8)
    } else {
        0.0
    };
    let mut start = route_pose(&route, 0.0, lateral);
    start.yaw += uniform(&mut rng, -0.12, 0.12);
    let speed = if chance(&mut rng, 0.5) {
        uniform(&mut rng, 0.0, 8.0)
    } else {
        0.0
    };
    let (ego, _) = world
        .spawn(ActorSpec {
            kind: ActorKind::Vehicle,
            role: "ego".into(),
            name: "ego".into(),
            placement: Placement::Pose(start),
            speed,
            dimensions: Dimensions::UNSET,
            behavior: Behavior::External,
        })
        .map_err(|e| Error::Sim(format!("spawning the ego: {e}")))?;
    let camera = world
        .attach_sensor(ego, "camera_front", SensorSpec::Camera(runtime_camera()))
        .map_err(|e| Error::Sim(format!("attaching the camera: {e}")))?;

    // Things on the route: a stopped car, a slow car, a crossing pedestrian.
    // Spawns that would overlap something are skipped.
    let len = route.length();
    let obstacles = spec.obstacles;
    if chance(&mut rng, 0.35) && obstacles {
        let s = uniform(&mut rng, 25.0, (len - 10.0).clamp(26.0, 130.0));
        let pose = route_pose(&route, s, uniform(&mut rng, -0.3, 0.3));
        let _ = world.spawn(vehicle("stopped", pose, 0.0, Behavior::Stopped));
    }
    if chance(&mut rng, 0.3) && obstacles {
        let s = uniform(&mut rng, 15.0, 50.0).min(len * 0.5);
        let v = uniform(&mut rng, 2.0, 6.0);
        let pose = route_pose(&route, s, 0.0);
        let _ = world.spawn(vehicle(
            "lead",
            pose,
            v,
            Behavior::LaneFollow { target_speed: v },
        ));
    }
    if chance(&mut rng, 0.25) && obstacles {
        let s = uniform(&mut rng, 25.0, (len - 10.0).clamp(26.0, 100.0));
        let side = if chance(&mut rng, 0.5) { 1.0 } else { -1.0 };
        let mut pose = route_pose(&route, s, side * uniform(&mut rng, 3.5, 6.0));
        pose.yaw -= side * std::f64::consts::FRAC_PI_2;
        let v = uniform(&mut rng, 0.8, 1.6);
        let _ = world.spawn(ActorSpec {
            kind: ActorKind::Pedestrian,
            role: "npc".into(),
            name: "walker".into(),
            placement: Placement::Pose(pose),
            speed: v,
            dimensions: Dimensions::UNSET,
            behavior: Behavior::External,
        });
    }
    let npcs = rng.below(spec.max_npcs + 1);
    for i in 0..npcs {
        if let Some((p, h)) = node_point(&map, &mut rng, 15.0) {
            // Not right on top of the ego's start.
            if (p - Vec2::new(start.x, start.y)).length() < 12.0 {
                continue;
            }
            let v = uniform(&mut rng, 3.0, 9.0);
            let _ = world.spawn(vehicle(
                &format!("npc{i}"),
                Pose::planar(p.x, p.y, h),
                v,
                Behavior::LaneFollow { target_speed: v },
            ));
        }
    }
    Ok(Episode {
        world,
        ego,
        camera,
        route,
        slow: chance(&mut rng, 0.2),
        say_route: chance(&mut rng, 0.6),
    })
}

/// The 20 route points ahead of `s` in the rig frame, NaN past the end.
fn route_points(route: &Path, s: f64, ego: &Pose2) -> Vec<[f64; 2]> {
    (0..ROUTE_POINTS)
        .map(|k| {
            let sk = s + k as f64 * ROUTE_SPACING;
            if sk > route.length() + 1e-6 {
                [f64::NAN, f64::NAN]
            } else {
                let p = route.point_at(sk);
                let (x, y) = ego.to_local(p[0], p[1]);
                [x, y]
            }
        })
        .collect()
}

/// Runs one episode; with the expert driving, demonstrations are appended
/// to `out`.
pub fn run_episode(
    cfg: &ModelConfig,
    maps: &[Arc<Map>],
    spec: &EpisodeSpec,
    episode_id: u32,
    driver: &Driver<'_>,
    out: Option<&mut Vec<Demo>>,
) -> Result<EpisodeResult, Error> {
    let ep = build_episode(maps, spec)?;
    let mut rng = Rng::new(spec.seed ^ 0x5DEE_CE66_D1CE_4E5B);
    let mut params = ExpertParams::default();
    if ep.slow {
        params.cruise_speed = SLOW_SPEED;
    }
    let noise = match driver {
        Driver::Expert { noise } => *noise * uniform(&mut rng, 0.0, 1.0),
        Driver::Model { .. } => 0.0,
    };
    let mut hooks = EpisodeHooks {
        ego: ep.ego,
        result: EpisodeResult {
            map: ep.world.map().name().to_string(),
            route_length: ep.route.length(),
            ..EpisodeResult::default()
        },
        route: ep.route,
        params: params.clone(),
        s: 0.0,
        obstacle: None,
        // Demonstrations stop 3 s into a standstill: more of the same
        // teaches nothing and would swamp the data set.
        recording: out.is_some(),
        standing: 0,
    };
    let mut world = InProcessWorld::new(ep.world, Some(ep.camera));
    let mut episode_driver = EpisodeDriver {
        cfg,
        driver,
        params,
        controller: Controller::default(),
        history: VecDeque::new(),
        perturbation: None,
        rng,
        noise,
        out,
        episode_id,
        say_route: ep.say_route,
        slow: ep.slow,
    };
    let steps_per_control = (SIM_HZ / CONTROL_HZ).round() as u32;
    let run = ClosedLoop::new(steps_per_control)
        .with_max_steps(spec.max_steps as u64)
        .run(
            &mut world,
            &mut episode_driver,
            &mut hooks,
            VehicleControl::default(),
        );
    futures::executor::block_on(run)?;
    Ok(hooks.result)
}

/// An episode's side of the loop: the ego's command, its progress along
/// the route, the result, and what the driver is told (progress and the
/// obstacle ahead).
struct EpisodeHooks {
    ego: ActorId,
    route: Path,
    params: ExpertParams,
    result: EpisodeResult,
    /// Metres along the route, never decreasing.
    s: f64,
    /// The obstacle ahead on the route after the last step.
    obstacle: Option<expert::Obstacle>,
    recording: bool,
    /// Control steps standing still.
    standing: usize,
}

impl Hooks<InProcessWorld, VehicleControl> for EpisodeHooks {
    type Route = EpisodeHooks;
    type Error = Error;

    fn commands(&mut self, control: &VehicleControl) -> Vec<(ActorId, VehicleControl)> {
        vec![(self.ego, *control)]
    }

    async fn observe(
        &mut self,
        _world: &mut InProcessWorld,
        snap: &InProcessSnapshot,
    ) -> Result<Flow, Error> {
        let snap = &snap.snapshot;
        let result = &mut self.result;
        for e in &snap.events {
            match e.kind {
                EventKind::Collision {
                    actor,
                    relative_speed,
                    ..
                } if actor == self.ego => {
                    if result.collisions == 0 {
                        result.collision_speed = relative_speed;
                    }
                    result.collisions += 1;
                }
                EventKind::OffRoad { actor } if actor == self.ego => result.off_road += 1,
                _ => {}
            }
        }
        result.steps += 1;
        let me = ego_of(snap, self.ego)?;
        let (s_now, lat) =
            self.route
                .project_within([me.pose.x, me.pose.y], self.s - 5.0, self.s + 25.0);
        self.s = s_now.max(self.s).min(self.route.length());
        result.progress = self.s;
        result.max_offset = result.max_offset.max(lat.abs());
        if result.collisions > 0 || self.s >= self.route.length() - 1.0 {
            result.completed = result.collisions == 0;
            return Ok(Flow::Stop);
        }
        self.standing = if me.speed.abs() < 0.05 {
            self.standing + 1
        } else {
            0
        };
        if self.recording && self.standing > 30 {
            return Ok(Flow::Stop);
        }
        self.obstacle =
            expert::nearest_obstacle(&self.params, &self.route, self.s, self.ego, &snap.actors);
        if me.speed.abs() < 0.1 && self.obstacle.is_none_or(|o| o.gap > 30.0) {
            result.idle_s += 1.0 / CONTROL_HZ;
        }
        Ok(Flow::Continue)
    }

    fn route(&self) -> &EpisodeHooks {
        self
    }
}

fn ego_of(snap: &atlas_sim::Snapshot, ego: ActorId) -> Result<&ActorState, Error> {
    snap.actors
        .iter()
        .find(|a| a.id == ego)
        .ok_or_else(|| Error::Sim("the ego vanished".into()))
}

/// The episode's driver: the expert (recording demonstrations, with control
/// perturbations) or the network, then the controller.
struct EpisodeDriver<'a, 'd> {
    cfg: &'a ModelConfig,
    driver: &'a Driver<'d>,
    params: ExpertParams,
    controller: Controller,
    /// The ego's past poses, newest first.
    history: VecDeque<Pose2>,
    perturbation: Option<Perturbation>,
    rng: Rng,
    noise: f64,
    out: Option<&'a mut Vec<Demo>>,
    episode_id: u32,
    say_route: bool,
    slow: bool,
}

impl DriverPort<InProcessSnapshot, EpisodeHooks> for EpisodeDriver<'_, '_> {
    type Control = VehicleControl;
    type Error = Error;

    async fn drive(
        &mut self,
        snap: &InProcessSnapshot,
        ep: &EpisodeHooks,
    ) -> Result<Option<VehicleControl>, Error> {
        let me = ego_of(&snap.snapshot, ep.ego)?;
        let frame = snap
            .frame
            .as_ref()
            .ok_or_else(|| Error::Sim("the step rendered no camera frame".into()))?;
        let cfg = self.cfg;
        let pose = Pose2::planar(me.pose.x, me.pose.y, me.pose.yaw);
        let s = ep.s;
        let route = route_points(&ep.route, s, &pose);
        let history_rel: Vec<Option<[f64; 3]>> = (0..cfg.history_len)
            .map(|k| {
                self.history.get(k).map(|h| {
                    let r = pose.relative(h);
                    [r.x, r.y, r.yaw]
                })
            })
            .collect();
        let (c, sn) = (me.pose.yaw.cos(), me.pose.yaw.sin());
        let accel = c * me.acceleration[0] + sn * me.acceleration[1];
        let image = ImageView {
            width: frame.image.width,
            height: frame.image.height,
            data: &frame.image.data,
        };

        let plan: Vec<[f64; 3]> = match self.driver {
            Driver::Expert { .. } => {
                let plan = expert::plan(
                    &self.params,
                    &ep.route,
                    EgoState {
                        pose,
                        speed: me.speed,
                    },
                    s,
                    ep.obstacle,
                    cfg.horizon,
                );
                if let Some(out) = self.out.as_deref_mut() {
                    let route_part = if self.say_route {
                        route_instruction(&route)
                    } else {
                        ""
                    };
                    let extra = if self.slow { "drive slowly" } else { "" };
                    let input = DriveInput {
                        image,
                        speed: me.speed,
                        accel,
                        yaw_rate: me.yaw_rate,
                        history: history_rel,
                        route,
                        instruction: compose_instruction(route_part, extra),
                    };
                    out.push(Demo {
                        features: Features::encode(cfg, &input)?,
                        target: plan
                            .iter()
                            .map(|p| [p[0] as f32, p[1] as f32, p[2] as f32])
                            .collect(),
                        episode: self.episode_id,
                        obstacle_gap: ep.obstacle.map_or(f32::INFINITY, |o| o.gap as f32),
                    });
                }
                plan
            }
            Driver::Model { model, instruction } => {
                let input = DriveInput {
                    image,
                    speed: me.speed,
                    accel,
                    yaw_rate: me.yaw_rate,
                    instruction: compose_instruction(route_instruction(&route), instruction),
                    history: history_rel,
                    route,
                };
                let f = Features::encode(model.config(), &input)?;
                atlas_model::predict(model, &[&f])?
                    .remove(0)
                    .into_iter()
                    .map(|p| [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])])
                    .collect()
            }
        };

        let mut control = self.controller.control(me.speed, &plan);
        if self.noise > 0.0 {
            self.perturb(&mut control);
        }
        self.history.push_front(pose);
        self.history.truncate(cfg.history_len.max(1));
        Ok(Some(control))
    }
}

impl EpisodeDriver<'_, '_> {
    /// Now and then a steering, throttle or brake disturbance of a few
    /// tenths of a second on top of the expert's control.
    fn perturb(&mut self, control: &mut VehicleControl) {
        let (rng, noise) = (&mut self.rng, self.noise);
        if self.perturbation.is_none() && chance(rng, 0.06 * noise) {
            let kind = rng.below(3);
            self.perturbation = Some(Perturbation {
                steps_left: 3 + rng.below(10) as u32,
                steer: if kind == 0 {
                    uniform(rng, -0.3, 0.3)
                } else {
                    0.0
                },
                throttle: if kind == 1 {
                    uniform(rng, 0.2, 0.6)
                } else {
                    0.0
                },
                brake: if kind == 2 {
                    uniform(rng, 0.2, 0.5)
                } else {
                    0.0
                },
            });
        }
        if let Some(p) = self.perturbation.as_mut() {
            control.steer = (control.steer + p.steer).clamp(-1.0, 1.0);
            if p.throttle > 0.0 {
                control.throttle = (control.throttle + p.throttle).min(1.0);
                control.brake = 0.0;
            }
            if p.brake > 0.0 {
                control.brake = (control.brake + p.brake).min(1.0);
                control.throttle = 0.0;
            }
            p.steps_left -= 1;
            if p.steps_left == 0 {
                self.perturbation = None;
            }
        }
    }
}

/// Episode settings for episode `i` of a run seeded `seed`.
pub fn episode_spec(maps: usize, seed: u64, i: u64, max_steps: usize) -> EpisodeSpec {
    let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i);
    EpisodeSpec {
        map: rng.below(maps.max(1)),
        seed: rng.next_u64(),
        max_steps,
        max_npcs: 12,
        obstacles: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn town01() -> Vec<Arc<Map>> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../maps/Town01.xodr");
        load_maps(&[p]).unwrap()
    }

    #[test]
    fn expert_episodes_record_demonstrations_and_drive_the_route() {
        let maps = town01();
        let cfg = ModelConfig::tiny();
        let mut demos = Vec::new();
        let mut driven = 0.0;
        for i in 0..3 {
            let spec = episode_spec(1, 11, i, 60);
            let r = run_episode(
                &cfg,
                &maps,
                &spec,
                i as u32,
                &Driver::Expert { noise: 0.0 },
                Some(&mut demos),
            )
            .unwrap();
            assert_eq!(r.collisions, 0, "{r:?}");
            assert!(r.max_offset < 1.5, "{r:?}");
            driven += r.progress;
        }
        assert!(driven > 40.0, "the expert barely moved: {driven} m");
        assert!(demos.len() > 100);
        for d in &demos {
            d.features.check(&cfg).unwrap();
            assert_eq!(d.target.len(), cfg.horizon);
            assert!(d.target.iter().flatten().all(|v| v.is_finite()));
        }
        // Route features are set for the first point (the foot point).
        assert!(demos.iter().all(|d| d.features.route[2] == 1.0));
    }

    #[test]
    fn episodes_are_deterministic() {
        let maps = town01();
        let cfg = ModelConfig::tiny();
        let spec = episode_spec(1, 5, 0, 20);
        let run = || {
            let mut demos = Vec::new();
            let r = run_episode(
                &cfg,
                &maps,
                &spec,
                0,
                &Driver::Expert { noise: 1.0 },
                Some(&mut demos),
            )
            .unwrap();
            (r, demos.into_iter().map(|d| d.target).collect::<Vec<_>>())
        };
        let (a, ta) = run();
        let (b, tb) = run();
        assert_eq!(a, b);
        assert_eq!(ta, tb);
    }

    #[test]
    fn controller_tracks_left_and_holds_on_a_standing_plan() {
        let mut c = Controller::default();
        let plan: Vec<[f64; 3]> = (1..=40)
            .map(|k| {
                let t = f64::from(k) * 0.1;
                [8.0 * t, 0.02 * (8.0 * t).powi(2), 0.0]
            })
            .collect();
        let u = c.control(4.0, &plan);
        assert!(u.steer > 0.0 && u.throttle > 0.0, "{u:?}");
        let standing = vec![[0.0, 0.0, 0.0]; 40];
        let u = Controller::default().control(0.0, &standing);
        assert_eq!(u.brake, 1.0);
    }
}
