//! `atlas-scenario-format`: every scenario format ATLAS runs, read in one
//! place by the CLI (which checks a file before sending it) and the
//! scenario runtime (which runs it) alike.
//!
//! A file is read once into a [`ScenarioSource`]: [`Format::detect`]
//! decides its format once (by extension, else by its content), then that
//! format's reader runs. [`load`] reads a file from disk, [`read`] a file
//! sent whole with the files it refers to. Every error names the file, and
//! where the reader knows them the line and the element
//! ([`Error::location`]).
//!
//! # Layout
//!
//! - [`format`]: deciding a file's format.
//! - [`native`]: the native TOML scenario.
//! - [`routes`]: CARLA Leaderboard route files (1.0 and 2.x).
//! - [`xosc`]: OpenSCENARIO files with their catalogs and road network
//!   (read by [`atlas_xosc`]), and the road network a run of one uses.

use std::collections::BTreeMap;
use std::path::Path;

pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod native;
pub mod routes;
pub mod xosc;

pub use format::Format;

/// A scenario file as read, in its format.
#[derive(Clone, Debug)]
pub enum ScenarioSource {
    /// A native TOML scenario.
    Native(native::Scenario),
    /// A Leaderboard route file: one run per route.
    Routes(routes::RouteFile),
    /// An OpenSCENARIO file with the files it refers to.
    OpenScenario(xosc::XoscFile),
}

impl ScenarioSource {
    pub fn format(&self) -> Format {
        match self {
            ScenarioSource::Native(_) => Format::Native,
            ScenarioSource::Routes(_) => Format::Routes,
            ScenarioSource::OpenScenario(_) => Format::OpenScenario,
        }
    }
}

/// How files are read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// OpenSCENARIO: unsupported elements that would change behaviour
    /// become warnings instead of errors.
    pub lenient: bool,
    /// OpenSCENARIO: attributes never read are errors, not warnings.
    pub strict: bool,
}

/// A scenario file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error(
        "{file}: unsupported scenario format: {found} (ATLAS runs native scenarios .toml, Leaderboard route files .xml and OpenSCENARIO .xosc; a map .xodr is named by a scenario, not run)"
    )]
    Unsupported { file: String, found: String },
    #[error("{file}: `source.files`: {key:?} must be a path relative to the scenario's directory")]
    SentFile { file: String, key: String },
    #[error(transparent)]
    Native(#[from] native::ScenarioError),
    #[error(transparent)]
    Routes(#[from] routes::RouteError),
    #[error(transparent)]
    OpenScenario(#[from] atlas_xosc::XoscError),
    #[error(transparent)]
    Map(#[from] xosc::MapError),
}

/// Where in its input a problem is: the file always, the line and the
/// element where the reader knows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<u32>,
    pub element: Option<String>,
}

impl Location {
    fn new(file: &str, line: Option<u32>, element: Option<&str>) -> Self {
        Self {
            file: file.to_owned(),
            line: line.filter(|l| *l > 0),
            element: element.map(str::to_owned),
        }
    }
}

impl Error {
    /// Where the problem is, for machine-readable error details.
    pub fn location(&self) -> Location {
        match self {
            Error::Read { file, .. } | Error::Unsupported { file, .. } => {
                Location::new(file, None, None)
            }
            Error::SentFile { file, .. } => Location::new(file, None, Some("source.files")),
            Error::Native(e) => e.location(),
            Error::Routes(e) => e.location(),
            Error::OpenScenario(e) => Location::new(&e.file, Some(e.line), Some(&e.element)),
            Error::Map(e) => e.location(),
        }
    }
}

/// A scenario file read from disk: its name for messages, its text as read
/// and what it holds.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub file: String,
    pub text: String,
    pub source: ScenarioSource,
}

/// Reads a scenario file from disk, once: OpenSCENARIO catalogs and road
/// networks come from beside it, a native scenario's relative map path
/// resolves next to it.
pub fn load(path: &Path, opts: Options) -> Result<Loaded, Error> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        file: file.clone(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    let source = match Format::detect(&file, &text)? {
        Format::Native => ScenarioSource::Native(native::parse(&text, &file, Some(base))?),
        Format::Routes => ScenarioSource::Routes(routes::parse(&text, &file)?),
        Format::OpenScenario => {
            let files = atlas_xosc::DiskFiles {
                base: base.to_path_buf(),
            };
            ScenarioSource::OpenScenario(xosc::read(&text, &file, &files, opts)?)
        }
    };
    Ok(Loaded { file, text, source })
}

/// A scenario file sent whole rather than read from disk.
#[derive(Clone, Copy, Debug)]
pub struct Sent<'a> {
    /// Its name, for messages and format detection.
    pub file: &'a str,
    pub text: &'a str,
    /// The files it refers to (OpenSCENARIO catalogs and road networks):
    /// their path relative to the file's directory, and their text.
    pub files: &'a [(&'a str, &'a str)],
    /// The line of `file` on which `text` begins (0 and 1: the first): a
    /// part of a file, such as one route of a route file, keeps the file's
    /// own line numbers in messages.
    pub first_line: u32,
}

/// Reads a scenario file sent whole, once.
pub fn read(sent: &Sent<'_>, opts: Options) -> Result<ScenarioSource, Error> {
    let (file, text) = (sent.file, sent.text);
    Ok(match Format::detect(file, text)? {
        Format::Native => ScenarioSource::Native(native::parse(text, file, None)?),
        Format::Routes => ScenarioSource::Routes(routes::parse_at(text, file, sent.first_line)?),
        Format::OpenScenario => {
            let mut files = BTreeMap::new();
            for (k, v) in sent.files {
                let key = atlas_xosc::normalise("", k).ok_or_else(|| Error::SentFile {
                    file: file.to_owned(),
                    key: (*k).to_owned(),
                })?;
                files.insert(key, (*v).to_owned());
            }
            let files = atlas_xosc::MemoryFiles(&files);
            ScenarioSource::OpenScenario(xosc::read(text, file, &files, opts)?)
        }
    })
}

/// The stem of a file name: a scenario's default name.
pub(crate) fn stem(file: &str) -> String {
    Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NATIVE: &str = "map = \"Town01\"\n[ego]\nstart = { x = 0.0, y = 0.0 }\n[route]\nwaypoints = [ { x = 50.0, y = 0.0 } ]\n";
    const ROUTES: &str = "<routes>\n  <route id=\"0\" town=\"Town01\"><waypoint x=\"1\" y=\"2\" z=\"0\"/><waypoint x=\"9\" y=\"2\" z=\"0\"/></route>\n</routes>\n";

    fn sent<'a>(file: &'a str, text: &'a str) -> Sent<'a> {
        Sent {
            file,
            text,
            files: &[],
            first_line: 0,
        }
    }

    #[test]
    fn one_function_reads_every_format_by_extension_or_content() {
        let native = read(&sent("a.toml", NATIVE), Options::default()).unwrap();
        assert_eq!(native.format(), Format::Native);
        let routes = read(&sent("r.xml", ROUTES), Options::default()).unwrap();
        assert_eq!(routes.format(), Format::Routes);
        // No extension: the content decides.
        let routes = read(&sent("r", ROUTES), Options::default()).unwrap();
        assert_eq!(routes.format(), Format::Routes);
        let native = read(&sent("a", NATIVE), Options::default()).unwrap();
        assert_eq!(native.format(), Format::Native);
        // An extension that names no format, on text that is no known XML.
        let e = read(&sent("a.json", "{}"), Options::default()).unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        assert!(e.to_string().starts_with("a.json: unsupported"), "{e}");
    }

    #[test]
    fn errors_carry_their_location() {
        let bad = ROUTES.replace("x=\"9\"", "x=\"nine\"");
        let e = read(&sent("r.xml", &bad), Options::default()).unwrap_err();
        let at = e.location();
        assert_eq!(at.file, "r.xml");
        assert_eq!(at.line, Some(2));
        assert_eq!(at.element.as_deref(), Some("waypoint"));
        let bad = NATIVE.replace("Town01", "");
        let e = read(&sent("a.toml", &bad), Options::default()).unwrap_err();
        assert_eq!(e.location().element.as_deref(), Some("map"));
        assert_eq!(e.location().line, Some(1));
    }

    #[test]
    fn load_reads_the_file_once_and_keeps_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.toml");
        std::fs::write(&p, NATIVE.replace("\"Town01\"", "\"maps/loop.xodr\"")).unwrap();
        let l = load(&p, Options::default()).unwrap();
        assert!(l.text.contains("loop.xodr"));
        let ScenarioSource::Native(sc) = l.source else {
            panic!("a native scenario");
        };
        assert_eq!(
            sc.map,
            native::MapRef::File(dir.path().join("maps/loop.xodr"))
        );
        let e = load(&dir.path().join("missing.toml"), Options::default()).unwrap_err();
        assert!(e.to_string().contains("missing.toml: cannot read"), "{e}");
    }
}
