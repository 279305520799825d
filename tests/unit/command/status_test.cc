// command::PaymentStatusAfter, pinned for every case of the EventEnvelope oneof (a new event
// type fails the first test until it is listed), and the facts a capture's or a void's
// answer reads. The core (Evolve) and the projection both decide the status here;
// tests/projection/status_agreement_test.cc checks that they fill the facts alike.
#include "command/status.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "command/transitions.h"

namespace payorch::command {
namespace {

namespace ev = ::payments::events::v1;
using E = ev::EventEnvelope;

constexpr auto kNone = ev::PAYMENT_STATUS_UNSPECIFIED;
constexpr auto kRequiresConfirmation = ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION;
constexpr auto kAuthorizing = ev::PAYMENT_STATUS_AUTHORIZING;
constexpr auto kProcessing = ev::PAYMENT_STATUS_PROCESSING;
constexpr auto kRequiresCapture = ev::PAYMENT_STATUS_REQUIRES_CAPTURE;
constexpr auto kSucceeded = ev::PAYMENT_STATUS_SUCCEEDED;
constexpr auto kFailed = ev::PAYMENT_STATUS_FAILED;
constexpr auto kCanceled = ev::PAYMENT_STATUS_CANCELED;
constexpr auto kVoided = ev::PAYMENT_STATUS_VOIDED;

struct Row {
  ev::PaymentStatus before;
  std::optional<ev::PaymentStatus> after;  // std::nullopt: the status stays
};

// Each event case from a status it is decided in, with empty facts (nothing in flight,
// nothing capturable left, no step released) and the event's fields at their defaults,
// except an operation's kind (authorize) and PaymentCompleted's status.
const std::map<std::string, Row>& Table() {
  static const auto* table = new std::map<std::string, Row>{
      {"payment_created", {kNone, kRequiresConfirmation}},
      {"plan_built", {kFailed, kRequiresConfirmation}},
      {"payment_confirmed", {kRequiresConfirmation, std::nullopt}},
      {"step_started", {kRequiresConfirmation, kAuthorizing}},
      {"step_succeeded", {kProcessing, kAuthorizing}},
      {"step_failed", {kAuthorizing, kAuthorizing}},
      {"payment_processing", {kAuthorizing, kProcessing}},
      {"payment_completed", {kAuthorizing, kRequiresCapture}},
      {"payment_failed", {kAuthorizing, kFailed}},
      {"capture_started", {kRequiresCapture, std::nullopt}},
      {"payment_captured", {kRequiresCapture, kSucceeded}},
      {"capture_failed", {kRequiresCapture, std::nullopt}},
      {"void_started", {kRequiresCapture, std::nullopt}},
      {"payment_voided", {kRequiresCapture, std::nullopt}},
      {"void_failed", {kRequiresCapture, std::nullopt}},
      {"refund_started", {kSucceeded, std::nullopt}},
      {"refund_succeeded", {kSucceeded, std::nullopt}},
      {"refund_failed", {kSucceeded, std::nullopt}},
      {"payment_canceled", {kRequiresConfirmation, kCanceled}},
      {"command_rejected", {kAuthorizing, std::nullopt}},
      {"command_deduplicated", {kAuthorizing, std::nullopt}},
      {"processing_expired", {kProcessing, std::nullopt}},
      {"breaker_transitioned", {kAuthorizing, std::nullopt}},
      {"writer_claimed", {kNone, std::nullopt}},
  };
  return *table;
}

E EventOf(const google::protobuf::FieldDescriptor* field) {
  E e;
  google::protobuf::Message* body = e.GetReflection()->MutableMessage(&e, field);
  if (const auto* op_field = body->GetDescriptor()->FindFieldByName("op")) {
    auto* op =
        static_cast<ev::GatewayOperation*>(body->GetReflection()->MutableMessage(body, op_field));
    op->set_idempotency_key("op-1");
    op->set_kind(ev::OPERATION_KIND_AUTHORIZE);
  }
  if (e.has_payment_completed()) e.mutable_payment_completed()->set_status(kRequiresCapture);
  return e;
}

std::string Name(std::optional<ev::PaymentStatus> s) { return s ? StatusName(*s) : "(stays)"; }

TEST(PaymentStatusAfterTest, EveryEventCaseHasItsStatus) {
  const auto* oneof = E::descriptor()->FindOneofByName("event");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const auto* field = oneof->field(i);
    SCOPED_TRACE(field->name());
    auto it = Table().find(field->name());
    ASSERT_NE(it, Table().end()) << "a new event: say what it does to the status in "
                                    "command/status.cc and list it here";
    const E e = EventOf(field);
    const Row& row = it->second;
    const auto after = PaymentStatusAfter(row.before, e, StatusFacts{});
    EXPECT_EQ(Name(after), Name(row.after));
    // Every answer here is an edge of the lifecycle (or staying put).
    if (after) {
      EXPECT_TRUE(IsValidTransition(row.before, *after, e.event_case()));
    }
  }
  EXPECT_EQ(Table().size(), static_cast<size_t>(oneof->field_count()));
}

TEST(PaymentStatusAfterTest, OnlyCapturesAndVoidsReadFacts) {
  const auto* oneof = E::descriptor()->FindOneofByName("event");
  ASSERT_NE(oneof, nullptr);
  StatusFacts full;
  full.captures_in_flight = true;
  full.final_capture = true;
  full.capturable_left = 500;
  full.voids_in_flight = true;
  full.every_step_released = true;
  for (int i = 0; i < oneof->field_count(); ++i) {
    const E e = EventOf(oneof->field(i));
    SCOPED_TRACE(oneof->field(i)->name());
    const bool needs = e.has_payment_captured() || e.has_payment_voided();
    EXPECT_EQ(StatusNeedsFacts(e.event_case()), needs);
    if (needs) continue;
    for (const auto before : {kNone, kAuthorizing, kRequiresCapture, kFailed}) {
      EXPECT_EQ(Name(PaymentStatusAfter(before, e, full)),
                Name(PaymentStatusAfter(before, e, StatusFacts{})));
    }
  }
}

TEST(PaymentStatusAfterTest, ARepeatedCreateOrAPlanOutsideFailedChangesNothing) {
  E created;
  created.mutable_payment_created();
  EXPECT_EQ(PaymentStatusAfter(kAuthorizing, created, {}), std::nullopt);
  E plan;
  plan.mutable_plan_built();
  EXPECT_EQ(PaymentStatusAfter(kRequiresConfirmation, plan, {}), std::nullopt);
  EXPECT_EQ(PaymentStatusAfter(kFailed, plan, {}), kRequiresConfirmation);
}

TEST(PaymentStatusAfterTest, OnlyAnAuthorizationsUnknownOutcomeIsProcessing) {
  E e;
  e.mutable_payment_processing()->mutable_op()->set_kind(ev::OPERATION_KIND_SALE);
  EXPECT_EQ(PaymentStatusAfter(kAuthorizing, e, {}), kProcessing);
  e.mutable_payment_processing()->mutable_op()->set_kind(ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(PaymentStatusAfter(kRequiresCapture, e, {}), std::nullopt);
}

TEST(PaymentStatusAfterTest, ACaptureCompletesThePaymentWhenFinalOrNothingIsLeft) {
  E e;
  e.mutable_payment_captured()->mutable_op()->set_kind(ev::OPERATION_KIND_CAPTURE);
  StatusFacts partial;
  partial.capturable_left = 600;
  EXPECT_EQ(PaymentStatusAfter(kRequiresCapture, e, partial), std::nullopt);
  StatusFacts final_capture = partial;
  final_capture.final_capture = true;
  EXPECT_EQ(PaymentStatusAfter(kRequiresCapture, e, final_capture), kSucceeded);
  const StatusFacts used_up;  // nothing capturable left
  EXPECT_EQ(PaymentStatusAfter(kRequiresCapture, e, used_up), kSucceeded);
  StatusFacts another_in_flight = final_capture;
  another_in_flight.captures_in_flight = true;
  EXPECT_EQ(PaymentStatusAfter(kRequiresCapture, e, another_in_flight), std::nullopt);
}

TEST(PaymentStatusAfterTest, ARequestedVoidVoidsThePaymentOnceEveryStepIsReleased) {
  E e;
  e.mutable_payment_voided()->mutable_op()->set_kind(ev::OPERATION_KIND_VOID);
  StatusFacts released;
  released.every_step_released = true;
  EXPECT_EQ(PaymentStatusAfter(kRequiresCapture, e, released), kVoided);
  StatusFacts another_in_flight = released;
  another_in_flight.voids_in_flight = true;
  EXPECT_EQ(PaymentStatusAfter(kRequiresCapture, e, another_in_flight), std::nullopt);
  EXPECT_EQ(PaymentStatusAfter(kRequiresCapture, e, StatusFacts{}), std::nullopt);
  // A compensation (of a late success, or of a failed plan's step) never moves the payment.
  e.mutable_payment_voided()->set_compensation(true);
  EXPECT_EQ(PaymentStatusAfter(kRequiresCapture, e, released), std::nullopt);
  EXPECT_EQ(PaymentStatusAfter(kFailed, e, released), std::nullopt);
  // Without an operation nothing was authorized: the payment is voided outright.
  E whole;
  whole.mutable_payment_voided()->set_reason("requested");
  EXPECT_EQ(PaymentStatusAfter(kRequiresCapture, whole, StatusFacts{}), kVoided);
}

}  // namespace
}  // namespace payorch::command
