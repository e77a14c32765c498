//! Leaderboard routes as runs: the route a request names, read by
//! [`atlas_scenario_format::routes`], becomes a scenario the runner plays,
//! with the route parts of the run's settings (traffic default,
//! Leaderboard timeout, the route's scenarios and reader warnings).

use atlas_proto::scenario as pb;
use atlas_scenario_format::native::Scenario;
use atlas_scenario_format::routes::{DEFAULT_TRAFFIC, Route, RouteFile};
use tonic::Status;

use crate::runner::{MapSource, RunSettings};

/// The run of the route `route_id` of `file` (may be empty when the file
/// holds one route): its scenario and map (`opendrive_xml` when sent, else
/// the route's town), with the route parts of `settings` filled.
pub fn run_of(
    file: &RouteFile,
    route_id: &str,
    opendrive_xml: &str,
    settings: &mut RunSettings,
) -> Result<(Scenario, MapSource), Status> {
    let route = if route_id.is_empty() {
        if file.routes.len() != 1 {
            return Err(Status::invalid_argument(format!(
                "{}: the file has {} routes; choose one with `options.route_id`",
                file.file,
                file.routes.len()
            )));
        }
        &file.routes[0]
    } else {
        file.route(route_id)
            .map_err(|e| Status::not_found(e.to_string()))?
    };
    settings.traffic.get_or_insert(DEFAULT_TRAFFIC);
    settings.leaderboard_timeout = true;
    settings.route_scenarios = scenario_records(route);
    settings.warnings.extend(route.warnings());
    let map = if opendrive_xml.is_empty() {
        MapSource::Name(route.town.clone())
    } else {
        MapSource::Xml(opendrive_xml.to_owned())
    };
    Ok((route.to_scenario(&file.file), map))
}

/// The route's scenarios as the record lists them: types the runtime
/// cannot play are not run.
pub fn scenario_records(route: &Route) -> Vec<pb::RouteScenario> {
    route
        .scenarios
        .iter()
        .map(|s| pb::RouteScenario {
            name: s.name.clone(),
            r#type: s.kind.clone(),
            x: s.trigger.x,
            y: s.trigger.y,
            yaw: s.trigger.yaw.unwrap_or(0.0),
            status: if s.supported() {
                "run".into()
            } else {
                format!(
                    "not run: scenario type {} is not implemented (trigger on line {})",
                    s.kind, s.line
                )
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"<routes>
  <route id="a" town="Town01"><waypoint x="1" y="2" z="0"/><waypoint x="9" y="2" z="0"/></route>
  <route id="b" town="Town02">
    <waypoints><position x="1" y="2" z="0"/><position x="9" y="2" z="0"/></waypoints>
    <scenarios>
      <scenario name="Accident_1" type="Accident"><trigger_point x="5" y="-2" z="0"/></scenario>
    </scenarios>
  </route>
</routes>"#;

    fn settings() -> RunSettings {
        RunSettings::from_options(&pb::RunOptions::default(), 0).unwrap()
    }

    #[test]
    fn the_named_route_runs_with_the_route_settings() {
        let f = atlas_scenario_format::routes::parse(TWO, "two.xml").unwrap();
        let mut s = settings();
        let (sc, map) = run_of(&f, "b", "", &mut s).unwrap();
        assert_eq!(sc.name, "route_b");
        assert!(matches!(map, MapSource::Name(ref t) if t == "Town02"));
        assert_eq!(s.traffic, Some(DEFAULT_TRAFFIC));
        assert!(s.leaderboard_timeout);
        assert_eq!(s.route_scenarios.len(), 1);
        assert_eq!(s.route_scenarios[0].y, 2.0);
        let status = &s.route_scenarios[0].status;
        assert!(
            status.starts_with("not run") && status.ends_with("line 6)"),
            "{status}"
        );
        // A sent road network is the map.
        let (_, map) = run_of(&f, "a", "<OpenDRIVE/>", &mut settings()).unwrap();
        assert!(matches!(map, MapSource::Xml(ref x) if x == "<OpenDRIVE/>"));
    }

    #[test]
    fn a_route_must_be_chosen_among_many_and_exist() {
        let f = atlas_scenario_format::routes::parse(TWO, "two.xml").unwrap();
        let e = run_of(&f, "", "", &mut settings())
            .err()
            .expect("two routes");
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("2 routes"), "{}", e.message());
        let e = run_of(&f, "zz", "", &mut settings())
            .err()
            .expect("no route zz");
        assert_eq!(e.code(), tonic::Code::NotFound);
        assert!(e.message().contains("has: a, b"), "{}", e.message());
    }
}
