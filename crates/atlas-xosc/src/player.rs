//! The storyboard player: Init actions, the element state machine of
//! stories, acts, maneuver groups, maneuvers, events and actions, triggers
//! with edges and delays, and the default controller that moves entities
//! along their lanes at their target speed through lane changes and
//! offsets.
//!
//! The caller steps it: [`Player::update`] evaluates triggers and starts and
//! stops elements at the current time, [`Player::advance`] moves the
//! entities `dt` on. Entities driven from outside (the ego under a policy)
//! get their state through [`Player::set_external`].

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use atlas_sim::{Map, Vec2};

use crate::expr::Value;
use crate::model::*;
use crate::position::{self, Anchor, LaneCoord, Placed};
use crate::shapes;

/// An entity's state as the player holds it.
#[derive(Clone, Debug)]
pub struct EntityState {
    pub name: String,
    pub kind: EntityKind,
    pub bbox: BoundingBox,
    /// Placed in the world (by a teleport or AddEntityAction).
    pub present: bool,
    /// Driven from outside (the policy's ego).
    pub external: bool,
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub yaw: f64,
    pub speed: f64,
    /// Longitudinal acceleration, m/s^2.
    pub accel: f64,
    pub lane: Option<LaneCoord>,
    /// Distance travelled since the start.
    pub odometer: f64,
    still_for: f64,
    offroad_for: f64,
    end_of_road_for: f64,
    at_end_of_road: bool,
    collided: BTreeSet<String>,
    long: Option<Long>,
    lat: Option<Lat>,
    path: Option<PathCtl>,
    /// Waypoints of an assigned route.
    pub route: Vec<(f64, f64)>,
}

#[derive(Clone, Debug)]
struct Long {
    owner: Option<usize>,
    kind: LongKind,
}

#[derive(Clone, Debug)]
enum LongKind {
    /// v(t) = v0 + (v1 - v0) f(t / T); `None` duration never arrives.
    Speed {
        v0: f64,
        v1: f64,
        shape: Shape,
        duration: Option<f64>,
        elapsed: f64,
        /// Continuous relative target: keeps tracking the entity + delta.
        track: Option<(String, f64, bool)>,
    },
    /// Keep a gap to an entity (continuous LongitudinalDistanceAction).
    Gap {
        entity: String,
        value: f64,
        time_gap: bool,
        freespace: bool,
        leading: bool,
    },
}

#[derive(Clone, Debug)]
struct Lat {
    owner: Option<usize>,
    o0: f64,
    o1: f64,
    shape: Shape,
    duration: f64,
    elapsed: f64,
    /// Continuous relative offset: keeps tracking the entity's offset.
    track: Option<(String, f64)>,
}

#[derive(Clone, Debug)]
struct PathCtl {
    owner: Option<usize>,
    points: Vec<(f64, f64, f64)>,
    /// Times of the points (timed trajectories), seconds from `t0`.
    times: Option<Vec<f64>>,
    yaws: Vec<Option<f64>>,
    t0: f64,
    /// Distance along the polyline (untimed).
    along: f64,
}

/// Runtime state of one storyboard element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Standby,
    Running,
    Complete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transition {
    Start,
    End,
    Stop,
    Skip,
}

#[derive(Clone, Debug)]
struct CondRt {
    cond: Condition,
    last: Option<bool>,
    pending: VecDeque<(f64, bool)>,
    out: bool,
}

#[derive(Clone, Debug)]
struct TrigRt {
    groups: Vec<Vec<CondRt>>,
    /// Entities that made the last ByEntity condition true.
    triggering: Vec<usize>,
}

#[derive(Clone, Debug)]
struct Elem {
    kind: ElementType,
    name: String,
    parent: Option<usize>,
    children: Vec<usize>,
    state: St,
    exec: u32,
    max_exec: u32,
    start: Option<TrigRt>,
    stop: Option<TrigRt>,
    priority: Priority,
    action: Option<Action>,
    actors: Vec<usize>,
    select_triggering: bool,
    /// Entities an action runs on, and which of them are done.
    running_on: Vec<(usize, bool)>,
}

/// Something that happened, for the run's log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub time: f64,
    pub message: String,
}

/// A storyboard being played on a map.
pub struct Player {
    map: Arc<Map>,
    sc: Scenario,
    time: f64,
    entities: Vec<EntityState>,
    elems: Vec<Elem>,
    roots: Vec<usize>,
    params: HashMap<String, Value>,
    stop: Option<TrigRt>,
    finished: bool,
    started: bool,
    seen: Vec<(usize, Transition)>,
    now: Vec<(usize, Transition)>,
    log: Vec<LogEntry>,
    warnings: Vec<String>,
}

/// A run-time failure of the storyboard (an unreachable position, …).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PlayError {
    pub file: String,
    pub message: String,
}

const STILL: f64 = 0.01;

impl Player {
    /// A player for `sc` on `map`; `external` names entities driven from
    /// outside (their Init teleport and speed still give their start).
    pub fn new(
        sc: Scenario,
        map: Arc<Map>,
        params: Vec<(String, Value)>,
        external: &[String],
    ) -> Result<Self, PlayError> {
        let entities = sc
            .entities
            .iter()
            .map(|e| EntityState {
                name: e.name.clone(),
                kind: e.kind,
                bbox: e.bbox,
                present: false,
                external: external.contains(&e.name),
                x: 0.0,
                y: 0.0,
                z: 0.0,
                yaw: 0.0,
                speed: 0.0,
                accel: 0.0,
                lane: None,
                odometer: 0.0,
                still_for: 0.0,
                offroad_for: 0.0,
                end_of_road_for: 0.0,
                at_end_of_road: false,
                collided: BTreeSet::new(),
                long: None,
                lat: None,
                path: None,
                route: Vec::new(),
            })
            .collect();
        let mut p = Player {
            map,
            time: 0.0,
            entities,
            elems: Vec::new(),
            roots: Vec::new(),
            params: sc.parameters.iter().cloned().chain(params).collect(),
            stop: sc.stop.clone().map(trig),
            finished: false,
            started: false,
            seen: Vec::new(),
            now: Vec::new(),
            log: Vec::new(),
            warnings: Vec::new(),
            sc,
        };
        p.build();
        p.init()?;
        Ok(p)
    }

    fn build(&mut self) {
        let stories = self.sc.stories.clone();
        for s in &stories {
            let sid = self.push(ElementType::Story, &s.name, None, 1);
            self.roots.push(sid);
            for a in &s.acts {
                let aid = self.push(ElementType::Act, &a.name, Some(sid), 1);
                self.elems[aid].start = a.start.clone().map(trig);
                self.elems[aid].stop = a.stop.clone().map(trig);
                for g in &a.groups {
                    let gid = self.push(ElementType::ManeuverGroup, &g.name, Some(aid), g.max_exec);
                    self.elems[gid].actors =
                        g.actors.iter().filter_map(|n| self.index(n)).collect();
                    self.elems[gid].select_triggering = g.select_triggering;
                    for m in &g.maneuvers {
                        let mid = self.push(ElementType::Maneuver, &m.name, Some(gid), 1);
                        for e in &m.events {
                            let eid = self.push(ElementType::Event, &e.name, Some(mid), e.max_exec);
                            self.elems[eid].start = e.start.clone().map(trig);
                            self.elems[eid].priority = e.priority;
                            for ac in &e.actions {
                                let xid = self.push(ElementType::Action, &ac.name, Some(eid), 1);
                                self.elems[xid].action = Some(ac.clone());
                            }
                        }
                    }
                }
            }
        }
    }

    fn push(
        &mut self,
        kind: ElementType,
        name: &str,
        parent: Option<usize>,
        max_exec: u32,
    ) -> usize {
        let id = self.elems.len();
        self.elems.push(Elem {
            kind,
            name: name.to_owned(),
            parent,
            children: Vec::new(),
            state: St::Standby,
            exec: 0,
            max_exec,
            start: None,
            stop: None,
            priority: Priority::Parallel,
            action: None,
            actors: Vec::new(),
            select_triggering: false,
            running_on: Vec::new(),
        });
        if let Some(p) = parent {
            self.elems[p].children.push(id);
        }
        id
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.entities.iter().position(|e| e.name == name)
    }

    fn fail(&self, message: impl Into<String>) -> PlayError {
        PlayError {
            file: self.sc.file.clone(),
            message: message.into(),
        }
    }

    fn note(&mut self, message: String) {
        self.log.push(LogEntry {
            time: self.time,
            message,
        });
    }

    fn init(&mut self) -> Result<(), PlayError> {
        let init = self.sc.init.clone();
        // Teleports first, so relative targets of other actions find their
        // entities placed; then everything else in document order.
        let (teleports, rest): (Vec<_>, Vec<_>) = init.into_iter().partition(|ia| {
            matches!(
                ia.action.kind,
                ActionKind::Private(PrivateAction::Teleport(_))
            )
        });
        for ia in teleports.iter().chain(rest.iter()) {
            match (&ia.entity, &ia.action.kind) {
                (Some(e), ActionKind::Private(pa)) => {
                    let i = self
                        .index(e)
                        .ok_or_else(|| self.fail(format!("unknown entity {e:?}")))?;
                    self.start_private(i, pa, None, ia.action.line, true)?;
                }
                (_, ActionKind::Global(g)) => self.global(g, ia.action.line)?,
                (None, ActionKind::Private(_)) => {}
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- access

    pub fn time(&self) -> f64 {
        self.time
    }

    /// The storyboard's stop trigger fired.
    pub fn finished(&self) -> bool {
        self.finished
    }

    pub fn entities(&self) -> &[EntityState] {
        &self.entities
    }

    pub fn entity(&self, name: &str) -> Option<&EntityState> {
        self.entities.iter().find(|e| e.name == name)
    }

    pub fn scenario(&self) -> &Scenario {
        &self.sc
    }

    pub fn map(&self) -> &Arc<Map> {
        &self.map
    }

    /// What happened so far (element transitions, environment changes).
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    /// Actions on externally driven entities that were not applied, and
    /// similar notes.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The state of an element by name: "standby", "running", "complete".
    pub fn element_state(&self, name: &str) -> Option<&'static str> {
        self.elems
            .iter()
            .find(|e| e.name == name)
            .map(|e| match e.state {
                St::Standby => "standby",
                St::Running => "running",
                St::Complete => "complete",
            })
    }

    /// Sets the state of an externally driven entity (from the simulator).
    pub fn set_external(&mut self, name: &str, x: f64, y: f64, yaw: f64, speed: f64, accel: f64) {
        let map = Arc::clone(&self.map);
        if let Some(i) = self.index(name) {
            let e = &mut self.entities[i];
            let moved = ((x - e.x).powi(2) + (y - e.y).powi(2)).sqrt();
            e.odometer += moved;
            e.x = x;
            e.y = y;
            e.yaw = yaw;
            e.speed = speed;
            e.accel = accel;
            e.lane = position::locate(&map, x, y).map(|(c, _, _)| c);
        }
    }

    /// Records that `a` and `b` touched in the last step.
    pub fn note_collision(&mut self, a: &str, b: &str) {
        for (x, y) in [(a, b), (b, a)] {
            if let Some(i) = self.index(x) {
                self.entities[i].collided.insert(y.to_owned());
            }
        }
    }

    fn anchor(&self, name: &str) -> Option<Anchor> {
        let e = self.entity(name)?;
        e.present.then(|| Anchor {
            x: e.x,
            y: e.y,
            z: e.z,
            yaw: e.yaw,
            lane: e.lane.clone(),
        })
    }

    fn resolve(&self, p: &Position, line: u32) -> Result<Placed, PlayError> {
        position::resolve(&self.map, p, &|n| self.anchor(n))
            .map_err(|m| self.fail(format!("line {line}: position: {m}")))
    }

    /// Route points for entity `name`: its assigned route when it has one,
    /// else its lane ahead for `length` metres (to the road's end at most).
    pub fn route_ahead(&self, name: &str, length: f64) -> Vec<(f64, f64)> {
        let Some(e) = self.entity(name) else {
            return Vec::new();
        };
        if !e.route.is_empty() {
            let mut pts = vec![(e.x, e.y)];
            pts.extend(e.route.iter().copied());
            let wp: Vec<Vec2> = pts.iter().map(|&(x, y)| Vec2::new(x, y)).collect();
            if let Ok(r) = self.map.plan_route(&wp, 1.0) {
                return r.points.iter().map(|p| (p[0], p[1])).collect();
            }
            return pts;
        }
        let mut out = vec![(e.x, e.y)];
        let Some(l) = e.lane.clone() else {
            let (s, c) = e.yaw.sin_cos();
            out.push((e.x + c * length, e.y + s * length));
            return out;
        };
        let fwd = position::forward(&self.map, l.road_index, l.lane);
        let len = self.map.roads()[l.road_index].length;
        let mut c = l.clone();
        c.offset = 0.0;
        let mut d = 2.0;
        while d <= length {
            c.s = if fwd { l.s + d } else { l.s - d };
            if c.s < 0.0 || c.s > len {
                break;
            }
            match position::lane_pose(&self.map, &c) {
                Ok(p) => out.push((p.x, p.y)),
                Err(_) => break,
            }
            d += 2.0;
        }
        out
    }

    /// The largest SimulationTimeCondition value in the storyboard's stop
    /// trigger: how long the scenario means to run, when it says.
    pub fn planned_duration(&self) -> Option<f64> {
        self.sc
            .stop
            .as_ref()?
            .groups
            .iter()
            .flatten()
            .filter_map(|c| match c.kind {
                ConditionKind::SimulationTime { value, .. } => Some(value + c.delay),
                _ => None,
            })
            .reduce(f64::max)
    }

    // ---------------------------------------------------------------- stepping

    /// Evaluates triggers at the current time and starts, stops and ends
    /// elements accordingly.
    pub fn update(&mut self) -> Result<(), PlayError> {
        if self.finished {
            return Ok(());
        }
        self.seen = std::mem::take(&mut self.now);
        if !self.started {
            self.started = true;
            for r in self.roots.clone() {
                self.set_state(r, St::Running, Transition::Start);
            }
        }
        // Triggers are evaluated every step so edges are seen whenever they
        // happen.
        let mut fired_start = Vec::new();
        let mut fired_stop = Vec::new();
        for i in 0..self.elems.len() {
            if let Some(mut t) = self.elems[i].start.take() {
                if self.eval_trigger(&mut t) {
                    fired_start.push((i, t.triggering.clone()));
                }
                self.elems[i].start = Some(t);
            }
            if let Some(mut t) = self.elems[i].stop.take() {
                if self.eval_trigger(&mut t) {
                    fired_stop.push(i);
                }
                self.elems[i].stop = Some(t);
            }
        }
        if let Some(mut t) = self.stop.take() {
            let fired = self.eval_trigger(&mut t);
            self.stop = Some(t);
            if fired {
                self.finished = true;
                self.note("storyboard stop trigger".into());
                return Ok(());
            }
        }
        for i in fired_stop {
            if self.elems[i].state == St::Running {
                self.stop_elem(i);
            }
        }
        // Acts without a start trigger start with their story.
        let acts: Vec<usize> = (0..self.elems.len())
            .filter(|&i| self.elems[i].kind == ElementType::Act)
            .collect();
        for a in acts {
            let parent_running = self.elems[a]
                .parent
                .is_some_and(|p| self.elems[p].state == St::Running);
            let fired = self.elems[a].start.is_none() || fired_start.iter().any(|(i, _)| *i == a);
            if parent_running && self.elems[a].state == St::Standby && fired {
                self.start_act(a)?;
            }
        }
        // Events: wait in standby inside a running maneuver.
        let events: Vec<usize> = (0..self.elems.len())
            .filter(|&i| self.elems[i].kind == ElementType::Event)
            .collect();
        for ev in events {
            let parent_running = self.elems[ev]
                .parent
                .is_some_and(|p| self.elems[p].state == St::Running);
            if !parent_running || self.elems[ev].state != St::Standby {
                continue;
            }
            let fired = match &self.elems[ev].start {
                None => Some(Vec::new()),
                Some(_) => fired_start
                    .iter()
                    .find(|(i, _)| *i == ev)
                    .map(|(_, t)| t.clone()),
            };
            if let Some(triggering) = fired {
                self.start_event(ev, triggering)?;
            }
        }
        self.propagate();
        Ok(())
    }

    /// Moves every entity `dt` seconds on and ends finished actions.
    pub fn advance(&mut self, dt: f64) -> Result<(), PlayError> {
        for e in &mut self.entities {
            e.collided.clear();
        }
        let mut done = Vec::new();
        for i in 0..self.entities.len() {
            if !self.entities[i].present || self.entities[i].external {
                continue;
            }
            self.move_entity(i, dt, &mut done)?;
        }
        self.time += dt;
        let map = Arc::clone(&self.map);
        for e in &mut self.entities {
            if !e.present {
                continue;
            }
            if e.speed.abs() < STILL {
                e.still_for += dt;
            } else {
                e.still_for = 0.0;
            }
            let on = position::locate(&map, e.x, e.y).is_some_and(|(_, _, drivable)| drivable);
            if on || e.kind == EntityKind::Pedestrian {
                e.offroad_for = 0.0;
            } else {
                e.offroad_for += dt;
            }
            if e.at_end_of_road {
                e.end_of_road_for += dt;
            } else {
                e.end_of_road_for = 0.0;
            }
        }
        for (elem, entity) in done {
            self.instance_done(elem, entity);
        }
        self.propagate();
        Ok(())
    }

    fn move_entity(
        &mut self,
        i: usize,
        dt: f64,
        done: &mut Vec<(usize, usize)>,
    ) -> Result<(), PlayError> {
        // Longitudinal.
        let v_old = self.entities[i].speed;
        let mut v = v_old;
        if let Some(mut l) = self.entities[i].long.take() {
            let mut finished = false;
            match &mut l.kind {
                LongKind::Speed {
                    v0,
                    v1,
                    shape,
                    duration,
                    elapsed,
                    track,
                } => {
                    *elapsed += dt;
                    if let Some((ent, value, factor)) = track
                        && let Some(r) = self.entity(ent)
                    {
                        *v1 = if *factor {
                            r.speed * *value
                        } else {
                            r.speed + *value
                        };
                    }
                    v = match duration {
                        Some(t) if *elapsed >= *t => {
                            finished = track.is_none();
                            *v1
                        }
                        Some(t) => *v0 + (*v1 - *v0) * shapes::fraction(*shape, *elapsed / *t),
                        None => *v0,
                    };
                }
                LongKind::Gap {
                    entity,
                    value,
                    time_gap,
                    freespace,
                    leading,
                } => {
                    if let Some(r) = self.entity(entity) {
                        let me = &self.entities[i];
                        let want = if *time_gap {
                            *value * me.speed.max(r.speed)
                        } else {
                            *value
                        };
                        let (dx, _) =
                            self.rel(i, self.index(entity).unwrap_or(i), *freespace, false);
                        // dx > 0: the reference is ahead of me.
                        let gap = if *leading { -dx } else { dx };
                        v = (r.speed + 0.5 * (gap - want)).clamp(0.0, 70.0);
                    }
                }
            }
            if finished {
                if let Some(o) = l.owner {
                    done.push((o, i));
                }
            } else {
                self.entities[i].long = Some(l);
            }
        }
        let v = v.max(0.0);
        let map = Arc::clone(&self.map);
        // Trajectories place the entity themselves.
        if let Some(mut p) = self.entities[i].path.take() {
            let (x, y, z, yaw, speed, end) = follow(&p, self.time + dt, v, dt);
            let e = &mut self.entities[i];
            let moved = ((x - e.x).powi(2) + (y - e.y).powi(2)).sqrt();
            e.odometer += moved;
            e.accel = (speed - e.speed) / dt;
            e.x = x;
            e.y = y;
            e.z = z;
            e.yaw = yaw;
            e.speed = speed;
            e.lane = None;
            if p.times.is_none() {
                p.along += v * dt;
            }
            if end {
                if let Some(o) = p.owner {
                    done.push((o, i));
                }
                if p.times.is_some() {
                    // A timed trajectory ends at rest at its last point.
                    self.entities[i].speed = 0.0;
                }
            } else {
                self.entities[i].path = Some(p);
            }
            return Ok(());
        }
        // Lateral.
        let mut lat_rate = 0.0;
        if let Some(mut l) = self.entities[i].lat.take() {
            l.elapsed += dt;
            if let Some((ent, value)) = &l.track
                && let Some(r) = self.entity(ent)
                && let Some(rl) = &r.lane
            {
                l.o1 = rl.offset + value;
            }
            let f = if l.duration <= 0.0 {
                1.0
            } else {
                shapes::fraction(l.shape, l.elapsed / l.duration)
            };
            let off = l.o0 + (l.o1 - l.o0) * f;
            let finished = l.elapsed >= l.duration && l.track.is_none();
            if let Some(c) = &mut self.entities[i].lane {
                lat_rate = (off - c.offset) / dt;
                c.offset = if finished { l.o1 } else { off };
            }
            if finished {
                if let Some(o) = l.owner {
                    done.push((o, i));
                }
            } else {
                self.entities[i].lat = Some(l);
            }
        }
        let e = &mut self.entities[i];
        e.accel = (v - v_old) / dt;
        e.speed = v;
        // The distance of a step under a speed changing linearly through it.
        let dist = 0.5 * (v_old + v) * dt;
        e.odometer += dist;
        match e.lane.clone() {
            Some(mut c) => {
                let fwd = position::forward(&map, c.road_index, c.lane);
                let len = map.roads()[c.road_index].length;
                let sign = if fwd { 1.0 } else { -1.0 };
                // Correct s for the lane's distance from the reference line
                // on curves: measure the chord a trial step covers.
                let mut ds = dist;
                if dist > 1e-6 {
                    let mut probe = c.clone();
                    probe.s = (c.s + sign * dist).clamp(0.0, len);
                    if let (Ok(a), Ok(b)) = (
                        position::lane_pose(&map, &c),
                        position::lane_pose(&map, &probe),
                    ) {
                        let chord = (b.xy() - a.xy()).length();
                        let stepped = (probe.s - c.s).abs();
                        if chord > 1e-9 && stepped > 1e-9 {
                            ds = dist * stepped / chord;
                        }
                    }
                }
                let next = c.s + sign * ds;
                e.at_end_of_road = next < 0.0 || next > len;
                c.s = next.clamp(0.0, len);
                if e.at_end_of_road {
                    e.speed = 0.0;
                }
                let pose = position::lane_pose(&map, &c).map_err(|m| PlayError {
                    file: self.sc.file.clone(),
                    message: format!("{}: lane position: {m}", e.name),
                })?;
                e.x = pose.x;
                e.y = pose.y;
                e.z = pose.z;
                let drift = if dist > 1e-6 {
                    (lat_rate * dt * sign).atan2(dist)
                } else {
                    0.0
                };
                e.yaw = position::wrap(pose.yaw + drift);
                e.lane = Some(c);
            }
            None => {
                let (s, co) = e.yaw.sin_cos();
                e.x += co * dist;
                e.y += s * dist;
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- elements

    fn set_state(&mut self, i: usize, st: St, tr: Transition) {
        self.elems[i].state = st;
        self.now.push((i, tr));
        let e = &self.elems[i];
        let kind = e.kind;
        let name = e.name.clone();
        if kind != ElementType::Action || !name.is_empty() {
            self.note(format!("{kind:?} {name}: {tr:?}"));
        }
    }

    fn start_act(&mut self, a: usize) -> Result<(), PlayError> {
        self.set_state(a, St::Running, Transition::Start);
        for g in self.elems[a].children.clone() {
            self.start_group(g);
        }
        Ok(())
    }

    fn start_group(&mut self, g: usize) {
        self.set_state(g, St::Running, Transition::Start);
        for m in self.elems[g].children.clone() {
            self.elems[m].state = St::Standby;
            self.set_state(m, St::Running, Transition::Start);
            for ev in self.elems[m].children.clone() {
                self.elems[ev].state = St::Standby;
                self.elems[ev].exec = 0;
                for x in self.elems[ev].children.clone() {
                    self.elems[x].state = St::Standby;
                }
            }
        }
    }

    fn group_of(&self, ev: usize) -> Option<usize> {
        let m = self.elems[ev].parent?;
        self.elems[m].parent
    }

    fn start_event(&mut self, ev: usize, triggering: Vec<usize>) -> Result<(), PlayError> {
        let maneuver = self.elems[ev].parent.expect("events have a maneuver");
        let siblings: Vec<usize> = self.elems[maneuver]
            .children
            .iter()
            .copied()
            .filter(|&s| s != ev && self.elems[s].state == St::Running)
            .collect();
        match self.elems[ev].priority {
            Priority::Skip if !siblings.is_empty() => {
                self.now.push((ev, Transition::Skip));
                return Ok(());
            }
            Priority::Override => {
                for s in siblings {
                    self.stop_elem(s);
                }
            }
            _ => {}
        }
        self.set_state(ev, St::Running, Transition::Start);
        let group = self.group_of(ev).expect("events are in a group");
        let mut actors = self.elems[group].actors.clone();
        if self.elems[group].select_triggering {
            for t in triggering {
                if !actors.contains(&t) {
                    actors.push(t);
                }
            }
        }
        for x in self.elems[ev].children.clone() {
            self.start_action(x, &actors)?;
        }
        Ok(())
    }

    fn start_action(&mut self, x: usize, actors: &[usize]) -> Result<(), PlayError> {
        self.set_state(x, St::Running, Transition::Start);
        self.elems[x].running_on.clear();
        let action = self.elems[x].action.clone().expect("actions carry one");
        match &action.kind {
            ActionKind::Global(g) => {
                self.global(g, action.line)?;
            }
            ActionKind::Private(pa) => {
                for &a in actors {
                    if self.entities[a].external {
                        // The policy drives this entity; only controller
                        // activation makes sense for it.
                        if !matches!(
                            pa,
                            PrivateAction::ActivateController { .. } | PrivateAction::Accepted(_)
                        ) {
                            self.warnings.push(format!(
                                "{}: line {}: action {:?} on {} not applied: the policy drives it",
                                self.sc.file, action.line, action.name, self.entities[a].name
                            ));
                        }
                        continue;
                    }
                    let finished = self.start_private(a, pa, Some(x), action.line, false)?;
                    self.elems[x].running_on.push((a, finished));
                }
            }
        }
        if self.elems[x].running_on.iter().all(|(_, d)| *d) {
            self.set_state(x, St::Complete, Transition::End);
        }
        Ok(())
    }

    fn instance_done(&mut self, elem: usize, entity: usize) {
        if self.elems[elem].state != St::Running {
            return;
        }
        for r in &mut self.elems[elem].running_on {
            if r.0 == entity {
                r.1 = true;
            }
        }
        if self.elems[elem].running_on.iter().all(|(_, d)| *d) {
            self.set_state(elem, St::Complete, Transition::End);
        }
    }

    /// Stops a running element and everything running under it.
    fn stop_elem(&mut self, i: usize) {
        for c in self.elems[i].children.clone() {
            if self.elems[c].state == St::Running {
                self.stop_elem(c);
            }
        }
        if self.elems[i].kind == ElementType::Action {
            self.release(i);
        }
        self.set_state(i, St::Complete, Transition::Stop);
    }

    /// Removes the controllers an action owns.
    fn release(&mut self, x: usize) {
        for e in &mut self.entities {
            if e.long.as_ref().is_some_and(|l| l.owner == Some(x)) {
                e.long = None;
            }
            if e.lat.as_ref().is_some_and(|l| l.owner == Some(x)) {
                e.lat = None;
            }
            if e.path.as_ref().is_some_and(|l| l.owner == Some(x)) {
                e.path = None;
            }
        }
    }

    /// Ends elements whose children have all ended, restarting those with
    /// executions left.
    fn propagate(&mut self) {
        loop {
            let mut changed = false;
            for i in 0..self.elems.len() {
                let e = &self.elems[i];
                if e.state != St::Running || e.kind == ElementType::Action {
                    continue;
                }
                if e.children.is_empty() && e.kind != ElementType::Event {
                    continue;
                }
                let all_done = e
                    .children
                    .iter()
                    .all(|&c| self.elems[c].state == St::Complete);
                if !all_done {
                    continue;
                }
                changed = true;
                let kind = e.kind;
                self.elems[i].exec += 1;
                let again = self.elems[i].exec < self.elems[i].max_exec;
                match (kind, again) {
                    (ElementType::Event, true) => {
                        self.set_state(i, St::Standby, Transition::End);
                        for c in self.elems[i].children.clone() {
                            self.elems[c].state = St::Standby;
                        }
                    }
                    (ElementType::ManeuverGroup, true) => {
                        self.now.push((i, Transition::End));
                        self.start_group(i);
                    }
                    _ => self.set_state(i, St::Complete, Transition::End),
                }
            }
            if !changed {
                break;
            }
        }
    }

    // ---------------------------------------------------------------- actions

    /// Starts a private action on entity `i`; returns whether it is done
    /// already.
    fn start_private(
        &mut self,
        i: usize,
        pa: &PrivateAction,
        owner: Option<usize>,
        line: u32,
        init: bool,
    ) -> Result<bool, PlayError> {
        let map = Arc::clone(&self.map);
        match pa {
            PrivateAction::Teleport(p) => {
                let placed = self.resolve(p, line)?;
                self.place(i, placed);
                Ok(true)
            }
            PrivateAction::Speed { dynamics, target } => {
                let v0 = self.entities[i].speed;
                let (v1, track) = match target {
                    SpeedTarget::Absolute(v) => (*v, None),
                    SpeedTarget::Relative {
                        entity,
                        value,
                        factor,
                        continuous,
                    } => {
                        let r = self.entity(entity).ok_or_else(|| {
                            self.fail(format!("line {line}: unknown entity {entity:?}"))
                        })?;
                        let v = if *factor {
                            r.speed * value
                        } else {
                            r.speed + value
                        };
                        (v, continuous.then(|| (entity.clone(), *value, *factor)))
                    }
                };
                let v1 = v1.max(0.0);
                let duration = shapes::duration(dynamics, v1 - v0, 0.5 * (v0 + v1));
                if duration == Some(0.0) && track.is_none() {
                    self.entities[i].speed = v1;
                    if !init {
                        self.drop_long(i, owner);
                    }
                    return Ok(true);
                }
                self.drop_long(i, owner);
                self.entities[i].long = Some(Long {
                    owner,
                    kind: LongKind::Speed {
                        v0,
                        v1,
                        shape: dynamics.shape,
                        duration,
                        elapsed: 0.0,
                        track,
                    },
                });
                Ok(false)
            }
            PrivateAction::LongitudinalDistance {
                entity,
                value,
                time_gap,
                freespace,
                continuous,
                leading,
            } => {
                let r = self
                    .index(entity)
                    .ok_or_else(|| self.fail(format!("line {line}: unknown entity {entity:?}")))?;
                if *continuous {
                    self.drop_long(i, owner);
                    self.entities[i].long = Some(Long {
                        owner,
                        kind: LongKind::Gap {
                            entity: entity.clone(),
                            value: *value,
                            time_gap: *time_gap,
                            freespace: *freespace,
                            leading: *leading,
                        },
                    });
                    return Ok(false);
                }
                // Place the entity at the distance along the reference's lane.
                let me = &self.entities[i];
                let re = &self.entities[r];
                let gap = if *time_gap { value * me.speed } else { *value };
                let extra = if *freespace {
                    if *leading {
                        front(&re.bbox) + rear(&me.bbox)
                    } else {
                        rear(&re.bbox) + front(&me.bbox)
                    }
                } else {
                    0.0
                };
                let d = gap + extra;
                let lane = re
                    .lane
                    .clone()
                    .ok_or_else(|| self.fail(format!("line {line}: {entity} is not on a lane")))?;
                let fwd = position::forward(&map, lane.road_index, lane.lane);
                let along = if *leading { d } else { -d };
                let mut target = me.lane.clone().unwrap_or(lane.clone());
                if target.road_index != lane.road_index {
                    target = lane.clone();
                }
                target.s = lane.s + if fwd { along } else { -along };
                let pose = position::lane_pose(&map, &target)
                    .map_err(|m| self.fail(format!("line {line}: {m}")))?;
                self.place(
                    i,
                    Placed {
                        x: pose.x,
                        y: pose.y,
                        z: pose.z,
                        yaw: pose.yaw,
                        lane: Some(target),
                    },
                );
                Ok(true)
            }
            PrivateAction::LaneChange {
                dynamics,
                target,
                target_offset,
            } => {
                let Some(cur) = self.entities[i].lane.clone() else {
                    return Err(self.fail(format!(
                        "line {line}: {} changes lanes while not on a lane",
                        self.entities[i].name
                    )));
                };
                let lane = match target {
                    LaneTarget::Absolute(l) => *l,
                    LaneTarget::Relative { entity, value } => {
                        let r = self
                            .entity(entity)
                            .and_then(|e| e.lane.clone())
                            .ok_or_else(|| {
                                self.fail(format!("line {line}: {entity} is not on a lane"))
                            })?;
                        position::shift_lane(&map, r.road_index, r.lane, *value)
                    }
                };
                let o0 = position::offset_between(&map, cur.road_index, cur.s, cur.lane, lane)
                    .map_err(|m| self.fail(format!("line {line}: lane change to {lane}: {m}")))?
                    + cur.offset;
                let mut c = cur.clone();
                c.lane = lane;
                c.offset = o0;
                self.entities[i].lane = Some(c);
                let v = self.entities[i].speed;
                let delta = target_offset - o0;
                let duration = match dynamics.dimension {
                    Dimension::Distance => {
                        if v > 1e-6 {
                            Some(dynamics.value / v)
                        } else {
                            None
                        }
                    }
                    _ => shapes::duration(dynamics, delta, v),
                }
                .unwrap_or(0.0);
                self.set_lat(i, owner, o0, *target_offset, dynamics.shape, duration, None);
                Ok(false)
            }
            PrivateAction::LaneOffset {
                max_lateral_acc,
                shape,
                target,
                continuous,
            } => {
                let Some(cur) = self.entities[i].lane.clone() else {
                    return Err(self.fail(format!(
                        "line {line}: {} offsets while not on a lane",
                        self.entities[i].name
                    )));
                };
                let (o1, track) = match target {
                    OffsetTarget::Absolute(v) => (*v, None),
                    OffsetTarget::Relative { entity, value } => {
                        let r = self
                            .entity(entity)
                            .and_then(|e| e.lane.clone())
                            .ok_or_else(|| {
                                self.fail(format!("line {line}: {entity} is not on a lane"))
                            })?;
                        (
                            r.offset + value,
                            continuous.then(|| (entity.clone(), *value)),
                        )
                    }
                };
                let acc = max_lateral_acc.unwrap_or(1.0);
                let duration = shapes::duration_for_lateral_acc(*shape, o1 - cur.offset, acc);
                self.set_lat(i, owner, cur.offset, o1, *shape, duration, track);
                Ok(false)
            }
            PrivateAction::FollowTrajectory {
                vertices,
                timed,
                scale,
                offset,
                absolute,
            } => {
                let mut points = Vec::new();
                let mut yaws = Vec::new();
                for v in vertices {
                    let p = self.resolve(&v.position, line)?;
                    points.push((p.x, p.y, p.z));
                    let oriented = !matches!(
                        v.position,
                        Position::Lane {
                            orientation: None,
                            ..
                        } | Position::World { h: None, .. }
                    );
                    yaws.push(oriented.then_some(p.yaw));
                }
                let times = timed.then(|| {
                    vertices
                        .iter()
                        .map(|v| v.time.unwrap_or(0.0) * scale + offset)
                        .collect()
                });
                let t0 = if *absolute { 0.0 } else { self.time };
                self.entities[i].path = Some(PathCtl {
                    owner,
                    points,
                    times,
                    yaws,
                    t0,
                    along: 0.0,
                });
                self.entities[i].lat = None;
                if *timed {
                    self.entities[i].long = None;
                }
                Ok(false)
            }
            PrivateAction::AssignRoute(ps) => {
                let mut pts = Vec::new();
                for p in ps {
                    let r = self.resolve(p, line)?;
                    pts.push((r.x, r.y));
                }
                self.entities[i].route = pts;
                Ok(true)
            }
            PrivateAction::AcquirePosition(p) => {
                let r = self.resolve(p, line)?;
                self.entities[i].route = vec![(r.x, r.y)];
                Ok(true)
            }
            PrivateAction::ActivateController { .. } | PrivateAction::Accepted(_) => Ok(true),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn set_lat(
        &mut self,
        i: usize,
        owner: Option<usize>,
        o0: f64,
        o1: f64,
        shape: Shape,
        duration: f64,
        track: Option<(String, f64)>,
    ) {
        if let Some(old) = self.entities[i].lat.take()
            && let Some(o) = old.owner
            && Some(o) != owner
        {
            self.overridden(o, i);
        }
        self.entities[i].lat = Some(Lat {
            owner,
            o0,
            o1,
            shape,
            duration,
            elapsed: 0.0,
            track,
        });
    }

    fn drop_long(&mut self, i: usize, owner: Option<usize>) {
        if let Some(old) = self.entities[i].long.take()
            && let Some(o) = old.owner
            && Some(o) != owner
        {
            self.overridden(o, i);
        }
    }

    /// An action lost its entity to a newer action of the same domain.
    fn overridden(&mut self, elem: usize, entity: usize) {
        if self.elems[elem].state != St::Running {
            return;
        }
        self.elems[elem].running_on.retain(|(e, _)| *e != entity);
        if self.elems[elem].running_on.iter().all(|(_, d)| *d) {
            self.set_state(elem, St::Complete, Transition::Stop);
        }
    }

    fn place(&mut self, i: usize, p: Placed) {
        let e = &mut self.entities[i];
        e.present = true;
        e.x = p.x;
        e.y = p.y;
        e.z = p.z;
        e.yaw = p.yaw;
        e.lane = p.lane;
        if e.lane.is_none() && e.kind == EntityKind::Vehicle {
            // A vehicle placed on a lane heading along it drives along it.
            let map = Arc::clone(&self.map);
            if let Some((c, _, true)) = position::locate(&map, p.x, p.y)
                && let Ok(pose) = position::lane_pose(&map, &c)
                && position::wrap(pose.yaw - p.yaw).abs() < 0.3
            {
                self.entities[i].lane = Some(c);
            }
        }
    }

    fn global(&mut self, g: &GlobalAction, line: u32) -> Result<(), PlayError> {
        match g {
            GlobalAction::AddEntity { entity, position } => {
                let i = self
                    .index(entity)
                    .ok_or_else(|| self.fail(format!("line {line}: unknown entity {entity:?}")))?;
                let p = self.resolve(position, line)?;
                self.place(i, p);
                self.note(format!("entity {entity} added"));
            }
            GlobalAction::DeleteEntity { entity } => {
                if let Some(i) = self.index(entity) {
                    self.entities[i].present = false;
                    self.entities[i].long = None;
                    self.entities[i].lat = None;
                    self.entities[i].path = None;
                }
                self.note(format!("entity {entity} deleted"));
            }
            GlobalAction::Environment(what) => {
                self.note(format!("environment: {what} (recorded, not simulated)"));
            }
            GlobalAction::ParameterSet { name, value } => {
                let typed = match self.params.get(name) {
                    Some(Value::Num(_)) => Value::Num(value.parse().map_err(|_| {
                        self.fail(format!("line {line}: {value:?} is not a number for {name}"))
                    })?),
                    Some(Value::Bool(_)) => {
                        Value::Bool(crate::expr::parse_bool(value).ok_or_else(|| {
                            self.fail(format!(
                                "line {line}: {value:?} is not a boolean for {name}"
                            ))
                        })?)
                    }
                    _ => Value::Str(value.clone()),
                };
                self.params.insert(name.clone(), typed);
            }
            GlobalAction::ParameterAdd { name, value }
            | GlobalAction::ParameterMultiply { name, value } => {
                let cur = self
                    .params
                    .get(name)
                    .and_then(Value::as_num)
                    .ok_or_else(|| {
                        self.fail(format!("line {line}: parameter {name} is not a number"))
                    })?;
                let v = if matches!(g, GlobalAction::ParameterAdd { .. }) {
                    cur + value
                } else {
                    cur * value
                };
                self.params.insert(name.clone(), Value::Num(v));
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- conditions

    fn eval_trigger(&mut self, t: &mut TrigRt) -> bool {
        let mut any = false;
        let mut triggering = Vec::new();
        for g in &mut t.groups {
            let mut all = true;
            for c in g.iter_mut() {
                let (raw, who) = self.condition(&c.cond);
                let edge = match c.cond.edge {
                    Edge::None => raw,
                    Edge::Rising => raw && c.last == Some(false),
                    Edge::Falling => !raw && c.last == Some(true),
                    Edge::RisingOrFalling => c.last.is_some_and(|l| l != raw),
                };
                c.last = Some(raw);
                if c.cond.delay <= 0.0 {
                    c.out = edge;
                } else {
                    c.pending.push_back((self.time, edge));
                    let mut popped = None;
                    while let Some(&(t0, v)) = c.pending.front() {
                        if t0 + c.cond.delay <= self.time + 1e-9 {
                            c.pending.pop_front();
                            popped = Some(match c.cond.edge {
                                Edge::None => v,
                                _ => popped.unwrap_or(false) || v,
                            });
                        } else {
                            break;
                        }
                    }
                    match (popped, c.cond.edge) {
                        (Some(v), _) => c.out = v,
                        (None, Edge::None) => {}
                        (None, _) => c.out = false,
                    }
                }
                if c.out {
                    triggering.extend(who);
                }
                all &= c.out;
            }
            any |= all && !g.is_empty();
        }
        if any {
            t.triggering = triggering;
        }
        any
    }

    /// A condition's value now, with the entities that made it true.
    fn condition(&self, c: &Condition) -> (bool, Vec<usize>) {
        match &c.kind {
            ConditionKind::SimulationTime { rule, value } => {
                (rule.test(self.time, *value), Vec::new())
            }
            ConditionKind::StoryboardElementState { kind, name, state } => {
                let last = name.rsplit("::").next().unwrap_or(name);
                let v = self
                    .elems
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.kind == *kind && e.name == last)
                    .any(|(i, e)| match state {
                        ElementState::StandbyState => e.state == St::Standby,
                        ElementState::RunningState => e.state == St::Running,
                        ElementState::CompleteState => e.state == St::Complete,
                        ElementState::StartTransition => {
                            self.seen.contains(&(i, Transition::Start))
                        }
                        ElementState::EndTransition => self.seen.contains(&(i, Transition::End)),
                        ElementState::StopTransition => self.seen.contains(&(i, Transition::Stop)),
                        ElementState::SkipTransition => self.seen.contains(&(i, Transition::Skip)),
                    });
                (v, Vec::new())
            }
            ConditionKind::Parameter { name, rule, value } => {
                let v = match self.params.get(name) {
                    Some(Value::Num(x)) => {
                        value.trim().parse::<f64>().is_ok_and(|y| rule.test(*x, y))
                    }
                    Some(Value::Bool(b)) => {
                        crate::expr::parse_bool(value).is_some_and(|y| match rule {
                            Rule::Equal => *b == y,
                            Rule::NotEqual => *b != y,
                            _ => false,
                        })
                    }
                    Some(Value::Str(s)) => match rule {
                        Rule::Equal => s == value,
                        Rule::NotEqual => s != value,
                        _ => false,
                    },
                    None => false,
                };
                (v, Vec::new())
            }
            ConditionKind::ByEntity {
                entities,
                all,
                condition,
            } => {
                let mut who = Vec::new();
                let mut count = 0;
                for n in entities {
                    let Some(i) = self.index(n) else { continue };
                    if !self.entities[i].present {
                        continue;
                    }
                    count += 1;
                    if self.entity_condition(i, condition) {
                        who.push(i);
                    }
                }
                let v = if *all {
                    count > 0 && who.len() == count
                } else {
                    !who.is_empty()
                };
                (v, who)
            }
        }
    }

    /// Longitudinal and lateral distance from entity `a` to `b` in `a`'s
    /// frame (or along the road when `road`), centre to centre or between
    /// bounding boxes (`freespace`).
    fn rel(&self, a: usize, b: usize, freespace: bool, road: bool) -> (f64, f64) {
        let ea = &self.entities[a];
        let eb = &self.entities[b];
        let ca = centre(ea);
        let cb = centre(eb);
        let (dx, dy) = if road {
            match (
                position::locate(&self.map, ca.x, ca.y),
                position::locate(&self.map, cb.x, cb.y),
            ) {
                (Some((la, ta, _)), Some((lb, tb, _))) if la.road_index == lb.road_index => {
                    let fwd = position::forward(&self.map, la.road_index, la.lane);
                    let sign = if fwd { 1.0 } else { -1.0 };
                    (sign * (lb.s - la.s), sign * (tb - ta))
                }
                _ => local(ea.yaw, cb - ca),
            }
        } else {
            local(ea.yaw, cb - ca)
        };
        if !freespace {
            return (dx, dy);
        }
        // Extents of both boxes along a's axes (b's box projected).
        let rel_yaw = eb.yaw - ea.yaw;
        let (s, c) = rel_yaw.sin_cos();
        let hb_x = 0.5 * (eb.bbox.length * c.abs() + eb.bbox.width * s.abs());
        let hb_y = 0.5 * (eb.bbox.length * s.abs() + eb.bbox.width * c.abs());
        let gx = (dx.abs() - 0.5 * ea.bbox.length - hb_x).max(0.0);
        let gy = (dy.abs() - 0.5 * ea.bbox.width - hb_y).max(0.0);
        (gx * dx.signum(), gy * dy.signum())
    }

    fn distance(&self, a: usize, b: usize, kind: DistanceType, freespace: bool, road: bool) -> f64 {
        let (dx, dy) = self.rel(a, b, freespace, road);
        match kind {
            DistanceType::Longitudinal => dx.abs(),
            DistanceType::Lateral => dy.abs(),
            DistanceType::Cartesian => {
                if freespace {
                    obb_distance(&self.entities[a], &self.entities[b])
                } else {
                    (centre(&self.entities[b]) - centre(&self.entities[a])).length()
                }
            }
        }
    }

    fn entity_condition(&self, i: usize, c: &EntityCondition) -> bool {
        let e = &self.entities[i];
        match c {
            EntityCondition::TraveledDistance(v) => e.odometer >= *v,
            EntityCondition::ReachPosition {
                position,
                tolerance,
            } => self
                .resolve(position, 0)
                .is_ok_and(|p| ((p.x - e.x).powi(2) + (p.y - e.y).powi(2)).sqrt() <= *tolerance),
            EntityCondition::Distance {
                target,
                kind,
                road,
                freespace,
                rule,
                value,
            } => match target {
                Target::Entity(n) => self
                    .index(n)
                    .filter(|&j| self.entities[j].present)
                    .is_some_and(|j| {
                        rule.test(self.distance(i, j, *kind, *freespace, *road), *value)
                    }),
                Target::Position(p) => self.resolve(p, 0).is_ok_and(|p| {
                    let d = Vec2::new(p.x - e.x, p.y - e.y);
                    let (dx, dy) = local(e.yaw, d);
                    let half = if *freespace { 0.5 * e.bbox.length } else { 0.0 };
                    let v = match kind {
                        DistanceType::Longitudinal => (dx.abs() - half).max(0.0),
                        DistanceType::Lateral => dy.abs(),
                        DistanceType::Cartesian => (d.length() - half).max(0.0),
                    };
                    rule.test(v, *value)
                }),
            },
            EntityCondition::TimeHeadway {
                entity,
                kind,
                road,
                freespace,
                rule,
                value,
            } => {
                let Some(j) = self.index(entity).filter(|&j| self.entities[j].present) else {
                    return false;
                };
                let (dx, _) = self.rel(i, j, *freespace, *road);
                let d = match kind {
                    DistanceType::Longitudinal => dx,
                    _ => self.distance(i, j, *kind, *freespace, *road) * dx.signum(),
                };
                let thw = if dx > 0.0 && e.speed > STILL {
                    d / e.speed
                } else {
                    f64::INFINITY
                };
                rule.test(thw, *value)
            }
            EntityCondition::TimeToCollision {
                target,
                freespace,
                rule,
                value,
            } => {
                let ttc = match target {
                    Target::Entity(n) => {
                        match self.index(n).filter(|&j| self.entities[j].present) {
                            Some(j) => {
                                let (dx, _) = self.rel(i, j, *freespace, false);
                                let o = &self.entities[j];
                                let closing = e.speed - o.speed * (o.yaw - e.yaw).cos();
                                if dx > 0.0 && closing > 1e-6 {
                                    dx / closing
                                } else {
                                    f64::INFINITY
                                }
                            }
                            None => f64::INFINITY,
                        }
                    }
                    Target::Position(p) => match self.resolve(p, 0) {
                        Ok(p) => {
                            let (dx, _) = local(e.yaw, Vec2::new(p.x - e.x, p.y - e.y));
                            if dx > 0.0 && e.speed > 1e-6 {
                                dx / e.speed
                            } else {
                                f64::INFINITY
                            }
                        }
                        Err(_) => f64::INFINITY,
                    },
                };
                rule.test(ttc, *value)
            }
            EntityCondition::Speed { rule, value } => rule.test(e.speed, *value),
            EntityCondition::RelativeSpeed {
                entity,
                rule,
                value,
            } => self
                .entity(entity)
                .is_some_and(|o| rule.test(e.speed - o.speed, *value)),
            EntityCondition::Acceleration { rule, value } => rule.test(e.accel, *value),
            EntityCondition::StandStill(d) => e.still_for >= *d,
            EntityCondition::Collision(target) => match target {
                Some(n) => e.collided.contains(n),
                None => !e.collided.is_empty(),
            },
            EntityCondition::EndOfRoad(d) => e.at_end_of_road && e.end_of_road_for >= *d,
            EntityCondition::Offroad(d) => e.offroad_for > 0.0 && e.offroad_for >= *d,
        }
    }
}

fn trig(t: Trigger) -> TrigRt {
    TrigRt {
        groups: t
            .groups
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .map(|cond| CondRt {
                        cond,
                        last: None,
                        pending: VecDeque::new(),
                        out: false,
                    })
                    .collect()
            })
            .collect(),
        triggering: Vec::new(),
    }
}

/// Distance from the reference point to the front of the box.
fn front(b: &BoundingBox) -> f64 {
    b.cx + 0.5 * b.length
}

/// Distance from the reference point to the rear of the box.
fn rear(b: &BoundingBox) -> f64 {
    0.5 * b.length - b.cx
}

fn centre(e: &EntityState) -> Vec2 {
    let (s, c) = e.yaw.sin_cos();
    Vec2::new(
        e.x + c * e.bbox.cx - s * e.bbox.cy,
        e.y + s * e.bbox.cx + c * e.bbox.cy,
    )
}

fn local(yaw: f64, d: Vec2) -> (f64, f64) {
    let (s, c) = yaw.sin_cos();
    (c * d.x + s * d.y, -s * d.x + c * d.y)
}

fn corners(e: &EntityState) -> [Vec2; 4] {
    let ctr = centre(e);
    let f = Vec2::from_angle(e.yaw) * (0.5 * e.bbox.length);
    let l = Vec2::from_angle(e.yaw).perp() * (0.5 * e.bbox.width);
    [ctr + f + l, ctr + f - l, ctr - f - l, ctr - f + l]
}

fn seg_dist(p: Vec2, a: Vec2, b: Vec2) -> f64 {
    let ab = b - a;
    let t = if ab.length_sq() > 0.0 {
        ((p - a).dot(ab) / ab.length_sq()).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p - (a + ab * t)).length()
}

fn inside(p: Vec2, q: &[Vec2; 4]) -> bool {
    (0..4).all(|k| (q[(k + 1) % 4] - q[k]).cross(p - q[k]) <= 0.0)
        || (0..4).all(|k| (q[(k + 1) % 4] - q[k]).cross(p - q[k]) >= 0.0)
}

/// Distance between two entities' bounding boxes (0 when they overlap).
fn obb_distance(a: &EntityState, b: &EntityState) -> f64 {
    let (ca, cb) = (corners(a), corners(b));
    if ca.iter().any(|p| inside(*p, &cb)) || cb.iter().any(|p| inside(*p, &ca)) {
        return 0.0;
    }
    let mut d = f64::INFINITY;
    for (p, q) in [(&ca, &cb), (&cb, &ca)] {
        for &pt in p.iter() {
            for k in 0..4 {
                d = d.min(seg_dist(pt, q[k], q[(k + 1) % 4]));
            }
        }
    }
    d
}

/// Where a trajectory puts its entity at time `t`: (x, y, z, yaw, speed, ended).
fn follow(p: &PathCtl, t: f64, v: f64, dt: f64) -> (f64, f64, f64, f64, f64, bool) {
    let pts = &p.points;
    let n = pts.len();
    let seg_yaw = |k: usize| {
        let a = pts[k];
        let b = pts[k + 1];
        (b.1 - a.1).atan2(b.0 - a.0)
    };
    let yaw_at = |k: usize, f: f64| match (p.yaws[k], p.yaws[k + 1]) {
        (Some(a), Some(b)) => a + position::wrap(b - a) * f,
        _ => seg_yaw(k),
    };
    if let Some(times) = &p.times {
        let tau = t - p.t0;
        if tau <= times[0] {
            let a = pts[0];
            return (a.0, a.1, a.2, yaw_at(0, 0.0), 0.0, false);
        }
        for k in 0..n - 1 {
            let (t0, t1) = (times[k], times[k + 1]);
            if tau <= t1 {
                let span = (t1 - t0).max(1e-9);
                let f = ((tau - t0) / span).clamp(0.0, 1.0);
                let (a, b) = (pts[k], pts[k + 1]);
                let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
                return (
                    a.0 + (b.0 - a.0) * f,
                    a.1 + (b.1 - a.1) * f,
                    a.2 + (b.2 - a.2) * f,
                    yaw_at(k, f),
                    len / span,
                    false,
                );
            }
        }
        let b = pts[n - 1];
        return (b.0, b.1, b.2, yaw_at(n - 2, 1.0), 0.0, true);
    }
    let mut along = p.along + v * dt;
    for k in 0..n - 1 {
        let (a, b) = (pts[k], pts[k + 1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        if along <= len || k == n - 2 {
            let f = if len > 0.0 {
                (along / len).min(1.0)
            } else {
                1.0
            };
            let end = k == n - 2 && along >= len;
            return (
                a.0 + (b.0 - a.0) * f,
                a.1 + (b.1 - a.1) * f,
                a.2 + (b.2 - a.2) * f,
                yaw_at(k, f),
                v,
                end,
            );
        }
        along -= len;
    }
    let b = pts[n - 1];
    (b.0, b.1, b.2, 0.0, v, true)
}
