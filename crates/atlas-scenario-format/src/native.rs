//! The native scenario format: a small TOML file naming a map, the ego's
//! start and route, and other actors.
//!
//! ```toml
//! name = "town01_clear"          # optional, defaults to the file stem
//! map = "Town01"                 # a map the bridge knows, or a path to an .xodr
//! timeout_s = 60                 # route timeout (simulated seconds)
//! seed = 1
//!
//! [ego]
//! start = { road = "3", lane = -1, s = 5.0 }   # or { x = .., y = .., yaw = .. }
//! speed = 0.0
//!
//! [route]                        # positions the route passes, in order; the last is the goal
//! waypoints = [ { road = "3", lane = -1, s = 150.0 } ]
//!
//! [[actors]]
//! name = "parked_car"
//! kind = "vehicle"               # vehicle | pedestrian | static
//! start = { road = "3", lane = -1, s = 60.0 }
//! behavior = "stopped"           # stopped | lane_follow
//! speed = 0.0                    # initial and (for lane_follow) target speed, m/s
//! ```
//!
//! Every error names the file and the element, with a line where the TOML
//! parser knows it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Format, Location};

/// A scenario file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax {
        file: String,
        /// The line the TOML parser points at, when it does.
        line: Option<u32>,
        message: String,
    },
    #[error("{file}: line {line}: `{element}`: {message}")]
    Invalid {
        file: String,
        line: usize,
        element: String,
        message: String,
    },
    #[error(
        "{file}: unsupported scenario format (ATLAS runs native scenarios .toml, Leaderboard route files .xml and OpenSCENARIO .xosc)"
    )]
    UnsupportedFormat { file: String },
    #[error("{file}: `map`: cannot read {path}: {source}")]
    Map {
        file: String,
        path: String,
        source: std::io::Error,
    },
}

impl ScenarioError {
    /// Where the problem is.
    pub fn location(&self) -> Location {
        match self {
            ScenarioError::Read { file, .. } | ScenarioError::UnsupportedFormat { file } => {
                Location::new(file, None, None)
            }
            ScenarioError::Syntax { file, line, .. } => Location::new(file, *line, None),
            ScenarioError::Invalid {
                file,
                line,
                element,
                ..
            } => Location::new(file, u32::try_from(*line).ok(), Some(element)),
            ScenarioError::Map { file, .. } => Location::new(file, None, Some("map")),
        }
    }
}

/// Where an actor starts or a route passes.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged, deny_unknown_fields)]
pub enum Placement {
    Lane {
        road: String,
        lane: i32,
        s: f64,
        #[serde(default)]
        offset: f64,
    },
    World {
        x: f64,
        y: f64,
        #[serde(default)]
        yaw: f64,
    },
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    #[default]
    Vehicle,
    Pedestrian,
    Static,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Behavior {
    #[default]
    Stopped,
    LaneFollow,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ego {
    pub start: Placement,
    #[serde(default)]
    pub speed: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub waypoints: Vec<Placement>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub name: String,
    #[serde(default)]
    pub kind: ActorKind,
    pub start: Placement,
    #[serde(default)]
    pub behavior: Behavior,
    #[serde(default)]
    pub speed: f64,
}

fn default_timeout() -> f64 {
    60.0
}

fn default_blocked() -> f64 {
    180.0
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    map: String,
    #[serde(default = "default_timeout")]
    timeout_s: f64,
    #[serde(default = "default_blocked")]
    blocked_s: f64,
    #[serde(default)]
    seed: u64,
    ego: Ego,
    route: Route,
    #[serde(default)]
    actors: Vec<Actor>,
}

/// How the scenario's map is found.
#[derive(Clone, Debug, PartialEq)]
pub enum MapRef {
    /// A map the bridge knows by name.
    Name(String),
    /// An OpenDRIVE file next to the scenario (resolved path).
    File(PathBuf),
}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    /// The file it came from, for messages.
    pub file: String,
    pub map: MapRef,
    pub timeout_s: f64,
    pub blocked_s: f64,
    pub seed: u64,
    pub ego: Ego,
    pub route: Route,
    pub actors: Vec<Actor>,
}

impl Scenario {
    /// The OpenDRIVE text of a map given as a file; `None` for a map the
    /// bridge knows by name.
    pub fn read_map(&self) -> Result<Option<String>, ScenarioError> {
        match &self.map {
            MapRef::Name(_) => Ok(None),
            MapRef::File(f) => {
                std::fs::read_to_string(f)
                    .map(Some)
                    .map_err(|source| ScenarioError::Map {
                        file: self.file.clone(),
                        path: f.display().to_string(),
                        source,
                    })
            }
        }
    }
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file, path.parent())
}

/// Parses scenario text. `file` names it in messages (a name with an
/// extension other than `.toml` is another format); `base` resolves a map
/// given as a relative path.
pub fn parse(text: &str, file: &str, base: Option<&Path>) -> Result<Scenario, ScenarioError> {
    if Format::Native.ruled_out_by_name(file) {
        return Err(ScenarioError::UnsupportedFormat { file: file.into() });
    }
    let raw: File = toml::from_str(text).map_err(|e| ScenarioError::Syntax {
        file: file.into(),
        line: e.span().map(|r| line_at(text, r.start)),
        message: e.to_string().trim_end().replace('\n', "\n  "),
    })?;
    let invalid = |element: &str, message: String| ScenarioError::Invalid {
        file: file.into(),
        line: line_of(text, element),
        element: element.into(),
        message,
    };
    let check_speed = |element: &str, v: f64| {
        if !(v.is_finite() && (0.0..=70.0).contains(&v)) {
            return Err(invalid(
                element,
                format!("speed {v} is not within 0..=70 m/s"),
            ));
        }
        Ok(())
    };
    let check_place = |element: &str, p: &Placement| match p {
        Placement::Lane {
            s, offset, lane, ..
        } => {
            if !(s.is_finite() && *s >= 0.0) {
                return Err(invalid(element, format!("s = {s} must be finite and >= 0")));
            }
            if !offset.is_finite() {
                return Err(invalid(element, "offset must be finite".into()));
            }
            if *lane == 0 {
                return Err(invalid(
                    element,
                    "lane 0 is the reference line, not a lane".into(),
                ));
            }
            Ok(())
        }
        Placement::World { x, y, yaw } => {
            if ![x, y, yaw].iter().all(|v| v.is_finite()) {
                return Err(invalid(element, "x, y and yaw must be finite".into()));
            }
            Ok(())
        }
    };

    if raw.map.trim().is_empty() {
        return Err(invalid(
            "map",
            "map must name a map or an .xodr file".into(),
        ));
    }
    if !(raw.timeout_s.is_finite() && raw.timeout_s > 0.0 && raw.timeout_s <= 86_400.0) {
        return Err(invalid(
            "timeout_s",
            format!("timeout {} must be within (0, 86400] s", raw.timeout_s),
        ));
    }
    if !(raw.blocked_s.is_finite() && raw.blocked_s > 0.0) {
        return Err(invalid(
            "blocked_s",
            "must be a positive number of seconds".into(),
        ));
    }
    check_place("ego.start", &raw.ego.start)?;
    check_speed("ego.speed", raw.ego.speed)?;
    if raw.route.waypoints.is_empty() {
        return Err(invalid(
            "route.waypoints",
            "a route needs at least one waypoint (its goal)".into(),
        ));
    }
    for (i, w) in raw.route.waypoints.iter().enumerate() {
        check_place(&format!("route.waypoints[{i}]"), w)?;
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, a) in raw.actors.iter().enumerate() {
        let el = format!("actors[{i}]");
        if a.name.trim().is_empty() || !names.insert(a.name.as_str()) {
            return Err(invalid(
                &format!("{el}.name"),
                format!("actor name {:?} is empty or used twice", a.name),
            ));
        }
        check_place(&format!("{el}.start"), &a.start)?;
        check_speed(&format!("{el}.speed"), a.speed)?;
        if a.behavior == Behavior::LaneFollow && a.kind != ActorKind::Vehicle {
            return Err(invalid(
                &format!("{el}.behavior"),
                "lane_follow needs kind = \"vehicle\"".into(),
            ));
        }
    }

    let map = if raw.map.to_ascii_lowercase().ends_with(".xodr") {
        let p = Path::new(&raw.map);
        MapRef::File(match base {
            Some(b) if p.is_relative() => b.join(p),
            _ => p.to_path_buf(),
        })
    } else {
        MapRef::Name(raw.map.clone())
    };
    let name = raw.name.clone().unwrap_or_else(|| crate::stem(file));
    Ok(Scenario {
        name,
        file: file.into(),
        map,
        timeout_s: raw.timeout_s,
        blocked_s: raw.blocked_s,
        seed: raw.seed,
        ego: raw.ego,
        route: raw.route,
        actors: raw.actors,
    })
}

/// The line of byte `at` of `text`.
fn line_at(text: &str, at: usize) -> u32 {
    let upto = text.get(..at).unwrap_or(text);
    u32::try_from(upto.matches('\n').count() + 1).unwrap_or(u32::MAX)
}

/// Best-effort line of an element (`ego.start`, `actors[1].speed`) in the
/// TOML text: the line of its last key within its table.
fn line_of(text: &str, element: &str) -> usize {
    let parts: Vec<&str> = element.split('.').collect();
    let (table, key) = match parts.as_slice() {
        [k] => (None, *k),
        [t, k] => (Some(*t), *k),
        _ => (None, element),
    };
    // `actors[2]` is the third `[[actors]]` table.
    let (table_name, nth) = match table {
        Some(t) => match t.split_once('[') {
            Some((n, idx)) => (Some(n), idx.trim_end_matches(']').parse::<usize>().ok()),
            None => (Some(t), None),
        },
        None => (None, None),
    };
    let key_base = key.split('[').next().unwrap_or(key);
    let mut in_table = table_name.is_none();
    let mut seen = 0usize;
    let mut table_line = 1;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with('[') {
            let header = l.trim_matches(|c| c == '[' || c == ']').trim();
            in_table = match table_name {
                Some(n) if header == n => {
                    let hit = nth.is_none_or(|k| k == seen);
                    seen += 1;
                    if hit {
                        table_line = i + 1;
                    }
                    hit
                }
                None => false,
                _ => false,
            };
            continue;
        }
        if in_table
            && l.split(['=', ' '])
                .next()
                .is_some_and(|k| k.trim() == key_base)
        {
            return i + 1;
        }
    }
    table_line
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
map = "Town01"
timeout_s = 30

[ego]
start = { road = "3", lane = -1, s = 5.0 }

[route]
waypoints = [ { x = 100.0, y = 2.0 } ]

[[actors]]
name = "a"
start = { road = "3", lane = -1, s = 40.0 }
behavior = "lane_follow"
speed = 5.0
"#;

    #[test]
    fn parses_a_good_file() {
        let s = parse(GOOD, "scenarios/x.toml", Some(Path::new("scenarios"))).unwrap();
        assert_eq!(s.name, "x");
        assert_eq!(s.map, MapRef::Name("Town01".into()));
        assert_eq!(s.actors[0].behavior, Behavior::LaneFollow);
        assert!(matches!(s.route.waypoints[0], Placement::World { x, .. } if x == 100.0));
    }

    #[test]
    fn unknown_field_names_file_and_line() {
        let bad = GOOD.replace("speed = 5.0", "sped = 5.0");
        let e = parse(&bad, "bad.toml", None).unwrap_err().to_string();
        assert!(e.starts_with("bad.toml:"), "{e}");
        assert!(e.contains("sped"), "{e}");
        assert!(e.contains("line"), "{e}");
    }

    #[test]
    fn bad_value_names_the_element_and_its_line() {
        let bad = GOOD.replace("speed = 5.0", "speed = -5.0");
        let e = parse(&bad, "bad.toml", None).unwrap_err();
        match &e {
            ScenarioError::Invalid { element, line, .. } => {
                assert_eq!(element, "actors[0].speed");
                assert_eq!(*line, 15);
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn missing_route_is_an_error() {
        let bad = GOOD.replace("waypoints = [ { x = 100.0, y = 2.0 } ]", "waypoints = []");
        let e = parse(&bad, "r.toml", None).unwrap_err().to_string();
        assert!(e.contains("route.waypoints"), "{e}");
    }

    #[test]
    fn relative_map_path_resolves_next_to_the_file() {
        let t = GOOD.replace("\"Town01\"", "\"../maps/loop.xodr\"");
        let s = parse(&t, "sc/x.toml", Some(Path::new("sc"))).unwrap();
        assert_eq!(s.map, MapRef::File(PathBuf::from("sc/../maps/loop.xodr")));
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let bad = GOOD.replace("speed = 5.0", "speed = = 5.0");
        let e = parse(&bad, "bad.toml", None).unwrap_err();
        assert_eq!(e.location().line, Some(15), "{e}");
    }

    #[test]
    fn a_map_file_is_read_for_sending() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("loop.xodr"), "<OpenDRIVE/>").unwrap();
        let t = GOOD.replace("\"Town01\"", "\"loop.xodr\"");
        let s = parse(&t, "x.toml", Some(dir.path())).unwrap();
        assert_eq!(s.read_map().unwrap().as_deref(), Some("<OpenDRIVE/>"));
        let s = parse(GOOD, "x.toml", None).unwrap();
        assert_eq!(s.read_map().unwrap(), None);
        let t = GOOD.replace("\"Town01\"", "\"gone.xodr\"");
        let e = parse(&t, "x.toml", Some(dir.path()))
            .unwrap()
            .read_map()
            .unwrap_err();
        assert!(
            e.to_string().starts_with("x.toml: `map`: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn other_formats_are_refused() {
        assert!(matches!(
            parse("<x/>", "a.xosc", None),
            Err(ScenarioError::UnsupportedFormat { .. })
        ));
    }
}
