//! Parameter declarations: typed values, overrides from the options, and
//! declarations that refer to earlier parameters.

use roxmltree::Node;

use super::{R, Reader, elements};
use crate::expr::Value;

impl<'d, 'i> Reader<'d, 'i> {
    pub(super) fn declarations(&mut self, n: Node<'d, 'i>, overrides: bool) -> R<()> {
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
}
