// Small edits of a PaymentState shared by decide (reading) and evolve (writing): pending
// operations, attempts, the per-step ledger, keyed requests. Internal to src/command.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "command/state.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::command::internal {

namespace ev = ::payments::events::v1;

inline bool IsAuthorization(ev::OperationKind kind) {
  return kind == ev::OPERATION_KIND_AUTHORIZE || kind == ev::OPERATION_KIND_SALE;
}

inline void RemovePending(PaymentState& s, std::string_view key) {
  for (auto it = s.pending.begin(); it != s.pending.end(); ++it) {
    if (it->idempotency_key == key) {
      s.pending.erase(it);
      return;
    }
  }
}

inline bool HasPendingKind(const PaymentState& s, ev::OperationKind kind) {
  return std::any_of(s.pending.begin(), s.pending.end(),
                     [&](const PendingOperation& op) { return op.kind == kind; });
}

inline AttemptRecord* FindAttemptMutable(PaymentState& s, std::string_view key) {
  for (auto& a : s.attempts) {
    if (a.operation_key == key) return &a;
  }
  return nullptr;
}

// Authorized and neither captured nor released.
inline int64_t Capturable(const PaymentState& s) {
  int64_t capturable = 0;
  for (const auto& l : s.ledger) {
    if (!l.voided) capturable += l.authorized - l.captured;
  }
  return capturable;
}

inline StepLedger* LedgerFor(PaymentState& s, uint32_t step) {
  return step < s.ledger.size() ? &s.ledger[step] : nullptr;
}

inline const KeyedRequest* FindKeyed(const std::vector<KeyedRequest>& v, std::string_view key) {
  for (const auto& r : v) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

inline void RememberKeyed(std::vector<KeyedRequest>& v, std::string_view key, std::string_view hash,
                          std::string_view id, bool final_capture) {
  if (FindKeyed(v, key) != nullptr) return;
  KeyedRequest& r = v.emplace_back();
  r.key = key;
  r.request_hash = hash;
  r.id = id;
  r.final_capture = final_capture;
}

// The flat copy of a started operation (see PendingOperation).
inline void AssignOperation(PendingOperation& p, const ev::GatewayOperation& op) {
  p.kind = op.kind();
  p.idempotency_key = op.idempotency_key();
  p.processor_id = op.processor_id();
  p.method = op.method();
  p.amount_minor = op.amount().amount_minor();
  p.currency = op.amount().currency();
  p.step_index = op.step_index();
  p.attempt = op.attempt();
  p.timeout_ms = op.timeout_ms();
  p.target_reference = op.target_reference();
  p.parent_id = op.parent_id();
}

}  // namespace payorch::command::internal
