# Cascade: set-up, build and test on a Debian machine with the Swift toolchain.
# `make dev` and `make test` install what is missing first (apt-get, only if absent).

SWIFT ?= swift
APT_PACKAGES := librdkafka-dev pkg-config kcat redis-tools redis-server graphviz curl prometheus python3 wrk
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null && echo sudo)
# PyPI's opentelemetry-proto, for the OTLP receiver the tracing tests start
# (scripts/otlp-receiver.py): installed here, where the tests look, only if absent.
PYTHON_DEPS := $(CURDIR)/.build/python

.PHONY: deps build release dev test bench-kafka bench-graph bench-node bench-bus bench-e2e bench-rebuild bench-scale bench-reads bench-chaos bench-ttl bench-gateway fuzz test-sanitize clean

deps:
	@missing=""; \
	for package in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@PYTHONPATH=$(PYTHON_DEPS) python3 -c 'import opentelemetry.proto.collector.trace.v1.trace_service_pb2' 2>/dev/null || \
		python3 -m pip install --quiet --disable-pip-version-check --target $(PYTHON_DEPS) opentelemetry-proto || \
		python3 -m pip install --quiet --disable-pip-version-check --break-system-packages --target $(PYTHON_DEPS) opentelemetry-proto

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product cascade

dev: build
	.build/debug/cascade dev --status-file .cascade-dev.json

# The tests run one at a time: many start real brokers, buses, nodes and gateways, and on a
# 2-core machine running them all at once made timing-sensitive ones flaky (a 10 s lease
# expiring between two redis-cli calls). One at a time also keeps the tests that take an
# embedded broker down and up alone (librdkafka's mock aborts the process if a parallel test's
# socket took the port it re-binds) and gives the short chaos run the cores it measures with.
test: deps
	promtool check rules deploy/alerts.yml
	python3 scripts/long-functions.py 80
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

bench-kafka: release
	.build/release/cascade bench kafka

bench-graph: release
	.build/release/cascade bench graph

bench-e2e: release
	.build/release/cascade bench e2e

bench-rebuild: release
	.build/release/cascade bench rebuild

bench-scale: release
	.build/release/cascade bench scale

bench-reads: release
	.build/release/cascade bench reads

bench-gateway: release
	.build/release/cascade bench gateway

bench-bus: release
	.build/release/cascade bench bus

bench-chaos: release
	.build/release/cascade bench chaos

bench-ttl: release
	.build/release/cascade bench ttl

bench-node: release
	scripts/bench-node-vs-redis.sh

# libFuzzer on each target for FUZZ_SECONDS (scripts/fuzz.sh says how).
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# The suite under ThreadSanitizer, then AddressSanitizer (each its own build directory).
# TSan: Debian's librdkafka starts its threads with C11 thrd_create and locks with mtx_lock,
# which glibc implements past the pthread calls TSan intercepts (a thread it does not know
# dies inside TSan); scripts/tsan-c11-threads.c, preloaded, routes them through those calls.
# Every process's reports, child processes' too, go to $(TSAN_REPORTS): any there fails the
# run. (The code locks with NIOLockedValueBox, not Synchronization.Mutex: on Linux Mutex
# locks with futexes TSan cannot see, so every access under it is reported as a race.)
# ASan runs everything, with leak detection off (Foundation's Process and
# FileManager leak at exit, which makes every child process exit 1) and the resident-memory
# budget test skipped (CASCADE_SANITIZER); scripts/asan.supp names what is Foundation's.
# Both builds compile in the Swift 5 language mode: under -sanitize=thread the compiler
# rejects a capture in swift-otel's batch processor as a data race ("sending 'logger'") that
# the same compiler accepts without the sanitizer. The normal build keeps every check of Swift 6;
# these builds look for the races that happen at run time.
SANITIZER_SWIFT_MODE := -Xswiftc -swift-version -Xswiftc 5
TSAN_REPORTS := $(CURDIR)/.build-tsan/reports
test-sanitize: deps
	$(SWIFT) build --build-path .build-tsan --sanitize=thread --build-tests $(SANITIZER_SWIFT_MODE)
	clang -shared -fPIC -O2 -o .build-tsan/libtsan-c11-threads.so scripts/tsan-c11-threads.c
	rm -rf $(TSAN_REPORTS) && mkdir -p $(TSAN_REPORTS)
	LD_PRELOAD=$(CURDIR)/.build-tsan/libtsan-c11-threads.so TSAN_OPTIONS=log_path=$(TSAN_REPORTS)/report \
		CASCADE_SANITIZER=thread $(SWIFT) test --skip-build --build-path .build-tsan --sanitize=thread --no-parallel $(SANITIZER_SWIFT_MODE)
	@if ls $(TSAN_REPORTS)/report* > /dev/null 2>&1; then echo "ThreadSanitizer reports: $(TSAN_REPORTS)"; exit 1; fi
	ASAN_OPTIONS=detect_leaks=0:suppressions=$(CURDIR)/scripts/asan.supp CASCADE_SANITIZER=address $(SWIFT) test --build-path .build-asan --sanitize=address --no-parallel $(SANITIZER_SWIFT_MODE)

clean:
	rm -rf .build .build-fuzz .build-tsan .build-asan
