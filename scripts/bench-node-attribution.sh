#!/usr/bin/env bash
# What family attribution (`cascade node --graph`) costs: CPU time per request of three nodes,
# BASELINE (a cascade binary without it), CASCADE_BIN without --graph and CASCADE_BIN with a
# graph of seven families whose last-tried template fits redis-benchmark's keys. Each node's
# own utime+stime during identical redis-benchmark runs, interleaved, median of ROUNDS: on a
# machine shared with other work this is steadier than ops/s.
#
#   BASELINE=/path/to/old/cascade CASCADE_BIN=.build/release/cascade scripts/bench-node-attribution.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NEW=${CASCADE_BIN:-$ROOT/.build/release/cascade}
BASE=${BASELINE:?set BASELINE to the cascade binary to compare with}
ROUNDS=${ROUNDS:-5}
N=${BENCH_REQUESTS:-400000}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$WORK/graph"
cat >"$WORK/graph/bench.yaml" <<'YAML'
service: bench
tier: standard
caches:
  product-page: {key: "product:{productId}:page", ttl: 10m}
  category-listing: {key: "category:{category}:listing:{page}", ttl: 10m}
  user-profile: {key: "user:{userId}:profile", ttl: 1h}
  order-summary: {key: "order:{orderId}:summary", ttl: 10m}
  session: {key: "session:{sessionId}", ttl: 30m}
  counter: {key: "counter:{name}", ttl: 1m}
  bench-key: {key: "key:{n}", ttl: 1h}
YAML
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -A PID PORT
start() { # start NAME BIN ARGS...
    local name=$1 bin=$2; shift 2
    PORT[$name]=$(free_port)
    "$bin" node --service bench --port "${PORT[$name]}" --log-level warning "$@" >"$WORK/$name.log" 2>&1 &
    PID[$name]=$!
    PIDS+=($!)
    for _ in $(seq 1 500); do [ "$(redis-cli -p "${PORT[$name]}" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.02; done
    echo "node $name did not start" >&2; exit 2
}
start base "$BASE"
start new "$NEW"
start graph "$NEW" --graph "$WORK/graph"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
for _ in $(seq 1 "$ROUNDS"); do
    for name in base new graph; do
        for pipeline in 1 16; do
            for test in set get; do
                before=$(ticks "${PID[$name]}")
                redis-benchmark -p "${PORT[$name]}" -t "$test" -n "$N" -r 100000 -d 100 -c 50 -P "$pipeline" -q >/dev/null
                after=$(ticks "${PID[$name]}")
                echo "$name P$pipeline $test $before $after"
            done
        done
    done
done >"$WORK/raw.txt"
python3 - "$WORK/raw.txt" "$HZ" "$N" <<'PY'
import collections, statistics, sys
hz, n = int(sys.argv[2]), int(sys.argv[3])
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, pipeline, test, before, after = line.split()
    runs[(pipeline, test, name)].append((int(after) - int(before)) / hz / n * 1e6)
print(f"{'µs CPU/request':16} {'baseline':>9} {'no graph':>9} {'--graph':>9} {'graph/base':>10} {'graph/no':>9}")
for pipeline in ("P1", "P16"):
    for test in ("set", "get"):
        base, new, graph = (statistics.median(runs[(pipeline, test, name)]) for name in ("base", "new", "graph"))
        print(f"{test.upper() + ' -' + pipeline:16} {base:9.3f} {new:9.3f} {graph:9.3f} {graph / base:10.3f} {graph / new:9.3f}")
PY
redis-cli -p "${PORT[graph]}" info cascade | grep "^family:bench-key"
