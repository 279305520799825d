// The simulated gateways' journal: one record per idempotency key that the processor
// remembers (a success, a decided failure, or a NOT_FOUND seal), one line each, appended
// with write(2) before the answer leaves the gateway.
//
// Line format (tab-separated, '\\', '\t', '\n' escaped as "\\\\", "\\t", "\\n"):
//   r1 key kind payment_id step processor_id method requested currency target outcome
//      error processed reference latency
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/gateway.h"
#include "connectors/ledger.h"
#include "connectors/status.h"

namespace payorch::connectors::internal {

struct Record {
  std::string key;
  OperationKind kind = ::payments::events::v1::OPERATION_KIND_UNSPECIFIED;
  std::string payment_id;
  uint32_t step_index = 0;
  std::string processor_id;
  PaymentMethod method = ::payments::types::v1::PAYMENT_METHOD_UNSPECIFIED;
  int64_t requested_minor = 0;
  std::string currency;
  std::string target_reference;
  GatewayOutcome outcome = ::payments::commands::v1::GATEWAY_OUTCOME_UNSPECIFIED;
  ErrorCode error_code = ::payments::types::v1::ERROR_CODE_UNSPECIFIED;
  int64_t processed_minor = 0;
  std::string processor_reference;
  uint32_t latency_ms = 0;

  bool moved_money() const {
    return outcome == ::payments::commands::v1::GATEWAY_OUTCOME_SUCCEEDED;
  }
  LedgerEntry ToLedgerEntry(uint64_t seq) const;
};

std::string EncodeRecord(const Record& record);             // with the trailing '\n'
std::optional<Record> DecodeRecord(std::string_view line);  // without the '\n'

// Reads every complete line of `path` (missing file = empty). If `repair` and the last line
// is torn (no '\n'), the file is truncated to its last complete line.
[[nodiscard]] StatusOr<std::vector<Record>> ReadJournal(const std::string& path, bool repair);

// An append-only file. Not thread-safe (the gateway's lock guards it).
class Journal {
 public:
  [[nodiscard]] static StatusOr<std::unique_ptr<Journal>> Open(const std::string& path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // write(2) of the whole line; false if it could not be written completely.
  [[nodiscard]] bool Append(const Record& record);

 private:
  explicit Journal(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace payorch::connectors::internal
