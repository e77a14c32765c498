//! The suite file: scenarios and routes (globs) × policies × seeds ×
//! repetitions, and its expansion into runs with stable ids.
//!
//! ```toml
//! name = "nightly"
//! scenarios = ["../scenarios/*.toml"]      # globs, relative to this file
//! routes = ["routes/town01_*.xml"]
//! seeds = [1, 2, 3]                        # absent: each file's own seed
//! repetitions = 2
//! timeout_s = 20                           # simulated seconds per run (optional)
//! concurrency = 4
//! deadline_s = 300                         # wall seconds per attempt
//! max_attempts = 4
//!
//! [policies]
//! baseline = "baseline"                    # the local stack's route follower
//! candidate = "http://10.0.0.5:50051"      # any egodriver endpoint
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

/// A suite file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    pub name: Option<String>,
    #[serde(default)]
    pub scenarios: Vec<Spanned<String>>,
    #[serde(default)]
    pub routes: Vec<Spanned<String>>,
    pub policies: Spanned<BTreeMap<String, Spanned<String>>>,
    pub seeds: Option<Spanned<Vec<u64>>>,
    pub repetitions: Option<Spanned<u32>>,
    pub timeout_s: Option<Spanned<f64>>,
    pub concurrency: Option<Spanned<usize>>,
    pub deadline_s: Option<Spanned<f64>>,
    pub max_attempts: Option<Spanned<u32>>,
    /// Route files: only the routes with these ids.
    pub route_ids: Option<Spanned<Vec<String>>>,
    /// Route files: only the routes in these towns.
    pub towns: Option<Spanned<Vec<String>>>,
}

/// Where a policy's driver lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyTarget {
    /// The scenario runtime's own default driver.
    Default,
    /// The local stack's route follower (`atlas-vla --policy baseline`).
    Baseline,
    /// The local stack's candle model (`atlas-vla --policy model`).
    Model,
    /// Any egodriver endpoint, e.g. `http://host:50051`.
    Endpoint(String),
}

impl PolicyTarget {
    fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s {
            "" => Err("empty; give `default`, `baseline`, `model` or an endpoint".into()),
            "default" => Ok(Self::Default),
            "baseline" => Ok(Self::Baseline),
            "model" => Ok(Self::Model),
            e => {
                let uri = if e.contains("://") {
                    e.to_string()
                } else {
                    format!("http://{e}")
                };
                match uri.parse::<tonic::transport::Uri>() {
                    Ok(u) if u.host().is_some() && u.port_u16().is_some() => {
                        Ok(Self::Endpoint(uri))
                    }
                    _ => Err(format!(
                        "{e:?} is not `default`, `baseline`, `model` or an endpoint like http://host:port"
                    )),
                }
            }
        }
    }
}

/// Which list a file came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Scenario,
    Route,
}

/// One planned run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Stable id: hash of the file's content, the policy, the seed and the repetition.
    pub id: String,
    /// Position in the full expansion (the record's `index`).
    pub ordinal: u32,
    pub kind: Kind,
    pub file: PathBuf,
    /// The route of a route file (Leaderboard XML holds many).
    pub route_id: Option<String>,
    pub policy: String,
    pub seed: Option<u64>,
    pub repetition: u32,
}

/// A checked suite.
#[derive(Clone, Debug)]
pub struct Suite {
    pub file: PathBuf,
    pub name: String,
    pub policies: BTreeMap<String, PolicyTarget>,
    pub timeout_s: Option<f64>,
    pub concurrency: usize,
    pub deadline_s: f64,
    pub max_attempts: u32,
    pub runs: Vec<RunSpec>,
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

fn err_at(file: &Path, text: &str, at: usize, key: &str, msg: impl std::fmt::Display) -> String {
    format!("{}:{}: `{key}`: {msg}", file.display(), line_of(text, at))
}

/// The run id of `content` (a scenario or route file; `route` picks one
/// route of a route file) run by `policy` with `seed` (None: the file's own)
/// as repetition `repetition`.
pub fn run_id(
    content: &[u8],
    route: Option<&str>,
    policy: &str,
    seed: Option<u64>,
    repetition: u32,
) -> String {
    let mut h = Sha256::new();
    h.update(b"atlas-suite-run/1\0");
    h.update((content.len() as u64).to_le_bytes());
    h.update(content);
    if let Some(r) = route {
        h.update(b"route=");
        h.update((r.len() as u64).to_le_bytes());
        h.update(r.as_bytes());
    }
    h.update(policy.as_bytes());
    h.update(b"\0");
    match seed {
        Some(s) => {
            h.update(b"seed=");
            h.update(s.to_le_bytes());
        }
        None => h.update(b"seed=file"),
    }
    h.update(repetition.to_le_bytes());
    let digest = h.finalize();
    digest[..10].iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads, checks and expands the suite file at `path`.
pub fn load(path: &Path) -> Result<Suite, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse(&text, path)
}

/// Parses suite `text` read from `path` (globs resolve against its directory).
pub fn parse(text: &str, path: &Path) -> Result<Suite, String> {
    let raw: SuiteFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        format!("{}:{line}: {}", path.display(), e.message().trim_end())
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = match raw.name {
        Some(n) if !n.trim().is_empty() => n,
        _ => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "suite".into()),
    };

    let policies_at = raw.policies.span().start;
    let mut policies = BTreeMap::new();
    for (pname, target) in raw.policies.into_inner() {
        if pname.is_empty()
            || !pname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(err_at(
                path,
                text,
                target.span().start,
                &format!("policies.{pname}"),
                "policy names are letters, digits, '-', '_' or '.'",
            ));
        }
        let t = PolicyTarget::parse(target.get_ref()).map_err(|m| {
            err_at(
                path,
                text,
                target.span().start,
                &format!("policies.{pname}"),
                m,
            )
        })?;
        policies.insert(pname, t);
    }
    if policies.is_empty() {
        return Err(err_at(
            path,
            text,
            policies_at,
            "policies",
            "name at least one policy",
        ));
    }

    let seeds: Vec<Option<u64>> = match &raw.seeds {
        None => vec![None],
        Some(s) if s.get_ref().is_empty() => {
            return Err(err_at(
                path,
                text,
                s.span().start,
                "seeds",
                "empty list; leave `seeds` out to use each file's seed",
            ));
        }
        Some(s) => {
            let mut v = s.get_ref().clone();
            v.sort_unstable();
            v.dedup();
            if v.len() != s.get_ref().len() {
                return Err(err_at(
                    path,
                    text,
                    s.span().start,
                    "seeds",
                    "a seed is listed twice",
                ));
            }
            s.get_ref().iter().map(|x| Some(*x)).collect()
        }
    };
    let repetitions = match &raw.repetitions {
        None => 1,
        Some(r) if *r.get_ref() == 0 => {
            return Err(err_at(
                path,
                text,
                r.span().start,
                "repetitions",
                "must be at least 1",
            ));
        }
        Some(r) => *r.get_ref(),
    };
    let timeout_s = match &raw.timeout_s {
        None => None,
        Some(t) if !(t.get_ref().is_finite() && *t.get_ref() > 0.0) => {
            return Err(err_at(
                path,
                text,
                t.span().start,
                "timeout_s",
                "must be a positive number of seconds",
            ));
        }
        Some(t) => Some(*t.get_ref()),
    };
    let concurrency = match &raw.concurrency {
        None => 2,
        Some(c) if *c.get_ref() == 0 => {
            return Err(err_at(
                path,
                text,
                c.span().start,
                "concurrency",
                "must be at least 1",
            ));
        }
        Some(c) => *c.get_ref(),
    };
    let deadline_s = match &raw.deadline_s {
        None => 600.0,
        Some(d) if !(d.get_ref().is_finite() && *d.get_ref() > 0.0) => {
            return Err(err_at(
                path,
                text,
                d.span().start,
                "deadline_s",
                "must be a positive number of seconds",
            ));
        }
        Some(d) => *d.get_ref(),
    };
    let max_attempts = match &raw.max_attempts {
        None => 4,
        Some(m) if *m.get_ref() == 0 => {
            return Err(err_at(
                path,
                text,
                m.span().start,
                "max_attempts",
                "must be at least 1",
            ));
        }
        Some(m) => *m.get_ref(),
    };

    // Files: every glob must match something; a file named twice runs once.
    let mut files: Vec<(Kind, PathBuf, Vec<u8>)> = Vec::new();
    for (kind, key, globs) in [
        (Kind::Scenario, "scenarios", &raw.scenarios),
        (Kind::Route, "routes", &raw.routes),
    ] {
        for g in globs {
            let pattern = base.join(g.get_ref());
            let pattern_s = pattern.to_string_lossy().into_owned();
            let paths = glob::glob(&pattern_s).map_err(|e| {
                err_at(
                    path,
                    text,
                    g.span().start,
                    key,
                    format!("bad glob {:?}: {e}", g.get_ref()),
                )
            })?;
            let mut matched = 0;
            for p in paths {
                let p = p.map_err(|e| err_at(path, text, g.span().start, key, e))?;
                if !p.is_file() {
                    continue;
                }
                matched += 1;
                if files.iter().any(|(_, q, _)| q == &p) {
                    continue;
                }
                let content = std::fs::read(&p).map_err(|e| {
                    err_at(
                        path,
                        text,
                        g.span().start,
                        key,
                        format!("cannot read {}: {e}", p.display()),
                    )
                })?;
                files.push((kind, p, content));
            }
            if matched == 0 {
                return Err(err_at(
                    path,
                    text,
                    g.span().start,
                    key,
                    format!("{:?} matches no file (looked for {pattern_s})", g.get_ref()),
                ));
            }
        }
    }
    if files.is_empty() {
        return Err(format!(
            "{}: name at least one file in `scenarios` or `routes`",
            path.display()
        ));
    }

    // Route files expand to their routes (after the filters).
    let want_ids = raw.route_ids.as_ref().map(|v| v.get_ref().clone());
    let want_towns = raw.towns.as_ref().map(|v| v.get_ref().clone());
    let mut route_lists: Vec<(&PathBuf, Vec<(String, String)>)> = Vec::new();
    for (kind, file, content) in &files {
        if *kind == Kind::Route {
            route_lists.push((file, routes_of(file, content)?));
        }
    }
    check_filters(
        path,
        text,
        &raw.routes,
        &raw.route_ids,
        &raw.towns,
        &route_lists,
    )?;
    let mut units: Vec<(Kind, &PathBuf, &Vec<u8>, Option<String>)> = Vec::new();
    for (kind, file, content) in &files {
        if *kind == Kind::Scenario {
            units.push((*kind, file, content, None));
            continue;
        }
        let routes = route_lists
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        for (id, town) in routes {
            let id_ok = want_ids.as_ref().is_none_or(|w| w.contains(&id));
            let town_ok = want_towns
                .as_ref()
                .is_none_or(|w| w.iter().any(|t| t.eq_ignore_ascii_case(&town)));
            if id_ok && town_ok {
                units.push((*kind, file, content, Some(id)));
            }
        }
    }
    if !raw.routes.is_empty() && !units.iter().any(|u| u.0 == Kind::Route) {
        let at = raw
            .route_ids
            .as_ref()
            .map(|v| v.span().start)
            .or(raw.towns.as_ref().map(|v| v.span().start))
            .unwrap_or(raw.routes[0].span().start);
        return Err(err_at(
            path,
            text,
            at,
            "routes",
            "no route of the route files passes `route_ids` and `towns`",
        ));
    }

    let mut runs = Vec::new();
    for (kind, file, content, route) in units {
        for pname in policies.keys() {
            for seed in &seeds {
                for rep in 0..repetitions {
                    runs.push(RunSpec {
                        id: run_id(content, route.as_deref(), pname, *seed, rep),
                        ordinal: runs.len() as u32,
                        kind,
                        file: file.clone(),
                        route_id: route.clone(),
                        policy: pname.clone(),
                        seed: *seed,
                        repetition: rep,
                    });
                }
            }
        }
    }
    // Two files with identical content would share ids; keep the first.
    let mut seen = std::collections::HashSet::new();
    runs.retain(|r| seen.insert(r.id.clone()));

    Ok(Suite {
        file: path.to_path_buf(),
        name,
        policies,
        timeout_s,
        concurrency,
        deadline_s,
        max_attempts,
        runs,
    })
}

/// `route_ids` and `towns` filter route files: each needs a `routes` list,
/// and every id or town it names must be in one of the route files (a typo
/// would otherwise drop routes from the suite without a word).
fn check_filters(
    path: &Path,
    text: &str,
    routes: &[Spanned<String>],
    route_ids: &Option<Spanned<Vec<String>>>,
    towns: &Option<Spanned<Vec<String>>>,
    route_lists: &[(&PathBuf, Vec<(String, String)>)],
) -> Result<(), String> {
    let files = || {
        route_lists
            .iter()
            .map(|(f, _)| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (key, filter, pick) in [
        (
            "route_ids",
            route_ids,
            (|r: &(String, String)| r.0.clone()) as fn(&(String, String)) -> String,
        ),
        ("towns", towns, |r: &(String, String)| r.1.clone()),
    ] {
        let Some(filter) = filter else { continue };
        let at = filter.span().start;
        if routes.is_empty() {
            return Err(err_at(
                path,
                text,
                at,
                key,
                "filters route files; name them in `routes`",
            ));
        }
        if filter.get_ref().is_empty() {
            return Err(err_at(
                path,
                text,
                at,
                key,
                format!("empty list; leave `{key}` out to run every route"),
            ));
        }
        let known: Vec<String> = route_lists
            .iter()
            .flat_map(|(_, r)| r.iter().map(pick))
            .collect();
        // Town names match as `atlas run --town` matches them, ignoring case.
        let missing: Vec<&String> = filter
            .get_ref()
            .iter()
            .filter(|w| {
                !known
                    .iter()
                    .any(|k| *k == **w || (key == "towns" && k.eq_ignore_ascii_case(w)))
            })
            .collect();
        if !missing.is_empty() {
            let mut have: Vec<&String> = Vec::new();
            for k in &known {
                if !have.contains(&k) {
                    have.push(k);
                }
            }
            let shown: Vec<String> = have.iter().take(12).map(|k| format!("{k:?}")).collect();
            let more = if have.len() > shown.len() {
                format!(", … ({} in all)", have.len())
            } else {
                String::new()
            };
            let hint = if key == "route_ids" && missing.iter().any(|m| m.starts_with("route_")) {
                "; ids are the `id` attribute of <route>, without `route_`"
            } else {
                ""
            };
            return Err(err_at(
                path,
                text,
                at,
                key,
                format!(
                    "{} not in {}; it has {}{more}{hint}",
                    missing
                        .iter()
                        .map(|m| format!("{m:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    files(),
                    shown.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The (id, town) of every `<route>` of a Leaderboard route file.
pub fn routes_of(file: &Path, content: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text =
        std::str::from_utf8(content).map_err(|e| format!("{}: not UTF-8: {e}", file.display()))?;
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("{}: {e}", file.display()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "routes" {
        return Err(format!(
            "{}:{}: the root element is <{}>, expected <routes>",
            file.display(),
            doc.text_pos_at(root.range().start).row,
            root.tag_name().name()
        ));
    }
    let mut out = Vec::new();
    for r in root.children().filter(|n| n.has_tag_name("route")) {
        let row = doc.text_pos_at(r.range().start).row;
        let id = r
            .attribute("id")
            .ok_or_else(|| format!("{}:{row}: <route> has no `id`", file.display()))?;
        let town = r.attribute("town").unwrap_or_default();
        if out.iter().any(|(i, _): &(String, String)| i == id) {
            return Err(format!(
                "{}:{row}: route id {id:?} appears twice",
                file.display()
            ));
        }
        out.push((id.to_string(), town.to_string()));
    }
    if out.is_empty() {
        return Err(format!("{}: no <route> in <routes>", file.display()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sc")).unwrap();
        std::fs::write(d.path().join("sc/a.toml"), "name = \"a\"\n").unwrap();
        std::fs::write(d.path().join("sc/b.toml"), "name = \"b\"\n").unwrap();
        d
    }

    #[test]
    fn expands_globs_policies_seeds_and_repetitions() {
        let d = suite_dir();
        let p = d.path().join("s.toml");
        let s = parse(
            "scenarios = [\"sc/*.toml\"]\nseeds = [1, 2]\nrepetitions = 3\n[policies]\nx = \"baseline\"\ny = \"127.0.0.1:9\"\n",
            &p,
        )
        .unwrap();
        assert_eq!(s.name, "s");
        assert_eq!(s.runs.len(), 2 * 2 * 2 * 3);
        assert_eq!(
            s.policies["y"],
            PolicyTarget::Endpoint("http://127.0.0.1:9".into())
        );
        let ids: std::collections::HashSet<_> = s.runs.iter().map(|r| &r.id).collect();
        assert_eq!(ids.len(), s.runs.len(), "ids are unique");
        // Stable: the same file parses to the same ids.
        let again = parse(
            "scenarios = [\"sc/*.toml\"]\nseeds = [1, 2]\nrepetitions = 3\n[policies]\nx = \"baseline\"\ny = \"127.0.0.1:9\"\n",
            &p,
        )
        .unwrap();
        assert!(s.runs.iter().zip(&again.runs).all(|(a, b)| a.id == b.id));
    }

    #[test]
    fn id_depends_on_content_policy_seed_and_repetition() {
        let base = run_id(b"x", None, "p", Some(1), 0);
        assert_eq!(base, run_id(b"x", None, "p", Some(1), 0));
        assert_ne!(base, run_id(b"y", None, "p", Some(1), 0));
        assert_ne!(base, run_id(b"x", None, "q", Some(1), 0));
        assert_ne!(base, run_id(b"x", None, "p", Some(2), 0));
        assert_ne!(base, run_id(b"x", None, "p", None, 0));
        assert_ne!(base, run_id(b"x", None, "p", Some(1), 1));
        assert_ne!(base, run_id(b"x", Some("0"), "p", Some(1), 0));
        assert_ne!(
            run_id(b"x", Some("1"), "p", Some(1), 0),
            run_id(b"x", Some("0"), "p", Some(1), 0)
        );
    }

    #[test]
    fn route_files_expand_to_their_routes_with_filters() {
        let d = suite_dir();
        std::fs::write(
            d.path().join("r.xml"),
            "<?xml version=\"1.0\"?>\n<routes>\n <route id=\"0\" town=\"Town01\"/>\n <route id=\"1\" town=\"Town03\"/>\n <route id=\"2\" town=\"Town01\"/>\n</routes>\n",
        )
        .unwrap();
        let p = d.path().join("s.toml");
        let s = parse("routes = [\"r.xml\"]\n[policies]\nx = \"baseline\"\n", &p).unwrap();
        assert_eq!(s.runs.len(), 3);
        let s = parse(
            "routes = [\"r.xml\"]\ntowns = [\"Town01\"]\n[policies]\nx = \"baseline\"\n",
            &p,
        )
        .unwrap();
        let ids: Vec<_> = s.runs.iter().map(|r| r.route_id.clone().unwrap()).collect();
        assert_eq!(ids, ["0", "2"]);
        assert!(s.runs.iter().all(|r| r.kind == Kind::Route));
        let e = parse(
            "routes = [\"r.xml\"]\nroute_ids = [\"9\"]\n[policies]\nx = \"baseline\"\n",
            &p,
        )
        .unwrap_err();
        assert!(
            e.contains("s.toml:2") && e.contains("`route_ids`") && e.contains("\"9\" not in"),
            "{e}"
        );
        assert!(
            e.contains("r.xml") && e.contains("\"0\", \"1\", \"2\""),
            "{e}"
        );
        let e = parse(
            "routes = [\"r.xml\"]\ntowns = [\"Town01\", \"Town9\"]\n[policies]\nx = \"baseline\"\n",
            &p,
        )
        .unwrap_err();
        assert!(
            e.contains("s.toml:2") && e.contains("`towns`") && e.contains("Town9"),
            "{e}"
        );
        let e = parse(
            "routes = [\"r.xml\"]\nroute_ids = [\"1\"]\ntowns = [\"Town01\"]\n[policies]\nx = \"baseline\"\n",
            &p,
        )
        .unwrap_err();
        assert!(e.contains("s.toml:2") && e.contains("no route"), "{e}");
        let e = parse(
            "scenarios = [\"sc/a.toml\"]\ntowns = [\"Town01\"]\n[policies]\nx = \"baseline\"\n",
            &p,
        )
        .unwrap_err();
        assert!(e.contains("s.toml:2") && e.contains("`routes`"), "{e}");
        std::fs::write(
            d.path().join("r.xml"),
            "<routes>\n<route town=\"Town01\"/>\n</routes>",
        )
        .unwrap();
        let e = parse("routes = [\"r.xml\"]\n[policies]\nx = \"baseline\"\n", &p).unwrap_err();
        assert!(e.contains("r.xml:2") && e.contains("`id`"), "{e}");
        // The shipped Leaderboard file: 50 routes, 10 of them in Town01.
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/routes/leaderboard-1.0/routes_training.xml");
        let content = std::fs::read(&corpus).unwrap();
        let r = routes_of(&corpus, &content).unwrap();
        assert_eq!(r.len(), 50);
        assert_eq!(r.iter().filter(|(_, t)| t == "Town01").count(), 10);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let d = suite_dir();
        let p = d.path().join("bad.toml");
        let e = parse(
            "scenarios = [\"sc/*.toml\"]\nsedes = [1]\n[policies]\nx = \"baseline\"\n",
            &p,
        )
        .unwrap_err();
        assert!(e.contains("bad.toml:2") && e.contains("sedes"), "{e}");
        let e = parse(
            "scenarios = [\"nothing/*.toml\"]\n[policies]\nx = \"baseline\"\n",
            &p,
        )
        .unwrap_err();
        assert!(
            e.contains("bad.toml:1") && e.contains("`scenarios`") && e.contains("matches no file"),
            "{e}"
        );
        let e = parse(
            "scenarios = [\"sc/a.toml\"]\n[policies]\nx = \"nope nope\"\n",
            &p,
        )
        .unwrap_err();
        assert!(e.contains("bad.toml:3") && e.contains("policies.x"), "{e}");
        let e = parse(
            "scenarios = [\"sc/a.toml\"]\nrepetitions = 0\n[policies]\nx = \"model\"\n",
            &p,
        )
        .unwrap_err();
        assert!(e.contains("bad.toml:2") && e.contains("repetitions"), "{e}");
        let e = parse("scenarios = [\"sc/a.toml\"]\n[policies]\n", &p).unwrap_err();
        assert!(e.contains("policies") && e.contains("at least one"), "{e}");
        let e = parse(
            "scenarios = [\"sc/a.toml\"]\nseeds = [1, 1]\n[policies]\nx = \"model\"\n",
            &p,
        )
        .unwrap_err();
        assert!(e.contains("bad.toml:2") && e.contains("twice"), "{e}");
        let e = parse("scenarios = \"sc/a.toml\"\n[policies]\nx = \"model\"\n", &p).unwrap_err();
        assert!(e.contains("bad.toml:1"), "{e}");
    }
}
