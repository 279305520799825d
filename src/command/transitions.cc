#include "command/transitions.h"

#include <algorithm>
#include <array>
#include <string>

namespace payorch::command {

namespace ev = ::payments::events::v1;

bool IsTerminalStatus(ev::PaymentStatus status) {
  switch (status) {
    case ev::PAYMENT_STATUS_SUCCEEDED:
    case ev::PAYMENT_STATUS_FAILED:
    case ev::PAYMENT_STATUS_CANCELED:
    case ev::PAYMENT_STATUS_VOIDED:
      return true;
    default:
      return false;
  }
}

namespace {

// kLifecycle as a matrix indexed by status value, built at compile time.
constexpr int kStatuses = ev::PaymentStatus_ARRAYSIZE;
using Matrix = std::array<std::array<bool, kStatuses>, kStatuses>;

constexpr Matrix kAllowed = [] {
  Matrix m{};
  for (const Transition& t : kLifecycle) m[t.from][t.to] = true;
  return m;
}();

bool InRange(ev::PaymentStatus s) { return s >= 0 && s < kStatuses; }

}  // namespace

bool IsValidTransition(ev::PaymentStatus from, ev::PaymentStatus to) {
  if (from == to) return true;
  return InRange(from) && InRange(to) && kAllowed[from][to];
}

bool IsValidTransition(ev::PaymentStatus from, ev::PaymentStatus to,
                       ev::EventEnvelope::EventCase trigger) {
  if (from == to) return true;
  return std::any_of(kLifecycle.begin(), kLifecycle.end(), [&](const Transition& t) {
    return t.from == from && t.to == to && t.trigger == trigger;
  });
}

std::string LifecycleDiagram() {
  std::string out = "stateDiagram-v2\n";
  for (size_t i = 0; i < kLifecycle.size(); ++i) {
    const Transition& t = kLifecycle[i];
    const auto same_edge = [&](const Transition& o) { return o.from == t.from && o.to == t.to; };
    if (std::any_of(kLifecycle.begin(), kLifecycle.begin() + i, same_edge)) continue;
    out += "    ";
    out += t.from == ev::PAYMENT_STATUS_UNSPECIFIED ? "[*]" : StatusName(t.from);
    out += " --> ";
    out += StatusName(t.to);
    out += " : ";
    const char* sep = "";
    for (const Transition& o : kLifecycle) {
      if (!same_edge(o)) continue;
      out += sep;
      out += ev::EventEnvelope::descriptor()->FindFieldByNumber(o.trigger)->message_type()->name();
      sep = ", ";
    }
    out += '\n';
  }
  for (int v = 0; v < kStatuses; ++v) {
    const auto status = static_cast<ev::PaymentStatus>(v);
    if (ev::PaymentStatus_IsValid(v) && IsTerminalStatus(status)) {
      out += "    ";
      out += StatusName(status);
      out += " --> [*]\n";
    }
  }
  return out;
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
