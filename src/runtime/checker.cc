#include "runtime/checker.h"

#include <algorithm>

#include "command/aggregate.h"
#include "command/transitions.h"
#include "log/admin.h"
#include "log/partition_reader.h"
#include "runtime/serialize.h"

namespace payorch::runtime {

namespace ev = ::payments::events::v1;

namespace {
constexpr size_t kMaxViolationsListed = 50;
}

void Checker::Violation(std::string text) {
  if (report_.violations.size() < kMaxViolationsListed) {
    report_.violations.push_back(std::move(text));
  } else if (report_.violations.size() == kMaxViolationsListed) {
    report_.violations.push_back("... more violations not listed");
  }
}

void Checker::AddCommand(const log::Record& record) {
  ++report_.commands;
  command_offsets_[record.partition.value()].push_back(record.offset.value());
}

void Checker::AddEvent(const log::Record& record) {
  ++report_.events;
  ev::EventEnvelope e;
  if (!e.ParseFromString(record.value)) {
    Violation("events p" + std::to_string(record.partition.value()) + " offset " +
              std::to_string(record.offset.value()) + ": undecodable event");
    return;
  }
  const int32_t p = record.partition.value();
  const Verdict verdict = filters_[p].Observe(e);
  if (verdict == Verdict::kClaim) {
    ++report_.claims;
    return;
  }
  if (verdict == Verdict::kFenced) {
    ++report_.fenced;
    return;
  }
  const int64_t cmd_offset = e.causation().offset();
  if (e.causation().partition() != p) {
    Violation("event " + e.event_id() + " on partition " + std::to_string(p) +
              " was caused by a command on partition " + std::to_string(e.causation().partition()));
  }
  expected_per_command_[p][cmd_offset] = std::max<uint32_t>(e.causation().count(), 1);

  if (e.payment_id().empty()) {  // a rejection naming no payment
    ++report_.counted;
    events_per_command_[p][cmd_offset] =
        std::max(events_per_command_[p][cmd_offset], e.causation().index() + 1);
    return;
  }
  PaymentTrack& track = payments_[e.payment_id()];
  if (track.state.payment_id.empty()) track.state.payment_id = e.payment_id();
  ev::EventEnvelope canonical = e;
  canonical.set_epoch(0);
  std::string bytes = SerializeDeterministic(canonical);
  const uint64_t seq = e.sequence();
  if (seq == 0) {
    Violation("event " + e.event_id() + " has no sequence");
    return;
  }
  if (seq <= track.payloads.size()) {  // a re-publication: must be identical
    ++report_.duplicates;
    if (track.payloads[seq - 1] != bytes) {
      Violation("payment " + e.payment_id() + " sequence " + std::to_string(seq) +
                " was published twice with different content (exactly-once broken)");
    }
    events_per_command_[p][cmd_offset] =
        std::max(events_per_command_[p][cmd_offset], e.causation().index() + 1);
    return;
  }
  if (seq != track.payloads.size() + 1) {
    Violation("payment " + e.payment_id() + ": sequence gap, expected " +
              std::to_string(track.payloads.size() + 1) + " got " + std::to_string(seq));
  }
  track.payloads.resize(seq);
  track.payloads[seq - 1] = std::move(bytes);
  ++report_.counted;
  events_per_command_[p][cmd_offset] =
      std::max(events_per_command_[p][cmd_offset], e.causation().index() + 1);

  const auto before = track.state.status;
  command::Evolve(track.state, e);
  const auto after = track.state.status;
  if (track.reached_terminal && after != track.terminal_status) {
    Violation("payment " + e.payment_id() + " left terminal status " +
              command::StatusName(track.terminal_status));
  }
  if (before != after && !command::IsValidTransition(before, after)) {
    Violation("payment " + e.payment_id() + ": invalid transition " + command::StatusName(before) +
              " -> " + command::StatusName(after));
  }
  if (command::IsTerminalStatus(after) && !track.reached_terminal) {
    track.reached_terminal = true;
    track.terminal_status = after;
  }
  const auto& s = track.state;
  if (s.processed > s.amount) {
    Violation("payment " + e.payment_id() + ": processed " + std::to_string(s.processed) +
              " exceeds requested " + std::to_string(s.amount));
  }
  if (s.captured > s.processed) {
    Violation("payment " + e.payment_id() + ": captured exceeds authorized");
  }
  if (s.refunded > s.captured) {
    Violation("payment " + e.payment_id() + ": refunded exceeds captured");
  }
  int64_t ledger_sum = 0;
  for (const auto& l : s.ledger) ledger_sum += l.authorized;
  if (ledger_sum != s.processed) {
    Violation("payment " + e.payment_id() + ": step amounts do not add up to the total processed");
  }
  size_t auth_pending = 0;
  for (const auto& op : s.pending) {
    if (op.kind == ev::OPERATION_KIND_AUTHORIZE || op.kind == ev::OPERATION_KIND_SALE) {
      ++auth_pending;
    }
  }
  if (auth_pending > 1) {
    Violation("payment " + e.payment_id() + ": two authorization attempts in flight at once");
  }
}

void Checker::AddLedger(const std::vector<connectors::LedgerEntry>& entries) {
  ledger_.insert(ledger_.end(), entries.begin(), entries.end());
}

CheckReport Checker::Finish() {
  // Every command has all of its events; trailing commands may still be undecided.
  for (auto& [p, offsets] : command_offsets_) {
    int64_t last_decided = -1;
    for (const auto& [offset, count] : expected_per_command_[p]) {
      last_decided = std::max(last_decided, offset);
    }
    for (int64_t offset : offsets) {
      auto it = expected_per_command_[p].find(offset);
      if (it == expected_per_command_[p].end() && offset > last_decided && !require_drained_) {
        ++report_.undecided;
        continue;
      }
      if (it == expected_per_command_[p].end()) {
        Violation("command p" + std::to_string(p) + " offset " + std::to_string(offset) +
                  " has no counted event (lost)");
        continue;
      }
      if (events_per_command_[p][offset] < it->second) {
        Violation("command p" + std::to_string(p) + " offset " + std::to_string(offset) +
                  " has only " + std::to_string(events_per_command_[p][offset]) + " of its " +
                  std::to_string(it->second) + " events");
      }
    }
  }
  report_.payments = static_cast<int64_t>(payments_.size());
  for (const auto& [id, track] : payments_) {
    ++report_.by_status[command::StatusName(track.state.status)];
  }
  if (!ledger_.empty()) {
    report_.ledger_entries = static_cast<int64_t>(ledger_.size());
    const connectors::AuditReport audit = connectors::AuditLedger(ledger_);
    for (const auto& v : audit.violations) {
      Violation("gateway ledger: " + v.code + " payment " + v.payment_id + ": " + v.detail);
    }
    // Where the log says a payment is settled, the gateways must agree on the money.
    for (const auto& [id, totals] : audit.payments) {
      auto it = payments_.find(id);
      if (it == payments_.end()) {
        if (totals.net() != 0) {
          Violation("gateway charged " + std::to_string(totals.net()) + " for payment " + id +
                    " that the log does not know");
        }
        continue;
      }
      const command::PaymentState& s = it->second.state;
      if (!s.pending.empty()) continue;  // answers still outstanding
      ++report_.ledger_payments_checked;
      int64_t expected = -s.refunded;
      for (const auto& l : s.ledger) expected += l.voided ? 0 : l.authorized;
      if (totals.net() != expected) {
        Violation("payment " + id + " (" + command::StatusName(s.status) + "): gateway net " +
                  std::to_string(totals.net()) + " but the log says " + std::to_string(expected));
      }
    }
  }
  return report_;
}

CheckReport CheckLog(const log::KafkaOptions& options,
                     const std::vector<connectors::LedgerEntry>& ledger, std::string* error,
                     bool require_drained) {
  Checker checker(require_drained);
  auto admin = log::Admin::Create(options);
  if (!admin.ok()) {
    *error = "admin: " + admin.error().ToString();
    return {};
  }
  for (log::TopicKind kind : {log::TopicKind::kCommands, log::TopicKind::kEvents}) {
    const std::string topic = options.Topic(kind);
    auto partitions = admin.value()->PartitionCount(topic);
    if (!partitions.ok()) {
      *error = topic + ": " + partitions.error().ToString();
      return {};
    }
    for (int p = 0; p < partitions.value(); ++p) {
      auto reader =
          log::PartitionReader::Open(options, topic, PartitionId{p}, log::kOffsetBeginning);
      if (!reader.ok()) {
        *error = topic + ": " + reader.error().ToString();
        return {};
      }
      auto end = reader.value()->ReadToEnd(
          [&](const log::Record& r) {
            if (kind == log::TopicKind::kCommands) {
              checker.AddCommand(r);
            } else {
              checker.AddEvent(r);
            }
          },
          120'000);
      if (!end.ok()) {
        *error = topic + ": " + end.error().ToString();
        return {};
      }
    }
  }
  checker.AddLedger(ledger);
  return checker.Finish();
}

void CheckReport::Print(FILE* out) const {
  std::fprintf(out,
               "checked %lld commands, %lld event records (%lld counted, %lld duplicates "
               "dropped, %lld fenced, %lld writer claims), %lld payments\n",
               static_cast<long long>(commands), static_cast<long long>(events),
               static_cast<long long>(counted), static_cast<long long>(duplicates),
               static_cast<long long>(fenced), static_cast<long long>(claims),
               static_cast<long long>(payments));
  if (undecided > 0) {
    std::fprintf(out, "%lld trailing commands not decided yet (the writer is behind or stopped)\n",
                 static_cast<long long>(undecided));
  }
  std::fprintf(out, "payments by status:");
  for (const auto& [status, n] : by_status)
    std::fprintf(out, " %s=%lld", status.c_str(), static_cast<long long>(n));
  std::fprintf(out, "\n");
  if (ledger_entries > 0) {
    std::fprintf(
        out, "gateway ledger: %lld entries, %lld settled payments reconciled with the log\n",
        static_cast<long long>(ledger_entries), static_cast<long long>(ledger_payments_checked));
  }
  std::fprintf(out,
               "verified: every command has all its events; one payload per (payment_id, "
               "sequence); no sequence gaps; only valid transitions; terminal states never "
               "regress; processed <= requested, captured <= authorized, refunded <= captured; "
               "step amounts add up%s\n",
               ledger_entries > 0 ? "; no double charge; gateway money equals the log's" : "");
  if (violations.empty()) {
    std::fprintf(out, "OK: no violations\n");
  } else {
    std::fprintf(out, "VIOLATIONS: %zu\n", violations.size());
    for (const auto& v : violations) std::fprintf(out, "  %s\n", v.c_str());
  }
}

}  // namespace payorch::runtime
