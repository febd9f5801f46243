#!/usr/bin/env bash
# Allocations per event of the bus's pipeline: counts libc malloc calls (a perf uprobe) over
# two runs of `cascade bench bus --pipeline-only`, 100k and 300k events, and divides the
# difference by 200k, so that start-up, registrations and the workload's construction cancel
# out. Needs perf and root (to place the probe). The figure still includes the harness's own
# allocations per event, if any. Usage: scripts/bench-allocations.sh [path/to/cascade]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/cascade}
libc=$(ldconfig -p | awk '/libc.so.6 .*x86-64/ {print $NF; exit}')
perf probe -q -x "$libc" malloc 2>/dev/null || true
count() {
    perf stat -x, -e probe_libc:malloc "$bin" bench bus --pipeline-only --events "$1" --keys 100000 2>&1 \
        | awk -F, '/probe_libc:malloc/ {print $1}'
}
short=$(count 100000)
long=$(count 300000)
echo "mallocs per event: $(( (long - short) / 200000 )) (pipeline, example graph mix, 100000 registered keys)"
