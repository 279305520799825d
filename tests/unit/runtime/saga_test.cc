// PaymentSaga (runtime/saga.h): a linked payment's events become order and invoice
// commands, deterministically, across restarts; an unlinked payment yields nothing. The
// payment events come from the real core (CommandHarness: DecideAndApply), fed as records
// of one events partition after a writer's claim.
#include "runtime/saga.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "payments/invoices/v1/invoices.pb.h"
#include "payments/orders/v1/orders.pb.h"
#include "support/command_harness.h"

namespace payorch::runtime {
namespace {

namespace ev = ::payments::events::v1;
namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;
namespace ty = ::payments::types::v1;
using payorch::testing::CommandHarness;
using payorch::testing::CreateOptions;
using payorch::testing::kSeedMerchant;

constexpr int32_t kPartition = 0;
const SagaTopics kTopics{"orders.commands", "invoices.commands"};

class SagaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("payorch-saga-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_EQ(store_.Open(dir_.string()).ToString(), "ok");
    StartSaga();
    ev::EventEnvelope claim;  // the harness's writer decides under epoch 1
    claim.set_event_id("claim/0/1");
    claim.set_epoch(1);
    claim.mutable_writer_claimed()->set_epoch(1);
    log_.push_back(claim.SerializeAsString());
    EXPECT_TRUE(Feed().empty());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A new PaymentSaga over the same store, as after a restart: reads from its checkpoint.
  void StartSaga() {
    saga_ = std::make_unique<PaymentSaga>(&store_, kTopics);
    fed_ = saga_->Restore(kPartition);
  }

  // Appends the harness's new events to the log, then feeds the saga what it has not read.
  std::vector<log::OutRecord> Feed() {
    for (; taken_ < h_.log().size(); ++taken_) log_.push_back(h_.log()[taken_].SerializeAsString());
    std::vector<log::OutRecord> out;
    for (; fed_ < static_cast<int64_t>(log_.size()); ++fed_) {
      EXPECT_EQ(saga_->OnRecord(kPartition, fed_, log_[fed_], &out).ToString(), "ok");
    }
    return out;
  }

  std::string Create(std::string_view key, int64_t amount, bool manual,
                     std::map<std::string, std::string> metadata) {
    CreateOptions o;
    o.manual_capture = manual;
    o.metadata = std::move(metadata);
    h_.Send(
        payorch::testing::Create(kSeedMerchant, key, amount, "USD", ty::PAYMENT_METHOD_CARD, o));
    return CommandHarness::PaymentIdFor(kSeedMerchant, key);
  }
  void Authorize(const std::string& pid) {
    h_.Send(payorch::testing::Succeeded(pid, h_.PendingAttemptKey(pid)));
  }
  void Capture(const std::string& pid, int64_t amount, std::string_view key) {
    h_.Send(payorch::testing::Capture(pid, amount, key));
    h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  }

  static ord::OrderCommandEnvelope AsOrder(const log::OutRecord& r) {
    EXPECT_EQ(r.topic, kTopics.order_commands);
    ord::OrderCommandEnvelope c;
    EXPECT_TRUE(c.ParseFromString(r.value));
    EXPECT_EQ(r.key, c.order_id());
    EXPECT_EQ(r.partition, log::kAnyPartition);
    return c;
  }
  static inv::InvoiceCommandEnvelope AsInvoice(const log::OutRecord& r) {
    EXPECT_EQ(r.topic, kTopics.invoice_commands);
    inv::InvoiceCommandEnvelope c;
    EXPECT_TRUE(c.ParseFromString(r.value));
    EXPECT_EQ(r.key, c.invoice_id());
    EXPECT_EQ(r.partition, log::kAnyPartition);
    return c;
  }
  // The event of `pid` whose command the saga sent: "saga/<event_id>".
  const ev::EventEnvelope* EventOf(const std::string& command_id) {
    for (const auto& e : h_.log()) {
      if ("saga/" + e.event_id() == command_id) return &e;
    }
    return nullptr;
  }

  std::filesystem::path dir_;
  StateStore store_;
  CommandHarness h_;
  std::unique_ptr<PaymentSaga> saga_;
  std::vector<std::string> log_;  // the events partition, offset = index
  size_t taken_ = 0;
  int64_t fed_ = 0;
};

TEST_F(SagaTest, AnOrderPaidByCaptureGetsAuthorizedThenCapturedFacts) {
  const std::string pid =
      Create("o-1", 10'000, /*manual=*/true, {{order::kPaymentLinkKey, "ord_1"}});
  EXPECT_TRUE(Feed().empty());
  Authorize(pid);
  std::vector<log::OutRecord> out = Feed();
  ASSERT_EQ(out.size(), 1u);
  ord::OrderCommandEnvelope c = AsOrder(out[0]);
  EXPECT_EQ(c.order_id(), "ord_1");
  EXPECT_EQ(c.schema_version(), 1u);
  EXPECT_EQ(c.merchant_id(), kSeedMerchant);
  EXPECT_EQ(c.payment_fact().kind(), ord::PAYMENT_FACT_KIND_AUTHORIZED);
  EXPECT_EQ(c.payment_fact().amount_minor(), 10'000);
  EXPECT_EQ(c.payment_fact().payment_id(), pid);
  const ev::EventEnvelope* completed = EventOf(c.command_id());
  ASSERT_NE(completed, nullptr) << c.command_id();
  EXPECT_TRUE(completed->has_payment_completed());
  EXPECT_EQ(c.correlation_id(), completed->correlation_id());
  EXPECT_EQ(c.payment_fact().payment_sequence(), completed->sequence());

  Capture(pid, 0, "cap-1");
  out = Feed();
  ASSERT_EQ(out.size(), 1u);
  c = AsOrder(out[0]);
  EXPECT_EQ(c.payment_fact().kind(), ord::PAYMENT_FACT_KIND_CAPTURED);
  EXPECT_EQ(c.payment_fact().amount_minor(), 10'000);
  EXPECT_TRUE(EventOf(c.command_id())->has_payment_captured());
}

TEST_F(SagaTest, AnInvoicePaymentsCapturesGiveTheRunningTotal) {
  const std::string pid =
      Create("i-1", 10'000, /*manual=*/true, {{invoice::kPaymentLinkKey, "inv_1"}});
  Authorize(pid);
  EXPECT_TRUE(Feed().empty()) << "an authorization pays nothing on an invoice";
  Capture(pid, 3'000, "cap-1");
  Capture(pid, 0, "cap-2");
  const std::vector<log::OutRecord> out = Feed();
  ASSERT_EQ(out.size(), 2u);
  const int64_t totals[] = {3'000, 10'000};
  for (size_t i = 0; i < out.size(); ++i) {
    const inv::InvoiceCommandEnvelope c = AsInvoice(out[i]);
    EXPECT_EQ(c.invoice_id(), "inv_1");
    ASSERT_TRUE(c.has_payment_succeeded());
    EXPECT_EQ(c.payment_succeeded().payment_id(), pid);
    EXPECT_EQ(c.payment_succeeded().captured().amount_minor(), totals[i]);
    EXPECT_EQ(c.payment_succeeded().captured().currency(), "USD");
  }
}

TEST_F(SagaTest, AnAutomaticCaptureSucceedsTheInvoiceAndCapturesTheOrder) {
  const std::string pid =
      Create("a-1", 5'000, /*manual=*/false,
             {{invoice::kPaymentLinkKey, "inv_1"}, {order::kPaymentLinkKey, "ord_1"}});
  Authorize(pid);
  const std::vector<log::OutRecord> out = Feed();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(AsOrder(out[0]).payment_fact().kind(), ord::PAYMENT_FACT_KIND_CAPTURED);
  EXPECT_EQ(AsOrder(out[0]).payment_fact().amount_minor(), 5'000);
  EXPECT_EQ(AsInvoice(out[1]).payment_succeeded().captured().amount_minor(), 5'000);
}

TEST_F(SagaTest, AFailedPaymentReleasesTheInvoiceAndFailsTheOrder) {
  const std::string pid =
      Create("f-1", 10'000, /*manual=*/false,
             {{invoice::kPaymentLinkKey, "inv_1"}, {order::kPaymentLinkKey, "ord_1"}});
  h_.Send(payorch::testing::Failed(pid, h_.PendingAttemptKey(pid), ty::ERROR_CODE_HARD_DECLINE));
  const std::vector<log::OutRecord> out = Feed();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(AsOrder(out[0]).payment_fact().kind(), ord::PAYMENT_FACT_KIND_FAILED);
  const inv::InvoiceCommandEnvelope c = AsInvoice(out[1]);
  ASSERT_TRUE(c.has_payment_failed());
  EXPECT_EQ(c.payment_failed().payment_id(), pid);
  EXPECT_EQ(c.payment_failed().reason(), "hard_decline");
}

TEST_F(SagaTest, AnUnlinkedPaymentYieldsNothingAndIsNotStored) {
  const std::string pid = Create("u-1", 10'000, /*manual=*/true, {{"note", "x"}});
  Authorize(pid);
  Capture(pid, 0, "cap-1");
  EXPECT_TRUE(Feed().empty());
  EXPECT_EQ(saga_->cached(), 0u);
  int stored = 0;
  ASSERT_TRUE(store_
                  .ForEachStored(kPartition, pid,
                                 [&](std::string_view) {
                                   ++stored;
                                   return Status::Ok();
                                 })
                  .ok());
  EXPECT_EQ(stored, 0);
}

TEST_F(SagaTest, ARestartContinuesFromTheCheckpointWithThePaymentRestoredFromTheStore) {
  const std::string pid =
      Create("r-1", 10'000, /*manual=*/true,
             {{invoice::kPaymentLinkKey, "inv_1"}, {order::kPaymentLinkKey, "ord_1"}});
  Authorize(pid);
  ASSERT_EQ(Feed().size(), 1u);  // the order's AUTHORIZED
  ASSERT_EQ(saga_->SaveCheckpoint(kPartition, saga_->Position(kPartition)).ToString(), "ok");
  const int64_t checkpoint = fed_;

  StartSaga();
  EXPECT_EQ(fed_, checkpoint);
  EXPECT_EQ(saga_->cached(), 0u);
  Capture(pid, 4'000, "cap-1");
  const std::vector<log::OutRecord> out = Feed();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(AsOrder(out[0]).payment_fact().kind(), ord::PAYMENT_FACT_KIND_CAPTURED);
  EXPECT_EQ(AsOrder(out[0]).payment_fact().amount_minor(), 4'000);
  EXPECT_EQ(AsInvoice(out[1]).payment_succeeded().captured().amount_minor(), 4'000);
}

TEST_F(SagaTest, ReReadingTheLogGivesTheIdenticalCommands) {
  const std::string a = Create("x-1", 10'000, /*manual=*/true, {{order::kPaymentLinkKey, "ord_1"}});
  const std::string b =
      Create("x-2", 7'000, /*manual=*/false, {{invoice::kPaymentLinkKey, "inv_2"}});
  Authorize(a);
  Authorize(b);
  Capture(a, 2'500, "cap-1");
  h_.Send(payorch::testing::Void(a));
  const std::vector<log::OutRecord> first = Feed();
  ASSERT_GE(first.size(), 3u);

  // A crash before any checkpoint: the next run reads everything again, with a store that
  // is ahead of it.
  StartSaga();
  EXPECT_EQ(fed_, 0);
  const std::vector<log::OutRecord> again = Feed();
  ASSERT_EQ(again.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(again[i].topic, first[i].topic);
    EXPECT_EQ(again[i].key, first[i].key);
    EXPECT_EQ(again[i].value, first[i].value) << i;
  }

  // One event fed again to the same saga: the same command.
  const ev::EventEnvelope* captured = nullptr;
  for (const auto& e : h_.log()) {
    if (e.has_payment_captured()) captured = &e;
  }
  ASSERT_NE(captured, nullptr);
  std::vector<log::OutRecord> twice;
  ASSERT_TRUE(saga_->OnCounted(kPartition, *captured, &twice).ok());
  ASSERT_TRUE(saga_->OnCounted(kPartition, *captured, &twice).ok());
  ASSERT_EQ(twice.size(), 2u);
  EXPECT_EQ(twice[0].value, twice[1].value);
  EXPECT_EQ(AsOrder(twice[0]).payment_fact().amount_minor(), 2'500);
}

TEST_F(SagaTest, ACheckpointNeverPassesTheStartOfAnUnfinishedGroup) {
  const std::string pid =
      Create("g-1", 10'000, /*manual=*/true, {{order::kPaymentLinkKey, "ord_1"}});
  Feed();
  h_.Send(payorch::testing::Succeeded(pid, h_.PendingAttemptKey(pid)));  // 2 events
  ASSERT_EQ(h_.last().size(), 2u);
  const int64_t group_start = fed_;
  log_.push_back(h_.log()[taken_++].SerializeAsString());  // only the first is published
  std::vector<log::OutRecord> out;
  ASSERT_TRUE(saga_->OnRecord(kPartition, fed_, log_[fed_], &out).ok());
  ++fed_;
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(saga_->Position(kPartition).next_events_offset, group_start);
  out = Feed();  // the rest of the group
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(saga_->Position(kPartition).next_events_offset, fed_);
}

TEST_F(SagaTest, ATerminalPaymentIsForgottenFromMemory) {
  const std::string pid =
      Create("t-1", 10'000, /*manual=*/false, {{order::kPaymentLinkKey, "ord_1"}});
  Feed();
  EXPECT_EQ(saga_->cached(), 1u);
  h_.Send(payorch::testing::Failed(pid, h_.PendingAttemptKey(pid), ty::ERROR_CODE_HARD_DECLINE));
  Feed();
  if (h_.state(pid).IsTerminal()) {
    EXPECT_EQ(saga_->cached(), 0u);
  } else {
    EXPECT_EQ(saga_->cached(), 1u);  // FAILED may be confirmed again with another method
  }
}

TEST_F(SagaTest, TheCacheIsBoundedAndEvictedPaymentsComeBackFromTheStore) {
  saga_ = std::make_unique<PaymentSaga>(&store_, kTopics, /*max_cached_payments=*/4);
  fed_ = saga_->Restore(kPartition);
  std::vector<std::string> pids;
  for (int i = 0; i < 10; ++i) {
    pids.push_back(Create("c-" + std::to_string(i), 1'000, /*manual=*/true,
                          {{order::kPaymentLinkKey, "ord_" + std::to_string(i)}}));
  }
  Feed();
  EXPECT_LE(saga_->cached(), 4u);
  for (const std::string& pid : pids) Authorize(pid);
  const std::vector<log::OutRecord> out = Feed();
  ASSERT_EQ(out.size(), pids.size());
  EXPECT_LE(saga_->cached(), 4u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(AsOrder(out[i]).payment_fact().kind(), ord::PAYMENT_FACT_KIND_AUTHORIZED);
    EXPECT_EQ(out[i].key, "ord_" + std::to_string(i));
  }
}

}  // namespace
}  // namespace payorch::runtime
