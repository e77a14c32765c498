#!/usr/bin/env bash
# Builds the service images: atlas-scenario, atlas-carla-bridge,
# atlas-vla-model (and atlas-vla-model:cuda with --cuda).
#
#   scripts/build_images.sh                 # prebuilt mode: cargo build on the host, then images
#   scripts/build_images.sh --mode source   # compile inside Docker (needs the Rust image)
#
# Each image is tagged :latest and :<id>, the first 12 hex digits of its
# image ID. The :<id> tag names the content, so deploying it twice is a
# no-op and a rebuilt image always rolls out. With --env-file FILE the
# references are written as ATLAS_*_IMAGE=... lines for deploy_swarm.sh.
set -euo pipefail
ATLAS_LOG_PREFIX=build
# shellcheck source=swarm_common.sh
source "$(dirname "$0")/swarm_common.sh"

MODE="${ATLAS_BUILD_MODE:-auto}"
SERVICES="scenario carla-bridge vla-model"
CUDA=0
RUN_CARGO=1
ENV_FILE=""
RUNTIME_IMAGE="${ATLAS_RUNTIME_IMAGE:-docker.io/library/debian:bookworm-slim}"
RUST_IMAGE="${ATLAS_RUST_IMAGE:-}"
CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/atlas-target}"

usage() {
  cat <<EOF
Usage: scripts/build_images.sh [options]

Builds the ATLAS service images from docker/Dockerfile.<service>.

Options:
  --mode MODE          prebuilt: build the binaries on this host with cargo and
                       copy them into the images (works offline);
                       source: compile inside Docker (the Dockerfiles' default
                       target; needs the Rust builder image);
                       auto (default): prebuilt when cargo is installed
  --services "LIST"    images to build (default: "$SERVICES")
  --cuda               also build atlas-vla-model:cuda (Dockerfile.vla-model-cuda;
                       prebuilt mode needs this host to build --features cuda)
  --no-cargo           prebuilt mode: use the binaries already in
                       \$CARGO_TARGET_DIR/release instead of running cargo
  --runtime-image IMG  base of the runtime images (default: $RUNTIME_IMAGE;
                       when missing and not pullable, one is made from Debian
                       packages with scripts/build_base_image.sh)
  --rust-image IMG     builder image for --mode source
  --env-file FILE      write the built image references to FILE
  -h, --help           this help

Environment: CARGO_TARGET_DIR (default /var/tmp/atlas-target),
CUDA_COMPUTE_CAP (default 80), ATLAS_OFFLINE=1 (never try to pull).
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --mode) MODE="$2"; shift 2 ;;
    --services) SERVICES="$2"; shift 2 ;;
    --cuda) CUDA=1; shift ;;
    --no-cargo) RUN_CARGO=0; shift ;;
    --runtime-image) RUNTIME_IMAGE="$2"; shift 2 ;;
    --rust-image) RUST_IMAGE="$2"; shift 2 ;;
    --env-file) ENV_FILE="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

require_docker
cd "$ATLAS_ROOT"

if [[ $MODE == auto ]]; then
  if command -v cargo >/dev/null 2>&1; then MODE=prebuilt; else MODE=source; fi
fi
[[ $MODE == prebuilt || $MODE == source ]] || die "--mode must be prebuilt, source or auto"
[[ $CUDA == 1 ]] && SERVICES="$SERVICES vla-model-cuda"

for s in $SERVICES; do
  [[ -n ${ATLAS_IMAGE_NAME[$s]:-} ]] || die "unknown service '$s' (scenario, carla-bridge, vla-model, vla-model-cuda)"
  [[ -f docker/Dockerfile.$s ]] || die "docker/Dockerfile.$s is missing"
done

build_start=$(now)
BASE=""
needs_debian_base=0
for s in $SERVICES; do [[ $s != vla-model-cuda ]] && needs_debian_base=1; done
if [[ $needs_debian_base == 1 ]]; then
  BASE=$(ensure_runtime_base "$RUNTIME_IMAGE")
fi

# ------------------------------------------------------------ host binaries
STAGE=""
cleanup() { if [[ -n $STAGE ]]; then rm -rf "$STAGE"; fi; }
trap cleanup EXIT

if [[ $MODE == prebuilt ]]; then
  bins=()
  for s in $SERVICES; do
    for b in ${ATLAS_IMAGE_BINS[$s]}; do
      # The CUDA atlas-vla is built separately, below.
      [[ $s == vla-model-cuda && $b == atlas-vla ]] && continue
      [[ " ${bins[*]} " == *" $b "* ]] || bins+=("$b")
    done
  done
  if [[ $RUN_CARGO == 1 && ${#bins[@]} -gt 0 ]]; then
    require_cmd cargo
    log "cargo build --release (${bins[*]}) into $CARGO_TARGET_DIR"
    cargo_start=$(now)
    bin_args=()
    for b in "${bins[@]}"; do bin_args+=(--bin "$b"); done
    cargo build --release --locked -p atlas -p atlas-bridge -p atlas-vla -p atlas-scenario "${bin_args[@]}"
    log "cargo build: $(( $(now) - cargo_start )) s"
  fi

  # One build context per image: docker/prebuilt/ with the image's binaries
  # (debug info stripped), and the maps and scenarios.
  STAGE=$(mktemp -d /var/tmp/atlas-image-context.XXXXXX)
  if [[ $CUDA == 1 ]]; then
    # The CUDA binary comes from its own target dir so it never replaces the CPU one.
    cuda_target="${ATLAS_CUDA_TARGET_DIR:-$CARGO_TARGET_DIR/cuda}"
    if [[ $RUN_CARGO == 1 ]]; then
      log "cargo build --release -p atlas-vla --features cuda (CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP)"
      CUDA_COMPUTE_CAP="$CUDA_COMPUTE_CAP" CARGO_TARGET_DIR="$cuda_target" \
        cargo build --release --locked -p atlas-vla --features cuda --bin atlas-vla
    fi
  fi
  for s in $SERVICES; do
    ctx="$STAGE/$s"
    mkdir -p "$ctx/docker/prebuilt"
    cp -r maps scenarios models "$ctx/"
    mkdir -p "$ctx/docker/wheels"
    if [[ $s == scenario ]]; then
      # The Python API: the package and the examples, and the wheels of the
      # package and its dependencies (PyPI, through pip on this host) so the
      # image build needs no index; without pip here the build uses PyPI.
      cp -r python examples "$ctx/"
      rm -rf "$ctx/python/build" "$ctx/python/src/"*.egg-info
      find "$ctx/python" -name __pycache__ -prune -exec rm -rf {} +
      if python3 -m pip --version >/dev/null 2>&1; then
        log "pip wheel python/ (atlas-drive and its dependencies) for the scenario image"
        python3 -m pip wheel --quiet --disable-pip-version-check -w "$ctx/docker/wheels" "$ctx/python" >&2 \
          || { log "pip wheel failed: the image build installs from PyPI instead"; rm -f "$ctx/docker/wheels/"*.whl; }
      fi
    fi
    for b in ${ATLAS_IMAGE_BINS[$s]}; do
      src="$CARGO_TARGET_DIR/release/$b"
      [[ $s == vla-model-cuda && $b == atlas-vla ]] && src="$cuda_target/release/$b"
      [[ -x $src ]] || die "$src is missing (build it, or drop --no-cargo)"
      if command -v objcopy >/dev/null 2>&1; then
        objcopy --strip-debug "$src" "$ctx/docker/prebuilt/$b"
      else
        cp "$src" "$ctx/docker/prebuilt/$b"
      fi
    done
  done
fi

# ------------------------------------------------------------------- images
declare -A BUILT=()
for s in $SERVICES; do
  name=${ATLAS_IMAGE_NAME[$s]}
  tag=latest
  [[ $s == vla-model-cuda ]] && tag=cuda
  # -f is absolute: the prebuilt context is a staging directory.
  args=(-f "$ATLAS_ROOT/docker/Dockerfile.$s" -t "$name:$tag")
  if [[ $s != vla-model-cuda ]]; then
    args+=(--build-arg "RUNTIME_IMAGE=$BASE")
  fi
  if [[ $MODE == prebuilt ]]; then
    args+=(--target prebuilt)
    context="$STAGE/$s"
  else
    args+=(--target runtime)
    [[ -n $RUST_IMAGE && $s != vla-model-cuda ]] && args+=(--build-arg "RUST_IMAGE=$RUST_IMAGE")
    [[ $s == vla-model-cuda ]] && args+=(--build-arg "CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP")
    context="$ATLAS_ROOT"
  fi
  log "docker build $name:$tag ($MODE)"
  t=$(now)
  build_log="${TMPDIR:-/tmp}/atlas-build-$s.log"
  [[ $MODE == source ]] && log "  (compiling in Docker; progress in $build_log)"
  if ! docker build "${args[@]}" "$context" >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    die "docker build of $name failed (full log: $build_log)"
  fi
  rm -f "$build_log"
  id=$(docker image inspect -f '{{.Id}}' "$name:$tag")
  id=${id#sha256:}
  content_tag="${id:0:12}"
  [[ $s == vla-model-cuda ]] && content_tag="cuda-${id:0:12}"
  docker tag "$name:$tag" "$name:$content_tag"
  BUILT[$s]="$name:$content_tag"
  size=$(docker image inspect -f '{{.Size}}' "$name:$tag")
  log "built $name:$content_tag ($((size / 1000000)) MB) in $(( $(now) - t )) s"
done

# Every binary must run in its image (a glibc or a missing library shows
# up here, not as a crash-looping service). The probe against a closed port
# must report a connection failure: exit code 2.
for s in $SERVICES; do
  [[ $s == vla-model-cuda ]] && continue
  ref=${BUILT[$s]}
  for b in ${ATLAS_IMAGE_BINS[$s]}; do
    if [[ $b == atlas-probe ]]; then
      rc=0
      docker run --rm --network none --entrypoint atlas-probe "$ref" -addr 127.0.0.1:9 >/dev/null 2>&1 || rc=$?
      [[ $rc == 2 ]] || die "$ref: atlas-probe exited $rc against a closed port (want 2)"
    else
      docker run --rm --network none --entrypoint "$b" "$ref" --help >/dev/null \
        || die "$ref: $b --help failed inside the image"
    fi
  done
  user=$(docker image inspect -f '{{.Config.User}}' "$ref")
  [[ -n $user && $user != root && $user != 0 ]] || die "$ref runs as root"
done

log "images built in $(( $(now) - build_start )) s:"
for s in $SERVICES; do
  size=$(docker image inspect -f '{{.Size}}' "${BUILT[$s]}")
  printf '  %-32s %4d MB\n' "${BUILT[$s]}" "$((size / 1000000))" >&2
done

if [[ -n $ENV_FILE ]]; then
  : >"$ENV_FILE"
  for s in $SERVICES; do
    echo "${ATLAS_IMAGE_VAR[$s]}=${BUILT[$s]}" >>"$ENV_FILE"
  done
fi
