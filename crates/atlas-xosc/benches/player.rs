//! Reading and playing OpenSCENARIO files: the cost of reading an ALKS
//! scenario with its catalogs, and of one storyboard step (triggers,
//! element states, default controller for every entity).
//!
//! `cargo bench -p atlas-xosc --bench player` (the ALKS corpus from
//! `ATLAS_ALKS_DIR`, or the shared corpus beside the checkout).

use std::path::PathBuf;
use std::sync::Arc;

use atlas_xosc::model::RoadNetwork;
use atlas_xosc::{Options, Player};
use criterion::{Criterion, criterion_group, criterion_main};

fn corpus() -> PathBuf {
    std::env::var_os("ATLAS_ALKS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/alks"))
}

fn bench(c: &mut Criterion) {
    let file = corpus().join("alks_scenario_4_4_1_cut_in_no_collision_template.xosc");
    c.bench_function("read cut-in scenario with catalogs", |b| {
        b.iter(|| atlas_xosc::read_file(&file, &Options::default()).unwrap())
    });
    let (sc, loaded) = atlas_xosc::read_file(&file, &Options::default()).unwrap();
    let Some(RoadNetwork::File { path, .. }) = &sc.road_network else {
        panic!("a road network file");
    };
    let xml = &loaded.files[&path.to_string_lossy().to_string()];
    let map = Arc::new(atlas_sim::Map::from_xml(xml, "alks").unwrap());
    let mut player = Player::new(sc.clone(), map.clone(), Vec::new(), &[]).unwrap();
    c.bench_function("storyboard step (cut-in, 2 entities, 0.05 s)", |b| {
        b.iter(|| {
            if player.finished() || player.time() > 200.0 {
                player = Player::new(sc.clone(), map.clone(), Vec::new(), &[]).unwrap();
            }
            player.update().unwrap();
            player.advance(0.05).unwrap();
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
