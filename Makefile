# Entry points for people and CI. Everything real happens in CMake, ctest and scripts/.
#   make            build build/mcpbridge (installs Debian build dependencies first)
#   make test       every test: unit + integration (release and ASan+UBSan builds),
#                   MCP conformance suite, fuzz smoke runs, benchmark smoke run
#   make run        set up and start the demo (bundled spec, local demo API)
#   make bench      the benchmarks; figures to bench/results/ and BENCHMARKS.md
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build deps deps-build test unit asan conformance fuzz bench bench-smoke run clean format

all: build

deps-build:
	@bash scripts/install-deps.sh --no-node

deps:
	@bash scripts/install-deps.sh

build: deps-build
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

unit: build deps
	cd build && ctest --output-on-failure -j $(JOBS)

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMB_SANITIZE=ON -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

conformance: build deps
	bash tests/conformance/run.sh build/mcpbridge

fuzz: deps-build
	@cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DMB_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	bash tests/fuzz/run.sh build-fuzz $${FUZZ_SECONDS:-15}

bench-smoke: build deps
	bash bench/run.sh --smoke

test: unit asan conformance fuzz bench-smoke
	@echo "make test: all suites passed"

bench: build deps
	bash bench/run.sh

run: build deps
	bash scripts/run-demo.sh

format:
	clang-format -i src/*.c src/*/*.c src/*/*.h tests/unit/*/*.c tests/fuzz/*.c

clean:
	rm -rf build build-asan build-fuzz
