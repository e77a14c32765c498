//! Sensors attached to actors (pinhole cameras, bird's-eye rasters) and
//! their rendering over the actors' boxes and the map's signals.

use super::{ActorId, SensorId, World};
use crate::error::WorldError;
use crate::render::birdseye::BirdsEyeSpec;
use crate::render::camera::{Camera, CameraSpec};
use crate::render::{BoxShape, Image};

#[derive(Clone, Debug)]
enum SensorKind {
    Camera(Box<Camera>),
    BirdsEye(BirdsEyeSpec),
}

#[derive(Clone, Debug)]
pub(super) struct Sensor {
    id: SensorId,
    name: String,
    /// The actor it is attached to (and removed with).
    pub(super) actor: ActorId,
    kind: SensorKind,
}

/// What a sensor is, for [`World::attach_sensor`].
#[derive(Clone, Debug, PartialEq)]
pub enum SensorSpec {
    Camera(CameraSpec),
    BirdsEye(BirdsEyeSpec),
}

/// One rendered sensor image.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorFrame {
    pub sensor: SensorId,
    pub name: String,
    pub actor: ActorId,
    pub frame: u64,
    pub time: f64,
    pub image: Image,
}

impl World {
    /// Attaches a sensor to an actor; names are unique per world.
    pub fn attach_sensor(
        &mut self,
        actor: ActorId,
        name: &str,
        spec: SensorSpec,
    ) -> Result<SensorId, WorldError> {
        self.index_of(actor)?;
        if name.is_empty() {
            return Err(WorldError::invalid("name", "must not be empty"));
        }
        if self.sensors.iter().any(|s| s.name == name) {
            return Err(WorldError::invalid(
                "name",
                format!("a sensor named \"{name}\" already exists"),
            ));
        }
        let kind = match spec {
            SensorSpec::Camera(c) => SensorKind::Camera(Box::new(Camera::new(c)?)),
            SensorSpec::BirdsEye(b) => {
                b.validate()?;
                SensorKind::BirdsEye(b)
            }
        };
        let id = self.next_sensor;
        self.next_sensor += 1;
        self.sensors.push(Sensor {
            id,
            name: name.to_owned(),
            actor,
            kind,
        });
        Ok(id)
    }

    /// Boxes of every actor, for the renderers.
    pub fn boxes(&self) -> Vec<BoxShape> {
        self.actors
            .iter()
            .map(|a| {
                let o = a.obb();
                BoxShape {
                    id: a.id,
                    kind: a.kind,
                    centre: o.centre,
                    z0: a.pose.z,
                    yaw: a.pose.yaw,
                    length: a.dims.length,
                    width: a.dims.width,
                    height: a.dims.height,
                    colour: None,
                    lit: false,
                }
            })
            .collect()
    }

    /// Renders one sensor.
    pub fn render(&self, sensor: SensorId) -> Result<SensorFrame, WorldError> {
        let s = self
            .sensors
            .iter()
            .find(|s| s.id == sensor)
            .ok_or(WorldError::UnknownSensor(sensor))?;
        let boxes = self.boxes();
        Ok(self.render_one(s, &boxes))
    }

    fn render_one(&self, s: &Sensor, boxes: &[BoxShape]) -> SensorFrame {
        let actor = &self.actors[self
            .index_of(s.actor)
            .expect("sensors are removed with their actor")];
        let image = match &s.kind {
            SensorKind::Camera(c) => {
                let mut all = crate::render::signal_boxes(&self.map, self.time());
                all.extend_from_slice(boxes);
                c.render(&self.map, &actor.pose, &all, Some(actor.id))
            }
            SensorKind::BirdsEye(b) => {
                let mut all = crate::render::stop_line_boxes(&self.map, self.time());
                all.extend_from_slice(boxes);
                b.render(&self.map, &actor.pose, &all, actor.id)
            }
        };
        SensorFrame {
            sensor: s.id,
            name: s.name.clone(),
            actor: actor.id,
            frame: self.frame,
            time: self.time(),
            image,
        }
    }

    /// Renders every sensor, in attachment order.
    pub fn render_all(&self) -> Vec<SensorFrame> {
        let boxes = self.boxes();
        self.sensors
            .iter()
            .map(|s| self.render_one(s, &boxes))
            .collect()
    }
}
