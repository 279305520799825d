// Broker faults while payments flow: a built-in upstream (runtime::Workload) publishes a
// few hundred payments of the demo mix at a modest rate while the test breaks the embedded
// broker through its fault-injection API. In every case every payment settles and the
// checker finds the log and the gateways' ledgers consistent.
//
// The embedded broker does not de-duplicate retried batches, so a retried produce may
// leave identical duplicates in the log; the checker drops them by (payment_id, sequence)
// and reports any duplicate that differs.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "config/config.h"
#include "runtime/workload.h"
#include "support/e2e/harness.h"

namespace payorch::testing::e2e {
namespace {

using log::BrokerError;
using log::KafkaApi;

// The demo's processors, milder: declines, timeouts whose charge may or may not have
// happened, network failures; Apple Pay capped so that payments split.
constexpr char kGateways[] =
    "cobranded_card=flaky:seed=11,decline=0.1;"
    "flaky_psp=flaky:seed=12,decline=0.05,timeout=0.03,lost=0.02,network=0.05;"
    "applepay=mock:max=3000;*=mock";

constexpr int kPayments = 300;
constexpr int kRate = 250;  // payments/s: publishing takes ~1.2 s
constexpr int kSettleTimeoutMs = 30'000;

class BrokerFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    HarnessOptions o;
    o.config = config::DefaultConfig();
    o.simulated_gateways = kGateways;
    o.follow_events = false;
    o.kafka_properties = properties_;
    o.broker_count = broker_count_;
    o.on_topics_created = on_topics_created_;
    h_ = std::make_unique<E2eHarness>(std::move(o));
    ASSERT_EQ(h_->Start(), "");
  }

  // Runs the workload; `fault` runs on the test thread while the creates are being
  // published, `heal` once every payment settled (before the checker reads the log).
  // Expects every payment to settle.
  void RunWorkloadWith(const std::function<void()>& fault, const std::function<void()>& heal,
                       uint64_t seed, bool bad_input = true) {
    runtime::WorkloadOptions wo;
    wo.payments = kPayments;
    wo.rate = kRate;
    wo.seed = seed;
    wo.include_bad_input = bad_input;
    runtime::Workload workload(h_->kafka(), wo);
    ASSERT_EQ(workload.Start(), "");
    const auto ready_by = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!workload.ready() && std::chrono::steady_clock::now() < ready_by) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(workload.ready());

    std::string publish_error;
    std::thread publisher([&] { publish_error = workload.PublishAll(); });
    fault();
    publisher.join();
    ASSERT_EQ(publish_error, "");

    const bool settled = workload.WaitSettled(kSettleTimeoutMs);
    heal();
    workload.Stop();
    const runtime::WorkloadSummary s = workload.Summary();
    EXPECT_TRUE(settled) << s.unsettled << " of " << s.payments << " payments did not settle";
    EXPECT_EQ(s.unsettled, 0);
    EXPECT_EQ(s.payments, kPayments);
    EXPECT_GT(s.completed, 0);
    EXPECT_TRUE(h_->StopAndCheck());
    const runtime::CheckReport& r = h_->last_report();
    EXPECT_GE(r.payments, kPayments);
    std::printf(
        "checked %lld commands, %lld event records (%lld counted, %lld duplicates), "
        "%lld payments, %lld ledger entries\n",
        static_cast<long long>(r.commands), static_cast<long long>(r.events),
        static_cast<long long>(r.counted), static_cast<long long>(r.duplicates),
        static_cast<long long>(r.payments), static_cast<long long>(r.ledger_entries));
  }

  void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  // Records of any topic that repeat an earlier record byte for byte (same partition, key
  // and value): what a produce retried after an in-doubt timeout leaves behind.
  int64_t IdenticalDuplicates() {
    int64_t n = 0;
    for (log::TopicKind kind : {log::TopicKind::kCommands, log::TopicKind::kEvents,
                                log::TopicKind::kContracts, log::TopicKind::kDeadLetters}) {
      std::set<std::tuple<int32_t, std::string, std::string>> seen;
      for (const auto& r : h_->ReadTopic(kind)) {
        if (!seen.emplace(r.partition.value(), r.key, r.value).second) ++n;
      }
    }
    return n;
  }

  std::vector<std::pair<std::string, std::string>> properties_;
  int broker_count_ = 1;
  std::function<std::string(log::EmbeddedBroker&, const log::KafkaOptions&)> on_topics_created_;
  std::unique_ptr<E2eHarness> h_;
};

// Two brokers: broker 2 leads every events partition, broker 1 everything else, so a
// fault injected into broker 2's Produce requests hits the writers' event publication
// only. Clients give up on a request after 1 s (librdkafka scans for timeouts once a
// second), so a response delayed 3 s leaves the request in doubt: it took effect, and the
// idempotent producer's retry appends it again (the embedded broker does not de-duplicate).
class InDoubtEventPublication : public BrokerFaults {
 protected:
  static constexpr int32_t kEventsBroker = 2;

  InDoubtEventPublication() {
    properties_ = {{"socket.timeout.ms", "1000"}, {"request.timeout.ms", "1000"}};
    broker_count_ = 2;
    on_topics_created_ = [](log::EmbeddedBroker& broker,
                            const log::KafkaOptions& kafka) -> std::string {
      for (log::TopicKind kind : {log::TopicKind::kCommands, log::TopicKind::kEvents,
                                  log::TopicKind::kContracts, log::TopicKind::kDeadLetters}) {
        const int32_t leader = kind == log::TopicKind::kEvents ? kEventsBroker : 1;
        for (int p = 0; p < kafka.partitions; ++p) {
          if (auto st = broker.SetPartitionLeader(kafka.Topic(kind), p, leader); !st.ok()) {
            return "leader: " + st.ToString();
          }
        }
      }
      return "";
    };
  }
};

TEST_F(BrokerFaults, NoFaultBaselineSettlesEveryPayment) {
  RunWorkloadWith([] {}, [] {}, 1);
}

TEST_F(BrokerFaults, BrokerDownForASecondThenUpSettlesEveryPayment) {
  RunWorkloadWith(
      [&] {
        Sleep(400);
        ASSERT_TRUE(h_->broker().SetBrokerDown(1).ok());
        Sleep(1'000);
        ASSERT_TRUE(h_->broker().SetBrokerUp(1).ok());
      },
      [] {}, 2);
}

TEST_F(BrokerFaults, ProduceRequestErrorsAreRetriedAndSettleEveryPayment) {
  RunWorkloadWith(
      [&] {
        Sleep(300);
        h_->broker().PushRequestErrors(
            KafkaApi::kProduce, {BrokerError::kNotLeaderOrFollower, BrokerError::kRequestTimedOut,
                                 BrokerError::kNotLeaderOrFollower, BrokerError::kNotEnoughReplicas,
                                 BrokerError::kRequestTimedOut, BrokerError::kLeaderNotAvailable});
        Sleep(300);
        h_->broker().FailNextProduces(5, BrokerError::kNotLeaderOrFollower);
        Sleep(300);
        h_->broker().FailNextProduces(3, BrokerError::kRequestTimedOut);
      },
      [] {}, 3);
}

TEST_F(BrokerFaults, AddedRoundTripTimeSettlesEveryPayment) {
  // 50 ms on every response from shortly after the first create until all settled.
  RunWorkloadWith(
      [&] {
        Sleep(100);
        ASSERT_TRUE(h_->broker().SetRtt(1, 50).ok());
      },
      [&] { ASSERT_TRUE(h_->broker().SetRtt(1, 0).ok()); }, 4);
}

TEST_F(InDoubtEventPublication,
       RetriedEventBatchesAreOnlyIdenticalDuplicatesAndEveryPaymentSettles) {
  RunWorkloadWith(
      [&] {
        Sleep(300);
        ASSERT_TRUE(h_->broker()
                        .PushDelayedResponses(kEventsBroker, KafkaApi::kProduce,
                                              {BrokerError::kNone, BrokerError::kNone},
                                              {3'000, 3'000})
                        .ok());
      },
      [] {}, 5, /*bad_input=*/false);
  // The delayed batches were appended, then appended again by the retry; the checker
  // counted each (payment_id, sequence) once and found every copy identical.
  EXPECT_GE(h_->last_report().duplicates, 1);
  EXPECT_GE(IdenticalDuplicates(), 1);
}

}  // namespace
}  // namespace payorch::testing::e2e
