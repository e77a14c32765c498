//! The driving network.
//!
//! ```text
//! camera [B,3,H,W] ─ conv stem (3 × conv3x3/2 + ReLU) ─ patchify conv2x2/2 ─ + pos ─┐
//! ego    [B,E]     ─ MLP ───────────────────────────────────────── 1 token ─────────┤
//! route  [B,R]     ─ MLP ───────────────────────────────────────── K tokens ────────┤ fusion
//! text   [B,L]     ─ embedding + pos (padding masked) ─────────── L tokens ────────┤ transformer
//! plan query (learned) ─────────────────────────────────────────── 1 token ─────────┘ (pre-LN)
//!                                    plan token ⊕ ego ⊕ route ─ MLP ─ [B, T, (x, y, yaw)]
//! ```
//!
//! The head reads the fused plan token together with the ego and route
//! embeddings (a short path for the geometry the route already gives) and
//! predicts T poses at 10 Hz in the current rig frame, in metres and
//! radians. Parameter names follow `vb.pp(..)` paths (`image.stem.0`,
//! `fusion.layers.1.attn.qkv`, `head.fc2`, …), which are the keys of
//! `model.safetensors`.

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{
    Conv2d, Conv2dConfig, Embedding, LayerNorm, Linear, VarBuilder, conv2d, embedding, layer_norm,
    linear,
};

use crate::Error;
use crate::config::ModelConfig;
use crate::features::Batch;
use crate::tokenizer;

/// Additive attention bias of masked keys; finite so BF16 stays NaN-free.
const MASKED: f64 = -1e4;

fn pos_param(
    vb: &VarBuilder,
    shape: (usize, usize, usize),
    name: &str,
) -> candle_core::Result<Tensor> {
    vb.get_with_hints(
        shape,
        name,
        candle_nn::Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        },
    )
}

#[derive(Debug, Clone)]
struct ImageEncoder {
    stem: Vec<Conv2d>,
    patch: Conv2d,
    pos: Tensor,
}

impl ImageEncoder {
    fn new(cfg: &ModelConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let conv = Conv2dConfig {
            padding: 1,
            stride: 2,
            ..Default::default()
        };
        let mut stem = Vec::new();
        let mut c_in = 3;
        let stem_vb = vb.pp("stem");
        for (i, &c_out) in cfg.stem_channels.iter().enumerate() {
            stem.push(conv2d(c_in, c_out, 3, conv, stem_vb.pp(i))?);
            c_in = c_out;
        }
        let patch = conv2d(
            c_in,
            cfg.d_model,
            2,
            Conv2dConfig {
                stride: 2,
                ..Default::default()
            },
            vb.pp("patch"),
        )?;
        let pos = pos_param(&vb, (1, cfg.image_tokens(), cfg.d_model), "pos")?;
        Ok(Self { stem, patch, pos })
    }

    /// `[B,3,H,W]` → `[B, N, d]`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for c in &self.stem {
            x = c.forward(&x)?.relu()?;
        }
        let x = self.patch.forward(&x)?; // [B, d, h, w]
        let x = x.flatten_from(2)?.transpose(1, 2)?; // [B, N, d]
        x.broadcast_add(&self.pos)
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    fc1: Linear,
    fc2: Linear,
}

impl Mlp {
    fn new(
        d_in: usize,
        d_hidden: usize,
        d_out: usize,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            fc1: linear(d_in, d_hidden, vb.pp("fc1"))?,
            fc2: linear(d_hidden, d_out, vb.pp("fc2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.fc2.forward(&self.fc1.forward(x)?.gelu()?)
    }
}

#[derive(Debug, Clone)]
struct Attention {
    qkv: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn new(cfg: &ModelConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            qkv: linear(cfg.d_model, 3 * cfg.d_model, vb.pp("qkv"))?,
            out: linear(cfg.d_model, cfg.d_model, vb.pp("out"))?,
            heads: cfg.num_heads,
        })
    }

    /// `x` `[B,S,d]`, `bias` `[B,1,1,S]` additive key mask.
    fn forward(&self, x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let (b, s, d) = x.dims3()?;
        let dh = d / self.heads;
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((b, s, 3, self.heads, dh))?
            .permute((2, 0, 3, 1, 4))?; // [3, B, H, S, dh]
        let q = qkv.get(0)?.contiguous()?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let scores = (q.matmul(&k.t()?)? / (dh as f64).sqrt())?.broadcast_add(bias)?;
        let attn = candle_nn::ops::softmax_last_dim(&scores)?;
        let y = attn.matmul(&v)?; // [B, H, S, dh]
        let y = y.transpose(1, 2)?.reshape((b, s, d))?;
        self.out.forward(&y)
    }
}

#[derive(Debug, Clone)]
struct Block {
    norm1: LayerNorm,
    attn: Attention,
    norm2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn new(cfg: &ModelConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            norm1: layer_norm(cfg.d_model, 1e-5, vb.pp("norm1"))?,
            attn: Attention::new(cfg, vb.pp("attn"))?,
            norm2: layer_norm(cfg.d_model, 1e-5, vb.pp("norm2"))?,
            mlp: Mlp::new(cfg.d_model, cfg.d_ff, cfg.d_model, vb.pp("mlp"))?,
        })
    }

    fn forward(&self, x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let x = (x + self.attn.forward(&self.norm1.forward(x)?, bias)?)?;
        &x + self.mlp.forward(&self.norm2.forward(&x)?)?
    }
}

/// The driving model; see the module docs.
#[derive(Debug, Clone)]
pub struct DrivingModel {
    cfg: ModelConfig,
    image: ImageEncoder,
    ego: Mlp,
    route: Mlp,
    text_embed: Embedding,
    text_pos: Tensor,
    plan_query: Tensor,
    layers: Vec<Block>,
    norm: LayerNorm,
    head: Mlp,
    /// `[1, 1, 3]`: metres, metres, radians per unit of head output.
    out_scale: Tensor,
    device: Device,
    dtype: DType,
}

impl DrivingModel {
    /// Builds the network from `vb` (random init from a `VarMap`, or
    /// weights from a safetensors file).
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self, Error> {
        cfg.validate()?;
        let d = cfg.d_model;
        let image = ImageEncoder::new(cfg, vb.pp("image"))?;
        let ego = Mlp::new(cfg.ego_features(), d, d, vb.pp("ego"))?;
        let route = Mlp::new(
            cfg.route_features(),
            2 * d,
            cfg.route_tokens * d,
            vb.pp("route"),
        )?;
        let text_vb = vb.pp("text");
        let text_embed = embedding(tokenizer::vocab_size(), d, text_vb.pp("embed"))?;
        let text_pos = pos_param(&text_vb, (1, cfg.max_instruction_tokens, d), "pos")?;
        let fusion = vb.pp("fusion");
        let plan_query = pos_param(&fusion, (1, 1, d), "plan_query")?;
        let layers = (0..cfg.num_layers)
            .map(|i| Block::new(cfg, fusion.pp("layers").pp(i)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let norm = layer_norm(d, 1e-5, fusion.pp("norm"))?;
        let head = Mlp::new(3 * d, cfg.d_ff, cfg.horizon * 3, vb.pp("head"))?;
        let device = vb.device().clone();
        let dtype = vb.dtype();
        let out_scale = Tensor::new(
            &[[[
                cfg.position_scale as f32,
                (cfg.position_scale / 4.0) as f32,
                0.5f32,
            ]]],
            &device,
        )?
        .to_dtype(dtype)?;
        Ok(Self {
            cfg: cfg.clone(),
            image,
            ego,
            route,
            text_embed,
            text_pos,
            plan_query,
            layers,
            norm,
            head,
            out_scale,
            device,
            dtype,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Planned poses `[B, horizon, 3]` — `(x, y, yaw)` in the current rig
    /// frame at 0.1 s, 0.2 s, … — in the model's dtype.
    pub fn forward(&self, batch: &Batch) -> Result<Tensor, Error> {
        let b = batch.len();
        let d = self.cfg.d_model;
        let img = self.image.forward(&batch.image)?; // [B, N, d]
        let ego = self.ego.forward(&batch.ego)?; // [B, d]
        let route = self.route.forward(&batch.route)?; // [B, K*d]
        let route_tokens = route.reshape((b, self.cfg.route_tokens, d))?;
        let text = self
            .text_embed
            .forward(&batch.tokens)?
            .broadcast_add(&self.text_pos)?; // [B, L, d]
        let query = self.plan_query.broadcast_as((b, 1, d))?;
        let x = Tensor::cat(&[&img, &ego.unsqueeze(1)?, &route_tokens, &text, &query], 1)?;

        // Only instruction padding is masked.
        let n_fixed = self.cfg.image_tokens() + 1 + self.cfg.route_tokens;
        let ones = Tensor::ones((b, n_fixed), self.dtype, &self.device)?;
        let last = Tensor::ones((b, 1), self.dtype, &self.device)?;
        let mask = Tensor::cat(&[&ones, &batch.token_mask, &last], 1)?;
        let bias = ((mask - 1.0)? * (-MASKED))?.reshape((b, 1, 1, self.cfg.sequence_len()))?;

        let mut x = x;
        for layer in &self.layers {
            x = layer.forward(&x, &bias)?;
        }
        let x = self.norm.forward(&x)?;
        let plan = x.narrow(1, self.cfg.sequence_len() - 1, 1)?.squeeze(1)?; // [B, d]
        let route_mean = route_tokens.mean(1)?;
        let h = Tensor::cat(&[&plan, &ego, &route_mean], D::Minus1)?;
        let out = self
            .head
            .forward(&h)?
            .reshape((b, self.cfg.horizon, 3))?
            .broadcast_mul(&self.out_scale)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{DriveInput, Features, ImageView};
    use candle_nn::VarMap;

    fn features(cfg: &ModelConfig, seed: u8, instruction: &str) -> Features {
        let data: Vec<u8> = (0..64 * 40 * 3)
            .map(|i: usize| (i as u8).wrapping_mul(seed))
            .collect();
        Features::encode(
            cfg,
            &DriveInput {
                image: ImageView {
                    width: 64,
                    height: 40,
                    data: &data,
                },
                speed: f64::from(seed),
                accel: 0.0,
                yaw_rate: 0.0,
                history: vec![Some([-0.5, 0.0, 0.0])],
                route: (0..6).map(|i| [4.0 * f64::from(i), 0.0]).collect(),
                instruction: instruction.into(),
            },
        )
        .unwrap()
    }

    #[test]
    fn output_shape_and_parameter_names() {
        let cfg = ModelConfig::tiny();
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let model = DrivingModel::new(&cfg, vb).unwrap();
        let f1 = features(&cfg, 3, "turn left");
        let f2 = features(&cfg, 7, "");
        let batch = Batch::new(&cfg, &[&f1, &f2], &Device::Cpu, DType::F32).unwrap();
        let out = model.forward(&batch).unwrap();
        assert_eq!(out.dims(), &[2, cfg.horizon, 3]);
        let v: Vec<f32> = out.flatten_all().unwrap().to_vec1().unwrap();
        assert!(v.iter().all(|x| x.is_finite()));

        let data = vm.data().lock().unwrap();
        let names: Vec<&String> = data.keys().collect();
        for key in [
            "image.stem.0.weight",
            "image.patch.bias",
            "image.pos",
            "ego.fc1.weight",
            "route.fc2.bias",
            "text.embed.weight",
            "fusion.plan_query",
            "fusion.layers.0.attn.qkv.weight",
            "fusion.layers.0.mlp.fc2.weight",
            "fusion.norm.weight",
            "head.fc2.weight",
        ] {
            assert!(data.contains_key(key), "{key} missing from {names:?}");
        }
        assert_eq!(
            data["head.fc2.weight"].as_tensor().dims(),
            &[cfg.horizon * 3, cfg.d_ff]
        );
        assert_eq!(
            data["image.pos"].as_tensor().dims(),
            &[1, cfg.image_tokens(), cfg.d_model]
        );
    }

    #[test]
    fn batched_rows_match_single_rows() {
        let cfg = ModelConfig::tiny();
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let model = DrivingModel::new(&cfg, vb).unwrap();
        let fs = [
            features(&cfg, 3, "drive slowly"),
            features(&cfg, 5, ""),
            features(&cfg, 9, "turn right at the next junction"),
        ];
        let refs: Vec<&Features> = fs.iter().collect();
        let all = model
            .forward(&Batch::new(&cfg, &refs, &Device::Cpu, DType::F32).unwrap())
            .unwrap();
        for (i, f) in fs.iter().enumerate() {
            let one = model
                .forward(&Batch::new(&cfg, &[f], &Device::Cpu, DType::F32).unwrap())
                .unwrap();
            let diff = (all.get(i).unwrap() - one.get(0).unwrap())
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-4, "row {i} differs by {diff}");
        }
    }

    #[test]
    fn padding_tokens_do_not_change_the_output() {
        // Masked positions must be invisible: the same instruction with a
        // different id in a padded slot (mask still 0) gives the same plan.
        let cfg = ModelConfig::tiny();
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let model = DrivingModel::new(&cfg, vb).unwrap();
        let f = features(&cfg, 4, "stop");
        let a = Batch::new(&cfg, &[&f], &Device::Cpu, DType::F32).unwrap();
        let mut b = a.clone();
        b.tokens = Tensor::new(&[[tokenizer::word_id("stop"), 5, 6, 7]], &Device::Cpu).unwrap();
        let ya = model.forward(&a).unwrap();
        let yb = model.forward(&b).unwrap();
        let diff = (ya - yb).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
        // …while a real token does.
        let mut c = a.clone();
        c.tokens = Tensor::new(&[[tokenizer::word_id("left"), 0, 0, 0]], &Device::Cpu).unwrap();
        let yc = model.forward(&c).unwrap();
        let diff = (model.forward(&a).unwrap() - yc)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() > 0.0);
    }
}
