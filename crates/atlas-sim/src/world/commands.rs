//! What the world takes from outside between steps: the controls of
//! externally driven vehicles and the states of scripted actors, each with
//! a check that says beforehand whether it would be accepted.

use super::{ActorId, Behavior, MAX_SPEED, VehicleControl, World};
use crate::error::WorldError;
use crate::map::LocateHint;
use crate::math::{Pose, Vec2, wrap_angle};

impl World {
    /// Checks that [`World::set_control`] would accept these controls.
    pub fn check_control(&self, id: ActorId, c: VehicleControl) -> Result<(), WorldError> {
        let i = self.index_of(id)?;
        if !(c.throttle.is_finite() && c.brake.is_finite() && c.steer.is_finite()) {
            return Err(WorldError::invalid(
                "control",
                format!("actor {id}: non-finite control value"),
            ));
        }
        if !self.actors[i].is_external_vehicle() {
            return Err(WorldError::invalid(
                "commands",
                format!("actor {id} is not an externally controlled vehicle"),
            ));
        }
        Ok(())
    }

    /// Sets the controls an externally driven vehicle holds until changed
    /// (values are clamped to their ranges).
    pub fn set_control(&mut self, id: ActorId, c: VehicleControl) -> Result<(), WorldError> {
        self.check_control(id, c)?;
        let i = self.index_of(id)?;
        let a = &mut self.actors[i];
        a.control = VehicleControl {
            throttle: c.throttle.clamp(0.0, 1.0),
            brake: c.brake.clamp(0.0, 1.0),
            steer: c.steer.clamp(-1.0, 1.0),
        };
        Ok(())
    }

    /// Puts a [`Behavior::Scripted`] actor at `pose`, moving along its
    /// heading at `speed` with longitudinal acceleration `accel` held until
    /// the next call. A placement that newly overlaps another actor raises
    /// the collision events a step would.
    pub fn set_state(
        &mut self,
        id: ActorId,
        pose: Pose,
        speed: f64,
        accel: f64,
    ) -> Result<(), WorldError> {
        self.check_state(id, &pose, speed, accel)?;
        let i = self.index_of(id)?;
        let before = self.actors[i].obb();
        let yaw0 = self.actors[i].pose.yaw;
        {
            let a = &mut self.actors[i];
            a.pose = pose;
            a.speed = speed;
            a.scripted_accel = accel;
            let dir = Vec2::from_angle(pose.yaw);
            a.velocity = [dir.x * speed, dir.y * speed, 0.0];
            a.accel = [dir.x * accel, dir.y * accel, 0.0];
            a.yaw_rate = wrap_angle(pose.yaw - yaw0) / self.dt;
            a.lane = self.map.locate_with_hint(
                pose.xy(),
                Some(LocateHint {
                    heading: pose.yaw,
                    road: a.lane.as_ref().map(|l| l.road),
                }),
            );
        }
        let obb = self.actors[i].obb();
        let id = self.actors[i].id;
        for j in 0..self.actors.len() {
            if j == i {
                continue;
            }
            let other = self.actors[j].obb();
            if !obb.overlaps(&other) || before.overlaps(&other) {
                continue;
            }
            let oid = self.actors[j].id;
            let key = (id.min(oid), id.max(oid));
            if self.contacts.insert(key) {
                self.collision_events(i, j);
            }
        }
        Ok(())
    }

    /// Checks that [`World::set_state`] would accept this state.
    pub fn check_state(
        &self,
        id: ActorId,
        pose: &Pose,
        speed: f64,
        accel: f64,
    ) -> Result<(), WorldError> {
        let i = self.index_of(id)?;
        if self.actors[i].behavior != Behavior::Scripted {
            return Err(WorldError::invalid(
                "commands",
                format!("actor {id} is not a scripted actor"),
            ));
        }
        if !pose.is_finite() {
            return Err(WorldError::invalid(
                "state.pose",
                format!("actor {id}: non-finite pose"),
            ));
        }
        if !speed.is_finite() || !(0.0..=MAX_SPEED).contains(&speed) {
            return Err(WorldError::invalid(
                "state.speed",
                format!("actor {id}: must be in [0, {MAX_SPEED}] m/s, got {speed}"),
            ));
        }
        if !accel.is_finite() || accel.abs() > 100.0 {
            return Err(WorldError::invalid(
                "state.acceleration",
                format!("actor {id}: must be within ±100 m/s², got {accel}"),
            ));
        }
        Ok(())
    }
}
