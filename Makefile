# Build, test and run the Swift Ensemble/Maestro runtime.
# `make lapa` and `make test` are the two commands a newcomer types; both install
# the one system dependency (libev-dev) first when it is missing.

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build test lapa bench bench-udp fuzz soak clean

FUZZ_RUNS ?= 10000000

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

# Coverage-guided fuzzing of every decoder with libFuzzer (swiftc -sanitize=fuzzer). New
# interesting inputs go to .build-fuzz/corpus; Tests/FuzzCorpus (replayed by `make test`)
# seeds it. FUZZ_RUNS=N sets the number of inputs.
fuzz: deps
	ENSEMBLE_FUZZ=1 $(SWIFT) build -c release --scratch-path .build-fuzz --product fuzz-ensemble \
		-Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library
	mkdir -p .build-fuzz/corpus
	.build-fuzz/release/fuzz-ensemble .build-fuzz/corpus Tests/FuzzCorpus -runs=$(FUZZ_RUNS) -max_len=4096 -print_final_stats=1

# A soak of real processes: by default the CI one (ARGS replaces it).
SOAK_ARGS ?= --processes 3 --seconds 20 --kill-every 4 --restart --loss 0.02
soak: build
	.build/release/maestro-soak $(or $(ARGS),$(SOAK_ARGS))

clean:
	rm -rf .build .build-fuzz
