# Build, test and run the Swift Ensemble/Maestro runtime.
# `make lapa` and `make test` are the two commands a newcomer types; both install
# the one system dependency (libev-dev) first when it is missing.

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build test lapa bench bench-udp clean

all: build

deps:
	@if [ ! -f /usr/include/ev.h ]; then \
		echo "libev-dev is missing: installing it with apt-get"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libev-dev \
		|| { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libev-dev; }; \
	fi

# Release build; every tool lands in .build/release/.
build: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) test

lapa: build
	.build/release/lapa $(ARGS)

# The standard benchmark set: bench/results.json and a table.
bench: build
	.build/release/maestro-perf suite --out bench/results.json

bench-udp: build
	.build/release/maestro-perf udp --size 1024 --seconds 2 --rounds 3

clean:
	rm -rf .build
