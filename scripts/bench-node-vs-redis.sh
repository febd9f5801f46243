#!/usr/bin/env bash
# Side-by-side benchmark of `cascade node` against redis-server on this machine:
# redis-benchmark GET/SET throughput without and with pipelining, then resident memory per key
# after loading 1,000,000 keys of 100 bytes into a fresh instance of each. Prints one table.
#
#   CASCADE_BIN=path/to/cascade scripts/bench-node-vs-redis.sh
#
# Environment: CASCADE_BIN (default .build/release/cascade, built if missing),
# BENCH_REQUESTS (1000000), BENCH_KEYS (1000000), BENCH_CLIENTS (50), BENCH_ROUNDS (3: best of),
# NODE_ARGS (extra flags for cascade node).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CASCADE_BIN:-$ROOT/.build/release/cascade}
REQUESTS=${BENCH_REQUESTS:-1000000}
KEYS=${BENCH_KEYS:-1000000}
CLIENTS=${BENCH_CLIENTS:-50}
ROUNDS=${BENCH_ROUNDS:-3}
NODE_ARGS=${NODE_ARGS:-}
WORK=$(mktemp -d)
SERVER_PID=""

cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in redis-server redis-benchmark redis-cli python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
if [ ! -x "$BIN" ]; then
    echo "building $BIN ..." >&2
    (cd "$ROOT" && swift build -c release --product cascade >&2)
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_ping() {
    for _ in $(seq 1 500); do
        if [ "$(redis-cli -p "$1" ping 2>/dev/null)" = "PONG" ]; then return 0; fi
        sleep 0.02
    done
    echo "server on port $1 did not answer" >&2
    exit 2
}

# start_server redis|cascade: sets SERVER_PID and PORT.
start_server() {
    PORT=$(free_port)
    if [ "$1" = redis ]; then
        redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
            --dir "$WORK" --logfile "$WORK/redis.log" &
    else
        # shellcheck disable=SC2086
        "$BIN" node --service bench --port "$PORT" --log-level warning $NODE_ARGS >"$WORK/node.log" 2>&1 &
    fi
    SERVER_PID=$!
    wait_for_ping "$PORT"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }

# throughput PIPELINE: prints "set_rps get_rps".
throughput() {
    redis-benchmark -p "$PORT" -t set,get -n "$REQUESTS" -r 100000 -d 100 -c "$CLIENTS" -P "$1" -q --csv \
        | awk -F'"' '$2 == "SET" {set = $4} $2 == "GET" {get = $4} END {print set, get}'
}

# 1,000,000 distinct keys like key:000000123456 with 100-byte values, as one RESP pipe.
python3 - "$KEYS" >"$WORK/load.resp" <<'PY'
import sys
count = int(sys.argv[1])
value = b"x" * 100
out = sys.stdout.buffer
for index in range(count):
    key = b"key:%012d" % index
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, value))
PY

bytes_per_key() {
    local before after
    before=$(rss_kb)
    redis-cli -p "$PORT" --pipe <"$WORK/load.resp" >/dev/null
    local loaded
    loaded=$(redis-cli -p "$PORT" dbsize)
    [ "$loaded" = "$KEYS" ] || { echo "expected $KEYS keys, found $loaded" >&2; exit 2; }
    after=$(rss_kb)
    echo $(( (after - before) * 1024 / KEYS ))
}

# Throughput rounds alternate the servers and keep each one's best, so a burst of load from
# something else on the machine does not decide the comparison.
declare -A result
best() { python3 -c "print(max(float('${1:-0}'), float('$2')))"; }
for round in $(seq 1 "$ROUNDS"); do
    for server in redis cascade; do
        start_server "$server"
        read -r set1 get1 <<<"$(throughput 1)"
        read -r set16 get16 <<<"$(throughput 16)"
        stop_server
        for metric in set1 get1 set16 get16; do
            result[$server.$metric]=$(best "${result[$server.$metric]:-0}" "${!metric}")
        done
        echo "round $round $server: SET $set1 GET $get1 (-P 1), SET $set16 GET $get16 (-P 16)" >&2
    done
done
for server in redis cascade; do
    start_server "$server"
    result[$server.bpk]=$(bytes_per_key)
    stop_server
done

ratio() { python3 -c "print(f'{float($1)/float($2):.2f}')"; }
printf '%-22s %14s %14s %8s\n' "metric" "redis" "cascade" "ratio"
for row in set1:"SET ops/s -P 1" get1:"GET ops/s -P 1" set16:"SET ops/s -P 16" get16:"GET ops/s -P 16" bpk:"bytes/key (1M keys)"; do
    key=${row%%:*}
    label=${row#*:}
    printf '%-22s %14s %14s %8s\n' "$label" "${result[redis.$key]}" "${result[cascade.$key]}" \
        "$(ratio "${result[cascade.$key]}" "${result[redis.$key]}")"
done
echo "floors: ops/s ratio >= 0.80 at -P 1 and >= 1.00 at -P 16; bytes/key ratio <= 1.20"
echo "command: redis-benchmark -t get,set -n $REQUESTS -r 100000 -d 100 -c $CLIENTS -P {1,16} -q --csv (best of $ROUNDS rounds)"
