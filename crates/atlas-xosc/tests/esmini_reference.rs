//! Storyboard playback against esmini: the 15 ALKS scenarios played with
//! every entity on its default controller at 20 Hz, compared with esmini's
//! own trajectories of the same files (`scenarios/alks/esmini-reference`,
//! written by `esmini --headless --fixed_timestep 0.05
//! --disable_controllers --osc FILE`): every entity within 0.1 m of esmini
//! at every common time step, and the same end time within one step.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use atlas_xosc::model::RoadNetwork;
use atlas_xosc::{Options, Player};

const DT: f64 = 0.05;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// esmini's rows of one file: entity → time step → (x, y).
type Reference = HashMap<String, BTreeMap<i64, (f64, f64)>>;

fn reference(csv: &Path) -> (Reference, i64) {
    let text = std::fs::read_to_string(csv).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
    let mut out: Reference = HashMap::new();
    let mut last = 0;
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert!(f.len() >= 5, "{}:{}: short row", csv.display(), n + 1);
        let num = |i: usize| -> f64 {
            f[i].parse()
                .unwrap_or_else(|_| panic!("{}:{}: column {i}", csv.display(), n + 1))
        };
        let step = (num(0) / DT).round() as i64;
        last = last.max(step);
        out.entry(f[1].to_owned())
            .or_default()
            .insert(step, (num(2), num(3)));
    }
    (out, last)
}

/// ATLAS's player on the same file: entity → step → (x, y), and the step
/// at which the storyboard's stop trigger fired.
fn play(file: &Path, cap_steps: i64) -> (Reference, i64) {
    let (sc, loaded) = atlas_xosc::read_file(file, &Options::default())
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let Some(RoadNetwork::File { path, .. }) = &sc.road_network else {
        panic!("{}: expected a road network file", file.display());
    };
    let xml = &loaded.files[&path.to_string_lossy().to_string()];
    let map = Arc::new(atlas_sim::Map::from_xml(xml, "alks").unwrap());
    let mut player = Player::new(sc, map, Vec::new(), &[]).unwrap();
    let mut out: Reference = HashMap::new();
    let mut step = 0;
    player.update().unwrap();
    loop {
        for e in player.entities().iter().filter(|e| e.present) {
            out.entry(e.name.clone())
                .or_default()
                .insert(step, (e.x, e.y));
        }
        if player.finished() || step >= cap_steps {
            break;
        }
        player.advance(DT).unwrap();
        player.update().unwrap();
        step += 1;
    }
    (out, step)
}

#[test]
fn alks_storyboards_play_as_esmini_plays_them() {
    let dir = repo().join("scenarios/alks");
    let refs = dir.join("esmini-reference");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xosc"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 15);
    let mut failures = Vec::new();
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        let csv_name = stem
            .replace("alks_scenario_", "alks_")
            .replace("_template", "")
            + ".csv";
        let (want, want_end) = reference(&refs.join(&csv_name));
        let (got, got_end) = play(f, want_end + 200);
        let mut worst = (0.0f64, String::new(), 0i64);
        for (entity, rows) in &want {
            let Some(mine) = got.get(entity) else {
                failures.push(format!("{csv_name}: ATLAS never placed {entity}"));
                continue;
            };
            for (step, (x, y)) in rows {
                if let Some((ax, ay)) = mine.get(step) {
                    let d = (ax - x).hypot(ay - y);
                    if d > worst.0 {
                        worst = (d, entity.clone(), *step);
                    }
                }
            }
        }
        println!(
            "{csv_name}: max {:.4} m ({} at {:.2} s), end {:.2} s vs esmini {:.2} s",
            worst.0,
            worst.1,
            worst.2 as f64 * DT,
            got_end as f64 * DT,
            want_end as f64 * DT
        );
        if worst.0 > 0.1 {
            failures.push(format!(
                "{csv_name}: {} is {:.3} m from esmini at {:.2} s",
                worst.1,
                worst.0,
                worst.2 as f64 * DT
            ));
        }
        if (got_end - want_end).abs() > 1 {
            failures.push(format!(
                "{csv_name}: ends at {:.2} s, esmini at {:.2} s",
                got_end as f64 * DT,
                want_end as f64 * DT
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The field's files use only attributes the reader knows: no "is not
/// read" warning on the ALKS files or ScenarioRunner's examples (so the
/// warning, when it comes, means a misspelling or an ignored feature).
#[test]
fn field_files_have_no_unread_attributes() {
    let mut files = Vec::new();
    for d in ["scenarios/alks", "tests/data/scenario_runner"] {
        for e in std::fs::read_dir(repo().join(d)).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "xosc") {
                files.push(e.path());
            }
        }
    }
    assert_eq!(files.len(), 19);
    let mut unread = Vec::new();
    for f in &files {
        let (sc, _) = atlas_xosc::read_file(f, &Options::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        unread.extend(
            sc.warnings
                .into_iter()
                .filter(|w| w.contains("is not read")),
        );
    }
    assert!(unread.is_empty(), "{}", unread.join("\n"));
}
