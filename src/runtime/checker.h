// Checker: reads what the log says happened and verifies ARCHITECTURE.md's guarantees,
// safety (nothing lost, nothing decided twice, nobody charged twice) and settling (a
// payment settles within a stated time of its last command; a failed payment leaves no
// money at its processor). Used by `payorch check`, the crash tests and the demo.
//
//   Checker checker({.settle_within_ms = 60'000, .now_ms = clock.NowMs()});
//   for (record : commands partition p) checker.AddCommand(record);  // offset order,
//   for (record : events partition p)   checker.AddEvent(record);    // commands first
//   checker.AddLedger(entries);          // optional: the gateways' ledger
//   CheckReport report = checker.Finish();
//   report.Print(stdout); return report.ok() ? 0 : 1;
//
// Settling. A payment is at rest when no gateway operation of it is pending and its status
// is terminal or waits on the merchant (REQUIRES_CONFIRMATION, REQUIRES_CAPTURE); any other
// payment is unsettled. Its age runs from its last command from a client (create, confirm,
// capture, void, refund, cancel: the record's timestamp; gateway answers, expiries and
// repeated or rejected commands do not restart it) to the check's reference time, the later
// of `now_ms` and the newest record timestamp in the log. An unsettled payment older than
// `settle_within_ms` is a violation, and so is a command still undecided that long after it
// was appended. A FAILED, CANCELED or VOIDED payment whose gateway ledger nets above zero
// holds a customer's money: always a violation, whatever is pending.
//
// Orders and invoices. The order and invoice logs are checked by the same rules (every
// command decided or dead-lettered, one payload per sequence, no gaps, only the cores'
// edges) and joined to the payments log: what an order or invoice records as captured is
// what its payments captured. The rules: runtime/internal/commerce_checks.h.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "command/state.h"
#include "command/validity.h"
#include "connectors/ledger.h"
#include "log/options.h"
#include "log/record.h"

namespace payorch::runtime {

// The default settle bound: a plain `payorch check` reports payments unsettled this long.
inline constexpr int64_t kDefaultSettleWithinMs = 5 * 60'000;

struct CheckOptions {
  // Undecided trailing commands are violations too (the log should be drained).
  bool require_drained = false;
  // Unsettled payments (and undecided commands) older than this are violations; 0 judges
  // no age (the counts are still reported).
  int64_t settle_within_ms = kDefaultSettleWithinMs;
  // Ages are measured to max(now_ms, newest record timestamp). 0: the newest record only,
  // which makes a replay of the same log deterministic but never judges a stopped system.
  int64_t now_ms = 0;
};

// The figures of one aggregate's log (orders, invoices), read by the payments log's rules.
struct AggregateCheck {
  int64_t commands = 0;
  int64_t events = 0;         // records in the events topic
  int64_t counted = 0;        // counted after the validity rule and de-duplication
  int64_t duplicates = 0;     // identical re-publications dropped by sequence
  int64_t fenced = 0;         // records of fenced epochs ignored
  int64_t claims = 0;         // writer claims that counted
  int64_t dead_lettered = 0;  // commands on the dead-letter topic (no events)
  int64_t undecided = 0;      // trailing commands not decided yet
  int64_t aggregates = 0;     // orders or invoices
  std::map<std::string, int64_t> by_status;
};

struct CheckReport {
  int64_t commands = 0;
  int64_t events = 0;      // records in the events topic
  int64_t counted = 0;     // counted after the validity rule and de-duplication
  int64_t duplicates = 0;  // identical re-publications dropped by sequence
  int64_t fenced = 0;      // records of fenced epochs ignored
  int64_t claims = 0;
  int64_t payments = 0;
  // Commands after the last decided one of their partition: not decided yet (the writer
  // is behind or stopped). Not a violation unless the check requires a drained log.
  int64_t undecided = 0;
  std::map<std::string, int64_t> by_status;
  int64_t ledger_entries = 0;
  int64_t ledger_payments_checked = 0;
  // Settling, as of `as_of_ms` (-1: no record had a timestamp). Ages are -1 when unknown.
  int64_t settle_within_ms = 0;  // the bound judged; 0 = ages not judged
  int64_t as_of_ms = -1;
  int64_t unsettled = 0;       // payments not at rest
  int64_t unsettled_late = 0;  // of which older than the bound
  int64_t oldest_unsettled_ms = -1;
  int64_t undecided_late = 0;  // commands undecided for longer than the bound
  int64_t failed_holding = 0;  // FAILED/CANCELED/VOIDED payments the gateways still charge
  std::map<std::string, int64_t> held_minor;  // their money, by currency
  int64_t oldest_holding_ms = -1;             // age since the payment reached its status
  bool drained = false;                       // judged as drained (CheckOptions::require_drained)
  AggregateCheck order_log;
  AggregateCheck invoice_log;
  std::vector<std::string> violations;

  bool ok() const { return violations.empty(); }
  void Print(FILE* out) const;
};

class Checker;
namespace internal {
class CommerceChecks;
}

// "850ms", "45s", "5m", "1h2m3s"; "unknown" for a negative age.
std::string FormatAge(int64_t ms);

// Reads the whole order and invoice logs and the dead-letter topic, then the payments
// commands and events topics of `options` (every partition, up to the high watermarks as
// of each partition's read) into a Checker, adds `ledger`, and finishes it. The payments
// log is read last because the saga follows it.
// Returns the report, or a one-line error in `error`.
CheckReport CheckLog(const log::KafkaOptions& options,
                     const std::vector<connectors::LedgerEntry>& ledger, std::string* error,
                     const CheckOptions& check = {});

class Checker {
 public:
  explicit Checker(const CheckOptions& options = {});
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;
  void AddCommand(const log::Record& record);
  void AddEvent(const log::Record& record);
  // The order and invoice logs, commands before events as above, and the dead-letter topic.
  void AddOrderCommand(const log::Record& record);
  void AddOrderEvent(const log::Record& record);
  void AddInvoiceCommand(const log::Record& record);
  void AddInvoiceEvent(const log::Record& record);
  void AddDeadLetter(const log::Record& record);
  void AddLedger(const std::vector<connectors::LedgerEntry>& entries);
  CheckReport Finish();

 private:
  void Violation(std::string text);
  void JudgeSettling(int64_t as_of);

  struct PaymentTrack {
    command::PaymentState state;
    std::vector<std::string> payloads;  // canonical bytes per sequence (epoch cleared)
    bool reached_terminal = false;
    ::payments::events::v1::PaymentStatus terminal_status{};
    int64_t last_client_command_ms = -1;  // record time of its last client command
    int64_t created_ms = -1;              // its first event's command time (a fallback)
    int64_t status_since_ms = -1;         // record time of the event that set its status
  };
  struct CommandSeen {
    int64_t offset = 0;
    int64_t timestamp_ms = -1;
  };

  CheckOptions options_;
  CheckReport report_;
  int64_t newest_ms_ = -1;
  std::map<int32_t, command::EpochFilter> filters_;
  std::map<int32_t, std::vector<CommandSeen>> commands_;
  // Offsets of client commands (not gateway answers, expiries or breaker transitions), with
  // their record timestamps.
  std::map<int32_t, std::unordered_map<int64_t, int64_t>> client_commands_;
  std::map<int32_t, std::unordered_map<int64_t, uint32_t>> events_per_command_;
  std::map<int32_t, std::unordered_map<int64_t, uint32_t>> expected_per_command_;
  std::unordered_map<std::string, PaymentTrack> payments_;
  std::vector<connectors::LedgerEntry> ledger_;
  std::unique_ptr<internal::CommerceChecks> commerce_;
};

}  // namespace payorch::runtime
