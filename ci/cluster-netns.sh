#!/usr/bin/env bash
# The multi-host tier of cluster mode: a dask scheduler, two workers and the
# hpyx program (ci/cluster_netns_program.py), each in its own network
# namespace, as if on four hosts. The namespaces hang off a bridge in a fifth,
# private "hub" namespace by veth pairs, with addresses in 10.213.0.0/24 that
# exist nowhere else: no traffic leaves these namespaces. Once the program has
# finished a few tasks, one worker's host vanishes (its link is deleted first,
# so nothing says goodbye, then its processes are killed and its namespace
# removed); the program must still complete with the right answer.
#
#   sudo ci/cluster-netns.sh            # after `make setup`; needs root and iproute2
#   HPYX_NETNS_PYTHON=.venv-313t/bin/python ci/cluster-netns.sh
set -euo pipefail
cd "$(dirname "$0")/.."

python=${HPYX_NETNS_PYTHON:-.venv/bin/python}
[ -x "$python" ] || { echo "cluster-netns: $python not found; run 'make setup'" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "cluster-netns: needs root (ip netns)" >&2; exit 2; }

prefix=hpyx$$
hub=$prefix-hub
declare -A addr=([sched]=10.213.0.1 [w1]=10.213.0.2 [w2]=10.213.0.3 [prog]=10.213.0.4)
work=$(mktemp -d)
log() { printf 'cluster-netns: %s\n' "$*" >&2; }

cleanup() {
    for host in sched w1 w2 prog; do
        ns=$prefix-$host
        if ip netns list | grep -qw "$ns"; then
            pids=$(ip netns pids "$ns" || true)
            [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
    ip netns del "$hub" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

log "namespaces $prefix-{sched,w1,w2,prog} on a bridge in $hub"
ip netns add "$hub"
ip -n "$hub" link add br0 type bridge
ip -n "$hub" link set br0 up
ip -n "$hub" link set lo up
for host in sched w1 w2 prog; do
    ns=$prefix-$host
    ip netns add "$ns"
    ip -n "$hub" link add "h-$host" type veth peer name eth0 netns "$ns"
    ip -n "$hub" link set "h-$host" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "${addr[$host]}/24" dev eth0
    ip -n "$ns" link set eth0 up
done

run_in() { # run_in HOST LOGNAME COMMAND...: in HOST's namespace, in the background
    local host=$1 name=$2
    shift 2
    ip netns exec "$prefix-$host" "$@" >"$work/$name.log" 2>&1 &
    disown  # killed by the teardown or the cleanup, never waited for
}

scheduler=tcp://${addr[sched]}:8786
# A vanished worker is noticed by its silence: worker-ttl, not TCP timeouts.
export DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL=10s
# dask's statistical profiler reads running threads' frames: a crash on 3.13t.
export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False
log "scheduler at $scheduler"
run_in sched scheduler "$python" -m distributed.cli.dask_scheduler \
    --host "${addr[sched]}" --port 8786 --no-dashboard
for w in w1 w2; do
    run_in "$w" "worker-$w" "$python" -m distributed.cli.dask_worker "$scheduler" \
        --host "${addr[$w]}" --nthreads 1 --nworkers 1 --no-nanny --no-dashboard \
        --death-timeout 60
done

log "waiting for both workers"
ip netns exec "$prefix-prog" "$python" - "$scheduler" <<'PY'
import sys, distributed
with distributed.Client(sys.argv[1], timeout=60) as c:
    c.wait_for_workers(2, timeout=120)
    print("cluster-netns: workers", sorted(c.scheduler_info()["workers"]), file=sys.stderr)
PY

mark=$work/teardown
log "running the program"
ip netns exec "$prefix-prog" env HPYX_CLUSTER="$scheduler" PYTHONPATH=ci \
    "$python" ci/cluster_netns_program.py --mark "$mark" >"$work/program.log" 2>&1 &
program=$!

for _ in $(seq 600); do
    [ -e "$mark" ] && break
    kill -0 "$program" 2>/dev/null || break
    sleep 0.1
done
[ -e "$mark" ] || { cat "$work/program.log" >&2; log "FAIL: the program never got going"; exit 1; }

log "tearing down w2's host: link, processes, namespace"
ip -n "$hub" link del h-w2
pids=$(ip netns pids "$prefix-w2" || true)
[ -z "$pids" ] || kill -9 $pids
ip netns del "$prefix-w2"

status=0
wait "$program" || status=$?
cat "$work/program.log"
if [ "$status" = 0 ] && grep -q "program: completed" "$work/program.log"; then
    log "PASS: the program completed after a worker's host vanished"
else
    log "FAIL: the program exited $status"
    tail -n 30 "$work/scheduler.log" "$work"/worker-*.log >&2
    exit 1
fi
