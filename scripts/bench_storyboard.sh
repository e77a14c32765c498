#!/usr/bin/env bash
# Whole-process wall time of `atlas run --ego storyboard FILE` (start the
# three services in-process, read the file, play the storyboard to its stop
# trigger, score, write results, stop), N runs per file, min / median / max.
# Compare with esmini on the same file:
#   esmini --headless --fixed_timestep 0.05 --disable_controllers --osc FILE
#
#   bash scripts/bench_storyboard.sh [-n RUNS] [FILE...]
#
# Default files: the ALKS cut-in and the follow-lead-vehicle scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/atlas-target}"
runs=7
if [[ ${1:-} == -n ]]; then
  runs=$2
  shift 2
fi
files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
  files=(scenarios/alks/alks_scenario_4_4_1_cut_in_no_collision_template.xosc
    scenarios/alks/alks_scenario_4_3_1_follow_lead_vehicle_comfortable_template.xosc)
fi
cargo build --release --locked --bin atlas >&2
bin="$CARGO_TARGET_DIR/release/atlas"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for f in "${files[@]}"; do
  times=()
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    RUST_LOG=error "$bin" run --ego storyboard --results "$out/results.json" "$f" >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -g)
  min=$(echo "$sorted" | head -1)
  max=$(echo "$sorted" | tail -1)
  med=$(echo "$sorted" | sed -n "$(((runs + 1) / 2))p")
  printf '%s: %d runs, wall s min %.3f median %.3f max %.3f\n' "$(basename "$f")" "$runs" "$min" "$med" "$max"
done
