# payorch: `make demo` runs the main job on the embedded broker; `make test` builds and
# runs every test. Both install missing dependencies first (scripts/deps.sh).
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
PAYORCH = $(BUILD)/payorch
CTEST_ARGS ?=

.PHONY: all deps configure build test demo bench crash-long format format-check tidy clean schema-baseline

all: build

deps:
	@scripts/deps.sh --check >/dev/null 2>&1 || scripts/deps.sh

configure: deps
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE long $(CTEST_ARGS)

demo: build
	$(PAYORCH) demo $(DEMO_ARGS)

# The figures of docs/performance.md: the core benchmark, then the demo end to end at
# three arrival rates.
bench: build
	$(BUILD)/bench/core_bench --benchmark_min_time=1
	$(PAYORCH) demo --payments 10000 --rate 0 | grep -E 'latency|throughput|OK|VIOLATIONS'
	$(PAYORCH) demo --payments 10000 --rate 3000 | grep -E 'latency|throughput|OK|VIOLATIONS'
	$(PAYORCH) demo --payments 10000 --rate 1000 | grep -E 'latency|throughput|OK|VIOLATIONS'

# The long crash test: KILLS random SIGKILLs of the orchestrator (default 200).
crash-long: build
	KILLS=$${KILLS:-200} PAYMENTS=$${PAYMENTS:-5000} $(BUILD)/tests/reliability/crash_test

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

format-check:
	git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

tidy: configure
	git ls-files 'src/*.cc' | xargs clang-tidy -p $(BUILD) --quiet

schema-baseline: deps
	scripts/update-schema-baseline.sh

clean:
	rm -rf $(BUILD)
