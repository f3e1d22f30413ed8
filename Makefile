# Short commands over the CMake build. `make demo` crawls goc-crawl's embedded
# site, `make tour` runs the guided tour of the lesson's patterns, `make test`
# the tests; the sanitizer variants build in their own directories. `make
# demo` and the test targets first install the crawler's packages when missing
# (scripts/deps.sh says what it installs); the library needs none of them.
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
CTEST_FLAGS ?= --output-on-failure -j2
# Extra configure flags, e.g. CMAKE_ARGS=-DGOC_WERROR=ON (CI does).
CMAKE_ARGS ?=

.PHONY: all build deps test test-tsan test-asan test-aarch64 demo tour race bench clean

all: build

build:
	@$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@$(CMAKE) --build build -j $(JOBS)

deps:
	@sh scripts/deps.sh

test: deps build
	cd build && ctest $(CTEST_FLAGS)

build-tsan/Makefile:
	$(CMAKE) -S . -B build-tsan -DGOC_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_BENCH=OFF $(CMAKE_ARGS) >/dev/null

test-tsan: deps build-tsan/Makefile
	@$(CMAKE) --build build-tsan -j $(JOBS)
	cd build-tsan && ctest $(CTEST_FLAGS)

build-asan/Makefile:
	$(CMAKE) -S . -B build-asan -DGOC_SANITIZE=address -DGOC_RUNQ_SIZE=8 -DCMAKE_BUILD_TYPE=Debug -DGOC_BENCH=OFF $(CMAKE_ARGS) >/dev/null

test-asan: deps build-asan/Makefile
	@$(CMAKE) --build build-asan -j $(JOBS)
	cd build-asan && ctest $(CTEST_FLAGS)

# The library and its tests cross-built for AArch64 and run under qemu-user
# (cmake/aarch64-linux-gnu.cmake; Debian's gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user, which .ci/run installs). The cases
# emulation cannot run skip themselves with a reason (tests/check.h lists
# them). AARCH64_CTEST_FLAGS narrows the run, e.g. -R test_chan.
AARCH64_CTEST_FLAGS ?=
build-aarch64/Makefile:
	$(CMAKE) -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_BENCH=OFF -DGOC_CRAWL=OFF $(CMAKE_ARGS) >/dev/null

test-aarch64: build-aarch64/Makefile
	@$(CMAKE) --build build-aarch64 -j $(JOBS)
	cd build-aarch64 && ctest $(CTEST_FLAGS) $(AARCH64_CTEST_FLAGS)
	@grep -h '^skip ' build-aarch64/Testing/Temporary/LastTest.log | sort -u || true

# The crawler on its embedded site (about 5,000 pages served by goc in the
# same process), checked against the site's model; about 10 s on 2 cores.
DEMO_FLAGS ?= -c 64 --per-host 64 --timeout 1500
demo: deps
	@echo "building goc and goc-crawl in build/ ..."
	@$(MAKE) build >/dev/null
	@test -x build/apps/crawl/goc-crawl || { echo "make demo: goc-crawl was not built (see the cmake warning above)"; exit 1; }
	./build/apps/crawl/goc-crawl $(DEMO_FLAGS)

tour:
	@echo "building goc and the examples in build/ ..."
	@$(MAKE) build >/dev/null
	@./build/examples/demo

# The lesson's race under ThreadSanitizer, goc's `go run -race`: a report for
# the racy count++, silence for the three fixes. (Reconfigure first: the
# example is built only once the library has goc_mutex and goc_wg.)
race: build-tsan/Makefile
	@$(CMAKE) build-tsan >/dev/null
	@grep -qx race build-tsan/examples/built.txt || \
		{ echo "make race: examples/race.c needs goc_mutex and goc_wg, not in this tree yet"; exit 1; }
	@$(CMAKE) --build build-tsan -j $(JOBS) --target race
	@echo "== examples/race.c, built with -fsanitize=thread"
	@TSAN_OPTIONS="exitcode=0 $$TSAN_OPTIONS" ./build-tsan/examples/race

bench: build
	@./bench/run $(if $(PROCS),--procs "$(PROCS)") $(if $(RUNS),--runs $(RUNS)) $(if $(ONLY),--only "$(ONLY)")

clean:
	rm -rf build build-tsan build-asan build-aarch64
