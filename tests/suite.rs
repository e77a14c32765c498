//! `atlas suite run` end to end through the binary: the in-process stack with
//! the baseline and the model policy, resume, limit and dry run, cloud-task
//! mode from the environment, exit codes, and `suite compare` on two suites.

mod common;

use common::{atlas_with_env as atlas, json, ok};

use std::path::{Path, PathBuf};

fn write_suite(dir: &Path, name: &str, policy: &str, extra: &str) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "name = \"{name}\"\nscenarios = [\"{}/scenarios/town01_*.toml\"]\nseeds = [1, 2]\ntimeout_s = 5\nconcurrency = 3\n{extra}\n[policies]\n{policy} = \"{policy}\"\n",
            common::repo().display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn baseline_and_model_suites_resume_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_suite(dir.path(), "base", "baseline", "");
    let model = write_suite(dir.path(), "cand", "model", "");
    let (out_a, out_b) = (dir.path().join("a"), dir.path().join("b"));

    // Dry run: lists 3 scenarios × 2 seeds, runs nothing, writes nothing.
    let listing = ok(&atlas(
        &[
            "suite",
            "run",
            base.to_str().unwrap(),
            "--out",
            out_a.to_str().unwrap(),
            "--dry-run",
        ],
        &[],
    ));
    assert!(
        listing.contains("6 runs planned, 0 already finished, 6 would run now"),
        "{listing}"
    );
    assert!(!out_a.join("manifest.json").exists());

    // --limit 2, then --resume for the rest.
    ok(&atlas(
        &[
            "suite",
            "run",
            base.to_str().unwrap(),
            "--out",
            out_a.to_str().unwrap(),
            "--limit",
            "2",
            "--quiet",
        ],
        &[],
    ));
    let m = json(&out_a.join("manifest.json"));
    assert_eq!(m["runs"].as_object().unwrap().len(), 2);
    let table = ok(&atlas(
        &[
            "suite",
            "run",
            base.to_str().unwrap(),
            "--out",
            out_a.to_str().unwrap(),
            "--resume",
            "--quiet",
        ],
        &[],
    ));
    assert!(
        table.contains("town01_blocked") && table.contains("mean"),
        "{table}"
    );
    let m = json(&out_a.join("manifest.json"));
    let runs = m["runs"].as_object().unwrap();
    assert_eq!(runs.len(), 6);
    assert!(
        runs.values()
            .all(|e| e["state"] == "finished" && e["attempts"].as_array().unwrap().len() == 1)
    );
    let metrics = json(&out_a.join("metrics.json"));
    assert_eq!(metrics["successes"], 6);
    assert_eq!(metrics["failures"], 0);
    assert_eq!(metrics["this_invocation"]["runs"], 4);
    assert!(metrics["control_step_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert!(
        metrics["control_step_ms"]["p99"].as_f64().unwrap()
            >= metrics["control_step_ms"]["p50"].as_f64().unwrap()
    );
    let results = json(&out_a.join("results.json"));
    assert_eq!(
        results["_checkpoint"]["progress"],
        serde_json::json!([6, 6])
    );
    assert_eq!(results["entry_status"], "Finished");
    // Seeds reach the runtime: records carry them.
    let seeds: std::collections::BTreeSet<u64> = runs
        .values()
        .map(|e| e["record"]["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [1, 2].into());
    // Nothing left: a resume runs nothing.
    let again = atlas(
        &[
            "suite",
            "run",
            base.to_str().unwrap(),
            "--out",
            out_a.to_str().unwrap(),
            "--resume",
            "--quiet",
        ],
        &[],
    );
    ok(&again);
    assert_eq!(
        json(&out_a.join("metrics.json"))["this_invocation"]["runs"],
        0
    );

    // The model policy, configured from the environment as a cloud task would be.
    let o = atlas(
        &["suite", "run"],
        &[
            ("ATLAS_SUITE", &model),
            ("SAKURA_ARTIFACT_DIR", &out_b),
            ("ATLAS_QUIET", Path::new("true")),
        ],
    );
    ok(&o);
    let mb = json(&out_b.join("manifest.json"));
    assert_eq!(mb["runs"].as_object().unwrap().len(), 6);
    assert!(out_b.join("results.json").is_file() && out_b.join("metrics.json").is_file());

    // A/B: baseline (A) against the model (B).
    let cmp = dir.path().join("cmp");
    let table = ok(&atlas(
        &[
            "suite",
            "compare",
            out_a.to_str().unwrap(),
            out_b.to_str().unwrap(),
            "--out",
            cmp.to_str().unwrap(),
        ],
        &[],
    ));
    assert!(
        table.contains("town01_straight_clear") && table.contains("CI"),
        "{table}"
    );
    let s = json(&cmp.join("compare.json"));
    assert_eq!(s["pairs"], 6);
    assert_eq!(s["a"]["policy"], "baseline");
    assert_eq!(s["b"]["policy"], "model");
    let (lo, hi) = (
        s["bootstrap"]["ci_low"].as_f64().unwrap(),
        s["bootstrap"]["ci_high"].as_f64().unwrap(),
    );
    let mean = s["mean_ds_delta"].as_f64().unwrap();
    assert!(lo <= mean && mean <= hi, "{lo} {mean} {hi}");
    assert_eq!(s["per_route"].as_array().unwrap().len(), 3);
    let csv = std::fs::read_to_string(cmp.join("diff.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7);
    let samples = std::fs::read_to_string(cmp.join("diff_samples.jsonl")).unwrap();
    assert_eq!(
        samples.lines().count() as u64,
        s["differing_pairs"].as_u64().unwrap()
    );
}

#[test]
fn unreachable_policy_fails_the_task_with_every_attempt_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let p = dir.path().join("dead.toml");
    std::fs::write(
        &p,
        format!(
            "scenarios = [\"{}/scenarios/town01_straight_clear.toml\"]\ntimeout_s = 3\nmax_attempts = 2\n[policies]\ngone = \"127.0.0.1:{port}\"\n",
            common::repo().display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = atlas(
        &["suite", "run", p.to_str().unwrap(), "--quiet"],
        &[("ATLAS_ARTIFACT_DIR", &out)],
    );
    assert!(
        !o.status.success(),
        "a suite with a failed run must not exit 0"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 of 1 runs have no result"), "{err}");
    let m = json(&out.join("manifest.json"));
    let e = m["runs"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(e["state"], "failed");
    assert_eq!(e["attempts"].as_array().unwrap().len(), 2);
    assert!(e["error"].as_str().unwrap().contains("Unavailable"), "{e}");
    let metrics = json(&out.join("metrics.json"));
    assert_eq!(metrics["failures"], 1);
    assert_eq!(metrics["retries"], 1);
}

#[test]
fn bad_suite_files_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "scenarios = [\"*.toml\"]\nseeds = [1]\nrepetition = 2\n[policies]\nb = \"baseline\"\n",
    )
    .unwrap();
    let o = atlas(&["suite", "run", p.to_str().unwrap(), "--dry-run"], &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:3") && err.contains("repetition"),
        "{err}"
    );

    std::fs::write(
        &p,
        "scenarios = [\"none/*.toml\"]\n[policies]\nb = \"baseline\"\n",
    )
    .unwrap();
    let err = String::from_utf8_lossy(
        &atlas(&["suite", "run", p.to_str().unwrap(), "--dry-run"], &[]).stderr,
    )
    .into_owned();
    assert!(
        err.contains("bad.toml:1") && err.contains("matches no file"),
        "{err}"
    );

    // A scenario file that does not parse fails before anything runs.
    std::fs::write(dir.path().join("broken.toml"), "name = 3\n").unwrap();
    std::fs::write(
        &p,
        "scenarios = [\"broken.toml\"]\n[policies]\nb = \"baseline\"\n",
    )
    .unwrap();
    let o = atlas(&["suite", "run", p.to_str().unwrap(), "--dry-run"], &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("broken.toml"));

    // baseline/model need the in-process services.
    std::fs::write(
        &p,
        format!(
            "scenarios = [\"{}/scenarios/town01_blocked.toml\"]\n[policies]\nb = \"model\"\n",
            common::repo().display()
        ),
    )
    .unwrap();
    let o = atlas(
        &[
            "suite",
            "run",
            p.to_str().unwrap(),
            "--scenario-addr",
            "127.0.0.1:1",
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs the in-process services"));
}
