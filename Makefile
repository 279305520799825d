# payorch: `make demo` runs the main job on the embedded broker; `make test` builds and
# runs every test. Both install missing dependencies first (scripts/deps.sh).
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
PAYORCH = $(BUILD)/payorch
CTEST_ARGS ?=

.PHONY: all deps configure build test demo bench crash-long chaos format format-check tidy clean schema-baseline
.PHONY: fuzz simulate sanitize tsan soak kafka-deps kafka kafka-stop test-kafka interop test-vectors

all: build

deps:
	@scripts/deps.sh --check >/dev/null 2>&1 || scripts/deps.sh

configure: deps
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE 'long|kafka' $(CTEST_ARGS)

# Real Apache Kafka (KRaft; jars from Maven Central into .cache/ by scripts/deps-kafka.sh).
# `make kafka` starts a 1-broker cluster on 127.0.0.1:9092 (data in build/kafka); `make
# test-kafka` runs the real-broker tier (ctest label kafka); `make interop` runs the
# Java, Python, JavaScript and Go clients against payorch on a real broker.
kafka-deps:
	scripts/deps-kafka.sh

kafka: kafka-deps
	scripts/kafka.sh start --dir $(BUILD)/kafka $(KAFKA_ARGS)

kafka-stop:
	scripts/kafka.sh stop --dir $(BUILD)/kafka

test-kafka: build kafka-deps
	cd $(BUILD) && ctest --output-on-failure -L kafka $(CTEST_ARGS)

interop: build kafka-deps
	tests/interop/run.sh --payorch $(PAYORCH)

# Regenerates schemas/testdata (the shared test vectors) after a schema change.
test-vectors: build
	$(BUILD)/tests/interop/make_vectors schemas/testdata

demo: build
	$(PAYORCH) demo $(DEMO_ARGS)

# The figures of docs/performance.md: the core benchmark, `payorch bench` at 1,000 and
# 3,000 payments/s and as fast as it goes on the embedded broker and, when `make kafka` is
# running, on Apache Kafka (bench/latency.sh), and the demo's mix at 3,000 payments/s.
bench: build
	$(BUILD)/bench/core_bench --benchmark_min_time=1
	KAFKA_DIR=$(BUILD)/kafka bench/latency.sh $(BUILD)
	$(PAYORCH) demo --payments 10000 --rate 3000 | grep -E 'latency|throughput|OK|VIOLATIONS'

# The long crash test: KILLS random SIGKILLs of the orchestrator (default 200).
crash-long: build
	KILLS=$${KILLS:-200} PAYMENTS=$${PAYMENTS:-5000} $(BUILD)/tests/reliability/crash_test

# The whole chaos matrix (docs/reliability.md#chaos-matrix): 16 cells, each with PAYMENTS
# payments and KILLS SIGKILLs; SEED=n replays a run, CELLS=fault/stage,... a few cells.
chaos: build
	CELLS=$${CELLS:-all} PAYMENTS=$${PAYMENTS:-400} KILLS=$${KILLS:-3} SEED=$${SEED:-1} \
	  $(BUILD)/tests/chaos/chaos_test
	$(BUILD)/tests/chaos/chaos_broker_test --gtest_filter='*NoRecordIsLostThroughProduceErrors'

# docs/reliability.md. Fuzzing: clang + libFuzzer + ASan/UBSan in build-fuzz, each target
# for FUZZ_SECONDS (make test runs the checked-in corpora through a plain driver).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	@test -f $(FUZZ_BUILD)/build.ninja || CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD) \
	  -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPAYORCH_FUZZ=ON -DPAYORCH_SANITIZE=address,undefined
	cmake --build $(FUZZ_BUILD) --target fuzz_targets -j$(JOBS)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Deterministic simulation over SEEDS seeds (make test runs 1,000); SEED=n replays one.
SEEDS ?= 100000
simulate: build
	SEEDS=$(SEEDS) $(BUILD)/tests/simulation/simulation_test

# The whole suite (but `long` and `kafka`) under ASan + UBSan (gcc) in build-asan; `make
# tsan` the multi-threaded runtime tests under TSan in build-tsan. Suppressions (third-party
# code only) are in tests/sanitizers/. Figures: docs/reliability.md#sanitizers.
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
SAN_SUPP = $(CURDIR)/tests/sanitizers
TSAN_TESTS ?= log_test fencing_test e2e_test observability_test projection_api_test \
	connectors_dispatcher_test connectors_reconciler_test connectors_breaker_test \
	projection_e2e_test projection_crash_test crash_test api_http_test \
	api_webhook_restart_test gateways_e2e_test simulation_test
sanitize: deps
	@test -f $(ASAN_BUILD)/build.ninja || cmake -S . -B $(ASAN_BUILD) -G Ninja \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPAYORCH_SANITIZE=address,undefined
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(SAN_SUPP)/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) -LE 'long|kafka' $(CTEST_ARGS)

tsan: deps
	@test -f $(TSAN_BUILD)/build.ninja || cmake -S . -B $(TSAN_BUILD) -G Ninja \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPAYORCH_SANITIZE=thread
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_TESTS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS=suppressions=$(SAN_SUPP)/tsan.supp:halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS) \
	  -R '^($(subst $(eval) ,|,$(strip $(TSAN_TESTS))))$$'

# Soak (scripts/soak.sh): broker + `payorch run` + a steady sender for MINUTES minutes at
# RATE creates/s; throughput and RSS per minute, `payorch check` at the end.
# The embedded broker keeps ~5 MB per partition, hence the partitions (see the script).
# --gateway-sim: the processors run as a separate `payorch gateway-sim`, so the measured
# RSS is the orchestrator's own (SOAK_FLAGS= for in-process simulated processors).
MINUTES ?= 10
RATE ?= 200
SOAK_PARTITIONS ?= 64
SOAK_FLAGS ?= --gateway-sim
soak: build
	scripts/soak.sh --payorch $(PAYORCH) --minutes $(MINUTES) --rate $(RATE) \
	  --partitions $(SOAK_PARTITIONS) $(SOAK_FLAGS)

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
