// Evolve: what each event does to a PaymentState, one short function per event, then the
// status move PaymentStatusAfter (status.h) decides for it, checked against transitions.h by
// SetStatus. Never fails: an event that does not fit leaves the state as it was, apart
// from its sequence.
#include <string>

#include "command/aggregate.h"
#include "command/internal/payment_edit.h"
#include "command/invariants.h"
#include "command/status.h"
#include "command/transitions.h"

namespace payorch::command {
namespace {

namespace pl = ::payments::plan::v1;
namespace ty = ::payments::types::v1;
using internal::AssignOperation;
using internal::FindAttemptMutable;
using internal::IsAuthorization;
using internal::LedgerFor;
using internal::RememberKeyed;
using internal::RemovePending;

// The one write of a payment's status: to `to`, as event `trigger` asks. An edge kLifecycle
// (transitions.h) lacks is a breach: the status stays, the breach is reported
// (invariants.h).
void SetStatus(PaymentState& s, ev::PaymentStatus to, ev::EventEnvelope::EventCase trigger) {
  if (IsValidTransition(s.status, to, trigger)) {
    s.status = to;
    return;
  }
  std::string what = "payment ";
  what += s.payment_id;
  what += ": illegal status transition ";
  what += StatusName(s.status);
  what += " -> ";
  what += StatusName(to);
  what += " by event case ";
  what += std::to_string(static_cast<int>(trigger));
  ReportBreach(what);
}

void PaymentCreated(PaymentState& s, const ev::EventEnvelope& e) {
  if (s.exists) return;
  const auto& pc = e.payment_created();
  s.exists = true;
  s.merchant_id = e.merchant_id();
  s.amount = pc.amount().amount_minor();
  s.currency = pc.amount().currency();
  s.method = pc.method();
  s.created_at_ms = e.occurred_at_ms();
  s.manual_capture = pc.capture_mode() == ty::CAPTURE_MODE_MANUAL;
  s.idempotency_key = pc.idempotency_key();
  s.request_hash = pc.request_hash();
}

void PlanBuilt(PaymentState& s, const ev::PlanBuilt& pb) {
  const pl::PaymentPlan& plan = pb.plan();
  const auto steps = static_cast<size_t>(plan.steps_size());
  s.plan.steps.clear();
  s.plan.steps.reserve(steps);
  for (const pl::PaymentStep& step : plan.steps()) {
    PlanStep& ps = s.plan.steps.emplace_back();
    ps.method = step.method();
    ps.role = step.role();
    ps.max_amount_minor = step.max_amount_minor();
    ps.processor_id = step.processor_id();
  }
  s.plan.max_retries_per_step = plan.max_retries_per_step();
  s.plan.attempt_timeout_ms = plan.attempt_timeout_ms();
  s.plan.processing_deadline_ms = plan.processing_deadline_ms();
  // Steps before first_step were attempted under an earlier plan: their ledger stays.
  if (pb.first_step() == 0) s.ledger.clear();
  while (s.ledger.size() < steps) s.ledger.emplace_back();
  if (pb.method() != ty::PAYMENT_METHOD_UNSPECIFIED) s.method = pb.method();
  s.current_step = pb.first_step();
  s.current_attempt = 0;
}

void StepStarted(PaymentState& s, const ev::StepStarted& st) {
  const auto& op = st.op();
  AssignOperation(s.pending.emplace_back(), op);
  s.current_step = op.step_index();
  s.current_attempt = op.attempt();
  AttemptRecord& a = s.attempts.emplace_back();
  a.operation_key = op.idempotency_key();
  a.step_index = op.step_index();
  a.attempt = op.attempt();
  a.processor_id = op.processor_id();
  a.amount_requested = op.amount().amount_minor();
}

void StepSucceeded(PaymentState& s, const ev::StepSucceeded& ss) {
  const int64_t amount = ss.result().amount_processed_minor();
  RemovePending(s, ss.op().idempotency_key());
  if (AttemptRecord* a = FindAttemptMutable(s, ss.op().idempotency_key())) {
    a->resolved = true;
    a->succeeded = true;
    a->amount_processed = amount;
    a->latency_ms = ss.result().latency_ms();
  }
  if (StepLedger* l = LedgerFor(s, ss.op().step_index())) {
    l->authorized += amount;
    l->processor_reference = ss.processor_reference();
    l->operation_key = ss.op().idempotency_key();
    if (ss.op().kind() == ev::OPERATION_KIND_SALE) {
      l->captured += amount;
      s.captured += amount;
    }
  }
  s.processed += amount;
}

void StepFailed(PaymentState& s, const ev::StepFailed& sf) {
  RemovePending(s, sf.op().idempotency_key());
  if (AttemptRecord* a = FindAttemptMutable(s, sf.op().idempotency_key())) {
    a->resolved = true;
    a->error_code = sf.result().error_code();
    a->latency_ms = sf.result().latency_ms();
  }
}

void PaymentProcessing(PaymentState& s, const ev::PaymentProcessing& pp) {
  if (!IsAuthorization(pp.op().kind())) return;
  s.deadline_at_ms = pp.deadline_at_ms();
}

void ProcessingExpired(PaymentState& s, const ev::ProcessingExpired& pe) {
  const auto& key = pe.op().idempotency_key();
  RemovePending(s, key);
  if (AttemptRecord* a = FindAttemptMutable(s, key)) {
    a->resolved = true;
    a->error_code = ty::ERROR_CODE_TIMEOUT;
  }
}

// An answered capture, void or refund: no longer pending, remembered as resolved.
void Resolved(PaymentState& s, const ev::GatewayOperation& op) {
  RemovePending(s, op.idempotency_key());
  s.resolved_operations.emplace_back(op.idempotency_key());
}

void CaptureStarted(PaymentState& s, const ev::CaptureStarted& cs) {
  AssignOperation(s.pending.emplace_back(), cs.op());
  RememberKeyed(s.captures, cs.idempotency_key(), cs.request_hash(), cs.capture_id(),
                cs.final_capture());
}

void PaymentCaptured(PaymentState& s, const ev::PaymentCaptured& pc) {
  const int64_t amount = pc.op().amount().amount_minor();
  Resolved(s, pc.op());
  if (StepLedger* l = LedgerFor(s, pc.op().step_index())) l->captured += amount;
  s.captured += amount;
}

void VoidStarted(PaymentState& s, const ev::VoidStarted& vs) {
  const auto& op = vs.op();
  AssignOperation(s.pending.emplace_back(), op);
  if (StepLedger* l = LedgerFor(s, op.step_index())) ++l->void_attempts;
  if (AttemptRecord* a = FindAttemptMutable(s, op.parent_id())) a->compensated = true;
}

void PaymentVoided(PaymentState& s, const ev::PaymentVoided& pv) {
  if (!pv.has_op()) return;
  const auto& op = pv.op();
  Resolved(s, op);
  const AttemptRecord* reversed = s.FindAttempt(op.parent_id());
  // A compensation of a late success reverses money the ledger never counted.
  const bool counted =
      VoidReleasesCountedMoney(!op.parent_id().empty(), reversed != nullptr && reversed->succeeded);
  if (counted) {
    if (StepLedger* l = LedgerFor(s, op.step_index())) l->voided = true;
  }
  if (pv.compensation() && counted) s.reversed += op.amount().amount_minor();
}

void RefundStarted(PaymentState& s, const ev::RefundStarted& rs) {
  AssignOperation(s.pending.emplace_back(), rs.op());
  RememberKeyed(s.refunds, rs.idempotency_key(), rs.request_hash(), rs.refund_id(), false);
}

void RefundSucceeded(PaymentState& s, const ev::RefundSucceeded& rs) {
  const auto& op = rs.op();
  Resolved(s, op);
  if (StepLedger* l = LedgerFor(s, op.step_index())) l->refunded += op.amount().amount_minor();
  s.refunded += op.amount().amount_minor();
}

// What `e` does to the payment's operations, attempts and money; the status is Evolve's.
void Apply(PaymentState& s, const ev::EventEnvelope& e) {
  using E = ev::EventEnvelope;
  switch (e.event_case()) {
    case E::kPaymentCreated:
      return PaymentCreated(s, e);
    case E::kPlanBuilt:
      return PlanBuilt(s, e.plan_built());
    case E::kPaymentConfirmed:
      s.confirmed = true;
      return;
    case E::kStepStarted:
      return StepStarted(s, e.step_started());
    case E::kStepSucceeded:
      return StepSucceeded(s, e.step_succeeded());
    case E::kStepFailed:
      return StepFailed(s, e.step_failed());
    case E::kPaymentProcessing:
      return PaymentProcessing(s, e.payment_processing());
    case E::kProcessingExpired:
      return ProcessingExpired(s, e.processing_expired());
    case E::kCaptureStarted:
      return CaptureStarted(s, e.capture_started());
    case E::kPaymentCaptured:
      return PaymentCaptured(s, e.payment_captured());
    case E::kCaptureFailed:
      return Resolved(s, e.capture_failed().op());
    case E::kVoidStarted:
      return VoidStarted(s, e.void_started());
    case E::kPaymentVoided:
      return PaymentVoided(s, e.payment_voided());
    case E::kVoidFailed:
      return Resolved(s, e.void_failed().op());
    case E::kRefundStarted:
      return RefundStarted(s, e.refund_started());
    case E::kRefundSucceeded:
      return RefundSucceeded(s, e.refund_succeeded());
    case E::kRefundFailed:
      return Resolved(s, e.refund_failed().op());
    default:  // completed, failed, canceled (the status only), rejections, claims
      return;
  }
}

}  // namespace

void Evolve(PaymentState& s, const ev::EventEnvelope& e) {
  if (e.payment_id().empty() || (!s.payment_id.empty() && e.payment_id() != s.payment_id)) return;
  if (s.payment_id.empty()) s.payment_id = e.payment_id();
  if (e.sequence() > s.sequence) s.sequence = e.sequence();
  const ev::PaymentStatus before = s.status;
  Apply(s, e);
  if (const auto to = PaymentStatusAfter(before, e, StatusFactsOf(s, e))) {
    SetStatus(s, *to, e.event_case());
  }
}

bool IsRetryable(ty::ErrorCode code) {
  return code == ty::ERROR_CODE_TIMEOUT || code == ty::ERROR_CODE_NETWORK_FAILURE ||
         code == ty::ERROR_CODE_PROCESSOR_UNAVAILABLE;
}

const char* EventTypeName(const ev::EventEnvelope& event) {
  const auto* field = ev::EventEnvelope::descriptor()->FindFieldByNumber(event.event_case());
  if (field == nullptr) return "Unknown";
  return field->message_type()->name().c_str();
}

}  // namespace payorch::command
