//! The storyboard's element state machine: stories, acts, maneuver groups,
//! maneuvers, events and actions, their standby/running/complete states,
//! the transitions conditions can see, event priorities and execution
//! counts.

use super::triggers::{TrigRt, trig};
use super::{PlayError, Player};
use crate::model::*;

/// Runtime state of one storyboard element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum St {
    Standby,
    Running,
    Complete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transition {
    Start,
    End,
    Stop,
    Skip,
}

/// One storyboard element in the player's flat element list.
#[derive(Clone, Debug)]
pub(super) struct Elem {
    pub(super) kind: ElementType,
    pub(super) name: String,
    pub(super) parent: Option<usize>,
    pub(super) children: Vec<usize>,
    pub(super) state: St,
    pub(super) exec: u32,
    pub(super) max_exec: u32,
    pub(super) start: Option<TrigRt>,
    pub(super) stop: Option<TrigRt>,
    pub(super) priority: Priority,
    pub(super) action: Option<Action>,
    pub(super) actors: Vec<usize>,
    pub(super) select_triggering: bool,
    /// Entities an action runs on, and which of them are done.
    pub(super) running_on: Vec<(usize, bool)>,
}

impl Player {
    /// Flattens the scenario's stories into the element list.
    pub(super) fn build(&mut self) {
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

    /// Starts the acts whose start trigger fired (or that have none) in a
    /// running story.
    pub(super) fn start_acts(
        &mut self,
        fired_start: &[(usize, Vec<usize>)],
    ) -> Result<(), PlayError> {
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
        Ok(())
    }

    /// Starts the events waiting in standby inside a running maneuver whose
    /// start trigger fired (or that have none).
    pub(super) fn start_events(
        &mut self,
        fired_start: &[(usize, Vec<usize>)],
    ) -> Result<(), PlayError> {
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
        Ok(())
    }

    pub(super) fn set_state(&mut self, i: usize, st: St, tr: Transition) {
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
                        // actions make sense for it.
                        if let PrivateAction::OverrideControls(o) = pa {
                            self.entities[a].overrides.apply(o);
                        } else if !matches!(
                            pa,
                            PrivateAction::ActivateController { .. }
                                | PrivateAction::AssignController { .. }
                                | PrivateAction::Accepted(_)
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

    pub(super) fn instance_done(&mut self, elem: usize, entity: usize) {
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
    pub(super) fn stop_elem(&mut self, i: usize) {
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
    pub(super) fn propagate(&mut self) {
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
}
