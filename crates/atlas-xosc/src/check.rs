//! Cross-reference checks of a read scenario: every entity and storyboard
//! element a reference names exists.

use std::collections::BTreeSet;

use crate::model::*;
use crate::reader::XoscError;

fn position_entity(p: &Position) -> Option<&str> {
    match p {
        Position::RelativeWorld { entity, .. }
        | Position::RelativeObject { entity, .. }
        | Position::RelativeRoad { entity, .. }
        | Position::RelativeLane { entity, .. }
        | Position::Route {
            at: InRoute::Entity(entity),
            ..
        } => Some(entity),
        _ => None,
    }
}

fn action_entities(a: &ActionKind) -> Vec<&str> {
    let mut out = Vec::new();
    match a {
        ActionKind::Private(p) => match p {
            PrivateAction::Speed {
                target: SpeedTarget::Relative { entity, .. },
                ..
            }
            | PrivateAction::LaneChange {
                target: LaneTarget::Relative { entity, .. },
                ..
            }
            | PrivateAction::LaneOffset {
                target: OffsetTarget::Relative { entity, .. },
                ..
            }
            | PrivateAction::LongitudinalDistance { entity, .. } => out.push(entity.as_str()),
            PrivateAction::Teleport(p) | PrivateAction::AcquirePosition(p) => {
                out.extend(position_entity(p))
            }
            PrivateAction::AssignRoute(ps) => out.extend(ps.iter().filter_map(position_entity)),
            PrivateAction::Synchronize {
                master,
                master_target,
                target,
                ..
            } => {
                out.push(master.as_str());
                out.extend(position_entity(master_target));
                out.extend(position_entity(target));
            }
            PrivateAction::FollowTrajectory { vertices, .. } => {
                out.extend(vertices.iter().filter_map(|v| position_entity(&v.position)))
            }
            _ => {}
        },
        ActionKind::Global(g) => match g {
            GlobalAction::AddEntity { entity, position } => {
                out.push(entity);
                out.extend(position_entity(position));
            }
            GlobalAction::DeleteEntity { entity } => out.push(entity),
            _ => {}
        },
    }
    out
}

fn condition_entities(c: &ConditionKind) -> Vec<&str> {
    let mut out = Vec::new();
    if let ConditionKind::ByEntity {
        entities,
        condition,
        ..
    } = c
    {
        out.extend(entities.iter().map(String::as_str));
        match condition {
            EntityCondition::Distance { target, .. }
            | EntityCondition::TimeToCollision { target, .. } => match target {
                Target::Entity(e) => out.push(e),
                Target::Position(p) => out.extend(position_entity(p)),
            },
            EntityCondition::TimeHeadway { entity, .. }
            | EntityCondition::RelativeSpeed { entity, .. } => out.push(entity),
            EntityCondition::ReachPosition { position, .. } => {
                out.extend(position_entity(position))
            }
            EntityCondition::Collision(Some(e)) => out.push(e),
            _ => {}
        }
    }
    out
}

/// Checks every reference of `sc`.
pub fn references(sc: &Scenario) -> Result<(), XoscError> {
    let entities: BTreeSet<&str> = sc.entities.iter().map(|e| e.name.as_str()).collect();
    let mut names: BTreeSet<(u8, &str)> = BTreeSet::new();
    let key = |t: ElementType| t as u8;
    for s in &sc.stories {
        names.insert((key(ElementType::Story), &s.name));
        for a in &s.acts {
            names.insert((key(ElementType::Act), &a.name));
            for g in &a.groups {
                names.insert((key(ElementType::ManeuverGroup), &g.name));
                for m in &g.maneuvers {
                    names.insert((key(ElementType::Maneuver), &m.name));
                    for e in &m.events {
                        names.insert((key(ElementType::Event), &e.name));
                        for ac in &e.actions {
                            names.insert((key(ElementType::Action), &ac.name));
                        }
                    }
                }
            }
        }
    }
    let err = |line: u32, element: &str, message: String| XoscError {
        file: sc.file.clone(),
        line,
        element: element.into(),
        message,
    };
    let check_entity = |line: u32, element: &str, name: &str| {
        if entities.contains(name) {
            Ok(())
        } else {
            Err(err(line, element, format!("unknown entity {name:?}")))
        }
    };
    let check_trigger = |t: &Trigger| -> Result<(), XoscError> {
        for c in t.groups.iter().flatten() {
            for e in condition_entities(&c.kind) {
                check_entity(c.line, "Condition", e)?;
            }
            if let ConditionKind::StoryboardElementState { kind, name, .. } = &c.kind {
                // References may be qualified with a path ("Story::Act").
                let last = name.rsplit("::").next().unwrap_or(name);
                if !names.contains(&(key(*kind), last)) {
                    return Err(err(
                        c.line,
                        "Condition",
                        format!("no storyboard element {name:?} of type {kind:?}"),
                    ));
                }
            }
        }
        Ok(())
    };
    for ia in &sc.init {
        if let Some(e) = &ia.entity {
            check_entity(ia.action.line, "Private", e)?;
        }
        for e in action_entities(&ia.action.kind) {
            check_entity(ia.action.line, "PrivateAction", e)?;
        }
    }
    for s in &sc.stories {
        for a in &s.acts {
            for t in a.start.iter().chain(&a.stop) {
                check_trigger(t)?;
            }
            for g in &a.groups {
                for m in &g.maneuvers {
                    for ev in &m.events {
                        for ac in &ev.actions {
                            for e in action_entities(&ac.kind) {
                                check_entity(ac.line, "Action", e)?;
                            }
                            // An empty action (a placeholder) needs nobody.
                            let placeholder = matches!(
                                ac.kind,
                                ActionKind::Private(PrivateAction::Accepted("empty action"))
                            );
                            if matches!(ac.kind, ActionKind::Private(_))
                                && !placeholder
                                && g.actors.is_empty()
                                && !g.select_triggering
                            {
                                return Err(err(
                                    ac.line,
                                    "Action",
                                    format!(
                                        "private action {:?} in maneuver group {:?}, which has no actors",
                                        ac.name, g.name
                                    ),
                                ));
                            }
                        }
                        if let Some(t) = &ev.start {
                            check_trigger(t)?;
                        }
                    }
                }
                for actor in &g.actors {
                    let line = g
                        .maneuvers
                        .iter()
                        .flat_map(|m| &m.events)
                        .flat_map(|e| &e.actions)
                        .map(|a| a.line)
                        .next()
                        .unwrap_or(0);
                    check_entity(line, "Actors", actor)?;
                }
            }
        }
    }
    if let Some(t) = &sc.stop {
        check_trigger(t)?;
    }
    Ok(())
}
