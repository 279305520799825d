#include "runtime/checker.h"

#include <algorithm>
#include <tuple>

#include "command/aggregate.h"
#include "command/serialize.h"
#include "command/transitions.h"
#include "log/admin.h"
#include "log/partition_reader.h"
#include "payments/commands/v1/commands.pb.h"
#include "runtime/internal/commerce_checks.h"

namespace payorch::runtime {

namespace ev = ::payments::events::v1;

namespace cmd = ::payments::commands::v1;

namespace {
constexpr size_t kMaxViolationsListed = 50;

// A command a client sent (as opposed to a gateway answer, an expiry or a breaker
// transition, which payorch appends to itself): the settle clock runs from the last one.
bool IsClientCommand(const cmd::CommandEnvelope& c) {
  switch (c.command_case()) {
    case cmd::CommandEnvelope::kCreate:
    case cmd::CommandEnvelope::kConfirm:
    case cmd::CommandEnvelope::kCapture:
    case cmd::CommandEnvelope::kVoid:
    case cmd::CommandEnvelope::kRefund:
    case cmd::CommandEnvelope::kCancel:
      return true;
    default:
      return false;
  }
}

// Nothing is owed by payorch: no operation pending, and the status is terminal or waits on
// the merchant or customer (a confirmation, a capture, another payment method).
bool AtRest(const command::PaymentState& s) {
  if (!s.pending.empty()) return false;
  return command::IsTerminalStatus(s.status) || s.status == ev::PAYMENT_STATUS_FAILED ||
         s.status == ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION ||
         s.status == ev::PAYMENT_STATUS_REQUIRES_CAPTURE;
}

// Final statuses after which the processor should hold none of the customer's money.
bool NoMoneyExpected(ev::PaymentStatus status) {
  return status == ev::PAYMENT_STATUS_FAILED || status == ev::PAYMENT_STATUS_CANCELED ||
         status == ev::PAYMENT_STATUS_VOIDED;
}

int64_t AgeAt(int64_t as_of, int64_t since) {
  return as_of >= 0 && since >= 0 ? std::max<int64_t>(0, as_of - since) : -1;
}
}  // namespace

std::string FormatAge(int64_t ms) {
  if (ms < 0) return "unknown";
  if (ms < 1000) return std::to_string(ms) + "ms";
  int64_t s = ms / 1000;
  const int64_t h = s / 3600;
  const int64_t m = (s % 3600) / 60;
  s %= 60;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (m > 0) out += std::to_string(m) + "m";
  if (s > 0 || out.empty()) out += std::to_string(s) + "s";
  return out;
}

Checker::Checker(const CheckOptions& options)
    : options_(options), commerce_(std::make_unique<internal::CommerceChecks>()) {}
Checker::~Checker() = default;

void Checker::AddOrderCommand(const log::Record& r) { commerce_->AddOrderCommand(r); }
void Checker::AddOrderEvent(const log::Record& r) { commerce_->AddOrderEvent(r); }
void Checker::AddInvoiceCommand(const log::Record& r) { commerce_->AddInvoiceCommand(r); }
void Checker::AddInvoiceEvent(const log::Record& r) { commerce_->AddInvoiceEvent(r); }
void Checker::AddDeadLetter(const log::Record& r) { commerce_->AddDeadLetter(r); }

void Checker::Violation(std::string text) {
  if (report_.violations.size() < kMaxViolationsListed) {
    report_.violations.push_back(std::move(text));
  } else if (report_.violations.size() == kMaxViolationsListed) {
    report_.violations.push_back("... more violations not listed");
  }
}

void Checker::AddCommand(const log::Record& record) {
  ++report_.commands;
  const int32_t p = record.partition.value();
  commands_[p].push_back({record.offset.value(), record.timestamp_ms});
  newest_ms_ = std::max(newest_ms_, record.timestamp_ms);
  cmd::CommandEnvelope c;  // an undecodable command is the writer's to reject
  if (c.ParseFromString(record.value) && IsClientCommand(c)) {
    client_commands_[p][record.offset.value()] = record.timestamp_ms;
  }
}

void Checker::AddEvent(const log::Record& record) {
  ++report_.events;
  newest_ms_ = std::max(newest_ms_, record.timestamp_ms);
  ev::EventEnvelope e;
  if (!e.ParseFromString(record.value)) {
    Violation("events p" + std::to_string(record.partition.value()) + " offset " +
              std::to_string(record.offset.value()) + ": undecodable event");
    return;
  }
  const int32_t p = record.partition.value();
  const command::Verdict verdict = filters_[p].Observe(e);
  if (verdict == command::Verdict::kClaim) {
    ++report_.claims;
    return;
  }
  if (verdict == command::Verdict::kFenced) {
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
  std::string bytes = command::SerializeDeterministic(canonical);
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

  // The settle clock: a client command that the core took (not a repeat or a rejection).
  if (track.created_ms < 0) track.created_ms = e.occurred_at_ms() > 0 ? e.occurred_at_ms() : -1;
  if (!e.has_command_deduplicated() && !e.has_command_rejected()) {
    const auto& clients = client_commands_[p];
    if (auto c = clients.find(cmd_offset); c != clients.end()) {
      track.last_client_command_ms = std::max(track.last_client_command_ms, c->second);
    }
  }

  const auto before = track.state.status;
  command::Evolve(track.state, e);
  const auto after = track.state.status;
  if (after != before || track.status_since_ms < 0) {
    track.status_since_ms = record.timestamp_ms >= 0 ? record.timestamp_ms : e.occurred_at_ms();
  }
  if (track.reached_terminal && after != track.terminal_status) {
    Violation("payment " + e.payment_id() + " left terminal status " +
              command::StatusName(track.terminal_status));
  }
  if (before != after && !command::IsValidTransition(before, after, e.event_case())) {
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
  const int64_t as_of = std::max(options_.now_ms > 0 ? options_.now_ms : -1, newest_ms_);
  const int64_t bound = options_.settle_within_ms > 0 ? options_.settle_within_ms : 0;
  report_.as_of_ms = as_of;
  report_.drained = options_.require_drained;
  report_.settle_within_ms = bound;
  // Every command has all of its events; trailing commands may still be undecided.
  int64_t oldest_undecided_ms = -1;
  std::string oldest_undecided;
  for (auto& [p, seen] : commands_) {
    int64_t last_decided = -1;
    for (const auto& [offset, count] : expected_per_command_[p]) {
      last_decided = std::max(last_decided, offset);
    }
    for (const auto& [offset, timestamp_ms] : seen) {
      auto it = expected_per_command_[p].find(offset);
      if (it == expected_per_command_[p].end() && offset > last_decided &&
          !options_.require_drained) {
        ++report_.undecided;
        const int64_t age = AgeAt(as_of, timestamp_ms);
        if (bound > 0 && age > bound) {
          ++report_.undecided_late;
          if (age > oldest_undecided_ms) {
            oldest_undecided_ms = age;
            oldest_undecided = "p" + std::to_string(p) + " offset " + std::to_string(offset);
          }
        }
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
  if (report_.undecided_late > 0) {
    Violation(std::to_string(report_.undecided_late) + " commands not decided within " +
              FormatAge(bound) + " of being appended (oldest " + oldest_undecided + ", " +
              FormatAge(oldest_undecided_ms) + "): the writer is behind or stopped");
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
    // A failed (canceled, voided) payment leaves no money at its processor, whatever is
    // still pending; where the log says a payment is settled, the gateways must agree on
    // the money.
    std::vector<std::tuple<int64_t, std::string, std::string>> holding;  // age, id, text
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
      const bool held = NoMoneyExpected(s.status) && totals.net() > 0;
      if (held) {
        const int64_t age = AgeAt(as_of, it->second.status_since_ms);
        ++report_.failed_holding;
        report_.held_minor[s.currency] += totals.net();
        report_.oldest_holding_ms = std::max(report_.oldest_holding_ms, age);
        holding.emplace_back(age, id,
                             "payment " + id + " (" + command::StatusName(s.status) +
                                 "): the gateway still holds " + std::to_string(totals.net()) +
                                 " " + s.currency + " minor units, " + FormatAge(age) +
                                 " after it became " + command::StatusName(s.status) +
                                 (s.pending.empty() ? "" : " (an operation is pending)"));
      }
      if (!s.pending.empty()) continue;  // answers still outstanding
      ++report_.ledger_payments_checked;
      if (held) continue;  // reported once, below
      int64_t expected = -s.refunded;
      for (const auto& l : s.ledger) expected += l.voided ? 0 : l.authorized;
      if (totals.net() != expected) {
        Violation("payment " + id + " (" + command::StatusName(s.status) + "): gateway net " +
                  std::to_string(totals.net()) + " but the log says " + std::to_string(expected));
      }
    }
    std::sort(holding.begin(), holding.end(), [](const auto& a, const auto& b) {
      return std::tie(std::get<0>(b), std::get<1>(a)) < std::tie(std::get<0>(a), std::get<1>(b));
    });
    for (auto& h : holding) Violation(std::move(std::get<2>(h)));
  }
  JudgeSettling(as_of);
  commerce_->Finish(
      [this](const std::string& id) -> const command::PaymentState* {
        auto it = payments_.find(id);
        return it == payments_.end() ? nullptr : &it->second.state;
      },
      options_.require_drained, &report_);
  for (std::string& v : commerce_->TakeViolations()) Violation(std::move(v));
  return report_;
}

void Checker::JudgeSettling(int64_t as_of) {
  const int64_t bound = report_.settle_within_ms;
  std::vector<std::tuple<int64_t, std::string, std::string>> late;  // age, id, text
  for (const auto& [id, track] : payments_) {
    const command::PaymentState& s = track.state;
    if (!s.exists || AtRest(s)) continue;
    ++report_.unsettled;
    const int64_t since =
        track.last_client_command_ms >= 0 ? track.last_client_command_ms : track.created_ms;
    const int64_t age = AgeAt(as_of, since);
    report_.oldest_unsettled_ms = std::max(report_.oldest_unsettled_ms, age);
    if (bound <= 0 || age <= bound) continue;
    ++report_.unsettled_late;
    std::string what = command::StatusName(s.status);
    if (!s.pending.empty()) {
      what += ", " + std::to_string(s.pending.size()) + " operation" +
              (s.pending.size() == 1 ? "" : "s") + " pending";
    }
    late.emplace_back(age, id,
                      "payment " + id + " (" + what + "): not settled " + FormatAge(age) +
                          " after its last command (bound " + FormatAge(bound) + ")");
  }
  // Oldest first, so the listed ones are the worst.
  std::sort(late.begin(), late.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(b), std::get<1>(a)) < std::tie(std::get<0>(a), std::get<1>(b));
  });
  for (auto& l : late) Violation(std::move(std::get<2>(l)));
}

namespace {
void AddRecord(Checker& checker, log::TopicKind kind, const log::Record& r) {
  switch (kind) {
    case log::TopicKind::kCommands:
      return checker.AddCommand(r);
    case log::TopicKind::kEvents:
      return checker.AddEvent(r);
    case log::TopicKind::kOrderCommands:
      return checker.AddOrderCommand(r);
    case log::TopicKind::kOrderEvents:
      return checker.AddOrderEvent(r);
    case log::TopicKind::kInvoiceCommands:
      return checker.AddInvoiceCommand(r);
    case log::TopicKind::kInvoiceEvents:
      return checker.AddInvoiceEvent(r);
    case log::TopicKind::kDeadLetters:
      return checker.AddDeadLetter(r);
    default:
      return;
  }
}
}  // namespace

CheckReport CheckLog(const log::KafkaOptions& options,
                     const std::vector<connectors::LedgerEntry>& ledger, std::string* error,
                     const CheckOptions& check) {
  Checker checker(check);
  auto admin = log::Admin::Create(options);
  if (!admin.ok()) {
    *error = "admin: " + admin.status().ToString();
    return {};
  }
  // The order and invoice logs first: the saga follows the payments log, so a payments log
  // read after them holds every payment event they depend on.
  for (log::TopicKind kind :
       {log::TopicKind::kOrderCommands, log::TopicKind::kOrderEvents,
        log::TopicKind::kInvoiceCommands, log::TopicKind::kInvoiceEvents,
        log::TopicKind::kDeadLetters, log::TopicKind::kCommands, log::TopicKind::kEvents}) {
    const std::string topic = options.Topic(kind);
    auto partitions = admin.value()->PartitionCount(topic);
    const bool payments_log = kind == log::TopicKind::kCommands ||
                              kind == log::TopicKind::kEvents ||
                              kind == log::TopicKind::kDeadLetters;
    // A log written before invoices and orders existed has no topics of theirs: nothing to
    // check there. A cluster that does not answer is an error at once, not five timeouts.
    if (!partitions.ok() && !payments_log && log::IsUnknownTopic(partitions.status())) continue;
    if (!partitions.ok()) {
      *error = topic + ": " + partitions.status().ToString();
      return {};
    }
    for (int p = 0; p < partitions.value(); ++p) {
      auto reader =
          log::PartitionReader::Open(options, topic, PartitionId{p}, log::kOffsetBeginning);
      if (!reader.ok()) {
        *error = topic + ": " + reader.status().ToString();
        return {};
      }
      auto end = reader.value()->ReadToEnd(
          [&](const log::Record& r) { AddRecord(checker, kind, r); }, 120'000);
      if (!end.ok()) {
        *error = topic + ": " + end.status().ToString();
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
  // "orders: 120 commands, 130 event records (120 counted, ...), 40 orders: paid=40"
  for (const auto& [name, log] : {std::pair{"orders", &order_log}, {"invoices", &invoice_log}}) {
    std::fprintf(out,
                 "%s: %lld commands (%lld dead-lettered, %lld undecided), %lld event records "
                 "(%lld counted, %lld duplicates dropped, %lld fenced, %lld writer claims), "
                 "%lld %s by status:",
                 name, static_cast<long long>(log->commands),
                 static_cast<long long>(log->dead_lettered), static_cast<long long>(log->undecided),
                 static_cast<long long>(log->events), static_cast<long long>(log->counted),
                 static_cast<long long>(log->duplicates), static_cast<long long>(log->fenced),
                 static_cast<long long>(log->claims), static_cast<long long>(log->aggregates),
                 name);
    for (const auto& [status, n] : log->by_status)
      std::fprintf(out, " %s=%lld", status.c_str(), static_cast<long long>(n));
    std::fprintf(out, "\n");
  }
  if (ledger_entries > 0) {
    std::fprintf(
        out, "gateway ledger: %lld entries, %lld settled payments reconciled with the log\n",
        static_cast<long long>(ledger_entries), static_cast<long long>(ledger_payments_checked));
  }
  // Settling: "unsettled payments: 3 (oldest 12m3s, 2 past 5m); commands undecided past 5m: 0"
  std::fprintf(out, "unsettled payments: %lld", static_cast<long long>(unsettled));
  const std::string bound = FormatAge(settle_within_ms);
  if (unsettled > 0) {
    std::fprintf(out, " (oldest %s", FormatAge(oldest_unsettled_ms).c_str());
    if (settle_within_ms > 0) {
      std::fprintf(out, ", %lld past %s", static_cast<long long>(unsettled_late), bound.c_str());
    }
    std::fprintf(out, ")");
  }
  if (settle_within_ms > 0) {
    std::fprintf(out, "; commands undecided past %s: %lld\n", bound.c_str(),
                 static_cast<long long>(undecided_late));
  } else {
    std::fprintf(out, "; ages not judged (--settle-within 0)\n");
  }
  if (ledger_entries > 0) {
    std::fprintf(out, "failed payments holding money: %lld",
                 static_cast<long long>(failed_holding));
    if (failed_holding > 0) {
      std::fprintf(out, " (");
      const char* sep = "";
      for (const auto& [currency, minor] : held_minor) {
        std::fprintf(out, "%s%lld %s", sep, static_cast<long long>(minor), currency.c_str());
        sep = ", ";
      }
      std::fprintf(out, " minor units; oldest %s)", FormatAge(oldest_holding_ms).c_str());
    }
    std::fprintf(out, "\n");
  }
  std::fprintf(out,
               "verified: every command has all its events; one payload per (payment_id, "
               "sequence); no sequence gaps; only valid transitions; terminal states never "
               "regress; processed <= requested, captured <= authorized, refunded <= captured; "
               "step amounts add up; orders and invoices: every command decided or "
               "dead-lettered, one payload per sequence, no gaps, only their tables' edges, "
               "captured totals within their payments'%s%s%s\n",
               drained ? " (equal, nothing left pending on a final payment)" : "",
               settle_within_ms > 0
                   ? ("; payments settle within " + FormatAge(settle_within_ms)).c_str()
                   : "",
               ledger_entries > 0 ? "; no double charge; gateway money equals the log's; failed "
                                    "payments hold no money"
                                  : "");
  if (violations.empty()) {
    std::fprintf(out, "OK: no violations\n");
  } else {
    std::fprintf(out, "VIOLATIONS: %zu\n", violations.size());
    for (const auto& v : violations) std::fprintf(out, "  %s\n", v.c_str());
  }
}

}  // namespace payorch::runtime
