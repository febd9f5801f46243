#!/usr/bin/env bash
# What `cascade check --watch` costs a node: node CPU per GET with and without the watcher,
# while redis-benchmark drives GETs and a paced stream of events invalidates keys on the node.
# Rounds alternate without/with; the medians are compared. Also derived: the node's CPU for one
# CASCADE.META (redis-benchmark on that command) times the checks per second the watcher made,
# over the node's CPU for 100,000 GETs a second.
#
#   CASCADE_BIN=.build/release/cascade scripts/bench-watch-cost.sh
#
# Environment: CASCADE_BIN (default .build/release/cascade), WATCH_SAMPLE (0.01),
# EVENTS_PER_SECOND (1000), BENCH_REQUESTS (2000000 GETs per round), BENCH_ROUNDS (3),
# BENCH_CLIENTS (50), BENCH_PIPELINE (16).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CASCADE_BIN:-$ROOT/.build/release/cascade}
SAMPLE=${WATCH_SAMPLE:-0.01}
EPS=${EVENTS_PER_SECOND:-1000}
REQUESTS=${BENCH_REQUESTS:-2000000}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-50}
PIPELINE=${BENCH_PIPELINE:-16}
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in redis-benchmark redis-cli kcat python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "no $BIN: build it first (swift build -c release --product cascade)" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_line FILE PATTERN: until FILE has a line matching PATTERN (60 s at most).
wait_line() {
    for _ in $(seq 1 3000); do
        if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
        sleep 0.02
    done
    echo "no '$2' in $1:" >&2; cat "$1" >&2; exit 2
}

# CPU seconds (user + system) a process has used.
cpu_seconds() { python3 -c "import os,sys; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }

"$BIN" kafka --partitions 4 >"$WORK/kafka.out" 2>"$WORK/kafka.log" &
PIDS+=($!)
wait_line "$WORK/kafka.out" ':'
KAFKA=$(head -1 "$WORK/kafka.out" | tr -d ' ')

"$BIN" bus --graph "$ROOT/graph" --kafka "$KAFKA" --admin-port 0 --log-level warning >"$WORK/bus.out" 2>"$WORK/bus.log" &
PIDS+=($!)
wait_line "$WORK/bus.out" 'cascade bus ready'

PORT=$(free_port)
"$BIN" node --service product-service --port "$PORT" --kafka "$KAFKA" --log-level warning >"$WORK/node.out" 2>"$WORK/node.log" &
NODE=$!
PIDS+=($NODE)
wait_line "$WORK/node.out" ' ready'

# Keys for the GETs (redis-benchmark's key:NNN) and product keys for the events to invalidate.
redis-benchmark -p "$PORT" -t set -n 200000 -r 100000 -P "$PIPELINE" -q >/dev/null
python3 - <<'PY' | redis-cli -p "$PORT" --pipe >/dev/null
import sys
for i in range(10000):
    parts = ["SET", f"product:p-{i}", "v", "EX", "3600", "DEPS", f"Product#p-{i}"]
    sys.stdout.write(f"*{len(parts)}\r\n" + "".join(f"${len(p)}\r\n{p}\r\n" for p in parts))
PY

# Paced events, one product each, round the 10,000: each invalidates product:p-N and its page.
python3 - "$EPS" <<'PY' 2>/dev/null | kcat -P -b "$KAFKA" -t cascade.events -K '|' 2>"$WORK/kcat.log" &
import sys, time, json
rate = float(sys.argv[1]); step = 1 / rate; next_at = time.monotonic(); version = {}
n = 0
while True:
    i = n % 10000; n += 1
    version[i] = version.get(i, 1) + 1
    event = {"entity": "Product", "id": f"p-{i}", "op": "update", "version": version[i], "origin": "bench"}
    sys.stdout.write(f"Product#p-{i}|{json.dumps(event)}\n")
    next_at += step
    delay = next_at - time.monotonic()
    if delay > 0:
        sys.stdout.flush(); time.sleep(delay)
PY
PIDS+=($!)
sleep 3

META_PORT=0
run_round() { # $1 = without|with; prints: mode gets_per_s node_cpu_percent node_cpu_us_per_1000_gets checks_per_s node_cpu_s wall_s
    local watch_pid="" metrics=""
    if [ "$1" = with ]; then
        "$BIN" check --watch --kafka "$KAFKA" --node "product-service=127.0.0.1:$PORT" --service product-service \
            --sample "$SAMPLE" --metrics-port 0 --log-level warning >"$WORK/watch.out" 2>"$WORK/watch.log" &
        watch_pid=$!
        PIDS+=($watch_pid)
        wait_line "$WORK/watch.out" 'following'
        metrics=$(grep -o 'http://[^ ]*/metrics' "$WORK/watch.out" | head -1 | sed 's/0.0.0.0/127.0.0.1/')
        sleep 2.5   # the first checks fall due after the 2 s window
    fi
    local checks0=0 checks1=0
    [ -n "$metrics" ] && checks0=$(curl -s "$metrics" | awk '/^cascade_consistency_checked_total/ {s+=$2} END {print s+0}')
    local cpu0 t0 cpu1 t1 rps
    cpu0=$(cpu_seconds "$NODE"); t0=$(date +%s.%N)
    # -q rewrites a progress line with carriage returns; the last line has the rate.
    rps=$(redis-benchmark -p "$PORT" -t get -n "$REQUESTS" -r 100000 -c "$CLIENTS" -P "$PIPELINE" -q | tr '\r' '\n' \
        | awk '/requests per second/ {print $2}' | tail -1)
    cpu1=$(cpu_seconds "$NODE"); t1=$(date +%s.%N)
    [ -n "$metrics" ] && checks1=$(curl -s "$metrics" | awk '/^cascade_consistency_checked_total/ {s+=$2} END {print s+0}')
    if [ -n "$watch_pid" ]; then kill -TERM "$watch_pid"; wait "$watch_pid" 2>/dev/null || true; fi
    python3 -c "
cpu=$cpu1-$cpu0; wall=$t1-$t0
print('$1', '$rps', round(100*cpu/wall,1), round(1e6*cpu/$REQUESTS*1000,1), round(($checks1-$checks0)/wall,1), round(cpu,3), round(wall,3))"
}

echo "cascade check --watch: node CPU with and without the watcher (sample $SAMPLE, $EPS events/s, $REQUESTS GETs a round, binary $BIN)"
# What the event stream alone costs the node, to take out of the per-GET figures.
cpu0=$(cpu_seconds "$NODE"); sleep 10; cpu1=$(cpu_seconds "$NODE")
STREAM=$(python3 -c "print(($cpu1-$cpu0)/10)")
echo "node CPU for the event stream alone (no GETs): $(python3 -c "print(round(100*$STREAM,1))")% of a core"
printf '%-8s %10s %10s %18s %10s\n' mode GET/s 'node CPU%' 'node µs/1000 GETs' 'checks/s'
for round in $(seq 1 "$ROUNDS"); do
    for mode in without with; do
        line=$(run_round "$mode")
        echo "$line" >>"$WORK/rounds"
        printf '%-8s %10s %10s %18s %10s\n' $(echo "$line" | cut -d' ' -f1-5)
    done
done

# The node's CPU for CASCADE.META alone, to derive the cost at exactly 100,000 GET/s.
cpu0=$(cpu_seconds "$NODE"); t0=$(date +%s.%N)
redis-benchmark -p "$PORT" -n 400000 -c "$CLIENTS" -P "$PIPELINE" -q CASCADE.META product:p-1 >/dev/null
cpu1=$(cpu_seconds "$NODE"); t1=$(date +%s.%N)
python3 - "$WORK/rounds" "$cpu0" "$cpu1" "$t0" "$t1" "$SAMPLE" "$STREAM" "$REQUESTS" <<'PY'
import sys, statistics
rows = [line.split() for line in open(sys.argv[1])]
stream = float(sys.argv[7]); requests = float(sys.argv[8])
def med(mode, col): return statistics.median(float(r[col]) for r in rows if r[0] == mode)
# Per GET, the event stream's share of each round taken out.
def per_get(mode): return statistics.median((float(r[5]) - stream * float(r[6])) / requests * 1e6 for r in rows if r[0] == mode)
without, with_ = per_get("without"), per_get("with")
checks = med("with", 4)
meta_us = (float(sys.argv[3]) - float(sys.argv[2]) - stream * (float(sys.argv[5]) - float(sys.argv[4]))) / 400000 * 1e6
print(f"median node CPU per GET (event stream taken out): without the watcher {without:.2f} µs, with it {with_:.2f} µs: "
      f"{100*(with_-without)/without:+.2f}% (run-to-run noise included)")
at100k = 100000 * without + stream * 1e6
print(f"derived: one CASCADE.META costs the node {meta_us:.2f} µs, one GET {without:.2f} µs; {checks:.1f} checks/s at sample "
      f"{sys.argv[6]} cost {checks*meta_us:.0f} µs/s: {100*checks*meta_us/at100k:.3f}% of the node's CPU at 100,000 GET/s "
      f"(that CPU: {at100k/1e6:.2f} cores; floor < 2%)")
PY
