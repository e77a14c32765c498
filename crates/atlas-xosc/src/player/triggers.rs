//! Triggers: condition groups with edges and delays, and the value of every
//! condition kind (time, element states, parameters, entity conditions
//! with their distances, headways and times to collision).

use std::collections::VecDeque;

use atlas_sim::Vec2;

use super::geometry::{centre, local, obb_distance};
use super::storyboard::{St, Transition};
use super::{Player, STILL};
use crate::expr::Value;
use crate::model::*;
use crate::position;

#[derive(Clone, Debug)]
struct CondRt {
    cond: Condition,
    last: Option<bool>,
    pending: VecDeque<(f64, bool)>,
    out: bool,
}

/// A trigger with the run-time state of its conditions.
#[derive(Clone, Debug)]
pub(super) struct TrigRt {
    groups: Vec<Vec<CondRt>>,
    /// Entities that made the last ByEntity condition true.
    pub(super) triggering: Vec<usize>,
}

pub(super) fn trig(t: Trigger) -> TrigRt {
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

impl Player {
    /// Evaluates every element's start and stop trigger: the elements whose
    /// start trigger fired, with the entities that fired it, and those
    /// whose stop trigger fired. Triggers are evaluated every step so edges
    /// are seen whenever they happen.
    pub(super) fn fire_element_triggers(&mut self) -> (Vec<(usize, Vec<usize>)>, Vec<usize>) {
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
        (fired_start, fired_stop)
    }

    pub(super) fn eval_trigger(&mut self, t: &mut TrigRt) -> bool {
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
                (rule.test_within(self.time, *value, 1e-6), Vec::new())
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
    pub(super) fn rel(&self, a: usize, b: usize, freespace: bool, road: bool) -> (f64, f64) {
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
