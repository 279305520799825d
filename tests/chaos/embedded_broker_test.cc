// EmbeddedBroker::PendingResponses: the chaos matrix pushes responses (errors or delays) to
// one broker's API and asserts afterwards that its stage's traffic consumed all of them.
#include "log/embedded_broker.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <string>
#include <vector>

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
    ASSERT_TRUE(broker.ok()) << broker.error().ToString();
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
  ASSERT_TRUE(on_leader.ok()) << on_leader.error().ToString();
  EXPECT_EQ(on_leader.value(), 3U);
  auto elsewhere = broker_->PendingResponses(1, KafkaApi::kProduce);
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(elsewhere.value(), 0U) << "pushed to broker 2 only";
  auto other_api = broker_->PendingResponses(2, KafkaApi::kFetch);
  ASSERT_TRUE(other_api.ok());
  EXPECT_EQ(other_api.value(), 0U) << "pushed to Produce only";

  auto producer = Producer::Create(options_);
  ASSERT_TRUE(producer.ok()) << producer.error().ToString();
  // Two retriable errors then a delayed success: one record, written once.
  auto at = producer.value()->ProduceSync(
      {.topic = Events(), .partition = PartitionId(0), .value = "x"}, kWaitMs);
  ASSERT_TRUE(at.ok()) << at.error().ToString();
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

TEST_F(PendingResponsesTest, UnknownBrokerIsAnError) {
  EXPECT_FALSE(broker_->PendingResponses(7, KafkaApi::kProduce).ok());
}

}  // namespace
}  // namespace payorch::log
