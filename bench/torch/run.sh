#!/usr/bin/env bash
# PyTorch side of the candle-vs-PyTorch comparison of the driving model.
#
# Creates a virtualenv under the cargo target directory, installs torch and
# safetensors from PyPI into it (once), exports the parity fixture from Rust
# (`atlas-model export-fixture`), then runs bench_torch.py: parity against
# candle's outputs, then latency at batch 1 and throughput at batch 8 and 32.
#
#   bash bench/torch/run.sh                 # 1 thread, like the candle figures
#   THREADS=2 bash bench/torch/run.sh
#
# The candle side with the same settings:
#   RAYON_NUM_THREADS=1 $CARGO_TARGET_DIR/release/atlas-model latency --iters 300
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-/var/tmp/atlas-target}"
venv="$target/torch-venv"
threads="${THREADS:-1}"
iters="${ITERS:-300}"
model_dir="${MODEL_DIR:-$root/models/atlas-drive-v1}"
fixture="$target/torch-fixture/fixture.safetensors"

python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import torch, safetensors, numpy' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet torch safetensors numpy
fi

if [ "${SKIP_FIXTURE:-0}" != 1 ]; then
    (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -p atlas-train --bin atlas-model)
    mkdir -p "$(dirname "$fixture")"
    (cd "$root" && RAYON_NUM_THREADS="$threads" "$target/release/atlas-model" export-fixture \
        --model-dir "$model_dir" --out "$fixture")
fi

RAYON_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" \
    "$venv/bin/python" "$root/bench/torch/bench_torch.py" \
    --model-dir "$model_dir" --fixture "$fixture" --threads "$threads" --iters "$iters"
