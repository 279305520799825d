// Decide for the gateway side of a payment: starting attempts, their answers (in time,
// late, or for a capture, void or refund), compensation voids, expiry, and the plan's
// progress to completion or failure.
#include <algorithm>
#include <string>

#include "command/internal/decider.h"
#include "command/parser.h"
#include "command/transitions.h"

namespace payorch::command::internal {

void Decider::FillOperation(ev::GatewayOperation* op, ev::OperationKind kind, uint32_t step,
                            int64_t amount) {
  op->set_kind(kind);
  op->set_step_index(step);
  if (step < s_.plan.steps.size()) {
    SetText(op, &ev::GatewayOperation::mutable_processor_id, s_.plan.steps[step].processor_id);
    op->set_method(s_.plan.steps[step].method);
  }
  ty::Money* money = out_.Attach(op, &ev::GatewayOperation::set_allocated_amount);
  money->set_amount_minor(amount);
  SetText(money, &ty::Money::mutable_currency, s_.currency);
  op->set_timeout_ms(s_.plan.attempt_timeout_ms);
}

void Decider::CopyOperation(ev::GatewayOperation* op, const PendingOperation& from) {
  op->set_kind(from.kind);
  SetText(op, &ev::GatewayOperation::mutable_idempotency_key, from.idempotency_key);
  SetText(op, &ev::GatewayOperation::mutable_processor_id, from.processor_id);
  op->set_method(from.method);
  ty::Money* money = out_.Attach(op, &ev::GatewayOperation::set_allocated_amount);
  money->set_amount_minor(from.amount_minor);
  SetText(money, &ty::Money::mutable_currency, from.currency);
  op->set_step_index(from.step_index);
  op->set_attempt(from.attempt);
  op->set_timeout_ms(from.timeout_ms);
  SetText(op, &ev::GatewayOperation::mutable_target_reference, from.target_reference);
  SetText(op, &ev::GatewayOperation::mutable_parent_id, from.parent_id);
}

void Decider::StartAttempt(uint32_t step, uint32_t attempt) {
  const PlanStep& ps = s_.plan.steps[step];
  const int64_t remaining = s_.Remaining();
  const int64_t amount =
      ps.max_amount_minor > 0 ? std::min(remaining, ps.max_amount_minor) : remaining;
  ev::EventEnvelope& e = Begin();
  auto* started = out_.Attach(&e, &ev::EventEnvelope::set_allocated_step_started);
  ev::GatewayOperation* op = out_.Attach(started, &ev::StepStarted::set_allocated_op);
  FillOperation(op, s_.manual_capture ? ev::OPERATION_KIND_AUTHORIZE : ev::OPERATION_KIND_SALE,
                step, amount);
  op->set_attempt(attempt);
  WriteOperationKey(op->mutable_idempotency_key(), s_.payment_id, 's', step, 'a', attempt);
  Commit(e);
}

void Decider::FillResult(res::Result* result, const PendingOperation& op,
                         const cmd::RecordGatewayResult& r, bool success, ty::ErrorCode code,
                         int64_t amount) const {
  result->set_schema_version(kSchemaVersion);
  result->set_success(success);
  SetText(result, &res::Result::mutable_processor_id, op.processor_id);
  result->set_error_code(code);
  result->set_amount_processed_minor(amount);
  result->set_latency_ms(r.latency_ms());
  result->set_retryable(!success && IsRetryable(code));
  result->set_step_index(op.step_index);
  result->set_attempt(op.attempt);
}

void Decider::OnGatewayResult(const cmd::RecordGatewayResult& r) {
  if (r.outcome() == cmd::GATEWAY_OUTCOME_UNSPECIFIED ||
      !cmd::GatewayOutcome_IsValid(r.outcome())) {
    return Reject(ev::REJECT_REASON_OUTCOME_MISSING, "gateway result without an outcome",
                  "request/malformed");
  }
  // `op` lives in s_.pending until the answer's event is applied: the handlers read it
  // before Commit() and keep what they need afterwards.
  if (const PendingOperation* op = s_.FindPending(r.operation_key())) {
    if (op->IsAuthorization()) return OnAttemptResult(*op, r);
    return OnOperationResult(*op, r);
  }
  if (const AttemptRecord* attempt = s_.FindAttempt(r.operation_key())) {
    return OnLateResult(*attempt, r);
  }
  for (const auto& resolved : s_.resolved_operations) {
    if (resolved == r.operation_key()) return Deduplicated(r.operation_key());
  }
  Reject(ev::REJECT_REASON_OPERATION_UNKNOWN,
         "no operation '" + TruncateUtf8(r.operation_key(), 128) + "' was started");
}

void Decider::OnAttemptResult(const PendingOperation& op, const cmd::RecordGatewayResult& r) {
  // An open breaker's skip says that connector did not call. Once a call under the key
  // has an unknown outcome, that says nothing about it: a retrieve or the deadline decides.
  if (r.circuit_open() && s_.status == ev::PAYMENT_STATUS_PROCESSING) {
    return Deduplicated(op.idempotency_key);
  }
  switch (r.outcome()) {
    case cmd::GATEWAY_OUTCOME_SUCCEEDED: {
      const int64_t asked = op.amount_minor;
      int64_t amount = r.amount_processed_minor();
      if (amount <= 0 || amount > asked) amount = asked;  // a gateway never takes more
      ev::EventEnvelope& e = Begin();
      auto* ss = out_.Attach(&e, &ev::EventEnvelope::set_allocated_step_succeeded);
      AttachOperation(ss, op);
      FillResult(AttachResult(ss), op, r, true, ty::ERROR_CODE_UNSPECIFIED, amount);
      SetText(ss, &ev::StepSucceeded::mutable_processor_reference, r.processor_reference());
      Commit(e);
      return Advance();
    }
    case cmd::GATEWAY_OUTCOME_UNKNOWN: {
      if (s_.status == ev::PAYMENT_STATUS_PROCESSING) return Deduplicated(op.idempotency_key);
      ev::EventEnvelope& e = Begin();
      auto* pp = out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_processing);
      AttachOperation(pp, op);
      pp->set_deadline_at_ms(rec_.timestamp_ms + s_.plan.processing_deadline_ms);
      Commit(e);
      return;
    }
    case cmd::GATEWAY_OUTCOME_FAILED:
    case cmd::GATEWAY_OUTCOME_NOT_FOUND:
    default: {
      ty::ErrorCode code =
          r.outcome() == cmd::GATEWAY_OUTCOME_NOT_FOUND ? ty::ERROR_CODE_TIMEOUT : r.error_code();
      if (code == ty::ERROR_CODE_UNSPECIFIED || !ty::ErrorCode_IsValid(code)) {
        code = ty::ERROR_CODE_UNKNOWN;
      }
      // A step skipped by an open circuit breaker is not retried: the plan moves on.
      const bool retry =
          !r.circuit_open() && IsRetryable(code) && op.attempt <= s_.plan.max_retries_per_step;
      const uint32_t step = op.step_index;
      const uint32_t attempt = op.attempt;
      ev::EventEnvelope& e = Begin();
      auto* sf = out_.Attach(&e, &ev::EventEnvelope::set_allocated_step_failed);
      AttachOperation(sf, op);
      FillResult(AttachResult(sf), op, r, false, code, 0);
      sf->set_will_retry(retry);
      sf->set_circuit_open(r.circuit_open());
      Commit(e);  // `op` is gone from here on
      if (code == ty::ERROR_CODE_HARD_DECLINE) return FailPlan("hard_decline");
      if (retry) return StartAttempt(step, attempt + 1);
      return Advance();
    }
  }
}

void Decider::OnLateResult(const AttemptRecord& attempt, const cmd::RecordGatewayResult& r) {
  // An answer for an attempt already resolved. Only a success the payment did not count
  // matters: the money moved, so it is reversed. Anything else repeats what we know.
  if (r.outcome() != cmd::GATEWAY_OUTCOME_SUCCEEDED || attempt.succeeded || attempt.compensated) {
    return Deduplicated(attempt.operation_key);
  }
  int64_t amount = r.amount_processed_minor();
  if (amount <= 0) amount = attempt.amount_requested;
  StartVoid(attempt.step_index, amount, r.processor_reference(), attempt.operation_key,
            "late_success");
}

void Decider::OnOperationResult(const PendingOperation& op, const cmd::RecordGatewayResult& r) {
  const auto outcome = r.outcome();
  if (outcome == cmd::GATEWAY_OUTCOME_UNKNOWN) {
    ev::EventEnvelope& e = Begin();
    auto* pp = out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_processing);
    AttachOperation(pp, op);
    pp->set_deadline_at_ms(rec_.timestamp_ms + s_.plan.processing_deadline_ms);
    Commit(e);
    return;
  }
  const bool ok = outcome == cmd::GATEWAY_OUTCOME_SUCCEEDED;
  ty::ErrorCode code =
      ok ? ty::ERROR_CODE_UNSPECIFIED
         : (outcome == cmd::GATEWAY_OUTCOME_NOT_FOUND ? ty::ERROR_CODE_NETWORK_FAILURE
                                                      : r.error_code());
  if (!ok && (code == ty::ERROR_CODE_UNSPECIFIED || !ty::ErrorCode_IsValid(code))) {
    code = ty::ERROR_CODE_UNKNOWN;
  }
  const int64_t amount = op.amount_minor;
  std::optional<PendingOperation> retry_compensation;  // a failed compensation void
  ev::EventEnvelope& e = Begin();
  switch (op.kind) {
    case ev::OPERATION_KIND_CAPTURE:
      if (ok) {
        auto* pc = out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_captured);
        SetText(pc, &ev::PaymentCaptured::mutable_capture_id, op.parent_id);
        AttachOperation(pc, op);
        pc->set_total_captured_minor(s_.captured + amount);
      } else {
        auto* cf = out_.Attach(&e, &ev::EventEnvelope::set_allocated_capture_failed);
        SetText(cf, &ev::CaptureFailed::mutable_capture_id, op.parent_id);
        AttachOperation(cf, op);
        FillResult(AttachResult(cf), op, r, false, code, 0);
      }
      break;
    case ev::OPERATION_KIND_VOID:
      if (ok) {
        auto* pv = out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_voided);
        AttachOperation(pv, op);
        pv->set_compensation(!op.parent_id.empty());
        SetText(pv, &ev::PaymentVoided::mutable_reason,
                op.parent_id.empty() ? "requested" : "compensation");
      } else {
        auto* vf = out_.Attach(&e, &ev::EventEnvelope::set_allocated_void_failed);
        AttachOperation(vf, op);
        FillResult(AttachResult(vf), op, r, false, code, 0);
        if (!op.parent_id.empty()) retry_compensation = op;
      }
      break;
    case ev::OPERATION_KIND_REFUND:
    default:
      if (ok) {
        auto* rs = out_.Attach(&e, &ev::EventEnvelope::set_allocated_refund_succeeded);
        SetText(rs, &ev::RefundSucceeded::mutable_refund_id, op.parent_id);
        AttachOperation(rs, op);
        rs->set_total_refunded_minor(s_.refunded + amount);
      } else {
        auto* rf = out_.Attach(&e, &ev::EventEnvelope::set_allocated_refund_failed);
        SetText(rf, &ev::RefundFailed::mutable_refund_id, op.parent_id);
        AttachOperation(rf, op);
        FillResult(AttachResult(rf), op, r, false, code, 0);
      }
      break;
  }
  Commit(e);  // `op` is gone from here on
  if (retry_compensation) RetryCompensation(*retry_compensation);
}

// Money a compensation void reverses must come back: a failed one is started again under
// a fresh key, up to kMaxVoidsPerStep voids per step. The reason is the original one: a
// reversal of a counted step is "plan_failed", of a late success "late_success".
void Decider::RetryCompensation(const PendingOperation& failed) {
  const uint32_t step = failed.step_index;
  if (step >= s_.ledger.size() || s_.ledger[step].void_attempts >= kMaxVoidsPerStep) return;
  const AttemptRecord* reversed = s_.FindAttempt(failed.parent_id);
  const bool counted = reversed != nullptr && reversed->succeeded;
  StartVoid(step, failed.amount_minor, failed.target_reference, failed.parent_id,
            counted ? "plan_failed" : "late_success");
}

void Decider::Advance() {
  if (s_.Remaining() <= 0) return Complete();
  const auto steps = static_cast<uint32_t>(s_.plan.steps.size());
  for (uint32_t j = s_.current_step + 1; j < steps; ++j) {
    if (s_.plan.steps[j].role == pl::STEP_ROLE_FALLBACK) {
      // A fallback runs only if the step before it ran and processed nothing.
      const uint32_t prev = j - 1;
      const bool prev_ran =
          std::any_of(s_.attempts.begin(), s_.attempts.end(),
                      [&](const AttemptRecord& a) { return a.step_index == prev; });
      if (!prev_ran || s_.ledger[prev].authorized > 0) continue;
    }
    return StartAttempt(j, 1);
  }
  FailPlan(s_.processed > 0 ? "plan_exhausted_partial" : "plan_exhausted");
}

void Decider::FillComposite(res::CompositeResult* out) const {
  out->set_schema_version(kSchemaVersion);
  out->set_success(s_.Remaining() == 0);
  out->set_total_processed_minor(s_.processed);
  out->set_remaining_minor(s_.Remaining());
  SetText(out, &res::CompositeResult::mutable_currency, s_.currency);
  ty::ErrorCode final_error = ty::ERROR_CODE_UNSPECIFIED;
  for (const auto& a : s_.attempts) {
    if (!a.resolved) continue;
    res::Result* r = out->add_steps();
    r->set_schema_version(kSchemaVersion);
    r->set_success(a.succeeded);
    SetText(r, &res::Result::mutable_processor_id, a.processor_id);
    r->set_error_code(a.error_code);
    r->set_amount_processed_minor(a.amount_processed);
    r->set_latency_ms(a.latency_ms);
    r->set_retryable(!a.succeeded && IsRetryable(a.error_code));
    r->set_step_index(a.step_index);
    r->set_attempt(a.attempt);
    if (!a.succeeded) final_error = a.error_code;
  }
  if (s_.Remaining() > 0) out->set_final_error(final_error);
}

void Decider::Complete() {
  ev::EventEnvelope& e = Begin();
  auto* pc = out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_completed);
  FillComposite(AttachResult(pc));
  pc->set_status(s_.manual_capture ? ev::PAYMENT_STATUS_REQUIRES_CAPTURE
                                   : ev::PAYMENT_STATUS_SUCCEEDED);
  Commit(e);
}

void Decider::StartVoid(uint32_t step, int64_t amount, std::string_view target_reference,
                        std::string_view reversed_key, std::string_view reason) {
  const StepLedger* ledger = step < s_.ledger.size() ? &s_.ledger[step] : nullptr;
  const uint32_t n = ledger == nullptr ? 1 : ledger->void_attempts + 1;
  ev::EventEnvelope& e = Begin();
  auto* vs = out_.Attach(&e, &ev::EventEnvelope::set_allocated_void_started);
  ev::GatewayOperation* op = out_.Attach(vs, &ev::VoidStarted::set_allocated_op);
  FillOperation(op, ev::OPERATION_KIND_VOID, step, amount);
  WriteOperationKey(op->mutable_idempotency_key(), s_.payment_id, 'v', step, 'n', n);
  SetText(op, &ev::GatewayOperation::mutable_target_reference, target_reference);
  SetText(op, &ev::GatewayOperation::mutable_parent_id, reversed_key);
  SetText(vs, &ev::VoidStarted::mutable_reason, reason);
  vs->set_compensation(!reversed_key.empty());
  Commit(e);
}

void Decider::FailPlan(std::string_view reason) {
  {
    ev::EventEnvelope& e = Begin();
    auto* pf = out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_failed);
    FillComposite(AttachResult(pf));
    SetText(pf, &ev::PaymentFailed::mutable_reason, reason);
    Commit(e);
  }
  // All or nothing: reverse every step that succeeded before the plan failed.
  for (uint32_t step = 0; step < s_.ledger.size(); ++step) {
    const StepLedger& l = s_.ledger[step];
    if (l.authorized > 0 && !l.voided) {
      StartVoid(step, l.authorized, l.processor_reference, l.operation_key, "plan_failed");
    }
  }
}

void Decider::OnExpire(const cmd::ExpireProcessing& x) {
  const PendingOperation* pending = s_.FindPending(x.operation_key());
  if (pending == nullptr || !pending->IsAuthorization() ||
      s_.status != ev::PAYMENT_STATUS_PROCESSING) {
    // Deduplicated only if the attempt was already resolved (e.g. expired before); an
    // attempt still in flight without an unknown outcome cannot expire.
    const AttemptRecord* attempt = s_.FindAttempt(x.operation_key());
    if (attempt != nullptr && attempt->resolved) return Deduplicated(x.operation_key());
    return Reject(ev::REJECT_REASON_OPERATION_NOT_PENDING,
                  "no attempt '" + TruncateUtf8(x.operation_key(), 128) + "' is processing");
  }
  if (rec_.timestamp_ms < s_.deadline_at_ms) {
    return Reject(ev::REJECT_REASON_DEADLINE_NOT_REACHED,
                  "deadline is at " + std::to_string(s_.deadline_at_ms));
  }
  const PendingOperation op = *pending;
  {
    ev::EventEnvelope& e = Begin();
    AttachOperation(out_.Attach(&e, &ev::EventEnvelope::set_allocated_processing_expired), op);
    Commit(e);
  }
  FailPlan("processing_deadline");
}

}  // namespace payorch::command::internal
