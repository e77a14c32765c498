//! The world read out: actor states, signal states with their stop lines,
//! and snapshots that hand over the events since the previous one.

use super::{Actor, ActorId, ActorState, LaneState, SignalState, Snapshot, StopLineState, World};
use crate::error::WorldError;

impl World {
    /// The state of one actor.
    pub fn actor_state(&self, id: ActorId) -> Result<ActorState, WorldError> {
        Ok(self.state_of(&self.actors[self.index_of(id)?]))
    }

    fn state_of(&self, a: &Actor) -> ActorState {
        let lane = match &a.lane {
            Some(l) => LaneState {
                on_road: l.lane_type.is_drivable(),
                road_id: self.map.roads()[l.road].id.clone(),
                lane_id: l.lane_id,
                s: l.s,
                offset: l.offset,
                lane_type: l.lane_type.as_str().to_owned(),
            },
            None => LaneState::default(),
        };
        ActorState {
            id: a.id,
            kind: a.kind,
            role: a.role.clone(),
            name: a.name.clone(),
            pose: a.pose,
            velocity: a.velocity,
            acceleration: a.accel,
            yaw_rate: a.yaw_rate,
            speed: a.speed,
            dimensions: a.dims,
            lane,
        }
    }

    /// Every actor's state, in id order.
    pub fn actor_states(&self) -> Vec<ActorState> {
        self.actors.iter().map(|a| self.state_of(a)).collect()
    }

    /// The world state now, with the events since the previous snapshot.
    pub fn snapshot(&mut self) -> Snapshot {
        Snapshot {
            frame: self.frame,
            time: self.time(),
            actors: self.actor_states(),
            events: std::mem::take(&mut self.events),
            signals: self.signal_states(),
        }
    }

    /// Every traffic light and sign with its state now.
    pub fn signal_states(&self) -> Vec<SignalState> {
        let sigs = self.map.signals();
        let time = self.time();
        let roads = self.map.roads();
        sigs.all()
            .iter()
            .enumerate()
            .map(|(i, sg)| SignalState {
                id: sg.id.clone(),
                kind: sg.kind,
                state: sigs.state(i, time),
                position: sg.position,
                facing: sg.facing,
                road_id: roads[sg.road].id.clone(),
                junction_id: sg
                    .junction
                    .map(|j| self.map.opendrive().junctions[j].id.clone())
                    .unwrap_or_default(),
                stop_lines: sg
                    .stop_lines
                    .iter()
                    .map(|st| StopLineState {
                        road_id: roads[st.road].id.clone(),
                        lane_id: st.lane_id,
                        s: st.s,
                        position: [st.pos.x, st.pos.y, self.map.elevation(st.road, st.s)],
                        heading: st.heading,
                        width: st.width,
                    })
                    .collect(),
            })
            .collect()
    }
}
