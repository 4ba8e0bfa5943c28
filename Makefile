# Thin wrapper over CMake presets. The two commands a newcomer needs: `make run` and `make test`.
JOBS ?= $(shell nproc)
CONFIG ?= config/omniroute.yaml

.PHONY: all deps build run test bench soak fuzz package format clean

all: build

deps:
	deploy/install-deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

run: build
	build/release/daemon/omniroute serve --config $(CONFIG)

test:
	deploy/install-deps.sh --test
	cmake --preset dev >/dev/null
	cmake --build --preset dev -j $(JOBS)
	ctest --preset dev -j $(JOBS)

bench:
	deploy/install-deps.sh --bench
	cmake --preset bench >/dev/null
	cmake --build --preset bench -j $(JOBS)
	tests/bench/run.sh build/bench

soak: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target omniroute
	tests/bench/soak.py --build-dir build/release --results build/release/results $(SOAK_ARGS)

fuzz:
	deploy/install-deps.sh --fuzz
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS) --target fuzzers
	tests/fuzz/run.sh build/fuzz

package: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)
	cd build/release && cpack
	@ls build/release/omniroute_*_amd64.deb

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build
