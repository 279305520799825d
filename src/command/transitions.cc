#include "command/transitions.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command/state_diagram.h"

namespace payorch::command {

namespace ev = ::payments::events::v1;

namespace {

// kLifecycle as a matrix indexed by status value, built at compile time: bit `trigger` of
// (from, to) is set when that event may take the edge. Both IsValidTransition overloads
// and IsTerminalStatus read it; nothing else lists edges.
constexpr int kStatuses = ev::PaymentStatus_ARRAYSIZE;
using Matrix = std::array<std::array<uint64_t, kStatuses>, kStatuses>;

constexpr Matrix kAllowed = [] {
  Matrix m{};
  for (const Transition& t : kLifecycle) {
    // An event case (field number) beyond 63 does not fit the mask: this fails to compile.
    if (t.trigger < 0 || t.trigger > 63) throw "kLifecycle: trigger beyond the 64-bit mask";
    m[t.from][t.to] |= uint64_t{1} << t.trigger;
  }
  return m;
}();

bool InRange(ev::PaymentStatus s) { return s >= 0 && s < kStatuses; }

}  // namespace

bool IsValidTransition(ev::PaymentStatus from, ev::PaymentStatus to) {
  if (from == to) return true;
  return InRange(from) && InRange(to) && kAllowed[from][to] != 0;
}

bool IsValidTransition(ev::PaymentStatus from, ev::PaymentStatus to,
                       ev::EventEnvelope::EventCase trigger) {
  if (from == to) return true;
  if (!InRange(from) || !InRange(to) || trigger < 0 || trigger > 63) return false;
  return (kAllowed[from][to] >> trigger & 1) != 0;
}

bool IsTerminalStatus(ev::PaymentStatus status) {
  if (!InRange(status) || status == ev::PAYMENT_STATUS_UNSPECIFIED) return false;
  return std::all_of(kAllowed[status].begin(), kAllowed[status].end(),
                     [](uint64_t triggers) { return triggers == 0; });
}

std::string LifecycleDiagram() {
  std::vector<DiagramEdge> edges;
  edges.reserve(kLifecycle.size());
  for (const Transition& t : kLifecycle) {
    edges.push_back(
        {t.from == ev::PAYMENT_STATUS_UNSPECIFIED ? "" : StatusName(t.from), StatusName(t.to),
         ev::EventEnvelope::descriptor()->FindFieldByNumber(t.trigger)->message_type()->name()});
  }
  std::vector<std::string_view> terminal;
  for (int v = 0; v < kStatuses; ++v) {
    const auto status = static_cast<ev::PaymentStatus>(v);
    if (ev::PaymentStatus_IsValid(v) && IsTerminalStatus(status)) {
      terminal.push_back(StatusName(status));
    }
  }
  return MermaidStateDiagram(edges, terminal);
}

const char* StatusName(ev::PaymentStatus status) {
  switch (status) {
    case ev::PAYMENT_STATUS_UNSPECIFIED:
      return "none";
    case ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION:
      return "requires_confirmation";
    case ev::PAYMENT_STATUS_AUTHORIZING:
      return "authorizing";
    case ev::PAYMENT_STATUS_PROCESSING:
      return "processing";
    case ev::PAYMENT_STATUS_REQUIRES_CAPTURE:
      return "requires_capture";
    case ev::PAYMENT_STATUS_SUCCEEDED:
      return "succeeded";
    case ev::PAYMENT_STATUS_FAILED:
      return "failed";
    case ev::PAYMENT_STATUS_CANCELED:
      return "canceled";
    case ev::PAYMENT_STATUS_VOIDED:
      return "voided";
    default:
      return "invalid";
  }
}

}  // namespace payorch::command
