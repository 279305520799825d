// Checker: reads what the log says happened and verifies ARCHITECTURE.md's guarantees.
// Used by `payorch check`, the crash tests and the demo.
//
//   Checker checker;
//   for (record : commands partition p) checker.AddCommand(record);
//   for (record : events partition p)   checker.AddEvent(record);   // offset order
//   checker.AddLedger(entries);          // optional: the gateways' ledger
//   CheckReport report = checker.Finish();
//   report.Print(stdout); return report.ok() ? 0 : 1;
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "command/state.h"
#include "connectors/ledger.h"
#include "log/options.h"
#include "log/record.h"
#include "runtime/validity.h"

namespace payorch::runtime {

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
  std::vector<std::string> violations;

  bool ok() const { return violations.empty(); }
  void Print(FILE* out) const;
};

class Checker;

// Reads the whole commands and events topics of `options` (every partition, up to the
// high watermarks as of the call) into a Checker, adds `ledger`, and finishes it.
// Returns the report, or a one-line error in `error`.
CheckReport CheckLog(const log::KafkaOptions& options,
                     const std::vector<connectors::LedgerEntry>& ledger, std::string* error,
                     bool require_drained = false);

class Checker {
 public:
  // With `require_drained`, undecided trailing commands are violations too.
  explicit Checker(bool require_drained = false) : require_drained_(require_drained) {}
  void AddCommand(const log::Record& record);
  void AddEvent(const log::Record& record);
  void AddLedger(const std::vector<connectors::LedgerEntry>& entries);
  CheckReport Finish();

 private:
  void Violation(std::string text);

  struct PaymentTrack {
    command::PaymentState state;
    std::vector<std::string> payloads;  // canonical bytes per sequence (epoch cleared)
    bool reached_terminal = false;
    ::payments::events::v1::PaymentStatus terminal_status{};
  };

  bool require_drained_;
  CheckReport report_;
  std::map<int32_t, EpochFilter> filters_;
  std::map<int32_t, std::vector<int64_t>> command_offsets_;
  std::map<int32_t, std::unordered_map<int64_t, uint32_t>> events_per_command_;
  std::map<int32_t, std::unordered_map<int64_t, uint32_t>> expected_per_command_;
  std::unordered_map<std::string, PaymentTrack> payments_;
  std::vector<connectors::LedgerEntry> ledger_;
};

}  // namespace payorch::runtime
