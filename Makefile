# Cascade: set-up, build and test on a Debian machine with the Swift toolchain.
# `make dev` and `make test` install what is missing first (apt-get, only if absent).

SWIFT ?= swift
APT_PACKAGES := librdkafka-dev pkg-config kcat redis-tools redis-server graphviz curl python3 wrk
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null && echo sudo)

.PHONY: deps build release dev test bench-kafka bench-graph bench-node bench-bus bench-e2e bench-gateway clean

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

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product cascade

dev: build
	.build/debug/cascade dev --status-file .cascade-dev.json

# Tests that take an embedded broker down and up run alone: bringing a broker back re-binds
# its port, and librdkafka's mock aborts the process if a parallel test's socket took it.
BROKER_OUTAGE_TESTS := brokerDown

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip '$(BROKER_OUTAGE_TESTS)'
	$(SWIFT) test --skip-build --no-parallel --filter '$(BROKER_OUTAGE_TESTS)'

bench-kafka: release
	.build/release/cascade bench kafka

bench-graph: release
	.build/release/cascade bench graph

bench-e2e: release
	.build/release/cascade bench e2e

bench-gateway: release
	.build/release/cascade bench gateway

bench-bus: release
	.build/release/cascade bench bus

bench-node: release
	scripts/bench-node-vs-redis.sh

clean:
	rm -rf .build
