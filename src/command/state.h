// PaymentState: what the writer knows about one payment, folded from its events.
// Plain data, no protobuf inside; only Evolve() (aggregate.h) changes it.
//
//   PaymentState s;                       // s.payment_id = id; then Evolve each event
//   if (s.IsTerminal() && s.pending.empty()) ...   // settled
//   for (const StepLedger& l : s.ledger) total += l.voided ? 0 : l.authorized;
//
// Keys, references and hashes are InlineStrings: they read as std::string_view and are
// stored inside the state up to their inline size (longer values go to the heap), so folding
// an event copies bytes instead of allocating. The per-payment lists are SmallVectors that
// hold their usual one or two elements in place. Copies of a state are deep.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command/internal/inline_string.h"
#include "command/internal/small_vector.h"
#include "payments/events/v1/events.pb.h"
#include "payments/plan/v1/plan.pb.h"

namespace payorch::command {

namespace ev = ::payments::events::v1;

// Operation keys, gateway references, request hashes, capture/refund ids.
using KeyText = internal::InlineString<64>;
// Processor ids and currency codes.
using ShortText = internal::InlineString<24>;

// One step of the payment's plan, as decide reads it (the full plan is in the PlanBuilt
// event).
struct PlanStep {
  ::payments::types::v1::PaymentMethod method = ::payments::types::v1::PAYMENT_METHOD_UNSPECIFIED;
  ::payments::plan::v1::StepRole role = ::payments::plan::v1::STEP_ROLE_UNSPECIFIED;
  int64_t max_amount_minor = 0;
  ShortText processor_id;
};

// The parts of the PaymentPlan that decisions depend on.
struct PlanSummary {
  internal::SmallVector<PlanStep, 2> steps;
  uint32_t max_retries_per_step = 0;
  uint32_t attempt_timeout_ms = 0;
  uint32_t processing_deadline_ms = 0;
};

// What the gateway did for one plan step.
struct StepLedger {
  int64_t authorized = 0;  // amount processed by the step's successful attempt
  int64_t captured = 0;
  int64_t refunded = 0;
  bool voided = false;  // authorization released or sale reversed
  KeyText processor_reference;
  KeyText operation_key;       // key of the successful attempt
  uint32_t void_attempts = 0;  // voids started for this step, for unique void keys
};

// One attempt's record, for the CompositeResult and for late answers.
struct AttemptRecord {
  KeyText operation_key;
  uint32_t step_index = 0;
  uint32_t attempt = 0;
  ShortText processor_id;
  ::payments::types::v1::ErrorCode error_code = ::payments::types::v1::ERROR_CODE_UNSPECIFIED;
  int64_t amount_requested = 0;
  int64_t amount_processed = 0;
  uint32_t latency_ms = 0;
  // Resolved: succeeded, failed, not found or expired. Unresolved attempts are pending.
  bool resolved = false;
  bool succeeded = false;
  bool compensated = false;  // a void reversing a late success was started
};

// A gateway operation logged as started (StepStarted, CaptureStarted, VoidStarted,
// RefundStarted) and not yet answered: the fields of its GatewayOperation, flat.
struct PendingOperation {
  ev::OperationKind kind = ev::OPERATION_KIND_UNSPECIFIED;
  KeyText idempotency_key;
  ShortText processor_id;
  ::payments::types::v1::PaymentMethod method = ::payments::types::v1::PAYMENT_METHOD_UNSPECIFIED;
  int64_t amount_minor = 0;
  ShortText currency;
  uint32_t step_index = 0;
  uint32_t attempt = 0;
  uint32_t timeout_ms = 0;
  KeyText target_reference;
  KeyText parent_id;

  bool IsAuthorization() const {
    return kind == ev::OPERATION_KIND_AUTHORIZE || kind == ev::OPERATION_KIND_SALE;
  }
};

// A keyed capture or refund request, for idempotency by its own key.
struct KeyedRequest {
  KeyText key;
  KeyText request_hash;
  KeyText id;  // capture_id / refund_id
  bool final_capture = false;
};

struct PaymentState {
  std::string payment_id;
  uint64_t sequence = 0;  // sequence of the last event applied; 0 = none
  bool exists = false;    // a PaymentCreated has been applied
  ev::PaymentStatus status = ev::PAYMENT_STATUS_UNSPECIFIED;

  std::string merchant_id;
  KeyText idempotency_key;
  KeyText request_hash;
  std::string currency;
  int64_t amount = 0;
  ::payments::types::v1::PaymentMethod method = ::payments::types::v1::PAYMENT_METHOD_UNSPECIFIED;
  bool manual_capture = false;
  bool confirmed = false;
  int64_t created_at_ms = 0;  // the PaymentCreated event's occurred_at_ms

  PlanSummary plan;
  internal::SmallVector<StepLedger, 2> ledger;       // one per plan step
  internal::SmallVector<AttemptRecord, 2> attempts;  // every step attempt, in order
  uint32_t current_step = 0;
  uint32_t current_attempt = 0;  // 1-based; 0 = no attempt yet on current_step
  int64_t processed = 0;         // sum of ledger[].authorized
  int64_t captured = 0;
  int64_t refunded = 0;
  int64_t reversed = 0;  // compensated by voids of successful steps
  int64_t deadline_at_ms = 0;

  // Gateway operations logged as started and not yet answered.
  internal::SmallVector<PendingOperation, 1> pending;
  std::vector<KeyedRequest> captures;
  std::vector<KeyedRequest> refunds;
  // Keys of answered capture/void/refund operations, so a repeated answer is recognised.
  std::vector<KeyText> resolved_operations;

  bool IsTerminal() const;
  const PendingOperation* FindPending(std::string_view key) const;
  const AttemptRecord* FindAttempt(std::string_view key) const;
  int64_t Remaining() const { return amount - processed; }
};

}  // namespace payorch::command
