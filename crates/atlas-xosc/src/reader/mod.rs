//! Reads an OpenSCENARIO 1.0–1.2 document into a [`Scenario`]: parameter
//! declarations and references, expressions, catalogs by reference, the
//! road network, entities and the storyboard.
//!
//! Elements that would change what happens in the run but that the player
//! does not implement are errors naming the element and its line; with
//! [`Options::lenient`] they become warnings and are skipped. Elements
//! without effect on motion (file header, properties, performance, axles
//! beyond the wheelbase) are read past.
//!
//! This module holds the entry points and the reader's state; each part of
//! the document is read in its own module: `document` (root, catalog
//! locations, road network), `parameters`, `catalogs`, `entities`,
//! `storyboard`, `actions`, `positions` and `conditions`, over the typed
//! attribute access of `attributes`. [`FileSource`] says where referenced
//! files come from.

mod actions;
mod attributes;
mod catalogs;
mod conditions;
mod document;
mod entities;
mod files;
mod parameters;
mod positions;
mod storyboard;

use std::collections::BTreeMap;
use std::path::Path;

use roxmltree::{Document, Node};

use crate::expr::Scope;
use crate::model::*;

use catalogs::CatalogFile;
pub use files::{DiskFiles, FileSource, Loaded, MemoryFiles, normalise};

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
    /// Attributes the reader never reads (misspellings, ignored features)
    /// are errors instead of warnings.
    pub strict: bool,
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
        carla_frame: false,
        in_stop_trigger: false,
        read_attrs: Default::default(),
    };
    let mut sc = r.scenario(doc.root_element())?;
    let unread = r.unread_attributes();
    if opts.strict
        && let Some(e) = unread.first()
    {
        return Err(e.clone());
    }
    sc.warnings.extend(unread.iter().map(|e| e.to_string()));
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
    .map_err(|e| {
        let (line, _, message) = atlas_sim::opendrive::xml_error_at(text, &e);
        XoscError {
            file: file.into(),
            line,
            element: "xml".into(),
            message,
        }
    })
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
    /// The file is ScenarioRunner's: its `FileHeader` description starts
    /// with `CARLA:`, so world positions, headings and lateral offsets are
    /// in CARLA's left-handed frame and are mirrored into OpenDRIVE's.
    carla_frame: bool,
    /// A StopTrigger is being read: conditions named `criteria_*` there are
    /// ScenarioRunner pass criteria.
    in_stop_trigger: bool,
    /// The attributes read, by element: an attribute of a read element that
    /// was never read is unknown (a misspelling) or has no effect here.
    read_attrs: std::cell::RefCell<std::collections::HashSet<(roxmltree::NodeId, String)>>,
}

/// Attributes ATLAS knows and deliberately does not read: they describe
/// the model, the weather or the file, not the motion.
const UNREAD_KNOWN: &[&str] = &[
    "name",
    "vehicleCategory",
    "pedestrianCategory",
    "miscObjectCategory",
    "mass",
    "model",
    "model3d",
    "role",
    "author",
    "date",
    "revMajor",
    "revMinor",
    "description",
    "parameterType",
    "wheelDiameter",
    "trackWidth",
    "positionZ",
    "maxSteering",
    "maxSpeed",
    "maxAcceleration",
    "maxDeceleration",
    "maxAccelerationRate",
    "maxDecelerationRate",
    "z",
    "p",
    "r",
    "dz",
    "priority",
    "animation",
    "dateTime",
    "entryName",
    "catalogName",
    "routingAlgorithm",
    "routeStrategy",
    "closed",
];

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
