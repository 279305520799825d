// The core and the read model agree on a payment's status after every event: each scenario
// runs commands through the core (CommandHarness), then feeds the payment's events one at a
// time to command::Evolve and to projection::Projector (support/status_agreement.h). Both
// decide the status with command::PaymentStatusAfter; a reader that fills its facts
// differently, or keeps a rule of its own, fails here.
#include "support/status_agreement.h"

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "support/command_harness.h"

namespace payorch::testing {
namespace {

using E = ev::EventEnvelope;

struct Scenario {
  std::string name;
  // The payment: created (and confirmed) for m_seed with this method, amount and mode.
  ty::PaymentMethod method = ty::PAYMENT_METHOD_CARD;
  int64_t amount = 1'000;
  bool manual = false;
  // Sends the scenario's commands for payment `pid` after its create.
  std::function<void(CommandHarness&, const std::string&)> run;
  ev::PaymentStatus final_status = ev::PAYMENT_STATUS_UNSPECIFIED;
  // An event case the scenario must reach (what it is about).
  E::EventCase must_reach = E::EVENT_NOT_SET;
};

// gtest names a failing case by its scenario, not its bytes.
void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }

void SucceedAttempt(CommandHarness& h, const std::string& pid) {
  h.Send(Succeeded(pid, h.PendingAttemptKey(pid)));
}

const std::vector<Scenario>& Scenarios() {
  static const auto* scenarios = new std::vector<Scenario>{
      {"AnAutomaticCaptureSucceeds", ty::PAYMENT_METHOD_CARD, 1'000, false,
       [](CommandHarness& h, const std::string& pid) { SucceedAttempt(h, pid); },
       ev::PAYMENT_STATUS_SUCCEEDED, E::kPaymentCompleted},
      {"AManualCaptureInFull", ty::PAYMENT_METHOD_CARD, 1'000, true,
       [](CommandHarness& h, const std::string& pid) {
         SucceedAttempt(h, pid);
         h.Send(Capture(pid, 1'000, "cap-1"));
         h.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
       },
       ev::PAYMENT_STATUS_SUCCEEDED, E::kPaymentCaptured},
      {"PartialCapturesTheLastOneFinal", ty::PAYMENT_METHOD_CARD, 1'000, true,
       [](CommandHarness& h, const std::string& pid) {
         SucceedAttempt(h, pid);
         h.Send(Capture(pid, 300, "cap-1"));
         h.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
         h.Send(Capture(pid, 200, "cap-2", /*final_capture=*/true));
         h.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
       },
       ev::PAYMENT_STATUS_SUCCEEDED, E::kPaymentCaptured},
      {"PartialCapturesThatUseUpTheAuthorization", ty::PAYMENT_METHOD_CARD, 1'000, true,
       [](CommandHarness& h, const std::string& pid) {
         SucceedAttempt(h, pid);
         h.Send(Capture(pid, 400, "cap-1"));
         h.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
         h.Send(Capture(pid, 600, "cap-2"));
         h.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
       },
       ev::PAYMENT_STATUS_SUCCEEDED, E::kPaymentCaptured},
      {"ACapturesFailureLeavesThePaymentCapturable", ty::PAYMENT_METHOD_CARD, 1'000, true,
       [](CommandHarness& h, const std::string& pid) {
         SucceedAttempt(h, pid);
         h.Send(Capture(pid, 1'000, "cap-1"));
         for (const auto& key : h.PendingKeys(pid, ev::OPERATION_KIND_CAPTURE)) {
           h.Send(Failed(pid, key, ty::ERROR_CODE_HARD_DECLINE));
         }
       },
       ev::PAYMENT_STATUS_REQUIRES_CAPTURE, E::kCaptureFailed},
      // A timed-out attempt is retried and the retry succeeds; the first attempt then
      // succeeds late: a compensation void reverses it and the payment stays capturable.
      {"ALateSuccessIsCompensatedThenCapturedInParts", ty::PAYMENT_METHOD_CARD, 1'000, true,
       [](CommandHarness& h, const std::string& pid) {
         const std::string first = h.PendingAttemptKey(pid);
         h.Send(Failed(pid, first, ty::ERROR_CODE_TIMEOUT));
         SucceedAttempt(h, pid);
         h.Send(Succeeded(pid, first));
         h.SucceedAll(pid, ev::OPERATION_KIND_VOID);
         h.Send(Capture(pid, 400, "cap-1"));
         h.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
         h.Send(Capture(pid, 600, "cap-2"));
         h.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
       },
       ev::PAYMENT_STATUS_SUCCEEDED, E::kVoidStarted},
      {"ALateSuccessIsCompensatedThenTheAuthorizationVoided", ty::PAYMENT_METHOD_CARD, 1'000, true,
       [](CommandHarness& h, const std::string& pid) {
         const std::string first = h.PendingAttemptKey(pid);
         h.Send(Failed(pid, first, ty::ERROR_CODE_TIMEOUT));
         SucceedAttempt(h, pid);
         h.Send(Succeeded(pid, first));
         h.SucceedAll(pid, ev::OPERATION_KIND_VOID);  // the compensation: still capturable
         EXPECT_EQ(h.state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
         h.Send(Void(pid));
         h.SucceedAll(pid, ev::OPERATION_KIND_VOID);
       },
       ev::PAYMENT_STATUS_VOIDED, E::kVoidStarted},
      {"AVoidAfterAuthorization", ty::PAYMENT_METHOD_CARD, 1'000, true,
       [](CommandHarness& h, const std::string& pid) {
         SucceedAttempt(h, pid);
         h.Send(Void(pid));
         h.SucceedAll(pid, ev::OPERATION_KIND_VOID);
       },
       ev::PAYMENT_STATUS_VOIDED, E::kPaymentVoided},
      // Apple Pay takes 100.00, a card the rest: two authorized steps, two voids.
      {"ASplitAuthorizationIsVoidedOnceBothStepsAre", ty::PAYMENT_METHOD_APPLE_PAY, 15'000, true,
       [](CommandHarness& h, const std::string& pid) {
         SucceedAttempt(h, pid);
         SucceedAttempt(h, pid);
         h.Send(Void(pid));
         h.SucceedAll(pid, ev::OPERATION_KIND_VOID);
       },
       ev::PAYMENT_STATUS_VOIDED, E::kPaymentVoided},
      {"AFailedStepVoidLeavesTheSplitCapturableUntilVoidedAgain", ty::PAYMENT_METHOD_APPLE_PAY,
       15'000, true,
       [](CommandHarness& h, const std::string& pid) {
         SucceedAttempt(h, pid);
         SucceedAttempt(h, pid);
         h.Send(Void(pid));
         const auto voids = h.PendingKeys(pid, ev::OPERATION_KIND_VOID);
         h.Send(Succeeded(pid, voids.at(0)));
         h.Send(Failed(pid, voids.at(1), ty::ERROR_CODE_PROCESSOR_UNAVAILABLE));
         EXPECT_EQ(h.state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
         h.Send(Void(pid));
         h.SucceedAll(pid, ev::OPERATION_KIND_VOID);
       },
       ev::PAYMENT_STATUS_VOIDED, E::kVoidFailed},
      {"ASplitSaleWhoseSecondStepFailsIsReversed", ty::PAYMENT_METHOD_APPLE_PAY, 15'000, false,
       [](CommandHarness& h, const std::string& pid) {
         SucceedAttempt(h, pid);
         h.Send(Failed(pid, h.PendingAttemptKey(pid), ty::ERROR_CODE_HARD_DECLINE));
         h.SucceedAll(pid, ev::OPERATION_KIND_VOID);
       },
       ev::PAYMENT_STATUS_FAILED, E::kPaymentVoided},
      {"AnUnknownOutcomeThenItsLateAnswer", ty::PAYMENT_METHOD_CARD, 1'000, false,
       [](CommandHarness& h, const std::string& pid) {
         const std::string key = h.PendingAttemptKey(pid);
         h.Send(Result(pid, key, Outcome::kUnknown));
         EXPECT_EQ(h.state(pid).status, ev::PAYMENT_STATUS_PROCESSING);
         h.Send(Succeeded(pid, key));
       },
       ev::PAYMENT_STATUS_SUCCEEDED, E::kPaymentProcessing},
      {"ADeclineThenAnotherPaymentMethod", ty::PAYMENT_METHOD_CARD, 1'000, false,
       [](CommandHarness& h, const std::string& pid) {
         h.Send(Failed(pid, h.PendingAttemptKey(pid), ty::ERROR_CODE_HARD_DECLINE));
         EXPECT_EQ(h.state(pid).status, ev::PAYMENT_STATUS_FAILED);
         h.Send(Confirm(pid, ty::PAYMENT_METHOD_APPLE_PAY));
         SucceedAttempt(h, pid);
       },
       ev::PAYMENT_STATUS_SUCCEEDED, E::kPlanBuilt},
      {"ARefundLeavesTheStatus", ty::PAYMENT_METHOD_CARD, 1'000, false,
       [](CommandHarness& h, const std::string& pid) {
         SucceedAttempt(h, pid);
         h.Send(Refund(pid, 400, "rf-1"));
         h.SucceedAll(pid, ev::OPERATION_KIND_REFUND);
       },
       ev::PAYMENT_STATUS_SUCCEEDED, E::kRefundSucceeded},
  };
  return *scenarios;
}

class StatusAgreementTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(StatusAgreementTest, CoreAndReadModelAgreeAfterEveryEvent) {
  const Scenario& s = GetParam();
  CommandHarness h;
  CreateOptions o;
  o.manual_capture = s.manual;
  h.Send(Create(kSeedMerchant, "order-1", s.amount, "USD", s.method, o));
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, "order-1");
  s.run(h, pid);
  ASSERT_EQ(h.state(pid).status, s.final_status)
      << "the scenario did not end where it says: " << ev::PaymentStatus_Name(h.state(pid).status);

  StatusAgreement agree;
  bool reached = s.must_reach == E::EVENT_NOT_SET;
  for (const E& e : h.history(pid)) {
    reached |= e.event_case() == s.must_reach;
    EXPECT_EQ(agree.Feed(e), "");
  }
  EXPECT_TRUE(reached) << "the scenario never reached event case " << s.must_reach;
  EXPECT_EQ(agree.last_status(), s.final_status);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, StatusAgreementTest, ::testing::ValuesIn(Scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace payorch::testing
