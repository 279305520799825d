// PaymentState: what the writer knows about one payment, folded from its events.
// Plain data; only Evolve() (aggregate.h) changes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "payments/events/v1/events.pb.h"
#include "payments/plan/v1/plan.pb.h"

namespace payorch::command {

namespace ev = ::payments::events::v1;

// What the gateway did for one plan step.
struct StepLedger {
  int64_t authorized = 0;  // amount processed by the step's successful attempt
  int64_t captured = 0;
  int64_t refunded = 0;
  bool voided = false;  // authorization released or sale reversed
  std::string processor_reference;
  std::string operation_key;  // key of the successful attempt
  uint32_t void_attempts = 0;  // voids started for this step, for unique void keys
};

// One attempt's record, for the CompositeResult and for late answers.
struct AttemptRecord {
  std::string operation_key;
  uint32_t step_index = 0;
  uint32_t attempt = 0;
  std::string processor_id;
  ::payments::types::v1::ErrorCode error_code = ::payments::types::v1::ERROR_CODE_UNSPECIFIED;
  int64_t amount_requested = 0;
  int64_t amount_processed = 0;
  uint32_t latency_ms = 0;
  // Resolved: succeeded, failed, not found or expired. Unresolved attempts are pending.
  bool resolved = false;
  bool succeeded = false;
  bool compensated = false;  // a void reversing a late success was started
};

// A keyed capture or refund request, for idempotency by its own key.
struct KeyedRequest {
  std::string key;
  std::string request_hash;
  std::string id;  // capture_id / refund_id
  bool final_capture = false;
};

struct PaymentState {
  std::string payment_id;
  uint64_t sequence = 0;  // sequence of the last event applied; 0 = none
  bool exists = false;    // a PaymentCreated has been applied
  ev::PaymentStatus status = ev::PAYMENT_STATUS_UNSPECIFIED;

  std::string merchant_id;
  std::string idempotency_key;
  std::string request_hash;
  std::string currency;
  int64_t amount = 0;
  ::payments::types::v1::PaymentMethod method = ::payments::types::v1::PAYMENT_METHOD_UNSPECIFIED;
  bool manual_capture = false;
  bool confirmed = false;

  ::payments::plan::v1::PaymentPlan plan;
  std::vector<StepLedger> ledger;      // one per plan step
  std::vector<AttemptRecord> attempts;  // every step attempt, in order
  uint32_t current_step = 0;
  uint32_t current_attempt = 0;  // 1-based; 0 = no attempt yet on current_step
  int64_t processed = 0;         // sum of ledger[].authorized
  int64_t captured = 0;
  int64_t refunded = 0;
  int64_t reversed = 0;  // compensated by voids of successful steps
  int64_t deadline_at_ms = 0;

  // Gateway operations logged as started and not yet answered.
  std::vector<ev::GatewayOperation> pending;
  std::vector<KeyedRequest> captures;
  std::vector<KeyedRequest> refunds;
  // Keys of answered capture/void/refund operations, so a repeated answer is recognised.
  std::vector<std::string> resolved_operations;

  bool IsTerminal() const;
  const ev::GatewayOperation* FindPending(std::string_view key) const;
  const AttemptRecord* FindAttempt(std::string_view key) const;
  int64_t Remaining() const { return amount - processed; }
};

}  // namespace payorch::command
