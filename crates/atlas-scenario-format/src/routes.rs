//! CARLA Leaderboard route files (XML), 1.0 and 2.x.
//!
//! ```xml
//! <routes>
//!   <!-- Leaderboard 1.0 -->
//!   <route id="0" town="Town01">
//!     <weather cloudiness="0" … />
//!     <waypoint x="338.7" y="226.75" z="0.0" pitch="0" roll="0" yaw="269.98"/>
//!   </route>
//!   <!-- Leaderboard 2.x -->
//!   <route id="1" town="Town12">
//!     <weathers><weather route_percentage="0" … /></weathers>
//!     <waypoints><position x="…" y="…" z="…"/></waypoints>
//!     <scenarios>
//!       <scenario name="Accident_1" type="Accident">
//!         <trigger_point x="…" y="…" z="…" yaw="…"/>
//!         <distance value="120"/>
//!       </scenario>
//!     </scenarios>
//!   </route>
//! </routes>
//! ```
//!
//! Positions are in CARLA's frame, whose y axis is the OpenDRIVE y axis
//! flipped (and yaw is in degrees, clockwise seen from above in the
//! OpenDRIVE frame); the reader converts them to the map frame:
//! `y = -y_carla`, `yaw = -yaw_carla`. A route becomes a [`Scenario`]: the
//! ego starts at the first position, the rest are the route. Every error
//! names the file, the line and the element; elements the reader does not
//! know are errors, not skipped.
//!
//! One route can travel alone: [`Route::alone`] cuts its `<route>` element
//! out of the file into a route file of its own, and [`parse_at`] reads
//! that with the line it started on, so its messages and records name the
//! lines of the whole file.

use std::ops::Range;

use crate::Location;
use crate::native::{self, Ego, MapRef, Placement, Scenario};

/// A route file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("{file}: line {line}: {message}")]
    Xml {
        file: String,
        line: u32,
        message: String,
    },
    #[error("{file}: line {line}: <{element}>: {message}")]
    Invalid {
        file: String,
        line: u32,
        element: String,
        message: String,
    },
    #[error("{file}: no route with id {id:?} (the file has: {known})")]
    NoSuchRoute {
        file: String,
        id: String,
        known: String,
    },
}

impl RouteError {
    /// Where the problem is.
    pub fn location(&self) -> Location {
        match self {
            RouteError::Xml { file, line, .. } => Location::new(file, Some(*line), None),
            RouteError::Invalid {
                file,
                line,
                element,
                ..
            } => Location::new(file, Some(*line), Some(element)),
            RouteError::NoSuchRoute { file, .. } => Location::new(file, None, Some("route")),
        }
    }
}

/// A position in the map frame (converted from CARLA's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    /// Radians, counter-clockwise from +x; None when the file gives none.
    pub yaw: Option<f64>,
    pub line: u32,
}

/// A weather of a route; the simulator has no weather, so it is recorded
/// only.
#[derive(Clone, Debug, PartialEq)]
pub struct Weather {
    pub route_percentage: Option<f64>,
    pub attributes: Vec<(String, String)>,
    pub line: u32,
}

/// A scenario of a Leaderboard 2.x route: its trigger point and parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteScenario {
    pub name: String,
    pub kind: String,
    pub trigger: Position,
    /// Child elements other than the trigger point: name and attributes.
    pub params: Vec<(String, Vec<(String, String)>)>,
    pub line: u32,
}

/// One route.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub id: String,
    pub town: String,
    pub positions: Vec<Position>,
    pub weathers: Vec<Weather>,
    pub scenarios: Vec<RouteScenario>,
    pub line: u32,
    /// Where its `<route>` element stands in the text it was read from
    /// (bytes).
    pub span: Range<usize>,
    /// The namespace declarations in scope around it, as attributes: what
    /// the element needs to read the same without the file around it.
    xmlns: String,
}

/// A route file: many routes.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteFile {
    pub file: String,
    pub routes: Vec<Route>,
}

impl RouteFile {
    pub fn route(&self, id: &str) -> Result<&Route, RouteError> {
        self.routes
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| RouteError::NoSuchRoute {
                file: self.file.clone(),
                id: id.into(),
                known: self
                    .routes
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

struct Ctx<'a> {
    file: &'a str,
    doc: &'a roxmltree::Document<'a>,
    /// Lines before the text's first (it is part of a larger file).
    lines_before: u32,
}

impl Ctx<'_> {
    fn line(&self, n: roxmltree::Node) -> u32 {
        self.doc.text_pos_at(n.range().start).row + self.lines_before
    }

    fn invalid(&self, n: roxmltree::Node, message: impl Into<String>) -> RouteError {
        RouteError::Invalid {
            file: self.file.into(),
            line: self.line(n),
            element: n.tag_name().name().into(),
            message: message.into(),
        }
    }

    fn number(&self, n: roxmltree::Node, attr: &str) -> Result<Option<f64>, RouteError> {
        match n.attribute(attr) {
            None => Ok(None),
            Some(v) => match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(self.invalid(n, format!("attribute {attr}={v:?} is not a finite number"))),
            },
        }
    }

    fn required(&self, n: roxmltree::Node, attr: &str) -> Result<f64, RouteError> {
        self.number(n, attr)?
            .ok_or_else(|| self.invalid(n, format!("attribute {attr} is missing")))
    }

    /// A CARLA-frame position element turned into the map frame.
    fn position(&self, n: roxmltree::Node, allowed: &[&str]) -> Result<Position, RouteError> {
        for a in n.attributes() {
            if !allowed.contains(&a.name()) {
                return Err(self.invalid(
                    n,
                    format!(
                        "unknown attribute {:?} (expected {})",
                        a.name(),
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let x = self.required(n, "x")?;
        let y = self.required(n, "y")?;
        let z = self.number(n, "z")?.unwrap_or(0.0);
        let yaw = self.number(n, "yaw")?;
        for a in ["pitch", "roll"] {
            self.number(n, a)?;
        }
        Ok(Position {
            x,
            y: -y,
            z,
            yaw: yaw.map(|d| atlas_geometry::wrap_angle(-d.to_radians())),
            line: self.line(n),
        })
    }

    fn weather(&self, n: roxmltree::Node) -> Result<Weather, RouteError> {
        let mut attributes = Vec::new();
        for a in n.attributes() {
            if a.name() != "route_percentage" {
                // Weather parameters are numbers in CARLA.
                self.number(n, a.name())?;
            }
            attributes.push((a.name().to_string(), a.value().to_string()));
        }
        if let Some(e) = n.children().find(|c| c.is_element()) {
            return Err(self.invalid(e, "a weather has no child elements"));
        }
        Ok(Weather {
            route_percentage: self.number(n, "route_percentage")?,
            attributes,
            line: self.line(n),
        })
    }

    fn scenario(&self, n: roxmltree::Node) -> Result<RouteScenario, RouteError> {
        let name = n
            .attribute("name")
            .ok_or_else(|| self.invalid(n, "attribute name is missing"))?;
        let kind = n
            .attribute("type")
            .ok_or_else(|| self.invalid(n, "attribute type is missing"))?;
        let mut trigger = None;
        let mut params = Vec::new();
        for c in n.children().filter(|c| c.is_element()) {
            if c.has_tag_name("trigger_point") {
                if trigger.is_some() {
                    return Err(self.invalid(c, "a scenario has one trigger_point"));
                }
                trigger = Some(self.position(c, &["x", "y", "z", "yaw", "pitch", "roll"])?);
            } else {
                params.push((
                    c.tag_name().name().to_string(),
                    c.attributes()
                        .map(|a| (a.name().to_string(), a.value().to_string()))
                        .collect(),
                ));
            }
        }
        Ok(RouteScenario {
            name: name.into(),
            kind: kind.into(),
            trigger: trigger.ok_or_else(|| self.invalid(n, "the trigger_point is missing"))?,
            params,
            line: self.line(n),
        })
    }

    fn route(&self, n: roxmltree::Node) -> Result<Route, RouteError> {
        let id = n
            .attribute("id")
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| self.invalid(n, "attribute id is missing"))?;
        let town = n
            .attribute("town")
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| self.invalid(n, "attribute town is missing"))?;
        let mut route = Route {
            id: id.into(),
            town: town.into(),
            positions: Vec::new(),
            weathers: Vec::new(),
            scenarios: Vec::new(),
            line: self.line(n),
            span: n.range(),
            xmlns: n.parent_element().map(declarations).unwrap_or_default(),
        };
        let mut v1 = false;
        let mut v2 = false;
        for c in n.children().filter(|c| c.is_element()) {
            match c.tag_name().name() {
                "waypoint" => {
                    v1 = true;
                    route
                        .positions
                        .push(self.position(c, &["x", "y", "z", "pitch", "roll", "yaw"])?);
                }
                "weather" => route.weathers.push(self.weather(c)?),
                "waypoints" => {
                    v2 = true;
                    for p in c.children().filter(|p| p.is_element()) {
                        if !p.has_tag_name("position") {
                            return Err(self.invalid(p, "expected <position x y z/>"));
                        }
                        route
                            .positions
                            .push(self.position(p, &["x", "y", "z", "pitch", "roll", "yaw"])?);
                    }
                }
                "weathers" => {
                    for w in c.children().filter(|w| w.is_element()) {
                        if !w.has_tag_name("weather") {
                            return Err(self.invalid(w, "expected <weather …/>"));
                        }
                        route.weathers.push(self.weather(w)?);
                    }
                }
                "scenarios" => {
                    for s in c.children().filter(|s| s.is_element()) {
                        if !s.has_tag_name("scenario") {
                            return Err(self.invalid(s, "expected <scenario name type>"));
                        }
                        route.scenarios.push(self.scenario(s)?);
                    }
                }
                other => {
                    return Err(self.invalid(
                        c,
                        format!(
                            "unknown element <{other}> in a route (expected waypoint, weather, waypoints, weathers, scenarios)"
                        ),
                    ));
                }
            }
        }
        if v1 && v2 {
            return Err(self.invalid(n, "a route mixes <waypoint> (1.0) with <waypoints> (2.x)"));
        }
        if route.positions.len() < 2 {
            return Err(self.invalid(
                n,
                format!(
                    "route {id} needs at least two positions (start and goal), has {}",
                    route.positions.len()
                ),
            ));
        }
        Ok(route)
    }
}

/// The namespaces in scope at `n` as declaring attributes (` xmlns:a="…"`).
fn declarations(n: roxmltree::Node) -> String {
    let mut out = String::new();
    for ns in n.namespaces() {
        let uri = ns
            .uri()
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;");
        match ns.name() {
            // Bound from the start; not to be declared again.
            Some("xml") => {}
            Some(prefix) => out.push_str(&format!(" xmlns:{prefix}=\"{uri}\"")),
            None => out.push_str(&format!(" xmlns=\"{uri}\"")),
        }
    }
    out
}

/// Parses route-file text; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<RouteFile, RouteError> {
    parse_at(text, file, 1)
}

/// Parses route-file text that begins on line `first_line` of `file` (0
/// and 1: the first), as [`Route::alone`] makes it.
pub fn parse_at(text: &str, file: &str, first_line: u32) -> Result<RouteFile, RouteError> {
    let lines_before = first_line.saturating_sub(1);
    let doc = roxmltree::Document::parse(text).map_err(|e| RouteError::Xml {
        file: file.into(),
        line: e.pos().row + lines_before,
        message: e.to_string(),
    })?;
    let cx = Ctx {
        file,
        doc: &doc,
        lines_before,
    };
    let root = doc.root_element();
    if !root.has_tag_name("routes") {
        return Err(cx.invalid(root, "the root element of a route file is <routes>"));
    }
    let mut routes: Vec<Route> = Vec::new();
    for n in root.children().filter(|c| c.is_element()) {
        if !n.has_tag_name("route") {
            return Err(cx.invalid(n, "expected <route id town>"));
        }
        let id = n.attribute("id").unwrap_or_default();
        if let Some(first) = routes.iter().find(|o| o.id == id) {
            return Err(cx.invalid(
                n,
                format!(
                    "route id {id:?} is used twice (first on line {})",
                    first.line
                ),
            ));
        }
        routes.push(cx.route(n)?);
    }
    if routes.is_empty() {
        return Err(cx.invalid(root, "the file has no <route>"));
    }
    Ok(RouteFile {
        file: file.into(),
        routes,
    })
}

/// Scenario types of Leaderboard routes the runtime can play. None yet: they
/// are recorded with their trigger points and listed as not run.
pub const SUPPORTED_SCENARIO_TYPES: [&str; 0] = [];

impl RouteScenario {
    /// Whether the runtime can play a scenario of this type.
    pub fn supported(&self) -> bool {
        SUPPORTED_SCENARIO_TYPES.contains(&self.kind.as_str())
    }
}

impl Route {
    /// The route as a route file of its own, and the line of the file it
    /// starts on: its `<route>` element cut from `text` (the text it was
    /// read from) inside a bare `<routes>`, on that element's first line.
    /// [`parse_at`] reads it back as this route, lines and all.
    pub fn alone(&self, text: &str) -> (String, u32) {
        let element = text.get(self.span.clone()).unwrap_or_default();
        (
            format!("<routes{}>{element}</routes>", self.xmlns),
            self.line,
        )
    }

    /// The route as a scenario the runner plays: the ego starts at the first
    /// position (heading from the file, else towards the next position) and
    /// drives the rest.
    pub fn to_scenario(&self, file: &str) -> Scenario {
        let p0 = self.positions[0];
        let p1 = self.positions[1];
        let yaw = p0.yaw.unwrap_or_else(|| (p1.y - p0.y).atan2(p1.x - p0.x));
        Scenario {
            name: format!("route_{}", self.id),
            file: file.into(),
            map: MapRef::Name(self.town.clone()),
            timeout_s: 300.0,
            blocked_s: 180.0,
            seed: 0,
            ego: Ego {
                start: Placement::World {
                    x: p0.x,
                    y: p0.y,
                    yaw,
                },
                speed: 0.0,
            },
            route: native::Route {
                waypoints: self.positions[1..]
                    .iter()
                    .map(|p| Placement::World {
                        x: p.x,
                        y: p.y,
                        yaw: p.yaw.unwrap_or(0.0),
                    })
                    .collect(),
            },
            actors: Vec::new(),
        }
    }

    /// Reader notes for the record's warnings (weather is not simulated).
    pub fn warnings(&self) -> Vec<String> {
        if self.weathers.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "route {}: {} weather setting(s) recorded but not simulated (line {})",
                self.id,
                self.weathers.len(),
                self.weathers[0].line
            )]
        }
    }
}

/// Background traffic of a route when the request sets none: vehicles and
/// pedestrians.
pub const DEFAULT_TRAFFIC: (u32, u32) = (30, 10);

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const V2: &str = r#"<?xml version="1.0"?>
<routes>
  <route id="7" town="Town01">
    <weathers>
      <weather route_percentage="0" cloudiness="5.0"/>
      <weather route_percentage="100" cloudiness="50.0"/>
    </weathers>
    <waypoints>
      <position x="10.0" y="-2.0" z="0.0"/>
      <position x="50.0" y="-2.0" z="0.0"/>
    </waypoints>
    <scenarios>
      <scenario name="Accident_1" type="Accident">
        <trigger_point x="30.0" y="-2.0" z="0.0" yaw="0"/>
        <distance value="120"/>
      </scenario>
    </scenarios>
  </route>
</routes>"#;

    #[test]
    fn reads_2x_routes_and_flips_y() {
        let f = parse(V2, "r.xml").unwrap();
        let r = f.route("7").unwrap();
        assert_eq!(r.town, "Town01");
        assert_eq!(r.positions.len(), 2);
        assert_eq!(r.positions[0].y, 2.0);
        assert_eq!(r.weathers.len(), 2);
        assert_eq!(r.scenarios[0].kind, "Accident");
        assert_eq!(r.scenarios[0].params[0].0, "distance");
        assert!(!r.scenarios[0].supported());
        let sc = r.to_scenario("r.xml");
        assert_eq!(sc.map, MapRef::Name("Town01".into()));
        // No yaw in the file: heading towards the next position (+x).
        assert!(matches!(sc.ego.start, Placement::World { yaw, .. } if yaw.abs() < 1e-12));
    }

    /// The shipped Leaderboard 1.0 training routes: text and file.
    fn training_routes() -> (String, RouteFile) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/routes/leaderboard-1.0/routes_training.xml");
        let text = std::fs::read_to_string(&path).unwrap();
        let f = parse(&text, "routes_training.xml").unwrap();
        (text, f)
    }

    #[test]
    fn reads_the_leaderboard_1_0_training_routes() {
        let (_, f) = training_routes();
        assert_eq!(f.routes.len(), 50);
        let town01: Vec<_> = f.routes.iter().filter(|r| r.town == "Town01").collect();
        assert_eq!(town01.len(), 10);
        let r0 = f.route("0").unwrap();
        // <waypoint x="338.70…" y="226.75…" yaw="269.979…"/>: y and yaw flip.
        let p = r0.positions[0];
        assert!((p.x - 338.7027893066406).abs() < 1e-9);
        assert!((p.y + 226.75003051757812).abs() < 1e-9);
        assert!((p.yaw.unwrap() - (90.0209045f64).to_radians()).abs() < 1e-4);
        assert_eq!(r0.weathers.len(), 1);
    }

    #[test]
    fn a_route_cut_out_alone_reads_back_as_itself() {
        let (text, f) = training_routes();
        for r in &f.routes {
            let (alone, first_line) = r.alone(&text);
            assert_eq!(alone.matches("<route ").count(), 1, "route {}", r.id);
            let one = parse_at(&alone, "routes_training.xml", first_line).unwrap();
            assert_eq!(one.routes.len(), 1);
            let back = &one.routes[0];
            assert_eq!(back.line, r.line);
            assert_eq!(
                *back,
                Route {
                    span: back.span.clone(),
                    ..r.clone()
                }
            );
        }
        // Errors in a route sent alone name the file's own line.
        let f = parse(V2, "r.xml").unwrap();
        let (alone, at) = f.routes[0].alone(V2);
        let bad = alone.replace("x=\"50.0\"", "x=\"fifty\"");
        let e = parse_at(&bad, "r.xml", at).unwrap_err().to_string();
        assert!(e.starts_with("r.xml: line 10: <position>"), "{e}");
        let line = |e: RouteError| e.location().line.unwrap();
        let broken = "<routes>\n<route";
        let whole = line(parse(broken, "r.xml").unwrap_err());
        assert_eq!(
            line(parse_at(broken, "r.xml", at).unwrap_err()),
            whole + at - 1
        );
        // Namespaces declared around the route go with it.
        let ns = V2
            .replace("<routes>", "<routes xmlns:c=\"urn:x&amp;y\">")
            .replace("<distance ", "<c:distance ");
        let f = parse(&ns, "r.xml").unwrap();
        let (alone, at) = f.routes[0].alone(&ns);
        assert!(
            alone.starts_with("<routes xmlns:c=\"urn:x&amp;y\">"),
            "{alone}"
        );
        assert_eq!(
            parse_at(&alone, "r.xml", at).unwrap().routes[0],
            Route {
                span: parse_at(&alone, "r.xml", at).unwrap().routes[0]
                    .span
                    .clone(),
                ..f.routes[0].clone()
            }
        );
    }

    #[test]
    fn errors_name_file_line_and_element() {
        let bad = V2.replace(r#"<position x="50.0""#, r#"<position x="fifty""#);
        let e = parse(&bad, "r.xml").unwrap_err().to_string();
        assert!(e.starts_with("r.xml: line 10: <position>"), "{e}");
        assert!(e.contains("x=\"fifty\""), "{e}");

        let bad = V2.replace("<scenarios>", "<scenarios><bogus/>");
        let e = parse(&bad, "r.xml").unwrap_err().to_string();
        assert!(e.contains("<bogus>"), "{e}");

        let bad = V2.replace("<weathers>", "<traffic/><weathers>");
        let e = parse(&bad, "r.xml").unwrap_err().to_string();
        assert!(e.contains("unknown element <traffic>"), "{e}");

        let e = parse(
            "<routes><route id=\"1\" town=\"Town01\"/></routes>",
            "r.xml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("at least two positions"), "{e}");

        let e = parse("<routes>", "r.xml").unwrap_err().to_string();
        assert!(e.starts_with("r.xml: line 1"), "{e}");

        let two = V2.replace("</routes>", "<route id=\"7\" town=\"Town01\"/></routes>");
        let e = parse(&two, "r.xml").unwrap_err().to_string();
        assert!(e.contains("used twice"), "{e}");

        let f = parse(V2, "r.xml").unwrap();
        let e = f.route("9").unwrap_err().to_string();
        assert!(e.contains("has: 7"), "{e}");
    }
}
