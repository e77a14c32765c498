#!/usr/bin/env bash
# Deploys ATLAS on Docker Swarm: initialises a single-node swarm if needed,
# builds the images, puts them in a registry, deploys the stack, waits until
# every service is healthy, and runs a smoke scenario through the stack.
# Fails unless the smoke scenario comes back scored. See --help.
set -euo pipefail
ATLAS_LOG_PREFIX=deploy
# shellcheck source=swarm_common.sh
source "$(dirname "$0")/swarm_common.sh"

STACK="${ATLAS_STACK:-atlas}"
REPLICAS="${ATLAS_SCENARIO_REPLICAS:-1}"
REGISTRY_PORT="${ATLAS_REGISTRY_PORT:-5000}"
REGISTRY_ADDR=""          # an existing registry (--registry)
REGISTRY_MODE=auto        # auto | run | none
REGISTRY_PUBLISH=""       # host | ingress (default: host on one node, ingress on several)
WITH_ALPAMAYO=0
ALPAMAYO_IMAGE="${ALPAMAYO_IMAGE:-}"
HF_TOKEN_FILE_ARG=""
DEFAULT_DRIVER=dummy
GPU_RESOURCES=0
VLA_CUDA=0
WITH_CARLA=0
WITH_OTEL=0
SKIP_BUILD=0
BUILD_MODE="${ATLAS_BUILD_MODE:-auto}"
MTU="${ATLAS_NETWORK_MTU:-}"
ADVERTISE_ADDR=""
TIMEOUT=300
SMOKE=1
SMOKE_SCENARIO=/app/scenarios/town01_straight_clear.toml
REGISTRY_SERVICE="${ATLAS_REGISTRY_SERVICE:-atlas-registry}"

usage() {
  cat <<EOF
Usage: scripts/deploy_swarm.sh [options]

Deploys the ATLAS stack (carla-bridge, scenario, ad-stack-dummy) on Docker
Swarm and checks it end to end:
  1. initialises a single-node swarm when this engine is not in one
  2. builds the images (scripts/build_images.sh; offline-capable)
  3. runs a local registry and pushes the images to it
  4. docker stack deploy (stack/docker-compose.stack.yml + overlays)
  5. waits until every service has all replicas running and healthy
  6. runs a smoke scenario in a scenario container and fails unless a
     scored result comes back

Options:
  --stack-name NAME       stack name (default: atlas; services are NAME_scenario, ...)
  --replicas N            scenario replicas (default: 1; later: docker service scale NAME_scenario=N)
  --with-alpamayo         add ad-stack-alpamayo (stack/docker-compose.alpamayo.yml) on
                          nodes labelled gpu=true; needs --alpamayo-image and the
                          hf_token secret (created from --hf-token-file or \$HF_TOKEN
                          when missing)
  --alpamayo-image IMG    the Alpamayo egodriver image (env ALPAMAYO_IMAGE)
  --hf-token-file FILE    file holding the Hugging Face token for the hf_token secret
  --default-driver D      the runtime's default policy: dummy (default) or alpamayo
  --gpu-resources         reserve one Swarm generic resource "GPU" per GPU task
                          (nodes must advertise node-generic-resources; README)
  --vla-cuda              serve ad-stack-dummy from atlas-vla-model:cuda on gpu=true nodes
  --with-carla            add a CARLA server on nodes labelled carla=true (env CARLA_IMAGE)
  --with-otel             add an OpenTelemetry collector (env OTEL_COLLECTOR_IMAGE)
  --registry-port PORT    port of the local registry (default: 5000). The registry
                          runs as the Swarm service '$REGISTRY_SERVICE' from registry:2 when that
                          image exists, else from an image built from Debian's
                          docker-registry package (docker/Dockerfile.registry). If
                          neither can be had, a single-node swarm deploys the local
                          images without a registry.
  --registry HOST:PORT    push to this existing registry instead of running one
  --registry-publish M    host: the registry listens on this node's port only
                          (default on a single node); ingress: on every node through
                          the routing mesh, so every node pulls from 127.0.0.1:PORT
                          (default on several nodes; needs IPVS)
  --no-registry           never use a registry (single-node swarms only)
  --skip-build            do not build; deploy the images already built
                          (atlas-*:latest, or ATLAS_SCENARIO_IMAGE / ATLAS_BRIDGE_IMAGE /
                          ATLAS_VLA_IMAGE)
  --build-mode MODE       prebuilt (host cargo build, offline), source (in Docker) or
                          auto (default); see scripts/build_images.sh
  --mtu N                 the overlay network's MTU option: the hosts' interface MTU
                          (containers get N - 50 for VXLAN; default: the MTU of this
                          host's default-route interface)
  --advertise-addr ADDR   address for 'docker swarm init' (when this host has several)
  --timeout SECONDS       how long to wait for the services (default: $TIMEOUT)
  --smoke-scenario PATH   scenario file inside the scenario image
                          (default: $SMOKE_SCENARIO)
  --skip-smoke            do not run the smoke scenario
  -h, --help              this help

Examples:
  scripts/deploy_swarm.sh
  scripts/deploy_swarm.sh --stack-name my-atlas --replicas 3
  HF_TOKEN=hf_xxx scripts/deploy_swarm.sh --with-alpamayo --alpamayo-image registry.example.com/alpamayo:1.0
  scripts/teardown_swarm.sh [--remove-volumes | --full-cleanup]
EOF
}

need_arg() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --stack-name) need_arg "$@"; STACK="$2"; shift 2 ;;
    --replicas) need_arg "$@"; REPLICAS="$2"; shift 2 ;;
    --with-alpamayo) WITH_ALPAMAYO=1; shift ;;
    --alpamayo-image) need_arg "$@"; ALPAMAYO_IMAGE="$2"; shift 2 ;;
    --hf-token-file) need_arg "$@"; HF_TOKEN_FILE_ARG="$2"; shift 2 ;;
    --default-driver) need_arg "$@"; DEFAULT_DRIVER="$2"; shift 2 ;;
    --gpu-resources) GPU_RESOURCES=1; shift ;;
    --vla-cuda) VLA_CUDA=1; shift ;;
    --with-carla) WITH_CARLA=1; shift ;;
    --with-otel) WITH_OTEL=1; shift ;;
    --registry-port) need_arg "$@"; REGISTRY_PORT="$2"; REGISTRY_MODE=run; shift 2 ;;
    --registry) need_arg "$@"; REGISTRY_ADDR="$2"; REGISTRY_MODE=external; shift 2 ;;
    --registry-publish) need_arg "$@"; REGISTRY_PUBLISH="$2"; shift 2 ;;
    --no-registry) REGISTRY_MODE=none; shift ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    --build-mode) need_arg "$@"; BUILD_MODE="$2"; shift 2 ;;
    --mtu) need_arg "$@"; MTU="$2"; shift 2 ;;
    --advertise-addr) need_arg "$@"; ADVERTISE_ADDR="$2"; shift 2 ;;
    --timeout) need_arg "$@"; TIMEOUT="$2"; shift 2 ;;
    --smoke-scenario) need_arg "$@"; SMOKE_SCENARIO="$2"; shift 2 ;;
    --skip-smoke) SMOKE=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

# ------------------------------------------------------------- validation
[[ $STACK =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] || die "invalid stack name: $STACK"
[[ $REPLICAS =~ ^[0-9]+$ && $REPLICAS -ge 1 ]] || die "--replicas must be a positive integer"
[[ $REGISTRY_PORT =~ ^[0-9]+$ && $REGISTRY_PORT -ge 1 && $REGISTRY_PORT -le 65535 ]] \
  || die "--registry-port must be a TCP port"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout must be a number of seconds"
[[ -z $MTU || $MTU =~ ^[0-9]+$ ]] || die "--mtu must be a number"
[[ -z $REGISTRY_PUBLISH || $REGISTRY_PUBLISH == host || $REGISTRY_PUBLISH == ingress ]] \
  || die "--registry-publish must be host or ingress"
case "$DEFAULT_DRIVER" in
  dummy) ;;
  alpamayo) [[ $WITH_ALPAMAYO == 1 ]] || die "--default-driver alpamayo needs --with-alpamayo" ;;
  *) die "--default-driver must be dummy or alpamayo" ;;
esac
if [[ $WITH_ALPAMAYO == 1 && -z $ALPAMAYO_IMAGE ]]; then
  die "--with-alpamayo needs the Alpamayo egodriver image: --alpamayo-image IMG (or ALPAMAYO_IMAGE)"
fi
[[ $GPU_RESOURCES == 0 || $WITH_ALPAMAYO == 1 ]] || die "--gpu-resources applies to --with-alpamayo"
[[ -z $HF_TOKEN_FILE_ARG || -r $HF_TOKEN_FILE_ARG ]] || die "cannot read $HF_TOKEN_FILE_ARG"

require_docker
require_cmd curl
cd "$ATLAS_ROOT"
STACK_DIR="$ATLAS_ROOT/stack"
[[ -f $STACK_DIR/docker-compose.stack.yml ]] || die "stack/docker-compose.stack.yml is missing"

T_START=$(now)
declare -A PHASE=()

# ------------------------------------------------------------------ swarm
state=$(swarm_state)
case "$state" in
  active)
    is_swarm_manager || die "this node is a swarm worker: run the deploy on a manager node"
    log "swarm: active ($(docker node ls -q | wc -l) node(s))"
    ;;
  inactive)
    init_args=()
    [[ -n $ADVERTISE_ADDR ]] && init_args+=(--advertise-addr "$ADVERTISE_ADDR")
    log "swarm: initialising a single-node swarm"
    if ! out=$(docker swarm init "${init_args[@]}" 2>&1); then
      if [[ -z $ADVERTISE_ADDR && $out == *"advertise address"* ]]; then
        # Several addresses: use the one of the default route.
        addr=$(ip -o route get 1.1.1.1 2>/dev/null | awk '{for (i=1;i<NF;i++) if ($i=="src") {print $(i+1); exit}}')
        [[ -n $addr ]] || die "docker swarm init: $out"
        log "swarm: several addresses, advertising $addr (override with --advertise-addr)"
        docker swarm init --advertise-addr "$addr" >/dev/null
      else
        die "docker swarm init: $out"
      fi
    fi
    # Remembered so teardown --full-cleanup can leave the swarm it made.
    docker node update --label-add org.atlas.swarm-init=deploy_swarm "$(docker info -f '{{.Swarm.NodeID}}')" >/dev/null
    ;;
  *) die "swarm state is '$state'; fix the engine's swarm membership first" ;;
esac
NODES=$(docker node ls -q | wc -l)

# Placement needs labelled nodes; without them the tasks would stay pending.
count_label() {
  local n id c=0
  for id in $(docker node ls -q); do
    n=$(docker node inspect -f "{{index .Spec.Labels \"$1\"}}" "$id")
    [[ $n == true ]] && c=$((c + 1))
  done
  echo "$c"
}
if [[ $WITH_ALPAMAYO == 1 || $VLA_CUDA == 1 ]]; then
  gpus=$(count_label gpu)
  [[ $gpus -gt 0 ]] || die "no node is labelled gpu=true: docker node update --label-add gpu=true <node>"
  log "placement: $gpus node(s) labelled gpu=true"
fi
if [[ $WITH_CARLA == 1 ]]; then
  [[ $(count_label carla) -gt 0 ]] || die "no node is labelled carla=true: docker node update --label-add carla=true <node>"
fi

# -------------------------------------------------------------- hf_token
if [[ $WITH_ALPAMAYO == 1 ]]; then
  if docker secret inspect hf_token >/dev/null 2>&1; then
    log "secret hf_token: present"
  elif [[ -n $HF_TOKEN_FILE_ARG ]]; then
    docker secret create --label org.atlas.created-by=deploy_swarm hf_token "$HF_TOKEN_FILE_ARG" >/dev/null
    log "secret hf_token: created from $HF_TOKEN_FILE_ARG"
  elif [[ -n ${HF_TOKEN:-} ]]; then
    printf '%s' "$HF_TOKEN" | docker secret create --label org.atlas.created-by=deploy_swarm hf_token - >/dev/null
    log "secret hf_token: created from \$HF_TOKEN"
  else
    die "the hf_token secret is missing: echo \"\$HF_TOKEN\" | docker secret create hf_token -  (or --hf-token-file FILE)"
  fi
fi

# ----------------------------------------------------------------- build
ENV_FILE=$(mktemp /tmp/atlas-images.XXXXXX)
trap 'rm -f "$ENV_FILE"' EXIT
if [[ $SKIP_BUILD == 0 ]]; then
  t=$(now)
  build_args=(--mode "$BUILD_MODE" --env-file "$ENV_FILE")
  [[ $VLA_CUDA == 1 ]] && build_args+=(--cuda)
  bash "$ATLAS_ROOT/scripts/build_images.sh" "${build_args[@]}"
  PHASE[build]=$(( $(now) - t ))
  set -a
  # shellcheck source=/dev/null
  source "$ENV_FILE"
  set +a
else
  # The images build_images.sh made last, by their content tag (as a build
  # would name them), so that redeploying unchanged images changes nothing.
  content_ref() {
    local id prefix="${2:-}"
    id=$(docker image inspect -f '{{.Id}}' "$1" 2>/dev/null) || { echo "$1"; return; }
    id=${id#sha256:}
    docker tag "$1" "${1%:*}:$prefix${id:0:12}"
    echo "${1%:*}:$prefix${id:0:12}"
  }
  : "${ATLAS_SCENARIO_IMAGE:=$(content_ref atlas-scenario:latest)}"
  : "${ATLAS_BRIDGE_IMAGE:=$(content_ref atlas-carla-bridge:latest)}"
  : "${ATLAS_VLA_IMAGE:=$(content_ref atlas-vla-model:latest)}"
  if [[ $VLA_CUDA == 1 ]]; then
    : "${ATLAS_VLA_CUDA_IMAGE:=$(content_ref atlas-vla-model:cuda cuda-)}"
  fi
  log "skipping the build"
fi
IMAGE_VARS=(ATLAS_SCENARIO_IMAGE ATLAS_BRIDGE_IMAGE ATLAS_VLA_IMAGE)
[[ $VLA_CUDA == 1 ]] && IMAGE_VARS+=(ATLAS_VLA_CUDA_IMAGE)
for v in "${IMAGE_VARS[@]}"; do
  image_exists "${!v}" || die "image ${!v} ($v) does not exist here; build it or drop --skip-build"
done

# -------------------------------------------------------------- registry
# Picks (and if needed builds) an image to run the registry from.
registry_image() {
  local img
  for img in ${ATLAS_REGISTRY_IMAGE:-} registry:2; do
    image_exists "$img" && { echo "$img"; return 0; }
  done
  if [[ ${ATLAS_OFFLINE:-0} != 1 ]] && docker pull -q registry:2 >/dev/null 2>&1; then
    echo registry:2; return 0
  fi
  img=atlas-registry:2.8
  if image_exists "$img"; then echo "$img"; return 0; fi
  log "registry:2 is not available: building $img from Debian's docker-registry package" >&2
  local base
  base=$(ensure_runtime_base "${ATLAS_RUNTIME_IMAGE:-docker.io/library/debian:bookworm-slim}") || return 1
  if docker build -q -f docker/Dockerfile.registry --build-arg "BASE_IMAGE=$base" \
       -t "$img" docker/registry >/dev/null 2>&1; then
    echo "$img"; return 0
  fi
  return 1
}

wait_registry() {
  local url="http://127.0.0.1:$1/v2/"
  for _ in $(seq 1 60); do
    curl -fsS -m 2 "$url" >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}

REGISTRY=""
if [[ $REGISTRY_MODE == external ]]; then
  REGISTRY="$REGISTRY_ADDR"
  log "registry: using $REGISTRY"
elif [[ $REGISTRY_MODE == none ]]; then
  [[ $NODES -eq 1 ]] || die "--no-registry works on a single-node swarm only ($NODES nodes here)"
  log "registry: none (--no-registry): deploying the local images on this single node"
else
  [[ -n $REGISTRY_PUBLISH ]] || { [[ $NODES -eq 1 ]] && REGISTRY_PUBLISH=host || REGISTRY_PUBLISH=ingress; }
  t=$(now)
  if docker service inspect "$REGISTRY_SERVICE" >/dev/null 2>&1; then
    published=$(docker service inspect -f '{{range .Endpoint.Ports}}{{.PublishedPort}} {{end}}' "$REGISTRY_SERVICE")
    [[ " $published " == *" $REGISTRY_PORT "* ]] \
      || die "service $REGISTRY_SERVICE already publishes port(s) ${published:-none}, not $REGISTRY_PORT (teardown_swarm.sh --full-cleanup removes it)"
    wait_registry "$REGISTRY_PORT" || die "registry $REGISTRY_SERVICE does not answer on 127.0.0.1:$REGISTRY_PORT"
    REGISTRY="127.0.0.1:$REGISTRY_PORT"
    log "registry: $REGISTRY_SERVICE already running on port $REGISTRY_PORT"
  elif reg_img=$(registry_image); then
    log "registry: starting $REGISTRY_SERVICE from $reg_img on port $REGISTRY_PORT (publish mode $REGISTRY_PUBLISH)"
    # registry:2 stores under /var/lib/registry, the Debian build under /var/lib/docker-registry.
    reg_dir=/var/lib/docker-registry
    [[ $reg_img == registry:2* ]] && reg_dir=/var/lib/registry
    create_args=(--detach --name "$REGISTRY_SERVICE"
      --label org.atlas.registry=true
      --publish "mode=$REGISTRY_PUBLISH,published=$REGISTRY_PORT,target=5000"
      --mount "type=volume,source=atlas-registry-data,target=$reg_dir,volume-label=org.atlas.volume=registry"
      --restart-condition any
      --no-resolve-image
      # Storage is a local volume: keep the registry on this node.
      --constraint "node.id==$(docker info -f '{{.Swarm.NodeID}}')")
    docker service create "${create_args[@]}" "$reg_img" >/dev/null
    wait_registry "$REGISTRY_PORT" || {
      docker service ps --no-trunc "$REGISTRY_SERVICE" >&2 || true
      die "registry $REGISTRY_SERVICE did not answer on 127.0.0.1:$REGISTRY_PORT within 60 s"
    }
    REGISTRY="127.0.0.1:$REGISTRY_PORT"
  elif [[ $NODES -eq 1 ]]; then
    warn "no registry image (registry:2 cannot be pulled and the Debian docker-registry build failed)"
    log "registry: skipped: single-node swarm, deploying the local images directly"
  else
    die "no registry image and $NODES nodes: other nodes could not get the images (use --registry HOST:PORT)"
  fi
  if [[ -n $REGISTRY && $REGISTRY_PUBLISH == host && $NODES -gt 1 ]]; then
    warn "registry published on this node only: other nodes cannot pull 127.0.0.1:$REGISTRY_PORT (use --registry-publish ingress)"
  fi
  PHASE[registry]=$(( $(now) - t ))
fi

if [[ -n $REGISTRY ]]; then
  t=$(now)
  for v in "${IMAGE_VARS[@]}"; do
    src=${!v}
    dst="$REGISTRY/${src##*/}"
    docker tag "$src" "$dst"
    log "push $dst"
    docker push -q "$dst" >/dev/null || die "docker push $dst failed"
    printf -v "$v" '%s' "$dst"
  done
  # A local-only Alpamayo image goes to the registry too, so GPU nodes get it.
  if [[ $WITH_ALPAMAYO == 1 ]] && image_exists "$ALPAMAYO_IMAGE" && [[ $ALPAMAYO_IMAGE != "$REGISTRY"/* ]]; then
    dst="$REGISTRY/${ALPAMAYO_IMAGE##*/}"
    docker tag "$ALPAMAYO_IMAGE" "$dst"
    log "push $dst"
    docker push -q "$dst" >/dev/null || die "docker push $dst failed"
    ALPAMAYO_IMAGE="$dst"
  fi
  PHASE[push]=$(( $(now) - t ))
fi
export "${IMAGE_VARS[@]}"

# ---------------------------------------------------------------- deploy
if [[ -z $MTU ]]; then
  MTU=$(default_route_mtu || true)
  MTU=${MTU:-1500}
fi
export ATLAS_NETWORK_MTU="$MTU"
export ATLAS_SCENARIO_REPLICAS="$REPLICAS"
export ALPAMAYO_IMAGE
if [[ $DEFAULT_DRIVER == alpamayo ]]; then
  export ATLAS_DRIVER_ADDR="http://tasks.ad-stack-alpamayo:${ALPAMAYO_PORT:-50051}"
fi

files=(-c "$STACK_DIR/docker-compose.stack.yml")
[[ $WITH_ALPAMAYO == 1 ]] && files+=(-c "$STACK_DIR/docker-compose.alpamayo.yml")
[[ $GPU_RESOURCES == 1 ]] && files+=(-c "$STACK_DIR/docker-compose.gpu-resources.yml")
[[ $VLA_CUDA == 1 ]] && files+=(-c "$STACK_DIR/docker-compose.vla-cuda.yml")
[[ $WITH_CARLA == 1 ]] && files+=(-c "$STACK_DIR/docker-compose.carla.yml")
[[ $WITH_OTEL == 1 ]] && files+=(-c "$STACK_DIR/docker-compose.otel.yml")

existing_net=$(docker network ls -q --filter "name=^${STACK}_atlas-network$")
if [[ -n $existing_net ]]; then
  cur_mtu=$(docker network inspect -f '{{index .Options "com.docker.network.driver.mtu"}}' "$existing_net")
  [[ $cur_mtu == "$MTU" ]] || warn "network ${STACK}_atlas-network keeps MTU $cur_mtu (remove the stack to change it to $MTU)"
fi

resolve=always
[[ -z $REGISTRY ]] && resolve=never
t_deploy=$(now)
log "docker stack deploy $STACK (scenario replicas $REPLICAS, network MTU $MTU, images:"
for v in "${IMAGE_VARS[@]}"; do log "  $v=${!v}"; done
[[ $WITH_ALPAMAYO == 1 ]] && log "  ALPAMAYO_IMAGE=$ALPAMAYO_IMAGE"
log ")"
docker stack deploy --prune --with-registry-auth --resolve-image "$resolve" "${files[@]}" "$STACK" >&2

# ------------------------------------------------------------ wait healthy
# A service is ready when its replica count is met by running tasks whose
# containers (on this node) are healthy, and no update is in progress.
# Swarm marks a task with a healthcheck "running" only once it is healthy.
service_status() {
  local svc="$1" want running ustate cid health unhealthy=0
  want=$(docker service inspect -f '{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}global{{end}}' "$svc")
  running=$(docker service ps "$svc" --filter desired-state=running --format '{{.CurrentState}}' 2>/dev/null | grep -c '^Running' || true)
  ustate=$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$svc")
  for cid in $(docker ps -q --filter "label=com.docker.swarm.service.name=$svc"); do
    health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$cid" 2>/dev/null || echo gone)
    [[ $health == healthy || $health == none || $health == gone ]] || unhealthy=$((unhealthy + 1))
  done
  echo "$want $running ${ustate:-none} $unhealthy"
}

fatal_task_error() {
  docker service ps "$1" --no-trunc --format '{{.Error}}' 2>/dev/null \
    | grep -m1 -E 'No such image|manifest unknown|pull access denied|invalid reference|not found' || true
}

dump_service() {
  local svc="$1"
  echo "---- docker service ps $svc" >&2
  docker service ps --no-trunc "$svc" >&2 || true
  echo "---- docker service logs --tail 30 $svc" >&2
  docker service logs --tail 30 "$svc" >&2 2>&1 || true
}

log "waiting for every service to be healthy (timeout ${TIMEOUT}s)"
deadline=$(( $(now) + TIMEOUT ))
last_report=0
while :; do
  mapfile -t services < <(docker stack services "$STACK" --format '{{.Name}}' | sort)
  [[ ${#services[@]} -gt 0 ]] || die "stack $STACK has no services"
  ready=0; summary=()
  for svc in "${services[@]}"; do
    read -r want running ustate unhealthy < <(service_status "$svc")
    case "$ustate" in
      rollback_started|rollback_completed|rollback_paused|paused)
        dump_service "$svc"
        die "$svc: update failed and was rolled back or paused ($ustate)" ;;
    esac
    err=$(fatal_task_error "$svc")
    if [[ -n $err ]]; then
      dump_service "$svc"
      die "$svc: $err"
    fi
    if [[ $want == global || ( $running -ge $want && $want -gt 0 ) ]] \
       && [[ $ustate == none || $ustate == completed ]] && [[ $unhealthy -eq 0 ]]; then
      ready=$((ready + 1))
    fi
    state_note=""
    [[ $ustate == none ]] || state_note="($ustate)"
    summary+=("${svc#"${STACK}"_}=$running/$want$state_note")
  done
  if [[ $ready -eq ${#services[@]} ]]; then
    break
  fi
  if (( $(now) >= deadline )); then
    for svc in "${services[@]}"; do dump_service "$svc"; done
    die "services not healthy after ${TIMEOUT}s: ${summary[*]}"
  fi
  if (( $(now) - last_report >= 10 )); then
    log "  ${summary[*]}"
    last_report=$(now)
  fi
  sleep 2
done
PHASE[deploy_to_healthy]=$(( $(now) - t_deploy ))
log "all ${#services[@]} services healthy in ${PHASE[deploy_to_healthy]} s: ${summary[*]}"

# ----------------------------------------------------------------- smoke
if [[ $SMOKE == 1 ]]; then
  t=$(now)
  svc="${STACK}_scenario"
  cid=$(docker ps -q --filter "label=com.docker.swarm.service.name=$svc" --filter health=healthy | head -n1)
  out_json=/tmp/atlas-smoke-$$.json
  smoke_args=(atlas run --scenario-addr 127.0.0.1:50053 --results "$out_json" "$SMOKE_SCENARIO")
  if [[ -n $cid ]]; then
    log "smoke: docker exec ${cid:0:12} ${smoke_args[*]}"
    if ! output=$(docker exec "$cid" "${smoke_args[@]}" 2>&1); then
      printf '%s\n' "$output" >&2
      dump_service "$svc"
      die "smoke scenario failed"
    fi
    result=$(docker exec "$cid" cat "$out_json")
    docker exec "$cid" rm -f "$out_json"
  else
    # No scenario task on this node: a one-off client on the attachable network.
    log "smoke: no scenario container on this node; running a client on ${STACK}_atlas-network"
    smoke_args=(atlas run --scenario-addr scenario:50053 --results "$out_json" "$SMOKE_SCENARIO")
    if ! output=$(docker run --rm --network "${STACK}_atlas-network" --entrypoint sh "$ATLAS_SCENARIO_IMAGE" \
         -c "${smoke_args[*]} >&2 && cat $out_json" 2>/tmp/atlas-smoke-$$.log); then
      cat /tmp/atlas-smoke-$$.log >&2
      die "smoke scenario failed"
    fi
    result="$output"
    output=$(cat /tmp/atlas-smoke-$$.log); rm -f /tmp/atlas-smoke-$$.log
  fi
  printf '%s\n' "$output" >&2
  # A scored result: a finished record whose driving score is a number.
  if command -v jq >/dev/null 2>&1; then
    line=$(printf '%s' "$result" | jq -er '
      ._checkpoint.records as $r
      | if ($r | length) >= 1 and ([$r[] | .scores.score_composed | type == "number"] | all) and .entry_status == "Finished"
        then ($r[0] | "\(.route_id) status=\(.status) driving_score=\(.scores.score_composed) route_completion=\(.scores.score_route) penalty=\(.scores.score_penalty)")
        else error("no scored record") end') || { printf '%s\n' "$result" >&2; die "smoke scenario returned no scored result"; }
  else
    line=$(printf '%s' "$result" | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["_checkpoint"]["records"]
assert r and d["entry_status"] == "Finished" and all(isinstance(x["scores"]["score_composed"], (int, float)) for x in r)
x = r[0]; s = x["scores"]
print(f"{x[\"route_id\"]} status={x[\"status\"]} driving_score={s[\"score_composed\"]} route_completion={s[\"score_route\"]} penalty={s[\"score_penalty\"]}")
') || { printf '%s\n' "$result" >&2; die "smoke scenario returned no scored result"; }
  fi
  PHASE[smoke]=$(( $(now) - t ))
  log "smoke: $line"
fi

# ---------------------------------------------------------------- summary
log "deployed stack '$STACK' in $(( $(now) - T_START )) s" \
  "(build ${PHASE[build]:--} s, registry ${PHASE[registry]:--} s, push ${PHASE[push]:--} s," \
  "deploy-to-healthy ${PHASE[deploy_to_healthy]} s, smoke ${PHASE[smoke]:--} s)"
cat >&2 <<EOF

  docker stack services $STACK
  docker service scale ${STACK}_scenario=3
  docker exec -it \$(docker ps -qf label=com.docker.swarm.service.name=${STACK}_scenario | head -n1) \\
    atlas run /app/scenarios/town01_blocked.toml
  scripts/teardown_swarm.sh --stack-name $STACK [--remove-volumes | --full-cleanup]
EOF
