//! From raw observations to the model's inputs, identically for training
//! and serving.
//!
//! A [`DriveInput`] is what a policy knows at one planning instant, in the
//! rig frame (x forward, y left, rear-axle centre): the front camera frame,
//! the current speed, acceleration and yaw rate, past poses at 10 Hz, the
//! route ahead and an instruction. [`Features::encode`] crops and
//! resamples the frame (area averaging) and scales everything to order
//! one; [`Batch::new`] stacks encoded features into tensors. Demonstrations
//! are stored as [`Features`] (the image as bytes), so training and serving
//! share every conversion.

use atlas_geometry::wrap_angle;
use candle_core::{DType, Device, Tensor};

use crate::Error;
use crate::config::ModelConfig;
use crate::tokenizer;

/// Metres that bring past positions to order one.
const HISTORY_SCALE: f64 = 5.0;
/// m/s² that bring the acceleration to order one (clamped to ±3 after).
const ACCEL_SCALE: f64 = 3.0;
/// rad/s that bring the yaw rate to order one (clamped to ±3 after).
const YAW_RATE_SCALE: f64 = 0.5;

/// An RGB8 frame, row-major, no padding.
#[derive(Clone, Copy, Debug)]
pub struct ImageView<'a> {
    pub width: u32,
    pub height: u32,
    pub data: &'a [u8],
}

/// What the policy knows at one planning instant; see the module docs.
#[derive(Clone, Debug)]
pub struct DriveInput<'a> {
    pub image: ImageView<'a>,
    /// Forward speed, m/s.
    pub speed: f64,
    /// Forward acceleration, m/s².
    pub accel: f64,
    /// Yaw rate, rad/s, positive to the left.
    pub yaw_rate: f64,
    /// `history[k]` is the rig pose `(x, y, yaw)` (k + 1) × 0.1 s ago, in
    /// the current rig frame, when known.
    pub history: Vec<Option<[f64; 3]>>,
    /// Route points ahead in the rig frame, in driving order (finite ones
    /// only; padding removed).
    pub route: Vec<[f64; 2]>,
    /// Free text; may be empty.
    pub instruction: String,
}

/// Encoded model inputs of one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// Cropped and resized frame, channel-major `3 × H × W` bytes.
    pub image: Vec<u8>,
    pub ego: Vec<f32>,
    pub route: Vec<f32>,
    /// Exactly `max_instruction_tokens` ids, padded with [`tokenizer::PAD`].
    pub tokens: Vec<u32>,
}

fn finite_or(v: f64, default: f64) -> f64 {
    if v.is_finite() { v } else { default }
}

impl Features {
    /// Encodes one input for `cfg`. Fails only on a frame whose buffer does
    /// not match its size.
    pub fn encode(cfg: &ModelConfig, input: &DriveInput<'_>) -> Result<Self, Error> {
        let image = preprocess_image(cfg, input.image)?;

        let mut ego = Vec::with_capacity(cfg.ego_features());
        ego.push((finite_or(input.speed, 0.0) / cfg.speed_scale).clamp(-5.0, 5.0) as f32);
        ego.push((finite_or(input.accel, 0.0) / ACCEL_SCALE).clamp(-3.0, 3.0) as f32);
        ego.push((finite_or(input.yaw_rate, 0.0) / YAW_RATE_SCALE).clamp(-3.0, 3.0) as f32);
        for k in 0..cfg.history_len {
            match input.history.get(k).copied().flatten() {
                Some([x, y, yaw]) if x.is_finite() && y.is_finite() && yaw.is_finite() => {
                    ego.push((x / HISTORY_SCALE).clamp(-10.0, 10.0) as f32);
                    ego.push((y / HISTORY_SCALE).clamp(-10.0, 10.0) as f32);
                    ego.push(wrap_angle(yaw) as f32);
                    ego.push(1.0);
                }
                _ => ego.extend([0.0; 4]),
            }
        }

        let mut route = Vec::with_capacity(cfg.route_features());
        let usable = input
            .route
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite());
        for p in usable.take(cfg.route_points) {
            route.push((p[0] / cfg.position_scale).clamp(-20.0, 20.0) as f32);
            route.push((p[1] / cfg.position_scale).clamp(-20.0, 20.0) as f32);
            route.push(1.0);
        }
        route.resize(cfg.route_features(), 0.0);

        let tokens = tokenizer::encode_padded(&input.instruction, cfg.max_instruction_tokens);
        Ok(Self {
            image,
            ego,
            route,
            tokens,
        })
    }

    /// Checks the lengths match `cfg` (for stored demonstrations).
    pub fn check(&self, cfg: &ModelConfig) -> Result<(), Error> {
        let want = [
            (
                "image",
                3 * cfg.image_width * cfg.image_height,
                self.image.len(),
            ),
            ("ego", cfg.ego_features(), self.ego.len()),
            ("route", cfg.route_features(), self.route.len()),
            ("tokens", cfg.max_instruction_tokens, self.tokens.len()),
        ];
        for (name, want, got) in want {
            if want != got {
                return Err(Error::Input(format!(
                    "{name} features have length {got}, the model expects {want}"
                )));
            }
        }
        Ok(())
    }
}

/// Crops the top `image_crop_top` of the frame and resamples the rest to
/// the network's input size by area averaging; channel-major bytes.
pub fn preprocess_image(cfg: &ModelConfig, img: ImageView<'_>) -> Result<Vec<u8>, Error> {
    let (w, h) = (img.width as usize, img.height as usize);
    if w == 0 || h == 0 || img.data.len() != w * h * 3 {
        return Err(Error::Input(format!(
            "a {}x{} RGB frame needs {} bytes, got {}",
            img.width,
            img.height,
            w * h * 3,
            img.data.len()
        )));
    }
    let top = (cfg.image_crop_top * h as f64).floor();
    let rows = area_weights(top, h as f64, cfg.image_height);
    let cols = area_weights(0.0, w as f64, cfg.image_width);
    let (ow, oh) = (cfg.image_width, cfg.image_height);
    let mut out = vec![0u8; 3 * ow * oh];
    let mut acc = vec![[0f32; 3]; ow];
    for (oy, row_w) in rows.iter().enumerate() {
        acc.iter_mut().for_each(|a| *a = [0.0; 3]);
        for &(y, wy) in row_w {
            let line = &img.data[y * w * 3..(y + 1) * w * 3];
            for (ox, col_w) in cols.iter().enumerate() {
                let a = &mut acc[ox];
                for &(x, wx) in col_w {
                    let k = wx * wy;
                    let p = &line[x * 3..x * 3 + 3];
                    a[0] += k * f32::from(p[0]);
                    a[1] += k * f32::from(p[1]);
                    a[2] += k * f32::from(p[2]);
                }
            }
        }
        for (ox, a) in acc.iter().enumerate() {
            for (c, v) in a.iter().enumerate() {
                out[(c * oh + oy) * ow + ox] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Ok(out)
}

/// For each of `n` output cells covering `[start, end)` evenly, the source
/// indices it overlaps and their normalised coverage.
fn area_weights(start: f64, end: f64, n: usize) -> Vec<Vec<(usize, f32)>> {
    let step = (end - start) / n as f64;
    (0..n)
        .map(|i| {
            let a = start + i as f64 * step;
            let b = a + step;
            let mut ws = Vec::new();
            let mut j = a.floor() as usize;
            while (j as f64) < b && (j as f64) < end {
                let lo = a.max(j as f64);
                let hi = b.min(j as f64 + 1.0);
                if hi > lo {
                    ws.push((j, ((hi - lo) / step) as f32));
                }
                j += 1;
            }
            ws
        })
        .collect()
}

/// Where the route turns within the next 60 m, as an instruction the model
/// was trained with: "turn left at the next junction", "turn right at the
/// next junction" or "follow the lane".
pub fn route_instruction(route: &[[f64; 2]]) -> &'static str {
    let pts: Vec<[f64; 2]> = route
        .iter()
        .copied()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .collect();
    let mut heading: Option<f64> = None;
    let (mut turned, mut peak, mut travelled) = (0.0f64, 0.0f64, 0.0f64);
    for w in pts.windows(2) {
        let (dx, dy) = (w[1][0] - w[0][0], w[1][1] - w[0][1]);
        let len = dx.hypot(dy);
        if len < 0.5 {
            continue;
        }
        let h = dy.atan2(dx);
        if let Some(prev) = heading {
            turned += wrap_angle(h - prev);
            if turned.abs() > peak.abs() {
                peak = turned;
            }
        }
        heading = Some(h);
        travelled += len;
        if travelled > 60.0 {
            break;
        }
    }
    if peak > 0.7 {
        "turn left at the next junction"
    } else if peak < -0.7 {
        "turn right at the next junction"
    } else {
        "follow the lane"
    }
}

/// The instruction a policy gives the model (in training and serving alike): the route's instruction
/// followed by any extra one.
pub fn compose_instruction(route_part: &str, extra: &str) -> String {
    match (route_part.is_empty(), extra.trim().is_empty()) {
        (true, _) => extra.trim().to_string(),
        (false, true) => route_part.to_string(),
        (false, false) => format!("{route_part} and {}", extra.trim()),
    }
}

/// Encoded features stacked into tensors for one forward pass.
#[derive(Clone, Debug)]
pub struct Batch {
    /// `[B, 3, H, W]`, normalised.
    pub image: Tensor,
    /// `[B, ego_features]`
    pub ego: Tensor,
    /// `[B, route_features]`
    pub route: Tensor,
    /// `[B, L]` token ids (u32).
    pub tokens: Tensor,
    /// `[B, L]` 1 for real tokens, 0 for padding (model dtype).
    pub token_mask: Tensor,
}

impl Batch {
    /// Stacks `samples` (at least one) for `cfg` on `device` in `dtype`.
    pub fn new(
        cfg: &ModelConfig,
        samples: &[&Features],
        device: &Device,
        dtype: DType,
    ) -> Result<Self, Error> {
        let b = samples.len();
        if b == 0 {
            return Err(Error::Input("an empty batch".into()));
        }
        for s in samples {
            s.check(cfg)?;
        }
        let (h, w) = (cfg.image_height, cfg.image_width);
        let mut img = Vec::with_capacity(b * 3 * h * w);
        let mut ego = Vec::with_capacity(b * cfg.ego_features());
        let mut route = Vec::with_capacity(b * cfg.route_features());
        let mut tokens = Vec::with_capacity(b * cfg.max_instruction_tokens);
        for s in samples {
            img.extend(
                s.image
                    .iter()
                    .map(|&v| (f32::from(v) / 255.0 - 0.45) / 0.25),
            );
            ego.extend_from_slice(&s.ego);
            route.extend_from_slice(&s.route);
            tokens.extend_from_slice(&s.tokens);
        }
        let mask: Vec<f32> = tokens
            .iter()
            .map(|&t| if t == tokenizer::PAD { 0.0 } else { 1.0 })
            .collect();
        let l = cfg.max_instruction_tokens;
        Ok(Self {
            image: Tensor::from_vec(img, (b, 3, h, w), device)?.to_dtype(dtype)?,
            ego: Tensor::from_vec(ego, (b, cfg.ego_features()), device)?.to_dtype(dtype)?,
            route: Tensor::from_vec(route, (b, cfg.route_features()), device)?.to_dtype(dtype)?,
            tokens: Tensor::from_vec(tokens, (b, l), device)?,
            token_mask: Tensor::from_vec(mask, (b, l), device)?.to_dtype(dtype)?,
        })
    }

    pub fn len(&self) -> usize {
        self.ego.dims()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(data: &[u8], w: u32, h: u32) -> DriveInput<'_> {
        DriveInput {
            image: ImageView {
                width: w,
                height: h,
                data,
            },
            speed: 5.0,
            accel: 100.0,
            yaw_rate: f64::NAN,
            history: vec![Some([-0.5, 0.0, 0.0]), None],
            route: vec![[0.0, 0.0], [f64::NAN, 1.0], [4.0, 0.5]],
            instruction: "drive slowly".into(),
        }
    }

    #[test]
    fn encodes_to_the_configured_lengths_with_masks() {
        let cfg = ModelConfig::tiny();
        let data = vec![128u8; 64 * 40 * 3];
        let f = Features::encode(&cfg, &input(&data, 64, 40)).unwrap();
        f.check(&cfg).unwrap();
        assert_eq!(f.ego[0], 0.5);
        assert_eq!(f.ego[1], 3.0, "acceleration is clamped");
        assert_eq!(f.ego[2], 0.0, "NaN yaw rate reads as zero");
        assert_eq!(&f.ego[3..7], &[-0.1, 0.0, 0.0, 1.0]);
        assert_eq!(&f.ego[7..11], &[0.0; 4]);
        // The NaN route point is dropped, the rest padded with invalid.
        assert_eq!(&f.route[..6], &[0.0, 0.0, 1.0, 0.2, 0.025, 1.0]);
        assert!(f.route[6..].iter().all(|&v| v == 0.0));
        assert_eq!(tokenizer::decode(&f.tokens), "drive slowly");
        assert!(f.image.iter().all(|&v| v == 128));
    }

    #[test]
    fn resampling_averages_areas_and_crops_the_top() {
        let cfg = ModelConfig {
            image_width: 16,
            image_height: 16,
            image_crop_top: 0.5,
            ..ModelConfig::tiny()
        };
        // Top half black, bottom half: left white, right black.
        let (w, h) = (32u32, 64u32);
        let mut data = vec![0u8; (w * h * 3) as usize];
        for y in h / 2..h {
            for x in 0..w / 2 {
                let i = ((y * w + x) * 3) as usize;
                data[i..i + 3].copy_from_slice(&[255, 255, 255]);
            }
        }
        let out = preprocess_image(
            &cfg,
            ImageView {
                width: w,
                height: h,
                data: &data,
            },
        )
        .unwrap();
        // Every row of the cropped image is half white.
        for c in 0..3 {
            for y in 0..16 {
                let row = &out[(c * 16 + y) * 16..(c * 16 + y + 1) * 16];
                assert!(row[..8].iter().all(|&v| v == 255), "{row:?}");
                assert!(row[8..].iter().all(|&v| v == 0), "{row:?}");
            }
        }
        // A non-integer ratio keeps the mean.
        let odd = vec![200u8; 45 * 27 * 3];
        let out = preprocess_image(
            &ModelConfig::tiny(),
            ImageView {
                width: 45,
                height: 27,
                data: &odd,
            },
        )
        .unwrap();
        assert!(out.iter().all(|&v| v == 200));
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let cfg = ModelConfig::tiny();
        let data = vec![0u8; 10];
        assert!(Features::encode(&cfg, &input(&data, 64, 40)).is_err());
        assert!(Features::encode(&cfg, &input(&[], 0, 0)).is_err());
    }

    #[test]
    fn route_instruction_reads_turns() {
        let straight: Vec<[f64; 2]> = (0..20).map(|i| [4.0 * f64::from(i), 0.0]).collect();
        assert_eq!(route_instruction(&straight), "follow the lane");
        let left: Vec<[f64; 2]> = (0..20)
            .map(|i| {
                let a = f64::from(i) * 0.1;
                [15.0 * a.sin(), 15.0 * (1.0 - a.cos())]
            })
            .collect();
        assert_eq!(route_instruction(&left), "turn left at the next junction");
        let right: Vec<[f64; 2]> = left.iter().map(|p| [p[0], -p[1]]).collect();
        assert_eq!(route_instruction(&right), "turn right at the next junction");
        assert_eq!(route_instruction(&[]), "follow the lane");
    }

    #[test]
    fn instructions_compose_route_part_and_extra() {
        assert_eq!(
            compose_instruction("follow the lane", " drive slowly"),
            "follow the lane and drive slowly"
        );
        assert_eq!(compose_instruction("", "stop"), "stop");
    }

    #[test]
    fn batches_stack_and_mask_padding() {
        let cfg = ModelConfig::tiny();
        let data = vec![0u8; 64 * 40 * 3];
        let f = Features::encode(&cfg, &input(&data, 64, 40)).unwrap();
        let b = Batch::new(&cfg, &[&f, &f], &Device::Cpu, DType::F32).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.image.dims(), &[2, 3, 16, 32]);
        assert_eq!(
            b.token_mask.to_vec2::<f32>().unwrap()[0],
            vec![1.0, 1.0, 0.0, 0.0]
        );
        assert!(Batch::new(&cfg, &[], &Device::Cpu, DType::F32).is_err());
        let mut short = f.clone();
        short.ego.pop();
        assert!(Batch::new(&cfg, &[&short], &Device::Cpu, DType::F32).is_err());
    }
}
