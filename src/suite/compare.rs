//! `atlas suite compare A B`: pairs the runs of two suite outputs by route
//! (or scenario), seed and repetition, and writes per-route deltas, a diff
//! CSV, the differing samples as JSONL and a summary with a bootstrap
//! confidence interval of the mean driving-score difference.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::bail;
use serde_json::{Value, json};

use super::manifest::{Entry, Manifest, Record};
use crate::files::write_atomic;

/// Options of a comparison.
#[derive(Clone, Debug)]
pub struct Options {
    /// Only this policy of A (needed when A ran several).
    pub policy_a: Option<String>,
    pub policy_b: Option<String>,
    pub resamples: usize,
    pub seed: u64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            policy_a: None,
            policy_b: None,
            resamples: 10_000,
            seed: 0,
            level: 0.95,
        }
    }
}

/// The pairing key: kind, route id, seed, repetition.
type Key = (String, String, u64, u32);

fn side<'a>(
    m: &'a Manifest,
    dir: &Path,
    policy: &Option<String>,
    label: &str,
) -> anyhow::Result<(String, BTreeMap<Key, &'a Entry>)> {
    let fin = m.finished();
    let mut policies: Vec<&str> = fin.iter().map(|e| e.policy.as_str()).collect();
    policies.sort_unstable();
    policies.dedup();
    let chosen = match policy {
        Some(p) if policies.contains(&p.as_str()) => p.clone(),
        Some(p) => bail!(
            "{}: suite {label} has no finished run of policy {p:?} (it has {policies:?})",
            dir.display()
        ),
        None if policies.len() == 1 => policies[0].to_string(),
        None if policies.is_empty() => {
            bail!("{}: suite {label} has no finished run", dir.display())
        }
        None => bail!(
            "{}: suite {label} ran several policies {policies:?}; choose one with --policy-{}",
            dir.display(),
            label.to_lowercase()
        ),
    };
    let mut map = BTreeMap::new();
    for e in fin.into_iter().filter(|e| e.policy == chosen) {
        let Some(r) = &e.record else { continue };
        let kind = format!("{:?}", e.kind).to_lowercase();
        map.insert((kind, r.route_id.clone(), r.seed, e.repetition), e);
    }
    Ok((chosen, map))
}

fn categories(r: &Record) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for i in &r.infractions {
        *m.entry(i.category.clone()).or_insert(0) += 1;
    }
    m
}

/// Percentile bootstrap of the mean of `diffs`: (low, high) at `level`.
pub fn bootstrap_ci(diffs: &[f64], resamples: usize, seed: u64, level: f64) -> Option<(f64, f64)> {
    if diffs.is_empty() || resamples == 0 {
        return None;
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let n = diffs.len();
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| diffs[rng.usize(..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    let at = |q: f64| means[((resamples - 1) as f64 * q).round() as usize];
    Some((at(alpha), at(1.0 - alpha)))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { s / n as f64 }
}

/// Compares suite outputs `a` and `b`, writing `compare.json`, `diff.csv` and
/// `diff_samples.jsonl` into `out`; returns the summary.
pub fn compare(a: &Path, b: &Path, out: &Path, opts: &Options) -> anyhow::Result<Value> {
    let ma = Manifest::load(a)?;
    let mb = Manifest::load(b)?;
    let (pa, sa) = side(&ma, a, &opts.policy_a, "A")?;
    let (pb, sb) = side(&mb, b, &opts.policy_b, "B")?;

    let mut csv = String::from(
        "kind,route_id,seed,repetition,run_a,run_b,status_a,status_b,ds_a,ds_b,ds_delta,rc_a,rc_b,penalty_a,penalty_b,infractions_a,infractions_b,infractions_delta\n",
    );
    let mut jsonl = String::new();
    let mut diffs = Vec::new();
    let mut groups: BTreeMap<(String, String), Vec<(&Record, &Record)>> = BTreeMap::new();
    let mut differing = 0usize;
    for (key, ea) in &sa {
        let Some(eb) = sb.get(key) else { continue };
        let (Some(ra), Some(rb)) = (&ea.record, &eb.record) else {
            continue;
        };
        let d = rb.score_composed - ra.score_composed;
        diffs.push(d);
        groups
            .entry((key.0.clone(), key.1.clone()))
            .or_default()
            .push((ra, rb));
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},{}",
            key.0,
            csv_field(&key.1),
            key.2,
            key.3,
            ea.id,
            eb.id,
            csv_field(&ra.status),
            csv_field(&rb.status),
            ra.score_composed,
            rb.score_composed,
            d,
            ra.score_route,
            rb.score_route,
            ra.score_penalty,
            rb.score_penalty,
            ra.num_infractions,
            rb.num_infractions,
            rb.num_infractions as i64 - ra.num_infractions as i64
        );
        let (ca, cb) = (categories(ra), categories(rb));
        if d.abs() > 1e-9 || ra.status != rb.status || ca != cb {
            differing += 1;
            jsonl.push_str(&serde_json::to_string(&json!({
                "kind": key.0, "route_id": key.1, "seed": key.2, "repetition": key.3,
                "ds_delta": d,
                "a": { "run": ea.id, "policy": pa, "record": ra },
                "b": { "run": eb.id, "policy": pb, "record": rb },
            }))?);
            jsonl.push('\n');
        }
    }
    let only_a = sa.keys().filter(|k| !sb.contains_key(*k)).count();
    let only_b = sb.keys().filter(|k| !sa.contains_key(*k)).count();
    if diffs.is_empty() {
        bail!(
            "{} and {} share no (route, seed, repetition); nothing to compare",
            a.display(),
            b.display()
        );
    }

    let per_group: Vec<Value> = groups
        .iter()
        .map(|((kind, route), pairs)| {
            let ds_a = mean(pairs.iter().map(|(x, _)| x.score_composed));
            let ds_b = mean(pairs.iter().map(|(_, y)| y.score_composed));
            let inf_a: u32 = pairs.iter().map(|(x, _)| x.num_infractions).sum();
            let inf_b: u32 = pairs.iter().map(|(_, y)| y.num_infractions).sum();
            let mut cats: BTreeMap<String, (usize, usize)> = BTreeMap::new();
            for (x, y) in pairs {
                for (c, n) in categories(x) {
                    cats.entry(c).or_default().0 += n;
                }
                for (c, n) in categories(y) {
                    cats.entry(c).or_default().1 += n;
                }
            }
            json!({
                "kind": kind,
                "route_id": route,
                "pairs": pairs.len(),
                "ds_a": ds_a,
                "ds_b": ds_b,
                "ds_delta": ds_b - ds_a,
                "rc_delta": mean(pairs.iter().map(|(x, y)| y.score_route - x.score_route)),
                "infractions_a": inf_a,
                "infractions_b": inf_b,
                "infractions_delta": inf_b as i64 - inf_a as i64,
                "by_category": cats.iter().map(|(c, (x, y))| (c.clone(), json!({"a": x, "b": y, "delta": *y as i64 - *x as i64}))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    let md = mean(diffs.iter().copied());
    let ci = bootstrap_ci(&diffs, opts.resamples, opts.seed, opts.level);
    let summary = json!({
        "a": { "dir": a.display().to_string(), "suite": ma.suite, "policy": pa, "runs": sa.len() },
        "b": { "dir": b.display().to_string(), "suite": mb.suite, "policy": pb, "runs": sb.len() },
        "pairs": diffs.len(),
        "unpaired_a": only_a,
        "unpaired_b": only_b,
        "differing_pairs": differing,
        "mean_ds_a": mean(sa.values().filter_map(|e| e.record.as_ref()).map(|r| r.score_composed)),
        "mean_ds_b": mean(sb.values().filter_map(|e| e.record.as_ref()).map(|r| r.score_composed)),
        "mean_ds_delta": md,
        "bootstrap": {
            "statistic": "mean of paired driving-score differences (B - A)",
            "resamples": opts.resamples,
            "seed": opts.seed,
            "level": opts.level,
            "ci_low": ci.map(|c| c.0),
            "ci_high": ci.map(|c| c.1),
        },
        "per_route": per_group,
    });
    std::fs::create_dir_all(out)?;
    write_atomic(
        &out.join("compare.json"),
        &serde_json::to_vec_pretty(&summary)?,
    )?;
    write_atomic(&out.join("diff.csv"), csv.as_bytes())?;
    write_atomic(&out.join("diff_samples.jsonl"), jsonl.as_bytes())?;
    Ok(summary)
}

/// The comparison as a table for the terminal.
pub fn table(summary: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<9} {:<32} {:>5} {:>8} {:>8} {:>8} {:>7} {:>7}",
        "kind", "route", "pairs", "DS A", "DS B", "delta", "infr A", "infr B"
    );
    for g in summary["per_route"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "{:<9} {:<32} {:>5} {:>8.2} {:>8.2} {:>+8.2} {:>7} {:>7}",
            g["kind"].as_str().unwrap_or(""),
            g["route_id"].as_str().unwrap_or(""),
            g["pairs"],
            g["ds_a"].as_f64().unwrap_or(0.0),
            g["ds_b"].as_f64().unwrap_or(0.0),
            g["ds_delta"].as_f64().unwrap_or(0.0),
            g["infractions_a"],
            g["infractions_b"],
        );
    }
    let b = &summary["bootstrap"];
    let _ = writeln!(
        s,
        "mean DS delta (B - A) over {} pairs: {:+.3}  {:.0}% CI [{:+.3}, {:+.3}] ({} resamples, seed {})",
        summary["pairs"],
        summary["mean_ds_delta"].as_f64().unwrap_or(0.0),
        b["level"].as_f64().unwrap_or(0.0) * 100.0,
        b["ci_low"].as_f64().unwrap_or(f64::NAN),
        b["ci_high"].as_f64().unwrap_or(f64::NAN),
        b["resamples"],
        b["seed"],
    );
    s
}

#[cfg(test)]
mod tests {
    use super::super::manifest::{Attempt, Manifest};
    use super::super::spec::{Kind, RunSpec};
    use super::*;
    use atlas_proto::scenario as pb;

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_mean() {
        let d: Vec<f64> = (0..40).map(|i| (i % 7) as f64 - 2.0).collect();
        let m = d.iter().sum::<f64>() / d.len() as f64;
        let (lo, hi) = bootstrap_ci(&d, 10_000, 7, 0.95).unwrap();
        assert!(lo < m && m < hi, "{lo} {m} {hi}");
        assert_eq!(bootstrap_ci(&d, 10_000, 7, 0.95), Some((lo, hi)));
        let (lo0, hi0) = bootstrap_ci(&[3.0; 10], 1000, 1, 0.95).unwrap();
        assert_eq!((lo0, hi0), (3.0, 3.0));
        assert!(bootstrap_ci(&[], 100, 1, 0.95).is_none());
    }

    fn put(m: &mut Manifest, policy: &str, route: &str, seed: u64, ds: f64, infr: &[&str]) {
        let spec = RunSpec {
            id: format!("{policy}-{route}-{seed}"),
            ordinal: m.runs.len() as u32,
            kind: Kind::Scenario,
            file: format!("{route}.toml").into(),
            route_id: None,
            policy: policy.into(),
            seed: Some(seed),
            repetition: 0,
        };
        let rec = pb::RouteRecord {
            route_id: route.into(),
            status: if ds > 99.0 {
                "Perfect".into()
            } else {
                "Completed".into()
            },
            num_infractions: infr.len() as u32,
            infractions: infr
                .iter()
                .map(|c| pb::Infraction {
                    category: c.to_string(),
                    ..Default::default()
                })
                .collect(),
            scores: Some(pb::Scores {
                score_route: 100.0,
                score_penalty: ds / 100.0,
                score_composed: ds,
            }),
            seed,
            ..Default::default()
        };
        let a = Attempt {
            n: 1,
            replica: "r".into(),
            outcome: "ok".into(),
            wall_s: 1.0,
            hedge: false,
        };
        m.finish(&spec, &rec, vec![a], 1.0);
    }

    #[test]
    fn pairs_deltas_csv_and_samples() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, out) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("cmp"),
        );
        let mut ma = Manifest::new("s", Path::new("s.toml"), 3);
        let mut mb = Manifest::new("s", Path::new("s.toml"), 3);
        put(&mut ma, "base", "r1", 1, 100.0, &[]);
        put(&mut ma, "base", "r1", 2, 100.0, &[]);
        put(&mut ma, "base", "r2", 1, 60.0, &["collisions_vehicle"]);
        put(&mut mb, "cand", "r1", 1, 100.0, &[]);
        put(&mut mb, "cand", "r1", 2, 80.0, &["red_light"]);
        put(&mut mb, "cand", "r2", 1, 60.0, &["collisions_vehicle"]);
        put(&mut mb, "cand", "r3", 1, 10.0, &[]);
        ma.write(&a).unwrap();
        mb.write(&b).unwrap();
        let s = compare(&a, &b, &out, &Options::default()).unwrap();
        assert_eq!(s["pairs"], 3);
        assert_eq!(s["unpaired_b"], 1);
        assert_eq!(s["differing_pairs"], 1);
        assert!((s["mean_ds_delta"].as_f64().unwrap() + 20.0 / 3.0).abs() < 1e-9);
        let r1 = &s["per_route"][0];
        assert_eq!(r1["route_id"], "r1");
        assert_eq!(r1["ds_delta"], -10.0);
        assert_eq!(r1["by_category"]["red_light"]["delta"], 1);
        let csv = std::fs::read_to_string(out.join("diff.csv")).unwrap();
        assert_eq!(csv.lines().count(), 4);
        let samples = std::fs::read_to_string(out.join("diff_samples.jsonl")).unwrap();
        let lines: Vec<Value> = samples
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["seed"], 2);
        assert_eq!(
            lines[0]["b"]["record"]["infractions"][0]["category"],
            "red_light"
        );
        assert!(table(&s).contains("r2"));
        // A side with two policies needs a choice.
        put(&mut ma, "other", "r1", 1, 50.0, &[]);
        ma.write(&a).unwrap();
        let e = compare(&a, &b, &out, &Options::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--policy-a"), "{e}");
    }
}
