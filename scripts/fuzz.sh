#!/usr/bin/env bash
# Fuzzes each target of CascadeFuzz with libFuzzer and AddressSanitizer for FUZZ_SECONDS.
# The module and its dependencies are built instrumented by the package manager in .build-fuzz;
# the fuzzer binary is linked here by swiftc from Fuzz/FuzzEntry.swift and those objects.
# What libFuzzer finds grows .build-fuzz/corpus/<target>/; a crash lands in Fuzz/crashes/ and
# fails the run (fix it, then add the input to Fuzz/corpus/<target>/: the tests replay it).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-resp events dependencies graph batches}
build=.build-fuzz
flags=(--build-path "$build" -c release -Xswiftc -sanitize=fuzzer,address)
swift build "${flags[@]}" --target CascadeFuzz
bin=$(swift build "${flags[@]}" --show-bin-path)

objects=() maps=()
while IFS= read -r -d '' object; do objects+=("$object"); done < <(find "$bin" -name '*.o' -print0)
# Clang modules the Swift modules were built against (generated ones, and those in checkouts).
while IFS= read -r map; do maps+=(-Xcc "-fmodule-map-file=$map"); done < <(
    find "$bin" -maxdepth 2 -name module.modulemap | grep -E '/(C[A-Z][A-Za-z]*|_AtomicsShims)\.build/'
    find "$build/checkouts" -path '*Sources/*/include/module.modulemap' | grep -E 'CYaml|_AtomicsShims|CNIO')
while IFS= read -r include; do maps+=(-Xcc "-I$include"); done < <(
    find "$build/checkouts" -type d -path '*Sources/*/include' | grep -E 'CNIO|CYaml|AtomicsShims')
swiftc -O -sanitize=fuzzer,address -parse-as-library -I "$bin/Modules" "${maps[@]}" \
    Fuzz/FuzzEntry.swift "${objects[@]}" -o "$build/cascade-fuzz" 2> >(grep -v 'warning:' >&2)

mkdir -p Fuzz/crashes
for target in $targets; do
    mkdir -p "$build/corpus/$target"
    echo "== $target: $seconds s"
    CASCADE_FUZZ_TARGET=$target "$build/cascade-fuzz" "$build/corpus/$target" "Fuzz/corpus/$target" \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 -artifact_prefix="Fuzz/crashes/$target-" \
        -print_final_stats=1 2>&1 | grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==ERROR|SUMMARY)' \
        || true
    if ls Fuzz/crashes/"$target"-* > /dev/null 2>&1; then echo "crash found for $target: see Fuzz/crashes/"; exit 1; fi
done
