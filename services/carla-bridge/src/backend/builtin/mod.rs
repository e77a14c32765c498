//! The built-in backend: worlds of the `atlas-sim` simulator, in this
//! process, on the OpenDRIVE maps of a directory.
//!
//! Any number of worlds (the service's `max_worlds` bounds them), each a
//! plain [`atlas_sim::World`]; snapshots are clones of it, so restore and
//! fork continue bit-identically.

mod maps;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use atlas_sim::{
    ActorId, ActorSpec, Encoding, LanePosition, Map, Pose, SensorId, SensorSpec, Vec2, World,
};

pub use self::maps::MapStore;
use super::{
    Backend, BackendWorld, EncodedFrame, INLINE_MAP_FILE, MapSource, MapSummary, PlannedRoute,
    RoadNetwork, StepInput, StepOutput, WorldClock, WorldSpec,
};
use crate::error::BridgeError;

/// Snapshots kept per world.
pub const MAX_SNAPSHOTS: usize = 64;

/// Frames of a sensor without a recorded encoding (none: attaching records
/// one) are JPEG at this quality.
const FALLBACK_ENCODING: Encoding = Encoding::Jpeg { quality: 90 };

/// The built-in simulator over a maps directory.
pub struct Builtin {
    maps: MapStore,
}

impl Builtin {
    /// Lists the maps under `dir` (blocking file-system access); a missing
    /// directory or one without `.xodr` maps is an error.
    pub fn open(dir: &Path) -> Result<Self, BridgeError> {
        let maps = MapStore::scan(dir)?;
        if maps.names().is_empty() {
            return Err(BridgeError::MapsDir {
                path: dir.display().to_string(),
                message: "holds no .xodr maps".into(),
            });
        }
        tracing::info!(dir = %maps.dir().display(), maps = ?maps.names(), "maps directory listed");
        Ok(Self { maps })
    }
}

impl Backend for Builtin {
    fn map_names(&self) -> Vec<String> {
        self.maps.names()
    }

    /// Parses the wanted maps that exist (or the directory's first map when
    /// none does) and rasterises their ground, so first camera frames are
    /// fast; succeeds when at least one parsed.
    fn warm_up(&self, wanted: &[String]) -> Result<Vec<String>, BridgeError> {
        let mut names: Vec<String> = wanted
            .iter()
            .filter(|n| self.maps.contains(n))
            .cloned()
            .collect();
        for n in wanted.iter().filter(|n| !self.maps.contains(n)) {
            tracing::warn!(map = %n, "warm-up map not in the maps directory");
        }
        if names.is_empty() {
            names.extend(self.maps.names().into_iter().take(1));
        }
        let mut loaded = Vec::new();
        let mut last_err = None;
        for n in names {
            match self.maps.get(&n) {
                Ok(map) => {
                    map.raster().build_all(&map);
                    loaded.push(n);
                }
                Err(e) => {
                    tracing::error!(map = %n, error = %e, "warm-up map failed to load");
                    last_err = Some(e);
                }
            }
        }
        match (loaded.is_empty(), last_err) {
            (true, Some(e)) => Err(e),
            (true, None) => Err(BridgeError::Internal("no map to warm up".into())),
            _ => Ok(loaded),
        }
    }

    fn create_world(&self, spec: WorldSpec) -> Result<Box<dyn BackendWorld>, BridgeError> {
        let map = match spec.map {
            MapSource::Named(name) => self.maps.get(&name)?,
            MapSource::OpenDrive(xml) => Arc::new(Map::from_xml(&xml, INLINE_MAP_FILE)?),
        };
        let world = World::new(map, spec.fixed_delta_s, spec.seed)?;
        Ok(Box::new(BuiltinWorld::new(world, BTreeMap::new())))
    }
}

/// A world and what the service asked of its sensors.
#[derive(Clone)]
struct Saved {
    world: World,
    encodings: BTreeMap<SensorId, Encoding>,
}

struct BuiltinWorld {
    now: Saved,
    snapshots: BTreeMap<String, Saved>,
    next_snapshot: u64,
}

impl BuiltinWorld {
    fn new(world: World, encodings: BTreeMap<SensorId, Encoding>) -> Self {
        Self {
            now: Saved { world, encodings },
            snapshots: BTreeMap::new(),
            next_snapshot: 1,
        }
    }

    fn saved(&self, id: &str) -> Result<&Saved, BridgeError> {
        self.snapshots
            .get(id)
            .ok_or_else(|| BridgeError::UnknownSnapshot(id.to_owned()))
    }

    fn render(&self) -> Result<Vec<EncodedFrame>, BridgeError> {
        let mut frames = Vec::new();
        for f in self.now.world.render_all() {
            let encoding = self
                .now
                .encodings
                .get(&f.sensor)
                .copied()
                .unwrap_or(FALLBACK_ENCODING);
            let data = atlas_sim::encode(&f.image, encoding)?;
            frames.push(EncodedFrame {
                sensor: f.sensor,
                name: f.name,
                actor: f.actor,
                frame: f.frame,
                sim_time_s: f.time,
                width: f.image.width,
                height: f.image.height,
                encoding,
                data,
            });
        }
        Ok(frames)
    }
}

impl BackendWorld for BuiltinWorld {
    fn road_network(&self) -> Arc<dyn RoadNetwork> {
        self.now.world.map().clone()
    }

    fn fixed_delta_s(&self) -> f64 {
        self.now.world.dt()
    }

    fn clock(&self) -> WorldClock {
        WorldClock {
            frame: self.now.world.frame(),
            sim_time_s: self.now.world.time(),
        }
    }

    fn actor_count(&self) -> usize {
        self.now.world.actor_count()
    }

    fn spawn_actor(&mut self, spec: ActorSpec) -> Result<(ActorId, Pose), BridgeError> {
        Ok(self.now.world.spawn(spec)?)
    }

    fn spawn_traffic(
        &mut self,
        vehicles: u32,
        pedestrians: u32,
        seed: u64,
    ) -> Result<atlas_sim::Traffic, BridgeError> {
        Ok(self
            .now
            .world
            .spawn_traffic_fitting(vehicles, pedestrians, seed)?)
    }

    fn destroy_actor(&mut self, id: ActorId) -> Result<(), BridgeError> {
        Ok(self.now.world.destroy(id)?)
    }

    fn attach_sensor(
        &mut self,
        actor: ActorId,
        name: &str,
        spec: SensorSpec,
        encoding: Encoding,
    ) -> Result<SensorId, BridgeError> {
        let id = self.now.world.attach_sensor(actor, name, spec)?;
        self.now.encodings.insert(id, encoding);
        Ok(id)
    }

    fn step(&mut self, input: StepInput) -> Result<StepOutput, BridgeError> {
        let world = &mut self.now.world;
        // Check every command before changing anything.
        for &(id, c) in &input.controls {
            world.check_control(id, c)?;
        }
        for s in &input.states {
            world.check_state(s.actor, &s.pose, s.speed, s.acceleration)?;
        }
        for &(id, c) in &input.controls {
            world.set_control(id, c)?;
        }
        for s in &input.states {
            world.set_state(s.actor, s.pose, s.speed, s.acceleration)?;
        }
        for _ in 0..input.steps {
            world.step();
        }
        let snapshot = world.snapshot();
        let frames = if input.render {
            self.render()?
        } else {
            Vec::new()
        };
        Ok(StepOutput { snapshot, frames })
    }

    fn snapshot(&mut self) -> Result<String, BridgeError> {
        if self.snapshots.len() >= MAX_SNAPSHOTS {
            return Err(BridgeError::Exhausted {
                what: "snapshots per world",
                limit: MAX_SNAPSHOTS,
                retry_after: None,
            });
        }
        let id = format!("s-{}", self.next_snapshot);
        self.next_snapshot += 1;
        self.snapshots.insert(id.clone(), self.now.clone());
        Ok(id)
    }

    fn restore(&mut self, snapshot_id: &str) -> Result<(), BridgeError> {
        self.now = self.saved(snapshot_id)?.clone();
        Ok(())
    }

    fn fork(&self, snapshot_id: &str) -> Result<Box<dyn BackendWorld>, BridgeError> {
        let saved = self.saved(snapshot_id)?.clone();
        Ok(Box::new(BuiltinWorld::new(saved.world, saved.encodings)))
    }
}

impl RoadNetwork for Map {
    fn summary(&self) -> MapSummary {
        let b = self.bounds();
        MapSummary {
            name: self.name().to_owned(),
            road_count: self.roads().len(),
            junction_count: self.junction_count(),
            min: b.min,
            max: b.max,
            total_road_length: self.total_road_length(),
        }
    }

    fn lane_pose(&self, at: &LanePosition) -> Result<Pose, BridgeError> {
        Ok(Map::lane_pose(self, at)?)
    }

    fn plan_route(&self, waypoints: &[Vec2], spacing: f64) -> Result<PlannedRoute, BridgeError> {
        let route = Map::plan_route(self, waypoints, spacing)?;
        Ok(PlannedRoute {
            points: route.points,
            length: route.length,
        })
    }
}
