//! Triggers: condition groups, conditions with their edges and delays,
//! value conditions and entity conditions.

use roxmltree::Node;

use super::{R, Reader, elements};
use crate::model::*;

impl<'d, 'i> Reader<'d, 'i> {
    /// A StopTrigger: a trigger whose conditions named `criteria_<Test>`
    /// are ScenarioRunner pass criteria instead (as ScenarioRunner reads
    /// every StopTrigger of the storyboard).
    pub(super) fn stop_trigger(&mut self, n: Node<'d, 'i>) -> R<Trigger> {
        let was = std::mem::replace(&mut self.in_stop_trigger, true);
        let t = self.trigger(n);
        self.in_stop_trigger = was;
        t
    }

    pub(super) fn trigger(&mut self, n: Node<'d, 'i>) -> R<Trigger> {
        let mut t = Trigger::default();
        for g in elements(n) {
            if !g.has_tag_name("ConditionGroup") {
                self.unsupported(g, "this trigger element")?;
                continue;
            }
            let mut group = Vec::new();
            for c in elements(g) {
                if !c.has_tag_name("Condition") {
                    self.unsupported(c, "this ConditionGroup element")?;
                    continue;
                }
                if let Some(cond) = self.condition(c)? {
                    group.push(cond);
                }
            }
            if !group.is_empty() {
                t.groups.push(group);
            }
        }
        Ok(t)
    }

    fn condition(&mut self, n: Node<'d, 'i>) -> R<Option<Condition>> {
        let name = self.opt_string(n, "name")?.unwrap_or_default();
        if self.in_stop_trigger && name.starts_with("criteria_") {
            self.criterion(n, &name)?;
            return Ok(None);
        }
        let delay = self.opt_num(n, "delay")?.unwrap_or(0.0);
        if delay < 0.0 {
            return Err(self.err(n, format!("delay {delay} must be >= 0")));
        }
        let edge = match self.string(n, "conditionEdge")?.as_str() {
            "none" => Edge::None,
            "rising" => Edge::Rising,
            "falling" => Edge::Falling,
            "risingOrFalling" => Edge::RisingOrFalling,
            other => return Err(self.err(n, format!("unknown conditionEdge {other:?}"))),
        };
        let body = self.choice(n)?;
        let kind = match body.tag_name().name() {
            "ByValueCondition" => self.value_condition(body)?,
            "ByEntityCondition" => self.entity_by_condition(body)?,
            _ => return Err(self.err(body, "unknown condition")),
        };
        let Some(kind) = kind else {
            return Ok(None);
        };
        Ok(Some(Condition {
            name,
            delay,
            edge,
            kind,
            line: self.line(n),
        }))
    }

    /// A ScenarioRunner pass criterion marked by its condition's name. Its
    /// limit, for the criteria that take one, is the ParameterCondition's
    /// `value` (`parameterRef` names the criterion's argument, e.g.
    /// `distance_success`); any other condition body is recorded with no
    /// value, as ScenarioRunner does.
    fn criterion(&mut self, n: Node<'d, 'i>, name: &str) -> R<()> {
        let param = self
            .child(n, "ByValueCondition")
            .and_then(|b| self.child(b, "ParameterCondition"));
        // The criterion is the name; the rest of the condition is form.
        for a in ["delay", "conditionEdge"] {
            self.touch(n, a);
        }
        let value = match param {
            Some(p) => {
                for a in ["parameterRef", "rule"] {
                    self.touch(p, a);
                }
                self.opt_string(p, "value")?.unwrap_or_default()
            }
            None => String::new(),
        };
        self.criteria.push((name.to_owned(), value));
        Ok(())
    }

    /// A ByValueCondition; `None` for a pass criterion (recorded instead) or
    /// one skipped under the lenient option.
    fn value_condition(&mut self, body: Node<'d, 'i>) -> R<Option<ConditionKind>> {
        let v = self.choice(body)?;
        Ok(Some(match v.tag_name().name() {
            "SimulationTimeCondition" => ConditionKind::SimulationTime {
                rule: self.rule(v)?,
                value: self.num(v, "value")?,
            },
            "StoryboardElementStateCondition" => {
                let kind = match self.string(v, "storyboardElementType")?.as_str() {
                    "story" => ElementType::Story,
                    "act" => ElementType::Act,
                    "maneuverGroup" => ElementType::ManeuverGroup,
                    "maneuver" => ElementType::Maneuver,
                    "event" => ElementType::Event,
                    "action" => ElementType::Action,
                    other => {
                        return Err(self.err(v, format!("unknown storyboardElementType {other:?}")));
                    }
                };
                let state = match self.string(v, "state")?.as_str() {
                    "standbyState" => ElementState::StandbyState,
                    "runningState" => ElementState::RunningState,
                    "completeState" => ElementState::CompleteState,
                    "startTransition" => ElementState::StartTransition,
                    "endTransition" => ElementState::EndTransition,
                    "stopTransition" => ElementState::StopTransition,
                    "skipTransition" => ElementState::SkipTransition,
                    other => return Err(self.err(v, format!("unknown state {other:?}"))),
                };
                ConditionKind::StoryboardElementState {
                    kind,
                    name: self.string(v, "storyboardElementRef")?,
                    state,
                }
            }
            "ParameterCondition" => {
                let pname = self.string(v, "parameterRef")?;
                let pname = pname.trim_start_matches('$').to_owned();
                if pname.starts_with("criteria_") && self.scope.get(&pname).is_none() {
                    // A ScenarioRunner pass criterion, not a condition.
                    let value = self.opt_string(v, "value")?.unwrap_or_default();
                    self.criteria.push((pname, value));
                    return Ok(None);
                }
                if pname.is_empty() {
                    return Err(self.err(
                        v,
                        "parameterRef is empty (a ScenarioRunner pass criterion is a condition \
                         named criteria_<Test> in a StopTrigger)",
                    ));
                }
                if self.scope.get(&pname).is_none() {
                    return Err(self.err(v, format!("unknown parameter `{pname}`")));
                }
                ConditionKind::Parameter {
                    name: pname,
                    rule: self.rule(v)?,
                    value: self.string(v, "value")?,
                }
            }
            _ => {
                self.unsupported(v, "this value condition")?;
                return Ok(None);
            }
        }))
    }

    /// A ByEntityCondition; `None` for one skipped under the lenient option.
    fn entity_by_condition(&mut self, body: Node<'d, 'i>) -> R<Option<ConditionKind>> {
        let te = self.req_child(body, "TriggeringEntities")?;
        let all = match self.string(te, "triggeringEntitiesRule")?.as_str() {
            "any" => false,
            "all" => true,
            other => {
                return Err(self.err(te, format!("unknown triggeringEntitiesRule {other:?}")));
            }
        };
        let mut entities = Vec::new();
        for e in elements(te) {
            if e.has_tag_name("EntityRef") {
                entities.push(self.string(e, "entityRef")?);
            } else {
                self.unsupported(e, "this TriggeringEntities element")?;
            }
        }
        let ec = self.choice(self.req_child(body, "EntityCondition")?)?;
        let Some(condition) = self.entity_condition(ec)? else {
            return Ok(None);
        };
        Ok(Some(ConditionKind::ByEntity {
            entities,
            all,
            condition,
        }))
    }

    /// relativeDistanceType, coordinateSystem (1.1+) or alongRoute (1.0).
    fn distance_kind(&mut self, c: Node<'d, 'i>, default: DistanceType) -> R<(DistanceType, bool)> {
        let kind = match self.opt_string(c, "relativeDistanceType")?.as_deref() {
            None => default,
            Some("longitudinal") => DistanceType::Longitudinal,
            Some("lateral") => DistanceType::Lateral,
            Some("cartesianDistance") | Some("euclidianDistance") => DistanceType::Cartesian,
            Some(other) => {
                return Err(self.err(c, format!("unknown relativeDistanceType {other:?}")));
            }
        };
        let road = match self.opt_string(c, "coordinateSystem")?.as_deref() {
            None | Some("entity") => self.bool_or(c, "alongRoute", false)?,
            Some("road") | Some("lane") => true,
            Some(other) => {
                self.unsupported(c, &format!("coordinateSystem {other:?}"))?;
                false
            }
        };
        Ok((kind, road))
    }

    fn entity_condition(&mut self, c: Node<'d, 'i>) -> R<Option<EntityCondition>> {
        Ok(Some(match c.tag_name().name() {
            "TraveledDistanceCondition" => EntityCondition::TraveledDistance(self.num(c, "value")?),
            "ReachPositionCondition" => EntityCondition::ReachPosition {
                tolerance: self.num(c, "tolerance")?,
                position: self.position_in(c)?,
            },
            "DistanceCondition" => {
                let (kind, road) = self.distance_kind(c, DistanceType::Cartesian)?;
                EntityCondition::Distance {
                    target: Target::Position(self.position_in(c)?),
                    kind,
                    road,
                    freespace: self.bool_or(c, "freespace", false)?,
                    rule: self.rule(c)?,
                    value: self.num(c, "value")?,
                }
            }
            "RelativeDistanceCondition" => {
                let (kind, road) = self.distance_kind(c, DistanceType::Cartesian)?;
                EntityCondition::Distance {
                    target: Target::Entity(self.string(c, "entityRef")?),
                    kind,
                    road,
                    freespace: self.bool_or(c, "freespace", false)?,
                    rule: self.rule(c)?,
                    value: self.num(c, "value")?,
                }
            }
            "TimeHeadwayCondition" => {
                let (kind, road) = self.distance_kind(c, DistanceType::Longitudinal)?;
                EntityCondition::TimeHeadway {
                    entity: self.string(c, "entityRef")?,
                    kind,
                    road,
                    freespace: self.bool_or(c, "freespace", false)?,
                    rule: self.rule(c)?,
                    value: self.num(c, "value")?,
                }
            }
            "TimeToCollisionCondition" => {
                let t = self.choice(self.req_child(c, "TimeToCollisionConditionTarget")?)?;
                let target = match t.tag_name().name() {
                    "EntityRef" => Target::Entity(self.string(t, "entityRef")?),
                    "Position" => Target::Position(self.position(t)?),
                    _ => return Err(self.err(t, "unknown time-to-collision target")),
                };
                EntityCondition::TimeToCollision {
                    target,
                    freespace: self.bool_or(c, "freespace", false)?,
                    rule: self.rule(c)?,
                    value: self.num(c, "value")?,
                }
            }
            "SpeedCondition" => {
                if c.attribute("direction").is_some() {
                    self.unsupported(c, "the direction attribute")?;
                }
                EntityCondition::Speed {
                    rule: self.rule(c)?,
                    value: self.num(c, "value")?,
                }
            }
            "RelativeSpeedCondition" => EntityCondition::RelativeSpeed {
                entity: self.string(c, "entityRef")?,
                rule: self.rule(c)?,
                value: self.num(c, "value")?,
            },
            "AccelerationCondition" => EntityCondition::Acceleration {
                rule: self.rule(c)?,
                value: self.num(c, "value")?,
            },
            "StandStillCondition" => EntityCondition::StandStill(self.num(c, "duration")?),
            "CollisionCondition" => {
                let t = self.choice(c)?;
                match t.tag_name().name() {
                    "EntityRef" => EntityCondition::Collision(Some(self.string(t, "entityRef")?)),
                    "ByType" => EntityCondition::Collision(None),
                    _ => return Err(self.err(t, "unknown collision target")),
                }
            }
            "EndOfRoadCondition" => EntityCondition::EndOfRoad(self.num(c, "duration")?),
            "OffroadCondition" => EntityCondition::Offroad(self.num(c, "duration")?),
            _ => {
                self.unsupported(c, "this entity condition")?;
                return Ok(None);
            }
        }))
    }
}
