#include "runtime/aggregate_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "command/serialize.h"
#include "command/validity.h"
#include "invoice/invoice.h"
#include "log/partition_reader.h"
#include "log/partitioner.h"
#include "order/order.h"
#include "runtime/internal/partition_log.h"

namespace payorch::runtime {

namespace {

namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;

// What the writer needs to know of one aggregate; the rest of the protocol is shared.
struct InvoiceTraits {
  using Command = inv::InvoiceCommandEnvelope;
  using Event = inv::InvoiceEventEnvelope;
  using State = invoice::InvoiceState;
  static constexpr log::TopicKind kCommands = log::TopicKind::kInvoiceCommands;
  static constexpr log::TopicKind kEvents = log::TopicKind::kInvoiceEvents;
  static constexpr std::string_view kName = "invoice";

  static const std::string& IdOf(const Command& c) { return c.invoice_id(); }
  static const std::string& IdOf(const Event& e) { return e.invoice_id(); }
  static void DecideAndApply(State& s, const Command& c, const log::Record& r, uint64_t epoch,
                             std::vector<Event>& out) {
    invoice::InvoiceCommandRecord rec{&c, r.topic, r.partition.value(), r.offset.value(),
                                      r.timestamp_ms};
    invoice::DecideAndApply(s, rec, invoice::InvoiceDecideContext{epoch}, out);
  }
  static void Evolve(State& s, const Event& e) { invoice::Evolve(s, e); }
};

struct OrderTraits {
  using Command = ord::OrderCommandEnvelope;
  using Event = ord::OrderEventEnvelope;
  using State = order::OrderState;
  static constexpr log::TopicKind kCommands = log::TopicKind::kOrderCommands;
  static constexpr log::TopicKind kEvents = log::TopicKind::kOrderEvents;
  static constexpr std::string_view kName = "order";

  static const std::string& IdOf(const Command& c) { return c.order_id(); }
  static const std::string& IdOf(const Event& e) { return e.order_id(); }
  static void DecideAndApply(State& s, const Command& c, const log::Record& r, uint64_t epoch,
                             std::vector<Event>& out) {
    order::OrderCommandRecord rec{&c, r.topic, r.partition.value(), r.offset.value(),
                                  r.timestamp_ms};
    order::DecideAndApply(s, rec, order::OrderDecideContext{epoch}, out);
  }
  static void Evolve(State& s, const Event& e) { order::Evolve(s, e); }
};

template <class Traits>
class AggregateWriter final : public CommandWriter {
 public:
  using Command = typename Traits::Command;
  using Event = typename Traits::Event;
  using State = typename Traits::State;

  AggregateWriter(int32_t partition, AggregateWriterDeps deps)
      : partition_(partition), deps_(std::move(deps)) {}

  std::variant<int64_t, std::string> Start() override {
    const std::string commands = deps_.kafka->Topic(Traits::kCommands);
    if (auto n = deps_.cluster->PartitionCount(commands); n.ok()) command_partitions_ = n.value();
    const std::string topic = deps_.kafka->Topic(Traits::kEvents);
    PartitionMeta meta;
    auto reader = internal::OpenRestore(*deps_.cluster, topic, partition_, *deps_.store, &meta,
                                        *deps_.logger);
    if (!reader.ok()) return reader.status().ToString();
    filter_ = command::EpochFilter();
    filter_.Restore(meta.epoch, meta.highest_epoch_seen);
    groups_ = command::BasicCommandGroups<Event>();
    groups_.set_last_complete_offset(meta.last_command_offset);
    next_events_offset_ = meta.next_events_offset;
    cache_.clear();

    std::vector<Event> restored;
    Status fold_error;
    auto fold = [&](const log::Record& r) {
      Fold(r, restored);
      if (restored.size() >= kRestoreChunk && fold_error.ok()) fold_error = Store(restored);
    };
    auto end = reader.value()->ReadToEnd(fold, internal::kReadTimeoutMs);
    if (!end.ok()) return "restore read: " + end.status().ToString();
    if (!fold_error.ok()) return fold_error.ToString();
    const internal::ClaimSteps steps{.claim_value =
                                         [&](uint64_t epoch) {
                                           Event claim;
                                           claim.set_schema_version(1);
                                           claim.set_event_id("claim/" +
                                                              std::to_string(partition_) + "/" +
                                                              std::to_string(epoch));
                                           claim.set_epoch(epoch);
                                           claim.set_occurred_at_ms(internal::WallMs());
                                           auto* wc = claim.mutable_writer_claimed();
                                           wc->set_epoch(epoch);
                                           wc->set_writer_id(deps_.writer_id);
                                           wc->set_partition(partition_);
                                           return claim.SerializeAsString();
                                         },
                                     .fold = fold,
                                     .fold_error = [&] { return fold_error; }};
    StatusOr<uint64_t> claimed =
        internal::ClaimPartition(*reader.value(), *deps_.producer, topic, partition_, filter_,
                                 last_claim_offset_, steps, *deps_.logger);
    if (!claimed.ok()) return claimed.status().ToString();
    epoch_ = claimed.value();
    if (Status s = Store(restored); !s.ok()) return s.ToString();
    deps_.outbox->Unfence(partition_);
    fenced_ = false;
    persisted_command_offset_ = groups_.last_complete_offset() + 1;
    deps_.logger->info(
        "[{} p{}, epoch {}] writer {} claimed the partition; resuming commands at {}", topic,
        partition_, epoch_, deps_.writer_id, persisted_command_offset_);
    return persisted_command_offset_;
  }

  std::string Handle(const log::Record& record) override {
    if (fenced_) return "";
    if (!failure_.empty()) return failure_;
    Command command;
    if (std::string why = Intake(record, command); !why.empty()) {
      DeadLetter(record, why);
      return failure_;
    }
    State* state = StateFor(record.key);
    if (state == nullptr) return failure_;  // never decide on part of a history
    std::vector<Event> events;
    Traits::DecideAndApply(*state, command, record, epoch_, events);
    if (deps_.metrics != nullptr) {
      deps_.metrics->aggregate_commands.Add({Traits::kName});
      deps_.metrics->aggregate_events.Add({Traits::kName}, static_cast<int64_t>(events.size()));
    }
    return Publish(record.offset.value(), std::move(events), record.key);
  }

  std::string Persist() override {
    // As PartitionWriter::Persist: nothing after a failure (the store stays a known prefix).
    if (!failure_.empty() || delivered_.empty()) return failure_;
    std::vector<const Event*> events;
    int64_t last_command = groups_.last_complete_offset();
    for (const auto& g : delivered_) {
      for (const auto& e : g.events) events.push_back(&e);
      last_command = std::max(last_command, g.command_offset);
    }
    groups_.set_last_complete_offset(last_command);
    PartitionMeta meta{next_events_offset_, last_command, epoch_,
                       std::max(filter_.highest_seen(), epoch_)};
    if (Status s = Append(events, meta); !s.ok()) {
      failure_ = s.ToString();
      return failure_;
    }
    persisted_command_offset_ = last_command + 1;
    for (const auto& g : delivered_) {
      auto it = in_flight_.find(g.key);
      if (it != in_flight_.end() && --it->second <= 0) in_flight_.erase(it);
    }
    delivered_.clear();
    if (cache_.size() > deps_.max_cached) {
      for (auto it = cache_.begin();
           it != cache_.end() && cache_.size() > deps_.max_cached * 9 / 10;) {
        it = in_flight_.count(it->first) == 0 ? cache_.erase(it) : std::next(it);
      }
    }
    return failure_;
  }

  bool fenced() const override { return fenced_; }
  void Retire() override { fenced_ = true; }
  bool Quiescent() const override { return reports_.use_count() == 1; }
  int64_t persisted_command_offset() const override { return persisted_command_offset_; }

 private:
  static constexpr size_t kRestoreChunk = 20'000;

  struct DeliveredGroup {
    int64_t command_offset = 0;
    std::string key;
    std::vector<Event> events;
  };

  // The one intake rule for aggregate commands: "" to decide, else the dead-letter reason.
  std::string Intake(const log::Record& record, Command& command) const {
    if (!command.ParseFromString(record.value)) {
      return "value is not a " + std::string(Traits::kName) + " command envelope";
    }
    if (record.key.empty() || record.key != Traits::IdOf(command)) {
      return "record key '" + record.key + "' is not the command's " + std::string(Traits::kName) +
             " id";
    }
    if (command_partitions_ > 0) {
      const PartitionId home = log::PartitionForKey(record.key, command_partitions_);
      if (home.value() != partition_) {
        return "record is on partition " + std::to_string(partition_) +
               " but its key belongs on partition " + std::to_string(home.value()) +
               " (murmur2 of the key, as Java clients partition)";
      }
    }
    return "";
  }

  void Fold(const log::Record& record, std::vector<Event>& out) {
    next_events_offset_ = record.offset.value() + 1;
    Event e;
    if (!e.ParseFromString(record.value)) return;
    switch (filter_.Observe(e)) {
      case command::Verdict::kClaim:
        groups_.DropPartial();
        last_claim_offset_ = record.offset.value();
        break;
      case command::Verdict::kFenced:
        break;
      case command::Verdict::kCounted:
        if (auto group = groups_.Add(e)) {
          for (auto& event : *group) {
            cache_.erase(Traits::IdOf(event));  // the store becomes the truth for it
            out.push_back(std::move(event));
          }
        }
        break;
    }
  }

  Status Append(const std::vector<const Event*>& events, const PartitionMeta& meta) {
    std::vector<std::string> bytes(events.size());
    std::vector<StoredEvent> stored;
    stored.reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      if (events[i]->sequence() == 0) continue;  // rejections outside an aggregate
      events[i]->SerializeToString(&bytes[i]);
      stored.push_back({Traits::IdOf(*events[i]), events[i]->sequence(), bytes[i]});
    }
    return deps_.store->AppendEncoded(partition_, stored, meta);
  }

  Status Store(std::vector<Event>& restored) {
    std::vector<const Event*> ptrs;
    ptrs.reserve(restored.size());
    for (const Event& e : restored) ptrs.push_back(&e);
    PartitionMeta meta{next_events_offset_, groups_.last_complete_offset(), filter_.epoch(),
                       filter_.highest_seen()};
    Status s = Append(ptrs, meta);
    restored.clear();
    return s;
  }

  State* StateFor(const std::string& id) {
    auto it = cache_.find(id);
    if (it != cache_.end()) return &it->second;
    State state;
    Event e;
    Status s = deps_.store->ForEachStored(partition_, id, [&](std::string_view bytes) {
      if (!e.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return DataLossError("state store: a stored event of " + id + " does not parse");
      }
      Traits::Evolve(state, e);
      return Status::Ok();
    });
    if (!s.ok()) {
      if (failure_.empty()) failure_ = s.ToString();
      return nullptr;
    }
    return &cache_.emplace(id, std::move(state)).first->second;
  }

  std::string Publish(int64_t command_offset, std::vector<Event> events, const std::string& key) {
    std::vector<std::string> keys;
    std::vector<std::string> values;
    for (const Event& e : events) {
      keys.push_back(Traits::IdOf(e).empty() ? key : Traits::IdOf(e));
      values.push_back(command::SerializeDeterministic(e));
    }
    ++in_flight_[key];
    auto group =
        std::make_shared<DeliveredGroup>(DeliveredGroup{command_offset, key, std::move(events)});
    log::LogStatus st = deps_.outbox->Publish(
        partition_, std::move(keys), std::move(values),
        [this, group, alive = reports_](const outbox::GroupResult& r) {
          if (!r.ok) {
            if (failure_.empty()) failure_ = "event publish failed: " + r.error;
            return;
          }
          if (r.offsets.front() > next_events_offset_)
            CheckGap(next_events_offset_, r.offsets.front());
          next_events_offset_ = std::max(next_events_offset_, r.offsets.back() + 1);
          delivered_.push_back(std::move(*group));
        });
    if (!st.ok()) return "outbox: " + st.ToString();
    return "";
  }

  void CheckGap(int64_t from, int64_t to) {
    const std::string topic = deps_.kafka->Topic(Traits::kEvents);
    const bool newer = internal::GapHasNewerClaim(
        *deps_.cluster, topic, partition_, from, to,
        [&](const log::Record& r) {
          Event e;
          return e.ParseFromString(r.value) && e.has_writer_claimed() && e.epoch() > epoch_;
        },
        *deps_.logger);
    if (!newer || fenced_) return;
    fenced_ = true;
    deps_.outbox->Fence(partition_);
    if (deps_.metrics != nullptr) deps_.metrics->fenced_writes.Add();
    deps_.logger->warn("[{} p{}, epoch {}] fenced by a newer writer; this writer stops", topic,
                       partition_, epoch_);
  }

  void DeadLetter(const log::Record& record, const std::string& reason) {
    if (deps_.metrics != nullptr) deps_.metrics->dead_letters.Add();
    const log::OutRecord dlq = internal::DeadLetterRecord(
        deps_.kafka->Topic(log::TopicKind::kDeadLetters), record, reason);
    const int64_t offset = record.offset.value();
    auto st =
        deps_.producer->Produce(dlq, [this, offset, alive = reports_](const log::Delivery& d) {
          if (!d.status.ok() && failure_.empty()) {
            failure_ = "dead letter of command offset " + std::to_string(offset) +
                       " not appended: " + d.status.ToString();
          }
        });
    if (!st.ok() && failure_.empty()) {
      failure_ = "dead letter of command offset " + std::to_string(offset) + ": " + st.ToString();
    }
    deps_.logger->warn("[{} p{}] command offset {} to the dead-letter topic: {}", record.topic,
                       partition_, offset, reason);
  }

  const int32_t partition_;
  AggregateWriterDeps deps_;
  int32_t command_partitions_ = 0;
  command::EpochFilter filter_;
  command::BasicCommandGroups<Event> groups_;
  int64_t last_claim_offset_ = -1;
  int64_t next_events_offset_ = 0;
  uint64_t epoch_ = 0;
  bool fenced_ = false;
  // Held by every pending delivery callback (they capture `this`): one owner left means
  // none can still call back (Quiescent).
  std::shared_ptr<int> reports_ = std::make_shared<int>(0);
  std::string failure_;
  int64_t persisted_command_offset_ = 0;
  std::unordered_map<std::string, State> cache_;
  std::unordered_map<std::string, int> in_flight_;
  std::vector<DeliveredGroup> delivered_;
};

}  // namespace

std::unique_ptr<CommandWriter> MakeInvoiceWriter(int32_t partition, AggregateWriterDeps deps) {
  return std::make_unique<AggregateWriter<InvoiceTraits>>(partition, std::move(deps));
}

std::unique_ptr<CommandWriter> MakeOrderWriter(int32_t partition, AggregateWriterDeps deps) {
  return std::make_unique<AggregateWriter<OrderTraits>>(partition, std::move(deps));
}

}  // namespace payorch::runtime
