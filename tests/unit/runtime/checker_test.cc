// runtime/checker.h judges settling (ARCHITECTURE.md, "The I/O rules"): a payment not
// settled within the bound of its last client command is a violation, and so is a failed
// payment whose processor still holds money, whatever is pending. The log is made by the
// real core (CommandHarness) and fed to the Checker as records, the way CheckLog does.
#include "runtime/checker.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/command_harness.h"

namespace payorch::runtime {
namespace {

namespace ev = ::payments::events::v1;
namespace ty = ::payments::types::v1;
using testing::CommandHarness;
using testing::Create;
using testing::CreateOptions;
using testing::kSeedMerchant;
using testing::Outcome;

constexpr int32_t kPartition = 3;  // the harness's
constexpr int64_t kMinute = 60'000;
constexpr int64_t kAmount = 2'500;

// A commands partition and an events partition as the log would hold them: every command
// decided by the real core, its events published 1 ms later by the writer of epoch 1.
class Log {
 public:
  Log() {
    ev::EventEnvelope claim;
    claim.set_epoch(1);
    claim.mutable_writer_claimed()->set_epoch(1);
    claim.mutable_writer_claimed()->set_partition(kPartition);
    AppendEvent(claim, h_.now_ms());
  }

  // Decides `command`; returns the payment it addressed.
  std::string Send(const ::payments::commands::v1::CommandEnvelope& command) {
    const std::string pid = command::TargetPaymentId(command);
    const auto& events = h_.Send(command);
    log::Record r;
    r.topic = "payorch.commands";
    r.partition = PartitionId{kPartition};
    r.offset = Offset{next_command_offset_++};
    r.timestamp_ms = h_.now_ms();
    r.key = pid;
    r.value = command.SerializeAsString();
    for (const auto& e : events) {
      EXPECT_EQ(e.causation().offset(), r.offset.value()) << "the harness's offsets moved";
      AppendEvent(e, r.timestamp_ms + 1);
    }
    commands_.push_back(std::move(r));
    return pid;
  }

  // A command appended but not decided (the writer is behind or stopped).
  void AppendUndecided(const ::payments::commands::v1::CommandEnvelope& command) {
    log::Record r;
    r.topic = "payorch.commands";
    r.partition = PartitionId{kPartition};
    r.offset = Offset{next_command_offset_++};
    r.timestamp_ms = h_.now_ms();
    r.value = command.SerializeAsString();
    commands_.push_back(std::move(r));
  }

  // A card payment on the seed merchant whose first attempt's outcome is unknown.
  std::string CreateProcessing(const std::string& order) {
    const std::string pid =
        Send(Create(kSeedMerchant, order, kAmount, "USD", ty::PAYMENT_METHOD_CARD));
    Send(testing::Result(pid, h_.PendingAttemptKey(pid), Outcome::kUnknown));
    EXPECT_EQ(h_.state(pid).status, ev::PAYMENT_STATUS_PROCESSING);
    EXPECT_FALSE(h_.state(pid).pending.empty());
    return pid;
  }

  CheckReport Check(const CheckOptions& options,
                    const std::vector<connectors::LedgerEntry>& ledger = {}) const {
    Checker checker(options);
    for (const auto& r : commands_) checker.AddCommand(r);
    for (const auto& r : events_) checker.AddEvent(r);
    checker.AddLedger(ledger);
    return checker.Finish();
  }

  CommandHarness& h() { return h_; }

 private:
  void AppendEvent(const ev::EventEnvelope& e, int64_t timestamp_ms) {
    log::Record r;
    r.topic = "payorch.events";
    r.partition = PartitionId{kPartition};
    r.offset = Offset{static_cast<int64_t>(events_.size())};
    r.timestamp_ms = timestamp_ms;
    r.key = e.payment_id();
    r.value = e.SerializeAsString();
    events_.push_back(std::move(r));
  }

  CommandHarness h_;
  int64_t next_command_offset_ = 100;  // the harness's first offset
  std::vector<log::Record> commands_;
  std::vector<log::Record> events_;
};

// The processor's record of a sale that took the customer's money.
connectors::LedgerEntry Sale(const std::string& pid, const std::string& key,
                             const std::string& processor) {
  connectors::LedgerEntry l;
  l.seq = 1;
  l.kind = ev::OPERATION_KIND_SALE;
  l.idempotency_key = key;
  l.processor_id = processor;
  l.payment_id = pid;
  l.amount_minor = kAmount;
  l.currency = "USD";
  l.processor_reference = "ref_" + key;
  return l;
}

std::string Joined(const CheckReport& report) {
  std::string out;
  for (const auto& v : report.violations) out += v + "\n";
  return out;
}

TEST(CheckerSettling, APendingOperationOlderThanTheBoundIsAViolation) {
  Log log;
  const std::string pid = log.CreateProcessing("order-1");
  const CheckReport report =
      log.Check({.settle_within_ms = 5 * kMinute, .now_ms = log.h().now_ms() + 6 * kMinute});
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.unsettled, 1);
  EXPECT_EQ(report.unsettled_late, 1);
  EXPECT_GE(report.oldest_unsettled_ms, 6 * kMinute);
  ASSERT_EQ(report.violations.size(), 1U) << Joined(report);
  EXPECT_NE(report.violations[0].find("payment " + pid + " (processing, 1 operation pending)"),
            std::string::npos)
      << report.violations[0];
  EXPECT_NE(report.violations[0].find("not settled 6m"), std::string::npos) << report.violations[0];
}

TEST(CheckerSettling, APendingOperationYoungerThanTheBoundIsCountedNotJudged) {
  Log log;
  log.CreateProcessing("order-1");
  const CheckReport report =
      log.Check({.settle_within_ms = 5 * kMinute, .now_ms = log.h().now_ms() + 4 * kMinute});
  EXPECT_TRUE(report.ok()) << Joined(report);
  EXPECT_EQ(report.unsettled, 1);
  EXPECT_EQ(report.unsettled_late, 0);
}

// Reconciler answers ("still unknown") are commands too, but payorch's own: they do not
// restart the clock, or a payment chased forever would never be judged.
TEST(CheckerSettling, GatewayAnswersDoNotRestartTheSettleClock) {
  Log log;
  const std::string pid = log.CreateProcessing("order-1");
  for (int i = 0; i < 6; ++i) {
    log.h().Advance(kMinute);
    log.Send(testing::Result(pid, log.h().PendingAttemptKey(pid), Outcome::kUnknown));
  }
  ASSERT_EQ(log.h().state(pid).status, ev::PAYMENT_STATUS_PROCESSING);
  const CheckReport report = log.Check({.settle_within_ms = 5 * kMinute, .now_ms = 0});
  EXPECT_EQ(report.unsettled_late, 1) << Joined(report);
  EXPECT_FALSE(report.ok());
}

// Without a clock, ages run to the newest record: a replay judges the same way every time.
TEST(CheckerSettling, WithoutAClockAgesRunToTheNewestRecord) {
  Log log;
  const std::string stuck = log.CreateProcessing("order-1");
  log.h().Advance(10 * kMinute);
  const std::string fresh = log.CreateProcessing("order-2");
  const CheckReport report = log.Check({.settle_within_ms = 5 * kMinute});
  EXPECT_EQ(report.unsettled, 2);
  EXPECT_EQ(report.unsettled_late, 1);
  ASSERT_EQ(report.violations.size(), 1U) << Joined(report);
  EXPECT_NE(report.violations[0].find(stuck), std::string::npos);
  EXPECT_EQ(report.violations[0].find(fresh), std::string::npos);
}

TEST(CheckerSettling, ZeroJudgesNoAgeButStillCounts) {
  Log log;
  log.CreateProcessing("order-1");
  const CheckReport report =
      log.Check({.settle_within_ms = 0, .now_ms = log.h().now_ms() + 24 * 60 * kMinute});
  EXPECT_TRUE(report.ok()) << Joined(report);
  EXPECT_EQ(report.unsettled, 1);
  EXPECT_EQ(report.unsettled_late, 0);
}

// The deadline passes with the first attempt unknown: the payment FAILS. Then the
// processor's late "succeeded" arrives and payorch starts a compensating void, which is
// still pending. The customer was told "failed" while the processor holds their money.
TEST(CheckerSettling, AFailedPaymentWhoseLedgerHoldsAChargeIsAViolationWhileAnOpIsPending) {
  Log log;
  const std::string pid = log.CreateProcessing("order-1");
  const std::string key = log.h().PendingAttemptKey(pid);
  const std::string processor = log.h().state(pid).pending[0].processor_id.str();
  log.h().Advance(testing::kSeedDeadlineMs);
  log.Send(testing::Expire(pid, key));
  ASSERT_EQ(log.h().state(pid).status, ev::PAYMENT_STATUS_FAILED)
      << testing::Types(log.h().history(pid)).back();
  log.Send(testing::Succeeded(pid, key, kAmount));
  ASSERT_EQ(log.h().state(pid).status, ev::PAYMENT_STATUS_FAILED);
  ASSERT_EQ(log.h().PendingKeys(pid, ev::OPERATION_KIND_VOID).size(), 1U)
      << "the compensating void is in flight";

  // Judged however young, and with ages not judged at all: held money is never in bounds.
  const CheckReport report =
      log.Check({.settle_within_ms = 0, .now_ms = log.h().now_ms()}, {Sale(pid, key, processor)});
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.failed_holding, 1);
  EXPECT_EQ(report.held_minor.at("USD"), kAmount);
  ASSERT_EQ(report.violations.size(), 1U) << Joined(report);
  EXPECT_NE(report.violations[0].find("payment " + pid + " (failed): the gateway still holds 2500"),
            std::string::npos)
      << report.violations[0];

  // Once the void is answered and the processor shows it, nothing is held.
  log.Send(testing::Succeeded(pid, log.h().PendingKeys(pid, ev::OPERATION_KIND_VOID)[0]));
  connectors::LedgerEntry voided = Sale(pid, key + ":void", processor);
  voided.seq = 2;
  voided.kind = ev::OPERATION_KIND_VOID;
  voided.target_reference = "ref_" + key;
  const CheckReport after =
      log.Check({.now_ms = log.h().now_ms() + 60 * kMinute}, {Sale(pid, key, processor), voided});
  EXPECT_TRUE(after.ok()) << Joined(after);
  EXPECT_EQ(after.failed_holding, 0);
  EXPECT_EQ(after.unsettled, 0);
}

TEST(CheckerSettling, ASettledPaymentIsFineHoweverOld) {
  Log log;
  const std::string pid =
      log.Send(Create(kSeedMerchant, "order-1", kAmount, "USD", ty::PAYMENT_METHOD_CARD));
  const std::string key = log.h().PendingAttemptKey(pid);
  const std::string processor = log.h().state(pid).pending[0].processor_id.str();
  log.Send(testing::Succeeded(pid, key, kAmount));
  ASSERT_EQ(log.h().state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
  const CheckReport report =
      log.Check({.settle_within_ms = 5 * kMinute, .now_ms = log.h().now_ms() + 24 * 60 * kMinute},
                {Sale(pid, key, processor)});
  EXPECT_TRUE(report.ok()) << Joined(report);
  EXPECT_EQ(report.unsettled, 0);
  EXPECT_EQ(report.failed_holding, 0);
  EXPECT_EQ(report.ledger_payments_checked, 1);
}

// A terminal status is not settled while an operation is pending (here a refund), and a
// client's new command (the refund) restarts the clock.
TEST(CheckerSettling, ASucceededPaymentWithARefundPendingIsUnsettledFromTheRefund) {
  Log log;
  const std::string pid =
      log.Send(Create(kSeedMerchant, "order-1", kAmount, "USD", ty::PAYMENT_METHOD_CARD));
  log.Send(testing::Succeeded(pid, log.h().PendingAttemptKey(pid), kAmount));
  log.h().Advance(10 * kMinute);
  log.Send(testing::Refund(pid, 1'000, "refund-1"));
  ASSERT_EQ(log.h().state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
  ASSERT_EQ(log.h().PendingKeys(pid, ev::OPERATION_KIND_REFUND).size(), 1U);
  const int64_t refunded_at = log.h().now_ms();

  const CheckReport young =
      log.Check({.settle_within_ms = 5 * kMinute, .now_ms = refunded_at + 4 * kMinute});
  EXPECT_TRUE(young.ok()) << Joined(young);
  EXPECT_EQ(young.unsettled, 1);
  const CheckReport old =
      log.Check({.settle_within_ms = 5 * kMinute, .now_ms = refunded_at + 6 * kMinute});
  ASSERT_EQ(old.violations.size(), 1U) << Joined(old);
  EXPECT_NE(old.violations[0].find("(succeeded, 1 operation pending): not settled 6m"),
            std::string::npos)
      << old.violations[0];
}

// An authorization waiting for the merchant's capture owes nothing from payorch.
TEST(CheckerSettling, AnAuthorizationWaitingForCaptureIsAtRest) {
  Log log;
  CreateOptions manual;
  manual.manual_capture = true;
  const std::string pid =
      log.Send(Create(kSeedMerchant, "order-1", kAmount, "USD", ty::PAYMENT_METHOD_CARD, manual));
  log.Send(testing::Succeeded(pid, log.h().PendingAttemptKey(pid), kAmount));
  ASSERT_EQ(log.h().state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  const CheckReport report =
      log.Check({.settle_within_ms = 5 * kMinute, .now_ms = log.h().now_ms() + 24 * 60 * kMinute});
  EXPECT_TRUE(report.ok()) << Joined(report);
  EXPECT_EQ(report.unsettled, 0);
}

// A command the writer never decided is an accepted request nobody answered.
TEST(CheckerSettling, ACommandUndecidedLongerThanTheBoundIsAViolation) {
  Log log;
  log.Send(Create(kSeedMerchant, "order-1", kAmount, "USD", ty::PAYMENT_METHOD_CARD));
  log.AppendUndecided(Create(kSeedMerchant, "order-2", kAmount, "USD", ty::PAYMENT_METHOD_CARD));
  const int64_t appended = log.h().now_ms();
  const CheckReport young =
      log.Check({.settle_within_ms = 5 * kMinute, .now_ms = appended + kMinute});
  EXPECT_EQ(young.undecided, 1);
  EXPECT_EQ(young.undecided_late, 0);
  const CheckReport old =
      log.Check({.settle_within_ms = 5 * kMinute, .now_ms = appended + 6 * kMinute});
  EXPECT_EQ(old.undecided_late, 1);
  EXPECT_FALSE(old.ok());
}

std::string Printed(const CheckReport& report) {
  char* buf = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&buf, &size);
  report.Print(out);
  std::fclose(out);
  std::string text(buf, size);
  std::free(buf);
  return text;
}

TEST(CheckerSettling, TheReportPrintsTheCountsAndTheOldest) {
  Log log;
  const std::string pid = log.CreateProcessing("order-1");
  const std::string key = log.h().PendingAttemptKey(pid);
  log.h().Advance(testing::kSeedDeadlineMs);
  log.Send(testing::Expire(pid, key));
  ASSERT_EQ(log.h().state(pid).status, ev::PAYMENT_STATUS_FAILED);
  log.CreateProcessing("order-2");
  connectors::LedgerEntry sale = Sale(pid, key, "cobranded");
  const std::string text = Printed(log.Check(
      {.settle_within_ms = 5 * kMinute, .now_ms = log.h().now_ms() + 7 * kMinute}, {sale}));
  EXPECT_NE(text.find("unsettled payments: 1 (oldest 7m, 1 past 5m); commands undecided past "
                      "5m: 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("failed payments holding money: 1 (2500 USD minor units; oldest 7m)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("VIOLATIONS: 2"), std::string::npos) << text;
}

TEST(CheckerSettling, AgesReadAsDurations) {
  EXPECT_EQ(FormatAge(-1), "unknown");
  EXPECT_EQ(FormatAge(850), "850ms");
  EXPECT_EQ(FormatAge(45'000), "45s");
  EXPECT_EQ(FormatAge(5 * kMinute), "5m");
  EXPECT_EQ(FormatAge(3'723'000), "1h2m3s");
}

}  // namespace
}  // namespace payorch::runtime
