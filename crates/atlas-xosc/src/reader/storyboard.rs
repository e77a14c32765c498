//! Storyboard elements: Init actions, stories, acts, maneuver groups with
//! their actors, maneuvers and events.

use roxmltree::Node;

use super::{R, Reader, elements};
use crate::model::*;

impl<'d, 'i> Reader<'d, 'i> {
    pub(super) fn init(&mut self, n: Node<'d, 'i>) -> R<Vec<InitAction>> {
        let mut out = Vec::new();
        let Some(actions) = self.child(n, "Actions") else {
            return Ok(out);
        };
        for c in elements(actions) {
            match c.tag_name().name() {
                "GlobalAction" => {
                    if let Some(kind) = self.global_action(c)? {
                        out.push(InitAction {
                            entity: None,
                            action: Action {
                                name: String::new(),
                                kind,
                                line: self.line(c),
                            },
                        });
                    }
                }
                "Private" => {
                    let entity = self.string(c, "entityRef")?;
                    for p in elements(c) {
                        if !p.has_tag_name("PrivateAction") {
                            self.unsupported(p, "this Private element")?;
                            continue;
                        }
                        if let Some(a) = self.private_action(p)? {
                            out.push(InitAction {
                                entity: Some(entity.clone()),
                                action: Action {
                                    name: String::new(),
                                    kind: ActionKind::Private(a),
                                    line: self.line(p),
                                },
                            });
                        }
                    }
                }
                _ => self.unsupported(c, "this Init action")?,
            }
        }
        Ok(out)
    }

    pub(super) fn story(&mut self, n: Node<'d, 'i>) -> R<Story> {
        let name = self.string(n, "name")?;
        self.scope.push();
        if let Some(d) = self.child(n, "ParameterDeclarations") {
            self.declarations(d, false)?;
        }
        let mut acts = Vec::new();
        for c in elements(n) {
            match c.tag_name().name() {
                "Act" => acts.push(self.act(c)?),
                "ParameterDeclarations" => {}
                _ => self.unsupported(c, "this Story element")?,
            }
        }
        self.scope.pop();
        Ok(Story { name, acts })
    }

    fn act(&mut self, n: Node<'d, 'i>) -> R<Act> {
        let name = self.string(n, "name")?;
        let mut act = Act {
            name,
            groups: Vec::new(),
            start: None,
            stop: None,
        };
        for c in elements(n) {
            match c.tag_name().name() {
                "ManeuverGroup" => act.groups.push(self.group(c)?),
                "StartTrigger" => act.start = Some(self.trigger(c)?),
                "StopTrigger" => act.stop = Some(self.stop_trigger(c)?),
                _ => self.unsupported(c, "this Act element")?,
            }
        }
        Ok(act)
    }

    fn max_exec(&self, n: Node) -> R<u32> {
        match self.opt_num(n, "maximumExecutionCount")? {
            None => Ok(1),
            Some(v) if v >= 1.0 && v.fract() == 0.0 && v <= 1e6 => Ok(v as u32),
            Some(v) => Err(self.err(
                n,
                format!("maximumExecutionCount {v} is not a positive integer"),
            )),
        }
    }

    fn group(&mut self, n: Node<'d, 'i>) -> R<ManeuverGroup> {
        let mut g = ManeuverGroup {
            name: self.string(n, "name")?,
            max_exec: self.max_exec(n)?,
            actors: Vec::new(),
            select_triggering: false,
            maneuvers: Vec::new(),
        };
        for c in elements(n) {
            match c.tag_name().name() {
                "Actors" => {
                    g.select_triggering = self.bool_or(c, "selectTriggeringEntities", false)?;
                    for a in elements(c) {
                        if a.has_tag_name("EntityRef") {
                            g.actors.push(self.string(a, "entityRef")?);
                        } else {
                            self.unsupported(a, "this Actors element")?;
                        }
                    }
                }
                "Maneuver" => g.maneuvers.push(self.maneuver(c)?),
                "CatalogReference" => {
                    let m = self.catalog_entry(c, |r, node| {
                        if !node.has_tag_name("Maneuver") {
                            return Err(r.err(node, "the catalog entry is not a Maneuver"));
                        }
                        r.maneuver(node)
                    })?;
                    g.maneuvers.push(m);
                }
                _ => self.unsupported(c, "this ManeuverGroup element")?,
            }
        }
        Ok(g)
    }

    fn maneuver(&mut self, n: Node<'d, 'i>) -> R<Maneuver> {
        let name = self.string(n, "name")?;
        self.scope.push();
        if let Some(d) = self.child(n, "ParameterDeclarations") {
            self.declarations(d, false)?;
        }
        let mut events = Vec::new();
        for c in elements(n) {
            match c.tag_name().name() {
                "Event" => events.push(self.event(c)?),
                "ParameterDeclarations" => {}
                _ => self.unsupported(c, "this Maneuver element")?,
            }
        }
        self.scope.pop();
        Ok(Maneuver { name, events })
    }

    fn event(&mut self, n: Node<'d, 'i>) -> R<Event> {
        let priority = match self.string(n, "priority")?.as_str() {
            "overwrite" | "override" => Priority::Override,
            "skip" => Priority::Skip,
            "parallel" => Priority::Parallel,
            other => return Err(self.err(n, format!("unknown priority {other:?}"))),
        };
        let mut e = Event {
            name: self.string(n, "name")?,
            priority,
            max_exec: self.max_exec(n)?,
            actions: Vec::new(),
            start: None,
        };
        for c in elements(n) {
            match c.tag_name().name() {
                "Action" => {
                    let name = self.string(c, "name")?;
                    let Some(inner) = elements(c).next() else {
                        // ScenarioRunner's examples hold `<Action name="DummyManeuver"/>`:
                        // an action that does nothing, complete at once.
                        self.warnings.push(format!(
                            "{}:{}: <Action name={name:?}> is empty: played as a no-op",
                            self.file,
                            self.line(c)
                        ));
                        e.actions.push(Action {
                            name,
                            kind: ActionKind::Private(PrivateAction::Accepted("empty action")),
                            line: self.line(c),
                        });
                        continue;
                    };
                    let kind = match inner.tag_name().name() {
                        "PrivateAction" => self.private_action(inner)?.map(ActionKind::Private),
                        "GlobalAction" => self.global_action(inner)?,
                        _ => {
                            self.unsupported(inner, "this action")?;
                            None
                        }
                    };
                    // Skipped actions (lenient) still exist as elements that
                    // complete at once, so state conditions on them work.
                    e.actions.push(Action {
                        name,
                        kind: kind
                            .unwrap_or(ActionKind::Private(PrivateAction::Accepted("skipped"))),
                        line: self.line(c),
                    });
                }
                "StartTrigger" => e.start = Some(self.trigger(c)?),
                _ => self.unsupported(c, "this Event element")?,
            }
        }
        Ok(e)
    }
}
