//! The document level: the root element and its version, the catalog
//! locations and the road network, and the assembled [`Scenario`].

use std::path::PathBuf;

use roxmltree::Node;

use super::{R, Reader, elements, normalise};
use crate::model::*;

impl<'d, 'i> Reader<'d, 'i> {
    pub(super) fn scenario(&mut self, root: Node<'d, 'i>) -> R<Scenario> {
        if !root.has_tag_name("OpenSCENARIO") {
            return Err(self.err(root, "the root element must be <OpenSCENARIO>"));
        }
        let mut description = String::new();
        if let Some(h) = self.child(root, "FileHeader") {
            let major = h.attribute("revMajor").unwrap_or("1");
            let minor = h.attribute("revMinor").unwrap_or("0");
            if major != "1" || !minor.parse::<u32>().is_ok_and(|m| m <= 3) {
                let e = self.err(
                    h,
                    format!("OpenSCENARIO {major}.{minor} is not supported (1.0 to 1.2 are)"),
                );
                if !self.lenient {
                    return Err(e);
                }
                self.warnings.push(e.to_string());
            }
            description = h.attribute("description").unwrap_or_default().to_owned();
        }
        // ScenarioRunner's convention: a description starting with `CARLA:`
        // marks positions in CARLA's (Unreal's, left-handed) frame.
        self.carla_frame = description.starts_with("CARLA:");
        if self.carla_frame {
            self.warnings.push(format!(
                "{}: the FileHeader description starts with \"CARLA:\": positions, headings and \
                 lateral offsets are read in CARLA's left-handed frame (y, h, t and offsets \
                 mirrored), as ScenarioRunner reads them",
                self.file
            ));
        }
        if let Some(d) = self.child(root, "ParameterDeclarations") {
            self.declarations(d, true)?;
        }
        for (k, _) in &self.overrides {
            if self.scope.get(k).is_none() {
                return Err(self.err(
                    root,
                    format!("parameter override {k}: the scenario declares no such parameter"),
                ));
            }
        }
        let mut road_network = None;
        let mut entities = Vec::new();
        let mut init = Vec::new();
        let mut stories = Vec::new();
        let mut stop = None;
        let mut saw_storyboard = false;
        for c in elements(root) {
            match c.tag_name().name() {
                "FileHeader" | "ParameterDeclarations" => {}
                "CatalogLocations" => self.catalog_locations(c)?,
                "RoadNetwork" => road_network = self.road_network(c)?,
                "Entities" => entities = self.entities(c)?,
                "Storyboard" => {
                    saw_storyboard = true;
                    for s in elements(c) {
                        match s.tag_name().name() {
                            "Init" => init = self.init(s)?,
                            "Story" => stories.push(self.story(s)?),
                            "StopTrigger" => stop = Some(self.stop_trigger(s)?),
                            _ => self.unsupported(s, "this Storyboard element")?,
                        }
                    }
                }
                "Catalog" => {
                    return Err(self.err(c, "this is a catalog file, not a scenario"));
                }
                "ParameterValueDistribution" => {
                    self.unsupported(c, "a parameter value distribution")?;
                }
                _ => self.unsupported(c, "this OpenSCENARIO element")?,
            }
        }
        if !saw_storyboard {
            return Err(self.err(root, "lacks its <Storyboard>"));
        }
        let sc = Scenario {
            file: self.file.clone(),
            description,
            road_network,
            entities,
            init,
            stories,
            stop,
            parameters: self.scope.globals(),
            warnings: std::mem::take(&mut self.warnings),
            criteria: std::mem::take(&mut self.criteria),
            carla_frame: self.carla_frame,
        };
        crate::check::references(&sc)?;
        Ok(sc)
    }

    fn catalog_locations(&mut self, n: Node<'d, 'i>) -> R<()> {
        for c in elements(n) {
            let kind = c.tag_name().name().to_owned();
            let Some(dir) = self.child(c, "Directory") else {
                return Err(self.err(c, "lacks its <Directory>"));
            };
            let path = self.string(dir, "path")?;
            let rel = normalise("", &path).ok_or_else(|| {
                self.err(
                    dir,
                    format!("path {path:?} must be relative to the scenario's directory"),
                )
            })?;
            self.catalog_dirs.insert(kind, rel);
        }
        Ok(())
    }

    fn road_network(&mut self, n: Node<'d, 'i>) -> R<Option<RoadNetwork>> {
        let mut out = None;
        for c in elements(n) {
            match c.tag_name().name() {
                "LogicFile" => {
                    let path = self.string(c, "filepath")?;
                    // As ScenarioRunner reads it: an OpenDRIVE file when it
                    // ends in .xodr, else a town by name, the last part of
                    // an Unreal path (`/Game/Carla/Maps/Town04` → Town04).
                    if !path.to_ascii_lowercase().ends_with(".xodr") {
                        let town = path
                            .rsplit(['/', '\\'])
                            .find(|p| !p.is_empty())
                            .unwrap_or_default()
                            .to_owned();
                        if town.is_empty() {
                            return Err(self.err(c, "filepath names no town or .xodr file"));
                        }
                        out = Some(RoadNetwork::Name(town));
                        continue;
                    }
                    let rel = normalise("", &path.replace('\\', "/")).ok_or_else(|| {
                        self.err(c, format!("filepath {path:?} must be relative"))
                    })?;
                    let text = self.files.read(&rel).ok_or_else(|| {
                        self.err(c, format!("road network {path:?} ({rel}) cannot be read"))
                    })?;
                    self.loaded.files.insert(rel.clone(), text);
                    out = Some(RoadNetwork::File {
                        path: PathBuf::from(rel),
                        as_written: path,
                    });
                }
                // A 3D scene has no effect on the run.
                "SceneGraphFile" => {}
                "TrafficSignals" => {
                    if elements(c).next().is_some() {
                        self.unsupported(c, "traffic signal controllers")?;
                    }
                }
                "UsedArea" => {}
                _ => self.unsupported(c, "this RoadNetwork element")?,
            }
        }
        Ok(out)
    }
}
