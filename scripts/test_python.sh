#!/usr/bin/env bash
# The Python API's tests (python/, distribution atlas-drive): a venv under the
# target dir with the package and its test dependencies from PyPI, then
# `mypy --strict` on the package and pytest against the real services
# (`atlas up` from the release binary, started by the tests on loopback ports).
#
#   bash scripts/test_python.sh            # cargo build --release --bin atlas first
#   ATLAS_BIN=/path/to/atlas bash scripts/test_python.sh   # a given binary, no build
#
# Run by scripts/test.sh. Needs python3 (>= 3.11) with venv and PyPI access on
# the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/atlas-target}"
VENV="$CARGO_TARGET_DIR/atlas-drive-venv"
PY="$VENV/bin/python"

if [[ -z ${ATLAS_BIN:-} ]]; then
  # Always through cargo, so the tests never run a stale binary (a no-op
  # when it is current; the Swarm test builds the same release binaries).
  export ATLAS_BIN="$CARGO_TARGET_DIR/release/atlas"
  echo "== cargo build --release --bin atlas (for the Python tests)"
  cargo build --release --locked --bin atlas
fi

if [[ ! -x $PY ]]; then
  python3 -m venv "$VENV"
fi
# Editable install: the tests run the working tree's package.
"$PY" -m pip install --quiet --disable-pip-version-check -e "./python[test]"

echo "== mypy --strict (python/src/atlas_drive, python/tests, python/tools)"
(cd python && "$PY" -m mypy --strict src/atlas_drive && "$PY" -m mypy --strict tests tools)
echo "== pytest (python/tests)"
(cd python && "$PY" -m pytest -q "$@")
