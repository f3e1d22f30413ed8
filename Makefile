# Short commands over the CMake build. `make demo` runs the guided tour of the
# lesson's patterns, `make test` the tests; the sanitizer variants build in
# their own directories.
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
CTEST_FLAGS ?= --output-on-failure -j2
# Extra configure flags, e.g. CMAKE_ARGS=-DGOC_WERROR=ON (CI does).
CMAKE_ARGS ?=

.PHONY: all build test test-tsan test-asan demo race bench clean

all: build

build:
	@$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@$(CMAKE) --build build -j $(JOBS)

test: build
	cd build && ctest $(CTEST_FLAGS)

build-tsan/Makefile:
	$(CMAKE) -S . -B build-tsan -DGOC_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_BENCH=OFF $(CMAKE_ARGS) >/dev/null

test-tsan: build-tsan/Makefile
	@$(CMAKE) --build build-tsan -j $(JOBS)
	cd build-tsan && ctest $(CTEST_FLAGS)

build-asan/Makefile:
	$(CMAKE) -S . -B build-asan -DGOC_SANITIZE=address -DGOC_RUNQ_SIZE=8 -DCMAKE_BUILD_TYPE=Debug -DGOC_BENCH=OFF $(CMAKE_ARGS) >/dev/null

test-asan: build-asan/Makefile
	@$(CMAKE) --build build-asan -j $(JOBS)
	cd build-asan && ctest $(CTEST_FLAGS)

demo:
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
	rm -rf build build-tsan build-asan
