//! The built-in backend's maps directory: which maps exist by name, and
//! each map parsed at most once and shared (as `Arc<Map>`) by every world
//! created on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use atlas_sim::Map;

use crate::error::BridgeError;

/// Directories deeper than this below the maps directory are not searched.
const MAX_DEPTH: usize = 4;

pub struct MapStore {
    dir: PathBuf,
    files: BTreeMap<String, PathBuf>,
    /// One slot per map name; a slot's lock is held while its map parses,
    /// so concurrent first uses of a map parse it once, and other maps
    /// parse meanwhile. A failed parse leaves the slot empty (the next use
    /// tries again).
    loaded: Mutex<BTreeMap<String, Arc<Slot>>>,
}

/// A map parsed on first use: empty until then.
type Slot = Mutex<Option<Arc<Map>>>;

impl MapStore {
    /// Lists the `.xodr` files under `dir` (blocking file-system access).
    pub fn scan(dir: &Path) -> Result<Self, BridgeError> {
        let mut files = BTreeMap::new();
        walk(dir, dir, 0, &mut files)?;
        Ok(Self {
            dir: dir.to_owned(),
            files,
            loaded: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Map names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    /// The map called `name`, parsed on first use. Blocking: call it off
    /// the async runtime.
    pub fn get(&self, name: &str) -> Result<Arc<Map>, BridgeError> {
        let Some(path) = self.files.get(name) else {
            let known = self.names().join(", ");
            return Err(BridgeError::UnknownMap {
                name: name.to_owned(),
                known,
            });
        };
        let lost = || BridgeError::Internal("map cache lock poisoned".into());
        let slot = {
            let mut loaded = self.loaded.lock().map_err(|_| lost())?;
            loaded.entry(name.to_owned()).or_default().clone()
        };
        let mut slot = slot.lock().map_err(|_| lost())?;
        if let Some(map) = &*slot {
            return Ok(map.clone());
        }
        let started = std::time::Instant::now();
        let odr = atlas_sim::opendrive::parse_file(path)?;
        let map = Arc::new(Map::from_opendrive(odr, name, &path.display().to_string())?);
        tracing::info!(
            map = map.name(),
            roads = map.roads().len(),
            junctions = map.junction_count(),
            ms = started.elapsed().as_millis() as u64,
            "map loaded"
        );
        *slot = Some(map.clone());
        Ok(map)
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut BTreeMap<String, PathBuf>,
) -> Result<(), BridgeError> {
    let err = |e: std::io::Error| BridgeError::MapsDir {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = e.file_type().map_err(err)?;
        if ft.is_dir() {
            if depth < MAX_DEPTH {
                walk(root, &path, depth + 1, out)?;
            }
        } else if path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("xodr"))
        {
            let rel = path.strip_prefix(root).unwrap_or(&path).with_extension("");
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.insert(key, path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps")
    }

    #[test]
    fn scans_and_loads_once() {
        let store = MapStore::scan(&maps_dir()).unwrap();
        let names = store.names();
        assert!(names.contains(&"Town01".to_string()), "{names:?}");
        assert!(
            names.contains(&"alks/alks_road_straight".to_string()),
            "{names:?}"
        );
        let a = store.get("atlas_loop").unwrap();
        let b = store.get("atlas_loop").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.name(), "atlas_loop");
        let err = store.get("Nowhere").unwrap_err();
        assert!(err.to_string().contains("Town01"), "{err}");
    }

    #[test]
    fn missing_directory_is_an_error() {
        let err = MapStore::scan(Path::new("/nonexistent/maps"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/maps"), "{err}");
    }
}
