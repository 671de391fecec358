# Front door: `make run` builds autarky and runs it; `make test` builds and runs every test.
# Both install the Debian packages they need first (scripts/install-deps; root or sudo).
.PHONY: all deps build run test test-release test-debug test-tsan test-fuzz test-arm bench clean

JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
# Arguments for `make run`; by default a chat with deepseek-r1:1.5b (pulled on first use), or a
# tour of the CLI on the shared reference model when that cannot run (scripts/run-demo).
ARGS ?=

all: build

deps:
	./scripts/install-deps

build: deps
	cmake --preset release
	cmake --build --preset release -j $(JOBS)

run: build
	./scripts/run-demo $(ARGS)

# Every test: release, ASan+UBSan, TSan, fuzzing, and the NEON kernels on AArch64 under qemu.
test: deps
	./scripts/test-all

test-release: deps
	./scripts/test-all release
test-debug: deps
	./scripts/test-all debug
test-tsan: deps
	./scripts/test-all tsan
test-fuzz: deps
	./scripts/test-all fuzz
test-arm: deps
	./scripts/test-all aarch64

bench: build
	./build/release/bench/autarky_bench

clean:
	rm -rf build
