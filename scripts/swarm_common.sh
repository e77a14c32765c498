# shellcheck shell=bash disable=SC2034
# Helpers shared by build_images.sh, deploy_swarm.sh and teardown_swarm.sh.
# Sourced, not run.

# Repository root (this file lives in scripts/).
ATLAS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Image names of the services, by Dockerfile suffix.
declare -A ATLAS_IMAGE_NAME=(
  [scenario]=atlas-scenario
  [carla-bridge]=atlas-carla-bridge
  [vla-model]=atlas-vla-model
  [vla-model-cuda]=atlas-vla-model
)
# The binaries each image carries (prebuilt mode copies these from the host).
declare -A ATLAS_IMAGE_BINS=(
  [scenario]="atlas-scenario atlas atlas-probe"
  [carla-bridge]="atlas-bridge atlas-probe"
  [vla-model]="atlas-vla atlas-probe"
  [vla-model-cuda]="atlas-vla atlas-probe"
)
# The environment variable of the stack file that takes each image reference.
declare -A ATLAS_IMAGE_VAR=(
  [scenario]=ATLAS_SCENARIO_IMAGE
  [carla-bridge]=ATLAS_BRIDGE_IMAGE
  [vla-model]=ATLAS_VLA_IMAGE
  [vla-model-cuda]=ATLAS_VLA_CUDA_IMAGE
)

ATLAS_LOG_PREFIX="${ATLAS_LOG_PREFIX:-atlas}"
ATLAS_T0=$(date +%s)

log() { printf '[%s %4ds] %s\n' "$ATLAS_LOG_PREFIX" "$(( $(date +%s) - ATLAS_T0 ))" "$*" >&2; }
warn() { printf '[%s] warning: %s\n' "$ATLAS_LOG_PREFIX" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$ATLAS_LOG_PREFIX" "$*" >&2; exit 1; }

# Seconds since the epoch, for phase timings.
now() { date +%s; }

require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' is required but not installed"
  done
}

require_docker() {
  require_cmd docker
  docker info >/dev/null 2>&1 || die "cannot talk to the Docker engine (is dockerd running, and may this user use it?)"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# True when the Swarm has a single node (images built here are usable by
# every task without a registry).
single_node_swarm() {
  [[ $(docker node ls -q 2>/dev/null | wc -l) -eq 1 ]]
}

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }
is_swarm_manager() { [[ $(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null) == true ]]; }

# MTU of the interface that carries the default route: the overlay network's
# MTU option (Docker gives containers 50 bytes less, for the VXLAN header).
default_route_mtu() {
  local dev
  dev=$(ip -o route show default 2>/dev/null | awk '{for (i=1;i<NF;i++) if ($i=="dev") {print $(i+1); exit}}')
  [[ -n $dev && -r /sys/class/net/$dev/mtu ]] && cat "/sys/class/net/$dev/mtu"
}

# The runtime base image: the configured one if present or pullable, else
# one made from Debian packages (build_base_image.sh). Prints its name.
ensure_runtime_base() {
  local want="$1" local_base="${ATLAS_LOCAL_BASE:-atlas-base:bookworm}"
  if image_exists "$want"; then
    echo "$want"; return
  fi
  if [[ ${ATLAS_OFFLINE:-0} != 1 ]] && docker pull -q "$want" >/dev/null 2>&1; then
    log "pulled $want"
    echo "$want"; return
  fi
  if image_exists "$local_base"; then
    log "$want is not available; using $local_base (made from Debian packages)"
    echo "$local_base"; return
  fi
  log "$want is not available and cannot be pulled: making $local_base from Debian packages"
  # Command substitutions do not inherit errexit: fail explicitly.
  bash "$ATLAS_ROOT/scripts/build_base_image.sh" --tag "$local_base" >&2 || return 1
  echo "$local_base"
}
