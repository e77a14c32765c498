//! Results in the CARLA Leaderboard 2.0 JSON shape, and the table `atlas run`
//! prints.

use std::collections::BTreeMap;
use std::path::Path;

use atlas_proto::leaderboard::Category;
use atlas_proto::scenario::RouteRecord;
use serde_json::{Value, json};

/// Labels and record keys of the global infraction rates, in the Leaderboard's order.
const RATE_LABELS: [(&str, &str); 12] = [
    ("collisions_pedestrian", "Collisions with pedestrians"),
    ("collisions_vehicle", "Collisions with vehicles"),
    ("collisions_layout", "Collisions with layout"),
    ("red_light", "Red lights infractions"),
    ("stop_infraction", "Stop sign infractions"),
    ("outside_route_lanes", "Off-road infractions"),
    ("route_dev", "Route deviations"),
    ("route_timeout", "Route timeouts"),
    ("vehicle_blocked", "Agent blocked"),
    (
        "yield_emergency_vehicle_infractions",
        "Yield emergency vehicles infractions",
    ),
    ("scenario_timeouts", "Scenario timeouts"),
    ("min_speed_infractions", "Min speed infractions"),
];

fn record_json(r: &RouteRecord) -> Value {
    let mut infractions: BTreeMap<&str, Vec<String>> = Category::ALL
        .iter()
        .map(|c| (c.as_str(), Vec::new()))
        .collect();
    for inf in &r.infractions {
        infractions
            .entry(inf.category.as_str())
            .or_default()
            .push(format!(
                "{} (t={:.1}s, x={:.1}, y={:.1})",
                inf.message, inf.sim_time_s, inf.x, inf.y
            ));
    }
    let scores = r.scores.unwrap_or_default();
    let meta = r.meta.clone().unwrap_or_default();
    let timing = r.timing.unwrap_or_default();
    json!({
        "index": r.index,
        "route_id": r.route_id,
        "status": r.status,
        "num_infractions": r.num_infractions,
        "infractions": infractions,
        "scores": {
            "score_route": scores.score_route,
            "score_penalty": scores.score_penalty,
            "score_composed": scores.score_composed,
        },
        "meta": {
            "route_length": meta.route_length,
            "duration_game": meta.duration_game,
            "duration_system": meta.duration_system,
            "scenarios": meta.route_scenarios.iter().map(|s| json!({
                "name": s.name,
                "type": s.r#type,
                "trigger_point": { "x": s.x, "y": s.y, "yaw": s.yaw },
                "status": s.status,
            })).collect::<Vec<_>>(),
            "scenarios_not_run": meta.route_scenarios.iter()
                .filter(|s| s.status.starts_with("not run"))
                .map(|s| s.name.clone())
                .collect::<Vec<_>>(),
            "warnings": meta.warnings,
            "pass_criteria": meta.pass_criteria.iter().map(|c| json!({
                "name": c.name, "result": c.result, "detail": c.detail,
            })).collect::<Vec<_>>(),
            "traffic": { "vehicles": meta.traffic_vehicles, "pedestrians": meta.traffic_pedestrians },
        },
        "atlas": {
            "map": r.map,
            "seed": r.seed,
            "control_steps": timing.control_steps,
            "step_p50_ms": timing.step_p50_ms,
            "step_p99_ms": timing.step_p99_ms,
            "step_mean_ms": timing.step_mean_ms,
        }
    })
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
    (m, var.sqrt())
}

/// The whole results document for `records` (all runs finished) and `failed`
/// (runs that could not be carried out, with their error).
pub fn document(records: &[RouteRecord], failed: &[(String, String)]) -> Value {
    let ds: Vec<f64> = records
        .iter()
        .map(|r| r.scores.unwrap_or_default().score_composed)
        .collect();
    let rc: Vec<f64> = records
        .iter()
        .map(|r| r.scores.unwrap_or_default().score_route)
        .collect();
    let p: Vec<f64> = records
        .iter()
        .map(|r| r.scores.unwrap_or_default().score_penalty)
        .collect();
    let km: f64 = records
        .iter()
        .map(|r| {
            r.meta.clone().unwrap_or_default().route_length
                * r.scores.unwrap_or_default().score_route
                / 100.0
                / 1000.0
        })
        .sum();
    let mut rates = serde_json::Map::new();
    let mut values = Vec::new();
    let (m_ds, s_ds) = mean_std(&ds);
    let (m_rc, s_rc) = mean_std(&rc);
    let (m_p, s_p) = mean_std(&p);
    values.extend([m_ds, m_rc, m_p].map(|v| format!("{v:.3}")));
    for (key, _) in RATE_LABELS {
        let n = records
            .iter()
            .flat_map(|r| &r.infractions)
            .filter(|i| i.category == key)
            .count() as f64;
        let rate = if km > 0.0 { n / km } else { n };
        rates.insert(key.into(), json!(rate));
        values.push(format!("{rate:.3}"));
    }
    let mut labels = vec![
        "Avg. driving score".to_string(),
        "Avg. route completion".into(),
        "Avg. infraction penalty".into(),
    ];
    labels.extend(RATE_LABELS.iter().map(|(_, l)| l.to_string()));
    let total = records.len() + failed.len();
    let global = json!({
        "index": -1,
        "route_id": -1,
        "status": if failed.is_empty() { "Finished" } else { "Failed" },
        "infractions": rates,
        "scores_mean": { "score_composed": m_ds, "score_route": m_rc, "score_penalty": m_p },
        "scores_std_dev": { "score_composed": s_ds, "score_route": s_rc, "score_penalty": s_p },
        "meta": {
            "total_length": records.iter().map(|r| r.meta.clone().unwrap_or_default().route_length).sum::<f64>(),
            "duration_game": records.iter().map(|r| r.meta.clone().unwrap_or_default().duration_game).sum::<f64>(),
            "duration_system": records.iter().map(|r| r.meta.clone().unwrap_or_default().duration_system).sum::<f64>(),
            "km_driven": km,
            "exceptions": failed.iter().map(|(s, e)| json!([s, e])).collect::<Vec<_>>(),
        }
    });
    json!({
        "_checkpoint": {
            "global_record": global,
            "progress": [records.len(), total],
            "records": records.iter().map(record_json).collect::<Vec<_>>(),
        },
        "entry_status": if failed.is_empty() { "Finished" } else { "Crashed" },
        "eligible": failed.is_empty(),
        "sensors": ["sensor.camera.rgb"],
        "values": values,
        "labels": labels,
    })
}

/// Writes `doc` to `path` atomically (a `.tmp` file, then a rename).
pub fn write(path: &Path, doc: &Value) -> anyhow::Result<()> {
    crate::files::write_atomic(path, &serde_json::to_vec_pretty(doc)?)
}

/// The result table printed after a run.
pub fn table(records: &[RouteRecord], failed: &[(String, String)]) -> String {
    let mut out = String::new();
    let header = format!(
        "{:<28} {:<40} {:>7} {:>7} {:>7} {:>5} {:>8} {:>8} {:>9}\n",
        "scenario", "status", "RC %", "penalty", "DS", "infr", "sim s", "wall s", "step p50"
    );
    out.push_str(&header);
    out.push_str(&"-".repeat(header.len() - 1));
    out.push('\n');
    for r in records {
        let s = r.scores.unwrap_or_default();
        let m = r.meta.clone().unwrap_or_default();
        let t = r.timing.unwrap_or_default();
        out.push_str(&format!(
            "{:<28} {:<40} {:>7.1} {:>7.3} {:>7.1} {:>5} {:>8.1} {:>8.2} {:>7.2}ms\n",
            r.route_id,
            r.status,
            s.score_route,
            s.score_penalty,
            s.score_composed,
            r.num_infractions,
            m.duration_game,
            m.duration_system,
            t.step_p50_ms
        ));
    }
    for (name, err) in failed {
        out.push_str(&format!("{name:<28} ERROR: {err}\n"));
    }
    if !records.is_empty() {
        let n = records.len() as f64;
        let mean = |f: fn(&RouteRecord) -> f64| records.iter().map(f).sum::<f64>() / n;
        out.push_str(&format!(
            "{:<28} {:<40} {:>7.1} {:>7.3} {:>7.1}\n",
            "mean",
            "",
            mean(|r| r.scores.unwrap_or_default().score_route),
            mean(|r| r.scores.unwrap_or_default().score_penalty),
            mean(|r| r.scores.unwrap_or_default().score_composed),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_proto::scenario::{Infraction, Meta, Scores};

    fn record(id: &str, rc: f64, penalty: f64, length: f64, inf: &[&str]) -> RouteRecord {
        RouteRecord {
            route_id: id.into(),
            status: "Completed".into(),
            num_infractions: inf.len() as u32,
            infractions: inf
                .iter()
                .map(|c| Infraction {
                    category: c.to_string(),
                    message: "m".into(),
                    ..Default::default()
                })
                .collect(),
            scores: Some(Scores {
                score_route: rc,
                score_penalty: penalty,
                score_composed: rc * penalty,
            }),
            meta: Some(Meta {
                route_length: length,
                duration_game: 10.0,
                duration_system: 1.0,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn leaderboard_shape_means_and_rates() {
        let recs = [
            record("a", 100.0, 1.0, 1000.0, &[]),
            record("b", 50.0, 0.6, 2000.0, &["collisions_vehicle"]),
        ];
        let doc = document(&recs, &[]);
        let cp = &doc["_checkpoint"];
        assert_eq!(cp["progress"], json!([2, 2]));
        let g = &cp["global_record"];
        assert_eq!(g["scores_mean"]["score_composed"], json!(65.0));
        assert_eq!(g["scores_mean"]["score_route"], json!(75.0));
        // km driven = 1.0 * 1 km + 0.5 * 2 km = 2 km, one collision => 0.5 per km.
        assert_eq!(g["infractions"]["collisions_vehicle"], json!(0.5));
        let r = &cp["records"][1];
        assert_eq!(
            r["infractions"]["collisions_vehicle"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // Every Leaderboard category is present, empty or not.
        assert_eq!(r["infractions"].as_object().unwrap().len(), 12);
        assert_eq!(
            doc["values"].as_array().unwrap().len(),
            doc["labels"].as_array().unwrap().len()
        );
        assert_eq!(doc["entry_status"], "Finished");
        let failed = document(&recs, &[("x.toml".into(), "boom".into())]);
        assert_eq!(failed["entry_status"], "Crashed");
        assert_eq!(failed["_checkpoint"]["progress"], json!([2, 3]));
    }

    #[test]
    fn write_is_atomic_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out/results.json");
        write(&p, &json!({"a": 1})).unwrap();
        let back: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(back, json!({"a": 1}));
        assert!(!p.with_extension("json.tmp").exists());
    }

    #[test]
    fn global_record_hand_computed() {
        // Three routes: 500 m at RC 100, 1500 m at RC 40, 1000 m at RC 10.
        // km driven = 0.5 + 0.6 + 0.1 = 1.2; 3 collisions with vehicles and
        // one red light => 2.5 and 0.8333 per km.
        let recs = [
            record("a", 100.0, 0.6, 500.0, &["collisions_vehicle"]),
            record(
                "b",
                40.0,
                0.36 * 0.7,
                1500.0,
                &["collisions_vehicle", "collisions_vehicle", "red_light"],
            ),
            record("c", 10.0, 1.0, 1000.0, &[]),
        ];
        let doc = document(&recs, &[]);
        let g = &doc["_checkpoint"]["global_record"];
        let f = |v: &Value| v.as_f64().unwrap();
        assert!((f(&g["meta"]["km_driven"]) - 1.2).abs() < 1e-12);
        assert!((f(&g["infractions"]["collisions_vehicle"]) - 2.5).abs() < 1e-12);
        assert!((f(&g["infractions"]["red_light"]) - 1.0 / 1.2).abs() < 1e-12);
        assert_eq!(f(&g["infractions"]["stop_infraction"]), 0.0);
        // Means of DS = (60 + 10.08 + 10) / 3, RC = 50, P = (0.6 + 0.252 + 1) / 3.
        assert!((f(&g["scores_mean"]["score_composed"]) - 80.08 / 3.0).abs() < 1e-9);
        assert!((f(&g["scores_mean"]["score_route"]) - 50.0).abs() < 1e-12);
        assert!((f(&g["scores_mean"]["score_penalty"]) - 1.852 / 3.0).abs() < 1e-12);
        assert!((f(&g["meta"]["total_length"]) - 3000.0).abs() < 1e-12);
        // The values row follows the labels row.
        assert_eq!(doc["values"][0], json!(format!("{:.3}", 80.08 / 3.0)));
        assert_eq!(doc["labels"][3], "Collisions with pedestrians");
    }

    #[test]
    fn route_scenarios_not_run_are_listed_in_meta() {
        let mut r = record("route_3", 100.0, 1.0, 100.0, &[]);
        let meta = r.meta.as_mut().unwrap();
        meta.route_scenarios = vec![atlas_proto::scenario::RouteScenario {
            name: "Accident_1".into(),
            r#type: "Accident".into(),
            x: 1.0,
            y: 2.0,
            yaw: 0.0,
            status: "not run: scenario type Accident is not implemented".into(),
        }];
        meta.traffic_vehicles = 30;
        let doc = document(&[r], &[]);
        let m = &doc["_checkpoint"]["records"][0]["meta"];
        assert_eq!(m["scenarios_not_run"], json!(["Accident_1"]));
        assert_eq!(m["scenarios"][0]["trigger_point"]["y"], json!(2.0));
        assert_eq!(m["traffic"]["vehicles"], json!(30));
    }
}
