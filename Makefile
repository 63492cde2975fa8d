# Build, test and run the Swift Ensemble/Maestro runtime.
# `make lapa` and `make test` are the two commands a newcomer types; both install
# the one system dependency (libev-dev) first when it is missing.

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps redis build test simulate lapa bench bench-udp bench-kv fuzz soak docs clean

FUZZ_RUNS ?= 10000000

all: build

deps:
	@if [ ! -f /usr/include/ev.h ]; then \
		echo "libev-dev is missing: installing it with apt-get"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libev-dev \
		|| { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libev-dev; }; \
	fi

# redis-cli, redis-benchmark and redis-server (maestro-kv's integration test and bench-kv use
# them; the test is skipped without redis-cli).
redis:
	@if ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null || ! command -v redis-server >/dev/null; then \
		echo "redis-tools or redis-server is missing: installing them with apt-get"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-tools redis-server \
		|| { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-tools redis-server; }; \
	fi

# Release build; every tool lands in .build/release/.
build: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) test
	$(MAKE) docs
	$(MAKE) simulate

# The simulation checker on many seeds, release-built (ten times faster than the debug test
# build): every fault, with the default timers and the fast profile, 3 to 16 members, and
# static groups under network faults; Maestro CSX servers and clients (--maestro); the seed
# stack with total order (Seqbb), whose runs also check one order per view and self-delivery;
# the seed's stack with Local (own casts delivered once each, in order); Primary alone and with
# total order (primary_expected is each seed's member count; the primary checker runs); Maestro
# over total order with the primary partition, and over Local (servers apply their own updates
# at delivery; one order, own casts back, the primary side's state wins at merges). Each line
# ends with `N passed, N failed`; any failure fails the target (the replay command is printed).
SIM := .build/release/maestro-sim
# The seed stack with total order (Seqbb), for the total-order lines.
TOTAL_STACK := Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Seqbb:Pt2pt:Frag:Stable:Mnak:Bottom
simulate: deps
	$(SWIFT) build -c release --product maestro-sim
	$(SIM) --seeds 400 --first-seed 20000 --members 3-8 --faults all --params fast --settle-seconds 12
	$(SIM) --seeds 300 --first-seed 30000 --members 3-8 --faults all --settle-seconds 36
	$(SIM) --seeds 60 --first-seed 40000 --members 12-16 --faults all --params fast --settle-seconds 12
	$(SIM) --seeds 40 --first-seed 50000 --members 12-16 --faults all --settle-seconds 36
	$(SIM) --maestro --seeds 300 --first-seed 60000 --members 3-8 --faults all --params fast --settle-seconds 12 --max-state-bytes 262144
	$(SIM) --maestro --seeds 30 --first-seed 70000 --members 3-6 --faults all --params fast --settle-seconds 12
	$(SIM) --maestro --seeds 300 --first-seed 93000 --members 3-8 --faults all --params fast --settle-seconds 12 --max-state-bytes 262144 --properties Vsync:Total:Primary
	$(SIM) --maestro --seeds 100 --first-seed 94000 --members 3-8 --faults all --params fast --settle-seconds 12 --max-state-bytes 262144 --properties Vsync:Local
	$(SIM) --seeds 300 --first-seed 80000 --members 3-8 --faults all --params fast --settle-seconds 12 --protocol-stack $(TOTAL_STACK)
	$(SIM) --seeds 60 --first-seed 81000 --members 3-8 --faults all --settle-seconds 36 --protocol-stack $(TOTAL_STACK)
	$(SIM) --seeds 30 --first-seed 82000 --members 12-16 --faults all --params fast --settle-seconds 12 --protocol-stack $(TOTAL_STACK)
	$(SIM) --seeds 200 --first-seed 83000 --members 3-8 --faults all --params fast --settle-seconds 12 --properties Vsync:Local
	$(SIM) --seeds 300 --first-seed 84000 --members 3-8 --faults all --params fast --settle-seconds 12 --properties Vsync:Primary
	$(SIM) --seeds 300 --first-seed 85000 --members 3-8 --faults all --params fast --settle-seconds 12 --properties Vsync:Total:Primary
	$(SIM) --seeds 300 --first-seed 1 --members 3-8 --faults network --static --protocol-stack Top:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom --traffic-seconds 2 --settle-seconds 15

lapa: build
	.build/release/lapa $(ARGS)

# The standard benchmark set: bench/results.json and a table.
bench: build
	.build/release/maestro-perf suite --out bench/results.json

# redis-benchmark -t set,get,incr -n 100000 -c 50 against one maestro-kv replica of three and a
# plain redis-server in the same run: requests/s and p50/p99 of each (ARGS: maestro-perf kv's).
bench-kv: build redis
	.build/release/maestro-perf kv $(or $(ARGS),--rounds 2)

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

# API documentation (DocC) with the articles of Sources/Maestro/Maestro.docc and
# Sources/Ensemble/Ensemble.docc: Maestro (with the toolkit and the runtime it re-exports:
# MaestroCore and Reactor) and Ensemble, as static sites in $(DOCS_OUT)/Maestro and
# $(DOCS_OUT)/Ensemble (serve one, e.g. `python3 -m http.server -d .build/docs/Maestro`, and open
# /documentation/maestro). The toolchain's swift-symbolgraph-extract and docc do it directly:
# the DocC plugin's symbol graphs leave out re-exported modules, which are all of Maestro's API.
# Any DocC warning (a broken link in an article or a doc comment) fails the target.
DOCS_SCRATCH ?= .build
DOCS_OUT ?= $(DOCS_SCRATCH)/docs
DOCC ?= docc
SYMBOLGRAPH_EXTRACT ?= swift-symbolgraph-extract
docs: deps
	$(SWIFT) build --scratch-path $(DOCS_SCRATCH) --target Maestro
	@set -e; bin=$$($(SWIFT) build --scratch-path $(DOCS_SCRATCH) --show-bin-path); \
	triple=$$(basename $$(dirname $$bin)); \
	for module in Maestro Ensemble; do \
		cflags=$$(grep -m1 -F "\"-module-name\",\"$$module\"," $(DOCS_SCRATCH)/debug.yaml \
			| grep -o '"-Xcc","[^"]*"' | sed 's/^"-Xcc","\(.*\)"$$/-Xcc \1/'); \
		rm -rf $(DOCS_OUT)/symbols/$$module $(DOCS_OUT)/$$module; mkdir -p $(DOCS_OUT)/symbols/$$module; \
		$(SYMBOLGRAPH_EXTRACT) -module-name $$module -target $$triple -I $$bin/Modules \
			-module-cache-path $$bin/ModuleCache $$cflags -minimum-access-level public \
			-experimental-allowed-reexported-modules=MaestroCore,Reactor -output-dir $(DOCS_OUT)/symbols/$$module; \
		$(DOCC) convert Sources/$$module/$$module.docc --additional-symbol-graph-dir $(DOCS_OUT)/symbols/$$module \
			--fallback-display-name $$module --fallback-bundle-identifier ensemble-swift.$$module \
			--transform-for-static-hosting --warnings-as-errors --output-path $(DOCS_OUT)/$$module; \
	done; echo "documentation: $(DOCS_OUT)/Maestro and $(DOCS_OUT)/Ensemble"

clean:
	rm -rf .build .build-fuzz
