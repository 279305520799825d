#include "command/aggregate.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "command/hash.h"
#include "command/parser.h"
#include "command/transitions.h"

namespace payorch::command {

namespace cmd = ::payments::commands::v1;
namespace pl = ::payments::plan::v1;
namespace res = ::payments::result::v1;
namespace ty = ::payments::types::v1;

namespace {

bool IsAuthorization(ev::OperationKind kind) {
  return kind == ev::OPERATION_KIND_AUTHORIZE || kind == ev::OPERATION_KIND_SALE;
}

void RemovePending(PaymentState& s, std::string_view key) {
  auto it = std::find_if(s.pending.begin(), s.pending.end(),
                         [&](const ev::GatewayOperation& op) { return op.idempotency_key() == key; });
  if (it != s.pending.end()) s.pending.erase(it);
}

bool HasPendingKind(const PaymentState& s, ev::OperationKind kind) {
  return std::any_of(s.pending.begin(), s.pending.end(),
                     [&](const ev::GatewayOperation& op) { return op.kind() == kind; });
}

AttemptRecord* FindAttemptMutable(PaymentState& s, std::string_view key) {
  for (auto& a : s.attempts) {
    if (a.operation_key == key) return &a;
  }
  return nullptr;
}

// Authorized and neither captured nor released.
int64_t Capturable(const PaymentState& s) {
  int64_t capturable = 0;
  for (const auto& l : s.ledger) {
    if (!l.voided) capturable += l.authorized - l.captured;
  }
  return capturable;
}

StepLedger* LedgerFor(PaymentState& s, uint32_t step) {
  return step < s.ledger.size() ? &s.ledger[step] : nullptr;
}

void SetStatus(PaymentState& s, ev::PaymentStatus to) {
  if (IsValidTransition(s.status, to)) s.status = to;
}

const KeyedRequest* FindKeyed(const std::vector<KeyedRequest>& v, std::string_view key) {
  for (const auto& r : v) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

void RememberKeyed(std::vector<KeyedRequest>& v, const std::string& key, const std::string& hash,
                   const std::string& id, bool final_capture) {
  if (FindKeyed(v, key) == nullptr) v.push_back({key, hash, id, final_capture});
}

// Where decided events go: a vector (new messages) or a RepeatedPtrField (messages cleared
// by RepeatedPtrField::Clear() are reused, with their memory).
class EventSink {
 public:
  explicit EventSink(std::vector<ev::EventEnvelope>& v) : vec_(&v) {}
  explicit EventSink(google::protobuf::RepeatedPtrField<ev::EventEnvelope>& r) : rep_(&r) {}
  ev::EventEnvelope& Add() { return vec_ != nullptr ? vec_->emplace_back() : *rep_->Add(); }
  size_t size() const { return vec_ != nullptr ? vec_->size() : static_cast<size_t>(rep_->size()); }
  ev::EventEnvelope& operator[](size_t i) {
    return vec_ != nullptr ? (*vec_)[i] : *rep_->Mutable(static_cast<int>(i));
  }

 private:
  std::vector<ev::EventEnvelope>* vec_ = nullptr;
  google::protobuf::RepeatedPtrField<ev::EventEnvelope>* rep_ = nullptr;
};

void AppendDecimal(std::string& out, uint64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

void AppendDecimal(std::string& out, int64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

// Assigns a string field through its mutable pointer, so a reused message keeps its
// buffer (set_x(const char*, size_t) always builds a temporary std::string). Empty values
// are not set at all: an unset proto3 string reads and serializes as "", and a cleared
// message already holds "".
template <typename Msg>
void AssignIfNotEmpty(Msg* msg, std::string* (Msg::*mutable_field)(), std::string_view value) {
  if (!value.empty()) (msg->*mutable_field)()->assign(value.data(), value.size());
}

// Decides the events of one command, applying each to the state as it is emitted, so
// that later decisions in the same command see the state the earlier events produced.
class Decider {
 public:
  Decider(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
          EventSink& out)
      : s_(state), rec_(record), env_(*record.command), ctx_(ctx), out_(out), first_(out.size()) {}

  void Run();

 private:
  ev::EventEnvelope& Begin();
  void Commit(ev::EventEnvelope& e) { Evolve(s_, e); }

  void Reject(const Rejection& r);
  void Reject(ev::RejectReason reason, std::string detail, std::string contract_id = "") {
    Reject(Rejection{reason, std::move(detail), std::move(contract_id)});
  }
  void Deduplicated(std::string original_id);

  void OnCreate(const cmd::CreatePayment& c);
  void OnConfirm();
  void OnCapture(const cmd::CapturePayment& c);
  void OnVoid(const cmd::VoidPayment& c);
  void OnRefund(const cmd::RefundPayment& c);
  void OnCancel(const cmd::CancelPayment& c);
  void OnGatewayResult(const cmd::RecordGatewayResult& r);
  void OnExpire(const cmd::ExpireProcessing& x);

  void OnAttemptResult(const ev::GatewayOperation& op, const cmd::RecordGatewayResult& r);
  void OnOperationResult(const ev::GatewayOperation& op, const cmd::RecordGatewayResult& r);
  void OnLateResult(const AttemptRecord& attempt, const cmd::RecordGatewayResult& r);

  void StartAttempt(uint32_t step, uint32_t attempt);
  void Advance();
  void Complete();
  void FailPlan(const std::string& reason);
  void StartVoid(uint32_t step, int64_t amount, const std::string& target_reference,
                 const std::string& reversed_key, const std::string& reason);
  void FillComposite(res::CompositeResult* out) const;
  res::Result MakeResult(const ev::GatewayOperation& op, const cmd::RecordGatewayResult& r,
                         bool success, ty::ErrorCode code, int64_t amount) const;
  ev::GatewayOperation BaseOperation(ev::OperationKind kind, uint32_t step, int64_t amount) const;

  PaymentState& s_;
  const CommandRecord& rec_;
  const cmd::CommandEnvelope& env_;
  const DecideContext& ctx_;
  EventSink& out_;
  const size_t first_;  // index in out_ of this command's first event
  std::string merchant_for_orphan_;
};

ev::EventEnvelope& Decider::Begin() {
  ev::EventEnvelope* e = &out_.Add();
  e->set_schema_version(kSchemaVersion);
  e->set_epoch(ctx_.epoch);
  AssignIfNotEmpty(e, &ev::EventEnvelope::mutable_correlation_id, env_.correlation_id());
  e->set_occurred_at_ms(rec_.timestamp_ms);
  ev::Causation* c = e->mutable_causation();
  AssignIfNotEmpty(c, &ev::Causation::mutable_topic, rec_.topic);
  c->set_partition(rec_.partition);
  c->set_offset(rec_.offset);
  AssignIfNotEmpty(c, &ev::Causation::mutable_command_id, env_.command_id());
  std::string* id = e->mutable_event_id();
  if (s_.payment_id.empty()) {
    id->assign("cmd/");
    AppendDecimal(*id, static_cast<int64_t>(rec_.partition));
    id->push_back('/');
    AppendDecimal(*id, rec_.offset);
    id->push_back('/');
    AppendDecimal(*id, static_cast<uint64_t>(out_.size() - 1 - first_));
    AssignIfNotEmpty(e, &ev::EventEnvelope::mutable_merchant_id, merchant_for_orphan_);
  } else {
    const uint64_t seq = s_.sequence + 1;
    AssignIfNotEmpty(e, &ev::EventEnvelope::mutable_payment_id, s_.payment_id);
    e->set_sequence(seq);
    id->assign(s_.payment_id);
    id->push_back('/');
    AppendDecimal(*id, seq);
    AssignIfNotEmpty(e, &ev::EventEnvelope::mutable_merchant_id,
                     s_.merchant_id.empty() ? merchant_for_orphan_ : s_.merchant_id);
  }
  return *e;
}

void Decider::Reject(const Rejection& r) {
  ev::EventEnvelope& e = Begin();
  auto* rej = e.mutable_command_rejected();
  rej->set_reason(r.reason);
  rej->set_detail(r.detail);
  rej->set_contract_id(r.contract_id);
  rej->set_command_type(CommandTypeName(env_));
  Commit(e);
}

void Decider::Deduplicated(std::string original_id) {
  ev::EventEnvelope& e = Begin();
  auto* d = e.mutable_command_deduplicated();
  d->set_command_type(CommandTypeName(env_));
  d->set_original_id(std::move(original_id));
  Commit(e);
}

void Decider::Run() {
  if (env_.command_case() == cmd::CommandEnvelope::kCreate) {
    merchant_for_orphan_ = std::string(Trim(env_.create().merchant_id()));
    if (merchant_for_orphan_.size() > kMaxIdLength) merchant_for_orphan_.clear();
  }
  if (env_.schema_version() != kSchemaVersion) {
    return Reject(ev::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED,
                  "schema_version " + std::to_string(env_.schema_version()) + " is not supported",
                  "request/malformed");
  }
  if (env_.payment_id().size() > kMaxIdLength) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG, "payment_id longer than 64 bytes",
                  "request/malformed");
  }
  switch (env_.command_case()) {
    case cmd::CommandEnvelope::kCreate:
      return OnCreate(env_.create());
    case cmd::CommandEnvelope::COMMAND_NOT_SET:
      return Reject(ev::REJECT_REASON_COMMAND_MISSING, "envelope carries no command",
                    "request/malformed");
    default:
      break;
  }
  if (s_.payment_id.empty()) {
    return Reject(ev::REJECT_REASON_PAYMENT_UNKNOWN, "payment_id is required",
                  "request/malformed");
  }
  if (!s_.exists) {
    return Reject(ev::REJECT_REASON_PAYMENT_UNKNOWN, "no payment " + s_.payment_id);
  }
  switch (env_.command_case()) {
    case cmd::CommandEnvelope::kConfirm:
      return OnConfirm();
    case cmd::CommandEnvelope::kCapture:
      return OnCapture(env_.capture());
    case cmd::CommandEnvelope::kVoid:
      return OnVoid(env_.void_());
    case cmd::CommandEnvelope::kRefund:
      return OnRefund(env_.refund());
    case cmd::CommandEnvelope::kCancel:
      return OnCancel(env_.cancel());
    case cmd::CommandEnvelope::kGatewayResult:
      return OnGatewayResult(env_.gateway_result());
    case cmd::CommandEnvelope::kExpire:
      return OnExpire(env_.expire());
    default:
      return Reject(ev::REJECT_REASON_COMMAND_MISSING, "unknown command", "request/malformed");
  }
}

void Decider::OnCreate(const cmd::CreatePayment& c) {
  const PlanBuilder* plans = ctx_.plans;
  const auto* merchant =
      plans == nullptr ? nullptr : plans->FindMerchant(Trim(c.merchant_id()));
  auto parsed = ParseCreate(c, merchant);
  if (!parsed.ok()) return Reject(parsed.rejection());
  CreateRequest& req = parsed.value();  // its strings move into the PaymentCreated event

  const std::string derived = DerivePaymentId(req.merchant_id, req.idempotency_key);
  if (s_.payment_id != derived) {
    return Reject(ev::REJECT_REASON_PAYMENT_ID_MISMATCH,
                  "payment_id must be derived from (merchant_id, idempotency_key): " + derived,
                  "request/malformed");
  }
  const std::string hash = req.RequestHash();
  if (s_.exists) {
    if (s_.request_hash == hash) return Deduplicated(s_.payment_id);
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_MISMATCH,
                  "idempotency_key reused with a different request", "idempotency/mismatch");
  }
  if (merchant == nullptr) {
    return Reject(ev::REJECT_REASON_MERCHANT_UNKNOWN,
                  "merchant '" + req.merchant_id + "' is not configured");
  }
  auto plan = plans->Build(req.merchant_id, req.amount, req.currency, req.method);
  if (!plan.ok()) return Reject(plan.rejection());

  {
    ev::EventEnvelope& e = Begin();
    e.set_merchant_id(req.merchant_id);
    auto* pc = e.mutable_payment_created();
    pc->mutable_amount()->set_amount_minor(req.amount);
    pc->mutable_amount()->set_currency(req.currency);
    pc->set_method(req.method);
    pc->set_capture_mode(req.manual_capture ? ty::CAPTURE_MODE_MANUAL : ty::CAPTURE_MODE_AUTOMATIC);
    pc->set_idempotency_key(std::move(req.idempotency_key));
    if (!req.customer_reference.empty()) {
      pc->set_customer_reference(std::move(req.customer_reference));
    }
    auto& metadata = *pc->mutable_metadata();
    for (auto& [key, value] : req.metadata) metadata[key] = std::move(value);
    pc->set_request_hash(hash);
    pc->mutable_issues()->Reserve(static_cast<int>(req.issues.size()));
    for (auto& issue : req.issues) *pc->add_issues() = std::move(issue);
    Commit(e);
  }
  {
    ev::EventEnvelope& e = Begin();
    *e.mutable_plan_built()->mutable_plan() = std::move(plan.value());
    Commit(e);
  }
  if (req.confirm) OnConfirm();
}

void Decider::OnConfirm() {
  if (s_.status != ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION) {
    return Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                  std::string("cannot confirm a payment in status ") + StatusName(s_.status));
  }
  ev::EventEnvelope& e = Begin();
  e.mutable_payment_confirmed();
  Commit(e);
  StartAttempt(0, 1);
}

ev::GatewayOperation Decider::BaseOperation(ev::OperationKind kind, uint32_t step,
                                            int64_t amount) const {
  ev::GatewayOperation op;
  op.set_kind(kind);
  op.set_step_index(step);
  if (step < static_cast<uint32_t>(s_.plan.steps_size())) {
    op.set_processor_id(s_.plan.steps(static_cast<int>(step)).processor_id());
    op.set_method(s_.plan.steps(static_cast<int>(step)).method());
  }
  op.mutable_amount()->set_amount_minor(amount);
  op.mutable_amount()->set_currency(s_.currency);
  op.set_timeout_ms(s_.plan.attempt_timeout_ms());
  return op;
}

void Decider::StartAttempt(uint32_t step, uint32_t attempt) {
  const pl::PaymentStep& ps = s_.plan.steps(static_cast<int>(step));
  const int64_t remaining = s_.Remaining();
  const int64_t amount =
      ps.max_amount_minor() > 0 ? std::min(remaining, ps.max_amount_minor()) : remaining;
  ev::EventEnvelope& e = Begin();
  ev::GatewayOperation* op = e.mutable_step_started()->mutable_op();
  *op = BaseOperation(s_.manual_capture ? ev::OPERATION_KIND_AUTHORIZE : ev::OPERATION_KIND_SALE,
                      step, amount);
  op->set_attempt(attempt);
  op->set_idempotency_key(s_.payment_id + ":s" + std::to_string(step) + ":a" +
                          std::to_string(attempt));
  Commit(e);
}

res::Result Decider::MakeResult(const ev::GatewayOperation& op, const cmd::RecordGatewayResult& r,
                                bool success, ty::ErrorCode code, int64_t amount) const {
  res::Result result;
  result.set_schema_version(kSchemaVersion);
  result.set_success(success);
  result.set_processor_id(op.processor_id());
  result.set_error_code(code);
  result.set_amount_processed_minor(amount);
  result.set_latency_ms(r.latency_ms());
  result.set_retryable(!success && IsRetryable(code));
  result.set_step_index(op.step_index());
  result.set_attempt(op.attempt());
  return result;
}

void Decider::OnGatewayResult(const cmd::RecordGatewayResult& r) {
  if (r.outcome() == cmd::GATEWAY_OUTCOME_UNSPECIFIED || !cmd::GatewayOutcome_IsValid(r.outcome())) {
    return Reject(ev::REJECT_REASON_OUTCOME_MISSING, "gateway result without an outcome",
                  "request/malformed");
  }
  if (const ev::GatewayOperation* pending = s_.FindPending(r.operation_key())) {
    const ev::GatewayOperation op = *pending;  // copy: the events below change s_.pending
    if (IsAuthorization(op.kind())) return OnAttemptResult(op, r);
    return OnOperationResult(op, r);
  }
  if (const AttemptRecord* attempt = s_.FindAttempt(r.operation_key())) {
    return OnLateResult(*attempt, r);
  }
  if (std::find(s_.resolved_operations.begin(), s_.resolved_operations.end(),
                r.operation_key()) != s_.resolved_operations.end()) {
    return Deduplicated(r.operation_key());
  }
  Reject(ev::REJECT_REASON_OPERATION_UNKNOWN,
         "no operation '" + TruncateUtf8(r.operation_key(), 128) + "' was started");
}

void Decider::OnAttemptResult(const ev::GatewayOperation& op, const cmd::RecordGatewayResult& r) {
  switch (r.outcome()) {
    case cmd::GATEWAY_OUTCOME_SUCCEEDED: {
      const int64_t asked = op.amount().amount_minor();
      int64_t amount = r.amount_processed_minor();
      if (amount <= 0 || amount > asked) amount = asked;  // a gateway never takes more
      ev::EventEnvelope& e = Begin();
      auto* ss = e.mutable_step_succeeded();
      *ss->mutable_op() = op;
      *ss->mutable_result() = MakeResult(op, r, true, ty::ERROR_CODE_UNSPECIFIED, amount);
      ss->set_processor_reference(r.processor_reference());
      Commit(e);
      return Advance();
    }
    case cmd::GATEWAY_OUTCOME_UNKNOWN: {
      if (s_.status == ev::PAYMENT_STATUS_PROCESSING) return Deduplicated(op.idempotency_key());
      ev::EventEnvelope& e = Begin();
      auto* pp = e.mutable_payment_processing();
      *pp->mutable_op() = op;
      pp->set_deadline_at_ms(rec_.timestamp_ms + s_.plan.processing_deadline_ms());
      Commit(e);
      return;
    }
    case cmd::GATEWAY_OUTCOME_FAILED:
    case cmd::GATEWAY_OUTCOME_NOT_FOUND:
    default: {
      ty::ErrorCode code = r.outcome() == cmd::GATEWAY_OUTCOME_NOT_FOUND ? ty::ERROR_CODE_TIMEOUT
                                                                         : r.error_code();
      if (code == ty::ERROR_CODE_UNSPECIFIED || !ty::ErrorCode_IsValid(code)) {
        code = ty::ERROR_CODE_UNKNOWN;
      }
      const bool retry = IsRetryable(code) && op.attempt() <= s_.plan.max_retries_per_step();
      ev::EventEnvelope& e = Begin();
      auto* sf = e.mutable_step_failed();
      *sf->mutable_op() = op;
      *sf->mutable_result() = MakeResult(op, r, false, code, 0);
      sf->set_will_retry(retry);
      Commit(e);
      if (code == ty::ERROR_CODE_HARD_DECLINE) return FailPlan("hard_decline");
      if (retry) return StartAttempt(op.step_index(), op.attempt() + 1);
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

void Decider::OnOperationResult(const ev::GatewayOperation& op,
                                const cmd::RecordGatewayResult& r) {
  const auto outcome = r.outcome();
  if (outcome == cmd::GATEWAY_OUTCOME_UNKNOWN) {
    ev::EventEnvelope& e = Begin();
    auto* pp = e.mutable_payment_processing();
    *pp->mutable_op() = op;
    pp->set_deadline_at_ms(rec_.timestamp_ms + s_.plan.processing_deadline_ms());
    Commit(e);
    return;
  }
  const bool ok = outcome == cmd::GATEWAY_OUTCOME_SUCCEEDED;
  ty::ErrorCode code = ok ? ty::ERROR_CODE_UNSPECIFIED
                          : (outcome == cmd::GATEWAY_OUTCOME_NOT_FOUND ? ty::ERROR_CODE_NETWORK_FAILURE
                                                                       : r.error_code());
  if (!ok && (code == ty::ERROR_CODE_UNSPECIFIED || !ty::ErrorCode_IsValid(code))) {
    code = ty::ERROR_CODE_UNKNOWN;
  }
  const int64_t amount = op.amount().amount_minor();
  ev::EventEnvelope& e = Begin();
  switch (op.kind()) {
    case ev::OPERATION_KIND_CAPTURE:
      if (ok) {
        auto* pc = e.mutable_payment_captured();
        pc->set_capture_id(op.parent_id());
        *pc->mutable_op() = op;
        pc->set_total_captured_minor(s_.captured + amount);
      } else {
        auto* cf = e.mutable_capture_failed();
        cf->set_capture_id(op.parent_id());
        *cf->mutable_op() = op;
        *cf->mutable_result() = MakeResult(op, r, false, code, 0);
      }
      break;
    case ev::OPERATION_KIND_VOID:
      if (ok) {
        auto* pv = e.mutable_payment_voided();
        *pv->mutable_op() = op;
        pv->set_compensation(!op.parent_id().empty());
        pv->set_reason(op.parent_id().empty() ? "requested" : "compensation");
      } else {
        auto* vf = e.mutable_void_failed();
        *vf->mutable_op() = op;
        *vf->mutable_result() = MakeResult(op, r, false, code, 0);
      }
      break;
    case ev::OPERATION_KIND_REFUND:
    default:
      if (ok) {
        auto* rs = e.mutable_refund_succeeded();
        rs->set_refund_id(op.parent_id());
        *rs->mutable_op() = op;
        rs->set_total_refunded_minor(s_.refunded + amount);
      } else {
        auto* rf = e.mutable_refund_failed();
        rf->set_refund_id(op.parent_id());
        *rf->mutable_op() = op;
        *rf->mutable_result() = MakeResult(op, r, false, code, 0);
      }
      break;
  }
  Commit(e);
}

void Decider::Advance() {
  if (s_.Remaining() <= 0) return Complete();
  const auto steps = static_cast<uint32_t>(s_.plan.steps_size());
  for (uint32_t j = s_.current_step + 1; j < steps; ++j) {
    if (s_.plan.steps(static_cast<int>(j)).role() == pl::STEP_ROLE_FALLBACK) {
      // A fallback runs only if the step before it ran and processed nothing.
      const uint32_t prev = j - 1;
      const bool prev_ran = std::any_of(s_.attempts.begin(), s_.attempts.end(),
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
  out->set_currency(s_.currency);
  ty::ErrorCode final_error = ty::ERROR_CODE_UNSPECIFIED;
  for (const auto& a : s_.attempts) {
    if (!a.resolved) continue;
    res::Result* r = out->add_steps();
    r->set_schema_version(kSchemaVersion);
    r->set_success(a.succeeded);
    r->set_processor_id(a.processor_id);
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
  auto* pc = e.mutable_payment_completed();
  FillComposite(pc->mutable_result());
  pc->set_status(s_.manual_capture ? ev::PAYMENT_STATUS_REQUIRES_CAPTURE
                                   : ev::PAYMENT_STATUS_SUCCEEDED);
  Commit(e);
}

void Decider::StartVoid(uint32_t step, int64_t amount, const std::string& target_reference,
                        const std::string& reversed_key, const std::string& reason) {
  const StepLedger* ledger = step < s_.ledger.size() ? &s_.ledger[step] : nullptr;
  const uint32_t n = ledger == nullptr ? 1 : ledger->void_attempts + 1;
  ev::EventEnvelope& e = Begin();
  auto* vs = e.mutable_void_started();
  ev::GatewayOperation* op = vs->mutable_op();
  *op = BaseOperation(ev::OPERATION_KIND_VOID, step, amount);
  op->set_idempotency_key(s_.payment_id + ":v" + std::to_string(step) + ":n" + std::to_string(n));
  op->set_target_reference(target_reference);
  op->set_parent_id(reversed_key);
  vs->set_reason(reason);
  vs->set_compensation(!reversed_key.empty());
  Commit(e);
}

void Decider::FailPlan(const std::string& reason) {
  {
    ev::EventEnvelope& e = Begin();
    auto* pf = e.mutable_payment_failed();
    FillComposite(pf->mutable_result());
    pf->set_reason(reason);
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
  const ev::GatewayOperation* pending = s_.FindPending(x.operation_key());
  if (pending == nullptr || !IsAuthorization(pending->kind()) ||
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
  const ev::GatewayOperation op = *pending;
  {
    ev::EventEnvelope& e = Begin();
    *e.mutable_processing_expired()->mutable_op() = op;
    Commit(e);
  }
  FailPlan("processing_deadline");
}

void Decider::OnCapture(const cmd::CapturePayment& c) {
  const std::string key(Trim(c.idempotency_key()));
  if (key.empty()) {
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING, "capture needs an idempotency_key",
                  "request/malformed");
  }
  if (key.size() > kMaxIdempotencyKeyLength) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG, "idempotency_key longer than 255 bytes",
                  "request/malformed");
  }
  const std::string hash =
      StableHasher().Add("capture").Add(c.amount_minor()).Add(c.final_capture() ? 1 : 0).Hex();
  if (const KeyedRequest* seen = FindKeyed(s_.captures, key)) {
    if (seen->request_hash == hash) return Deduplicated(seen->id);
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_MISMATCH,
                  "capture idempotency_key reused with a different request", "idempotency/mismatch");
  }
  if (s_.status != ev::PAYMENT_STATUS_REQUIRES_CAPTURE) {
    return Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                  std::string("cannot capture a payment in status ") + StatusName(s_.status));
  }
  if (!s_.pending.empty()) {
    return Reject(ev::REJECT_REASON_OPERATION_IN_FLIGHT,
                  "another operation is in flight; retry when it is answered");
  }
  const int64_t capturable = Capturable(s_);
  if (c.amount_minor() < 0) {
    return Reject(ev::REJECT_REASON_AMOUNT_NOT_POSITIVE, "capture amount must not be negative",
                  "request/malformed");
  }
  const int64_t amount = c.amount_minor() == 0 ? capturable : c.amount_minor();
  if (amount > capturable || amount == 0) {
    return Reject(ev::REJECT_REASON_CAPTURE_EXCEEDS_AUTHORIZED,
                  "capture " + std::to_string(amount) + " exceeds capturable " +
                      std::to_string(capturable));
  }
  const std::string capture_id = "cap_" + StableHasher().Add(s_.payment_id).Add(key).Hex();
  int64_t left = amount;
  for (uint32_t step = 0; step < s_.ledger.size() && left > 0; ++step) {
    const StepLedger& l = s_.ledger[step];
    const int64_t part = l.voided ? 0 : std::min(left, l.authorized - l.captured);
    if (part <= 0) continue;
    left -= part;
    ev::EventEnvelope& e = Begin();
    auto* cs = e.mutable_capture_started();
    cs->set_capture_id(capture_id);
    cs->set_idempotency_key(key);
    cs->set_request_hash(hash);
    cs->set_final_capture(c.final_capture());
    ev::GatewayOperation* op = cs->mutable_op();
    *op = BaseOperation(ev::OPERATION_KIND_CAPTURE, step, part);
    op->set_idempotency_key(capture_id + ":s" + std::to_string(step));
    op->set_target_reference(l.processor_reference);
    op->set_parent_id(capture_id);
    Commit(e);
  }
}

void Decider::OnVoid(const cmd::VoidPayment& c) {
  if (s_.status != ev::PAYMENT_STATUS_REQUIRES_CAPTURE || s_.captured > 0) {
    return Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                  std::string("void is allowed only before any capture; status ") +
                      StatusName(s_.status));
  }
  if (!s_.pending.empty()) {
    return Reject(ev::REJECT_REASON_OPERATION_IN_FLIGHT,
                  "another operation is in flight; retry when it is answered");
  }
  bool started = false;
  for (uint32_t step = 0; step < s_.ledger.size(); ++step) {
    const StepLedger& l = s_.ledger[step];
    if (l.authorized > 0 && !l.voided) {
      StartVoid(step, l.authorized, l.processor_reference, "",
                TruncateUtf8(Trim(c.reason()), kMaxReferenceLength));
      started = true;
    }
  }
  if (!started) {
    ev::EventEnvelope& e = Begin();
    e.mutable_payment_voided()->set_reason("nothing_authorized");
    Commit(e);
  }
}

void Decider::OnRefund(const cmd::RefundPayment& c) {
  const std::string key(Trim(c.idempotency_key()));
  if (key.empty()) {
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING, "refund needs an idempotency_key",
                  "request/malformed");
  }
  if (key.size() > kMaxIdempotencyKeyLength) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG, "idempotency_key longer than 255 bytes",
                  "request/malformed");
  }
  const std::string hash = StableHasher().Add("refund").Add(c.amount_minor()).Hex();
  if (const KeyedRequest* seen = FindKeyed(s_.refunds, key)) {
    if (seen->request_hash == hash) return Deduplicated(seen->id);
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_MISMATCH,
                  "refund idempotency_key reused with a different request", "idempotency/mismatch");
  }
  if (s_.captured <= 0 || (s_.status != ev::PAYMENT_STATUS_SUCCEEDED &&
                           s_.status != ev::PAYMENT_STATUS_REQUIRES_CAPTURE)) {
    return Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                  std::string("nothing captured to refund; status ") + StatusName(s_.status));
  }
  if (!s_.pending.empty()) {
    return Reject(ev::REJECT_REASON_OPERATION_IN_FLIGHT,
                  "another operation is in flight; retry when it is answered");
  }
  if (c.amount_minor() <= 0) {
    return Reject(ev::REJECT_REASON_AMOUNT_NOT_POSITIVE, "refund amount must be > 0",
                  "request/malformed");
  }
  const int64_t refundable = s_.captured - s_.refunded;
  if (c.amount_minor() > refundable) {
    return Reject(ev::REJECT_REASON_REFUND_EXCEEDS_CAPTURED,
                  "refund " + std::to_string(c.amount_minor()) + " exceeds refundable " +
                      std::to_string(refundable));
  }
  const std::string refund_id = "ref_" + StableHasher().Add(s_.payment_id).Add(key).Hex();
  int64_t left = c.amount_minor();
  for (uint32_t step = 0; step < s_.ledger.size() && left > 0; ++step) {
    const StepLedger& l = s_.ledger[step];
    const int64_t part = std::min(left, l.captured - l.refunded);
    if (part <= 0 || l.voided) continue;
    left -= part;
    ev::EventEnvelope& e = Begin();
    auto* rs = e.mutable_refund_started();
    rs->set_refund_id(refund_id);
    rs->set_idempotency_key(key);
    rs->set_request_hash(hash);
    ev::GatewayOperation* op = rs->mutable_op();
    *op = BaseOperation(ev::OPERATION_KIND_REFUND, step, part);
    op->set_idempotency_key(refund_id + ":s" + std::to_string(step));
    op->set_target_reference(l.processor_reference);
    op->set_parent_id(refund_id);
    Commit(e);
  }
}

void Decider::OnCancel(const cmd::CancelPayment& c) {
  if (s_.status != ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION) {
    return Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                  std::string("cancel is allowed only before confirmation; status ") +
                      StatusName(s_.status));
  }
  ev::EventEnvelope& e = Begin();
  e.mutable_payment_canceled()->set_reason(TruncateUtf8(Trim(c.reason()), kMaxReferenceLength));
  Commit(e);
}

}  // namespace

std::string TargetPaymentId(const cmd::CommandEnvelope& command) {
  if (!command.payment_id().empty()) return command.payment_id();
  if (command.command_case() != cmd::CommandEnvelope::kCreate) return "";
  const std::string_view merchant = Trim(command.create().merchant_id());
  const std::string_view key = Trim(command.create().idempotency_key());
  if (merchant.empty() || key.empty()) return "";
  return DerivePaymentId(merchant, key);
}

namespace {

void DecideInto(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
                EventSink& out) {
  const size_t first = out.size();
  Decider(state, record, ctx, out).Run();
  const auto count = static_cast<uint32_t>(out.size() - first);
  for (size_t i = first; i < out.size(); ++i) {
    auto* c = out[i].mutable_causation();
    c->set_index(static_cast<uint32_t>(i - first));
    c->set_count(count);
  }
}

}  // namespace

void DecideAndApply(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
                    std::vector<ev::EventEnvelope>& out) {
  EventSink sink(out);
  DecideInto(state, record, ctx, sink);
}

void DecideAndApply(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
                    google::protobuf::RepeatedPtrField<ev::EventEnvelope>& out) {
  EventSink sink(out);
  DecideInto(state, record, ctx, sink);
}

std::vector<ev::EventEnvelope> Decide(const PaymentState& state, const CommandRecord& record,
                                      const DecideContext& ctx) {
  PaymentState scratch = state;
  std::vector<ev::EventEnvelope> out;
  DecideAndApply(scratch, record, ctx, out);
  return out;
}

void Evolve(PaymentState& s, const ev::EventEnvelope& e) {
  if (e.payment_id().empty() || (!s.payment_id.empty() && e.payment_id() != s.payment_id)) return;
  if (s.payment_id.empty()) s.payment_id = e.payment_id();
  if (e.sequence() > s.sequence) s.sequence = e.sequence();

  switch (e.event_case()) {
    case ev::EventEnvelope::kPaymentCreated: {
      if (s.exists) break;
      const auto& pc = e.payment_created();
      s.exists = true;
      s.merchant_id = e.merchant_id();
      s.amount = pc.amount().amount_minor();
      s.currency = pc.amount().currency();
      s.method = pc.method();
      s.manual_capture = pc.capture_mode() == ty::CAPTURE_MODE_MANUAL;
      s.idempotency_key = pc.idempotency_key();
      s.request_hash = pc.request_hash();
      SetStatus(s, ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION);
      break;
    }
    case ev::EventEnvelope::kPlanBuilt:
      s.plan = e.plan_built().plan();
      s.ledger.assign(static_cast<size_t>(s.plan.steps_size()), StepLedger{});
      s.attempts.reserve(static_cast<size_t>(s.plan.steps_size()));
      s.pending.reserve(2);
      break;
    case ev::EventEnvelope::kPaymentConfirmed:
      s.confirmed = true;
      break;
    case ev::EventEnvelope::kStepStarted: {
      const auto& op = e.step_started().op();
      s.pending.push_back(op);
      s.current_step = op.step_index();
      s.current_attempt = op.attempt();
      AttemptRecord& a = s.attempts.emplace_back();
      a.operation_key = op.idempotency_key();
      a.step_index = op.step_index();
      a.attempt = op.attempt();
      a.processor_id = op.processor_id();
      a.amount_requested = op.amount().amount_minor();
      SetStatus(s, ev::PAYMENT_STATUS_AUTHORIZING);
      break;
    }
    case ev::EventEnvelope::kStepSucceeded: {
      const auto& ss = e.step_succeeded();
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
      SetStatus(s, ev::PAYMENT_STATUS_AUTHORIZING);
      break;
    }
    case ev::EventEnvelope::kStepFailed: {
      const auto& sf = e.step_failed();
      RemovePending(s, sf.op().idempotency_key());
      if (AttemptRecord* a = FindAttemptMutable(s, sf.op().idempotency_key())) {
        a->resolved = true;
        a->error_code = sf.result().error_code();
        a->latency_ms = sf.result().latency_ms();
      }
      SetStatus(s, ev::PAYMENT_STATUS_AUTHORIZING);
      break;
    }
    case ev::EventEnvelope::kPaymentProcessing:
      if (IsAuthorization(e.payment_processing().op().kind())) {
        s.deadline_at_ms = e.payment_processing().deadline_at_ms();
        SetStatus(s, ev::PAYMENT_STATUS_PROCESSING);
      }
      break;
    case ev::EventEnvelope::kProcessingExpired: {
      const auto& key = e.processing_expired().op().idempotency_key();
      RemovePending(s, key);
      if (AttemptRecord* a = FindAttemptMutable(s, key)) {
        a->resolved = true;
        a->error_code = ty::ERROR_CODE_TIMEOUT;
      }
      break;
    }
    case ev::EventEnvelope::kPaymentCompleted:
      SetStatus(s, e.payment_completed().status());
      break;
    case ev::EventEnvelope::kPaymentFailed:
      SetStatus(s, ev::PAYMENT_STATUS_FAILED);
      break;
    case ev::EventEnvelope::kCaptureStarted: {
      const auto& cs = e.capture_started();
      s.pending.push_back(cs.op());
      RememberKeyed(s.captures, cs.idempotency_key(), cs.request_hash(), cs.capture_id(),
                    cs.final_capture());
      break;
    }
    case ev::EventEnvelope::kPaymentCaptured: {
      const auto& pc = e.payment_captured();
      const int64_t amount = pc.op().amount().amount_minor();
      RemovePending(s, pc.op().idempotency_key());
      s.resolved_operations.push_back(pc.op().idempotency_key());
      if (StepLedger* l = LedgerFor(s, pc.op().step_index())) l->captured += amount;
      s.captured += amount;
      bool final_capture = false;
      for (const auto& c : s.captures) {
        if (c.id == pc.capture_id()) final_capture = c.final_capture;
      }
      if (!HasPendingKind(s, ev::OPERATION_KIND_CAPTURE) &&
          (final_capture || Capturable(s) == 0)) {
        SetStatus(s, ev::PAYMENT_STATUS_SUCCEEDED);
      }
      break;
    }
    case ev::EventEnvelope::kCaptureFailed:
      RemovePending(s, e.capture_failed().op().idempotency_key());
      s.resolved_operations.push_back(e.capture_failed().op().idempotency_key());
      break;
    case ev::EventEnvelope::kVoidStarted: {
      const auto& op = e.void_started().op();
      s.pending.push_back(op);
      if (StepLedger* l = LedgerFor(s, op.step_index())) ++l->void_attempts;
      if (AttemptRecord* a = FindAttemptMutable(s, op.parent_id())) a->compensated = true;
      break;
    }
    case ev::EventEnvelope::kPaymentVoided: {
      const auto& pv = e.payment_voided();
      if (!pv.has_op()) {
        SetStatus(s, ev::PAYMENT_STATUS_VOIDED);
        break;
      }
      const auto& op = pv.op();
      RemovePending(s, op.idempotency_key());
      s.resolved_operations.push_back(op.idempotency_key());
      const AttemptRecord* reversed = s.FindAttempt(op.parent_id());
      // A compensation of a late success reverses money the ledger never counted.
      const bool counted = op.parent_id().empty() || (reversed != nullptr && reversed->succeeded);
      if (counted) {
        if (StepLedger* l = LedgerFor(s, op.step_index())) l->voided = true;
      }
      if (pv.compensation()) {
        if (counted) s.reversed += op.amount().amount_minor();
      } else if (!HasPendingKind(s, ev::OPERATION_KIND_VOID) && Capturable(s) == 0) {
        // VOIDED only once every authorized step is released: if another step's void
        // failed, the payment stays capturable and may be voided again.
        SetStatus(s, ev::PAYMENT_STATUS_VOIDED);
      }
      break;
    }
    case ev::EventEnvelope::kVoidFailed:
      RemovePending(s, e.void_failed().op().idempotency_key());
      s.resolved_operations.push_back(e.void_failed().op().idempotency_key());
      break;
    case ev::EventEnvelope::kRefundStarted: {
      const auto& rs = e.refund_started();
      s.pending.push_back(rs.op());
      RememberKeyed(s.refunds, rs.idempotency_key(), rs.request_hash(), rs.refund_id(), false);
      break;
    }
    case ev::EventEnvelope::kRefundSucceeded: {
      const auto& op = e.refund_succeeded().op();
      RemovePending(s, op.idempotency_key());
      s.resolved_operations.push_back(op.idempotency_key());
      if (StepLedger* l = LedgerFor(s, op.step_index())) l->refunded += op.amount().amount_minor();
      s.refunded += op.amount().amount_minor();
      break;
    }
    case ev::EventEnvelope::kRefundFailed:
      RemovePending(s, e.refund_failed().op().idempotency_key());
      s.resolved_operations.push_back(e.refund_failed().op().idempotency_key());
      break;
    case ev::EventEnvelope::kPaymentCanceled:
      SetStatus(s, ev::PAYMENT_STATUS_CANCELED);
      break;
    default:  // CommandRejected, CommandDeduplicated, WriterClaimed: nothing changes
      break;
  }
}

bool IsRetryable(ty::ErrorCode code) {
  return code == ty::ERROR_CODE_TIMEOUT || code == ty::ERROR_CODE_NETWORK_FAILURE ||
         code == ty::ERROR_CODE_PROCESSOR_UNAVAILABLE;
}

const char* CommandTypeName(const cmd::CommandEnvelope& command) {
  switch (command.command_case()) {
    case cmd::CommandEnvelope::kCreate: return "create";
    case cmd::CommandEnvelope::kConfirm: return "confirm";
    case cmd::CommandEnvelope::kCapture: return "capture";
    case cmd::CommandEnvelope::kVoid: return "void";
    case cmd::CommandEnvelope::kRefund: return "refund";
    case cmd::CommandEnvelope::kCancel: return "cancel";
    case cmd::CommandEnvelope::kGatewayResult: return "gateway_result";
    case cmd::CommandEnvelope::kExpire: return "expire";
    default: return "empty";
  }
}

const char* EventTypeName(const ev::EventEnvelope& event) {
  const auto* field = ev::EventEnvelope::descriptor()->FindFieldByNumber(event.event_case());
  if (field == nullptr) return "Unknown";
  return field->message_type()->name().c_str();
}

}  // namespace payorch::command
