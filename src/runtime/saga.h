// The saga (issue 21): orders and invoices follow the events of the payments that pay them.
// No distributed transaction: the saga reads the payments events log, and for each counted
// event of a payment linked to an order or an invoice it appends a command to that
// aggregate's commands log. Nothing is lost on a crash: a reader's checkpoint passes an
// event only once every command it produced is in the log, and a re-read produces the same
// commands (command_id "saga/<event_id>"), which the aggregates recognise as repeats.
//
// A payment is linked when its PaymentCreated carries metadata "payorch_order" and/or
// "payorch_invoice" (CreatePayment.metadata). What each payment event maps to:
//
//   order   order::PaymentFactOf(event, status_after)  -> RecordPaymentFact
//   invoice a CAPTURED fact (PaymentCaptured; PaymentCompleted SUCCEEDED)
//                                                       -> RecordPaymentSucceeded{running total}
//           a FAILED, CANCELED or VOIDED fact, nothing captured
//                                                       -> RecordPaymentFailed{reason}
//
//   PaymentSaga saga(&store, topics);           // store: the saga's own StateStore
//   int64_t next = saga.Restore(partition);     // the checkpoint's offset
//   for (record : partition from next) {
//     Status s = saga.OnRecord(partition, offset, record.value, &out);  // out: commands
//   }
//   PartitionMeta at = saga.Position(partition);  // checkpoint it once `out` is delivered
//
// PaymentSaga does no Kafka I/O and reads no clock; its state is the store and a bounded
// cache. SagaLoop runs it on a consumer of the payments events topic and a producer.
//
// Thread safety: none. One thread owns a PaymentSaga (and a SagaLoop's Run).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "command/state.h"
#include "command/validity.h"
#include "common/status.h"
#include "invoice/invoice.h"
#include "log/options.h"
#include "log/record.h"
#include "order/order.h"
#include "payments/events/v1/events.pb.h"
#include "runtime/state_store.h"

namespace spdlog {
class logger;
}

namespace payorch::runtime {

inline constexpr char kSagaCheckpoint[] = "saga";
// The metadata keys that link a payment to its order or invoice (order.h, invoice.h).
inline constexpr const char* kOrderLinkKey = order::kPaymentLinkKey;
inline constexpr const char* kInvoiceLinkKey = invoice::kPaymentLinkKey;
// Linked, not terminal payments kept in memory (all partitions); beyond it the oldest
// cached is dropped and later restored from the store. ~1 KB a payment.
inline constexpr size_t kSagaMaxCachedPayments = 50'000;

struct SagaTopics {
  std::string order_commands;
  std::string invoice_commands;
};

class PaymentSaga {
 public:
  PaymentSaga(EventStore* store, SagaTopics topics,
              size_t max_cached_payments = kSagaMaxCachedPayments);

  // Starts (or restarts) reading `partition` at its checkpoint: returns the next offset to
  // read. Forgets what memory held for it.
  int64_t Restore(int32_t partition);
  // Starts reading `partition` at `offset` with nothing before it (the checkpoint is older
  // than the log's start, or belongs to another log): drops what the store holds for it.
  [[nodiscard]] Status Reset(int32_t partition, int64_t offset);
  // Drops the partition's reading state and cached payments (it was revoked).
  void Forget(int32_t partition);

  // One record of an events partition, in offset order (a record before the position is
  // ignored). Applies command::EpochFilter and command::CommandGroups and appends the
  // commands of each completed group to `out`. An error is the store's (crash-only).
  [[nodiscard]] Status OnRecord(int32_t partition, int64_t offset, std::string_view value,
                                std::vector<log::OutRecord>* out);

  // One counted event, in the payment's order: appends its commands to `out`. A repeat of
  // an event already seen gives the same commands again.
  [[nodiscard]] Status OnCounted(int32_t partition, const ::payments::events::v1::EventEnvelope& e,
                                 std::vector<log::OutRecord>* out);

  // Where a restart must resume to lose nothing fed so far (the start of an unfinished
  // group, else the next offset), with the filter's epochs and the last complete group.
  PartitionMeta Position(int32_t partition) const;
  [[nodiscard]] Status SaveCheckpoint(int32_t partition, const PartitionMeta& meta);

  size_t cached() const { return cache_.size(); }
  uint64_t unreadable() const { return unreadable_; }

 private:
  struct Track {
    command::EpochFilter filter;
    command::CommandGroups groups;
    int64_t next_offset = 0;
    int64_t partial_start = -1;  // record offset where an unfinished group began
  };
  struct Linked {
    int32_t partition = 0;
    command::PaymentState state;
    std::string order_id;
    std::string invoice_id;
    uint64_t touched = 0;  // for eviction: the oldest touched goes first
  };

  // The linked payment as of just before `e`, from memory or the store; nullptr when not
  // linked.
  [[nodiscard]] StatusOr<Linked*> Find(int32_t partition,
                                       const ::payments::events::v1::EventEnvelope& e);
  void Emit(const Linked& l, const ::payments::events::v1::EventEnvelope& e,
            std::vector<log::OutRecord>* out) const;
  void Evict();

  EventStore* store_;
  SagaTopics topics_;
  size_t max_cached_;
  std::map<int32_t, Track> tracks_;
  std::unordered_map<std::string, Linked> cache_;  // payment_id -> linked payment
  uint64_t clock_ = 0;                             // a counter, not time
  uint64_t unreadable_ = 0;
};

struct SagaOptions {
  log::KafkaOptions kafka;
  std::string group = "payorch.saga";
  EventStore* store = nullptr;  // the saga's own
  std::shared_ptr<spdlog::logger> logger;
  std::vector<int32_t> static_partitions;  // empty: from the consumer group
  size_t max_cached_payments = kSagaMaxCachedPayments;
  // Commands produced and not yet delivered before the loop stops reading and flushes.
  int max_in_flight = 10'000;
  int64_t checkpoint_every_ms = 1'000;
};

// Runs a PaymentSaga on its own consumer group over the payments events topic, appending
// the commands with an idempotent producer. At-least-once: every checkpoint_every_ms, and
// at stop and revoke, it flushes the producer and only then saves the checkpoints taken
// before the flush. A command not delivered is a fatal error Run returns (crash-only: the
// restart resumes from the checkpoint and produces it again).
class SagaLoop {
 public:
  explicit SagaLoop(SagaOptions options);
  ~SagaLoop();
  // Runs until `stop` is true. Returns "" or a one-line error.
  [[nodiscard]] std::string Run(const std::atomic<bool>& stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace payorch::runtime
