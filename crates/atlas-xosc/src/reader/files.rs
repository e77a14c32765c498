//! Where a scenario's referenced files come from (disk, or files sent
//! along), and the lexical normalisation of their relative paths.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

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

/// `rel` joined to `dir` and normalised lexically (`.` and inner `..`
/// removed; leading `..` kept, as esmini's and ScenarioRunner's files
/// reach catalogs and roads beside their own directory); `None` when
/// absolute.
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
                if parts.last().is_none_or(|p| p == "..") {
                    parts.push("..".into());
                } else {
                    parts.pop();
                }
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
