//! JUnit XML of a batch of runs, for CI systems: one `<testcase>` per run,
//! failed when its status is not `Perfect`/`Completed` (or when its driving
//! score is below a threshold, if one is set), with the scores as
//! properties. Runs that could not be carried out are `<error>`s.

use std::fmt::Write as _;
use std::path::Path;

use atlas_proto::scenario::RouteRecord;

/// When a finished run counts as a failure.
#[derive(Clone, Debug, Default)]
pub struct Rule {
    /// Fail runs whose driving score is below this (in addition to the
    /// status rule).
    pub min_score: Option<f64>,
    /// Fail runs with any infraction, even when completed.
    pub no_infractions: bool,
}

impl Rule {
    /// Why `r` fails, or None when it passes.
    pub fn failure(&self, r: &RouteRecord) -> Option<String> {
        let ds = r.scores.unwrap_or_default().score_composed;
        if !atlas_proto::leaderboard::completed(&r.status) {
            return Some(r.status.clone());
        }
        if let Some(min) = self.min_score
            && ds < min
        {
            return Some(format!("driving score {ds:.2} is below {min}"));
        }
        if self.no_infractions && r.num_infractions > 0 {
            return Some(format!("{} infraction(s)", r.num_infractions));
        }
        None
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit document: `suite` names the testsuite.
pub fn document(
    suite: &str,
    records: &[RouteRecord],
    failed: &[(String, String)],
    rule: &Rule,
) -> String {
    let failures = records.iter().filter(|r| rule.failure(r).is_some()).count();
    let time: f64 = records
        .iter()
        .map(|r| r.meta.as_ref().map_or(0.0, |m| m.duration_system))
        .sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{0}\" tests=\"{1}\" failures=\"{2}\" errors=\"{3}\" time=\"{4:.3}\">",
        esc(suite),
        records.len() + failed.len(),
        failures,
        failed.len(),
        time
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{0}\" tests=\"{1}\" failures=\"{2}\" errors=\"{3}\" skipped=\"0\" time=\"{4:.3}\">",
        esc(suite),
        records.len() + failed.len(),
        failures,
        failed.len(),
        time
    );
    for r in records {
        let s = r.scores.unwrap_or_default();
        let m = r.meta.clone().unwrap_or_default();
        let _ = writeln!(
            x,
            "    <testcase classname=\"{}.{}\" name=\"{}_{}\" time=\"{:.3}\">",
            esc(suite),
            esc(if r.map.is_empty() { "map" } else { &r.map }),
            r.index,
            esc(&r.route_id),
            m.duration_system
        );
        x.push_str("      <properties>\n");
        let props: [(&str, String); 10] = [
            ("status", r.status.clone()),
            ("score_composed", format!("{}", s.score_composed)),
            ("score_route", format!("{}", s.score_route)),
            ("score_penalty", format!("{}", s.score_penalty)),
            ("num_infractions", r.num_infractions.to_string()),
            ("route_length", format!("{}", m.route_length)),
            ("duration_game", format!("{}", m.duration_game)),
            ("map", r.map.clone()),
            ("seed", r.seed.to_string()),
            ("route_id", r.route_id.clone()),
        ];
        for (k, v) in props {
            let _ = writeln!(x, "        <property name=\"{k}\" value=\"{}\"/>", esc(&v));
        }
        x.push_str("      </properties>\n");
        if let Some(why) = rule.failure(r) {
            let mut body = String::new();
            for inf in &r.infractions {
                let _ = writeln!(
                    body,
                    "{} t={:.1}s ({:.1}, {:.1}): {}",
                    inf.category, inf.sim_time_s, inf.x, inf.y, inf.message
                );
            }
            let _ = writeln!(
                x,
                "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                esc(&why),
                esc(r.status.split(" - ").next().unwrap_or("Failed")),
                esc(&body)
            );
        }
        let _ = writeln!(
            x,
            "      <system-out>{}</system-out>",
            esc(&format!(
                "DS {:.2} RC {:.2} P {:.4}, {} infraction(s)",
                s.score_composed, s.score_route, s.score_penalty, r.num_infractions
            ))
        );
        x.push_str("    </testcase>\n");
    }
    for (name, err) in failed {
        let _ = writeln!(
            x,
            "    <testcase classname=\"{0}\" name=\"{1}\" time=\"0\">\n      <error message=\"{2}\" type=\"RunError\"/>\n    </testcase>",
            esc(suite),
            esc(name),
            esc(err)
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// Writes the document to `path`, whole ([`crate::files::write_atomic`]).
pub fn write(path: &Path, xml: &str) -> anyhow::Result<()> {
    crate::files::write_atomic(path, xml.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_proto::scenario::{Infraction, Meta, Scores};

    fn rec(id: &str, status: &str, ds: f64, n: u32) -> RouteRecord {
        RouteRecord {
            index: 1,
            route_id: id.into(),
            status: status.into(),
            num_infractions: n,
            infractions: (0..n)
                .map(|_| Infraction {
                    category: "collisions_vehicle".into(),
                    message: "Agent collided against vehicle <7> & co".into(),
                    ..Default::default()
                })
                .collect(),
            scores: Some(Scores {
                score_route: 100.0,
                score_penalty: ds / 100.0,
                score_composed: ds,
            }),
            meta: Some(Meta {
                duration_system: 1.5,
                ..Default::default()
            }),
            map: "Town01".into(),
            ..Default::default()
        }
    }

    #[test]
    fn one_testcase_per_run_with_failures_and_errors() {
        let records = [
            rec("route_0", "Perfect", 100.0, 0),
            rec("route_1", "Completed", 60.0, 1),
            rec("route_2", "Failed - Agent got blocked", 20.0, 0),
        ];
        let failed = [("bad.xml".to_string(), "InvalidArgument: line 3".to_string())];
        let xml = document("atlas", &records, &failed, &Rule::default());
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("tests"), Some("4"));
        assert_eq!(suite.attribute("failures"), Some("1"));
        assert_eq!(suite.attribute("errors"), Some("1"));
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 4);
        assert!(cases[1].children().all(|c| !c.has_tag_name("failure")));
        let failure = cases[2]
            .children()
            .find(|c| c.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            failure.attribute("message"),
            Some("Failed - Agent got blocked")
        );
        let score = cases[1]
            .descendants()
            .find(|p| p.attribute("name") == Some("score_composed"))
            .unwrap();
        assert_eq!(score.attribute("value"), Some("60"));
        assert!(cases[3].children().any(|c| c.has_tag_name("error")));

        // A score threshold makes the completed run with DS 60 fail too,
        // and its message (with <, & in it) survives escaping.
        let strict = Rule {
            min_score: Some(80.0),
            ..Default::default()
        };
        let xml = document("atlas", &records, &[], &strict);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let f: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .collect();
        assert_eq!(f.len(), 2);
        assert!(f[0].text().unwrap().contains("vehicle <7> & co"));
        assert!(f[0].attribute("message").unwrap().contains("below 80"));
    }
}
