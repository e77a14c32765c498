//! Contacts between actors: oriented-box overlaps after a move raise
//! collision events for new contacts, and actors that drove into something
//! are put back where they were with speed zero (external vehicles first,
//! so a blocked ego does not stop the NPC it ran into). Scripted actors
//! are never put back: their script owns their pose.

use std::collections::BTreeSet;

use super::{Actor, Event, EventKind, Obb, World, traffic};
use crate::math::{Pose, Vec2};

/// Boxes closer than this stay "in contact", metres.
const CONTACT_MARGIN: f64 = 0.25;

impl World {
    /// Collision events and the blocking response.
    pub(super) fn resolve_collisions(
        &mut self,
        before: &[(Pose, f64, [f64; 3])],
        follow_before: &[Option<(u32, f64)>],
    ) {
        let n = self.actors.len();
        let obb_before: Vec<Obb> = (0..n)
            .map(|i| {
                let a = &self.actors[i];
                let fwd = Vec2::from_angle(before[i].0.yaw);
                let p = before[i].0;
                Obb::new(
                    p.xy() + fwd * a.dims.centre_offset(a.kind),
                    p.yaw,
                    a.dims.length,
                    a.dims.width,
                    p.z,
                    a.dims.height,
                )
            })
            .collect();
        let mut obb: Vec<Obb> = self.actors.iter().map(Actor::obb).collect();
        let moved: Vec<bool> = (0..n).map(|i| self.actors[i].pose != before[i].0).collect();
        let mut contacts = BTreeSet::new();
        let mut reverted = vec![false; n];
        // Round 0 blocks only external vehicles; if overlaps remain, later
        // rounds block every actor that moved into one.
        let mut round = 0;
        loop {
            let mut to_revert = vec![false; n];
            let mut overlap = false;
            for i in 0..n {
                for j in i + 1..n {
                    if !(moved[i] || moved[j])
                        || !obb[i].overlaps(&obb[j])
                        || obb_before[i].overlaps(&obb_before[j])
                    {
                        continue;
                    }
                    overlap = true;
                    let key = (self.actors[i].id, self.actors[j].id);
                    if contacts.insert(key) && !self.contacts.contains(&key) {
                        self.collision_events(i, j);
                    }
                    for k in [i, j] {
                        // Scripted actors are where their script puts them:
                        // a collision is reported, never undone.
                        if moved[k]
                            && !reverted[k]
                            && self.actors[k].behavior != super::Behavior::Scripted
                            && (round > 0 || self.actors[k].is_external_vehicle())
                        {
                            to_revert[k] = true;
                        }
                    }
                }
            }
            if !to_revert.contains(&true) {
                if overlap && round == 0 {
                    round = 1;
                    continue;
                }
                break;
            }
            for k in 0..n {
                if to_revert[k] {
                    let a = &mut self.actors[k];
                    a.pose = before[k].0;
                    a.speed = 0.0;
                    if let (Some(f), Some((node, s))) = (&mut a.follow, follow_before[k]) {
                        traffic::restore(f, node, s);
                    }
                    obb[k] = obb_before[k];
                    reverted[k] = true;
                }
            }
            round += 1;
            if round > n + 2 {
                break;
            }
        }
        // A pair stays in contact (raising no new event) until it has
        // really separated, so a blocked vehicle pushing on does not collide
        // afresh every few steps.
        for &(a, b) in &self.contacts {
            if let (Ok(i), Ok(j)) = (self.index_of(a), self.index_of(b))
                && obb[i]
                    .grown(CONTACT_MARGIN)
                    .overlaps(&obb[j].grown(CONTACT_MARGIN))
            {
                contacts.insert((a, b));
            }
        }
        self.contacts = contacts;
    }

    pub(super) fn collision_events(&mut self, i: usize, j: usize) {
        let (a, b) = (&self.actors[i], &self.actors[j]);
        // Velocities are refreshed after collisions; the speeds along the
        // headings are already this step's.
        let va = Vec2::from_angle(a.pose.yaw) * a.speed;
        let vb = Vec2::from_angle(b.pose.yaw) * b.speed;
        let rel = (va - vb).length();
        let (frame, time) = (self.frame, self.time());
        for (x, y) in [(a, b), (b, a)] {
            self.events.push(Event {
                frame,
                time,
                kind: EventKind::Collision {
                    actor: x.id,
                    other: y.id,
                    other_kind: y.kind,
                    relative_speed: rel,
                },
            });
        }
    }
}
