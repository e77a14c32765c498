//! The world port in this process: an `atlas_sim` world stepped directly,
//! without gRPC or image encoding (demonstration collection and
//! closed-loop evaluation of the network during training).

use atlas_sim::{ActorId, SensorFrame, SensorId, Snapshot, VehicleControl, World, WorldError};

use crate::closed_loop::WorldPort;

/// A snapshot of an in-process world, with the camera's frame when the
/// step rendered.
pub struct InProcessSnapshot {
    pub snapshot: Snapshot,
    pub frame: Option<SensorFrame>,
}

/// An `atlas_sim` world with one camera to render each step.
pub struct InProcessWorld {
    pub world: World,
    pub camera: Option<SensorId>,
}

impl InProcessWorld {
    pub fn new(world: World, camera: Option<SensorId>) -> Self {
        Self { world, camera }
    }
}

impl WorldPort for InProcessWorld {
    type Snapshot = InProcessSnapshot;
    type Command = (ActorId, VehicleControl);
    type Error = WorldError;

    async fn step(
        &mut self,
        steps: u32,
        commands: Vec<(ActorId, VehicleControl)>,
        render: bool,
    ) -> Result<InProcessSnapshot, WorldError> {
        let snapshot = self.world.step_with(steps, &commands)?;
        let frame = match (render, self.camera) {
            (true, Some(c)) => Some(self.world.render(c)?),
            _ => None,
        };
        Ok(InProcessSnapshot { snapshot, frame })
    }
}
