#include "runtime/writer.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "command/invariants.h"
#include "command/lifecycle.h"
#include "command/parser.h"
#include "command/serialize.h"
#include "command/transitions.h"
#include "log/partition_reader.h"
#include "log/partitioner.h"
#include "metrics/contracts.h"
#include "metrics/log_format.h"
#include "payments/contracts/v1/contracts.pb.h"
#include "runtime/command_intake.h"
#include "runtime/internal/partition_log.h"

namespace payorch::runtime {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;

namespace {

using internal::kReadTimeoutMs;
using internal::WallMs;
constexpr size_t kRestoreChunk = 20'000;

// Messages of persisted events, reused to decide the next commands (Handle and Persist run
// on the writer's thread).
command::EventPool& EventPoolOfThisThread() {
  static thread_local command::EventPool pool;
  return pool;
}

}  // namespace

PartitionWriter::PartitionWriter(int32_t partition, WriterDeps deps)
    : partition_(partition), deps_(std::move(deps)), observer_(deps_.metrics) {}

void PartitionWriter::Fold(const log::Record& record, std::vector<ev::EventEnvelope>& out) {
  next_events_offset_ = record.offset.value() + 1;
  ev::EventEnvelope e;
  if (!e.ParseFromString(record.value)) return;  // not ours to judge here; the checker reports
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
          cache_.erase(event.payment_id());  // the store becomes the truth for it
          out.push_back(std::move(event));
        }
      }
      break;
  }
}

Status PartitionWriter::FlushRestored(std::vector<ev::EventEnvelope>& out) {
  std::vector<const ev::EventEnvelope*> ptrs;
  ptrs.reserve(out.size());
  for (const auto& e : out) ptrs.push_back(&e);
  PartitionMeta meta{next_events_offset_, groups_.last_complete_offset(), filter_.epoch(),
                     filter_.highest_seen()};
  if (deps_.probe != nullptr) deps_.probe->restored_events += out.size();
  if (deps_.metrics != nullptr) deps_.metrics->restored_events.Add(out.size());
  Status s = deps_.store->Append(partition_, ptrs, meta);
  out.clear();
  return s;
}

std::variant<int64_t, std::string> PartitionWriter::Start() {
  const auto started = std::chrono::steady_clock::now();
  // The commands topic's width, for the wrong-partition check (log/partitioner.h). Its
  // partition count must not change while payorch runs: that would move keys anyway.
  if (auto n = deps_.cluster->PartitionCount(deps_.kafka->Topic(log::TopicKind::kCommands));
      n.ok()) {
    command_partitions_ = n.value();
  }
  if (command_partitions_ <= 0) {
    deps_.logger->warn(
        "[p{}] commands topic width unknown: records are not checked for their "
        "partition",
        partition_);
  }
  const std::string& topic = deps_.kafka->Topic(log::TopicKind::kEvents);
  PartitionMeta meta;
  auto reader =
      internal::OpenRestore(*deps_.cluster, topic, partition_, *deps_.store, &meta, *deps_.logger);
  if (!reader.ok()) return reader.status().ToString();
  filter_ = command::EpochFilter();
  filter_.Restore(meta.epoch, meta.highest_epoch_seen);
  groups_ = command::CommandGroups();
  groups_.set_last_complete_offset(meta.last_command_offset);
  next_events_offset_ = meta.next_events_offset;
  cache_.clear();

  // Restore is bounded by the store: only the events after its snapshot point are read
  // (the whole partition only when this store never held it, or it describes another log).
  std::vector<ev::EventEnvelope> restored;
  Status fold_error;
  int64_t folded = 0;
  auto fold = [&](const log::Record& r) {
    ++folded;
    Fold(r, restored);
    if (restored.size() >= kRestoreChunk && fold_error.ok()) fold_error = FlushRestored(restored);
  };
  auto end = reader.value()->ReadToEnd(fold, kReadTimeoutMs);
  if (!end.ok()) return "restore read: " + end.status().ToString();
  if (!fold_error.ok()) return fold_error.ToString();

  const internal::ClaimSteps steps{
      .claim_value =
          [&](uint64_t epoch) {
            ev::EventEnvelope claim;
            claim.set_schema_version(command::kSchemaVersion);
            claim.set_event_id("claim/" + std::to_string(partition_) + "/" + std::to_string(epoch));
            claim.set_epoch(epoch);
            claim.set_occurred_at_ms(WallMs());
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
  if (Status s = FlushRestored(restored); !s.ok()) return s.ToString();

  deps_.outbox->Unfence(partition_);
  fenced_ = false;
  persisted_command_offset_ = groups_.last_complete_offset() + 1;
  const int64_t micros = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count();
  const int64_t ms = micros / 1000;
  if (deps_.probe != nullptr) {
    deps_.probe->last_restore_ms = ms;
    deps_.probe->last_restore_records = folded;
  }
  if (deps_.metrics != nullptr) deps_.metrics->restore.ObserveMicros(micros);
  deps_.logger->info(
      "[p{}, epoch {}] writer {} claimed the partition; restore folded {} records "
      "(events {}..{} after the store's snapshot) in {} ms; resuming commands at offset {}",
      partition_, epoch_, deps_.writer_id, folded, meta.next_events_offset, next_events_offset_, ms,
      persisted_command_offset_);
  return persisted_command_offset_;
}

command::PaymentState* PartitionWriter::StateFor(const std::string& payment_id) {
  auto it = cache_.find(payment_id);
  if (it != cache_.end()) return &it->second;
  StatusOr<command::PaymentState> loaded = deps_.store->LoadPayment(partition_, payment_id);
  if (!loaded.ok()) {
    if (failure_.empty()) failure_ = loaded.status().ToString();
    return nullptr;
  }
  return &cache_.emplace(payment_id, std::move(loaded).value()).first->second;
}

void PartitionWriter::PublishViolation(const std::string& contract_id,
                                       const std::string& payment_id,
                                       const std::string& merchant_id, const std::string& detail,
                                       int64_t offset) {
  if (deps_.metrics != nullptr) deps_.metrics->violations.Add({contract_id});
  ::payments::contracts::v1::ContractViolation v =
      metrics::MakeViolation(contract_id, payment_id, merchant_id, detail, "writer", WallMs());
  v.set_partition(partition_);
  v.set_offset(offset);
  log::OutRecord record{deps_.kafka->Topic(log::TopicKind::kContracts),
                        log::kAnyPartition,
                        payment_id,
                        v.SerializeAsString(),
                        {}};
  deps_.producer->Produce(record).IgnoreError();  // best effort: the event log has the rejection
}

void PartitionWriter::DeadLetter(const log::Record& record, const std::string& reason,
                                 ev::RejectReason reject_reason, const std::string& payment_id) {
  if (deps_.probe != nullptr) ++deps_.probe->dead_letters;
  if (deps_.metrics != nullptr) deps_.metrics->dead_letters.Add();
  // A value too large to re-send whole is cut (internal::DeadLetterRecord), so the dead
  // letter is never refused by the producer's size limit.
  const log::OutRecord dlq =
      internal::DeadLetterRecord(deps_.kafka->Topic(log::TopicKind::kDeadLetters), record, reason);
  // A dead letter that cannot be appended is an error the partition stops on (and is
  // retried from, since the command stays undecided), never a silent loss.
  const int64_t offset = record.offset.value();
  auto st = deps_.producer->Produce(dlq, [this, offset, alive = reports_](const log::Delivery& d) {
    if (!d.status.ok() && failure_.empty()) {
      failure_ = "dead letter of command offset " + std::to_string(offset) +
                 " not appended: " + d.status.ToString();
    }
  });
  if (!st.ok() && failure_.empty()) {
    failure_ = "dead letter of command offset " + std::to_string(offset) + ": " + st.ToString();
  }
  deps_.logger->warn("[p{}] command offset {} to the dead-letter topic: {}", partition_,
                     record.offset.value(), reason);
  // A command that is also decided gets its rejection event and its violation from decide().
  if (reject_reason == ev::REJECT_REASON_UNSPECIFIED) return;
  // Keyed by the payment the command names, if any (its rejection event names none: this
  // partition may not be the payment's).
  PublishViolation("request/malformed", payment_id, "", reason, record.offset.value());
  // The command still gets its event, so every command offset is accounted for in the log.
  std::vector<ev::EventEnvelope> events(1);
  ev::EventEnvelope& e = events[0];
  e.set_schema_version(command::kSchemaVersion);
  e.set_event_id("cmd/" + std::to_string(partition_) + "/" + std::to_string(record.offset.value()) +
                 "/0");
  e.set_epoch(epoch_);
  e.set_occurred_at_ms(record.timestamp_ms);
  auto* c = e.mutable_causation();
  c->set_topic(record.topic);
  c->set_partition(partition_);
  c->set_offset(record.offset.value());
  c->set_index(0);
  c->set_count(1);
  auto* rej = e.mutable_command_rejected();
  rej->set_reason(reject_reason);
  rej->set_contract_id("request/malformed");
  rej->set_detail(reason);
  rej->set_command_type("unknown");
  if (std::string err = Publish(record.offset.value(), std::move(events), record.key);
      !err.empty() && failure_.empty()) {
    failure_ = err;
  }
}

std::string PartitionWriter::Publish(int64_t command_offset, std::vector<ev::EventEnvelope> events,
                                     const std::string& fallback_key,
                                     const command::PaymentState* payment) {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  keys.reserve(events.size());
  values.reserve(events.size());
  for (const auto& e : events) {
    keys.push_back(e.payment_id().empty() ? fallback_key : e.payment_id());
    values.push_back(command::SerializeDeterministic(e));
  }
  const std::string payment_id = events.empty() ? "" : events.front().payment_id();
  if (!payment_id.empty()) ++in_flight_[payment_id];
  auto group = std::make_shared<DeliveredGroup>();
  group->command_offset = command_offset;
  if (deps_.metrics != nullptr) {
    group->decided_at_ms = WallMs();
    if (payment != nullptr) group->payment = {payment->method, payment->created_at_ms};
  }
  group->events = std::move(events);
  log::LogStatus st = deps_.outbox->Publish(
      partition_, std::move(keys), std::move(values),
      [this, group, alive = reports_](const outbox::GroupResult& r) {
        if (!r.ok) {
          if (failure_.empty()) failure_ = "event publish failed: " + r.error;
          return;
        }
        const bool contiguous = r.offsets.front() == next_events_offset_;
        if (r.offsets.front() > next_events_offset_)
          CheckGap(next_events_offset_, r.offsets.front());
        next_events_offset_ = std::max(next_events_offset_, r.offsets.back() + 1);
        if (contiguous && !fenced_) HandOff(*group, r.offsets);
        if (deps_.metrics != nullptr) {
          observer_.OnPublished(group->events, group->decided_at_ms, WallMs(), group->payment);
        }
        delivered_.push_back(std::move(*group));
      });
  if (!st.ok()) return "outbox: " + st.ToString();
  return "";
}

void PartitionWriter::HandOff(const DeliveredGroup& group, const std::vector<int64_t>& offsets) {
  if (deps_.handoff == nullptr || offsets.size() != group.events.size()) return;
  for (size_t i = 0; i < group.events.size(); ++i) {
    // Only records right after this writer's own: a foreign record between them may be a
    // newer claim, and the log's reader will judge those.
    if (offsets[i] != offsets.front() + static_cast<int64_t>(i)) return;
    const ev::EventEnvelope& e = group.events[i];
    if (command::EffectsOf(e).started == nullptr) continue;
    deps_.handoff->Offer({partition_, offsets[i], e.epoch(), e});
  }
}

std::string PartitionWriter::Handle(const log::Record& record) {
  if (fenced_) return "";
  if (!failure_.empty()) return failure_;
  if (deps_.probe != nullptr) ++deps_.probe->commands;
  if (deps_.metrics != nullptr) {
    deps_.metrics->commands.Add();
    deps_.metrics->command_to_decision.ObserveMillis(WallMs() - record.timestamp_ms);
  }

  cmd::CommandEnvelope envelope;
  // Records with no payment to be an event of go to the dead-letter topic with the reason
  // (runtime/command_intake.h, the one rule); the payorch.reason header is its stable text.
  const Intake intake =
      TakeCommand(record.key, record.value, partition_, command_partitions_, &envelope);
  if (!intake.dead_letter.empty()) {
    DeadLetter(record, intake.dead_letter, intake.reason, intake.payment_id);
  }
  if (!intake.decide) return failure_;
  // A decided record's key is its payment id (TakeCommand checked it): never empty.
  const std::string& target = record.key;
  command::PaymentState* loaded = StateFor(target);
  if (loaded == nullptr) return failure_;  // never decide on part of a history
  command::PaymentState& state = *loaded;
  const metrics::LogScope log_scope({.payment_id = target,
                                     .merchant_id = state.merchant_id,
                                     .correlation_id = envelope.correlation_id(),
                                     .partition = partition_,
                                     .epoch = static_cast<int64_t>(epoch_)});
  const bool was_processing = state.status == ev::PAYMENT_STATUS_PROCESSING;
  command::CommandRecord rec{&envelope, record.topic, partition_, record.offset.value(),
                             record.timestamp_ms};
  command::DecideContext ctx{deps_.plans, epoch_};
  ctx.overloaded =
      envelope.has_create() && deps_.admission != nullptr && deps_.admission->overloaded();
  scratch_.clear();
  const int64_t breaches_before = command::BreachCount();
  command::DecideAndApply(state, rec, ctx, scratch_, EventPoolOfThisThread());
  if (const int64_t breaches = command::BreachCount() - breaches_before;
      breaches > 0 && deps_.metrics != nullptr) {
    deps_.metrics->invariant_breaches.Add(breaches);
  }
  if (deps_.probe != nullptr) deps_.probe->events += scratch_.size();
  if (deps_.metrics != nullptr) {
    deps_.metrics->events.Add(scratch_.size());
    const bool is_processing = state.status == ev::PAYMENT_STATUS_PROCESSING;
    if (is_processing != was_processing)
      deps_.metrics->processing_payments.Add(is_processing ? 1 : -1);
    if (envelope.has_gateway_result()) {
      deps_.metrics->gateway_answers.Add(
          {envelope.gateway_result().source().empty()
               ? std::string_view("call")
               : std::string_view(envelope.gateway_result().source())});
    }
  }
  for (const auto& e : scratch_) {
    if (e.has_command_rejected() && deps_.probe != nullptr) ++deps_.probe->rejected;
    // Every breached contract becomes a violation record (and a metric): rejections that
    // name a contract, gateway timeouts, unknown outcomes, expired processing.
    if (std::string_view contract = metrics::ContractBreachedBy(e); !contract.empty()) {
      const std::string& detail =
          e.has_command_rejected() ? e.command_rejected().detail() : e.event_id();
      PublishViolation(std::string(contract), e.payment_id(), e.merchant_id(), detail,
                       record.offset.value());
    }
  }
  std::vector<ev::EventEnvelope> events;
  events.swap(scratch_);
  return Publish(record.offset.value(), std::move(events), record.key, &state);
}

void PartitionWriter::CheckGap(int64_t from, int64_t to) {
  // Someone else appended to our partition since our last record: a zombie's late
  // events (harmless, they do not count), a duplicate of a retried batch, or a newer
  // writer's claim, which fences us.
  const bool newer_claim = internal::GapHasNewerClaim(
      *deps_.cluster, deps_.kafka->Topic(log::TopicKind::kEvents), partition_, from, to,
      [&](const log::Record& r) {
        ev::EventEnvelope e;
        return e.ParseFromString(r.value) && e.has_writer_claimed() && e.epoch() > epoch_;
      },
      *deps_.logger);
  fenced_ = fenced_ || newer_claim;
  if (fenced_) {
    deps_.outbox->Fence(partition_);
    if (deps_.probe != nullptr) ++deps_.probe->fenced;
    if (deps_.metrics != nullptr) deps_.metrics->fenced_writes.Add();
    PublishViolation("writer/fenced", "", "",
                     "writer " + deps_.writer_id + " of epoch " + std::to_string(epoch_) +
                         " found a newer claim; it stops writing",
                     from);
    deps_.logger->warn("[p{}, epoch {}] fenced by a newer writer; this writer stops", partition_,
                       epoch_);
  }
}

std::string PartitionWriter::Persist() {
  // After a failure nothing more is persisted: the store must describe a prefix of the log
  // this writer knows in full. A group delivered after one in doubt (written, or not) would
  // move the snapshot point past that record, and a restore would never fold it (found by the
  // simulation: a restored payment decided its sequence 5 twice).
  if (!failure_.empty() || delivered_.empty()) return failure_;
  std::vector<const ev::EventEnvelope*> ptrs;
  int64_t last_command = groups_.last_complete_offset();
  for (const auto& g : delivered_) {
    for (const auto& e : g.events) ptrs.push_back(&e);
    last_command = std::max(last_command, g.command_offset);
  }
  groups_.set_last_complete_offset(last_command);
  PartitionMeta meta{next_events_offset_, last_command, epoch_,
                     std::max(filter_.highest_seen(), epoch_)};
  if (Status s = deps_.store->Append(partition_, ptrs, meta); !s.ok()) {
    failure_ = s.ToString();
    return failure_;
  }
  persisted_command_offset_ = last_command + 1;
  for (const auto& g : delivered_) {
    if (g.events.empty() || g.events.front().payment_id().empty()) continue;
    const std::string& id = g.events.front().payment_id();
    auto it = in_flight_.find(id);
    if (it != in_flight_.end() && --it->second <= 0) {
      in_flight_.erase(it);
      auto c = cache_.find(id);
      if (c != cache_.end() && c->second.IsTerminal() && c->second.pending.empty()) cache_.erase(c);
    }
  }
  for (auto& g : delivered_) EventPoolOfThisThread().Recycle(g.events);
  delivered_.clear();
  if (const size_t bound = deps_.cache->per_partition(); cache_.size() > bound) {
    for (auto it = cache_.begin(); it != cache_.end() && cache_.size() > bound * 9 / 10;) {
      if (in_flight_.count(it->first) == 0) {
        it = cache_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return failure_;
}

}  // namespace payorch::runtime
