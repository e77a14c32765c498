//! CPU inference of the driving model: latency at batch 1 and throughput at
//! batch 8 and 32, plus the input encoding of one runtime camera frame.
//!
//! Uses the shipped model directory when it is present (so the figures are
//! those of the served weights) and a random network of the default
//! architecture otherwise; the cost is the same. Thread count follows
//! `RAYON_NUM_THREADS`.
//!
//! ```text
//! cargo bench -p atlas-model --bench inference
//! ```

use std::hint::black_box;
use std::path::PathBuf;

use atlas_model::{DriveInput, DrivingModel, Features, ImageView, ModelConfig, predict};
use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn model() -> DrivingModel {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/atlas-drive-v1");
    if let Ok(m) = atlas_model::load(&dir, &Device::Cpu) {
        return m.model;
    }
    let cfg = ModelConfig::default();
    let vm = VarMap::new();
    DrivingModel::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu))
        .expect("the default configuration builds")
}

/// The scenario runtime's front camera: 320×180 (`atlas_train::collect::runtime_camera`).
const FRAME_WIDTH: u32 = 320;
const FRAME_HEIGHT: u32 = 180;

/// A runtime-sized frame with some structure (a road-like gradient).
fn frame() -> Vec<u8> {
    let (w, h) = (FRAME_WIDTH as usize, FRAME_HEIGHT as usize);
    let mut data = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) * 3;
            let v = if y < h / 2 {
                200
            } else {
                (60 + (x * 97 + y * 31) % 60) as u8
            };
            data[i..i + 3].copy_from_slice(&[v, v, v.saturating_add(20)]);
        }
    }
    data
}

fn input(data: &[u8], speed: f64) -> DriveInput<'_> {
    DriveInput {
        image: ImageView {
            width: FRAME_WIDTH,
            height: FRAME_HEIGHT,
            data,
        },
        speed,
        accel: 0.2,
        yaw_rate: 0.01,
        history: (1..=5)
            .map(|k| Some([-0.1 * speed * f64::from(k), 0.0, 0.0]))
            .collect(),
        route: (0..20).map(|i| [80.0 / 19.0 * f64::from(i), 0.0]).collect(),
        instruction: "follow the lane".into(),
    }
}

fn bench(c: &mut Criterion) {
    let model = model();
    let cfg = model.config().clone();
    let data = frame();

    c.bench_function("encode_features_320x180", |b| {
        b.iter(|| Features::encode(&cfg, black_box(&input(&data, 6.0))).expect("encode"))
    });

    let mut group = c.benchmark_group("forward_cpu_f32");
    for batch in [1usize, 8, 32] {
        let feats: Vec<Features> = (0..batch)
            .map(|i| Features::encode(&cfg, &input(&data, 2.0 + i as f64 * 0.2)).expect("encode"))
            .collect();
        let refs: Vec<&Features> = feats.iter().collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &refs, |b, refs| {
            b.iter(|| predict(&model, black_box(refs)).expect("forward"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
