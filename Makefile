# art17: the two commands a new user needs are `make demo` and `make test`.
# Both install missing Debian packages first (tools/install-deps.sh).

BUILD    ?= build
SANITIZE ?= OFF
WERROR   ?= OFF
BUILD_TYPE ?= RelWithDebInfo
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=
PREFIX   ?= /usr/local
DESTDIR  ?=

.PHONY: all deps configure build test demo bench clean install format package fuzz tsan

all: build

deps:
	@sh tools/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
		-DA17_SANITIZE=$(SANITIZE) -DA17_WERROR=$(WERROR) \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 $(CTEST_ARGS)

demo: build
	@bash tools/demo.sh $(BUILD)

# libFuzzer under ASan/UBSan, built with clang into build-fuzz; runs the
# long fuzz targets (A17_FUZZ_TIME seconds each, default 600).
fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DA17_SANITIZE=ON -DA17_FUZZ=ON
	cmake --build build-fuzz -j$(JOBS) --target fuzz_envelope fuzz_message \
		fuzz_record fuzz_config fuzz_scenario
	cd build-fuzz && A17_LONG=1 ctest --output-on-failure -L fuzz-long $(CTEST_ARGS)

# ThreadSanitizer build (build-tsan); runs the integration tests one by
# one (tests/tsan.sh), whose daemons then report data races: halt_on_error=1
# makes a race kill the daemon, and every report is kept in
# build-tsan/tsan-logs/TEST/, so a race at a daemon's shutdown fails its
# test too. Every test runs whatever failed before; one line per test and
# the list of those that failed or raced at the end. CTEST_ARGS selects
# (e.g. CTEST_ARGS="-R e2e_tls"). Suppressions: tests/tsan.supp.
tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DA17_TSAN=ON
	cmake --build build-tsan -j$(JOBS)
	bash tests/tsan.sh build-tsan $(CTEST_ARGS)

# The fan-out benchmark, all four systems side by side (docs/benchmarks.md):
# N = 1,000 with the restart figure, then N = 10,000 (agents and floor
# clients need up to 20,000 open files per process).
BENCH_ARGS ?=
bench:
	$(MAKE) build BUILD=build-release BUILD_TYPE=Release
	build-release/tools/art17-bench fanout -n 1000 --restart-deliveries 1000000 --ingest 200000 $(BENCH_ARGS)
	ulimit -n 20000 2>/dev/null; build-release/tools/art17-bench fanout -n 10000 --rounds 3 $(BENCH_ARGS)

# make install [PREFIX=/usr/local] [DESTDIR=/staging]
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# The Debian package: a Release tree with the prefix /usr, then CPack.
package:
	$(MAKE) build BUILD=build-deb BUILD_TYPE=Release PREFIX=/usr
	cd build-deb && cpack -G DEB

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-release build-ci build-deb build-fuzz build-tsan
