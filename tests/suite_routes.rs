//! `atlas suite run` over a Leaderboard route file end to end: the suite's
//! `routes` key with a `route_ids` filter expands to one run per route, each
//! run goes through the in-process services (real gRPC) with the route id in
//! the request, and the manifest, the per-run records and `results.json`
//! carry the route ids. Bad filters fail before anything runs, naming the
//! suite file, the line and the key.

mod common;

use common::{atlas, json, ok};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

fn failed(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "expected a failure\nstdout:\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn training_routes() -> PathBuf {
    let p = common::repo().join("scenarios/routes/leaderboard-1.0/routes_training.xml");
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// A suite of the training routes with `filters` (TOML lines) under the routes key.
fn write_suite(dir: &Path, filters: &str) -> PathBuf {
    let p = dir.join("routes.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"routes\"\nroutes = [\"{}\"]\n{filters}\ntimeout_s = 8\nconcurrency = 3\ndeadline_s = 120\n\n[policies]\nbaseline = \"baseline\"\n",
            training_routes().display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn a_route_file_suite_runs_one_record_per_filtered_route() {
    let dir = tempfile::tempdir().unwrap();
    // Three Town01 routes of the 50 (the other towns have no map here).
    let suite = write_suite(dir.path(), "route_ids = [\"0\", \"4\", \"7\"]");
    let out = dir.path().join("out");
    let (suite_s, out_s) = (suite.to_str().unwrap(), out.to_str().unwrap());
    let wanted: BTreeSet<String> = ["0", "4", "7"].map(String::from).into();

    // Dry run: one line per route with its id, nothing written.
    let listing = ok(&atlas(&[
        "suite",
        "run",
        suite_s,
        "--out",
        out_s,
        "--dry-run",
    ]));
    assert!(
        listing.contains("3 runs planned, 0 already finished, 3 would run now"),
        "{listing}"
    );
    // Columns: run id, kind, route, policy, seed, rep, file.
    let rows: Vec<Vec<&str>> = listing
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.get(1) == Some(&"route"))
        .collect();
    assert_eq!(rows.len(), 3, "{listing}");
    let listed: BTreeSet<String> = rows.iter().map(|c| c[2].to_string()).collect();
    assert_eq!(listed, wanted, "{listing}");
    assert!(
        rows.iter()
            .all(|c| c[3] == "baseline" && c[6].ends_with("routes_training.xml")),
        "{listing}"
    );
    assert!(!out.join("manifest.json").exists());

    // The run, through the in-process services.
    let t0 = std::time::Instant::now();
    let table = ok(&atlas(&[
        "suite", "run", suite_s, "--out", out_s, "--quiet",
    ]));
    eprintln!("route suite: 3 runs in {:.1} s", t0.elapsed().as_secs_f64());
    for id in &wanted {
        assert!(table.contains(&format!("route_{id}")), "{table}");
    }

    let m = json(&out.join("manifest.json"));
    assert_eq!(m["planned"], 3);
    let runs = m["runs"].as_object().unwrap();
    assert_eq!(runs.len(), 3, "one entry per route");
    let mut seen = BTreeSet::new();
    let mut ordinals = BTreeSet::new();
    for (run_id, e) in runs {
        assert_eq!(e["state"], "finished", "{run_id}: {e}");
        assert_eq!(e["kind"], "route");
        assert!(
            e["file"].as_str().unwrap().ends_with("routes_training.xml"),
            "{e}"
        );
        let route = e["route_id"].as_str().unwrap().to_string();
        // The runtime ran the route asked for: its record names it.
        let rec = &e["record"];
        assert_eq!(rec["route_id"], format!("route_{route}"), "{e}");
        assert_eq!(rec["map"], "Town01");
        assert_eq!(rec["index"], e["ordinal"]);
        assert!(rec["route_length"].as_f64().unwrap() > 100.0, "{rec}");
        // 8 simulated seconds cover part of a Leaderboard route.
        let rc = rec["score_route"].as_f64().unwrap();
        assert!(rc > 0.0 && rc < 100.0, "{run_id}: route completion {rc}");
        let dg = rec["duration_game"].as_f64().unwrap();
        assert!(dg > 0.0 && dg <= 8.5, "{run_id}: {dg} simulated seconds");
        assert_eq!(e["attempts"].as_array().unwrap().len(), 1, "{e}");
        // The per-run record and path.
        let dir = out.join("runs").join(run_id);
        let file_rec = json(&dir.join("record.json"));
        assert_eq!(&file_rec, rec);
        let traj = json(&dir.join("trajectory.json"));
        assert!(
            traj["t_x_y_yaw"].as_array().unwrap().len() > 5,
            "{run_id}: the ego's path"
        );
        seen.insert(route);
        ordinals.insert(e["ordinal"].as_u64().unwrap());
    }
    assert_eq!(seen, wanted);
    assert_eq!(ordinals, [0, 1, 2].into());
    // Distinct routes of one file are distinct runs with their own lengths.
    let lengths: BTreeSet<u64> = runs
        .values()
        .map(|e| e["record"]["route_length"].as_f64().unwrap().round() as u64)
        .collect();
    assert_eq!(lengths.len(), 3, "three different routes were run");

    // results.json: one record per run, with the route ids.
    let results = json(&out.join("results.json"));
    assert_eq!(
        results["_checkpoint"]["progress"],
        serde_json::json!([3, 3])
    );
    let records = results["_checkpoint"]["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    let in_results: BTreeSet<String> = records
        .iter()
        .map(|r| r["route_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        in_results,
        wanted.iter().map(|i| format!("route_{i}")).collect()
    );
    let indices: BTreeSet<u64> = records
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [0, 1, 2].into());
    let metrics = json(&out.join("metrics.json"));
    assert_eq!(metrics["successes"], 3);
    assert_eq!(metrics["failures"], 0);

    // Nothing left to run.
    let listing = ok(&atlas(&[
        "suite",
        "run",
        suite_s,
        "--out",
        out_s,
        "--resume",
        "--dry-run",
    ]));
    assert!(
        listing.contains("3 runs planned, 3 already finished, 0 would run now"),
        "{listing}"
    );
}

#[test]
fn bad_route_filters_name_the_suite_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let dry = |suite: &Path| {
        atlas(&[
            "suite",
            "run",
            suite.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
            "--dry-run",
        ])
    };

    // A route id the file does not have, even next to one it has.
    let s = write_suite(dir.path(), "route_ids = [\"0\", \"999\"]");
    let err = failed(&dry(&s));
    assert!(
        err.contains("routes.toml:3")
            && err.contains("`route_ids`")
            && err.contains("\"999\"")
            && err.contains("routes_training.xml"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // Only unknown ids.
    let s = write_suite(dir.path(), "route_ids = [\"route_0\"]");
    let err = failed(&dry(&s));
    assert!(
        err.contains("routes.toml:3") && err.contains("`route_ids`") && err.contains("route_0"),
        "{err}"
    );

    // A town none of the route files has.
    let s = write_suite(dir.path(), "towns = [\"Town01\", \"Town99\"]");
    let err = failed(&dry(&s));
    assert!(
        err.contains("routes.toml:3") && err.contains("`towns`") && err.contains("Town99"),
        "{err}"
    );

    // Filters that each match, but no route passes both.
    let s = write_suite(dir.path(), "route_ids = [\"0\"]\ntowns = [\"Town03\"]");
    let err = failed(&dry(&s));
    assert!(
        err.contains("routes.toml:3") && err.contains("no route"),
        "{err}"
    );

    // Route filters without route files.
    let p = dir.path().join("noroutes.toml");
    std::fs::write(
        &p,
        format!(
            "scenarios = [\"{}\"]\nroute_ids = [\"0\"]\n[policies]\nb = \"baseline\"\n",
            common::scenario_path("town01_straight_clear.toml").display()
        ),
    )
    .unwrap();
    let err = failed(&dry(&p));
    assert!(
        err.contains("noroutes.toml:2") && err.contains("`route_ids`") && err.contains("`routes`"),
        "{err}"
    );

    // The filters work: a town filter gives that town's routes.
    let s = write_suite(dir.path(), "towns = [\"Town01\"]");
    let listing = ok(&dry(&s));
    assert!(
        listing.contains("10 runs planned, 0 already finished, 10 would run now"),
        "{listing}"
    );
}

/// The shipped A/B pair (README, A/B comparison): both suites expand to the
/// same 35 runs (3 scenarios and 4 routes × 5 seeds), one policy each.
#[test]
fn the_shipped_ab_suites_plan_the_same_runs() {
    let mut plans = Vec::new();
    for (file, policy) in [
        ("suites/baseline.toml", "baseline"),
        ("suites/model.toml", "model"),
    ] {
        let out = ok(&atlas(&["suite", "run", file, "--dry-run"]));
        assert!(out.contains("35 runs planned"), "{file}: {out}");
        let rows: Vec<Vec<String>> = out
            .lines()
            .skip(2)
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect();
        assert_eq!(rows.len(), 35, "{file}: {out}");
        assert!(
            rows.iter().all(|r| r.contains(&policy.to_string())),
            "{out}"
        );
        // (kind, route, seed, file) without the run id and the policy.
        let mut keys: Vec<String> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .skip(1)
                    .filter(|c| c.as_str() != policy)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        keys.sort();
        plans.push(keys);
    }
    assert_eq!(plans[0], plans[1]);
    assert_eq!(
        plans[0].iter().filter(|k| k.starts_with("route ")).count(),
        20
    );
}
