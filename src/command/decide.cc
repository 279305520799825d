// Decide: the envelope's checks, the event header, create, confirm and cancel, and the
// public entry points of aggregate.h. Gateway operations are decided in
// decide_operations.cc, captures, voids and refunds in decide_money.cc.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>

#include "command/aggregate.h"
#include "command/internal/create_view.h"
#include "command/internal/decider.h"
#include "command/lifecycle.h"
#include "command/parser.h"
#include "command/transitions.h"

namespace payorch::command {
namespace internal {
namespace {

// PaymentCreated.metadata := the request's. A pooled PaymentCreated keeps its map's
// entries (see EventPoolParts): entries of keys that come again are reused in place, the
// others erased, so the usual same-keys-every-time metadata allocates nothing.
void SetMetadata(ev::PaymentCreated* pc, const internal::CreateView& req) {
  if (req.metadata_size == 0 && pc->metadata().empty()) return;
  auto& metadata = *pc->mutable_metadata();
  const auto wanted = req.metadata();
  for (auto it = metadata.begin(); it != metadata.end();) {
    const bool keep = std::any_of(wanted.begin(), wanted.end(),
                                  [&](const auto& entry) { return entry.key() == it->first; });
    it = keep ? std::next(it) : metadata.erase(it);
  }
  for (const auto& entry : wanted) Write(&metadata[entry.key()], entry.value());
}

// "<payment_id>/<sequence>", written in one go.
void WriteEventId(std::string* id, std::string_view payment_id, uint64_t sequence) {
  char buf[kMaxIdLength + 24];
  if (payment_id.size() > kMaxIdLength) {
    id->assign(payment_id.data(), payment_id.size());
    id->push_back('/');
    AppendDecimal(*id, sequence);
    return;
  }
  std::memcpy(buf, payment_id.data(), payment_id.size());
  char* p = buf + payment_id.size();
  *p++ = '/';
  p = std::to_chars(p, buf + sizeof buf, sequence).ptr;
  Write(id, std::string_view(buf, static_cast<size_t>(p - buf)));
}

// An id copied into every event header, at most kMaxCommandIdLength bytes: a command
// refused for a longer one must not carry it into its rejection. Cuts on a UTF-8
// character boundary, so the header stays valid proto3 text.
std::string_view BoundedId(std::string_view id) { return CutUtf8(id, kMaxCommandIdLength); }

}  // namespace

// Writes every header field of the envelope (EventEnvelope's fields outside the `event`
// oneof, and all of Causation but index and count, which DecideInto sets). An envelope
// from an EventPool is not cleared: it still holds an earlier event's header, and every
// field is overwritten here, strings only when they differ (topic and merchant usually
// repeat). EventPoolTest.HeaderWriterCoversEveryField guards the field list.
ev::EventEnvelope& Decider::Begin() {
  ev::EventEnvelope& e = out_.Add();
  e.set_schema_version(kSchemaVersion);
  e.set_epoch(ctx_.epoch);
  Overwrite(&e, &ev::EventEnvelope::correlation_id, &ev::EventEnvelope::mutable_correlation_id,
            BoundedId(env_.correlation_id()));
  e.set_occurred_at_ms(rec_.timestamp_ms);
  ev::Causation* c = e.has_causation()
                         ? e.mutable_causation()
                         : out_.Attach(&e, &ev::EventEnvelope::set_allocated_causation);
  OverwriteIfChanged(c, &ev::Causation::topic, &ev::Causation::mutable_topic, rec_.topic);
  c->set_partition(rec_.partition);
  c->set_offset(rec_.offset);
  Overwrite(c, &ev::Causation::command_id, &ev::Causation::mutable_command_id,
            BoundedId(env_.command_id()));
  std::string* id = e.mutable_event_id();
  if (s_.payment_id.empty()) {
    id->clear();
    id->append("cmd/");
    AppendDecimal(*id, static_cast<int64_t>(rec_.partition));
    id->push_back('/');
    AppendDecimal(*id, rec_.offset);
    id->push_back('/');
    AppendDecimal(*id, static_cast<uint64_t>(out_.size() - 1 - first_));
    Overwrite(&e, &ev::EventEnvelope::payment_id, &ev::EventEnvelope::mutable_payment_id, {});
    e.set_sequence(0);
    OverwriteIfChanged(&e, &ev::EventEnvelope::merchant_id, &ev::EventEnvelope::mutable_merchant_id,
                       merchant_for_orphan_);
  } else {
    const uint64_t seq = s_.sequence + 1;
    Overwrite(&e, &ev::EventEnvelope::payment_id, &ev::EventEnvelope::mutable_payment_id,
              s_.payment_id);
    e.set_sequence(seq);
    WriteEventId(id, s_.payment_id, seq);
    OverwriteIfChanged(
        &e, &ev::EventEnvelope::merchant_id, &ev::EventEnvelope::mutable_merchant_id,
        s_.merchant_id.empty() ? merchant_for_orphan_ : std::string_view(s_.merchant_id));
  }
  return e;
}

void Decider::Reject(ev::RejectReason reason, std::string_view detail,
                     std::string_view contract_id) {
  ev::EventEnvelope& e = Begin();
  auto* rej = out_.Attach(&e, &ev::EventEnvelope::set_allocated_command_rejected);
  rej->set_reason(reason);
  SetText(rej, &ev::CommandRejected::mutable_detail, detail);
  SetText(rej, &ev::CommandRejected::mutable_contract_id, contract_id);
  SetText(rej, &ev::CommandRejected::mutable_command_type, CommandTypeName(env_));
  Commit(e);
}

void Decider::Deduplicated(std::string_view original_id) {
  ev::EventEnvelope& e = Begin();
  auto* d = out_.Attach(&e, &ev::EventEnvelope::set_allocated_command_deduplicated);
  SetText(d, &ev::CommandDeduplicated::mutable_command_type, CommandTypeName(env_));
  SetText(d, &ev::CommandDeduplicated::mutable_original_id, original_id);
  d->set_reconciler_answer(env_.has_gateway_result() &&
                           env_.gateway_result().source() == kReconcilerSource);
  Commit(e);
}

void Decider::Run() {
  if (env_.command_case() == cmd::CommandEnvelope::kCreate) {
    merchant_for_orphan_ = Trim(env_.create().merchant_id());
    if (merchant_for_orphan_.size() > kMaxIdLength) merchant_for_orphan_ = {};
  }
  // The envelope's own checks (schema_version, a command present, id lengths, gateway
  // texts, amounts, enum values): parser.h. Each command is checked once, here.
  if (auto refused = CheckEnvelope(env_)) return Reject(*refused);
  if (env_.command_case() == cmd::CommandEnvelope::kCreate) {
    if (auto refused = CheckSenderMerchant(env_, Trim(env_.create().merchant_id()))) {
      return Reject(*refused);
    }
    return OnCreate(env_.create());
  }
  if (s_.payment_id.empty()) {
    return Reject(ev::REJECT_REASON_PAYMENT_UNKNOWN, "payment_id is required", "request/malformed");
  }
  if (!s_.exists) {
    return Reject(ev::REJECT_REASON_PAYMENT_UNKNOWN, "no payment " + s_.payment_id);
  }
  // One guard for every follow-up, before any of them looks at the payment.
  if (auto refused = CheckSenderMerchant(env_, s_.merchant_id)) return Reject(*refused);
  switch (env_.command_case()) {
    case cmd::CommandEnvelope::kConfirm:
      return OnConfirm(env_.confirm());
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
    case cmd::CommandEnvelope::kBreakerTransition: {
      // An observation of the connectors, kept in the payment's stream: nothing changes.
      ev::EventEnvelope& e = Begin();
      *out_.Attach(&e, &ev::EventEnvelope::set_allocated_breaker_transitioned)
           ->mutable_transition() = env_.breaker_transition();
      return Commit(e);
    }
    default:
      return Reject(ev::REJECT_REASON_COMMAND_MISSING, "unknown command", "request/malformed");
  }
}

void Decider::OnCreate(const cmd::CreatePayment& c) {
  const PlanBuilder* plans = ctx_.plans;
  const auto* merchant = plans == nullptr ? nullptr : plans->FindMerchant(Trim(c.merchant_id()));
  internal::CreateView req;
  if (auto rejection = internal::ParseCreateView(c, merchant, &req)) return Reject(*rejection);

  const PaymentIdChars derived = DerivePaymentIdChars(req.merchant_id, req.idempotency_key);
  if (s_.payment_id != derived.view()) {
    return Reject(ev::REJECT_REASON_PAYMENT_ID_MISMATCH,
                  "payment_id must be derived from (merchant_id, idempotency_key): " +
                      std::string(derived.view()),
                  "request/malformed");
  }
  const HexDigest hash = req.RequestDigest();
  if (s_.exists) {
    if (s_.request_hash == hash.view()) return Deduplicated(s_.payment_id);
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_MISMATCH,
                  "idempotency_key reused with a different request", "idempotency/mismatch");
  }
  if (merchant == nullptr) {
    return Reject(ev::REJECT_REASON_MERCHANT_UNKNOWN,
                  "merchant '" + std::string(req.merchant_id) + "' is not configured");
  }
  if (ctx_.overloaded) {
    return Reject(ev::REJECT_REASON_OVERLOADED,
                  "payorch is overloaded and takes no new payment now; nothing was started, "
                  "retry later with the same request",
                  "overload/refused");
  }
  // The plan is built before any event (a rejection is the only event then), into a
  // message that the PlanBuilt event adopts. Its total is attached up front so that a
  // recycled Money is used (BuildInto always sets it).
  pl::PaymentPlan* plan = out_.New<pl::PaymentPlan>();
  out_.Attach(plan, &pl::PaymentPlan::set_allocated_total);
  if (auto rejection = plans->BuildInto(req.merchant_id, req.amount, req.currency(), req.method,
                                        plan, &c.processor_preference())) {
    out_.Discard(plan);
    return Reject(*rejection);
  }

  {
    ev::EventEnvelope& e = Begin();
    OverwriteIfChanged(&e, &ev::EventEnvelope::merchant_id, &ev::EventEnvelope::mutable_merchant_id,
                       req.merchant_id);
    auto* pc = out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_created);
    ty::Money* amount = out_.Attach(pc, &ev::PaymentCreated::set_allocated_amount);
    amount->set_amount_minor(req.amount);
    SetText(amount, &ty::Money::mutable_currency, req.currency());
    pc->set_method(req.method);
    pc->set_capture_mode(req.manual_capture ? ty::CAPTURE_MODE_MANUAL : ty::CAPTURE_MODE_AUTOMATIC);
    SetText(pc, &ev::PaymentCreated::mutable_idempotency_key, req.idempotency_key);
    SetText(pc, &ev::PaymentCreated::mutable_customer_reference, req.customer_reference);
    SetMetadata(pc, req);
    SetText(pc, &ev::PaymentCreated::mutable_request_hash, hash.view());
    if (!req.issues.empty()) {
      pc->mutable_issues()->Reserve(static_cast<int>(req.issues.size()));
      for (auto& issue : req.issues) *pc->add_issues() = std::move(issue);
    }
    Commit(e);
  }
  {
    ev::EventEnvelope& e = Begin();
    out_.Attach(&e, &ev::EventEnvelope::set_allocated_plan_built)->set_allocated_plan(plan);
    Commit(e);
  }
  if (req.confirm) OnConfirm(cmd::ConfirmPayment::default_instance());
}

void Decider::OnConfirm(const cmd::ConfirmPayment& c) {
  const bool replan = c.method() != ty::PAYMENT_METHOD_UNSPECIFIED &&
                      (s_.status == ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION ||
                       AwaitsPaymentMethod(s_.status, s_.processed));
  if (replan ? !PlanFor(c.method())
             : !RequireStatus(ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION, "confirm")) {
    return;
  }
  ev::EventEnvelope& e = Begin();
  out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_confirmed);
  Commit(e);
  StartAttempt(s_.current_step, 1);
}

bool Decider::PlanFor(ty::PaymentMethod method) {
  if (!ty::PaymentMethod_IsValid(method)) {
    Reject(ev::REJECT_REASON_METHOD_MISSING,
           "unknown payment method " + std::to_string(static_cast<int>(method)),
           "request/malformed");
    return false;
  }
  if (!RequireNothingInFlight()) return false;
  const bool retry = s_.status == ev::PAYMENT_STATUS_FAILED;
  if (retry && ctx_.overloaded) {  // a new charge, refused like a create
    Reject(ev::REJECT_REASON_OVERLOADED,
           "payorch is overloaded and starts no new charge now; retry later", "overload/refused");
    return false;
  }
  const PlanBuilder* plans = ctx_.plans;
  if (plans == nullptr || plans->FindMerchant(s_.merchant_id) == nullptr) {
    Reject(ev::REJECT_REASON_MERCHANT_UNKNOWN,
           "merchant '" + s_.merchant_id + "' is not configured");
    return false;
  }
  pl::PaymentPlan* plan = out_.New<pl::PaymentPlan>();
  out_.Attach(plan, &pl::PaymentPlan::set_allocated_total);
  if (auto rejection = plans->BuildInto(s_.merchant_id, s_.amount, s_.currency, method, plan)) {
    out_.Discard(plan);
    Reject(*rejection);
    return false;
  }
  // Steps already attempted stay, so their indices and operation keys stay unique.
  const auto first = static_cast<uint32_t>(s_.attempts.empty() ? 0 : s_.plan.steps.size());
  if (first + static_cast<size_t>(plan->steps_size()) > kMaxPlanSteps) {
    out_.Discard(plan);
    Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
           "too many payment methods tried: a plan holds at most " + std::to_string(kMaxPlanSteps) +
               " steps");
    return false;
  }
  KeepEarlierSteps(first, plan);
  ev::EventEnvelope& e = Begin();
  auto* pb = out_.Attach(&e, &ev::EventEnvelope::set_allocated_plan_built);
  pb->set_allocated_plan(plan);
  pb->set_method(method);
  pb->set_first_step(first);
  Commit(e);
  return true;
}

void Decider::KeepEarlierSteps(uint32_t first, pl::PaymentPlan* plan) const {
  if (first == 0) return;
  google::protobuf::RepeatedPtrField<pl::PaymentStep> added;
  added.Swap(plan->mutable_steps());
  for (uint32_t i = 0; i < first; ++i) {
    const PlanStep& from = s_.plan.steps[i];
    pl::PaymentStep* step = plan->add_steps();
    step->set_method(from.method);
    step->set_processor_id(std::string(from.processor_id.view()));
    step->set_max_amount_minor(from.max_amount_minor);
    step->set_role(from.role);
  }
  for (pl::PaymentStep& step : added) *plan->add_steps() = std::move(step);
}

void Decider::OnCancel(const cmd::CancelPayment& c) {
  const std::string reason = TruncateUtf8(Trim(c.reason()), kMaxReferenceLength);
  // As Stripe's cancel: once authorized, canceling releases the authorization at the
  // processor (a void, with the cancel's reason), and the payment ends VOIDED.
  if (s_.status == ev::PAYMENT_STATUS_REQUIRES_CAPTURE) {
    return ReleaseAuthorization("cancel", reason);
  }
  if (s_.status != ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION &&
      !AwaitsPaymentMethod(s_.status, s_.processed)) {
    return Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                  std::string("cancel is allowed only before confirmation, while the payment "
                              "awaits a payment method or requires capture; status ") +
                      StatusName(s_.status));
  }
  ev::EventEnvelope& e = Begin();
  SetText(out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_canceled),
          &ev::PaymentCanceled::mutable_reason, reason);
  Commit(e);
}

}  // namespace internal

namespace cmd = ::payments::commands::v1;

namespace {

using internal::Decider;
using internal::EventSink;

void DecideInto(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
                EventSink& out) {
  const size_t first = out.size();
  Decider(state, record, ctx, out).Run();
  const auto count = static_cast<uint32_t>(out.size() - first);
  for (size_t i = first; i < out.size(); ++i) {
    ev::Causation* c = out[i].mutable_causation();
    c->set_index(static_cast<uint32_t>(i - first));
    c->set_count(count);
  }
}

// Room for a typical command's events, so a vector that starts empty grows once.
void ReserveForCommand(std::vector<ev::EventEnvelope>& out) {
  constexpr size_t kTypicalEvents = 4;
  if (out.capacity() - out.size() < kTypicalEvents) out.reserve(out.size() + kTypicalEvents);
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

void DecideAndApply(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
                    std::vector<ev::EventEnvelope>& out) {
  ReserveForCommand(out);
  EventSink sink(out, nullptr);
  DecideInto(state, record, ctx, sink);
}

void DecideAndApply(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
                    std::vector<ev::EventEnvelope>& out, EventPool& pool) {
  ReserveForCommand(out);
  EventSink sink(out, &pool.parts());
  DecideInto(state, record, ctx, sink);
}

std::vector<ev::EventEnvelope> Decide(const PaymentState& state, const CommandRecord& record,
                                      const DecideContext& ctx) {
  PaymentState scratch = state;
  std::vector<ev::EventEnvelope> out;
  DecideAndApply(scratch, record, ctx, out);
  return out;
}

const char* CommandTypeName(const cmd::CommandEnvelope& command) {
  switch (command.command_case()) {
    case cmd::CommandEnvelope::kCreate:
      return "create";
    case cmd::CommandEnvelope::kConfirm:
      return "confirm";
    case cmd::CommandEnvelope::kCapture:
      return "capture";
    case cmd::CommandEnvelope::kVoid:
      return "void";
    case cmd::CommandEnvelope::kRefund:
      return "refund";
    case cmd::CommandEnvelope::kCancel:
      return "cancel";
    case cmd::CommandEnvelope::kGatewayResult:
      return "gateway_result";
    case cmd::CommandEnvelope::kExpire:
      return "expire";
    case cmd::CommandEnvelope::kBreakerTransition:
      return "breaker_transition";
    default:
      return "empty";
  }
}

}  // namespace payorch::command
