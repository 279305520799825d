#include "runtime/saga.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "command/aggregate.h"
#include "log/consumer.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "order/order.h"
#include "payments/invoices/v1/invoices.pb.h"
#include "payments/orders/v1/orders.pb.h"

namespace payorch::runtime {

namespace ev = ::payments::events::v1;
namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;

namespace {

constexpr uint32_t kSagaSchemaVersion = 1;

std::string LinkOf(const ev::PaymentCreated& created, const char* key) {
  auto it = created.metadata().find(key);
  return it == created.metadata().end() ? std::string() : it->second;
}

template <class Envelope>
void SetHeader(Envelope& c, const ev::EventEnvelope& e) {
  c.set_schema_version(kSagaSchemaVersion);
  c.set_command_id("saga/" + e.event_id());
  c.set_correlation_id(e.correlation_id());
  c.set_merchant_id(e.merchant_id());
}

}  // namespace

PaymentSaga::PaymentSaga(EventStore* store, SagaTopics topics, size_t max_cached_payments)
    : store_(store),
      topics_(std::move(topics)),
      max_cached_(std::max<size_t>(1, max_cached_payments)) {}

int64_t PaymentSaga::Restore(int32_t partition) {
  const PartitionMeta cp = store_->LoadCheckpoint(kSagaCheckpoint, partition);
  Forget(partition);
  Track& t = tracks_[partition];
  t.filter.Restore(cp.epoch, cp.highest_epoch_seen);
  t.groups.set_last_complete_offset(cp.last_command_offset);
  t.next_offset = cp.next_events_offset;
  return cp.next_events_offset;
}

Status PaymentSaga::Reset(int32_t partition, int64_t offset) {
  Forget(partition);
  if (Status s = store_->ResetPartition(partition); !s.ok()) return s;
  tracks_[partition].next_offset = offset;
  return Status::Ok();
}

void PaymentSaga::Forget(int32_t partition) {
  tracks_.erase(partition);
  std::erase_if(cache_, [partition](const auto& kv) { return kv.second.partition == partition; });
}

Status PaymentSaga::OnRecord(int32_t partition, int64_t offset, std::string_view value,
                             std::vector<log::OutRecord>* out) {
  auto it = tracks_.find(partition);
  if (it == tracks_.end()) {
    return FailedPreconditionError("saga: partition " + std::to_string(partition) +
                                   " fed before Restore");
  }
  Track& t = it->second;
  if (offset < t.next_offset) return Status::Ok();  // already fed
  t.next_offset = offset + 1;
  ev::EventEnvelope e;
  if (!e.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    ++unreadable_;  // no writer publishes it; nothing to follow
    return Status::Ok();
  }
  switch (t.filter.Observe(e)) {
    case command::Verdict::kClaim:
      t.groups.DropPartial();
      t.partial_start = -1;
      return Status::Ok();
    case command::Verdict::kFenced:
      return Status::Ok();
    case command::Verdict::kCounted:
      break;
  }
  const int64_t last_complete = t.groups.last_complete_offset();
  auto group = t.groups.Add(e);
  if (!group) {
    if (e.causation().index() == 0 && e.causation().offset() > last_complete) {
      t.partial_start = offset;  // a group begins here: a restart must read it again
    }
    return Status::Ok();
  }
  t.partial_start = -1;
  for (const ev::EventEnvelope& g : *group) {
    if (Status s = OnCounted(partition, g, out); !s.ok()) return s;
  }
  return Status::Ok();
}

StatusOr<PaymentSaga::Linked*> PaymentSaga::Find(int32_t partition, const ev::EventEnvelope& e) {
  const std::string& pid = e.payment_id();
  auto it = cache_.find(pid);
  if (it != cache_.end() && it->second.state.sequence + 1 == e.sequence()) {
    it->second.touched = ++clock_;
    return &it->second;
  }
  // Not in memory, or a repeat: the fold of the stored events before `e`.
  Linked l;
  l.partition = partition;
  l.state.payment_id = pid;
  if (e.has_payment_created()) {
    l.order_id = LinkOf(e.payment_created(), kOrderLinkKey);
    l.invoice_id = LinkOf(e.payment_created(), kInvoiceLinkKey);
  } else {
    ev::EventEnvelope stored;
    Status s = store_->ForEachStored(partition, pid, [&](std::string_view bytes) {
      if (!stored.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return DataLossError("saga store: a stored event of " + pid + " does not parse");
      }
      if (stored.sequence() >= e.sequence()) return Status::Ok();
      if (stored.has_payment_created()) {
        l.order_id = LinkOf(stored.payment_created(), kOrderLinkKey);
        l.invoice_id = LinkOf(stored.payment_created(), kInvoiceLinkKey);
      }
      command::Evolve(l.state, stored);
      return Status::Ok();
    });
    if (!s.ok()) return s;
  }
  if (l.order_id.empty() && l.invoice_id.empty()) {
    if (it != cache_.end()) cache_.erase(it);
    return static_cast<Linked*>(nullptr);  // not linked (only linked payments are stored)
  }
  if (it == cache_.end() && cache_.size() >= max_cached_) Evict();
  l.touched = ++clock_;
  auto [pos, inserted] = cache_.insert_or_assign(pid, std::move(l));
  return &pos->second;
}

// Drops the older half of the cache: amortised O(1) a payment; the store has them all.
void PaymentSaga::Evict() {
  std::vector<uint64_t> ages;
  ages.reserve(cache_.size());
  for (const auto& [id, l] : cache_) ages.push_back(l.touched);
  auto mid = ages.begin() + static_cast<std::ptrdiff_t>(ages.size() / 2);
  std::nth_element(ages.begin(), mid, ages.end());
  const uint64_t cut = *mid;
  std::erase_if(cache_, [cut](const auto& kv) { return kv.second.touched <= cut; });
}

Status PaymentSaga::OnCounted(int32_t partition, const ev::EventEnvelope& e,
                              std::vector<log::OutRecord>* out) {
  if (e.payment_id().empty() || e.sequence() == 0) return Status::Ok();
  StatusOr<Linked*> found = Find(partition, e);
  if (!found.ok()) return found.status();
  Linked* l = found.value();
  if (l == nullptr) return Status::Ok();
  command::Evolve(l->state, e);
  const std::string bytes = e.SerializeAsString();
  if (Status s = store_->AppendEncoded(partition, {{e.payment_id(), e.sequence(), bytes}},
                                       Position(partition));
      !s.ok()) {
    return s;
  }
  Emit(*l, e, out);
  if (l->state.IsTerminal()) cache_.erase(e.payment_id());  // restored from the store if needed
  return Status::Ok();
}

void PaymentSaga::Emit(const Linked& l, const ev::EventEnvelope& e,
                       std::vector<log::OutRecord>* out) const {
  // The one mapping of a payment event to an outcome (order/order.h); invoices read the
  // same facts, so the captured total is derived in one place.
  const std::optional<ord::RecordPaymentFact> fact = order::PaymentFactOf(e, l.state.status);
  if (!fact) return;
  if (!l.order_id.empty()) {
    ord::OrderCommandEnvelope c;
    SetHeader(c, e);
    c.set_order_id(l.order_id);
    *c.mutable_payment_fact() = *fact;
    out->push_back({topics_.order_commands, log::kAnyPartition, l.order_id, c.SerializeAsString()});
  }
  if (!l.invoice_id.empty()) {
    inv::InvoiceCommandEnvelope c;
    switch (fact->kind()) {
      case ord::PAYMENT_FACT_KIND_CAPTURED: {
        inv::RecordPaymentSucceeded* s = c.mutable_payment_succeeded();
        s->set_payment_id(e.payment_id());
        s->mutable_captured()->set_amount_minor(fact->amount_minor());
        s->mutable_captured()->set_currency(l.state.currency);
        break;
      }
      case ord::PAYMENT_FACT_KIND_FAILED:
      case ord::PAYMENT_FACT_KIND_CANCELED:
      case ord::PAYMENT_FACT_KIND_VOIDED: {
        if (l.state.captured != 0) return;  // the invoice keeps what was captured
        inv::RecordPaymentFailed* f = c.mutable_payment_failed();
        f->set_payment_id(e.payment_id());
        f->set_reason(fact->detail());
        break;
      }
      default:  // authorized, refunded: nothing the invoice records
        return;
    }
    SetHeader(c, e);
    c.set_invoice_id(l.invoice_id);
    out->push_back(
        {topics_.invoice_commands, log::kAnyPartition, l.invoice_id, c.SerializeAsString()});
  }
}

PartitionMeta PaymentSaga::Position(int32_t partition) const {
  PartitionMeta m;
  auto it = tracks_.find(partition);
  if (it == tracks_.end()) return m;
  const Track& t = it->second;
  m.next_events_offset = t.partial_start >= 0 ? t.partial_start : t.next_offset;
  m.last_command_offset = t.groups.last_complete_offset();
  m.epoch = t.filter.epoch();
  m.highest_epoch_seen = t.filter.highest_seen();
  return m;
}

Status PaymentSaga::SaveCheckpoint(int32_t partition, const PartitionMeta& meta) {
  return store_->SaveCheckpoint(kSagaCheckpoint, partition, meta);
}

// ---------------------------------------------------------------------------------------
// SagaLoop

struct SagaLoop::Impl : public log::RebalanceListener {
  explicit Impl(SagaOptions o)
      : options(std::move(o)),
        saga(options.store,
             {options.kafka.Topic(log::TopicKind::kOrderCommands),
              options.kafka.Topic(log::TopicKind::kInvoiceCommands)},
             options.max_cached_payments) {
    if (!options.logger) options.logger = spdlog::default_logger();
  }

  std::vector<log::PartitionOffset> OnAssigned(const std::vector<PartitionId>& ps) override {
    std::vector<log::PartitionOffset> starts;
    for (PartitionId p : ps) {
      int64_t next = saga.Restore(p.value());
      // A checkpoint outside the log belongs to another log, or retention passed it.
      auto reader =
          log::PartitionReader::Open(options.kafka, events_topic, p, log::kOffsetBeginning);
      if (reader.ok()) {
        auto marks = reader.value()->QueryWatermarks();
        if (marks.ok() && (next > marks.value().high.value() || next < marks.value().low.value())) {
          options.logger->warn("[p{}] saga checkpoint {} outside the log [{}, {}): starts over",
                               p.value(), next, marks.value().low.value(),
                               marks.value().high.value());
          next = marks.value().low.value();
          if (Status s = saga.Reset(p.value(), next); !s.ok()) failure = s.ToString();
        }
      }
      owned.insert(p.value());
      starts.push_back({p, Offset{next}});
      options.logger->info("[p{}] saga resumes at events offset {}", p.value(), next);
    }
    return starts;
  }

  void OnRevoked(const std::vector<PartitionId>& ps, bool lost) override {
    std::vector<int32_t> revoked;
    for (PartitionId p : ps) revoked.push_back(p.value());
    if (!lost) Checkpoint(revoked);
    for (int32_t p : revoked) {
      saga.Forget(p);
      owned.erase(p);
    }
  }

  // Flushes the producer, then saves the positions taken before it: every command of the
  // events before a saved position is in the log.
  void Checkpoint(const std::vector<int32_t>& ps) {
    std::vector<std::pair<int32_t, PartitionMeta>> at;
    for (int32_t p : ps) at.emplace_back(p, saga.Position(p));
    if (auto st = producer->Flush(10'000); !st.ok()) {
      options.logger->warn("saga: flush before checkpoint: {}", st.ToString());
      return;
    }
    if (!failure.empty()) return;
    for (const auto& [p, meta] : at) {
      // A checkpoint not saved costs a longer re-read after a restart, nothing else.
      if (Status s = saga.SaveCheckpoint(p, meta); !s.ok()) {
        options.logger->warn("[p{}] saga checkpoint not saved: {}", p, s.ToString());
      }
    }
  }

  void Produce(const log::OutRecord& r) {
    auto st = producer->Produce(r, [this](const log::Delivery& d) {
      if (!d.status.ok() && failure.empty()) {
        failure = "saga command not delivered: " + d.status.ToString();
      }
    });
    if (!st.ok() && failure.empty()) failure = "saga produce: " + st.ToString();
  }

  std::string Run(const std::atomic<bool>& stop) {
    events_topic = options.kafka.Topic(log::TopicKind::kEvents);
    auto p = log::Producer::Create(options.kafka);
    if (!p.ok()) return "saga producer: " + p.status().ToString();
    producer = std::move(p.value());
    auto c = log::Consumer::CreateMember(options.kafka, options.group, events_topic,
                                         options.static_partitions, this);
    if (!c.ok()) return "saga consumer: " + c.status().ToString();
    consumer = std::move(c.value());

    using Steady = std::chrono::steady_clock;
    std::vector<log::Record> batch;
    std::vector<log::OutRecord> out;
    Steady::time_point last_checkpoint = Steady::now();
    while (!stop.load() && failure.empty()) {
      batch.clear();
      auto st = consumer->PollBatch(500, 50, &batch);
      if (log::IsFatal(st)) {
        failure = "saga poll: " + st.ToString();
        break;
      }
      for (const log::Record& r : batch) {
        out.clear();
        if (Status s = saga.OnRecord(r.partition.value(), r.offset.value(), r.value, &out);
            !s.ok()) {
          failure = "saga: " + s.ToString();
          break;
        }
        for (const log::OutRecord& o : out) Produce(o);
      }
      producer->Poll(0).IgnoreError();  // delivery callbacks; failures set `failure`
      if (producer->InFlight() > options.max_in_flight) {
        producer->Flush(10'000).IgnoreError();  // bounded: read no more until delivered
      }
      if (Steady::now() - last_checkpoint >=
          std::chrono::milliseconds(options.checkpoint_every_ms)) {
        last_checkpoint = Steady::now();
        Checkpoint({owned.begin(), owned.end()});
      }
    }
    if (failure.empty()) Checkpoint({owned.begin(), owned.end()});
    consumer->Close().IgnoreError();  // checkpoints are ours, not the group's
    producer->Flush(10'000).IgnoreError();
    return failure;
  }

  SagaOptions options;
  PaymentSaga saga;
  std::string events_topic;
  std::unique_ptr<log::Producer> producer;
  std::unique_ptr<log::Consumer> consumer;
  std::set<int32_t> owned;
  std::string failure;
};

SagaLoop::SagaLoop(SagaOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
SagaLoop::~SagaLoop() = default;

std::string SagaLoop::Run(const std::atomic<bool>& stop) { return impl_->Run(stop); }

}  // namespace payorch::runtime
