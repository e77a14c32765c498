//! OpenSCENARIO files: read with their catalogs and road network by
//! [`atlas_xosc`] ([`XoscFile`]), and the road network a run of one uses
//! ([`XoscFile::into_run`]): the OpenDRIVE file it refers to, a map of the
//! maps directory it names, or an OpenDRIVE document sent along.

use std::collections::BTreeMap;
use std::path::Path;

use atlas_xosc::model::RoadNetwork;

use crate::{Location, Options};

/// An OpenSCENARIO file as read, with every file it referred to.
#[derive(Clone, Debug)]
pub struct XoscFile {
    pub scenario: atlas_xosc::Scenario,
    /// The catalogs and road network the reader read, by normalised path
    /// relative to the scenario's directory: what a client sends with it.
    pub files: BTreeMap<String, String>,
}

/// An OpenSCENARIO scenario with the map its run uses.
#[derive(Clone, Debug)]
pub struct XoscRun {
    pub name: String,
    pub scenario: atlas_xosc::Scenario,
    pub map_xml: String,
    pub map_name: String,
    /// Where the road network came from, for messages: the file beside the
    /// scenario, the maps dir's file, or "opendrive_xml" when sent inline.
    pub map_file: String,
}

/// A road network that could not be found.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("{file}: <LogicFile filepath={as_written:?}>: {key} was not sent with the scenario")]
    NotSent {
        file: String,
        as_written: String,
        key: String,
    },
    #[error("{file}: <LogicFile filepath={name:?}>: map {name} is not in {maps_dir}: {source}")]
    NotInMaps {
        file: String,
        name: String,
        maps_dir: String,
        source: std::io::Error,
    },
    #[error("{file}: <RoadNetwork>: the scenario names no road network (LogicFile)")]
    NoRoadNetwork { file: String },
}

impl MapError {
    /// Where the problem is.
    pub fn location(&self) -> Location {
        match self {
            MapError::NotSent { file, .. } | MapError::NotInMaps { file, .. } => {
                Location::new(file, None, Some("LogicFile"))
            }
            MapError::NoRoadNetwork { file } => Location::new(file, None, Some("RoadNetwork")),
        }
    }
}

/// Reads OpenSCENARIO text; the files it refers to come from `files`.
pub(crate) fn read(
    text: &str,
    file: &str,
    files: &dyn atlas_xosc::FileSource,
    opts: Options,
) -> Result<XoscFile, atlas_xosc::XoscError> {
    let opts = atlas_xosc::Options {
        lenient: opts.lenient,
        parameters: Vec::new(),
        strict: opts.strict,
    };
    let (scenario, loaded) = atlas_xosc::read_str(text, file, files, &opts)?;
    Ok(XoscFile {
        scenario,
        files: loaded.files,
    })
}

impl XoscFile {
    /// The scenario with the map of its run: its road network from the
    /// files read with it or from `maps_dir`; `opendrive_xml`, when not
    /// empty, is the road network sent along and replaces it.
    pub fn into_run(self, maps_dir: &Path, opendrive_xml: &str) -> Result<XoscRun, MapError> {
        let name = crate::stem(&self.scenario.file);
        let (map_xml, map_name, map_file) = match map_for(&self.scenario, &self.files, maps_dir) {
            Ok(found) => found,
            Err(e) if opendrive_xml.is_empty() => return Err(e),
            Err(_) => (String::new(), name.clone(), String::new()),
        };
        let (map_xml, map_file) = if opendrive_xml.is_empty() {
            (map_xml, map_file)
        } else {
            (opendrive_xml.to_owned(), "opendrive_xml".to_owned())
        };
        Ok(XoscRun {
            name,
            scenario: self.scenario,
            map_xml,
            map_name,
            map_file,
        })
    }
}

/// The road network of `sc` and the name the run records it by.
fn map_for(
    sc: &atlas_xosc::Scenario,
    files: &BTreeMap<String, String>,
    maps_dir: &Path,
) -> Result<(String, String, String), MapError> {
    match &sc.road_network {
        Some(RoadNetwork::File { path, as_written }) => {
            let key = path.to_string_lossy().replace('\\', "/");
            let xml = files.get(&key).cloned().ok_or_else(|| MapError::NotSent {
                file: sc.file.clone(),
                as_written: as_written.clone(),
                key: key.clone(),
            })?;
            let stem = crate::stem(&key);
            let name = known_map(maps_dir, &stem, &xml).unwrap_or(stem);
            let beside = Path::new(&sc.file).parent().unwrap_or(Path::new(""));
            Ok((xml, name, beside.join(&key).display().to_string()))
        }
        Some(RoadNetwork::Name(n)) => {
            let file = maps_dir.join(format!("{n}.xodr"));
            let xml = std::fs::read_to_string(&file).map_err(|source| MapError::NotInMaps {
                file: sc.file.clone(),
                name: n.clone(),
                maps_dir: maps_dir.display().to_string(),
                source,
            })?;
            Ok((xml, n.clone(), file.display().to_string()))
        }
        None => Err(MapError::NoRoadNetwork {
            file: sc.file.clone(),
        }),
    }
}

/// The name the maps dir knows this road network by (`<name>.xodr` there
/// or one directory down, with the same content), so records and artifacts
/// can find it again.
fn known_map(maps_dir: &Path, stem: &str, xml: &str) -> Option<String> {
    let file = format!("{stem}.xodr");
    let mut candidates = vec![(maps_dir.join(&file), stem.to_owned())];
    if let Ok(rd) = std::fs::read_dir(maps_dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir()
                && let Some(d) = p.file_name().and_then(|d| d.to_str())
            {
                candidates.push((p.join(&file), format!("{d}/{stem}")));
            }
        }
    }
    candidates
        .into_iter()
        .find(|(p, _)| std::fs::read_to_string(p).is_ok_and(|t| t == xml))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROAD: &str = include_str!("../../atlas-xosc/tests/data/straight.xodr");

    fn scenario(logic_file: &str) -> String {
        format!(
            r#"<?xml version="1.0"?>
<OpenSCENARIO>
  <FileHeader revMajor="1" revMinor="1" date="2024-01-01T00:00:00" description="t" author="t"/>
  <RoadNetwork><LogicFile filepath="{logic_file}"/></RoadNetwork>
  <Entities/>
  <Storyboard>
    <Init><Actions/></Init>
    <StopTrigger><ConditionGroup><Condition name="End" delay="0" conditionEdge="rising"><ByValueCondition><SimulationTimeCondition value="1" rule="greaterThan"/></ByValueCondition></Condition></ConditionGroup></StopTrigger>
  </Storyboard>
</OpenSCENARIO>"#
        )
    }

    fn read_sent(text: &str, files: &BTreeMap<String, String>) -> XoscFile {
        read(
            text,
            "dir/t.xosc",
            &atlas_xosc::MemoryFiles(files),
            Options::default(),
        )
        .unwrap()
    }

    #[test]
    fn a_road_network_file_travels_with_the_scenario() {
        let mut files = BTreeMap::new();
        files.insert("road.xodr".to_owned(), ROAD.to_owned());
        let x = read_sent(&scenario("road.xodr"), &files);
        assert_eq!(x.files.keys().collect::<Vec<_>>(), ["road.xodr"]);
        let maps = tempfile::tempdir().unwrap();
        let run = x.clone().into_run(maps.path(), "").unwrap();
        assert_eq!(run.name, "t");
        assert_eq!(run.map_name, "road");
        assert_eq!(run.map_xml, ROAD);
        // The maps dir knows the same road one directory down: its name there.
        std::fs::create_dir(maps.path().join("lab")).unwrap();
        std::fs::write(maps.path().join("lab/road.xodr"), ROAD).unwrap();
        let run = x.into_run(maps.path(), "").unwrap();
        assert_eq!(run.map_name, "lab/road");
    }

    #[test]
    fn a_named_map_comes_from_the_maps_dir_or_is_sent() {
        let none = BTreeMap::new();
        let x = read_sent(&scenario("Straight"), &none);
        let maps = tempfile::tempdir().unwrap();
        let e = x.clone().into_run(maps.path(), "").unwrap_err();
        assert!(
            e.to_string().starts_with(
                "dir/t.xosc: <LogicFile filepath=\"Straight\">: map Straight is not in"
            ),
            "{e}"
        );
        assert_eq!(e.location().element.as_deref(), Some("LogicFile"));
        // Sent along: used under the scenario's name.
        let run = x.clone().into_run(maps.path(), ROAD).unwrap();
        assert_eq!((run.map_name.as_str(), run.map_xml.as_str()), ("t", ROAD));
        std::fs::write(maps.path().join("Straight.xodr"), ROAD).unwrap();
        let run = x.into_run(maps.path(), "").unwrap();
        assert_eq!(run.map_name, "Straight");
    }
}
