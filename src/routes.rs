//! `atlas run` on CARLA Leaderboard route files: one run per route, chosen
//! with the Leaderboard's `--routes-subset` and a town filter, each sending
//! only its own route.

use anyhow::bail;
use atlas_proto::scenario as pb;
use atlas_scenario_format::routes::{Route, RouteFile};

/// One route of a route file, ready to send.
pub struct RouteRun {
    pub source: pb::ScenarioSource,
    pub route_id: String,
    pub town: String,
}

/// The request source of one route of `file` (read from `text`): the
/// route's own `<route>` element as a route file of its own, with the line
/// it starts on, so the runtime reads one route and names the file's lines.
pub fn source(file: &RouteFile, text: &str, route: &Route) -> pb::ScenarioSource {
    let (content, first_line) = route.alone(text);
    pb::ScenarioSource {
        file_name: file.file.clone(),
        content,
        first_line,
        ..Default::default()
    }
}

/// Parses a `--routes-subset` value: ids separated by commas, and ranges
/// `a-b` of numeric ids (both ends included), as the Leaderboard reads it.
pub fn parse_subset(spec: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) if a.trim().parse::<u64>().is_ok() && b.trim().parse::<u64>().is_ok() => {
                let (a, b): (u64, u64) = (a.trim().parse()?, b.trim().parse()?);
                if a > b || b - a > 100_000 {
                    bail!("--routes-subset: bad range {part:?}");
                }
                ids.extend((a..=b).map(|i| i.to_string()));
            }
            _ => ids.push(part.to_string()),
        }
    }
    if ids.is_empty() {
        bail!("--routes-subset: no route ids in {spec:?}");
    }
    Ok(ids)
}

/// The runs of a route file read from `text`, filtered by `subset` (route
/// ids) and `town`; an id in `subset` the file does not have is an error.
pub fn select(
    file: &RouteFile,
    text: &str,
    subset: Option<&[String]>,
    town: Option<&str>,
) -> anyhow::Result<Vec<RouteRun>> {
    if let Some(ids) = subset {
        for id in ids {
            file.route(id)?;
        }
    }
    let runs: Vec<RouteRun> = file
        .routes
        .iter()
        .filter(|r| subset.is_none_or(|ids| ids.contains(&r.id)))
        .filter(|r| town.is_none_or(|t| r.town.eq_ignore_ascii_case(t)))
        .map(|r| RouteRun {
            source: source(file, text, r),
            route_id: r.id.clone(),
            town: r.town.clone(),
        })
        .collect();
    if runs.is_empty() {
        bail!(
            "{}: no route matches{}{}",
            file.file,
            subset.map_or(String::new(), |s| format!(
                " --routes-subset {}",
                s.join(",")
            )),
            town.map_or(String::new(), |t| format!(" --town {t}"))
        );
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::client::Sources;

    /// The runs of the route file at `path`, as `atlas run` chooses them.
    fn expand(
        path: &Path,
        subset: Option<&[String]>,
        town: Option<&str>,
    ) -> anyhow::Result<Vec<RouteRun>> {
        match crate::client::read(path)? {
            Sources::Routes { file, text } => select(&file, &text, subset, town),
            Sources::One(s) => bail!("{}: not a Leaderboard route file", s.file_name),
        }
    }

    #[test]
    fn subsets_take_ids_and_ranges() {
        assert_eq!(parse_subset("0,2-4, 9").unwrap(), ["0", "2", "3", "4", "9"]);
        assert_eq!(parse_subset("route-a").unwrap(), ["route-a"]);
        assert!(parse_subset(" , ").is_err());
        assert!(parse_subset("5-2").is_err());
    }

    #[test]
    fn expand_filters_and_rejects_unknown_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.xml");
        std::fs::write(
            &p,
            r#"<routes>
  <route id="0" town="Town01"><waypoint x="1" y="2" z="0"/><waypoint x="9" y="2" z="0"/></route>
  <route id="1" town="Town02"><waypoint x="1" y="2" z="0"/><waypoint x="9" y="2" z="0"/></route>
</routes>"#,
        )
        .unwrap();
        assert_eq!(expand(&p, None, None).unwrap().len(), 2);
        let t1 = expand(&p, None, Some("town01")).unwrap();
        assert_eq!(t1.len(), 1);
        assert_eq!(t1[0].route_id, "0");
        let e = expand(&p, Some(&["7".to_string()]), None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no route with id \"7\""), "{e}");
        assert!(expand(&p, Some(&["1".to_string()]), Some("Town01")).is_err());
    }

    #[test]
    fn each_run_of_a_route_file_sends_only_its_own_route() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/routes/leaderboard-1.0/routes_training.xml");
        let text = std::fs::read_to_string(&p).unwrap();
        let whole = atlas_scenario_format::routes::parse(&text, "routes_training.xml").unwrap();
        let runs = expand(&p, None, Some("Town01")).unwrap();
        assert_eq!(runs.len(), 10);
        for run in &runs {
            let s = &run.source;
            assert_eq!(s.file_name, p.display().to_string());
            assert!(s.content.len() < text.len() / 10, "{}", s.content);
            // The request's content is a route file of one route, the run's,
            // at the line it has in the file.
            let one =
                atlas_scenario_format::routes::parse_at(&s.content, "r.xml", s.first_line).unwrap();
            assert_eq!(one.routes.len(), 1);
            let (sent, original) = (&one.routes[0], whole.route(&run.route_id).unwrap());
            assert_eq!(sent.id, run.route_id);
            assert_eq!(sent.line, original.line);
            assert_eq!(sent.positions, original.positions);
        }
    }
}
