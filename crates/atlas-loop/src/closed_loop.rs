//! The closed loop itself, between its two ports.
//!
//! One control step is always the same sequence, whatever the run kind:
//!
//! 1. stop if the run was cancelled;
//! 2. the hooks turn the ego's control into the step's commands (the
//!    storyboard adds its scripted actors);
//! 3. the [`WorldPort`] advances the world by `steps_per_control` fixed
//!    steps under them and returns the snapshot;
//! 4. the hooks observe the snapshot (criteria, progress, the storyboard's
//!    triggers) and say whether the run goes on;
//! 5. the [`DriverPort`] turns the snapshot and the run's route into the
//!    ego's next control (or ends the run);
//! 6. the hooks are told the step's wall time.
//!
//! The loop knows nothing of gRPC, criteria or scenario formats: a remote
//! bridge, an in-process world or a CARLA server stand behind the same
//! [`WorldPort`]; an egodriver policy over gRPC or a privileged expert in
//! the same process behind the same [`DriverPort`].

use std::future::Future;
use std::time::{Duration, Instant};

/// Whether a run goes on after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The run is over (route completed, a criterion ended it, the
    /// storyboard stopped, a step budget ran out).
    Stop,
}

/// How a loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The hooks stopped it after a step.
    Stopped,
    /// The driver ended it (an egodriver `terminate_session`).
    DriverEnded,
    /// The step limit of [`ClosedLoop::max_steps`] was reached.
    StepLimit,
    /// [`Hooks::cancelled`] said so before a step.
    Cancelled,
}

/// The world side of the loop: a simulator that advances in fixed steps.
pub trait WorldPort {
    /// What a step returns: actors, events and (when rendered) frames.
    type Snapshot;
    /// A per-actor command for a step (the ego's control, a scripted pose).
    type Command;
    type Error;

    /// Advances the world by `steps` fixed steps under `commands`; renders
    /// the attached sensors when `render`.
    fn step(
        &mut self,
        steps: u32,
        commands: Vec<Self::Command>,
        render: bool,
    ) -> impl Future<Output = Result<Self::Snapshot, Self::Error>> + Send;
}

/// The driver side of the loop: a policy plus whatever turns its plan into
/// the ego's control.
///
/// `R` is what the run tells the driver of its route (for the runtime, the
/// route and the ego's progress along it).
pub trait DriverPort<S, R: ?Sized> {
    /// The ego's control for the next step.
    type Control;
    type Error;

    /// The control that follows the driver's plan for `snap`; `None` when
    /// the driver ends the run.
    fn drive(
        &mut self,
        snap: &S,
        route: &R,
    ) -> impl Future<Output = Result<Option<Self::Control>, Self::Error>> + Send;
}

/// What a run kind adds to the loop: its commands, its observation of each
/// step, and what its driver is told of the route.
pub trait Hooks<W: WorldPort, C> {
    /// What the driver sees of the run's route.
    type Route: ?Sized;
    /// The run's error; the ports' errors convert into it.
    type Error: From<W::Error>;

    /// Checked before every step.
    fn cancelled(&self) -> bool {
        false
    }

    /// The commands of the next step, given the ego's control.
    fn commands(&mut self, control: &C) -> Vec<W::Command>;

    /// Whether the step renders sensors (no driver, no camera).
    fn render(&self) -> bool {
        true
    }

    /// Sees the snapshot after a step; the world is lent for run kinds that
    /// change it between steps (the storyboard adds and removes actors).
    fn observe(
        &mut self,
        world: &mut W,
        snap: &W::Snapshot,
    ) -> impl Future<Output = Result<Flow, Self::Error>> + Send;

    /// Whether the driver is asked after this step (an OpenSCENARIO run in
    /// storyboard mode has no driver: the ego keeps its control).
    fn drives(&self) -> bool {
        true
    }

    /// The route as the driver is told it.
    fn route(&self) -> &Self::Route;

    /// The driver ended the run.
    fn driver_ended(&mut self) {}

    /// A whole control step (commands to control) took `wall`.
    fn step_done(&mut self, _wall: Duration) {}
}

/// The control loop: how many world steps make a control step, and an
/// optional budget of control steps.
#[derive(Clone, Copy, Debug)]
pub struct ClosedLoop {
    pub steps_per_control: u32,
    pub max_steps: Option<u64>,
}

impl ClosedLoop {
    pub fn new(steps_per_control: u32) -> Self {
        Self {
            steps_per_control,
            max_steps: None,
        }
    }

    /// At most `n` control steps.
    pub fn with_max_steps(mut self, n: u64) -> Self {
        self.max_steps = Some(n);
        self
    }

    /// Runs the loop from `control` until the hooks stop it, the driver
    /// ends it, the step budget runs out or the run is cancelled.
    pub async fn run<W, D, H, C>(
        self,
        world: &mut W,
        driver: &mut D,
        hooks: &mut H,
        mut control: C,
    ) -> Result<End, H::Error>
    where
        W: WorldPort,
        H: Hooks<W, C>,
        D: DriverPort<W::Snapshot, <H as Hooks<W, C>>::Route, Control = C>,
        H::Error: From<D::Error>,
    {
        let mut steps = 0u64;
        loop {
            if self.max_steps.is_some_and(|m| steps >= m) {
                return Ok(End::StepLimit);
            }
            if hooks.cancelled() {
                return Ok(End::Cancelled);
            }
            let t0 = Instant::now();
            let commands = hooks.commands(&control);
            let render = hooks.render();
            let snap = world.step(self.steps_per_control, commands, render).await?;
            steps += 1;
            if hooks.observe(world, &snap).await? == Flow::Stop {
                return Ok(End::Stopped);
            }
            if hooks.drives() {
                match driver.drive(&snap, hooks.route()).await? {
                    Some(c) => control = c,
                    None => {
                        hooks.driver_ended();
                        return Ok(End::DriverEnded);
                    }
                }
            }
            hooks.step_done(t0.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    //! The loop between in-memory fakes of its ports: a one-dimensional
    //! world where the ego moves by its control each step, and a driver
    //! that asks for a speed. The real ports are tested end to end against
    //! the real services (the repository's `tests/`).

    use super::*;

    #[derive(Debug, PartialEq)]
    struct Fault(&'static str);

    /// A world of one ego on a line: each world step moves it by the
    /// commanded speed × dt.
    #[derive(Default)]
    struct LineWorld {
        x: f64,
        time: f64,
        calls: Vec<(u32, Vec<f64>, bool)>,
        fail_at: Option<usize>,
        spawned: Vec<&'static str>,
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Snap {
        time: f64,
        x: f64,
    }

    impl WorldPort for LineWorld {
        type Snapshot = Snap;
        type Command = f64;
        type Error = Fault;

        async fn step(
            &mut self,
            steps: u32,
            commands: Vec<f64>,
            render: bool,
        ) -> Result<Snap, Fault> {
            if self.fail_at == Some(self.calls.len()) {
                return Err(Fault("bridge gone"));
            }
            let v = commands.first().copied().unwrap_or(0.0);
            for _ in 0..steps {
                self.x += v * 0.05;
                self.time += 0.05;
            }
            self.calls.push((steps, commands, render));
            Ok(Snap {
                time: self.time,
                x: self.x,
            })
        }
    }

    /// Asks for `speed` until the ego passes `end_at`, then ends the run.
    struct SpeedDriver {
        speed: f64,
        end_at: f64,
        seen: Vec<(f64, f64)>,
    }

    impl DriverPort<Snap, f64> for SpeedDriver {
        type Control = f64;
        type Error = Fault;

        async fn drive(&mut self, snap: &Snap, goal: &f64) -> Result<Option<f64>, Fault> {
            self.seen.push((snap.x, *goal));
            Ok((snap.x < self.end_at).then_some(self.speed))
        }
    }

    /// Stops when the ego reaches `goal`; counts what it is told.
    struct Run {
        goal: f64,
        observed: Vec<Snap>,
        steps_done: usize,
        ended_by_driver: bool,
        cancel_after: Option<usize>,
        drive: bool,
    }

    impl Run {
        fn to(goal: f64) -> Self {
            Self {
                goal,
                observed: Vec::new(),
                steps_done: 0,
                ended_by_driver: false,
                cancel_after: None,
                drive: true,
            }
        }
    }

    impl Hooks<LineWorld, f64> for Run {
        type Route = f64;
        type Error = Fault;

        fn cancelled(&self) -> bool {
            self.cancel_after.is_some_and(|n| self.observed.len() >= n)
        }

        fn commands(&mut self, control: &f64) -> Vec<f64> {
            vec![*control]
        }

        fn render(&self) -> bool {
            self.drive
        }

        async fn observe(&mut self, world: &mut LineWorld, snap: &Snap) -> Result<Flow, Fault> {
            self.observed.push(snap.clone());
            if self.observed.len() == 2 {
                world.spawned.push("scripted");
            }
            Ok(if snap.x >= self.goal {
                Flow::Stop
            } else {
                Flow::Continue
            })
        }

        fn drives(&self) -> bool {
            self.drive
        }

        fn route(&self) -> &f64 {
            &self.goal
        }

        fn driver_ended(&mut self) {
            self.ended_by_driver = true;
        }

        fn step_done(&mut self, _wall: Duration) {
            self.steps_done += 1;
        }
    }

    fn driver(speed: f64) -> SpeedDriver {
        SpeedDriver {
            speed,
            end_at: f64::INFINITY,
            seen: Vec::new(),
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn the_first_step_holds_then_the_driver_s_control_moves_the_ego() {
        let (mut w, mut d, mut h) = (LineWorld::default(), driver(10.0), Run::to(2.0));
        let end = block_on(ClosedLoop::new(2).run(&mut w, &mut d, &mut h, 0.0)).unwrap();
        assert_eq!(end, End::Stopped);
        // Step 1 under the initial control (0), then 10 m/s × 0.1 s a step.
        let xs: Vec<f64> = h.observed.iter().map(|s| s.x).collect();
        assert_eq!(xs.len(), 3);
        assert!(xs[0].abs() < 1e-12 && (xs[1] - 1.0).abs() < 1e-12 && (xs[2] - 2.0).abs() < 1e-9);
        assert!(w.calls.iter().all(|(n, _, render)| *n == 2 && *render));
        assert_eq!(w.calls[0].1, vec![0.0]);
        assert_eq!(w.calls[1].1, vec![10.0]);
        // The driver saw every snapshot but the last, with the run's route.
        assert_eq!(d.seen, vec![(0.0, 2.0), (1.0, 2.0)]);
        // The stopping step is not timed as a control step.
        assert_eq!(h.steps_done, 2);
        // The hooks could change the world between steps.
        assert_eq!(w.spawned, ["scripted"]);
    }

    #[test]
    fn a_driver_that_ends_the_run_is_reported_and_told_to_the_hooks() {
        let mut d = driver(10.0);
        d.end_at = 0.5;
        let (mut w, mut h) = (LineWorld::default(), Run::to(100.0));
        let end = block_on(ClosedLoop::new(1).run(&mut w, &mut d, &mut h, 20.0)).unwrap();
        assert_eq!(end, End::DriverEnded);
        assert!(h.ended_by_driver);
        assert_eq!(h.observed.len(), 1);
        assert_eq!(h.steps_done, 0);
    }

    #[test]
    fn budget_cancellation_and_errors_end_the_loop() {
        let (mut w, mut d, mut h) = (LineWorld::default(), driver(0.0), Run::to(1.0));
        let end = block_on(
            ClosedLoop::new(1)
                .with_max_steps(4)
                .run(&mut w, &mut d, &mut h, 0.0),
        );
        assert_eq!(end, Ok(End::StepLimit));
        assert_eq!(w.calls.len(), 4);

        let (mut w, mut d, mut h) = (LineWorld::default(), driver(0.0), Run::to(1.0));
        h.cancel_after = Some(3);
        let end = block_on(ClosedLoop::new(1).run(&mut w, &mut d, &mut h, 0.0));
        assert_eq!(end, Ok(End::Cancelled));
        assert_eq!(w.calls.len(), 3);

        let (mut w, mut d, mut h) = (LineWorld::default(), driver(1.0), Run::to(1.0));
        w.fail_at = Some(2);
        let end = block_on(ClosedLoop::new(1).run(&mut w, &mut d, &mut h, 0.0));
        assert_eq!(end, Err(Fault("bridge gone")));
        assert_eq!(h.observed.len(), 2);
    }

    #[test]
    fn without_a_driver_the_ego_keeps_its_control_and_nothing_renders() {
        let (mut w, mut d, mut h) = (LineWorld::default(), driver(99.0), Run::to(1.0));
        h.drive = false;
        let end = block_on(ClosedLoop::new(2).run(&mut w, &mut d, &mut h, 5.0)).unwrap();
        assert_eq!(end, End::Stopped);
        assert!(d.seen.is_empty());
        assert!(
            w.calls
                .iter()
                .all(|(_, c, render)| c == &vec![5.0] && !render)
        );
        // 5 m/s × 0.1 s per control step: 1 m after two steps.
        assert_eq!(h.observed.len(), 2);
    }
}
