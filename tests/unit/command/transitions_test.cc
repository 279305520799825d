// The payment status transition table, pinned pair by pair: every (from, to) over every
// PaymentStatus value is listed below with the expected answer.
#include "command/transitions.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <utility>

#include "command/aggregate.h"
#include "command/invariants.h"

namespace payorch::command {
namespace {

namespace ev = ::payments::events::v1;

constexpr ev::PaymentStatus kNone = ev::PAYMENT_STATUS_UNSPECIFIED;
constexpr ev::PaymentStatus kReqConfirm = ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION;
constexpr ev::PaymentStatus kAuthorizing = ev::PAYMENT_STATUS_AUTHORIZING;
constexpr ev::PaymentStatus kProcessing = ev::PAYMENT_STATUS_PROCESSING;
constexpr ev::PaymentStatus kReqCapture = ev::PAYMENT_STATUS_REQUIRES_CAPTURE;
constexpr ev::PaymentStatus kSucceeded = ev::PAYMENT_STATUS_SUCCEEDED;
constexpr ev::PaymentStatus kFailed = ev::PAYMENT_STATUS_FAILED;
constexpr ev::PaymentStatus kCanceled = ev::PAYMENT_STATUS_CANCELED;
constexpr ev::PaymentStatus kVoided = ev::PAYMENT_STATUS_VOIDED;

std::vector<ev::PaymentStatus> AllStatuses() {
  std::vector<ev::PaymentStatus> all;
  for (int v = ev::PaymentStatus_MIN; v <= ev::PaymentStatus_MAX; ++v) {
    if (ev::PaymentStatus_IsValid(v)) all.push_back(static_cast<ev::PaymentStatus>(v));
  }
  return all;
}

// Every allowed change of status (staying put is always allowed and not listed).
const std::set<std::pair<ev::PaymentStatus, ev::PaymentStatus>>& AllowedChanges() {
  static const auto* table = new std::set<std::pair<ev::PaymentStatus, ev::PaymentStatus>>{
      {kNone, kReqConfirm},         // PaymentCreated
      {kReqConfirm, kAuthorizing},  // confirmed: first attempt starts
      {kReqConfirm, kCanceled},     // canceled before confirmation
      {kAuthorizing, kProcessing},  // attempt outcome unknown
      {kProcessing, kAuthorizing},  // outcome resolved, plan goes on
      {kAuthorizing, kReqCapture},  // plan covered, manual capture
      {kProcessing, kReqCapture},   //
      {kAuthorizing, kSucceeded},   // plan covered, automatic capture
      {kProcessing, kSucceeded},    //
      {kReqCapture, kSucceeded},    // captured
      {kAuthorizing, kFailed},      // plan exhausted or hard decline
      {kProcessing, kFailed},       // processing deadline passed
      {kReqCapture, kVoided},       // authorization released
      {kFailed, kReqConfirm},       // confirmed again with another payment method
      {kFailed, kCanceled},         // canceled while awaiting a payment method
  };
  return *table;
}

TEST(TransitionsTest, EveryPairMatchesTheTable) {
  const auto all = AllStatuses();
  ASSERT_EQ(all.size(), 9u) << "a PaymentStatus was added: extend the table above";
  int checked = 0;
  for (auto from : all) {
    for (auto to : all) {
      const bool expected = from == to || AllowedChanges().count({from, to}) > 0;
      EXPECT_EQ(IsValidTransition(from, to), expected)
          << StatusName(from) << " -> " << StatusName(to);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 81);
}

TEST(TransitionsTest, TerminalStatusesHaveNoWayOut) {
  for (auto from : AllStatuses()) {
    const bool terminal = from == kSucceeded || from == kCanceled || from == kVoided;
    EXPECT_EQ(IsTerminalStatus(from), terminal) << StatusName(from);
    if (!terminal) continue;
    for (auto to : AllStatuses()) {
      if (to == from) continue;
      EXPECT_FALSE(IsValidTransition(from, to)) << StatusName(from) << " -> " << StatusName(to);
    }
  }
}

TEST(TransitionsTest, NothingLeadsBackToNone) {
  for (auto from : AllStatuses()) {
    if (from == kNone) continue;
    EXPECT_FALSE(IsValidTransition(from, kNone)) << StatusName(from);
  }
}

TEST(TransitionsTest, OutOfRangeValuesAreNeverATarget) {
  const auto bogus = static_cast<ev::PaymentStatus>(99);
  for (auto from : AllStatuses()) EXPECT_FALSE(IsValidTransition(from, bogus));
  EXPECT_STREQ(StatusName(bogus), "invalid");
}

TEST(TransitionsTest, StatusNamesAreDistinct) {
  std::set<std::string> names;
  for (auto s : AllStatuses()) names.insert(StatusName(s));
  EXPECT_EQ(names.size(), AllStatuses().size());
}

// An event asking for an edge the table does not have is an invariant breach: reported
// (counted, handed to the handler) and the status stays.
std::string last_breach;
TEST(InvariantTest, AnIllegalTransitionIsReportedAndChangesNothing) {
  SetBreachHandler(+[](std::string_view what) { last_breach = std::string(what); });
  PaymentState s;
  s.payment_id = "pay_1";
  s.status = kFailed;
  ev::EventEnvelope e;
  e.set_payment_id("pay_1");
  e.mutable_payment_completed()->set_status(kSucceeded);
  const int64_t before = BreachCount();
  Evolve(s, e);
  EXPECT_EQ(BreachCount(), before + 1);
  EXPECT_EQ(s.status, kFailed);
  EXPECT_NE(last_breach.find("failed -> succeeded"), std::string::npos) << last_breach;
  SetBreachHandler(nullptr);
}

// The right edge by the wrong event is a breach too: the trigger is part of the rule.
TEST(InvariantTest, AnEdgeTakenByAnEventNotListedForItIsABreach) {
  SetBreachHandler(+[](std::string_view what) { last_breach = std::string(what); });
  PaymentState s;
  s.payment_id = "pay_1";
  s.status = kReqCapture;
  ev::EventEnvelope e;
  e.set_payment_id("pay_1");
  e.mutable_payment_completed()->set_status(kVoided);  // VOIDED is PaymentVoided's edge
  const int64_t before = BreachCount();
  Evolve(s, e);
  EXPECT_EQ(BreachCount(), before + 1);
  EXPECT_EQ(s.status, kReqCapture);
  SetBreachHandler(nullptr);
}

// Every entry of kLifecycle names an event that exists, and the pair table above is
// exactly the (from, to) pairs of kLifecycle.
TEST(LifecycleTest, EdgeListAndPairTableAgree) {
  std::set<std::pair<ev::PaymentStatus, ev::PaymentStatus>> from_list;
  for (const Transition& t : kLifecycle) {
    EXPECT_NE(ev::EventEnvelope::descriptor()->FindFieldByNumber(t.trigger), nullptr);
    EXPECT_NE(t.from, t.to);
    from_list.emplace(t.from, t.to);
  }
  EXPECT_EQ(from_list, AllowedChanges());
}

// The diagram in src/command/README.md is generated from kLifecycle: when the list
// changes, paste the block this test prints into the README.
TEST(LifecycleTest, ReadmeDiagramIsGeneratedFromTheEdgeList) {
  std::ifstream in(PAYORCH_COMMAND_README);
  ASSERT_TRUE(in) << PAYORCH_COMMAND_README;
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "```mermaid\n";
  const size_t at = readme.find(begin);
  ASSERT_NE(at, std::string::npos) << "no mermaid block in the README";
  const size_t end = readme.find("```", at + begin.size());
  ASSERT_NE(end, std::string::npos);
  const std::string in_readme = readme.substr(at + begin.size(), end - at - begin.size());
  EXPECT_EQ(in_readme, LifecycleDiagram())
      << "src/command/README.md's diagram is stale; replace its mermaid block with:\n"
      << begin << LifecycleDiagram() << "```\n";
}

}  // namespace
}  // namespace payorch::command
