//! Reads an OpenSCENARIO 1.0–1.2 document into a [`Scenario`]: parameter
//! declarations and references, expressions, catalogs by reference, the
//! road network, entities and the storyboard.
//!
//! Elements that would change what happens in the run but that the player
//! does not implement are errors naming the element and its line; with
//! [`Options::lenient`] they become warnings and are skipped. Elements
//! without effect on motion (file header, properties, performance, axles
//! beyond the wheelbase) are read past.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use roxmltree::{Document, Node};

use crate::expr::{Scope, Value};
use crate::model::*;

/// A file that could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: <{element}>: {message}")]
pub struct XoscError {
    pub file: String,
    pub line: u32,
    pub element: String,
    pub message: String,
}

/// Reading options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Unsupported elements become warnings instead of errors.
    pub lenient: bool,
    /// Values overriding the document's ParameterDeclarations.
    pub parameters: Vec<(String, String)>,
}

/// Where referenced files (catalogs, road networks) are read from: paths are
/// relative to the scenario file's directory, normalised (`a/b/c.xosc`).
pub trait FileSource {
    fn read(&self, rel: &str) -> Option<String>;
    /// Files directly in directory `rel` (normalised relative paths).
    fn list(&self, rel: &str) -> Vec<String>;
}

/// Files on disk next to the scenario.
pub struct DiskFiles {
    pub base: PathBuf,
}

impl FileSource for DiskFiles {
    fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.base.join(rel)).ok()
    }

    fn list(&self, rel: &str) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.base.join(rel))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_file())
                    .filter_map(|e| e.file_name().to_str().map(|n| join_rel(rel, n)))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

/// Files sent along with a scenario (key: normalised relative path).
pub struct MemoryFiles<'a>(pub &'a BTreeMap<String, String>);

impl FileSource for MemoryFiles<'_> {
    fn read(&self, rel: &str) -> Option<String> {
        self.0.get(rel).cloned()
    }

    fn list(&self, rel: &str) -> Vec<String> {
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        self.0
            .keys()
            .filter(|k| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
            .cloned()
            .collect()
    }
}

fn join_rel(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// `rel` joined to `dir` and normalised lexically (`.` and `..` removed);
/// `None` when it leaves the scenario's directory tree or is absolute.
pub fn normalise(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let joined = if dir.is_empty() {
        PathBuf::from(rel)
    } else {
        Path::new(dir).join(rel)
    };
    for c in joined.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// What a read produced besides the scenario: every referenced file that
/// was read, by normalised relative path (for sending the scenario whole).
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub files: BTreeMap<String, String>,
}

/// Reads a scenario file from disk, its catalogs and road network from
/// beside it.
pub fn read_file(path: &Path, opts: &Options) -> Result<(Scenario, Loaded), XoscError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| XoscError {
        file: file.clone(),
        line: 0,
        element: "OpenSCENARIO".into(),
        message: format!("cannot read: {e}"),
    })?;
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let files = DiskFiles { base };
    read_str(&text, &file, &files, opts)
}

/// Reads scenario text; referenced files come from `files`.
pub fn read_str(
    text: &str,
    file: &str,
    files: &dyn FileSource,
    opts: &Options,
) -> Result<(Scenario, Loaded), XoscError> {
    let doc = parse_doc(text, file)?;
    let mut r = Reader {
        file: file.to_owned(),
        doc: &doc,
        files,
        lenient: opts.lenient,
        scope: Scope::new(),
        warnings: Vec::new(),
        catalog_dirs: BTreeMap::new(),
        catalogs: None,
        loaded: Loaded::default(),
        overrides: opts.parameters.clone(),
        criteria: Vec::new(),
    };
    let sc = r.scenario(doc.root_element())?;
    Ok((sc, r.loaded))
}

fn parse_doc<'a>(text: &'a str, file: &str) -> Result<Document<'a>, XoscError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: 2_000_000,
            ..Default::default()
        },
    )
    .map_err(|e| XoscError {
        file: file.into(),
        line: e.pos().row,
        element: "xml".into(),
        message: e.to_string(),
    })
}

struct CatalogFile {
    path: String,
    text: String,
}

struct Reader<'d, 'i> {
    file: String,
    doc: &'d Document<'i>,
    files: &'d dyn FileSource,
    lenient: bool,
    scope: Scope,
    warnings: Vec<String>,
    /// Catalog type element name → directory (normalised, relative).
    catalog_dirs: BTreeMap<String, String>,
    catalogs: Option<Vec<CatalogFile>>,
    loaded: Loaded,
    overrides: Vec<(String, String)>,
    criteria: Vec<(String, String)>,
}

fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(|c| c.is_element())
}

/// Elements read past anywhere: no effect on motion.
const IGNORED: &[&str] = &[
    "FileHeader",
    "License",
    "Properties",
    "Property",
    "File",
    "Performance",
    "Axles",
    "ConstraintGroup",
    "ValueConstraint",
    "RangeConstraint",
    "Description",
];

type R<T> = Result<T, XoscError>;

impl<'d, 'i> Reader<'d, 'i> {
    fn line(&self, n: Node) -> u32 {
        self.doc.text_pos_at(n.range().start).row
    }

    fn err(&self, n: Node, message: impl Into<String>) -> XoscError {
        XoscError {
            file: self.file.clone(),
            line: self.line(n),
            element: n.tag_name().name().to_owned(),
            message: message.into(),
        }
    }

    /// An element the player does not implement: an error, or under the
    /// lenient option a warning.
    fn unsupported(&mut self, n: Node, what: &str) -> R<()> {
        if IGNORED.contains(&n.tag_name().name()) {
            return Ok(());
        }
        let e = self.err(n, format!("{what} is not supported"));
        if self.lenient {
            self.warnings.push(format!("skipped: {e}"));
            Ok(())
        } else {
            Err(e)
        }
    }

    fn child(&self, n: Node<'d, 'i>, name: &str) -> Option<Node<'d, 'i>> {
        elements(n).find(|c| c.has_tag_name(name))
    }

    fn req_child(&self, n: Node<'d, 'i>, name: &str) -> R<Node<'d, 'i>> {
        self.child(n, name)
            .ok_or_else(|| self.err(n, format!("lacks its <{name}>")))
    }

    /// The single element child (for choice elements).
    fn choice(&self, n: Node<'d, 'i>) -> R<Node<'d, 'i>> {
        elements(n)
            .find(|c| !IGNORED.contains(&c.tag_name().name()))
            .ok_or_else(|| self.err(n, "is empty"))
    }

    fn value(&self, n: Node, name: &str) -> R<Option<Value>> {
        match n.attribute(name) {
            None => Ok(None),
            Some(s) => self
                .scope
                .resolve(s)
                .map(Some)
                .map_err(|m| self.err(n, format!("attribute {name}: {m}"))),
        }
    }

    fn string(&self, n: Node, name: &str) -> R<String> {
        self.opt_string(n, name)?
            .ok_or_else(|| self.err(n, format!("lacks attribute {name}")))
    }

    fn opt_string(&self, n: Node, name: &str) -> R<Option<String>> {
        Ok(self.value(n, name)?.map(|v| v.to_string()))
    }

    fn num(&self, n: Node, name: &str) -> R<f64> {
        self.opt_num(n, name)?
            .ok_or_else(|| self.err(n, format!("lacks attribute {name}")))
    }

    fn opt_num(&self, n: Node, name: &str) -> R<Option<f64>> {
        match self.value(n, name)? {
            None => Ok(None),
            Some(v) => v
                .as_num()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| self.err(n, format!("attribute {name}: {v:?} is not a number"))),
        }
    }

    fn int(&self, n: Node, name: &str) -> R<i32> {
        let v = self.num(n, name)?;
        if v.fract() != 0.0 || v.abs() > 1e6 {
            return Err(self.err(n, format!("attribute {name}: {v} is not an integer")));
        }
        Ok(v as i32)
    }

    fn opt_bool(&self, n: Node, name: &str) -> R<Option<bool>> {
        match self.value(n, name)? {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.err(n, format!("attribute {name}: {v:?} is not a boolean"))),
        }
    }

    fn bool_or(&self, n: Node, name: &str, default: bool) -> R<bool> {
        Ok(self.opt_bool(n, name)?.unwrap_or(default))
    }

    fn rule(&self, n: Node) -> R<Rule> {
        let r = self.string(n, "rule")?;
        Ok(match r.as_str() {
            "greaterThan" => Rule::Greater,
            "greaterOrEqual" => Rule::GreaterOrEqual,
            "lessThan" => Rule::Less,
            "lessOrEqual" => Rule::LessOrEqual,
            "equalTo" => Rule::Equal,
            "notEqualTo" => Rule::NotEqual,
            other => return Err(self.err(n, format!("unknown rule {other:?}"))),
        })
    }

    // ------------------------------------------------------------ parameters

    fn declarations(&mut self, n: Node<'d, 'i>, overrides: bool) -> R<()> {
        for d in elements(n) {
            if !d.has_tag_name("ParameterDeclaration") {
                self.unsupported(d, "this element in ParameterDeclarations")?;
                continue;
            }
            let name = d
                .attribute("name")
                .ok_or_else(|| self.err(d, "lacks attribute name"))?
                .to_owned();
            let kind = d
                .attribute("parameterType")
                .ok_or_else(|| self.err(d, "lacks attribute parameterType"))?
                .to_owned();
            let mut text = d
                .attribute("value")
                .ok_or_else(|| self.err(d, "lacks attribute value"))?
                .to_owned();
            if overrides && let Some((_, v)) = self.overrides.iter().find(|(k, _)| *k == name) {
                text = v.clone();
            }
            // A declaration's value may itself refer to earlier parameters.
            let resolved = self
                .scope
                .resolve(&text)
                .map_err(|m| self.err(d, format!("parameter {name}: {m}")))?;
            let v = Value::typed(&kind, &resolved.to_string())
                .map_err(|m| self.err(d, format!("parameter {name}: {m}")))?;
            self.scope.set(&name, v);
        }
        Ok(())
    }

    // ------------------------------------------------------------ document

    fn scenario(&mut self, root: Node<'d, 'i>) -> R<Scenario> {
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
                            "StopTrigger" => stop = Some(self.trigger(s)?),
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
                    format!("path {path:?} must be relative, inside the scenario's directory"),
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
                    let looks_like_file = path.contains('/')
                        || path.contains('\\')
                        || path.to_ascii_lowercase().ends_with(".xodr");
                    if !looks_like_file {
                        out = Some(RoadNetwork::Name(path));
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

    // ------------------------------------------------------------ catalogs

    fn load_catalogs(&mut self) {
        if self.catalogs.is_some() {
            return;
        }
        let mut out = Vec::new();
        let dirs: Vec<String> = self.catalog_dirs.values().cloned().collect();
        for dir in dirs {
            for f in self.files.list(&dir) {
                if !f.to_ascii_lowercase().ends_with(".xosc") {
                    continue;
                }
                if let Some(text) = self.files.read(&f) {
                    self.loaded.files.insert(f.clone(), text.clone());
                    out.push(CatalogFile { path: f, text });
                }
            }
        }
        self.catalogs = Some(out);
    }

    /// Reads a catalog entry referred to by `r` with `read`, inside the
    /// catalog file's parameter scope plus the reference's assignments.
    fn catalog_entry<T>(
        &mut self,
        r: Node<'d, 'i>,
        read: impl for<'a, 'b> Fn(&mut Reader<'a, 'b>, Node<'a, 'b>) -> R<T>,
    ) -> R<T> {
        let catalog = self.string(r, "catalogName")?;
        let entry = self.string(r, "entryName")?;
        // Assignments evaluate in the referring scope.
        let mut assigned = Vec::new();
        if let Some(pa) = self.child(r, "ParameterAssignments") {
            for a in elements(pa) {
                let name = a
                    .attribute("parameterRef")
                    .ok_or_else(|| self.err(a, "lacks attribute parameterRef"))?;
                let v = self
                    .value(a, "value")?
                    .ok_or_else(|| self.err(a, "lacks attribute value"))?;
                assigned.push((name.trim_start_matches('$').to_owned(), v, a));
            }
        }
        self.load_catalogs();
        let catalogs = self.catalogs.take().unwrap_or_default();
        let mut result = None;
        for cf in &catalogs {
            let doc = match parse_doc(&cf.text, &cf.path) {
                Ok(d) => d,
                Err(e) => {
                    self.catalogs = Some(catalogs);
                    return Err(e);
                }
            };
            let Some(cat) = elements(doc.root_element())
                .find(|c| c.has_tag_name("Catalog") && c.attribute("name") == Some(&catalog))
            else {
                continue;
            };
            let Some(node) = elements(cat).find(|e| e.attribute("name") == Some(&entry)) else {
                continue;
            };
            let mut sub = Reader {
                file: cf.path.clone(),
                doc: &doc,
                files: self.files,
                lenient: self.lenient,
                scope: self.scope.clone(),
                warnings: Vec::new(),
                catalog_dirs: BTreeMap::new(),
                catalogs: Some(Vec::new()),
                loaded: Loaded::default(),
                overrides: Vec::new(),
                criteria: Vec::new(),
            };
            sub.scope.push();
            if let Some(d) = sub.child(node, "ParameterDeclarations") {
                sub.declarations(d, false)?;
            }
            for (name, v, a) in &assigned {
                if sub.scope.get(name).is_none() {
                    let e = self.err(
                        *a,
                        format!("catalog entry {catalog}/{entry} declares no parameter {name}"),
                    );
                    self.catalogs = Some(catalogs);
                    return Err(e);
                }
                sub.scope.set(name, v.clone());
            }
            let r = read(&mut sub, node);
            self.warnings.append(&mut sub.warnings);
            result = Some(r);
            break;
        }
        self.catalogs = Some(catalogs);
        match result {
            Some(r) => r,
            None => Err(self.err(
                r,
                format!(
                    "catalog entry {catalog}/{entry} not found in the catalog directories ({})",
                    self.catalog_dirs
                        .values()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    // ------------------------------------------------------------ entities

    fn entities(&mut self, n: Node<'d, 'i>) -> R<Vec<Entity>> {
        let mut out: Vec<Entity> = Vec::new();
        for c in elements(n) {
            if !c.has_tag_name("ScenarioObject") {
                self.unsupported(c, "this Entities element")?;
                continue;
            }
            let name = self.string(c, "name")?;
            if out.iter().any(|e| e.name == name) {
                return Err(self.err(c, format!("entity {name} is declared twice")));
            }
            let mut entity = None;
            for o in elements(c) {
                match o.tag_name().name() {
                    "Vehicle" | "Pedestrian" | "MiscObject" => {
                        entity = Some(self.object(o)?);
                    }
                    "CatalogReference" => {
                        entity = Some(self.catalog_entry(o, |r, node| r.object(node))?);
                    }
                    // Controllers: the policy or the default controller drive.
                    "ObjectController" => {}
                    _ => self.unsupported(o, "this ScenarioObject element")?,
                }
            }
            let mut e =
                entity.ok_or_else(|| self.err(c, "names no vehicle, pedestrian or object"))?;
            e.name = name;
            e.line = self.line(c);
            out.push(e);
        }
        Ok(out)
    }

    fn object(&mut self, o: Node<'d, 'i>) -> R<Entity> {
        let (kind, cat_attr) = match o.tag_name().name() {
            "Vehicle" => (EntityKind::Vehicle, "vehicleCategory"),
            "Pedestrian" => (EntityKind::Pedestrian, "pedestrianCategory"),
            "MiscObject" => (EntityKind::MiscObject, "miscObjectCategory"),
            other => {
                return Err(self.err(
                    o,
                    format!("a catalog entry of type {other} cannot be an entity"),
                ));
            }
        };
        let category = self.opt_string(o, cat_attr)?.unwrap_or_default();
        let bb = self.req_child(o, "BoundingBox")?;
        let centre = self.req_child(bb, "Center")?;
        let dims = self.req_child(bb, "Dimensions")?;
        let bbox = BoundingBox {
            cx: self.num(centre, "x")?,
            cy: self.num(centre, "y")?,
            cz: self.num(centre, "z")?,
            length: self.num(dims, "length")?,
            width: self.num(dims, "width")?,
            height: self.num(dims, "height")?,
        };
        for (v, what) in [
            (bbox.length, "length"),
            (bbox.width, "width"),
            (bbox.height, "height"),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return Err(self.err(dims, format!("{what} {v} is not within 0..=100 m")));
            }
        }
        let mut wheelbase = None;
        let mut max_speed = None;
        if kind == EntityKind::Vehicle {
            if let Some(axles) = self.child(o, "Axles")
                && let (Some(f), Some(r)) = (
                    self.child(axles, "FrontAxle"),
                    self.child(axles, "RearAxle"),
                )
            {
                let wb = self.num(f, "positionX")? - self.num(r, "positionX")?;
                if wb > 0.0 {
                    wheelbase = Some(wb);
                }
            }
            if let Some(p) = self.child(o, "Performance") {
                max_speed = self.opt_num(p, "maxSpeed")?;
            }
        }
        Ok(Entity {
            name: String::new(),
            kind,
            category,
            bbox,
            wheelbase,
            max_speed,
            line: self.line(o),
        })
    }

    // ------------------------------------------------------------ storyboard

    fn init(&mut self, n: Node<'d, 'i>) -> R<Vec<InitAction>> {
        let mut out = Vec::new();
        let Some(actions) = self.child(n, "Actions") else {
            return Ok(out);
        };
        for c in elements(actions) {
            match c.tag_name().name() {
                "GlobalAction" => {
                    if let Some(kind) = self.global_action(c)? {
                        out.push(InitAction {
                            entity: None,
                            action: Action {
                                name: String::new(),
                                kind,
                                line: self.line(c),
                            },
                        });
                    }
                }
                "Private" => {
                    let entity = self.string(c, "entityRef")?;
                    for p in elements(c) {
                        if !p.has_tag_name("PrivateAction") {
                            self.unsupported(p, "this Private element")?;
                            continue;
                        }
                        if let Some(a) = self.private_action(p)? {
                            out.push(InitAction {
                                entity: Some(entity.clone()),
                                action: Action {
                                    name: String::new(),
                                    kind: ActionKind::Private(a),
                                    line: self.line(p),
                                },
                            });
                        }
                    }
                }
                _ => self.unsupported(c, "this Init action")?,
            }
        }
        Ok(out)
    }

    fn story(&mut self, n: Node<'d, 'i>) -> R<Story> {
        let name = self.string(n, "name")?;
        self.scope.push();
        if let Some(d) = self.child(n, "ParameterDeclarations") {
            self.declarations(d, false)?;
        }
        let mut acts = Vec::new();
        for c in elements(n) {
            match c.tag_name().name() {
                "Act" => acts.push(self.act(c)?),
                "ParameterDeclarations" => {}
                _ => self.unsupported(c, "this Story element")?,
            }
        }
        self.scope.pop();
        Ok(Story { name, acts })
    }

    fn act(&mut self, n: Node<'d, 'i>) -> R<Act> {
        let name = self.string(n, "name")?;
        let mut act = Act {
            name,
            groups: Vec::new(),
            start: None,
            stop: None,
        };
        for c in elements(n) {
            match c.tag_name().name() {
                "ManeuverGroup" => act.groups.push(self.group(c)?),
                "StartTrigger" => act.start = Some(self.trigger(c)?),
                "StopTrigger" => act.stop = Some(self.trigger(c)?),
                _ => self.unsupported(c, "this Act element")?,
            }
        }
        Ok(act)
    }

    fn max_exec(&self, n: Node) -> R<u32> {
        match self.opt_num(n, "maximumExecutionCount")? {
            None => Ok(1),
            Some(v) if v >= 1.0 && v.fract() == 0.0 && v <= 1e6 => Ok(v as u32),
            Some(v) => Err(self.err(
                n,
                format!("maximumExecutionCount {v} is not a positive integer"),
            )),
        }
    }

    fn group(&mut self, n: Node<'d, 'i>) -> R<ManeuverGroup> {
        let mut g = ManeuverGroup {
            name: self.string(n, "name")?,
            max_exec: self.max_exec(n)?,
            actors: Vec::new(),
            select_triggering: false,
            maneuvers: Vec::new(),
        };
        for c in elements(n) {
            match c.tag_name().name() {
                "Actors" => {
                    g.select_triggering = self.bool_or(c, "selectTriggeringEntities", false)?;
                    for a in elements(c) {
                        if a.has_tag_name("EntityRef") {
                            g.actors.push(self.string(a, "entityRef")?);
                        } else {
                            self.unsupported(a, "this Actors element")?;
                        }
                    }
                }
                "Maneuver" => g.maneuvers.push(self.maneuver(c)?),
                "CatalogReference" => {
                    let m = self.catalog_entry(c, |r, node| {
                        if !node.has_tag_name("Maneuver") {
                            return Err(r.err(node, "the catalog entry is not a Maneuver"));
                        }
                        r.maneuver(node)
                    })?;
                    g.maneuvers.push(m);
                }
                _ => self.unsupported(c, "this ManeuverGroup element")?,
            }
        }
        Ok(g)
    }

    fn maneuver(&mut self, n: Node<'d, 'i>) -> R<Maneuver> {
        let name = self.string(n, "name")?;
        self.scope.push();
        if let Some(d) = self.child(n, "ParameterDeclarations") {
            self.declarations(d, false)?;
        }
        let mut events = Vec::new();
        for c in elements(n) {
            match c.tag_name().name() {
                "Event" => events.push(self.event(c)?),
                "ParameterDeclarations" => {}
                _ => self.unsupported(c, "this Maneuver element")?,
            }
        }
        self.scope.pop();
        Ok(Maneuver { name, events })
    }

    fn event(&mut self, n: Node<'d, 'i>) -> R<Event> {
        let priority = match self.string(n, "priority")?.as_str() {
            "overwrite" | "override" => Priority::Override,
            "skip" => Priority::Skip,
            "parallel" => Priority::Parallel,
            other => return Err(self.err(n, format!("unknown priority {other:?}"))),
        };
        let mut e = Event {
            name: self.string(n, "name")?,
            priority,
            max_exec: self.max_exec(n)?,
            actions: Vec::new(),
            start: None,
        };
        for c in elements(n) {
            match c.tag_name().name() {
                "Action" => {
                    let name = self.string(c, "name")?;
                    let inner = self.choice(c)?;
                    let kind = match inner.tag_name().name() {
                        "PrivateAction" => self.private_action(inner)?.map(ActionKind::Private),
                        "GlobalAction" => self.global_action(inner)?,
                        _ => {
                            self.unsupported(inner, "this action")?;
                            None
                        }
                    };
                    // Skipped actions (lenient) still exist as elements that
                    // complete at once, so state conditions on them work.
                    e.actions.push(Action {
                        name,
                        kind: kind
                            .unwrap_or(ActionKind::Private(PrivateAction::Accepted("skipped"))),
                        line: self.line(c),
                    });
                }
                "StartTrigger" => e.start = Some(self.trigger(c)?),
                _ => self.unsupported(c, "this Event element")?,
            }
        }
        Ok(e)
    }

    // ------------------------------------------------------------ actions

    fn private_action(&mut self, n: Node<'d, 'i>) -> R<Option<PrivateAction>> {
        let c = self.choice(n)?;
        let name = c.tag_name().name();
        Ok(Some(match name {
            "LongitudinalAction" => {
                let a = self.choice(c)?;
                match a.tag_name().name() {
                    "SpeedAction" => {
                        let d = self.dynamics(self.req_child(a, "SpeedActionDynamics")?)?;
                        let t = self.choice(self.req_child(a, "SpeedActionTarget")?)?;
                        let target = match t.tag_name().name() {
                            "AbsoluteTargetSpeed" => SpeedTarget::Absolute(self.num(t, "value")?),
                            "RelativeTargetSpeed" => SpeedTarget::Relative {
                                entity: self.string(t, "entityRef")?,
                                value: self.num(t, "value")?,
                                factor: match self.string(t, "speedTargetValueType")?.as_str() {
                                    "delta" => false,
                                    "factor" => true,
                                    other => {
                                        return Err(self.err(
                                            t,
                                            format!("unknown speedTargetValueType {other:?}"),
                                        ));
                                    }
                                },
                                continuous: self.bool_or(t, "continuous", false)?,
                            },
                            _ => {
                                self.unsupported(t, "this speed target")?;
                                return Ok(None);
                            }
                        };
                        PrivateAction::Speed {
                            dynamics: d,
                            target,
                        }
                    }
                    "LongitudinalDistanceAction" => {
                        let distance = self.opt_num(a, "distance")?;
                        let gap = self.opt_num(a, "timeGap")?;
                        let (value, time_gap) = match (distance, gap) {
                            (Some(d), None) => (d, false),
                            (None, Some(g)) => (g, true),
                            _ => {
                                return Err(self.err(a, "give exactly one of distance and timeGap"));
                            }
                        };
                        if let Some(cs) = self.opt_string(a, "coordinateSystem")?
                            && cs != "entity"
                            && cs != "road"
                            && cs != "lane"
                        {
                            self.unsupported(a, &format!("coordinateSystem {cs:?}"))?;
                        }
                        let leading = match self
                            .opt_string(a, "displacement")?
                            .as_deref()
                            .unwrap_or("trailingReferencedEntity")
                        {
                            "leadingReferencedEntity" => true,
                            "trailingReferencedEntity" | "any" => false,
                            other => {
                                return Err(self.err(a, format!("unknown displacement {other:?}")));
                            }
                        };
                        PrivateAction::LongitudinalDistance {
                            entity: self.string(a, "entityRef")?,
                            value,
                            time_gap,
                            freespace: self.bool_or(a, "freespace", false)?,
                            continuous: self.bool_or(a, "continuous", false)?,
                            leading,
                        }
                    }
                    _ => {
                        self.unsupported(a, "this longitudinal action")?;
                        return Ok(None);
                    }
                }
            }
            "LateralAction" => {
                let a = self.choice(c)?;
                match a.tag_name().name() {
                    "LaneChangeAction" => {
                        let d = self.dynamics(self.req_child(a, "LaneChangeActionDynamics")?)?;
                        let t = self.choice(self.req_child(a, "LaneChangeTarget")?)?;
                        let target = match t.tag_name().name() {
                            "AbsoluteTargetLane" => LaneTarget::Absolute(self.int(t, "value")?),
                            "RelativeTargetLane" => LaneTarget::Relative {
                                entity: self.string(t, "entityRef")?,
                                value: self.int(t, "value")?,
                            },
                            _ => return Err(self.err(t, "unknown lane change target")),
                        };
                        PrivateAction::LaneChange {
                            dynamics: d,
                            target,
                            target_offset: self.opt_num(a, "targetLaneOffset")?.unwrap_or(0.0),
                        }
                    }
                    "LaneOffsetAction" => {
                        let d = self.req_child(a, "LaneOffsetActionDynamics")?;
                        let shape = self.shape(d)?;
                        let t = self.choice(self.req_child(a, "LaneOffsetTarget")?)?;
                        let target = match t.tag_name().name() {
                            "AbsoluteTargetLaneOffset" => {
                                OffsetTarget::Absolute(self.num(t, "value")?)
                            }
                            "RelativeTargetLaneOffset" => OffsetTarget::Relative {
                                entity: self.string(t, "entityRef")?,
                                value: self.num(t, "value")?,
                            },
                            _ => return Err(self.err(t, "unknown lane offset target")),
                        };
                        PrivateAction::LaneOffset {
                            max_lateral_acc: self.opt_num(d, "maxLateralAcc")?,
                            shape,
                            target,
                            continuous: self.bool_or(a, "continuous", false)?,
                        }
                    }
                    _ => {
                        self.unsupported(a, "this lateral action")?;
                        return Ok(None);
                    }
                }
            }
            "TeleportAction" => PrivateAction::Teleport(self.position_in(c)?),
            "RoutingAction" => {
                let a = self.choice(c)?;
                match a.tag_name().name() {
                    "AssignRouteAction" => {
                        let r = self.choice(a)?;
                        let route = match r.tag_name().name() {
                            "Route" => self.route(r)?,
                            "CatalogReference" => self.catalog_entry(r, |rd, node| {
                                if !node.has_tag_name("Route") {
                                    return Err(rd.err(node, "the catalog entry is not a Route"));
                                }
                                rd.route(node)
                            })?,
                            _ => return Err(self.err(r, "unknown route")),
                        };
                        PrivateAction::AssignRoute(route)
                    }
                    "AcquirePositionAction" => PrivateAction::AcquirePosition(self.position_in(a)?),
                    "FollowTrajectoryAction" => self.follow_trajectory(a)?,
                    _ => {
                        self.unsupported(a, "this routing action")?;
                        return Ok(None);
                    }
                }
            }
            "ActivateControllerAction" => self.activate(c)?,
            "ControllerAction" => {
                let mut out = None;
                for a in elements(c) {
                    match a.tag_name().name() {
                        "ActivateControllerAction" => out = Some(self.activate(a)?),
                        // The default controller (or the policy) stays in charge.
                        "AssignControllerAction" => {
                            out.get_or_insert(PrivateAction::Accepted("AssignControllerAction"));
                        }
                        _ => self.unsupported(a, "this controller action")?,
                    }
                }
                match out {
                    Some(a) => a,
                    None => return Ok(None),
                }
            }
            "VisibilityAction" => PrivateAction::Accepted("VisibilityAction"),
            "AppearanceAction" => PrivateAction::Accepted("AppearanceAction"),
            _ => {
                self.unsupported(c, "this private action")?;
                return Ok(None);
            }
        }))
    }

    fn activate(&self, a: Node) -> R<PrivateAction> {
        Ok(PrivateAction::ActivateController {
            lateral: self.bool_or(a, "lateral", true)?,
            longitudinal: self.bool_or(a, "longitudinal", true)?,
        })
    }

    fn route(&mut self, r: Node<'d, 'i>) -> R<Vec<Position>> {
        let mut out = Vec::new();
        for w in elements(r) {
            match w.tag_name().name() {
                "Waypoint" => out.push(self.position_in(w)?),
                "ParameterDeclarations" => {}
                _ => self.unsupported(w, "this Route element")?,
            }
        }
        if out.len() < 2 {
            return Err(self.err(r, "a route needs at least two waypoints"));
        }
        Ok(out)
    }

    fn follow_trajectory(&mut self, a: Node<'d, 'i>) -> R<PrivateAction> {
        let traj = if let Some(t) = self.child(a, "Trajectory") {
            t
        } else if let Some(tr) = self.child(a, "TrajectoryRef") {
            let inner = self.choice(tr)?;
            if inner.has_tag_name("CatalogReference") {
                self.unsupported(inner, "a trajectory from a catalog")?;
                return Ok(PrivateAction::Accepted("skipped"));
            }
            inner
        } else {
            return Err(self.err(a, "lacks its <Trajectory> or <TrajectoryRef>"));
        };
        let shape = self.choice(self.req_child(traj, "Shape")?)?;
        if !shape.has_tag_name("Polyline") {
            self.unsupported(shape, "this trajectory shape (polylines are)")?;
            return Ok(PrivateAction::Accepted("skipped"));
        }
        let mut vertices = Vec::new();
        for v in elements(shape) {
            if !v.has_tag_name("Vertex") {
                self.unsupported(v, "this Polyline element")?;
                continue;
            }
            vertices.push(Vertex {
                time: self.opt_num(v, "time")?,
                position: self.position_in(v)?,
            });
        }
        if vertices.len() < 2 {
            return Err(self.err(shape, "a polyline needs at least two vertices"));
        }
        let mut timed = false;
        let (mut scale, mut offset, mut absolute) = (1.0, 0.0, false);
        if let Some(tr) = self.child(a, "TimeReference")
            && let Some(t) = self.child(tr, "Timing")
        {
            timed = true;
            scale = self.opt_num(t, "scale")?.unwrap_or(1.0);
            offset = self.opt_num(t, "offset")?.unwrap_or(0.0);
            absolute = self.opt_string(t, "domainAbsoluteRelative")?.as_deref() == Some("absolute");
            if vertices.iter().any(|v| v.time.is_none()) {
                return Err(self.err(t, "timing needs a time on every vertex"));
            }
            if vertices.windows(2).any(|w| w[1].time < w[0].time) || scale <= 0.0 {
                return Err(self.err(t, "vertex times must not decrease and scale must be > 0"));
            }
        }
        Ok(PrivateAction::FollowTrajectory {
            vertices,
            timed,
            scale,
            offset,
            absolute,
        })
    }

    fn shape(&self, d: Node) -> R<Shape> {
        Ok(match self.string(d, "dynamicsShape")?.as_str() {
            "step" => Shape::Step,
            "linear" => Shape::Linear,
            "cubic" => Shape::Cubic,
            "sinusoidal" => Shape::Sinusoidal,
            other => return Err(self.err(d, format!("unknown dynamicsShape {other:?}"))),
        })
    }

    fn dynamics(&self, d: Node) -> R<Dynamics> {
        let shape = self.shape(d)?;
        let dimension = match self.string(d, "dynamicsDimension")?.as_str() {
            "time" => Dimension::Time,
            "distance" => Dimension::Distance,
            "rate" => Dimension::Rate,
            other => return Err(self.err(d, format!("unknown dynamicsDimension {other:?}"))),
        };
        let value = self.num(d, "value")?;
        if value < 0.0 {
            return Err(self.err(d, format!("value {value} must be >= 0")));
        }
        Ok(Dynamics {
            shape,
            dimension,
            value,
        })
    }

    fn global_action(&mut self, n: Node<'d, 'i>) -> R<Option<ActionKind>> {
        let c = self.choice(n)?;
        let g = match c.tag_name().name() {
            "EnvironmentAction" => {
                let what = elements(c)
                    .next()
                    .map(|e| {
                        e.attribute("name")
                            .or(e.attribute("entryName"))
                            .unwrap_or(e.tag_name().name())
                            .to_owned()
                    })
                    .unwrap_or_default();
                GlobalAction::Environment(what)
            }
            "EntityAction" => {
                let entity = self.string(c, "entityRef")?;
                let a = self.choice(c)?;
                match a.tag_name().name() {
                    "AddEntityAction" => GlobalAction::AddEntity {
                        entity,
                        position: self.position_in(a)?,
                    },
                    "DeleteEntityAction" => GlobalAction::DeleteEntity { entity },
                    _ => return Err(self.err(a, "unknown entity action")),
                }
            }
            "ParameterAction" => {
                let name = self.string(c, "parameterRef")?;
                let a = self.choice(c)?;
                match a.tag_name().name() {
                    "SetAction" => GlobalAction::ParameterSet {
                        name,
                        value: self.string(a, "value")?,
                    },
                    "ModifyAction" => {
                        let rule = self.choice(self.req_child(a, "Rule")?)?;
                        match rule.tag_name().name() {
                            "AddValue" => GlobalAction::ParameterAdd {
                                name,
                                value: self.num(rule, "value")?,
                            },
                            "MultiplyByValue" => GlobalAction::ParameterMultiply {
                                name,
                                value: self.num(rule, "value")?,
                            },
                            _ => return Err(self.err(rule, "unknown parameter modify rule")),
                        }
                    }
                    _ => return Err(self.err(a, "unknown parameter action")),
                }
            }
            _ => {
                self.unsupported(c, "this global action")?;
                return Ok(None);
            }
        };
        Ok(Some(ActionKind::Global(g)))
    }

    // ------------------------------------------------------------ positions

    fn position_in(&mut self, n: Node<'d, 'i>) -> R<Position> {
        let p = self.req_child(n, "Position")?;
        self.position(p)
    }

    fn orientation(&self, n: Node) -> R<Option<Orientation>> {
        let Some(o) = self.child(n, "Orientation") else {
            return Ok(None);
        };
        let relative = match self.opt_string(o, "type")?.as_deref() {
            None | Some("relative") => true,
            Some("absolute") => false,
            Some(other) => return Err(self.err(o, format!("unknown orientation type {other:?}"))),
        };
        Ok(Some(Orientation {
            h: self.opt_num(o, "h")?.unwrap_or(0.0),
            relative,
        }))
    }

    fn position(&mut self, p: Node<'d, 'i>) -> R<Position> {
        let c = self.choice(p)?;
        let o = self.orientation(c)?;
        Ok(match c.tag_name().name() {
            "WorldPosition" => Position::World {
                x: self.num(c, "x")?,
                y: self.num(c, "y")?,
                z: self.opt_num(c, "z")?.unwrap_or(0.0),
                h: self.opt_num(c, "h")?,
            },
            "RelativeWorldPosition" => Position::RelativeWorld {
                entity: self.string(c, "entityRef")?,
                dx: self.num(c, "dx")?,
                dy: self.num(c, "dy")?,
                orientation: o,
            },
            "RelativeObjectPosition" => Position::RelativeObject {
                entity: self.string(c, "entityRef")?,
                dx: self.num(c, "dx")?,
                dy: self.num(c, "dy")?,
                orientation: o,
            },
            "RoadPosition" => Position::Road {
                road: self.string(c, "roadId")?,
                s: self.num(c, "s")?,
                t: self.num(c, "t")?,
                orientation: o,
            },
            "RelativeRoadPosition" => Position::RelativeRoad {
                entity: self.string(c, "entityRef")?,
                ds: self.num(c, "ds")?,
                dt: self.num(c, "dt")?,
                orientation: o,
            },
            "LanePosition" => Position::Lane {
                road: self.string(c, "roadId")?,
                lane: self.int(c, "laneId")?,
                s: self.num(c, "s")?,
                offset: self.opt_num(c, "offset")?.unwrap_or(0.0),
                orientation: o,
            },
            "RelativeLanePosition" => {
                if self.opt_num(c, "dsLane")?.is_some() && c.attribute("ds").is_none() {
                    self.unsupported(c, "dsLane (ds is)")?;
                }
                Position::RelativeLane {
                    entity: self.string(c, "entityRef")?,
                    dlane: self.int(c, "dLane")?,
                    ds: self.opt_num(c, "ds")?.unwrap_or(0.0),
                    offset: self.opt_num(c, "offset")?.unwrap_or(0.0),
                    orientation: o,
                }
            }
            _ => {
                // A position the player cannot resolve changes where things
                // are: never skipped, even when lenient.
                return Err(self.err(c, "this position type is not supported"));
            }
        })
    }

    // ------------------------------------------------------------ triggers

    fn trigger(&mut self, n: Node<'d, 'i>) -> R<Trigger> {
        let mut t = Trigger::default();
        for g in elements(n) {
            if !g.has_tag_name("ConditionGroup") {
                self.unsupported(g, "this trigger element")?;
                continue;
            }
            let mut group = Vec::new();
            for c in elements(g) {
                if !c.has_tag_name("Condition") {
                    self.unsupported(c, "this ConditionGroup element")?;
                    continue;
                }
                if let Some(cond) = self.condition(c)? {
                    group.push(cond);
                }
            }
            if !group.is_empty() {
                t.groups.push(group);
            }
        }
        Ok(t)
    }

    fn condition(&mut self, n: Node<'d, 'i>) -> R<Option<Condition>> {
        let name = self.opt_string(n, "name")?.unwrap_or_default();
        let delay = self.opt_num(n, "delay")?.unwrap_or(0.0);
        if delay < 0.0 {
            return Err(self.err(n, format!("delay {delay} must be >= 0")));
        }
        let edge = match self.string(n, "conditionEdge")?.as_str() {
            "none" => Edge::None,
            "rising" => Edge::Rising,
            "falling" => Edge::Falling,
            "risingOrFalling" => Edge::RisingOrFalling,
            other => return Err(self.err(n, format!("unknown conditionEdge {other:?}"))),
        };
        let body = self.choice(n)?;
        let kind = match body.tag_name().name() {
            "ByValueCondition" => {
                let v = self.choice(body)?;
                match v.tag_name().name() {
                    "SimulationTimeCondition" => ConditionKind::SimulationTime {
                        rule: self.rule(v)?,
                        value: self.num(v, "value")?,
                    },
                    "StoryboardElementStateCondition" => {
                        let kind = match self.string(v, "storyboardElementType")?.as_str() {
                            "story" => ElementType::Story,
                            "act" => ElementType::Act,
                            "maneuverGroup" => ElementType::ManeuverGroup,
                            "maneuver" => ElementType::Maneuver,
                            "event" => ElementType::Event,
                            "action" => ElementType::Action,
                            other => {
                                return Err(
                                    self.err(v, format!("unknown storyboardElementType {other:?}"))
                                );
                            }
                        };
                        let state = match self.string(v, "state")?.as_str() {
                            "standbyState" => ElementState::StandbyState,
                            "runningState" => ElementState::RunningState,
                            "completeState" => ElementState::CompleteState,
                            "startTransition" => ElementState::StartTransition,
                            "endTransition" => ElementState::EndTransition,
                            "stopTransition" => ElementState::StopTransition,
                            "skipTransition" => ElementState::SkipTransition,
                            other => return Err(self.err(v, format!("unknown state {other:?}"))),
                        };
                        ConditionKind::StoryboardElementState {
                            kind,
                            name: self.string(v, "storyboardElementRef")?,
                            state,
                        }
                    }
                    "ParameterCondition" => {
                        let pname = self.string(v, "parameterRef")?;
                        let pname = pname.trim_start_matches('$').to_owned();
                        if pname.starts_with("criteria_") && self.scope.get(&pname).is_none() {
                            // A ScenarioRunner pass criterion, not a condition.
                            let value = self.opt_string(v, "value")?.unwrap_or_default();
                            self.criteria.push((pname, value));
                            return Ok(None);
                        }
                        if self.scope.get(&pname).is_none() {
                            return Err(self.err(v, format!("unknown parameter `{pname}`")));
                        }
                        ConditionKind::Parameter {
                            name: pname,
                            rule: self.rule(v)?,
                            value: self.string(v, "value")?,
                        }
                    }
                    _ => {
                        self.unsupported(v, "this value condition")?;
                        return Ok(None);
                    }
                }
            }
            "ByEntityCondition" => {
                let te = self.req_child(body, "TriggeringEntities")?;
                let all = match self.string(te, "triggeringEntitiesRule")?.as_str() {
                    "any" => false,
                    "all" => true,
                    other => {
                        return Err(
                            self.err(te, format!("unknown triggeringEntitiesRule {other:?}"))
                        );
                    }
                };
                let mut entities = Vec::new();
                for e in elements(te) {
                    if e.has_tag_name("EntityRef") {
                        entities.push(self.string(e, "entityRef")?);
                    } else {
                        self.unsupported(e, "this TriggeringEntities element")?;
                    }
                }
                let ec = self.choice(self.req_child(body, "EntityCondition")?)?;
                let Some(condition) = self.entity_condition(ec)? else {
                    return Ok(None);
                };
                ConditionKind::ByEntity {
                    entities,
                    all,
                    condition,
                }
            }
            _ => return Err(self.err(body, "unknown condition")),
        };
        Ok(Some(Condition {
            name,
            delay,
            edge,
            kind,
            line: self.line(n),
        }))
    }

    /// relativeDistanceType, coordinateSystem (1.1+) or alongRoute (1.0).
    fn distance_kind(&mut self, c: Node<'d, 'i>, default: DistanceType) -> R<(DistanceType, bool)> {
        let kind = match self.opt_string(c, "relativeDistanceType")?.as_deref() {
            None => default,
            Some("longitudinal") => DistanceType::Longitudinal,
            Some("lateral") => DistanceType::Lateral,
            Some("cartesianDistance") | Some("euclidianDistance") => DistanceType::Cartesian,
            Some(other) => {
                return Err(self.err(c, format!("unknown relativeDistanceType {other:?}")));
            }
        };
        let road = match self.opt_string(c, "coordinateSystem")?.as_deref() {
            None | Some("entity") => self.bool_or(c, "alongRoute", false)?,
            Some("road") | Some("lane") => true,
            Some(other) => {
                self.unsupported(c, &format!("coordinateSystem {other:?}"))?;
                false
            }
        };
        Ok((kind, road))
    }

    fn entity_condition(&mut self, c: Node<'d, 'i>) -> R<Option<EntityCondition>> {
        Ok(Some(match c.tag_name().name() {
            "TraveledDistanceCondition" => EntityCondition::TraveledDistance(self.num(c, "value")?),
            "ReachPositionCondition" => EntityCondition::ReachPosition {
                tolerance: self.num(c, "tolerance")?,
                position: self.position_in(c)?,
            },
            "DistanceCondition" => {
                let (kind, road) = self.distance_kind(c, DistanceType::Cartesian)?;
                EntityCondition::Distance {
                    target: Target::Position(self.position_in(c)?),
                    kind,
                    road,
                    freespace: self.bool_or(c, "freespace", false)?,
                    rule: self.rule(c)?,
                    value: self.num(c, "value")?,
                }
            }
            "RelativeDistanceCondition" => {
                let (kind, road) = self.distance_kind(c, DistanceType::Cartesian)?;
                EntityCondition::Distance {
                    target: Target::Entity(self.string(c, "entityRef")?),
                    kind,
                    road,
                    freespace: self.bool_or(c, "freespace", false)?,
                    rule: self.rule(c)?,
                    value: self.num(c, "value")?,
                }
            }
            "TimeHeadwayCondition" => {
                let (kind, road) = self.distance_kind(c, DistanceType::Longitudinal)?;
                EntityCondition::TimeHeadway {
                    entity: self.string(c, "entityRef")?,
                    kind,
                    road,
                    freespace: self.bool_or(c, "freespace", false)?,
                    rule: self.rule(c)?,
                    value: self.num(c, "value")?,
                }
            }
            "TimeToCollisionCondition" => {
                let t = self.choice(self.req_child(c, "TimeToCollisionConditionTarget")?)?;
                let target = match t.tag_name().name() {
                    "EntityRef" => Target::Entity(self.string(t, "entityRef")?),
                    "Position" => Target::Position(self.position(t)?),
                    _ => return Err(self.err(t, "unknown time-to-collision target")),
                };
                EntityCondition::TimeToCollision {
                    target,
                    freespace: self.bool_or(c, "freespace", false)?,
                    rule: self.rule(c)?,
                    value: self.num(c, "value")?,
                }
            }
            "SpeedCondition" => {
                if c.attribute("direction").is_some() {
                    self.unsupported(c, "the direction attribute")?;
                }
                EntityCondition::Speed {
                    rule: self.rule(c)?,
                    value: self.num(c, "value")?,
                }
            }
            "RelativeSpeedCondition" => EntityCondition::RelativeSpeed {
                entity: self.string(c, "entityRef")?,
                rule: self.rule(c)?,
                value: self.num(c, "value")?,
            },
            "AccelerationCondition" => EntityCondition::Acceleration {
                rule: self.rule(c)?,
                value: self.num(c, "value")?,
            },
            "StandStillCondition" => EntityCondition::StandStill(self.num(c, "duration")?),
            "CollisionCondition" => {
                let t = self.choice(c)?;
                match t.tag_name().name() {
                    "EntityRef" => EntityCondition::Collision(Some(self.string(t, "entityRef")?)),
                    "ByType" => EntityCondition::Collision(None),
                    _ => return Err(self.err(t, "unknown collision target")),
                }
            }
            "EndOfRoadCondition" => EntityCondition::EndOfRoad(self.num(c, "duration")?),
            "OffroadCondition" => EntityCondition::Offroad(self.num(c, "duration")?),
            _ => {
                self.unsupported(c, "this entity condition")?;
                return Ok(None);
            }
        }))
    }
}
