//! Typed access to elements and attributes, with parameter references and
//! expressions resolved, and the strict or lenient handling of elements the
//! player does not implement.

use roxmltree::Node;

use super::{IGNORED, R, Reader, XoscError, elements};
use crate::expr::Value;
use crate::model::Rule;

impl<'d, 'i> Reader<'d, 'i> {
    pub(super) fn line(&self, n: Node) -> u32 {
        self.doc.text_pos_at(n.range().start).row
    }

    pub(super) fn err(&self, n: Node, message: impl Into<String>) -> XoscError {
        XoscError {
            file: self.file.clone(),
            line: self.line(n),
            element: n.tag_name().name().to_owned(),
            message: message.into(),
        }
    }

    /// An element the player does not implement: an error, or under the
    /// lenient option a warning.
    pub(super) fn unsupported(&mut self, n: Node, what: &str) -> R<()> {
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

    pub(super) fn child(&self, n: Node<'d, 'i>, name: &str) -> Option<Node<'d, 'i>> {
        elements(n).find(|c| c.has_tag_name(name))
    }

    pub(super) fn req_child(&self, n: Node<'d, 'i>, name: &str) -> R<Node<'d, 'i>> {
        self.child(n, name)
            .ok_or_else(|| self.err(n, format!("lacks its <{name}>")))
    }

    /// The single element child (for choice elements).
    pub(super) fn choice(&self, n: Node<'d, 'i>) -> R<Node<'d, 'i>> {
        elements(n)
            .find(|c| !IGNORED.contains(&c.tag_name().name()))
            .ok_or_else(|| self.err(n, "is empty"))
    }

    /// Notes that `name` of `n` was read (see [`Reader::unread_attributes`]).
    pub(super) fn touch(&self, n: Node, name: &str) {
        self.read_attrs
            .borrow_mut()
            .insert((n.id(), name.to_owned()));
    }

    /// Warnings for attributes of elements the reader read but never looked
    /// at: a misspelt attribute (`vaule=`) or one this player ignores.
    /// Elements read past whole ([`IGNORED`]) and deliberately unread
    /// attributes (`UNREAD_KNOWN`) are left out.
    pub(super) fn unread_attributes(&self) -> Vec<XoscError> {
        let read = self.read_attrs.borrow();
        // Elements read, and every element the reader went through to reach
        // them.
        let mut visited = std::collections::HashSet::new();
        for (id, _) in read.iter() {
            let mut n = self.doc.get_node(*id);
            while let Some(e) = n {
                if !visited.insert(e.id()) {
                    break;
                }
                n = e.parent_element();
            }
        }
        let mut out = Vec::new();
        for n in self.doc.descendants().filter(|n| n.is_element()) {
            if !visited.contains(&n.id()) || IGNORED.contains(&n.tag_name().name()) {
                continue;
            }
            for a in n.attributes() {
                let name = a.name();
                if super::UNREAD_KNOWN.contains(&name) || read.contains(&(n.id(), name.to_owned()))
                {
                    continue;
                }
                out.push(self.err(
                    n,
                    format!(
                        "attribute {name:?} is not read (unknown to OpenSCENARIO, or without \
                         effect here)"
                    ),
                ));
            }
        }
        out
    }

    pub(super) fn value(&self, n: Node, name: &str) -> R<Option<Value>> {
        self.touch(n, name);
        match n.attribute(name) {
            None => Ok(None),
            Some(s) => self
                .scope
                .resolve(s)
                .map(Some)
                .map_err(|m| self.err(n, format!("attribute {name}: {m}"))),
        }
    }

    pub(super) fn string(&self, n: Node, name: &str) -> R<String> {
        self.opt_string(n, name)?
            .ok_or_else(|| self.err(n, format!("lacks attribute {name}")))
    }

    pub(super) fn opt_string(&self, n: Node, name: &str) -> R<Option<String>> {
        Ok(self.value(n, name)?.map(|v| v.to_string()))
    }

    pub(super) fn num(&self, n: Node, name: &str) -> R<f64> {
        self.opt_num(n, name)?
            .ok_or_else(|| self.err(n, format!("lacks attribute {name}")))
    }

    pub(super) fn opt_num(&self, n: Node, name: &str) -> R<Option<f64>> {
        match self.value(n, name)? {
            None => Ok(None),
            Some(v) => v
                .as_num()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| self.err(n, format!("attribute {name}: {v:?} is not a number"))),
        }
    }

    pub(super) fn int(&self, n: Node, name: &str) -> R<i32> {
        let v = self.num(n, name)?;
        if v.fract() != 0.0 || v.abs() > 1e6 {
            return Err(self.err(n, format!("attribute {name}: {v} is not an integer")));
        }
        Ok(v as i32)
    }

    pub(super) fn opt_bool(&self, n: Node, name: &str) -> R<Option<bool>> {
        match self.value(n, name)? {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.err(n, format!("attribute {name}: {v:?} is not a boolean"))),
        }
    }

    pub(super) fn bool_or(&self, n: Node, name: &str, default: bool) -> R<bool> {
        Ok(self.opt_bool(n, name)?.unwrap_or(default))
    }

    pub(super) fn rule(&self, n: Node) -> R<Rule> {
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
}
