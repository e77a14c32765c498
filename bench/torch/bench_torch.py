"""The ATLAS driving network in PyTorch, for a side-by-side CPU comparison
with the candle implementation in crates/atlas-model.

It builds the network from the model directory's config.json, loads the same
model.safetensors (the tensor names are candle's `vb.pp(..)` paths), checks
its output against candle's on the exported fixture, then times forward
passes: latency percentiles at batch 1 and throughput at batch 8 and 32, on
the CPU with a fixed thread count. Each timed call is one forward pass on
ready input tensors plus copying the output to host memory, the same work
`atlas-model latency --forward-only` times.

Run it through bench/torch/run.sh, which prepares the virtualenv and the
fixture.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

MASKED = -1e4


class Mlp(nn.Module):
    def __init__(self, d_in: int, d_hidden: int, d_out: int):
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.fc2 = nn.Linear(d_hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # candle's Tensor::gelu is the tanh approximation.
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.heads = heads

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        dh = d // self.heads
        qkv = self.qkv(x).reshape(b, s, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(-2, -1) / math.sqrt(dh) + bias
        y = torch.softmax(scores, dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(b, s, d))


class Block(nn.Module):
    def __init__(self, d: int, heads: int, d_ff: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = Attention(d, heads)
        self.norm2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = Mlp(d, d_ff, d)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), bias)
        return x + self.mlp(self.norm2(x))


class DrivingModel(nn.Module):
    """Same layers, names and arithmetic as atlas_model::DrivingModel."""

    def __init__(self, cfg: dict, vocab: int):
        super().__init__()
        self.cfg = cfg
        d = cfg["d_model"]
        self.image_tokens = (cfg["image_width"] // 16) * (cfg["image_height"] // 16)
        ego_features = 3 + 4 * cfg["history_len"]
        route_features = 3 * cfg["route_points"]
        self.seq_len = self.image_tokens + 1 + cfg["route_tokens"] + cfg["max_instruction_tokens"] + 1

        image = nn.Module()
        stem = []
        c_in = 3
        for c_out in cfg["stem_channels"]:
            stem.append(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1))
            c_in = c_out
        image.stem = nn.ModuleList(stem)
        image.patch = nn.Conv2d(c_in, d, 2, stride=2)
        image.pos = nn.Parameter(torch.zeros(1, self.image_tokens, d))
        self.image = image
        self.ego = Mlp(ego_features, d, d)
        self.route = Mlp(route_features, 2 * d, cfg["route_tokens"] * d)
        text = nn.Module()
        text.embed = nn.Embedding(vocab, d)
        text.pos = nn.Parameter(torch.zeros(1, cfg["max_instruction_tokens"], d))
        self.text = text
        fusion = nn.Module()
        fusion.plan_query = nn.Parameter(torch.zeros(1, 1, d))
        fusion.layers = nn.ModuleList(
            Block(d, cfg["num_heads"], cfg["d_ff"]) for _ in range(cfg["num_layers"])
        )
        fusion.norm = nn.LayerNorm(d, eps=1e-5)
        self.fusion = fusion
        self.head = Mlp(3 * d, cfg["d_ff"], cfg["horizon"] * 3)
        self.register_buffer(
            "out_scale",
            torch.tensor(
                [[[cfg["position_scale"], cfg["position_scale"] / 4.0, 0.5]]], dtype=torch.float32
            ),
            persistent=False,
        )

    def forward(self, image, ego, route, tokens, token_mask):
        b = image.shape[0]
        d = self.cfg["d_model"]
        x = image
        for conv in self.image.stem:
            x = torch.relu(conv(x))
        x = self.image.patch(x)
        img = x.flatten(2).transpose(1, 2) + self.image.pos
        ego_t = self.ego(ego)
        route_tokens = self.route(route).reshape(b, self.cfg["route_tokens"], d)
        text = self.text.embed(tokens) + self.text.pos
        query = self.fusion.plan_query.expand(b, 1, d)
        x = torch.cat([img, ego_t.unsqueeze(1), route_tokens, text, query], dim=1)

        n_fixed = self.image_tokens + 1 + self.cfg["route_tokens"]
        ones = torch.ones(b, n_fixed, dtype=x.dtype)
        last = torch.ones(b, 1, dtype=x.dtype)
        mask = torch.cat([ones, token_mask, last], dim=1)
        bias = ((mask - 1.0) * (-MASKED)).reshape(b, 1, 1, self.seq_len)
        for layer in self.fusion.layers:
            x = layer(x, bias)
        x = self.fusion.norm(x)
        plan = x[:, self.seq_len - 1]
        h = torch.cat([plan, ego_t, route_tokens.mean(1)], dim=-1)
        out = self.head(h).reshape(b, self.cfg["horizon"], 3)
        return out * self.out_scale


def load_model(model_dir: Path) -> DrivingModel:
    cfg = json.loads((model_dir / "config.json").read_text())
    weights = load_file(str(model_dir / "model.safetensors"))
    vocab = weights["text.embed.weight"].shape[0]
    model = DrivingModel(cfg, vocab)
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    extra = sorted(set(weights) - set(own))
    if missing or extra:
        sys.exit(f"{model_dir}/model.safetensors does not match the PyTorch port: missing {missing}, unexpected {extra}")
    for name, t in weights.items():
        if tuple(t.shape) != tuple(own[name].shape):
            sys.exit(f"{name}: safetensors shape {tuple(t.shape)}, PyTorch port {tuple(own[name].shape)}")
    model.load_state_dict(weights, strict=True)
    return model.eval()


def tile(t: torch.Tensor, n: int) -> torch.Tensor:
    reps = math.ceil(n / t.shape[0])
    return t.repeat(reps, *([1] * (t.dim() - 1)))[:n].contiguous()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--fixture", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    model = load_model(args.model_dir)
    fx = load_file(str(args.fixture))
    inputs = [fx["image"], fx["ego"], fx["route"], fx["tokens"].long(), fx["token_mask"]]

    with torch.inference_mode():
        out = model(*inputs)
    diff = (out - fx["output"]).abs().max().item()
    scale = fx["output"].abs().max().item()
    print(f"torch {torch.__version__}, {args.threads} thread(s), {torch.backends.cpu.get_cpu_capability()}")
    print(
        f"parity: {fx['output'].shape[0]} samples, max |torch - candle| = {diff:.2e} "
        f"(outputs up to {scale:.1f})"
    )
    if not diff <= args.tolerance:
        sys.exit(f"parity FAILED: {diff:.2e} > {args.tolerance:.0e}")

    for b in args.batch:
        batch = [tile(t, b) for t in inputs]
        with torch.inference_mode():
            for _ in range(20):
                model(*batch).numpy()
            times = []
            for _ in range(max(args.iters, 1)):
                t0 = time.perf_counter()
                model(*batch).numpy()
                times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        q = lambda p: times[round((len(times) - 1) * p)]  # noqa: E731
        mean = statistics.fmean(times)
        print(
            f"batch {b:>3}: p50 {q(0.5):.2f} ms  p99 {q(0.99):.2f} ms  mean {mean:.2f} ms  "
            f"throughput {b * 1e3 / mean:.0f} samples/s"
        )


if __name__ == "__main__":
    main()
