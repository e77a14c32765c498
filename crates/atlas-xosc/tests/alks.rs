//! The 15 ALKS scenarios (UN R157, as published by BMW for OpenSCENARIO
//! 1.1): each reads with its catalogs and road network, plays on the map
//! with every entity on the default controller, and does what its name says.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use atlas_xosc::model::RoadNetwork;
use atlas_xosc::{Options, Player};

/// The ALKS corpus: `ATLAS_ALKS_DIR`, or the copy under `scenarios/alks`.
fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("ATLAS_ALKS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/alks"));
    assert!(
        p.is_dir(),
        "the ALKS corpus is not at {} (set ATLAS_ALKS_DIR)",
        p.display()
    );
    Some(p)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xosc"))
        .collect();
    v.sort();
    v
}

/// One sample of an entity: (time, x, y, speed, lane id, lane offset).
type Sample = (f64, f64, f64, f64, Option<i32>, Option<f64>);

struct Played {
    player: Player,
    samples: std::collections::HashMap<String, Vec<Sample>>,
}

fn play(file: &Path, cap_s: f64) -> Played {
    let (sc, loaded) = atlas_xosc::read_file(file, &Options::default())
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let Some(RoadNetwork::File { path, .. }) = &sc.road_network else {
        panic!("{}: expected a road network file", file.display());
    };
    let xml = &loaded.files[&path.to_string_lossy().to_string()];
    let map = Arc::new(atlas_sim::Map::from_xml(xml, "alks").unwrap());
    let mut player = Player::new(sc, map, Vec::new(), &[]).unwrap();
    let mut samples: std::collections::HashMap<String, Vec<Sample>> = Default::default();
    while !player.finished() && player.time() < cap_s {
        player.update().unwrap();
        for e in player.entities() {
            samples.entry(e.name.clone()).or_default().push((
                player.time(),
                e.x,
                e.y,
                e.speed,
                e.lane.as_ref().map(|l| l.lane),
                e.lane.as_ref().map(|l| l.offset),
            ));
        }
        player.advance(0.05).unwrap();
    }
    Played { player, samples }
}

fn find(dir: &Path, part: &str) -> PathBuf {
    files(dir)
        .into_iter()
        .find(|p| p.to_string_lossy().contains(part))
        .unwrap_or_else(|| panic!("no ALKS file {part}"))
}

#[test]
fn every_alks_scenario_reads_and_plays_to_its_stop_trigger() {
    let Some(dir) = corpus() else { return };
    let all = files(&dir);
    assert_eq!(all.len(), 15);
    for f in &all {
        let played = play(f, 400.0);
        assert!(
            played.player.finished(),
            "{}: the stop trigger never fired (t = {})",
            f.display(),
            played.player.time()
        );
        let ego = played.player.entity("Ego").unwrap();
        assert!(
            ego.present && ego.odometer > 50.0,
            "{}: the ego did not drive",
            f.display()
        );
    }
}

#[test]
fn swerving_lead_vehicle_swerves_left_then_right() {
    let Some(dir) = corpus() else { return };
    let p = play(&find(&dir, "4_1_2"), 60.0);
    let lead = &p.samples["LeadVehicle"];
    let max = lead.iter().filter_map(|s| s.5).fold(f64::MIN, f64::max);
    let min = lead.iter().filter_map(|s| s.5).fold(f64::MAX, f64::min);
    assert!((max - 1.5).abs() < 0.05, "left swerve peak {max}");
    assert!((min + 1.5).abs() < 0.05, "right swerve peak {min}");
    // It keeps its lane and the ego's speed; the swerves are in order.
    assert!(lead.iter().all(|s| s.4 == Some(-4)));
    let t_left = lead.iter().find(|s| s.5.unwrap() > 1.49).unwrap().0;
    let t_right = lead.iter().find(|s| s.5.unwrap() < -1.49).unwrap().0;
    assert!(
        t_left > 10.0 && t_right > t_left + 5.0,
        "{t_left} {t_right}"
    );
    assert_eq!(p.player.element_state("SwerveAction4"), Some("complete"));
}

#[test]
fn cut_in_vehicle_moves_into_the_ego_lane_ahead() {
    let Some(dir) = corpus() else { return };
    let p = play(&find(&dir, "4_4_1"), 120.0);
    let cut = &p.samples["CutInVehicle"];
    let ego = &p.samples["Ego"];
    let start_lane = cut[0].4.unwrap();
    let ego_lane = ego[0].4.unwrap();
    assert_ne!(start_lane, ego_lane);
    let k = cut
        .iter()
        .position(|s| s.4 == Some(ego_lane))
        .expect("the cut-in vehicle reaches the ego lane");
    // At the cut-in it is ahead of the ego (both drive along +x here).
    assert!(
        cut[k].1 > ego[k].1,
        "cut-in at x {} behind ego x {}",
        cut[k].1,
        ego[k].1
    );
    let last = cut.last().unwrap();
    assert!(last.5.unwrap().abs() < 0.05, "ends centred in the lane");
    assert_eq!(p.player.element_state("CutInAction"), Some("complete"));
}

#[test]
fn pedestrian_crosses_the_ego_lane() {
    let Some(dir) = corpus() else { return };
    let p = play(&find(&dir, "4_2_3"), 60.0);
    let ped = &p.samples["TargetBlocking"];
    let y0 = ped[0].2;
    let y1 = ped.last().unwrap().2;
    // Lateral offset -5 m to +5 m across a road along x.
    assert!((y1 - y0 - 10.0).abs() < 0.1, "crossed from y {y0} to {y1}");
    let walking: Vec<f64> = ped.iter().map(|s| s.3).filter(|v| *v > 0.0).collect();
    assert!(
        walking.iter().all(|v| (v - 5.0 / 3.6).abs() < 1e-6),
        "walks at 5 km/h"
    );
}

#[test]
fn lead_vehicle_brakes_to_a_stop() {
    let Some(dir) = corpus() else { return };
    let p = play(&find(&dir, "4_3_2"), 120.0);
    let lead = &p.samples["LeadVehicle"];
    assert!(lead[0].3 > 10.0);
    assert!(lead.last().unwrap().3 < 0.01, "stands at the end");
    assert_eq!(p.player.element_state("BrakeAction"), Some("complete"));
}

#[test]
fn lead_vehicle_cuts_out_of_the_ego_lane() {
    let Some(dir) = corpus() else { return };
    let p = play(&find(&dir, "4_5_1"), 120.0);
    let lead = &p.samples["LeadVehicle"];
    let ego_lane = p.samples["Ego"][0].4.unwrap();
    assert_eq!(lead[0].4, Some(ego_lane));
    assert!(lead.iter().any(|s| s.4.is_some() && s.4 != Some(ego_lane)));
    assert_ne!(lead.last().unwrap().4, Some(ego_lane));
}
