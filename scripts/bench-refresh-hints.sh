#!/usr/bin/env bash
# Refresh-hint latency: a node with N hot keys (each read 10 times), N invalidations produced
# by kcat one message per key, 10 ms apart; per key, the Kafka timestamp of its refresh hint
# on cascade.refresh.shop minus that of its invalidation. Prints p50, p99 and max in ms.
#
#   CASCADE_BIN=path/to/cascade scripts/bench-refresh-hints.sh     (N=200 by default)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CASCADE_BIN:-$ROOT/.build/release/cascade}
N=${N:-200}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
for tool in kcat redis-cli python3; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }; done
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

await() { # await FILE PATTERN: until a line of FILE matches, at most 30 s
    for _ in $(seq 1 1500); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
    echo "timed out waiting for '$2' in $1" >&2; exit 2
}

"$BIN" kafka --brokers 1 --partitions 1 >"$WORK/kafka.out" 2>&1 & PIDS+=($!)
await "$WORK/kafka.out" ":"
BROKER=$(head -1 "$WORK/kafka.out")
# The node reads its topic from the end: create both topics first with one throw-away message.
echo 'x|{}' | kcat -b "$BROKER" -P -t cascade.inval.shop -K '|'
echo 'x|{}' | kcat -b "$BROKER" -P -t cascade.refresh.shop -K '|'
"$BIN" node --service shop --port "$PORT" --kafka "$BROKER" --log-level warning >"$WORK/node.out" 2>&1 & PIDS+=($!)
await "$WORK/node.out" "ready"

for i in $(seq 1 "$N"); do echo "SET hot:$i v"; for _ in $(seq 1 10); do echo "GET hot:$i"; done; done \
    | redis-cli -p "$PORT" --pipe >/dev/null
for i in $(seq 1 "$N"); do
    printf 'hot:%s|{"kind":"invalidate","cause":{"event_id":"e%s","entity":"P","id":"%s","version":1,"at_ms":0},"keys":[{"key":"hot:%s","depth":0}],"tags":[],"fences":[]}\n' "$i" "$i" "$i" "$i"
    sleep 0.01
done | kcat -b "$BROKER" -P -t cascade.inval.shop -K '|'

read_topic() { kcat -b "$BROKER" -C -t "$1" -o beginning -e -f '%T %k\n' 2>/dev/null | grep -v ' x$' | sort -k2; }
for _ in $(seq 1 1500); do
    [ "$(read_topic cascade.refresh.shop | wc -l)" -ge "$N" ] && break
    sleep 0.02
done
read_topic cascade.inval.shop >"$WORK/invalidations.txt"
read_topic cascade.refresh.shop >"$WORK/hints.txt"
join -1 2 -2 2 "$WORK/invalidations.txt" "$WORK/hints.txt" | awk '{print $3 - $2}' >"$WORK/latency.txt"
python3 - "$WORK/latency.txt" "$N" <<'PY'
import sys
values = sorted(int(line) for line in open(sys.argv[1]))
n = len(values)
if n == 0:
    sys.exit("no refresh hint arrived")
print(f"refresh hints {n}/{sys.argv[2]}: p50 {values[n // 2]} ms, p99 {values[min(n - 1, int(n * 0.99))]} ms, max {values[-1]} ms")
PY
