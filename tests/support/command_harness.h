// Test support for the pure payment core (src/command/): an inline merchant configuration
// modelled on the seed specification, command builders, and a harness that sends commands
// through DecideAndApply with increasing offsets and timestamps and keeps one PaymentState
// per payment, the way the writer does.
//
//   CommandHarness h;                                  // SeedConfig(), epoch 1
//   auto pid = h.PaymentIdFor(kSeedMerchant, "order-1");
//   h.Send(Create(kSeedMerchant, "order-1", 10'000, "USD", ty::PAYMENT_METHOD_CARD));
//   const auto& events = h.Send(Result(pid, h.PendingAttemptKey(pid), Outcome::kSucceeded));
//   EXPECT_THAT(Types(events), ElementsAre("StepSucceeded", "PaymentCompleted"));
//   EXPECT_EQ(h.state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
//
// Header-only; depends on payorch_command and the generated protos, nothing else.
#pragma once

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "command/aggregate.h"
#include "command/event_pool.h"
#include "command/hash.h"
#include "command/invariants.h"
#include "command/plan_builder.h"
#include "command/state.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/config/v1/config.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::testing {

namespace cmd = ::payments::commands::v1;
namespace cfg = ::payments::config::v1;
namespace ev = ::payments::events::v1;
namespace pl = ::payments::plan::v1;
namespace ty = ::payments::types::v1;

// ---------------------------------------------------------------------------------------
// Inline configuration.

// The seed merchant: card payments go to the co-branded processor first with Stripe as
// fallback; Apple Pay takes at most 100.00 and a card (Stripe) pays the remainder; any
// other method goes to Adyen. Manual and automatic capture both allowed.
inline constexpr std::string_view kSeedMerchant = "m_seed";
// Accepts only USD and EUR, at most 1,000.00 per payment; a single card step.
inline constexpr std::string_view kLimitedMerchant = "m_limited";
// Card only (no catch-all), single step capped at 50.00: anything above is uncovered.
inline constexpr std::string_view kCappedMerchant = "m_capped";

inline constexpr int64_t kApplePayMax = 10'000;
inline constexpr uint32_t kSeedMaxRetries = 2;
inline constexpr uint32_t kSeedDeadlineMs = 30'000;

inline cfg::StepTemplate* AddStep(cfg::RoutingProfile* p, ty::PaymentMethod method,
                                  std::string_view processor, int64_t max_amount,
                                  pl::StepRole role) {
  cfg::StepTemplate* s = p->add_steps();
  s->set_method(method);
  s->set_processor_id(std::string(processor));
  s->set_max_amount_minor(max_amount);
  s->set_role(role);
  return s;
}

inline cfg::OrchestratorConfig SeedConfig() {
  cfg::OrchestratorConfig c;
  c.set_schema_version(1);
  {
    cfg::MerchantConfig* m = c.add_merchants();
    m->set_merchant_id(std::string(kSeedMerchant));
    m->set_max_retries_per_step(kSeedMaxRetries);
    m->set_attempt_timeout_ms(1'500);
    m->set_processing_deadline_ms(kSeedDeadlineMs);
    cfg::RoutingProfile* card = m->add_profiles();
    card->set_name("card_cobranded");
    card->set_method(ty::PAYMENT_METHOD_CARD);
    AddStep(card, ty::PAYMENT_METHOD_CARD, "cobranded", 0, pl::STEP_ROLE_PRIMARY);
    AddStep(card, ty::PAYMENT_METHOD_CARD, "stripe", 0, pl::STEP_ROLE_FALLBACK);
    cfg::RoutingProfile* apple = m->add_profiles();
    apple->set_name("apple_pay_split");
    apple->set_method(ty::PAYMENT_METHOD_APPLE_PAY);
    AddStep(apple, ty::PAYMENT_METHOD_APPLE_PAY, "applepay", kApplePayMax, pl::STEP_ROLE_PRIMARY);
    AddStep(apple, ty::PAYMENT_METHOD_CARD, "stripe", 0, pl::STEP_ROLE_SPLIT);
    cfg::RoutingProfile* any = m->add_profiles();
    any->set_name("default");
    any->set_method(ty::PAYMENT_METHOD_UNSPECIFIED);
    AddStep(any, ty::PAYMENT_METHOD_UNSPECIFIED, "adyen", 0, pl::STEP_ROLE_PRIMARY);
  }
  {
    cfg::MerchantConfig* m = c.add_merchants();
    m->set_merchant_id(std::string(kLimitedMerchant));
    m->set_max_amount_minor(100'000);
    m->add_currencies("USD");
    m->add_currencies("EUR");
    cfg::RoutingProfile* any = m->add_profiles();
    any->set_name("default");
    AddStep(any, ty::PAYMENT_METHOD_UNSPECIFIED, "stripe", 0, pl::STEP_ROLE_PRIMARY);
  }
  {
    cfg::MerchantConfig* m = c.add_merchants();
    m->set_merchant_id(std::string(kCappedMerchant));
    cfg::RoutingProfile* card = m->add_profiles();
    card->set_name("card_capped");
    card->set_method(ty::PAYMENT_METHOD_CARD);
    AddStep(card, ty::PAYMENT_METHOD_CARD, "stripe", 5'000, pl::STEP_ROLE_PRIMARY);
  }
  return c;
}

// ---------------------------------------------------------------------------------------
// Command builders. Every builder returns a schema_version 1 envelope.

enum class Outcome { kSucceeded, kFailed, kUnknown, kNotFound };

inline cmd::CommandEnvelope Envelope(std::string_view payment_id) {
  cmd::CommandEnvelope e;
  e.set_schema_version(1);
  e.set_payment_id(std::string(payment_id));
  return e;
}

struct CreateOptions {
  bool manual_capture = false;
  bool confirm = true;
  std::map<std::string, std::string> metadata;
  std::string customer_reference;
};

inline cmd::CommandEnvelope Create(std::string_view merchant, std::string_view key, int64_t amount,
                                   std::string_view currency, ty::PaymentMethod method,
                                   const CreateOptions& o = {}) {
  cmd::CommandEnvelope e = Envelope("");
  cmd::CreatePayment* c = e.mutable_create();
  c->set_merchant_id(std::string(merchant));
  c->set_idempotency_key(std::string(key));
  c->mutable_amount()->set_amount_minor(amount);
  c->mutable_amount()->set_currency(std::string(currency));
  c->set_method(method);
  c->set_capture_mode(o.manual_capture ? ty::CAPTURE_MODE_MANUAL : ty::CAPTURE_MODE_AUTOMATIC);
  c->set_confirm(o.confirm);
  c->set_customer_reference(o.customer_reference);
  for (const auto& [k, v] : o.metadata) (*c->mutable_metadata())[k] = v;
  return e;
}

inline cmd::CommandEnvelope Confirm(std::string_view pid) {
  cmd::CommandEnvelope e = Envelope(pid);
  e.mutable_confirm();
  return e;
}

// A confirm with a payment method: a new plan for it (another card after a decline).
inline cmd::CommandEnvelope Confirm(std::string_view pid, ty::PaymentMethod method) {
  cmd::CommandEnvelope e = Envelope(pid);
  e.mutable_confirm()->set_method(method);
  return e;
}

inline cmd::CommandEnvelope Capture(std::string_view pid, int64_t amount, std::string_view key,
                                    bool final_capture = false) {
  cmd::CommandEnvelope e = Envelope(pid);
  e.mutable_capture()->set_amount_minor(amount);
  e.mutable_capture()->set_idempotency_key(std::string(key));
  e.mutable_capture()->set_final_capture(final_capture);
  return e;
}

inline cmd::CommandEnvelope Void(std::string_view pid, std::string_view reason = "requested") {
  cmd::CommandEnvelope e = Envelope(pid);
  e.mutable_void_()->set_reason(std::string(reason));
  return e;
}

inline cmd::CommandEnvelope Refund(std::string_view pid, int64_t amount, std::string_view key) {
  cmd::CommandEnvelope e = Envelope(pid);
  e.mutable_refund()->set_amount_minor(amount);
  e.mutable_refund()->set_idempotency_key(std::string(key));
  return e;
}

inline cmd::CommandEnvelope Cancel(std::string_view pid, std::string_view reason = "requested") {
  cmd::CommandEnvelope e = Envelope(pid);
  e.mutable_cancel()->set_reason(std::string(reason));
  return e;
}

inline cmd::GatewayOutcome ToProto(Outcome o) {
  switch (o) {
    case Outcome::kSucceeded:
      return cmd::GATEWAY_OUTCOME_SUCCEEDED;
    case Outcome::kFailed:
      return cmd::GATEWAY_OUTCOME_FAILED;
    case Outcome::kUnknown:
      return cmd::GATEWAY_OUTCOME_UNKNOWN;
    case Outcome::kNotFound:
      return cmd::GATEWAY_OUTCOME_NOT_FOUND;
  }
  return cmd::GATEWAY_OUTCOME_UNSPECIFIED;
}

// A gateway answer for operation `key`. amount 0 = whatever was asked.
inline cmd::CommandEnvelope Result(std::string_view pid, std::string_view key, Outcome outcome,
                                   ty::ErrorCode code = ty::ERROR_CODE_UNSPECIFIED,
                                   int64_t amount_processed = 0,
                                   std::string_view processor_reference = "ref") {
  cmd::CommandEnvelope e = Envelope(pid);
  cmd::RecordGatewayResult* r = e.mutable_gateway_result();
  r->set_operation_key(std::string(key));
  r->set_outcome(ToProto(outcome));
  r->set_error_code(code);
  r->set_amount_processed_minor(amount_processed);
  r->set_processor_reference(std::string(processor_reference));
  r->set_latency_ms(42);
  r->set_source("call");
  return e;
}

inline cmd::CommandEnvelope Succeeded(std::string_view pid, std::string_view key,
                                      int64_t amount_processed = 0) {
  return Result(pid, key, Outcome::kSucceeded, ty::ERROR_CODE_UNSPECIFIED, amount_processed,
                std::string("ref_") + std::string(key));
}

inline cmd::CommandEnvelope Failed(std::string_view pid, std::string_view key, ty::ErrorCode code) {
  return Result(pid, key, Outcome::kFailed, code);
}

inline cmd::CommandEnvelope Expire(std::string_view pid, std::string_view key) {
  cmd::CommandEnvelope e = Envelope(pid);
  e.mutable_expire()->set_operation_key(std::string(key));
  return e;
}

// ---------------------------------------------------------------------------------------
// Event inspection.

using Events = std::vector<ev::EventEnvelope>;

inline std::vector<std::string> Types(const Events& events) {
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const auto& e : events) out.emplace_back(command::EventTypeName(e));
  return out;
}

inline std::vector<const ev::EventEnvelope*> OfCase(const Events& events,
                                                    ev::EventEnvelope::EventCase c) {
  std::vector<const ev::EventEnvelope*> out;
  for (const auto& e : events) {
    if (e.event_case() == c) out.push_back(&e);
  }
  return out;
}

inline size_t CountOf(const Events& events, ev::EventEnvelope::EventCase c) {
  return OfCase(events, c).size();
}

// The only event of case `c`; nullptr if there is none or more than one.
inline const ev::EventEnvelope* OnlyOf(const Events& events, ev::EventEnvelope::EventCase c) {
  auto all = OfCase(events, c);
  return all.size() == 1 ? all[0] : nullptr;
}

inline bool OnlyRejectionsOrDedups(const Events& events) {
  for (const auto& e : events) {
    if (e.event_case() != ev::EventEnvelope::kCommandRejected &&
        e.event_case() != ev::EventEnvelope::kCommandDeduplicated) {
      return false;
    }
  }
  return !events.empty();
}

// Deterministic bytes of a message (map entries sorted), for byte-for-byte comparisons.
inline std::string DeterministicBytes(const google::protobuf::MessageLite& m) {
  std::string out;
  (void)m.ByteSizeLong();  // caches sizes for SerializeWithCachedSizes
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    m.SerializeWithCachedSizes(&coded);
  }
  return out;
}

inline std::string DeterministicBytes(const Events& events) {
  std::string out;
  for (const auto& e : events) {
    const std::string b = DeterministicBytes(e);
    out += std::to_string(b.size());
    out += ':';
    out += b;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The harness.

// In tests a breach of the core's invariants (command/invariants.h) is fatal.
inline void MakeBreachesFatal() {
  command::SetBreachHandler(+[](std::string_view what) {
    std::fprintf(stderr, "invariant breach: %.*s\n", static_cast<int>(what.size()), what.data());
    std::abort();
  });
}

class CommandHarness {
 public:
  explicit CommandHarness(cfg::OrchestratorConfig config = SeedConfig(), uint64_t epoch = 1)
      : plans_(std::move(config)), ctx_{&plans_, epoch} {
    MakeBreachesFatal();
  }

  CommandHarness(const CommandHarness&) = delete;
  CommandHarness& operator=(const CommandHarness&) = delete;

  // From now on, decides through DecideAndApply(..., EventPool&) and recycles the events of
  // each command into the pool before the next one, as the writer does. The events must be
  // byte-identical to the plain path's.
  void UseEventPool() { pool_ = std::make_unique<command::EventPool>(); }

  // Decides `command` against the state of the payment it addresses, applies the events,
  // and returns them. Offsets grow by 1 and timestamps by `tick_ms` per command.
  const Events& Send(const cmd::CommandEnvelope& command) {
    last_command_ = command;
    const std::string pid = command::TargetPaymentId(command);
    command::PaymentState scratch;
    command::PaymentState* state = &scratch;
    if (!pid.empty()) {
      state = &states_[pid];
      if (state->payment_id.empty()) state->payment_id = pid;
    }
    command::CommandRecord record;
    record.command = &last_command_;
    record.topic = "payments.commands";
    record.partition = partition_;
    record.offset = next_offset_++;
    now_ms_ += tick_ms_;
    record.timestamp_ms = now_ms_;
    if (pool_ != nullptr) {
      pool_->Recycle(last_);
      command::DecideAndApply(*state, record, ctx_, last_, *pool_);
    } else {
      last_.clear();
      command::DecideAndApply(*state, record, ctx_, last_);
    }
    for (const auto& e : last_) {
      log_.push_back(e);
      if (!e.payment_id().empty()) by_payment_[e.payment_id()].push_back(e);
    }
    return last_;
  }

  // Moves the command clock forward (the next command is stamped now + ms + tick).
  void Advance(int64_t ms) { now_ms_ += ms; }
  int64_t now_ms() const { return now_ms_; }
  void set_tick_ms(int64_t ms) { tick_ms_ = ms; }

  const command::PaymentState& state(const std::string& pid) { return states_[pid]; }
  bool has_state(const std::string& pid) const { return states_.count(pid) > 0; }
  const std::map<std::string, command::PaymentState>& states() const { return states_; }

  // Every event of the payment so far, in order.
  const Events& history(const std::string& pid) { return by_payment_[pid]; }
  // Every event so far, in order, including events that name no payment.
  const Events& log() const { return log_; }
  const Events& last() const { return last_; }

  const command::PlanBuilder& plans() const { return plans_; }
  const command::DecideContext& ctx() const { return ctx_; }
  // The runtime's admission as decide sees it (DecideContext::overloaded).
  void set_overloaded(bool overloaded) { ctx_.overloaded = overloaded; }

  static std::string PaymentIdFor(std::string_view merchant, std::string_view key) {
    return DerivePaymentId(merchant, key);
  }

  // The key of the authorization attempt in flight, or "" if there is none.
  std::string PendingAttemptKey(const std::string& pid) {
    for (const auto& op : state(pid).pending) {
      if (op.IsAuthorization()) return op.idempotency_key.str();
    }
    return "";
  }

  // Keys of every pending operation of `kind`, in order.
  std::vector<std::string> PendingKeys(const std::string& pid, ev::OperationKind kind) {
    std::vector<std::string> out;
    for (const auto& op : state(pid).pending) {
      if (op.kind == kind) out.push_back(op.idempotency_key.str());
    }
    return out;
  }

  // Answers every pending operation of `kind` with success; returns all events emitted.
  Events SucceedAll(const std::string& pid, ev::OperationKind kind) {
    Events all;
    for (const auto& key : PendingKeys(pid, kind)) {
      for (const auto& e : Send(Succeeded(pid, key))) all.push_back(e);
    }
    return all;
  }

 private:
  command::PlanBuilder plans_;
  command::DecideContext ctx_;
  int32_t partition_ = 3;
  int64_t next_offset_ = 100;
  int64_t now_ms_ = 1'700'000'000'000;
  int64_t tick_ms_ = 10;
  std::unique_ptr<command::EventPool> pool_;
  cmd::CommandEnvelope last_command_;
  std::map<std::string, command::PaymentState> states_;
  std::map<std::string, Events> by_payment_;
  Events log_;
  Events last_;
};

}  // namespace payorch::testing
