// EmbeddedBroker::PendingResponses: the chaos matrix pushes responses (errors or delays) to
// one broker's API and asserts afterwards that its stage's traffic consumed all of them.
#include "log/embedded_broker.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "log/admin.h"
#include "log/partition_reader.h"
#include "log/producer.h"

namespace payorch::log {
namespace {

constexpr int kWaitMs = 15'000;

class PendingResponsesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto logger = spdlog::default_logger()->clone("chaos_broker_test");
    logger->set_level(spdlog::level::err);
    auto broker = EmbeddedBroker::Start(2, logger);
    ASSERT_TRUE(broker.ok()) << broker.status().ToString();
    broker_ = std::move(broker).value();
    options_.bootstrap_servers = broker_->bootstrap();
    options_.logger = logger;
    ASSERT_TRUE(broker_->CreateTopics(options_).ok());
    // Broker 2 leads the events partition 0; broker 1 everything else.
    ASSERT_TRUE(broker_->SetPartitionLeader(Events(), 0, 2).ok());
  }
  std::string Events() const { return options_.Topic(TopicKind::kEvents); }

  std::unique_ptr<EmbeddedBroker> broker_;
  KafkaOptions options_;
};

TEST_F(PendingResponsesTest, CountsPushedResponsesUntilTheLeadersRequestsServeThem) {
  ASSERT_TRUE(broker_
                  ->PushDelayedResponses(2, KafkaApi::kProduce,
                                         {BrokerError::kNotLeaderOrFollower,
                                          BrokerError::kRequestTimedOut, BrokerError::kNone},
                                         {0, 0, 50})
                  .ok());
  auto on_leader = broker_->PendingResponses(2, KafkaApi::kProduce);
  ASSERT_TRUE(on_leader.ok()) << on_leader.status().ToString();
  EXPECT_EQ(on_leader.value(), 3U);
  auto elsewhere = broker_->PendingResponses(1, KafkaApi::kProduce);
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(elsewhere.value(), 0U) << "pushed to broker 2 only";
  auto other_api = broker_->PendingResponses(2, KafkaApi::kFetch);
  ASSERT_TRUE(other_api.ok());
  EXPECT_EQ(other_api.value(), 0U) << "pushed to Produce only";

  auto producer = Producer::Create(options_);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  // Two retriable errors then a delayed success: one record, written once.
  auto at = producer.value()->ProduceSync(
      {.topic = Events(), .partition = PartitionId(0), .value = "x"}, kWaitMs);
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  auto left = broker_->PendingResponses(2, KafkaApi::kProduce);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left.value(), 0U);

  auto reader = PartitionReader::Open(options_, Events(), PartitionId(0), kOffsetBeginning);
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> values;
  ASSERT_TRUE(
      reader.value()->ReadToEnd([&](const Record& r) { values.push_back(r.value); }, kWaitMs).ok());
  EXPECT_EQ(values, std::vector<std::string>{"x"});
}

// Produce errors on the embedded broker (docs/reliability.md, "request_errors/connector"):
// librdkafka 2.0.2's mock cluster does not check an idempotent, non-transactional
// producer's sequence numbers (rd_kafka_mock_pid_check returns early without a
// transactional id), while librdkafka's idempotent producer relies on the broker doing so
// when it settles a batch that failed with a retriable error: about one run in two, one
// record is reported delivered and is not in the log. Real Kafka checks the sequences. So
// a test that injects Produce errors on the embedded broker sends its own records without
// idempotence: retried, never reported delivered unless appended (a retry may append a
// record twice on a real broker; payorch de-duplicates creates by payment id).
TEST_F(PendingResponsesTest, WithoutIdempotenceNoRecordIsLostThroughProduceErrors) {
  const std::string commands = options_.Topic(TopicKind::kCommands);
  KafkaOptions plain = options_;
  plain.properties.push_back({"enable.idempotence", "false"});
  auto producer = Producer::Create(plain);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  std::vector<BrokerError> errors;
  const std::vector<BrokerError> cycle = {
      BrokerError::kNotLeaderOrFollower, BrokerError::kRequestTimedOut,
      BrokerError::kNotEnoughReplicas, BrokerError::kLeaderNotAvailable,
      BrokerError::kNotEnoughReplicasAfterAppend};
  for (int i = 0; i < 40; ++i) errors.push_back(cycle[i % cycle.size()]);
  int delivered = 0;
  std::set<std::string> ok_keys;
  constexpr int kRecords = 120;
  for (int i = 0; i < kRecords; ++i) {
    if (i == 30) {
      ASSERT_TRUE(broker_
                      ->PushDelayedResponses(1, KafkaApi::kProduce, errors,
                                             std::vector<int>(errors.size(), 0))
                      .ok());
    }
    const std::string key = "pay_" + std::to_string(i);
    ASSERT_TRUE(producer.value()
                    ->Produce({.topic = commands, .key = key, .value = key},
                              [&, key](const Delivery& d) {
                                ASSERT_TRUE(d.status.ok()) << key << ": " << d.status.ToString();
                                ++delivered;
                                ok_keys.insert(key);
                              })
                    .ok());
    producer.value()->Poll(0).IgnoreError();  // delivery callbacks only
    std::this_thread::sleep_for(std::chrono::milliseconds(16));
  }
  ASSERT_TRUE(producer.value()->Flush(kWaitMs).ok());
  EXPECT_EQ(delivered, kRecords);
  auto pending = broker_->PendingResponses(1, KafkaApi::kProduce);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending.value(), 0U) << "every injected error was served";

  auto admin = Admin::Create(options_);
  ASSERT_TRUE(admin.ok());
  auto partitions = admin.value()->PartitionCount(commands);
  ASSERT_TRUE(partitions.ok());
  std::set<std::string> in_log;
  for (int p = 0; p < partitions.value(); ++p) {
    auto reader = PartitionReader::Open(options_, commands, PartitionId(p), kOffsetBeginning);
    ASSERT_TRUE(reader.ok());
    ASSERT_TRUE(
        reader.value()->ReadToEnd([&](const Record& r) { in_log.insert(r.value); }, kWaitMs).ok());
  }
  for (const std::string& key : ok_keys) EXPECT_TRUE(in_log.count(key)) << key << " was lost";
}

TEST_F(PendingResponsesTest, UnknownBrokerIsAnError) {
  EXPECT_FALSE(broker_->PendingResponses(7, KafkaApi::kProduce).ok());
}

}  // namespace
}  // namespace payorch::log
