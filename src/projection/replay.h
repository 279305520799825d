// Replay helpers for analysts (`payorch replay`): which counted events to keep and how to
// write them, as JSON Lines or CSV (RFC 4180). Pure functions; the command does the I/O.
//
//   ReplayFilter filter;
//   if (auto err = filter.SetTypes("PaymentCreated,step_failed"); !err.empty()) ...
//   EventDeduper dedup;                         // validity rule + (payment_id, sequence)
//   if (dedup.Counts(partition, event) && filter.Matches(event))
//     out << CsvRow(partition, offset, event);  // after CsvHeader()
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "command/validity.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::projection {

struct ReplayFilter {
  std::set<std::string> merchants;  // empty = all
  std::set<std::string> payments;   // empty = all
  std::set<int> event_cases;        // EventEnvelope::EventCase values; empty = all
  int64_t from_ms = INT64_MIN;      // occurred_at_ms >= from_ms
  int64_t to_ms = INT64_MAX;        // occurred_at_ms < to_ms

  // Comma-separated event types, as message names ("StepFailed") or field names
  // ("step_failed"). "" or a one-line error naming the unknown type.
  [[nodiscard]] std::string SetTypes(std::string_view list);
  bool Matches(const ::payments::events::v1::EventEnvelope& e) const;
};

// The validity rule and de-duplication every reader applies, for a reader that keeps no
// views: true if the event counts and was not seen before.
class EventDeduper {
 public:
  bool Counts(int32_t partition, const ::payments::events::v1::EventEnvelope& e);

 private:
  std::map<int32_t, command::EpochFilter> filters_;
  std::unordered_map<std::string, uint64_t> last_sequence_;
};

// One field quoted as RFC 4180 requires: in double quotes when it holds a comma, a quote,
// CR or LF (quotes doubled); as is otherwise.
std::string CsvField(std::string_view value);

// The header row and one row per event, each ending in CRLF.
std::string CsvHeader();
std::string CsvRow(int32_t partition, int64_t offset,
                   const ::payments::events::v1::EventEnvelope& e);

// One JSON object per line: partition, offset, type, and the event (Protobuf JSON with
// the .proto field names).
std::string JsonLine(int32_t partition, int64_t offset,
                     const ::payments::events::v1::EventEnvelope& e);

}  // namespace payorch::projection
