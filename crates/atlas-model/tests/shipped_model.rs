//! The shipped model directory: it loads with a matching checksum, every
//! tensor has the shape its `config.json` implies, and the network drives a
//! clear route in a simulator world closed loop.

use std::path::PathBuf;

use atlas_model::collect::{self, Driver};
use candle_core::Device;

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/atlas-drive-v1")
}

#[test]
fn shipped_weights_match_their_config_and_checksum() {
    let dir = shipped();
    let cfg = atlas_model::pretrained::load_config(&dir).unwrap();
    let bytes = std::fs::read(dir.join(atlas_model::pretrained::WEIGHTS_FILE)).unwrap();
    assert!(bytes.len() <= 20 << 20, "weights must stay within 20 MB");
    atlas_model::pretrained::verify_checksum(&dir, &bytes).unwrap();
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).unwrap();
    let want = atlas_model::pretrained::expected_shapes(&cfg).unwrap();
    assert_eq!(tensors.len(), want.len());
    for (name, shape) in &want {
        assert_eq!(tensors[name].dims(), shape.as_slice(), "{name}");
    }
    let loaded = atlas_model::load(&dir, &Device::Cpu).unwrap();
    assert_eq!(loaded.model.config(), &cfg);
}

#[test]
fn shipped_model_drives_a_clear_route_closed_loop() {
    let loaded = atlas_model::load(&shipped(), &Device::Cpu).unwrap();
    let maps = collect::load_maps(&[
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/Town01.xodr")
    ])
    .unwrap();
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
