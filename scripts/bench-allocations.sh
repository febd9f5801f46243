#!/usr/bin/env bash
# Allocations per event of the bus's pipeline, counted as libc malloc calls through a perf
# uprobe (needs perf and root, to place the probe). Two figures:
# - the whole run: two runs of `cascade bench bus --pipeline-only`, 100k and 300k events,
#   the difference divided by 200k, so that start-up and the registrations cancel out; it
#   still includes what the harness allocates per event (building the events' messages);
# - the pipeline's own: one run of 50k events recorded with call stacks, counting only the
#   calls made under `EventProcessor.process` and `CascadeMemory.remember` (what the bus
#   itself does per event).
# Usage: scripts/bench-allocations.sh [path/to/cascade]
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
echo "mallocs per event, whole run: $(( (long - short) / 200000 )) (pipeline, example graph mix, 100000 registered keys)"

data=$(mktemp)
trap 'rm -f "$data"' EXIT
events=50000
perf record -q -e probe_libc:malloc -g -o "$data" "$bin" bench bus --pipeline-only --events "$events" --keys 100000 >/dev/null 2>&1
# The mangled names of the two entry points; `--sort parent` splits the samples by whether
# one of them is on the stack.
perf report -i "$data" --stdio --no-children --sort parent -g none --show-total-period \
        -p 'EventProcessorV7process|CascadeMemoryC8remember' 2>/dev/null \
    | awk -v events="$events" '
        /^#/ || NF == 0 { next }
        $NF != "[other]" { inside += $2 }
        END { printf "mallocs per event, the pipeline'"'"'s own calls: %.1f\n", inside / events }'
