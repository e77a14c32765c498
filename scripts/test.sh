#!/usr/bin/env bash
# The test command: formatting, lints and every test of the workspace, the
# Python API's tests (scripts/test_python.sh: mypy --strict, pytest against a
# real `atlas up`), then
# the Docker Swarm end-to-end test (scripts/swarm_e2e.sh: deploy the stack on
# this machine's engine, scale the scenario runtime to 3 replicas, 12 runs
# through tasks.scenario, health of every task, the fault cases of
# scripts/swarm_faults.sh with 100 runs each, teardown) whenever a Docker
# engine answers (`docker info`); ATLAS_SKIP_SWARM_E2E=1 skips it.
# CI runs exactly this (.ci/run). Needs the Rust toolchain, python3 with venv
# (the egodriver compatibility test installs carla-driver-interface from PyPI
# into a venv under the target dir; scripts/test_python.sh installs python/
# with its test dependencies into another) and network access to crates.io and PyPI
# on the first run; installs Debian's chromium (scripts/ensure_chromium.sh)
# when missing, for the report test.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/atlas-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

for c in rustfmt clippy; do
  if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$c"
  fi
done

# The HTML report test renders the report in headless Chromium (Debian's package).
bash scripts/ensure_chromium.sh

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== Python API (scripts/test_python.sh)"
bash scripts/test_python.sh

if [[ ${ATLAS_SKIP_SWARM_E2E:-0} == 1 ]]; then
  echo "== swarm end-to-end test skipped (ATLAS_SKIP_SWARM_E2E=1)"
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo "== swarm end-to-end test (scripts/swarm_e2e.sh)"
  bash scripts/swarm_e2e.sh
else
  echo "== swarm end-to-end test skipped (no Docker engine answers 'docker info')"
fi
