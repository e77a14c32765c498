//! Entities: scenario objects (vehicles, pedestrians, misc objects), by
//! value or from a catalog, with their bounding boxes and performance.

use roxmltree::Node;

use super::{R, Reader, elements};
use crate::model::*;

impl<'d, 'i> Reader<'d, 'i> {
    pub(super) fn entities(&mut self, n: Node<'d, 'i>) -> R<Vec<Entity>> {
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
}
