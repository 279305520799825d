// command::EffectsOf, pinned for every case of the EventEnvelope oneof: what each event
// does to a gateway operation. A new event type fails the first test until it is listed.
#include "command/lifecycle.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace payorch::command {
namespace {

namespace ev = ::payments::events::v1;

struct Expected {
  bool started = false;
  bool answered = false;
  bool unknown = false;
  bool skipped = false;
  bool expired = false;
  bool busy = false;
};

const std::map<std::string, Expected>& Table() {
  static const auto* table = new std::map<std::string, Expected>{
      {"payment_created", {}},
      {"plan_built", {}},
      {"step_started", {.started = true, .busy = true}},
      {"step_succeeded", {.answered = true, .busy = true}},
      {"step_failed", {.answered = true, .busy = true}},
      {"payment_processing", {.unknown = true, .busy = true}},
      {"payment_completed", {}},
      {"payment_failed", {}},
      {"capture_started", {.started = true, .busy = true}},
      {"payment_captured", {.answered = true}},
      {"capture_failed", {.answered = true}},
      {"void_started", {.started = true, .busy = true}},
      {"payment_voided", {.answered = true}},
      {"void_failed", {.answered = true}},
      {"refund_started", {.started = true, .busy = true}},
      {"refund_succeeded", {.answered = true}},
      {"refund_failed", {.answered = true}},
      {"payment_canceled", {}},
      {"command_rejected", {}},
      {"command_deduplicated", {}},
      {"processing_expired", {.expired = true}},
      {"payment_confirmed", {}},
      {"breaker_transitioned", {}},
      {"writer_claimed", {}},
  };
  return *table;
}

// An event of the oneof case `field` whose operation (if it has one) has key "op-1".
ev::EventEnvelope EventOf(const google::protobuf::FieldDescriptor* field) {
  ev::EventEnvelope e;
  google::protobuf::Message* body = e.GetReflection()->MutableMessage(&e, field);
  if (const auto* op_field = body->GetDescriptor()->FindFieldByName("op")) {
    auto* op =
        static_cast<ev::GatewayOperation*>(body->GetReflection()->MutableMessage(body, op_field));
    op->set_idempotency_key("op-1");
  }
  return e;
}

TEST(LifecycleTest, EveryEventCaseHasItsEffects) {
  const auto* oneof = ev::EventEnvelope::descriptor()->FindOneofByName("event");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const auto* field = oneof->field(i);
    SCOPED_TRACE(field->name());
    auto it = Table().find(field->name());
    ASSERT_NE(it, Table().end()) << "a new event: say what it does in command/lifecycle.cc "
                                    "and list it here";
    const Expected& want = it->second;
    const ev::EventEnvelope e = EventOf(field);
    const OperationEffects fx = EffectsOf(e);
    EXPECT_EQ(fx.started != nullptr, want.started);
    EXPECT_EQ(fx.answered != nullptr, want.answered);
    EXPECT_EQ(fx.unknown != nullptr, want.unknown);
    EXPECT_EQ(fx.skipped != nullptr, want.skipped);
    EXPECT_EQ(fx.expired != nullptr, want.expired);
    EXPECT_EQ(fx.payment_busy, want.busy);
    for (const auto* op : {fx.started, fx.answered, fx.unknown, fx.skipped, fx.expired}) {
      if (op != nullptr) {
        EXPECT_EQ(op->idempotency_key(), "op-1");
      }
    }
  }
  EXPECT_EQ(Table().size(), static_cast<size_t>(oneof->field_count()));
}

TEST(LifecycleTest, ABreakersSkipIsChasedNotAnswered) {
  ev::EventEnvelope e;
  e.mutable_step_failed()->mutable_op()->set_idempotency_key("op-1");
  e.mutable_step_failed()->set_circuit_open(true);
  const OperationEffects fx = EffectsOf(e);
  EXPECT_EQ(fx.answered, nullptr);
  ASSERT_NE(fx.skipped, nullptr);
  EXPECT_EQ(fx.skipped->idempotency_key(), "op-1");
}

TEST(LifecycleTest, ACompensationVoidReplacesTheAttemptItReverses) {
  ev::EventEnvelope e;
  e.mutable_void_started()->mutable_op()->set_idempotency_key("pay_1:v0:n1");
  e.mutable_void_started()->mutable_op()->set_parent_id("pay_1:s0:a1");
  const OperationEffects fx = EffectsOf(e);
  ASSERT_NE(fx.started, nullptr);
  EXPECT_EQ(fx.replaces, "pay_1:s0:a1");
}

TEST(LifecycleTest, AVoidOfTheWholePaymentAnswersNoOperation) {
  ev::EventEnvelope e;
  e.mutable_payment_voided()->set_reason("requested");  // no op: nothing was authorized
  EXPECT_EQ(EffectsOf(e).answered, nullptr);
}

}  // namespace
}  // namespace payorch::command
