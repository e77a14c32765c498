//! The shipped model drives a clear route in a simulator world closed loop.

use std::path::PathBuf;

use atlas_train::collect::{self, Driver};
use candle_core::Device;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn shipped_model_drives_a_clear_route_closed_loop() {
    let loaded = atlas_model::load(&repo().join("models/atlas-drive-v1"), &Device::Cpu).unwrap();
    let maps = collect::load_maps(&[repo().join("maps/Town01.xodr")]).unwrap();
    let spec = collect::EpisodeSpec {
        map: 0,
        seed: 4242,
        max_steps: 200,
        max_npcs: 0,
        obstacles: false,
    };
    let driver = Driver::Model {
        model: &loaded.model,
        instruction: "",
    };
    let r = collect::run_episode(loaded.model.config(), &maps, &spec, 0, &driver, None).unwrap();
    assert_eq!(r.collisions, 0, "{r:?}");
    assert_eq!(r.off_road, 0, "{r:?}");
    assert!(r.max_offset < 1.5, "{r:?}");
    // 20 s of driving: well over 80 m unless it stalls.
    assert!(r.completed || r.progress > 80.0, "{r:?}");
}
