// Projection throughput on one core (target: at least 500,000 events/s for rebuild and
// replay, shared/ARCHITECTURE.md):
// - BM_ProjectorApply: the pure core (decode, validity rule, de-duplication, views,
//   serialization of the changed records), no store;
// - BM_ApplyIntoRocksDB: the same written to a fresh RocksDB store as a rebuild does
//   (no source reads, batches of kRebuildBatchRecords, each ingested as one SST file);
// - BM_RebuildFromEmbeddedBroker: `payorch replay --rebuild` end to end, reading the events
//   from the embedded broker over loopback into a fresh store (280,008 events). Reports
//   wall-clock events/s, the CPU of the rebuilding thread (the "CPU" column) and
//   events_per_process_cpu_s: events per CPU second of every thread of the process
//   (librdkafka's fetchers and the embedded broker included).
// Events are the shape the writer publishes: per payment, created, plan, a declined
// attempt, a retry that succeeds, completion (7 events).
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "log/embedded_broker.h"
#include "log/producer.h"
#include "projection/projector.h"
#include "projection/runner.h"
#include "projection/store.h"
#include "projection/views_support.h"

namespace payorch::projection {
namespace {

namespace fs = std::filesystem;
using testing::Log;
namespace ev = ::payments::events::v1;

// CPU seconds of the whole process (every thread: librdkafka's, the broker's, RocksDB's).
double ProcessCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Corpus {
  std::vector<std::string> values;
  std::vector<std::string> keys;
};

// The events of `payments` payments.
const Corpus& Events(int payments) {
  static std::map<int, Corpus> cache;
  auto [it, inserted] = cache.try_emplace(payments);
  if (!inserted) return it->second;
  Log log;
  log.Claim(1);
  for (int i = 0; i < payments; ++i) {
    const std::string p = "pay_" + std::to_string(1'000'000 + i);
    testing::SaleWithRetry(log, p, "order-" + std::to_string(i), 1, testing::kT0 + i * 10);
  }
  Corpus& c = it->second;
  for (size_t i = 0; i < log.size(); ++i) {
    ev::EventEnvelope e = log.record(i);
    // As a writer publishes them: each event its own command's group of one (the
    // projector applies whole groups).
    if (!e.has_writer_claimed()) {
      e.mutable_causation()->set_offset(static_cast<int64_t>(i));
      e.mutable_causation()->set_count(1);
    }
    c.values.push_back(e.SerializeAsString());
    c.keys.push_back(log.record(i).payment_id().empty() ? "claim" : log.record(i).payment_id());
  }
  return c;
}

void BM_ProjectorApply(benchmark::State& state) {
  const Corpus& corpus = Events(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    Projector projector(nullptr);
    size_t mutations = 0;
    for (size_t i = 0; i < corpus.values.size(); ++i) {
      projector.Observe(0, static_cast<int64_t>(i), corpus.values[i]);
      if (i % 20'000 == 19'999) mutations += projector.Flush().size();
    }
    mutations += projector.Flush().size();
    benchmark::DoNotOptimize(mutations);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * corpus.values.size()));
}
BENCHMARK(BM_ProjectorApply)->Arg(50'000)->Unit(benchmark::kMillisecond);

void BM_ApplyIntoRocksDB(benchmark::State& state) {
  const Corpus& corpus = Events(static_cast<int>(state.range(0)));
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const fs::path dir =
        fs::temp_directory_path() /
        ("payorch-pbench-" + std::to_string(::getpid()) + "-" + std::to_string(round++));
    fs::remove_all(dir);
    auto store = std::make_unique<ProjectionStore>();
    if (!store->Open(dir.string(), {.disable_wal = true, .bulk_load = true}).ok())
      state.SkipWithError("open");
    state.ResumeTiming();
    Projector projector(store.get());  // as a rebuild: fresh store, large batches
    projector.AssumeEmptySource();
    for (size_t i = 0; i < corpus.values.size(); ++i) {
      projector.Observe(0, static_cast<int64_t>(i), corpus.values[i]);
      if (i % kRebuildBatchRecords == kRebuildBatchRecords - 1) {
        // Timing only: a failed write is not checked here (tests/projection pin Write).
        store->Write(projector.Flush()).IgnoreError();
      }
    }
    store->Write(projector.Flush()).IgnoreError();  // as above: timing only
    store->Close().IgnoreError();                   // timing only
    state.PauseTiming();
    store.reset();
    fs::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * corpus.values.size()));
}
BENCHMARK(BM_ApplyIntoRocksDB)->Arg(50'000)->Unit(benchmark::kMillisecond);

void BM_RebuildFromEmbeddedBroker(benchmark::State& state) {
  const Corpus& corpus = Events(static_cast<int>(state.range(0)));
  auto broker = log::EmbeddedBroker::Start(1);
  if (!broker.ok()) return state.SkipWithError("broker");
  log::KafkaOptions kafka;
  kafka.bootstrap_servers = broker.value()->bootstrap();
  kafka.partitions = 8;
  if (!broker.value()->CreateTopics(kafka).ok()) return state.SkipWithError("topics");
  {
    auto producer = log::Producer::Create(kafka);
    if (!producer.ok()) return state.SkipWithError("producer");
    const std::string topic = kafka.Topic(log::TopicKind::kEvents);
    for (int32_t p = 0; p < kafka.partitions; ++p) {  // [0] is a claim: one per partition
      (void)producer.value()->Produce({topic, PartitionId{p}, "claim", corpus.values[0], {}});
    }
    for (size_t i = 1; i < corpus.values.size(); ++i) {
      (void)producer.value()->Produce(
          {topic, log::kAnyPartition, corpus.keys[i], corpus.values[i], {}});
    }
    if (!producer.value()->Flush(60'000).ok()) return state.SkipWithError("flush");
  }
  int round = 0;
  int64_t records = 0;
  double process_cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const fs::path dir =
        fs::temp_directory_path() /
        ("payorch-rbench-" + std::to_string(::getpid()) + "-" + std::to_string(round++));
    fs::remove_all(dir);
    auto store = std::make_unique<ProjectionStore>();
    if (!store->Open(dir.string(), {.disable_wal = true, .bulk_load = true}).ok())
      state.SkipWithError("open");
    state.ResumeTiming();
    const double cpu0 = ProcessCpuSeconds();
    RunnerOptions ro;  // as `payorch replay --rebuild`
    ro.kafka = kafka;
    ro.catch_up_batch_records = kRebuildBatchRecords;
    ProjectionRunner runner(store.get(), ro);
    if (!runner.Open().empty()) return state.SkipWithError("runner");
    std::atomic<bool> stop{false};
    if (!runner.CatchUp(stop).empty()) return state.SkipWithError("catch up");
    store->Close().IgnoreError();  // timing only
    process_cpu += ProcessCpuSeconds() - cpu0;
    records += runner.stats().records;
    state.PauseTiming();
    store.reset();
    fs::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(records);
  // Events per second of CPU of all threads (broker included): the one-core figure.
  state.counters["events_per_process_cpu_s"] = static_cast<double>(records) / process_cpu;
}
BENCHMARK(BM_RebuildFromEmbeddedBroker)->Arg(40'000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace payorch::projection

BENCHMARK_MAIN();
