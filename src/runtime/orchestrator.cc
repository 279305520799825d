#include "runtime/orchestrator.h"

#include <spdlog/spdlog.h>

#include <functional>
#include <map>
#include <thread>

#include "common/thread_name.h"
#include "log/consumer.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "outbox/event_outbox.h"
#include "runtime/aggregate_writer.h"
#include "runtime/internal/partition_log.h"
#include "runtime/saga.h"

namespace payorch::runtime {

namespace {

constexpr int64_t kCommitEveryMs = 1'000;
constexpr int64_t kDrainTimeoutMs = 10'000;

// Which aggregate a writer loop writes: its commands and events topics, its consumer
// group, and how to make the writer of one partition.
struct WriterLoopSpec {
  log::TopicKind commands = log::TopicKind::kCommands;
  log::TopicKind events = log::TopicKind::kEvents;
  std::string group;
  std::function<std::unique_ptr<CommandWriter>(int32_t partition, log::Producer&,
                                               outbox::EventOutbox&)>
      make;
  // The payments loop reports its partitions and readiness on the probe and metrics.
  bool report = false;
  // Callers wait on this loop's decisions (the merchant API's POSTs): its commands consumer
  // fetches with KafkaOptions::hot_fetch_wait_max_ms.
  bool hot_path = false;
  // The name of the thread the loop gets (common/thread_name.h); "" for the caller's.
  std::string thread_name{};
  // Optional: told how many partitions the loop owns (the payments writers' cache bound).
  CacheBudget* cache = nullptr;
};

// The writer side of one aggregate: owns the commands consumer, the events producer and one
// CommandWriter per assigned partition.
class WriterLoop : public log::RebalanceListener {
 public:
  WriterLoop(const OrchestratorOptions& options, OrchestratorProbe& probe, WriterLoopSpec spec)
      : options_(options), probe_(probe), spec_(std::move(spec)) {}

  std::vector<log::PartitionOffset> OnAssigned(const std::vector<PartitionId>& ps) override {
    std::vector<log::PartitionOffset> starts;
    if (spec_.cache != nullptr) spec_.cache->SetOwnedPartitions(writers_.size() + ps.size());
    for (PartitionId p : ps) {
      std::unique_ptr<CommandWriter> writer = spec_.make(p.value(), *producer_, *outbox_);
      auto start = writer->Start();
      if (std::holds_alternative<std::string>(start)) {
        failure_ = "partition " + std::to_string(p.value()) + ": " + std::get<std::string>(start);
        options_.logger->error("{}", failure_);
        starts.push_back({p, log::kOffsetEnd});
        continue;
      }
      starts.push_back({p, Offset{std::get<int64_t>(start)}});
      writers_[p.value()] = std::move(writer);
    }
    Report();
    if (failure_.empty() && spec_.report) probe_.writers_ready = true;
    return starts;
  }

  void OnRevoked(const std::vector<PartitionId>& ps, bool lost) override {
    // Undelivered events are re-decided by the partition's next writer, from the log.
    producer_->Flush(10'000).IgnoreError();
    for (PartitionId p : ps) {
      auto it = writers_.find(p.value());
      if (it == writers_.end()) continue;
      if (std::string err = it->second->Persist(); !err.empty()) {
        options_.logger->warn("[p{}] state not persisted at revoke: {}", p.value(), err);
      }
      options_.logger->info("[p{}] partition revoked{}; writer stops", p.value(),
                            lost ? " (lost)" : "");
      // Not destroyed yet: if the flush above timed out (a stalled broker), delivery
      // reports of its events are still to come, and they call back into it.
      it->second->Retire();
      retired_.push_back(std::move(it->second));
      writers_.erase(it);
    }
    if (spec_.cache != nullptr) spec_.cache->SetOwnedPartitions(writers_.size());
    Report();
  }

  void Report() {
    if (!spec_.report) return;
    probe_.partitions = static_cast<int>(writers_.size());
    if (options_.metrics != nullptr) options_.metrics->writer_partitions.Set(probe_.partitions);
  }

  // True when every owned partition has decided every command in the log and the outbox
  // has nothing in flight.
  bool CaughtUp() {
    if (outbox_->depth() > 0) return false;
    const std::string topic = options_.kafka.Topic(spec_.commands);
    for (auto& [p, w] : writers_) {
      if (w->fenced()) continue;
      if (!drain_reader_) {
        auto reader =
            log::PartitionReader::Open(options_.kafka, topic, PartitionId{p}, log::kOffsetEnd);
        if (!reader.ok()) return false;
        drain_reader_ = std::move(reader.value());
      }
      auto marks = drain_reader_->QueryWatermarks(topic, PartitionId{p}, 2'000);
      if (!marks.ok() || w->persisted_command_offset() < marks.value().high.value()) return false;
    }
    return true;
  }

  // Runs until `drain` is set and every command in the log is decided and persisted (or
  // kDrainTimeoutMs passed), or a fatal error.
  std::string Run(const std::atomic<bool>& drain) {
    const std::atomic<bool>& stop = drain;
    auto producer = log::Producer::Create(internal::GaplessProducerOptions(options_.kafka));
    if (!producer.ok()) return "events producer: " + producer.status().ToString();
    producer_ = std::move(producer.value());
    outbox_ = std::make_unique<outbox::EventOutbox>(*producer_, options_.kafka.Topic(spec_.events));
    const std::string topic = options_.kafka.Topic(spec_.commands);
    auto consumer =
        log::Consumer::CreateMember(spec_.hot_path ? options_.kafka.HotPath() : options_.kafka,
                                    spec_.group, topic, options_.static_partitions, this);
    if (!consumer.ok()) return "commands consumer: " + consumer.status().ToString();
    consumer_ = std::move(consumer.value());

    std::vector<log::Record> batch;
    auto last_commit = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point drain_deadline{};
    auto last_drain_check = std::chrono::steady_clock::now();
    while (failure_.empty()) {
      if (stop.load()) {
        const auto now = std::chrono::steady_clock::now();
        if (drain_deadline == std::chrono::steady_clock::time_point{}) {
          drain_deadline = now + std::chrono::milliseconds(kDrainTimeoutMs);
        }
        if (now > drain_deadline) {
          options_.logger->warn("stopping before every command was decided (drain timeout)");
          break;
        }
        if (now - last_drain_check > std::chrono::milliseconds(50)) {
          last_drain_check = now;
          if (CaughtUp()) break;
        }
      }
      batch.clear();
      auto st = consumer_->PollBatch(2000, 2, &batch);
      if (log::IsFatal(st)) {
        failure_ = "commands poll: " + st.ToString();
        break;
      }
      for (const auto& r : batch) {
        auto it = writers_.find(r.partition.value());
        if (it == writers_.end() || it->second->fenced()) continue;
        if (std::string err = it->second->Handle(r); !err.empty()) {
          failure_ = "partition " + std::to_string(r.partition.value()) + ": " + err;
          break;
        }
      }
      producer_->Poll(0).IgnoreError();  // delivery callbacks; failures reach the outbox
      std::erase_if(retired_, [](const auto& w) { return w->Quiescent(); });
      int fenced = 0;  // counted on the way: readiness (probe_.fenced_partitions)
      for (auto& [p, w] : writers_) {
        if (std::string err = w->Persist(); !err.empty() && failure_.empty()) {
          failure_ = "partition " + std::to_string(p) + ": " + err;
        }
        fenced += w->fenced() ? 1 : 0;
      }
      if (spec_.report) {
        probe_.fenced_partitions = fenced;
        probe_.outbox_depth = outbox_->depth();
        if (options_.metrics != nullptr) options_.metrics->outbox_depth.Set(probe_.outbox_depth);
      }
      if (std::chrono::steady_clock::now() - last_commit >
          std::chrono::milliseconds(kCommitEveryMs)) {
        last_commit = std::chrono::steady_clock::now();
        std::vector<log::PartitionOffset> offsets;
        for (auto& [p, w] : writers_) {
          offsets.push_back({PartitionId{p}, Offset{w->persisted_command_offset()}});
        }
        // Commits only show progress (lag); resumption is from the log itself.
        if (!offsets.empty()) consumer_->CommitAsync(offsets).IgnoreError();
      }
    }
    producer_->Flush(10'000).IgnoreError();  // what is not delivered is re-decided
    for (auto& [p, w] : writers_) {
      // The log has every delivered event; a state not persisted is re-folded at restore.
      if (std::string err = w->Persist(); !err.empty()) {
        options_.logger->warn("[p{}] state not persisted at stop: {}", p, err);
      }
    }
    consumer_->Close().IgnoreError();  // nothing to commit: resumption is from the log
    for (auto& [p, w] : writers_) retired_.push_back(std::move(w));  // outlive producer_
    writers_.clear();
    return failure_;
  }

 private:
  const OrchestratorOptions& options_;
  OrchestratorProbe& probe_;
  const WriterLoopSpec spec_;
  // Writers of revoked partitions, kept until no delivery report can call back into them
  // (CommandWriter::Quiescent; see OnRevoked). Declared before producer_, so they outlive
  // it: its destructor drops the callbacks of what it purges.
  std::vector<std::unique_ptr<CommandWriter>> retired_;
  std::unique_ptr<log::Producer> producer_;
  std::unique_ptr<outbox::EventOutbox> outbox_;
  std::unique_ptr<log::Consumer> consumer_;
  std::map<int32_t, std::unique_ptr<CommandWriter>> writers_;
  std::unique_ptr<log::PartitionReader> drain_reader_;
  std::string failure_;
};

}  // namespace

Orchestrator::Orchestrator(OrchestratorOptions options)
    : options_(std::move(options)),
      admission_({.max_queued = options_.connector_max_queued,
                  .max_unknown = options_.max_unknown_outcomes}) {
  if (!options_.logger) options_.logger = spdlog::default_logger();
}

Orchestrator::~Orchestrator() = default;

std::string Orchestrator::Run(const std::atomic<bool>& stop) {
  StateStore store;
  if (Status s = store.Open(options_.data_dir); !s.ok()) return s.ToString();
  StateStore invoice_store;
  StateStore order_store;
  StateStore saga_store;
  const bool run_saga = options_.run_writers && options_.run_aggregates;
  if (run_saga) {
    const std::string invoices = options_.invoice_data_dir.empty() ? options_.data_dir + "-invoices"
                                                                   : options_.invoice_data_dir;
    const std::string orders =
        options_.order_data_dir.empty() ? options_.data_dir + "-orders" : options_.order_data_dir;
    if (Status s = invoice_store.Open(invoices); !s.ok()) return s.ToString();
    if (Status s = order_store.Open(orders); !s.ok()) return s.ToString();
    const std::string saga =
        options_.saga_data_dir.empty() ? options_.data_dir + "-saga" : options_.saga_data_dir;
    // With its write-ahead log: a checkpoint lost to a SIGKILL re-sends a fact per payment.
    if (Status s = saga_store.Open(saga, /*write_ahead_log=*/true); !s.ok()) return s.ToString();
  }
  std::atomic<bool> aggregates_failed{false};
  // Shutdown order: connectors and the saga stop first (no new answers, no new facts),
  // then the writers decide what is left in the commands logs, then they stop. So a clean
  // stop leaves no command undecided.
  std::atomic<bool> connectors_stop{false};
  std::atomic<bool> connectors_done{false};
  std::string saga_error;
  std::atomic<bool> writers_drain{false};
  std::atomic<bool> writers_done{false};
  std::string connector_error;
  StartedHandoff handoff;  // writers -> connectors of this process (runtime/started_handoff.h)
  std::thread connectors([&] {
    NameThisThread("po-connectors");
    if (options_.run_connectors) {
      ConnectorOptions co;
      co.kafka = options_.kafka;
      co.group = options_.connectors_group;
      co.threads = options_.connector_threads;
      co.queue_limit = options_.connector_queue_limit;
      co.max_queued = options_.connector_max_queued;
      co.store = &store;
      co.gateways = options_.gateways;
      co.clock = options_.clock;
      co.logger = options_.logger;
      co.probe = &probe_.connectors;
      co.metrics = options_.metrics;
      co.admission = &admission_;
      co.static_partitions = options_.static_partitions;
      if (options_.run_writers && options_.handoff) co.handoff = &handoff;
      ConnectorLoop loop(co);
      connector_error = loop.Run(connectors_stop);
    } else {
      while (!connectors_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    connectors_done = true;
  });
  // The saga: payment events to order and invoice commands, on its own thread and store,
  // stopped with the connectors so the writers' drain decides its last commands.
  std::thread saga;
  if (run_saga) {
    saga = std::thread([&] {
      NameThisThread("po-saga");
      SagaOptions so;
      so.kafka = options_.kafka;
      so.group = options_.saga_group;
      so.store = &saga_store;
      so.logger = options_.logger;
      so.static_partitions = options_.static_partitions;
      SagaLoop loop(so);
      saga_error = loop.Run(connectors_stop);
      if (!saga_error.empty()) {
        options_.logger->error("saga: {}", saga_error);
        aggregates_failed = true;  // the process stops (crash-only)
      }
    });
  }
  std::thread watcher([&] {
    NameThisThread("po-watcher");
    while (!stop.load() && !connectors_done.load() && !writers_done.load() &&
           !aggregates_failed.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    connectors_stop = true;
    // The writers drain once the connectors and the saga have sent their last commands.
    connectors.join();
    if (saga.joinable()) saga.join();
    writers_drain = true;
    writers_drain.notify_all();  // a process without writers waits on it below
  });
  // Invoices and orders: one writer loop each, on their own threads and stores, drained
  // with the payments writers (docs/invoices.md, docs/orders.md).
  // Where every writer's restore and gap reads come from (shared: it only opens readers).
  log::KafkaCluster cluster(options_.kafka);
  std::vector<std::string> aggregate_errors(2);
  std::vector<std::thread> aggregate_threads;
  if (options_.run_writers && options_.run_aggregates) {
    auto aggregate = [&](log::TopicKind commands, log::TopicKind events, std::string group,
                         StateStore* store, auto make, std::string thread_name) {
      WriterLoopSpec spec{commands, events, std::move(group),
                          [this, &cluster, store, make](int32_t p, log::Producer& producer,
                                                        outbox::EventOutbox& outbox) {
                            AggregateWriterDeps deps{&options_.kafka, &cluster, &producer,
                                                     &outbox,         store,    options_.writer_id,
                                                     options_.logger};
                            deps.metrics = options_.metrics;
                            return make(p, std::move(deps));
                          }};
      spec.thread_name = std::move(thread_name);
      return spec;
    };
    std::vector<WriterLoopSpec> specs;
    specs.push_back(aggregate(log::TopicKind::kInvoiceCommands, log::TopicKind::kInvoiceEvents,
                              options_.invoice_writers_group, &invoice_store, MakeInvoiceWriter,
                              "po-invoices-wr"));
    specs.push_back(aggregate(log::TopicKind::kOrderCommands, log::TopicKind::kOrderEvents,
                              options_.order_writers_group, &order_store, MakeOrderWriter,
                              "po-orders-wr"));
    for (size_t i = 0; i < specs.size(); ++i) {
      aggregate_threads.emplace_back([&, i, spec = std::move(specs[i])]() mutable {
        NameThisThread(spec.thread_name);
        WriterLoop loop(options_, probe_, std::move(spec));
        aggregate_errors[i] = loop.Run(writers_drain);
        if (!aggregate_errors[i].empty()) aggregates_failed = true;  // the process stops
      });
    }
  }
  std::string writer_error;
  if (options_.run_writers) {
    StartedHandoff* to_connectors =
        options_.run_connectors && options_.handoff ? &handoff : nullptr;
    CacheBudget cache(options_.max_cached_payments);
    WriterLoopSpec payments{
        log::TopicKind::kCommands,
        log::TopicKind::kEvents,
        options_.writers_group,
        [&](int32_t p, log::Producer& producer, outbox::EventOutbox& outbox) {
          WriterDeps deps{&options_.kafka, &cluster,       &producer,          &outbox,
                          &store,          options_.plans, options_.writer_id, options_.logger,
                          &probe_.writer,  &cache,         options_.metrics,   &admission_,
                          to_connectors};
          return std::make_unique<PartitionWriter>(p, deps);
        },
        /*report=*/true,
        /*hot_path=*/true,
        /*thread_name=*/"",
        &cache};
    WriterLoop loop(options_, probe_, std::move(payments));
    writer_error = loop.Run(writers_drain);
  } else {
    writers_drain.wait(false);  // set (and notified) by the watcher above
  }
  writers_done = true;
  for (std::thread& t : aggregate_threads) t.join();
  for (const std::string& err : aggregate_errors) {
    if (writer_error.empty() && !err.empty()) writer_error = err;
  }
  watcher.join();  // it joined the connectors and the saga
  if (!writer_error.empty()) return writer_error;
  if (!saga_error.empty()) return "saga: " + saga_error;
  return connector_error;
}

}  // namespace payorch::runtime
