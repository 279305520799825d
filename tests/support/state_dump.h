// A canonical, human-readable dump of a PaymentState, field by field, so two states can be
// compared for equality with a readable diff (EXPECT_EQ(DumpState(a), DumpState(b))).
//
//   EXPECT_EQ(DumpState(folded), DumpState(decided));
//   EXPECT_EQ(DumpState(before, /*with_sequence=*/false), DumpState(after, false));
//
// Every field of PaymentState, PlanSummary, PlanStep, StepLedger, AttemptRecord,
// PendingOperation and KeyedRequest is listed: when state.h grows a field, add it here.
#pragma once

#include <sstream>
#include <string>

#include "command/state.h"

namespace payorch::testing {

inline std::string DumpState(const command::PaymentState& s, bool with_sequence = true) {
  std::ostringstream o;
  o << "payment_id=" << s.payment_id << "\n";
  if (with_sequence) o << "sequence=" << s.sequence << "\n";
  o << "exists=" << s.exists << " status=" << s.status << " confirmed=" << s.confirmed << "\n";
  o << "merchant=" << s.merchant_id << " key=" << s.idempotency_key << " hash=" << s.request_hash
    << "\n";
  o << "amount=" << s.amount << " " << s.currency << " method=" << s.method
    << " manual=" << s.manual_capture << "\n";
  o << "plan retries=" << s.plan.max_retries_per_step << " timeout=" << s.plan.attempt_timeout_ms
    << " deadline=" << s.plan.processing_deadline_ms << "\n";
  for (size_t i = 0; i < s.plan.steps.size(); ++i) {
    const auto& p = s.plan.steps[i];
    o << "plan.steps[" << i << "] method=" << p.method << " role=" << p.role
      << " max=" << p.max_amount_minor << " proc=" << p.processor_id << "\n";
  }
  for (size_t i = 0; i < s.ledger.size(); ++i) {
    const auto& l = s.ledger[i];
    o << "ledger[" << i << "] auth=" << l.authorized << " cap=" << l.captured
      << " ref=" << l.refunded << " voided=" << l.voided << " pref=" << l.processor_reference
      << " key=" << l.operation_key << " voids=" << l.void_attempts << "\n";
  }
  for (size_t i = 0; i < s.attempts.size(); ++i) {
    const auto& a = s.attempts[i];
    o << "attempt[" << i << "] key=" << a.operation_key << " s" << a.step_index << " a" << a.attempt
      << " proc=" << a.processor_id << " err=" << a.error_code << " req=" << a.amount_requested
      << " done=" << a.amount_processed << " lat=" << a.latency_ms << " resolved=" << a.resolved
      << " ok=" << a.succeeded << " comp=" << a.compensated << "\n";
  }
  o << "current=s" << s.current_step << ":a" << s.current_attempt << " processed=" << s.processed
    << " captured=" << s.captured << " refunded=" << s.refunded << " reversed=" << s.reversed
    << " deadline=" << s.deadline_at_ms << "\n";
  for (const auto& op : s.pending) {
    o << "pending kind=" << op.kind << " key=" << op.idempotency_key << " proc=" << op.processor_id
      << " method=" << op.method << " amount=" << op.amount_minor << " " << op.currency << " s"
      << op.step_index << " a" << op.attempt << " timeout=" << op.timeout_ms
      << " target=" << op.target_reference << " parent=" << op.parent_id << "\n";
  }
  for (const auto& c : s.captures) {
    o << "capture key=" << c.key << " hash=" << c.request_hash << " id=" << c.id
      << " final=" << c.final_capture << "\n";
  }
  for (const auto& r : s.refunds) {
    o << "refund key=" << r.key << " hash=" << r.request_hash << " id=" << r.id << "\n";
  }
  for (const auto& k : s.resolved_operations) o << "resolved " << k << "\n";
  return o.str();
}

}  // namespace payorch::testing
