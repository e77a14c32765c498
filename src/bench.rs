//! `atlas bench`: what one closed-loop control step costs, phase by phase,
//! and how many runs per second a suite gets through.
//!
//! Three measurements:
//!
//! 1. Engine, in this process on the scenario's map: the two world steps of
//!    a control step (simulation), the camera render, the JPEG encoding.
//! 2. The closed loop over loopback gRPC against the in-process services,
//!    driven the way the runtime drives it: the bridge `Step` (with the
//!    render and encoding of 1 on the bridge's side), each egodriver call
//!    (`submit_image_observation`, `submit_egomotion_observation`,
//!    `submit_route`, `drive` — the policy's inference is inside `drive`),
//!    and the controller.
//! 3. A suite of the scenario over several seeds through the scenario
//!    runtime: runs per second and the runtime's own per-run step timing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use atlas_geometry::Polyline;
use atlas_loop::{
    BridgeWorld, ClosedLoop, Control, EgodriverPolicy, Flow, Hooks, RouteView, WorldPort, camera,
    driver_client, ego_command, ego_state, sim_client,
};
use atlas_proto::sim;
use atlas_scenario::runner;
use atlas_scenario_format::native::{MapRef, Placement, Scenario};
use serde_json::{Value, json};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub scenario: PathBuf,
    pub maps_dir: PathBuf,
    /// Control steps of the engine and closed-loop measurements.
    pub steps: usize,
    /// Background vehicles in the measured worlds.
    pub traffic: u32,
    /// `baseline` or `model`.
    pub policy: String,
    /// Runs of the throughput suite (0 skips it) and how many at once.
    pub suite_runs: usize,
    pub concurrency: usize,
    /// Simulated seconds per suite run.
    pub run_timeout_s: f64,
}

/// Percentiles of a phase, milliseconds.
fn stats(name: &str, v: &mut [f64]) -> Value {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if v.is_empty() {
            0.0
        } else {
            v[((v.len() - 1) as f64 * q).round() as usize]
        }
    };
    let mean = if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    };
    json!({ "phase": name, "n": v.len(), "p50_ms": at(0.5), "p99_ms": at(0.99), "mean_ms": mean })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn lane_start(p: &Placement) -> anyhow::Result<(String, i32, f64, f64)> {
    match p {
        Placement::Lane {
            road,
            lane,
            s,
            offset,
        } => Ok((road.clone(), *lane, *s, *offset)),
        _ => bail!(
            "the bench needs a scenario whose ego starts on a lane (`ego.start = {{ road, lane, s }}`)"
        ),
    }
}

/// 1. Simulation, rendering and encoding in this process.
fn engine(
    cfg: &BenchConfig,
    map_file: &Path,
    start: &(String, i32, f64, f64),
) -> anyhow::Result<Vec<Value>> {
    use atlas_sim::{
        ActorKind, ActorSpec, Behavior, Dimensions, LanePosition, Map, SensorSpec, VehicleControl,
        World,
    };
    let map =
        Arc::new(Map::from_file(map_file).map_err(|e| anyhow!("{}: {e}", map_file.display()))?);
    map.raster().build_all(&map);
    let mut w = World::new(map.clone(), 0.05, 1).map_err(|e| anyhow!("{e}"))?;
    let (ego, _) = w
        .spawn(ActorSpec {
            kind: ActorKind::Vehicle,
            role: "ego".into(),
            name: "ego".into(),
            placement: atlas_sim::Placement::Lane(LanePosition {
                road_id: start.0.clone(),
                lane_id: start.1,
                s: start.2,
                offset: start.3,
            }),
            speed: 0.0,
            dimensions: Dimensions::UNSET,
            behavior: Behavior::External,
        })
        .map_err(|e| anyhow!("ego: {e}"))?;
    if cfg.traffic > 0 {
        w.spawn_traffic(cfg.traffic, 0, 1)
            .map_err(|e| anyhow!("traffic: {e}"))?;
    }
    let cam = w
        .attach_sensor(ego, camera::LOGICAL_ID, SensorSpec::Camera(camera::spec()))
        .map_err(|e| anyhow!("camera: {e}"))?;
    let (mut sim_ms, mut render_ms, mut encode_ms) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..cfg.steps {
        w.set_control(
            ego,
            VehicleControl {
                throttle: 0.4,
                brake: 0.0,
                steer: 0.0,
            },
        )
        .map_err(|e| anyhow!("{e}"))?;
        let t = Instant::now();
        w.step();
        w.step();
        sim_ms.push(ms(t.elapsed()));
        let t = Instant::now();
        let frame = w.render(cam).map_err(|e| anyhow!("render: {e}"))?;
        render_ms.push(ms(t.elapsed()));
        let t = Instant::now();
        let jpeg = atlas_sim::encode(
            &frame.image,
            atlas_sim::Encoding::Jpeg {
                quality: camera::JPEG_QUALITY as u8,
            },
        )
        .map_err(|e| anyhow!("encode: {e}"))?;
        encode_ms.push(ms(t.elapsed()));
        std::hint::black_box(jpeg);
    }
    Ok(vec![
        stats("simulation (2 world steps)", &mut sim_ms),
        stats("rendering (320x180 camera)", &mut render_ms),
        stats("image encoding (JPEG q90)", &mut encode_ms),
    ])
}

async fn channel(addr: std::net::SocketAddr) -> anyhow::Result<tonic::transport::Channel> {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))
}

/// The bridge world with the wall time of each `Step` call noted.
struct TimedWorld {
    world: BridgeWorld,
    steps: Vec<Duration>,
}

impl WorldPort for TimedWorld {
    type Snapshot = sim::Snapshot;
    type Command = sim::ActorCommand;
    type Error = atlas_loop::Error;

    async fn step(
        &mut self,
        steps: u32,
        commands: Vec<sim::ActorCommand>,
        render: bool,
    ) -> Result<sim::Snapshot, atlas_loop::Error> {
        let t = Instant::now();
        let snap = self.world.step(steps, commands, render).await?;
        self.steps.push(t.elapsed());
        Ok(snap)
    }
}

/// The bench's hooks: the ego's command, its progress along the route for
/// the policy, and the wall time of each whole control step; no criteria.
struct Timing {
    ego_id: u64,
    route: Polyline,
    progress: f64,
    whole: Vec<Duration>,
}

impl RouteView for Timing {
    fn route(&self) -> &Polyline {
        &self.route
    }

    fn progress(&self) -> f64 {
        self.progress
    }
}

impl Hooks<TimedWorld, Control> for Timing {
    type Route = Timing;
    type Error = atlas_loop::Error;

    fn commands(&mut self, control: &Control) -> Vec<sim::ActorCommand> {
        vec![ego_command(self.ego_id, control)]
    }

    async fn observe(
        &mut self,
        _world: &mut TimedWorld,
        snap: &sim::Snapshot,
    ) -> Result<Flow, atlas_loop::Error> {
        let (_, here) = ego_state(snap, self.ego_id)?;
        self.progress = self.progress.max(self.route.project((here.x, here.y)).s);
        Ok(Flow::Continue)
    }

    fn route(&self) -> &Timing {
        self
    }

    fn step_done(&mut self, wall: Duration) {
        self.whole.push(wall);
    }
}

/// Measurement 2, the closed loop over gRPC phase by phase: the runtime's
/// own loop, world port and policy port on the scenario's set-up, timed.
async fn closed_loop(
    cfg: &BenchConfig,
    bridge: std::net::SocketAddr,
    vla: std::net::SocketAddr,
    sc: &Scenario,
    map_name: &str,
) -> anyhow::Result<Vec<Value>> {
    let world = BridgeWorld::create(
        sim_client(channel(bridge).await?),
        sim::create_world_request::Map::MapName(map_name.into()),
        0.05,
        1,
        "bench",
        &sc.file,
    )
    .await?;
    let mut world = TimedWorld {
        world,
        steps: Vec::new(),
    };
    let setup = runner::set_up(sc, 1, Some((cfg.traffic, 0)), &mut world.world)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let session = format!("bench-{}", std::process::id());
    let mut policy = EgodriverPolicy::new(driver_client(channel(vla).await?), &session, 0.1);
    policy.set_ego(setup.ego_id);
    policy.open(1, None).await?;
    policy.record_phases();
    let mut hooks = Timing {
        ego_id: setup.ego_id,
        route: setup.route,
        progress: 0.0,
        whole: Vec::new(),
    };
    let mut start = Control::hold();
    start.brake = 0.0;
    start.throttle = 0.3;
    let looped = ClosedLoop::new(2)
        .with_max_steps(cfg.steps as u64)
        .run(&mut world, &mut policy, &mut hooks, start)
        .await;
    policy.close().await;
    let phases = policy.phases().cloned().unwrap_or_default();
    world.world.destroy().await;
    looped?;
    let ms_of = |v: &[Duration]| v.iter().map(|d| ms(*d)).collect::<Vec<f64>>();
    Ok(vec![
        stats(
            "bridge Step rpc (2 steps + render + encode + transfer)",
            &mut ms_of(&world.steps),
        ),
        stats(
            "submits rpc (image, egomotion, route; concurrent)",
            &mut ms_of(&phases.submit),
        ),
        stats("drive rpc (policy inference)", &mut ms_of(&phases.drive)),
        stats("control (pure pursuit + PID)", &mut ms_of(&phases.control)),
        stats("whole control step", &mut ms_of(&hooks.whole)),
    ])
}

/// Runs the benchmark and returns its figures as JSON.
pub async fn run(cfg: BenchConfig) -> anyhow::Result<Value> {
    let sc = atlas_scenario_format::native::load(&cfg.scenario)?;
    let start = lane_start(&sc.ego.start)?;
    let (map_name, map_file) = match &sc.map {
        MapRef::Name(n) => (n.clone(), cfg.maps_dir.join(format!("{n}.xodr"))),
        MapRef::File(f) => bail!("the bench runs on a named map, not {}", f.display()),
    };

    eprintln!(
        "engine: {} control steps on {map_name} in this process",
        cfg.steps
    );
    let engine_cfg = cfg.clone();
    let mf = map_file.clone();
    let st = start.clone();
    let engine = tokio::task::spawn_blocking(move || engine(&engine_cfg, &mf, &st)).await??;

    let scenarios_dir = crate::local::scenarios_dir(Some(&cfg.scenario));
    let mut local = crate::local::LocalConfig::ephemeral(cfg.maps_dir.clone(), scenarios_dir);
    local.vla_args = vec!["--policy".into(), cfg.policy.clone()];
    let stack = crate::local::LocalStack::start(local).await?;
    eprintln!(
        "closed loop: {} control steps over loopback gRPC, policy {}",
        cfg.steps, cfg.policy
    );
    let looped = closed_loop(&cfg, stack.bridge, stack.vla, &sc, &map_name).await;
    let scenario_addr = stack.scenario.to_string();
    let looped = match looped {
        Ok(v) => v,
        Err(e) => {
            let _ = stack.shutdown().await;
            return Err(e.context("closed-loop measurement"));
        }
    };

    let mut suite = Value::Null;
    if cfg.suite_runs > 0 {
        eprintln!(
            "suite: {} runs of {} ({} at a time)",
            cfg.suite_runs, sc.name, cfg.concurrency
        );
        let dir = tempfile_dir()?;
        let suite_file = dir.join("bench.toml");
        let seeds: Vec<String> = (1..=cfg.suite_runs).map(|s| s.to_string()).collect();
        std::fs::write(
            &suite_file,
            format!(
                "name = \"bench\"\nscenarios = [{:?}]\nseeds = [{}]\ntimeout_s = {}\nconcurrency = {}\n[policies]\npolicy = \"default\"\n",
                std::fs::canonicalize(&cfg.scenario)?.display().to_string(),
                seeds.join(", "),
                cfg.run_timeout_s,
                cfg.concurrency
            ),
        )?;
        let t = Instant::now();
        let res = crate::suite::run(crate::suite::RunConfig {
            suite: suite_file,
            out: dir.join("out"),
            scenario_addrs: vec![scenario_addr],
            concurrency: None,
            deadline_s: None,
            max_attempts: Some(1),
            resume: false,
            dry_run: false,
            limit: None,
            maps_dir: cfg.maps_dir.clone(),
            progress: false,
            artifacts: false,
            resolve_interval: atlas_rt::balance::DEFAULT_REFRESH,
        })
        .await?;
        let wall = t.elapsed().as_secs_f64();
        let metrics: Value = serde_json::from_slice(&std::fs::read(dir.join("out/metrics.json"))?)?;
        let _ = std::fs::remove_dir_all(&dir);
        suite = json!({
            "runs": res.selected,
            "finished": res.finished,
            "concurrency": cfg.concurrency,
            "sim_s_per_run": cfg.run_timeout_s,
            "wall_s": wall,
            "runs_per_s": res.finished as f64 / wall,
            "runtime_step_p50_ms": metrics["control_step_ms"]["p50"],
            "runtime_step_p99_ms": metrics["control_step_ms"]["p99"],
            "eval_s_per_run_p50": metrics["eval_s_per_run"]["p50"],
        });
    }
    stack.shutdown().await?;
    Ok(json!({
        "scenario": sc.name,
        "map": map_name,
        "steps": cfg.steps,
        "traffic_vehicles": cfg.traffic,
        "policy": cfg.policy,
        "engine": engine,
        "closed_loop": looped,
        "suite": suite,
    }))
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "atlas-bench-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// The figures as a table.
pub fn table(v: &Value) -> String {
    let mut s = format!(
        "{} on {}, {} control steps, {} background vehicles, policy {}\n{:<56} {:>9} {:>9} {:>9}\n",
        v["scenario"].as_str().unwrap_or(""),
        v["map"].as_str().unwrap_or(""),
        v["steps"],
        v["traffic_vehicles"],
        v["policy"].as_str().unwrap_or(""),
        "phase",
        "p50 ms",
        "p99 ms",
        "mean ms"
    );
    for (title, key) in [
        ("engine, in process", "engine"),
        ("closed loop over loopback gRPC", "closed_loop"),
    ] {
        s.push_str(&format!("-- {title}\n"));
        for p in v[key].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "{:<56} {:>9.3} {:>9.3} {:>9.3}\n",
                p["phase"].as_str().unwrap_or(""),
                p["p50_ms"].as_f64().unwrap_or(0.0),
                p["p99_ms"].as_f64().unwrap_or(0.0),
                p["mean_ms"].as_f64().unwrap_or(0.0)
            ));
        }
    }
    let su = &v["suite"];
    if !su.is_null() {
        s.push_str(&format!(
            "-- suite through the scenario runtime\n{} runs of {} simulated s, {} at a time: {:.1} s wall, {:.2} runs/s; runtime step p50 {:.2} ms, p99 {:.2} ms\n",
            su["runs"],
            su["sim_s_per_run"],
            su["concurrency"],
            su["wall_s"].as_f64().unwrap_or(0.0),
            su["runs_per_s"].as_f64().unwrap_or(0.0),
            su["runtime_step_p50_ms"].as_f64().unwrap_or(0.0),
            su["runtime_step_p99_ms"].as_f64().unwrap_or(0.0),
        ));
    }
    s
}
