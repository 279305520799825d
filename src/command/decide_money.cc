// Decide for the merchant's money commands on an authorized payment: capture, void and
// refund. Captures and refunds share their guards and are split across the plan's steps
// by one helper (SplitAcrossSteps); see aggregate.h for the key formats.
#include <string>

#include "command/internal/decider.h"
#include "command/parser.h"
#include "command/transitions.h"

namespace payorch::command::internal {

bool Decider::AnsweredByKey(std::string_view what, std::string_view key, const HexDigest& hash,
                            const std::vector<KeyedRequest>& seen) {
  if (key.empty()) {
    Reject(ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING,
           std::string(what) + " needs an idempotency_key", "request/malformed");
    return true;
  }
  if (key.size() > kMaxIdempotencyKeyLength) {
    Reject(ev::REJECT_REASON_FIELD_TOO_LONG, "idempotency_key longer than 255 bytes",
           "request/malformed");
    return true;
  }
  if (const KeyedRequest* earlier = FindKeyed(seen, key)) {
    if (earlier->request_hash == hash.view()) {
      Deduplicated(earlier->id);
    } else {
      Reject(ev::REJECT_REASON_IDEMPOTENCY_MISMATCH,
             std::string(what) + " idempotency_key reused with a different request",
             "idempotency/mismatch");
    }
    return true;
  }
  return false;
}

bool Decider::RequireStatus(ev::PaymentStatus status, std::string_view verb) {
  if (s_.status == status) return true;
  Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
         "cannot " + std::string(verb) + " a payment in status " + StatusName(s_.status));
  return false;
}

bool Decider::RequireNothingInFlight() {
  if (s_.pending.empty()) return true;
  Reject(ev::REJECT_REASON_OPERATION_IN_FLIGHT,
         "another operation is in flight; retry when it is answered");
  return false;
}

void Decider::FillPartOperation(ev::GatewayOperation* op, ev::OperationKind kind, uint32_t step,
                                int64_t part, std::string_view parent_id) {
  FillOperation(op, kind, step, part);
  WriteOperationKey(op->mutable_idempotency_key(), parent_id, 's', step);
  SetText(op, &ev::GatewayOperation::mutable_target_reference, s_.ledger[step].processor_reference);
  SetText(op, &ev::GatewayOperation::mutable_parent_id, parent_id);
}

void Decider::OnCapture(const cmd::CapturePayment& c) {
  const std::string_view key = Trim(c.idempotency_key());
  const HexDigest hash =
      StableHasher().Add("capture").Add(c.amount_minor()).Add(c.final_capture() ? 1 : 0).Digest();
  if (AnsweredByKey("capture", key, hash, s_.captures)) return;
  if (!RequireStatus(ev::PAYMENT_STATUS_REQUIRES_CAPTURE, "capture")) return;
  if (!RequireNothingInFlight()) return;
  const int64_t capturable = Capturable(s_);
  if (c.amount_minor() < 0) {
    return Reject(ev::REJECT_REASON_AMOUNT_NOT_POSITIVE, "capture amount must not be negative",
                  "request/malformed");
  }
  if (auto refused = CheckAmountPrecision(c.amount_minor(), s_.currency)) return Reject(*refused);
  const int64_t amount = c.amount_minor() == 0 ? capturable : c.amount_minor();
  if (amount > capturable || amount == 0) {
    return Reject(
        ev::REJECT_REASON_CAPTURE_EXCEEDS_AUTHORIZED,
        "capture " + std::to_string(amount) + " exceeds capturable " + std::to_string(capturable));
  }
  const IdChars capture_id =
      PrefixedDigest("cap_", StableHasher().Add(s_.payment_id).Add(key).Digest());
  SplitAcrossSteps(
      amount, [](const StepLedger& l) { return l.voided ? 0 : l.authorized - l.captured; },
      [&](uint32_t step, int64_t part) {
        ev::EventEnvelope& e = Begin();
        auto* cs = out_.Attach(&e, &ev::EventEnvelope::set_allocated_capture_started);
        SetText(cs, &ev::CaptureStarted::mutable_capture_id, capture_id.view());
        SetText(cs, &ev::CaptureStarted::mutable_idempotency_key, key);
        SetText(cs, &ev::CaptureStarted::mutable_request_hash, hash.view());
        cs->set_final_capture(c.final_capture());
        FillPartOperation(out_.Attach(cs, &ev::CaptureStarted::set_allocated_op),
                          ev::OPERATION_KIND_CAPTURE, step, part, capture_id.view());
        Commit(e);
      });
}

void Decider::OnVoid(const cmd::VoidPayment& c) {
  ReleaseAuthorization("void", TruncateUtf8(Trim(c.reason()), kMaxReferenceLength));
}

void Decider::ReleaseAuthorization(std::string_view verb, std::string_view reason) {
  if (s_.status != ev::PAYMENT_STATUS_REQUIRES_CAPTURE || s_.captured > 0) {
    return Reject(
        ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
        std::string(verb) + " is allowed only before any capture; status " + StatusName(s_.status));
  }
  if (!RequireNothingInFlight()) return;
  bool started = false;
  for (uint32_t step = 0; step < s_.ledger.size(); ++step) {
    const StepLedger& l = s_.ledger[step];
    if (l.authorized > 0 && !l.voided) {
      StartVoid(step, l.authorized, l.processor_reference, "", reason);
      started = true;
    }
  }
  if (!started) {
    ev::EventEnvelope& e = Begin();
    SetText(out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_voided),
            &ev::PaymentVoided::mutable_reason, "nothing_authorized");
    Commit(e);
  }
}

void Decider::OnRefund(const cmd::RefundPayment& c) {
  const std::string_view key = Trim(c.idempotency_key());
  const HexDigest hash = StableHasher().Add("refund").Add(c.amount_minor()).Digest();
  if (AnsweredByKey("refund", key, hash, s_.refunds)) return;
  if (s_.captured <= 0 || (s_.status != ev::PAYMENT_STATUS_SUCCEEDED &&
                           s_.status != ev::PAYMENT_STATUS_REQUIRES_CAPTURE)) {
    return Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                  std::string("nothing captured to refund; status ") + StatusName(s_.status));
  }
  if (!RequireNothingInFlight()) return;
  if (c.amount_minor() <= 0) {
    return Reject(ev::REJECT_REASON_AMOUNT_NOT_POSITIVE, "refund amount must be > 0",
                  "request/malformed");
  }
  if (auto refused = CheckAmountPrecision(c.amount_minor(), s_.currency)) return Reject(*refused);
  const int64_t refundable = s_.captured - s_.refunded;
  if (c.amount_minor() > refundable) {
    return Reject(ev::REJECT_REASON_REFUND_EXCEEDS_CAPTURED,
                  "refund " + std::to_string(c.amount_minor()) + " exceeds refundable " +
                      std::to_string(refundable));
  }
  const IdChars refund_id =
      PrefixedDigest("ref_", StableHasher().Add(s_.payment_id).Add(key).Digest());
  SplitAcrossSteps(
      c.amount_minor(), [](const StepLedger& l) { return l.voided ? 0 : l.captured - l.refunded; },
      [&](uint32_t step, int64_t part) {
        ev::EventEnvelope& e = Begin();
        auto* rs = out_.Attach(&e, &ev::EventEnvelope::set_allocated_refund_started);
        SetText(rs, &ev::RefundStarted::mutable_refund_id, refund_id.view());
        SetText(rs, &ev::RefundStarted::mutable_idempotency_key, key);
        SetText(rs, &ev::RefundStarted::mutable_request_hash, hash.view());
        FillPartOperation(out_.Attach(rs, &ev::RefundStarted::set_allocated_op),
                          ev::OPERATION_KIND_REFUND, step, part, refund_id.view());
        Commit(e);
      });
}

}  // namespace payorch::command::internal
