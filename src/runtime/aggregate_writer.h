// AggregateWriter: the single writer of one partition of an invoice or order commands
// topic (docs/invoices.md, docs/orders.md). The same protocol as the payments writer
// (runtime/writer.h): restore from its RocksDB store and the events partition's tail, claim
// the partition with a WriterClaimed of a higher epoch (runtime/internal/partition_log.h,
// shared with payments), decide commands in offset order with the aggregate's pure core,
// publish each command's events as one group through the outbox, persist delivered groups.
// Records that are no command of an aggregate go to the dead-letter topic.
//
//   auto writer = MakeInvoiceWriter(partition, deps);   // or MakeOrderWriter
//   auto start = writer->Start();                       // restore + claim
//   for (record : invoice commands of partition) writer->Handle(record);
//
// Not thread-safe: owned by its writer loop's thread (runtime/orchestrator.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "log/options.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "metrics/runtime_metrics.h"
#include "outbox/event_outbox.h"
#include "runtime/command_writer.h"
#include "runtime/state_store.h"

namespace spdlog {
class logger;
}

namespace payorch::runtime {

struct AggregateWriterDeps {
  const log::KafkaOptions* kafka = nullptr;  // topic names
  log::Cluster* cluster = nullptr;           // restore and gap reads, partition counts
  log::Producer* producer = nullptr;
  outbox::EventOutbox* outbox = nullptr;  // on the aggregate's events topic
  EventStore* store = nullptr;            // this aggregate's own store
  std::string writer_id;
  std::shared_ptr<spdlog::logger> logger;
  // Aggregates kept in memory per partition; beyond it, those with nothing in flight are
  // dropped and reloaded from the store when a command names them.
  size_t max_cached = 10'000;
  // Optional (/metrics): aggregate_commands_total and aggregate_events_total by aggregate,
  // and the dead_letters_total and fenced_writes_total every writer counts.
  metrics::RuntimeMetrics* metrics = nullptr;
};

// The writer of invoice commands (payments.invoices.v1, decided by src/invoice).
std::unique_ptr<CommandWriter> MakeInvoiceWriter(int32_t partition, AggregateWriterDeps deps);
// The writer of order commands (payments.orders.v1, decided by src/order).
std::unique_ptr<CommandWriter> MakeOrderWriter(int32_t partition, AggregateWriterDeps deps);

}  // namespace payorch::runtime
