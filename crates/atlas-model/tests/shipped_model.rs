//! The shipped model directory: it loads with a matching checksum and every
//! tensor has the shape its `config.json` implies (that it drives is
//! atlas-train's test, which has the simulator).

use std::path::PathBuf;

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
