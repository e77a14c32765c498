//! Catalogs by reference: the catalog files of the catalog directories,
//! and entries read inside their own parameter scope plus the reference's
//! assignments.

use std::collections::BTreeMap;

use roxmltree::Node;

use super::{Loaded, R, Reader, elements, parse_doc};

pub(super) struct CatalogFile {
    path: String,
    text: String,
}

impl<'d, 'i> Reader<'d, 'i> {
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
    pub(super) fn catalog_entry<T>(
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
                self.touch(a, "parameterRef");
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
                carla_frame: self.carla_frame,
                in_stop_trigger: false,
                read_attrs: Default::default(),
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
}
