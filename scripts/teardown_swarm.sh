#!/usr/bin/env bash
# Removes an ATLAS stack from Docker Swarm and waits until it is really gone:
# no services, no containers, no networks of the stack left.
#
#   scripts/teardown_swarm.sh                   # the stack (volumes and images kept)
#   scripts/teardown_swarm.sh --remove-volumes  # and its volumes (results are lost)
#   scripts/teardown_swarm.sh --full-cleanup    # everything deploy_swarm.sh made
set -euo pipefail
ATLAS_LOG_PREFIX=teardown
# shellcheck source=swarm_common.sh
source "$(dirname "$0")/swarm_common.sh"

STACK="${ATLAS_STACK:-atlas}"
REMOVE_VOLUMES=0
FULL=0
KEEP_IMAGES=0
TIMEOUT=180
REGISTRY_SERVICE="${ATLAS_REGISTRY_SERVICE:-atlas-registry}"

usage() {
  cat <<EOF
Usage: scripts/teardown_swarm.sh [options]

Removes the stack and waits until its services, containers and networks are gone.

Options:
  --stack-name NAME   stack to remove (default: atlas)
  --remove-volumes    also remove the stack's volumes (NAME_results, NAME_hf-cache):
                      the results in them are lost
  --full-cleanup      everything deploy_swarm.sh made: the stack, its volumes, the
                      local registry service '$REGISTRY_SERVICE' and its volume, the ATLAS
                      images (services, registry, Debian base), the hf_token secret
                      if deploy_swarm.sh created it, and the swarm itself if
                      deploy_swarm.sh initialised it and this is its only node
  --keep-images       with --full-cleanup: keep the images (a later deploy is warm)
  --timeout SECONDS   how long to wait for things to go away (default: $TIMEOUT)
  -h, --help          this help
EOF
}

need_arg() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --stack-name) need_arg "$@"; STACK="$2"; shift 2 ;;
    --remove-volumes) REMOVE_VOLUMES=1; shift ;;
    --full-cleanup) FULL=1; REMOVE_VOLUMES=1; shift ;;
    --keep-images) KEEP_IMAGES=1; shift ;;
    --timeout) need_arg "$@"; TIMEOUT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout must be a number of seconds"
[[ $KEEP_IMAGES == 0 || $FULL == 1 ]] || die "--keep-images goes with --full-cleanup"

require_docker
T_START=$(now)
NS="label=com.docker.stack.namespace=$STACK"

# Waits until "$@" (a command listing things) prints nothing.
wait_gone() {
  local what="$1"; shift
  local deadline=$(( $(now) + TIMEOUT )) left
  while :; do
    left=$("$@" 2>/dev/null || true)
    [[ -z $left ]] && return 0
    if (( $(now) >= deadline )); then
      warn "$what still present after ${TIMEOUT}s: $(echo "$left" | tr '\n' ' ')"
      return 1
    fi
    sleep 1
  done
}

stack_services() { docker service ls -q --filter "$NS"; }
stack_containers() { docker ps -aq --filter "$NS"; }
stack_networks() { docker network ls -q --filter "$NS"; }
stack_volumes() { docker volume ls -q --filter "$NS"; }

swarm=$(swarm_state)
if [[ $swarm == active ]]; then
  is_swarm_manager || die "this node is a swarm worker: run the teardown on a manager node"
  if [[ -n $(stack_services) ]]; then
    log "docker stack rm $STACK"
    docker stack rm "$STACK" >/dev/null
  else
    log "stack $STACK: no services"
  fi
  wait_gone "services of $STACK" stack_services || die "services of $STACK did not go away"
  # Tasks get their stop_grace_period to drain in-flight runs.
  log "waiting for the stack's containers to stop (in-flight runs drain first)"
  wait_gone "containers of $STACK" stack_containers || die "containers of $STACK did not go away"
  # The overlay network is removed asynchronously after the last task left it.
  log "waiting for the stack's networks to be removed"
  if ! wait_gone "networks of $STACK" stack_networks; then
    # Usually a container attached by hand (docker run --network ...).
    for n in $(stack_networks); do
      docker network rm "$n" >/dev/null 2>&1 || true
    done
    wait_gone "networks of $STACK" stack_networks \
      || die "networks of $STACK are still in use: docker network inspect $(stack_networks | tr '\n' ' ')"
  fi
else
  log "swarm is $swarm: no stack to remove"
fi

if [[ $REMOVE_VOLUMES == 1 ]]; then
  mapfile -t vols < <(stack_volumes)
  if [[ ${#vols[@]} -gt 0 ]]; then
    log "removing volumes: ${vols[*]}"
    # A volume is released a moment after its last container is deleted.
    deadline=$(( $(now) + 30 ))
    until docker volume rm "${vols[@]}" >/dev/null 2>&1; do
      (( $(now) < deadline )) || die "cannot remove volumes: $(docker volume rm "${vols[@]}" 2>&1 | tr '\n' ' ')"
      sleep 1
      mapfile -t vols < <(stack_volumes)
      [[ ${#vols[@]} -eq 0 ]] && break
    done
  fi
  if [[ $swarm == active && $(docker node ls -q | wc -l) -gt 1 ]]; then
    warn "volumes live on each node: remove ${STACK}_results on the other nodes there (docker volume rm)"
  fi
fi

if [[ $FULL == 1 ]]; then
  if [[ $swarm == active ]] && docker service inspect "$REGISTRY_SERVICE" >/dev/null 2>&1; then
    other=$(docker stack ls --format '{{.Name}}' | grep -vx "$STACK" || true)
    if [[ -n $other ]]; then
      warn "keeping the registry $REGISTRY_SERVICE: other stacks may use it ($(echo "$other" | tr '\n' ' '))"
    else
      log "removing the registry service $REGISTRY_SERVICE"
      docker service rm "$REGISTRY_SERVICE" >/dev/null
      wait_gone "registry containers" docker ps -aq --filter "label=com.docker.swarm.service.name=$REGISTRY_SERVICE" \
        || die "registry containers did not go away"
    fi
  fi
  if ! docker service inspect "$REGISTRY_SERVICE" >/dev/null 2>&1; then
    deadline=$(( $(now) + 30 ))
    while docker volume inspect atlas-registry-data >/dev/null 2>&1; do
      docker volume rm atlas-registry-data >/dev/null 2>&1 && { log "removed volume atlas-registry-data"; break; }
      (( $(now) < deadline )) || die "cannot remove volume atlas-registry-data"
      sleep 1
    done
  fi

  if [[ $swarm == active ]] && docker secret inspect hf_token >/dev/null 2>&1; then
    if [[ $(docker secret inspect -f '{{index .Spec.Labels "org.atlas.created-by"}}' hf_token) == deploy_swarm ]]; then
      docker secret rm hf_token >/dev/null && log "removed secret hf_token"
    else
      log "keeping secret hf_token (not created by deploy_swarm.sh)"
    fi
  fi

  if [[ $KEEP_IMAGES == 0 ]]; then
    mapfile -t images < <(docker image ls --format '{{.Repository}}:{{.Tag}}' \
      | grep -E '(^|/)atlas-(scenario|carla-bridge|vla-model|registry|base):' || true)
    if [[ ${#images[@]} -gt 0 ]]; then
      log "removing ${#images[@]} image tags"
      for img in "${images[@]}"; do
        # An image a container outside the stack still uses stays (never forced).
        docker image rm "$img" >/dev/null 2>&1 || warn "kept $img: $(docker image rm "$img" 2>&1 | tail -n 1)"
      done
    fi
    docker image prune -f --filter "label=org.opencontainers.image.title" >/dev/null 2>&1 || true
  fi

  if [[ $swarm == active ]]; then
    init_label=$(docker node inspect -f '{{index .Spec.Labels "org.atlas.swarm-init"}}' "$(docker info -f '{{.Swarm.NodeID}}')" 2>/dev/null || true)
    nodes=$(docker node ls -q | wc -l)
    others=$(docker service ls -q | wc -l)
    if [[ $init_label == deploy_swarm && $nodes -eq 1 && $others -eq 0 ]]; then
      log "leaving the single-node swarm deploy_swarm.sh initialised"
      docker swarm leave --force >/dev/null
      wait_gone "ingress network" docker network ls -q --filter name=^ingress$ || true
      # The bridge swarm init made for the nodes' containers, when unused.
      docker network rm docker_gwbridge >/dev/null 2>&1 || true
    else
      log "keeping the swarm (not initialised by deploy_swarm.sh, or still in use)"
    fi
  fi
fi

# What is left of the stack (there must be nothing).
left=""
if [[ $(swarm_state) == active ]]; then
  left+=$(stack_services)
fi
left+=$(stack_containers)$(stack_networks)
[[ $REMOVE_VOLUMES == 1 ]] && left+=$(stack_volumes)
[[ -z $left ]] || die "stack $STACK is not fully removed"
log "stack $STACK removed in $(( $(now) - T_START )) s" \
  "($([[ $REMOVE_VOLUMES == 1 ]] && echo "volumes removed" || echo "volumes kept")$([[ $FULL == 1 ]] && echo ", full cleanup"))"
