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
//!
//! This module holds the player, its set-up and its two steps; the jobs
//! they share out live beside it:
//!
//! - `storyboard`: the element state machine;
//! - `triggers`: trigger and condition evaluation;
//! - `actions`: what private and global actions do;
//! - `motion`: the default controller moving entities each step;
//! - `entity`: the per-entity state and controllers ([`EntityState`]);
//! - `geometry`: bounding-box geometry the conditions and actions use.

mod actions;
mod entity;
mod geometry;
mod motion;
mod storyboard;
mod triggers;

use std::collections::HashMap;
use std::sync::Arc;

use atlas_sim::{Map, Vec2};

pub use entity::{EntityState, Overrides};
use storyboard::{Elem, St, Transition};
use triggers::{TrigRt, trig};

use crate::expr::Value;
use crate::model::*;
use crate::position::{self, Anchor, Placed};

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
            .map(|e| EntityState::new(e, external.contains(&e.name)))
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
        let (fired_start, fired_stop) = self.fire_element_triggers();
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
        self.start_acts(&fired_start)?;
        // Events: wait in standby inside a running maneuver.
        self.start_events(&fired_start)?;
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
        self.update_timers(dt);
        for (elem, entity) in done {
            self.instance_done(elem, entity);
        }
        self.propagate();
        Ok(())
    }
}
