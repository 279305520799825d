#include "command/aggregate.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include "command/hash.h"
#include "command/internal/create_view.h"
#include "command/internal/event_pool_parts.h"
#include "command/invariants.h"
#include "command/parser.h"
#include "command/transitions.h"

namespace payorch::command {

namespace cmd = ::payments::commands::v1;
namespace pl = ::payments::plan::v1;
namespace res = ::payments::result::v1;
namespace ty = ::payments::types::v1;

namespace {

// Voids started per step at most (the first and its retries), for compensation voids.
constexpr uint32_t kMaxVoidsPerStep = 5;

bool IsAuthorization(ev::OperationKind kind) {
  return kind == ev::OPERATION_KIND_AUTHORIZE || kind == ev::OPERATION_KIND_SALE;
}

void RemovePending(PaymentState& s, std::string_view key) {
  for (auto it = s.pending.begin(); it != s.pending.end(); ++it) {
    if (it->idempotency_key == key) {
      s.pending.erase(it);
      return;
    }
  }
}

bool HasPendingKind(const PaymentState& s, ev::OperationKind kind) {
  return std::any_of(s.pending.begin(), s.pending.end(),
                     [&](const PendingOperation& op) { return op.kind == kind; });
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

// An edge the table does not have is a breach: the status stays, the breach is reported.
void SetStatus(PaymentState& s, ev::PaymentStatus to) {
  if (IsValidTransition(s.status, to)) {
    s.status = to;
    return;
  }
  std::string what = "payment ";
  what += s.payment_id;
  what += ": illegal status transition ";
  what += StatusName(s.status);
  what += " -> ";
  what += StatusName(to);
  ReportBreach(what);
}

const KeyedRequest* FindKeyed(const std::vector<KeyedRequest>& v, std::string_view key) {
  for (const auto& r : v) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

void RememberKeyed(std::vector<KeyedRequest>& v, std::string_view key, std::string_view hash,
                   std::string_view id, bool final_capture) {
  if (FindKeyed(v, key) != nullptr) return;
  KeyedRequest& r = v.emplace_back();
  r.key = key;
  r.request_hash = hash;
  r.id = id;
  r.final_capture = final_capture;
}

// The flat copy of a started operation (see PendingOperation).
void AssignOperation(PendingOperation& p, const ev::GatewayOperation& op) {
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

// Writes `value` into a string (clear() and append() are cheaper than assign()).
void Write(std::string* field, std::string_view value) {
  field->clear();
  field->append(value.data(), value.size());
}

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

// Sets a string field that may hold an earlier value (a pooled envelope's header) to
// `value`. An empty value on an empty field takes no mutable_x() call (which would give
// the field a string of its own).
template <typename Msg>
void Overwrite(Msg* msg, const std::string& (Msg::*field)() const,
               std::string* (Msg::*mutable_field)(), std::string_view value) {
  if (value.empty() && (msg->*field)().empty()) return;
  Write((msg->*mutable_field)(), value);
}

// The same for a value that usually repeats from one event to the next (the topic, the
// merchant): a field that already holds it is not touched.
template <typename Msg>
void OverwriteIfChanged(Msg* msg, const std::string& (Msg::*field)() const,
                        std::string* (Msg::*mutable_field)(), std::string_view value) {
  if ((msg->*field)() == value) return;
  Write((msg->*mutable_field)(), value);
}

// Sets a string field through its mutable pointer, so a reused message keeps its buffer
// (set_x(const char*) builds a temporary std::string). Empty values are not set at all:
// an unset proto3 string reads and serializes as "", and a new or cleared message already
// holds "".
template <typename Msg>
void SetText(Msg* msg, std::string* (Msg::*mutable_field)(), std::string_view value) {
  if (!value.empty()) Write((msg->*mutable_field)(), value);
}

// "<prefix><32 hex digits>" (a capture or refund id), in place.
struct IdChars {
  char bytes[36];
  std::string_view view() const { return {bytes, sizeof bytes}; }
};

IdChars PrefixedDigest(const char (&prefix)[5], const HexDigest& digest) {
  IdChars id;
  std::copy(prefix, prefix + 4, id.bytes);
  std::copy(digest.digits, digest.digits + sizeof digest.digits, id.bytes + 4);
  return id;
}

// Where decided events go: appended to a vector, built from a pool's recycled messages
// when there is one, else from new ones.
class EventSink {
 public:
  EventSink(std::vector<ev::EventEnvelope>& out, internal::EventPoolParts* parts)
      : out_(out), parts_(parts) {}

  ev::EventEnvelope& Add() {
    return parts_ != nullptr ? parts_->Append(out_) : out_.emplace_back();
  }
  size_t size() const { return out_.size(); }
  ev::EventEnvelope& operator[](size_t i) { return out_[i]; }

  template <class T>
  T* New() {
    return parts_ != nullptr ? parts_->Take<T>() : new T();
  }
  // Gives back a message New() returned that was not used.
  template <class T>
  void Discard(T* m) {
    if (parts_ != nullptr) {
      parts_->Recycle(m);
    } else {
      delete m;
    }
  }
  // Attaches a new or recycled sub-message to `parent` and returns it.
  template <class Parent, class Child>
  Child* Attach(Parent* parent, void (Parent::*set_allocated)(Child*)) {
    Child* child = New<Child>();
    (parent->*set_allocated)(child);
    return child;
  }

 private:
  std::vector<ev::EventEnvelope>& out_;
  internal::EventPoolParts* parts_;
};

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

  void Reject(const Rejection& r) { Reject(r.reason, r.detail, r.contract_id); }
  void Reject(ev::RejectReason reason, std::string_view detail, std::string_view contract_id = {});
  void Deduplicated(std::string_view original_id);

  void OnCreate(const cmd::CreatePayment& c);
  void OnConfirm();
  void OnCapture(const cmd::CapturePayment& c);
  void OnVoid(const cmd::VoidPayment& c);
  void OnRefund(const cmd::RefundPayment& c);
  void OnCancel(const cmd::CancelPayment& c);
  void OnGatewayResult(const cmd::RecordGatewayResult& r);
  void OnExpire(const cmd::ExpireProcessing& x);

  // `op` is in s_.pending: valid until the answer's event is committed.
  void OnAttemptResult(const PendingOperation& op, const cmd::RecordGatewayResult& r);
  void OnOperationResult(const PendingOperation& op, const cmd::RecordGatewayResult& r);
  void OnLateResult(const AttemptRecord& attempt, const cmd::RecordGatewayResult& r);

  void RetryCompensation(const PendingOperation& failed);
  void StartAttempt(uint32_t step, uint32_t attempt);
  void Advance();
  void Complete();
  void FailPlan(std::string_view reason);
  void StartVoid(uint32_t step, int64_t amount, std::string_view target_reference,
                 std::string_view reversed_key, std::string_view reason);
  void FillComposite(res::CompositeResult* out) const;
  void FillResult(res::Result* result, const PendingOperation& op,
                  const cmd::RecordGatewayResult& r, bool success, ty::ErrorCode code,
                  int64_t amount) const;
  // A new operation of the plan's step `step`, as StartAttempt and the *Started events log it.
  void FillOperation(ev::GatewayOperation* op, ev::OperationKind kind, uint32_t step,
                     int64_t amount);
  // A started operation again, as its answer's event carries it.
  void CopyOperation(ev::GatewayOperation* op, const PendingOperation& from);

  template <class Parent>
  ev::GatewayOperation* AttachOperation(Parent* parent, const PendingOperation& from) {
    ev::GatewayOperation* op = out_.Attach(parent, &Parent::set_allocated_op);
    CopyOperation(op, from);
    return op;
  }
  // The Result (or CompositeResult) of `parent`.
  template <class Parent>
  auto* AttachResult(Parent* parent) {
    return out_.Attach(parent, &Parent::set_allocated_result);
  }

  PaymentState& s_;
  const CommandRecord& rec_;
  const cmd::CommandEnvelope& env_;
  const DecideContext& ctx_;
  EventSink& out_;
  const size_t first_;  // index in out_ of this command's first event
  std::string_view merchant_for_orphan_;
};

// Writes every header field of the envelope (EventEnvelope's fields outside the `event`
// oneof, and all of Causation but index and count, which DecideInto sets). An envelope
// from an EventPool is not cleared: it still holds an earlier event's header, and every
// field is overwritten here, strings only when they differ (topic and merchant usually
// repeat). EventPoolTest.HeaderWriterCoversEveryField guards the field list.
// An id copied into every event header, at most kMaxCommandIdLength bytes: a command
// refused for a longer one must not carry it into its rejection. Cuts on a UTF-8
// character boundary, so the header stays valid proto3 text.
std::string_view BoundedId(std::string_view id) {
  if (id.size() <= kMaxCommandIdLength) return id;
  size_t cut = kMaxCommandIdLength;
  while (cut > 0 && (static_cast<unsigned char>(id[cut]) & 0xC0) == 0x80) --cut;
  return id.substr(0, cut);
}

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
  if (req.confirm) OnConfirm();
}

void Decider::OnConfirm() {
  if (s_.status != ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION) {
    return Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                  std::string("cannot confirm a payment in status ") + StatusName(s_.status));
  }
  ev::EventEnvelope& e = Begin();
  out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_confirmed);
  Commit(e);
  StartAttempt(0, 1);
}

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
  std::string* key = op->mutable_idempotency_key();
  key->clear();
  key->append(s_.payment_id);
  key->append(":s");
  AppendDecimal(*key, static_cast<uint64_t>(step));
  key->append(":a");
  AppendDecimal(*key, static_cast<uint64_t>(attempt));
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
  std::string* key = op->mutable_idempotency_key();
  key->clear();
  key->append(s_.payment_id);
  key->append(":v");
  AppendDecimal(*key, static_cast<uint64_t>(step));
  key->append(":n");
  AppendDecimal(*key, static_cast<uint64_t>(n));
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

void Decider::OnCapture(const cmd::CapturePayment& c) {
  const std::string_view key = Trim(c.idempotency_key());
  if (key.empty()) {
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING, "capture needs an idempotency_key",
                  "request/malformed");
  }
  if (key.size() > kMaxIdempotencyKeyLength) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG, "idempotency_key longer than 255 bytes",
                  "request/malformed");
  }
  const HexDigest hash =
      StableHasher().Add("capture").Add(c.amount_minor()).Add(c.final_capture() ? 1 : 0).Digest();
  if (const KeyedRequest* seen = FindKeyed(s_.captures, key)) {
    if (seen->request_hash == hash.view()) return Deduplicated(seen->id);
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_MISMATCH,
                  "capture idempotency_key reused with a different request",
                  "idempotency/mismatch");
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
    return Reject(
        ev::REJECT_REASON_CAPTURE_EXCEEDS_AUTHORIZED,
        "capture " + std::to_string(amount) + " exceeds capturable " + std::to_string(capturable));
  }
  const IdChars capture_id =
      PrefixedDigest("cap_", StableHasher().Add(s_.payment_id).Add(key).Digest());
  int64_t left = amount;
  for (uint32_t step = 0; step < s_.ledger.size() && left > 0; ++step) {
    const StepLedger& l = s_.ledger[step];
    const int64_t part = l.voided ? 0 : std::min(left, l.authorized - l.captured);
    if (part <= 0) continue;
    left -= part;
    ev::EventEnvelope& e = Begin();
    auto* cs = out_.Attach(&e, &ev::EventEnvelope::set_allocated_capture_started);
    SetText(cs, &ev::CaptureStarted::mutable_capture_id, capture_id.view());
    SetText(cs, &ev::CaptureStarted::mutable_idempotency_key, key);
    SetText(cs, &ev::CaptureStarted::mutable_request_hash, hash.view());
    cs->set_final_capture(c.final_capture());
    ev::GatewayOperation* op = out_.Attach(cs, &ev::CaptureStarted::set_allocated_op);
    FillOperation(op, ev::OPERATION_KIND_CAPTURE, step, part);
    std::string* op_key = op->mutable_idempotency_key();
    op_key->clear();
    op_key->append(capture_id.view());
    op_key->append(":s");
    AppendDecimal(*op_key, static_cast<uint64_t>(step));
    SetText(op, &ev::GatewayOperation::mutable_target_reference, l.processor_reference);
    SetText(op, &ev::GatewayOperation::mutable_parent_id, capture_id.view());
    Commit(e);
  }
}

void Decider::OnVoid(const cmd::VoidPayment& c) {
  if (s_.status != ev::PAYMENT_STATUS_REQUIRES_CAPTURE || s_.captured > 0) {
    return Reject(
        ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
        std::string("void is allowed only before any capture; status ") + StatusName(s_.status));
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
    SetText(out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_voided),
            &ev::PaymentVoided::mutable_reason, "nothing_authorized");
    Commit(e);
  }
}

void Decider::OnRefund(const cmd::RefundPayment& c) {
  const std::string_view key = Trim(c.idempotency_key());
  if (key.empty()) {
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING, "refund needs an idempotency_key",
                  "request/malformed");
  }
  if (key.size() > kMaxIdempotencyKeyLength) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG, "idempotency_key longer than 255 bytes",
                  "request/malformed");
  }
  const HexDigest hash = StableHasher().Add("refund").Add(c.amount_minor()).Digest();
  if (const KeyedRequest* seen = FindKeyed(s_.refunds, key)) {
    if (seen->request_hash == hash.view()) return Deduplicated(seen->id);
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
  const IdChars refund_id =
      PrefixedDigest("ref_", StableHasher().Add(s_.payment_id).Add(key).Digest());
  int64_t left = c.amount_minor();
  for (uint32_t step = 0; step < s_.ledger.size() && left > 0; ++step) {
    const StepLedger& l = s_.ledger[step];
    const int64_t part = std::min(left, l.captured - l.refunded);
    if (part <= 0 || l.voided) continue;
    left -= part;
    ev::EventEnvelope& e = Begin();
    auto* rs = out_.Attach(&e, &ev::EventEnvelope::set_allocated_refund_started);
    SetText(rs, &ev::RefundStarted::mutable_refund_id, refund_id.view());
    SetText(rs, &ev::RefundStarted::mutable_idempotency_key, key);
    SetText(rs, &ev::RefundStarted::mutable_request_hash, hash.view());
    ev::GatewayOperation* op = out_.Attach(rs, &ev::RefundStarted::set_allocated_op);
    FillOperation(op, ev::OPERATION_KIND_REFUND, step, part);
    std::string* op_key = op->mutable_idempotency_key();
    op_key->clear();
    op_key->append(refund_id.view());
    op_key->append(":s");
    AppendDecimal(*op_key, static_cast<uint64_t>(step));
    SetText(op, &ev::GatewayOperation::mutable_target_reference, l.processor_reference);
    SetText(op, &ev::GatewayOperation::mutable_parent_id, refund_id.view());
    Commit(e);
  }
}

void Decider::OnCancel(const cmd::CancelPayment& c) {
  if (s_.status != ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION) {
    return Reject(
        ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
        std::string("cancel is allowed only before confirmation; status ") + StatusName(s_.status));
  }
  ev::EventEnvelope& e = Begin();
  SetText(out_.Attach(&e, &ev::EventEnvelope::set_allocated_payment_canceled),
          &ev::PaymentCanceled::mutable_reason,
          TruncateUtf8(Trim(c.reason()), kMaxReferenceLength));
  Commit(e);
}

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
    case ev::EventEnvelope::kPlanBuilt: {
      const pl::PaymentPlan& plan = e.plan_built().plan();
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
      s.ledger.clear();
      for (size_t i = 0; i < steps; ++i) s.ledger.emplace_back();
      break;
    }
    case ev::EventEnvelope::kPaymentConfirmed:
      s.confirmed = true;
      break;
    case ev::EventEnvelope::kStepStarted: {
      const auto& op = e.step_started().op();
      AssignOperation(s.pending.emplace_back(), op);
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
      AssignOperation(s.pending.emplace_back(), cs.op());
      RememberKeyed(s.captures, cs.idempotency_key(), cs.request_hash(), cs.capture_id(),
                    cs.final_capture());
      break;
    }
    case ev::EventEnvelope::kPaymentCaptured: {
      const auto& pc = e.payment_captured();
      const int64_t amount = pc.op().amount().amount_minor();
      RemovePending(s, pc.op().idempotency_key());
      s.resolved_operations.emplace_back(pc.op().idempotency_key());
      if (StepLedger* l = LedgerFor(s, pc.op().step_index())) l->captured += amount;
      s.captured += amount;
      bool final_capture = false;
      for (const auto& c : s.captures) {
        if (c.id == pc.capture_id()) final_capture = c.final_capture;
      }
      if (!HasPendingKind(s, ev::OPERATION_KIND_CAPTURE) && (final_capture || Capturable(s) == 0)) {
        SetStatus(s, ev::PAYMENT_STATUS_SUCCEEDED);
      }
      break;
    }
    case ev::EventEnvelope::kCaptureFailed:
      RemovePending(s, e.capture_failed().op().idempotency_key());
      s.resolved_operations.emplace_back(e.capture_failed().op().idempotency_key());
      break;
    case ev::EventEnvelope::kVoidStarted: {
      const auto& op = e.void_started().op();
      AssignOperation(s.pending.emplace_back(), op);
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
      s.resolved_operations.emplace_back(op.idempotency_key());
      const AttemptRecord* reversed = s.FindAttempt(op.parent_id());
      // A compensation of a late success reverses money the ledger never counted.
      const bool counted = VoidReleasesCountedMoney(!op.parent_id().empty(),
                                                    reversed != nullptr && reversed->succeeded);
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
      s.resolved_operations.emplace_back(e.void_failed().op().idempotency_key());
      break;
    case ev::EventEnvelope::kRefundStarted: {
      const auto& rs = e.refund_started();
      AssignOperation(s.pending.emplace_back(), rs.op());
      RememberKeyed(s.refunds, rs.idempotency_key(), rs.request_hash(), rs.refund_id(), false);
      break;
    }
    case ev::EventEnvelope::kRefundSucceeded: {
      const auto& op = e.refund_succeeded().op();
      RemovePending(s, op.idempotency_key());
      s.resolved_operations.emplace_back(op.idempotency_key());
      if (StepLedger* l = LedgerFor(s, op.step_index())) l->refunded += op.amount().amount_minor();
      s.refunded += op.amount().amount_minor();
      break;
    }
    case ev::EventEnvelope::kRefundFailed:
      RemovePending(s, e.refund_failed().op().idempotency_key());
      s.resolved_operations.emplace_back(e.refund_failed().op().idempotency_key());
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

const char* EventTypeName(const ev::EventEnvelope& event) {
  const auto* field = ev::EventEnvelope::descriptor()->FindFieldByNumber(event.event_case());
  if (field == nullptr) return "Unknown";
  return field->message_type()->name().c_str();
}

}  // namespace payorch::command
