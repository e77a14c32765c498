//! `atlas run` on CARLA Leaderboard route files: one run per route, chosen
//! with the Leaderboard's `--routes-subset` and a town filter.

use std::path::Path;

use anyhow::{Context, bail};
use atlas_proto::scenario as pb;

/// One route of a route file, ready to send.
pub struct RouteRun {
    pub source: pb::ScenarioSource,
    pub route_id: String,
    pub town: String,
}

/// Whether `path` names a route file (by extension: `.xml`).
pub fn is_route_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
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

/// Reads a route file and returns its runs, filtered by `subset` (route ids)
/// and `town`; an id in `subset` the file does not have is an error.
pub fn expand(
    path: &Path,
    subset: Option<&[String]>,
    town: Option<&str>,
) -> anyhow::Result<Vec<RouteRun>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let file = path.display().to_string();
    let routes = atlas_scenario::routes::parse(&text, &file)?;
    if let Some(ids) = subset {
        for id in ids {
            routes.route(id)?;
        }
    }
    let runs: Vec<RouteRun> = routes
        .routes
        .iter()
        .filter(|r| subset.is_none_or(|ids| ids.contains(&r.id)))
        .filter(|r| town.is_none_or(|t| r.town.eq_ignore_ascii_case(t)))
        .map(|r| RouteRun {
            source: pb::ScenarioSource {
                file_name: file.clone(),
                content: text.clone(),
                ..Default::default()
            },
            route_id: r.id.clone(),
            town: r.town.clone(),
        })
        .collect();
    if runs.is_empty() {
        bail!(
            "{file}: no route matches{}{}",
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
    use super::*;

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
}
