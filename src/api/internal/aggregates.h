// The merchant API's read side of invoices and orders (internal): one follower of the
// invoice events topic and one of the order events topic, each from its checkpoints.
//
// Every record passes command::EpochFilter (a claim drops an unfinished group) and
// command::BasicCommandGroups (a command's events count once, whole); the counted events of
// each aggregate are kept in RocksDB (DATA_DIR/api/commerce) under its id and sequence, in
// the same write batch as the partition's checkpoint (next offset, the filter's epochs, the
// last complete group), so a restart neither loses nor repeats one. A view is the fold of
// an aggregate's stored events with invoice::Evolve / order::Evolve (the cores' one rule), so
// GETs survive restarts and need nothing but this store. While a group is unfinished the
// checkpoint stays at its first record, so a restart reads it again whole.
//
// A request registers the command id it is about to append (Expect), appends, then Waits,
// bounded, until the command's group was counted (decided, rejected with its reason, or
// deduplicated): woken by the follower's thread, never polled. Several requests may wait
// for one command id (a retry sending a deterministic command again): each is woken by
// the next group counted under it.
//
//   AggregateFollower f(kafka, dir);
//   if (auto err = f.Start(); !err.empty()) ...
//   auto w = f.Expect(command_id);
//   ... append the command ...
//   AggregateDecision d = f.Wait(w, deadline);
//   std::optional<invoice::InvoiceState> s = f.Invoice(invoice_id);
//
// Thread safety: every method may be called from any thread; Apply is called by the two
// follower threads (or by tests, without Start, from one thread).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "invoice/state.h"
#include "log/options.h"
#include "order/state.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb
namespace payments::invoices::v1 {
class InvoiceEventEnvelope;
}

namespace payorch::api::internal {

enum class AggregateKind { kInvoice, kOrder };

// What the follower learnt about one command of an invoice or an order.
struct AggregateDecision {
  bool decided = false;  // the command's whole group of events was counted
  bool deduplicated = false;
  // The aggregate's RejectReason name without its prefix ("INSTALLMENT_OUT_OF_ORDER"),
  // "" when not rejected.
  std::string rejection;
  std::string detail;
  std::string command_type;
  bool rejected() const { return !rejection.empty(); }
};

// Invoice money recognised on the days installments were paid (cash basis), per currency:
// the paid installments' schedule columns, and money recorded as overpaid. Kept by the
// invoice follower in the same write batch as the events that caused it.
struct InvoiceMoney {
  int64_t principal = 0;     // paid installments' principal (line nets)
  int64_t taxes = 0;         // paid installments' tax column
  int64_t service_fees = 0;  // paid installments' service fee column
  int64_t installments_paid = 0;
  int64_t overpaid = 0;  // InvoiceOverpaid amounts
  bool operator==(const InvoiceMoney&) const = default;
};

class AggregateFollower {
 public:
  // `dir`: the RocksDB directory of the stored events and checkpoints.
  AggregateFollower(log::KafkaOptions kafka, std::string dir);
  ~AggregateFollower();
  AggregateFollower(const AggregateFollower&) = delete;
  AggregateFollower& operator=(const AggregateFollower&) = delete;

  // Opens the store only (tests feed records with Apply). "" or why not.
  [[nodiscard]] std::string Open();
  // Open(), then one consumer thread per events topic from the stored checkpoints.
  [[nodiscard]] std::string Start();
  void Stop();

  struct Waiter;
  // Register before appending the command.
  std::shared_ptr<Waiter> Expect(const std::string& command_id);
  // Waits until the command was decided or `deadline`; then forgets it.
  AggregateDecision Wait(const std::shared_ptr<Waiter>& waiter,
                         std::chrono::steady_clock::time_point deadline);

  // The fold of the aggregate's stored events; nullopt if it does not exist.
  [[nodiscard]] std::optional<invoice::InvoiceState> Invoice(const std::string& id) const;
  [[nodiscard]] std::optional<order::OrderState> Order(const std::string& id) const;

  // `merchant`'s InvoiceMoney per currency (upper case) over the UTC days [from, to]
  // (YYYY-MM-DD, inclusive): an InstallmentPaid or InvoiceOverpaid counts on the day it
  // occurred (the causing command record's time).
  [[nodiscard]] std::map<std::string, InvoiceMoney> InvoiceTotals(const std::string& merchant,
                                                                  const std::string& from,
                                                                  const std::string& to) const;

  // One record of an events topic, in offset order per partition. Stores what it counts
  // (logged and returned on a store error: the record is then read again after a restart).
  Status Apply(AggregateKind kind, int32_t partition, int64_t offset, std::string_view value);

  struct Partition;

 private:
  std::string Run(AggregateKind kind);
  template <class Event>
  Status ApplyTyped(AggregateKind kind, Partition& p, int64_t offset, const Event& e);
  void Complete(const std::string& command_id, const AggregateDecision& d);
  // Adds what a counted invoice group paid to the daily invoice totals in `batch`.
  Status AddInvoiceMoney(const std::vector<::payments::invoices::v1::InvoiceEventEnvelope>& group,
                         rocksdb::WriteBatch* batch);
  Partition& PartitionOf(AggregateKind kind, int32_t partition);

  log::KafkaOptions kafka_;
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::mutex partitions_mu_;
  std::unordered_map<std::string, std::unique_ptr<Partition>> partitions_;
  std::mutex mu_;
  // Every request waiting for a command id (a retry may send the same command again).
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> by_command_;
  std::atomic<bool> stop_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;  // ends a follower's back-off on Stop()
  std::vector<std::thread> threads_;
};

}  // namespace payorch::api::internal
