//! Deciding a scenario file's format, once, for every reader of this crate.
//!
//! The extension decides: `.toml` is a native scenario, `.xml` a
//! Leaderboard route file, `.xosc` OpenSCENARIO (in any case). When it says
//! nothing, the content does: a root element `<OpenSCENARIO>` or `<routes>`,
//! and otherwise (with no extension at all) TOML. Only the root element's
//! name is looked at, not the document: the reader that follows parses it.

use std::path::Path;

use crate::Error;

/// The formats ATLAS runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The native TOML scenario.
    Native,
    /// A CARLA Leaderboard route file.
    Routes,
    /// OpenSCENARIO 1.x.
    OpenScenario,
}

impl Format {
    /// The format a file name's extension names, if any.
    pub fn by_name(file: &str) -> Option<Format> {
        let ext = Path::new(file).extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(Format::Native),
            "xml" => Some(Format::Routes),
            "xosc" => Some(Format::OpenScenario),
            _ => None,
        }
    }

    /// Whether `file`'s name rules this format out: it has an extension,
    /// and not this format's.
    pub fn ruled_out_by_name(self, file: &str) -> bool {
        Path::new(file).extension().is_some() && Format::by_name(file) != Some(self)
    }

    /// The format of `text`, the content of `file`: by extension, else by
    /// the root element, else (without an extension) TOML.
    pub fn detect(file: &str, text: &str) -> Result<Format, Error> {
        if let Some(f) = Format::by_name(file) {
            return Ok(f);
        }
        let unsupported = |found: String| Error::Unsupported {
            file: file.to_owned(),
            found,
        };
        match root_element(text) {
            Some("OpenSCENARIO") => Ok(Format::OpenScenario),
            Some("routes") => Ok(Format::Routes),
            Some(other) => Err(unsupported(format!("root element <{other}>"))),
            None => match Path::new(file).extension() {
                None => Ok(Format::Native),
                Some(ext) => Err(unsupported(format!("extension .{}", ext.to_string_lossy()))),
            },
        }
    }
}

/// The name of the root element of an XML document (without its namespace
/// prefix): what follows a byte-order mark, white space, the declaration,
/// processing instructions, comments and a doctype. `None` when the text
/// does not start like XML.
fn root_element(text: &str) -> Option<&str> {
    let mut rest = text.strip_prefix('\u{feff}').unwrap_or(text);
    loop {
        rest = rest.trim_start();
        let skip = if rest.starts_with("<?") {
            rest.find("?>").map(|i| i + 2)
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|i| i + 3)
        } else if rest.starts_with("<!") {
            rest.find('>').map(|i| i + 1)
        } else {
            break;
        };
        rest = &rest[skip?..];
    }
    let tag = rest.strip_prefix('<')?;
    let end = tag
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(tag.len());
    let name = &tag[..end];
    let name = name.rsplit(':').next().unwrap_or(name);
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_decides_in_any_case() {
        assert_eq!(Format::by_name("a/b.TOML"), Some(Format::Native));
        assert_eq!(Format::by_name("routes.xml"), Some(Format::Routes));
        assert_eq!(Format::by_name("cut_in.Xosc"), Some(Format::OpenScenario));
        assert_eq!(Format::by_name("a.json"), None);
        assert_eq!(Format::by_name("noext"), None);
        assert!(Format::Native.ruled_out_by_name("a.xosc"));
        assert!(Format::Native.ruled_out_by_name("a.json"));
        assert!(!Format::Native.ruled_out_by_name("a.Toml"));
        assert!(!Format::Native.ruled_out_by_name("noext"));
        // The name wins over the content.
        assert_eq!(
            Format::detect("r.xml", "<OpenSCENARIO/>").unwrap(),
            Format::Routes
        );
    }

    #[test]
    fn without_an_extension_the_root_element_decides() {
        let xosc = "\u{feff}<?xml version=\"1.0\"?>\n<!-- a comment -->\n<OpenSCENARIO>\n";
        assert_eq!(Format::detect("s", xosc).unwrap(), Format::OpenScenario);
        assert_eq!(
            Format::detect("r", "  <routes><route/></routes>").unwrap(),
            Format::Routes
        );
        assert_eq!(
            Format::detect("r.routes", "<routes/>").unwrap(),
            Format::Routes
        );
        assert_eq!(
            Format::detect("s", "map = \"Town01\"\n").unwrap(),
            Format::Native
        );
        let e = Format::detect("x", "<scenario/>").unwrap_err().to_string();
        assert!(e.contains("root element <scenario>"), "{e}");
        let e = Format::detect("x.yaml", "map: Town01")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.yaml: unsupported scenario format: extension .yaml"),
            "{e}"
        );
    }

    #[test]
    fn the_root_element_is_found_without_parsing() {
        assert_eq!(root_element("<a:routes xmlns:a=\"u\">"), Some("routes"));
        assert_eq!(
            root_element("<!DOCTYPE x><OpenSCENARIO>"),
            Some("OpenSCENARIO")
        );
        assert_eq!(root_element("<?xml"), None);
        assert_eq!(root_element("<"), None);
        assert_eq!(root_element("name = 1"), None);
        assert_eq!(root_element(""), None);
    }
}
