#!/usr/bin/env bash
# Fault tests of `atlas suite run` on a deployed ATLAS stack: a suite of RUNS
# runs goes from a client container on the stack's network through
# tasks.scenario (every scenario replica, balanced per request) while the
# script breaks the stack under it, one case after another:
#
#   none                     no fault: the reference wall time
#   replica-kill+vla-restart SIGKILL of one scenario task a quarter of the way
#                            in, SIGKILL of the policy (ad-stack-dummy) task
#                            half-way; Swarm starts new tasks
#   bridge-crash             SIGKILL of the carla-bridge task 40 % in: every
#                            world it held is lost with it
#   rolling-update           `docker service update --force` of the scenario
#                            service once the first run is in: start-first,
#                            one task at a time, the old tasks drain their
#                            runs under SIGTERM. A rolling update outlasts
#                            RUNS runs, so this case runs 3 x RUNS and its
#                            time added is against 3 x the `none` wall
#   client-kill+resume       SIGKILL of the suite client half-way, then
#                            `--resume` on the same output directory: only the
#                            runs without a result may run again
#
# For each case it checks that every one of the RUNS runs has exactly one
# result (no run missing from the manifest, no late result, one record per
# run in results.json) and that the client exited 0, and prints a table:
# runs, lost, duplicated, retries, wall time and the time added against the
# `none` case. Exits non-zero when a run is lost or duplicated. Before each
# case it waits until every service is whole and healthy again.
#
#   scripts/swarm_faults.sh --stack-name NAME [--runs 100] [--concurrency 6]
#                           [--cases none,replica-kill+vla-restart,...]
#                           [--report FILE] [--keep-output DIR]
set -euo pipefail
ATLAS_LOG_PREFIX=faults
# shellcheck source=swarm_common.sh
source "$(dirname "$0")/swarm_common.sh"

STACK="${ATLAS_STACK:-atlas}"
RUNS=100
CONCURRENCY=6
CASES="none,replica-kill+vla-restart,bridge-crash,rolling-update,client-kill+resume"
REPORT=""
KEEP_OUTPUT=""
SIM_SECONDS=6

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --stack-name) STACK="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --concurrency) CONCURRENCY="$2"; shift 2 ;;
    --cases) CASES="$2"; shift 2 ;;
    --report) REPORT="$2"; shift 2 ;;
    --keep-output) KEEP_OUTPUT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[[ $RUNS =~ ^[0-9]+$ && $RUNS -ge 8 ]] || die "--runs must be an integer of at least 8"
[[ $CONCURRENCY =~ ^[0-9]+$ && $CONCURRENCY -ge 1 ]] || die "--concurrency must be a positive integer"

require_docker
require_cmd python3
[[ $(swarm_state) == active ]] || die "this engine is not in a swarm"

SC="${STACK}_scenario"
BRIDGE="${STACK}_carla-bridge"
VLA="${STACK}_ad-stack-dummy"
NET="${STACK}_atlas-network"
for s in "$SC" "$BRIDGE" "$VLA"; do
  docker service inspect "$s" >/dev/null 2>&1 || die "service $s is not deployed (is the stack named $STACK?)"
done
IMAGE=$(docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$SC")
IMAGE=${IMAGE%@*}
REPLICAS=$(docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$SC")
[[ $REPLICAS -ge 2 ]] || die "$SC has $REPLICAS replica(s); scale it to 2 or more first"

WORK=$(mktemp -d /tmp/atlas-faults.XXXXXX)
chmod 0777 "$WORK"   # the client container runs as the image's atlas user
CLIENT="atlas-faults-client-$$"
cleanup() {
  docker rm -f "$CLIENT" >/dev/null 2>&1 || true
  if [[ -n $KEEP_OUTPUT ]]; then
    mkdir -p "$KEEP_OUTPUT" && cp -r "$WORK"/. "$KEEP_OUTPUT"/ && log "outputs kept in $KEEP_OUTPUT"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The suite of an N-run case: the image's three shipped scenarios × ceil(N/3)
# seeds, cut to N by --limit (the expansion is file-major, so the cut drops
# at most two runs of the last scenario).
write_suite() {
  local n="$1" seeds
  seeds=$(python3 -c "print(', '.join(str(s) for s in range(1, ($n + 2) // 3 + 1)))")
  cat >"$WORK/suite-$n.toml" <<EOF
name = "swarm-faults-$n"
scenarios = ["/app/scenarios/*.toml"]
seeds = [$seeds]
timeout_s = $SIM_SECONDS
concurrency = $CONCURRENCY
deadline_s = 90
max_attempts = 12

[policies]
default = "default"
EOF
  chmod 0644 "$WORK/suite-$n.toml"
}
write_suite "$RUNS"
write_suite $(( 3 * RUNS ))

# ---------------------------------------------------------------- helpers

# Tasks of a service that are running and healthy (containers on this node).
healthy_tasks() {
  docker ps -q --filter "label=com.docker.swarm.service.name=$1" --filter health=healthy | wc -l
}

# Waits until every service has its replicas running and healthy and no
# update is in progress.
wait_whole() {
  local deadline=$(( $(now) + 240 )) sc br vla upd
  while :; do
    sc=$(healthy_tasks "$SC"); br=$(healthy_tasks "$BRIDGE"); vla=$(healthy_tasks "$VLA")
    upd=$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$SC")
    if [[ $sc -eq $REPLICAS && $br -ge 1 && $vla -ge 1 && $upd != updating && $upd != rollback_started ]]; then
        return 0
    fi
    (( $(now) < deadline )) || die "stack not whole after 240 s: scenario $sc/$REPLICAS healthy, bridge $br, policy $vla, update '${upd}'"
    sleep 1
  done
}

# Starts the suite client in the background on the RUNS-run suite:
# `start_client OUT RUNS [--limit N] [--resume]` (--limit defaults to RUNS).
start_client() {
  local out="$1" n="$2" limit="$2"; shift 2
  if [[ ${1:-} == --limit ]]; then limit="$2"; shift 2; fi
  docker rm -f "$CLIENT" >/dev/null 2>&1 || true
  docker run -d --name "$CLIENT" --network "$NET" -v "$WORK:/work" -e RUST_LOG=error \
    --entrypoint atlas "$IMAGE" suite run "/work/suite-$n.toml" --out "/work/$out" \
    --scenario-addr tasks.scenario:50053 --limit "$limit" --quiet "$@" >/dev/null
}

# Runs with a result so far in OUT's manifest (0 before the first).
finished() {
  python3 - "$WORK/$1/manifest.json" <<'EOF'
import json, sys
try:
    m = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print(0); sys.exit()
print(sum(1 for e in m["runs"].values() if e["state"] == "finished"))
EOF
}

# Waits until OUT has N finished runs; fails if the client ended before.
wait_finished() {
  local out="$1" n="$2" deadline=$(( $(now) + 900 ))
  while (( $(finished "$out") < n )); do
    [[ $(docker inspect -f '{{.State.Running}}' "$CLIENT" 2>/dev/null) == true ]] \
      || { docker logs "$CLIENT" >&2 || true; die "the client ended before $n runs had finished"; }
    (( $(now) < deadline )) || die "fewer than $n runs finished in 900 s"
    sleep 0.2
  done
}

# Waits for the client; sets CLIENT_RC to its exit status.
wait_client() {
  CLIENT_RC=$(docker wait "$CLIENT")
  if [[ $CLIENT_RC -ne 0 ]]; then
    docker logs "$CLIENT" 2>&1 | tail -n 30 >&2 || true
  fi
}

# One task container of a service (its first running one on this node).
task_of() {
  docker ps -q --filter "label=com.docker.swarm.service.name=$1" | head -n 1
}

kill_task() {
  local c
  c=$(task_of "$1")
  [[ -n $c ]] || die "no running task of $1 to kill"
  log "  SIGKILL $(docker inspect -f '{{.Name}}' "$c" | sed 's|^/||')"
  docker kill "$c" >/dev/null
}

# Checks OUT of a RUNS-run case: prints "lost dup retries ran_now".
check_out() {
  python3 - "$WORK/$1" "$2" <<'EOF'
import json, os, sys
out, want = sys.argv[1], int(sys.argv[2])
m = json.load(open(os.path.join(out, "manifest.json")))
metrics = json.load(open(os.path.join(out, "metrics.json")))
results = json.load(open(os.path.join(out, "results.json")))
fin = [e for e in m["runs"].values() if e["state"] == "finished"]
records = results["_checkpoint"]["records"]
indices = {r["index"] for r in records}
lost = want - len(fin)
dup = (len(records) - len(indices)) + sum(e.get("late_results", 0) for e in m["runs"].values())
missing_files = [e["id"] for e in fin
                 if not os.path.isfile(os.path.join(out, "runs", e["id"], "record.json"))]
if missing_files:
    print(f"no record.json for {missing_files}", file=sys.stderr)
    lost += len(missing_files)
print(lost, dup, metrics["retries"], metrics["this_invocation"]["runs"])
EOF
}

declare -A WALL=() LOST=() DUP=() RETRIES=() NOTE=() NRUNS=()

# ------------------------------------------------------------------ cases

case_none() {
  start_client none "$RUNS"
  wait_client
}

case_replica_kill_vla_restart() {
  start_client kill "$RUNS"
  wait_finished kill $(( RUNS / 4 ))
  kill_task "$SC"
  wait_finished kill $(( RUNS / 2 ))
  kill_task "$VLA"
  wait_client
}

case_bridge_crash() {
  start_client bridge "$RUNS"
  wait_finished bridge $(( RUNS * 2 / 5 ))
  kill_task "$BRIDGE"
  wait_client
}

case_rolling_update() {
  start_client rolling $(( 3 * RUNS ))
  wait_finished rolling 1
  log "  docker service update --force $SC"
  docker service update --detach --force "$SC" >/dev/null
  wait_client
  log "  update state at the suite's end: $(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$SC")"
}

# The client is killed half-way and resumed: two invocations, one output.
case_client_kill_resume() {
  local before
  start_client resume "$RUNS"
  wait_finished resume $(( RUNS / 2 ))
  docker kill "$CLIENT" >/dev/null
  before=$(finished resume)
  RESUME_MISSING=$(( RUNS - before ))
  log "  client SIGKILLed with $before of $RUNS runs recorded; resuming"
  # --limit counts what is missing: the missing runs of the first RUNS
  # come first in the suite's order, before the cut-off ones after RUNS.
  start_client resume "$RUNS" --limit "$RESUME_MISSING" --resume
  wait_client
}

run_case() {
  local name="$1" fn out t lost dup retries ran n="$RUNS"
  case "$name" in
    none) fn=case_none; out=none ;;
    replica-kill+vla-restart) fn=case_replica_kill_vla_restart; out=kill ;;
    bridge-crash) fn=case_bridge_crash; out=bridge ;;
    rolling-update) fn=case_rolling_update; out=rolling; n=$(( 3 * RUNS )) ;;
    client-kill+resume) fn=case_client_kill_resume; out=resume ;;
    *) die "unknown case: $name" ;;
  esac
  wait_whole
  log "case $name: $n runs, $CONCURRENCY at a time, over $REPLICAS scenario replicas"
  t=$(date +%s.%N)
  "$fn"
  WALL[$name]=$(python3 -c "import time; print(f'{time.time() - $t:.1f}')")
  [[ $CLIENT_RC == 0 ]] || die "case $name: the suite client exited $CLIENT_RC"
  read -r lost dup retries ran < <(check_out "$out" "$n")
  NRUNS[$name]=$n; LOST[$name]=$lost; DUP[$name]=$dup; RETRIES[$name]=$retries
  if [[ $name == client-kill+resume ]]; then
    NOTE[$name]="--resume ran $ran runs; $RESUME_MISSING had no result at the kill"
    [[ $ran -eq $RESUME_MISSING ]] || die "case $name: --resume ran $ran runs but $RESUME_MISSING had no result"
  fi
  log "case $name: lost $lost, duplicated $dup, retries $retries, wall ${WALL[$name]} s"
}

CLIENT_RC=""
RESUME_MISSING=0
IFS=, read -r -a CASE_LIST <<<"$CASES"
for c in "${CASE_LIST[@]}"; do
  run_case "$c"
done
wait_whole

# ------------------------------------------------------------------ table
table() {
  local c added
  echo "| case | runs | lost | duplicated | retries | wall | time added |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for c in "${CASE_LIST[@]}"; do
    added="—"
    if [[ -n ${WALL[none]:-} && $c != none ]]; then
      added=$(python3 -c "print(f'{${WALL[$c]} - ${WALL[none]} * ${NRUNS[$c]} / $RUNS:+.1f} s')")
    fi
    echo "| $c | ${NRUNS[$c]} | ${LOST[$c]} | ${DUP[$c]} | ${RETRIES[$c]} | ${WALL[$c]} s | $added${NOTE[$c]:+ (${NOTE[$c]})} |"
  done
}
table >&2
[[ -z $REPORT ]] || table >"$REPORT"

bad=0
for c in "${CASE_LIST[@]}"; do
  [[ ${LOST[$c]} -eq 0 && ${DUP[$c]} -eq 0 ]] || bad=1
done
[[ $bad -eq 0 ]] || die "runs were lost or duplicated"
log "PASS: every run of every case recorded exactly once"
