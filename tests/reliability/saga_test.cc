// The saga loop (runtime/saga.h) on a real broker: linked payments' events on the payments
// events topic become order and invoice commands on their topics, keyed and partitioned by
// the aggregate id; a stop checkpoints only what was delivered, and a restart over the
// same store goes on from there with nothing lost and nothing produced twice.
#include "runtime/saga.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "kafka/test_broker.h"
#include "log/embedded_broker.h"
#include "log/partition_reader.h"
#include "log/partitioner.h"
#include "log/producer.h"
#include "payments/invoices/v1/invoices.pb.h"
#include "payments/orders/v1/orders.pb.h"
#include "runtime/state_store.h"
#include "support/command_harness.h"

namespace payorch {
namespace {

namespace fs = std::filesystem;
namespace ev = ::payments::events::v1;
namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;
namespace ty = ::payments::types::v1;
using payorch::testing::CommandHarness;
using payorch::testing::kSeedMerchant;

constexpr int kPartitions = 2;
constexpr int kEventsPartition = 1;

class SagaLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("payorch-saga-loop-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    log::KafkaOptions base;
    base.partitions = kPartitions;
    testing::TestBroker broker = testing::TestBroker::Start(base);
    ASSERT_TRUE(broker.ok()) << broker.error;
    broker_ = std::move(broker.embedded);
    kafka_ = broker.kafka;
    auto p = log::Producer::Create(kafka_);
    ASSERT_TRUE(p.ok());
    producer_ = std::move(p.value());
    ASSERT_EQ(store_.Open((dir_ / "saga").string()).ToString(), "ok");
    ev::EventEnvelope claim;  // the harness's writer decides under epoch 1
    claim.set_event_id("claim/1/1");
    claim.set_epoch(1);
    claim.mutable_writer_claimed()->set_epoch(1);
    Publish(claim);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Publish(const ev::EventEnvelope& e) {
    log::OutRecord out{kafka_.Topic(log::TopicKind::kEvents),
                       PartitionId{kEventsPartition},
                       e.payment_id(),
                       e.SerializeAsString(),
                       {}};
    ASSERT_TRUE(producer_->ProduceSync(out, 10'000).ok());
  }
  // Publishes the harness's events not yet published.
  void PublishNew() {
    for (; published_ < h_.log().size(); ++published_) Publish(h_.log()[published_]);
  }

  // Every record of a topic, all partitions, checked to sit on its key's partition.
  std::vector<log::Record> ReadAll(log::TopicKind kind) {
    std::vector<log::Record> records;
    for (int p = 0; p < kPartitions; ++p) {
      auto reader =
          log::PartitionReader::Open(kafka_, kafka_.Topic(kind), PartitionId{p}, Offset{0});
      EXPECT_TRUE(reader.ok());
      EXPECT_TRUE(reader.value()
                      ->ReadToEnd([&](const log::Record& r) { records.push_back(r); }, 10'000)
                      .ok());
    }
    for (const auto& r : records) {
      EXPECT_EQ(r.partition, log::PartitionForKey(r.key, kPartitions)) << r.key;
    }
    return records;
  }

  // Runs the loop until the order and invoice topics hold `orders` and `invoices` records
  // and every published event is checkpointed (or 30 s), then stops it.
  void RunUntil(size_t orders, size_t invoices) {
    const int64_t end = static_cast<int64_t>(published_) + 1;  // + the claim
    runtime::SagaOptions o;
    o.kafka = kafka_;
    o.store = &store_;
    o.logger = spdlog::default_logger();
    o.static_partitions = {kEventsPartition};
    o.checkpoint_every_ms = 100;
    runtime::SagaLoop loop(o);
    std::atomic<bool> stop{false};
    std::string err = "not run";
    std::thread t([&] { err = loop.Run(stop); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline &&
           (ReadAll(log::TopicKind::kOrderCommands).size() < orders ||
            ReadAll(log::TopicKind::kInvoiceCommands).size() < invoices ||
            store_.LoadCheckpoint(runtime::kSagaCheckpoint, kEventsPartition).next_events_offset <
                end)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop = true;
    t.join();
    EXPECT_EQ(err, "");
  }

  fs::path dir_;
  std::unique_ptr<log::EmbeddedBroker> broker_;
  log::KafkaOptions kafka_;
  std::unique_ptr<log::Producer> producer_;
  runtime::StateStore store_;
  CommandHarness h_;
  size_t published_ = 0;
};

TEST_F(SagaLoopTest, FollowsLinkedPaymentsAcrossARestartWithoutLosingOrRepeatingCommands) {
  payorch::testing::CreateOptions manual;
  manual.manual_capture = true;
  manual.metadata = {{"payorch_order", "ord_1"}, {"payorch_invoice", "inv_1"}};
  h_.Send(payorch::testing::Create(kSeedMerchant, "k-1", 10'000, "USD", ty::PAYMENT_METHOD_CARD,
                                   manual));
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, "k-1");
  payorch::testing::CreateOptions unlinked;
  h_.Send(payorch::testing::Create(kSeedMerchant, "k-2", 5'000, "USD", ty::PAYMENT_METHOD_CARD,
                                   unlinked));
  const std::string other = CommandHarness::PaymentIdFor(kSeedMerchant, "k-2");
  h_.Send(payorch::testing::Succeeded(pid, h_.PendingAttemptKey(pid)));
  h_.Send(payorch::testing::Succeeded(other, h_.PendingAttemptKey(other)));
  PublishNew();

  RunUntil(/*orders=*/1, /*invoices=*/0);  // the order's AUTHORIZED
  const runtime::PartitionMeta cp =
      store_.LoadCheckpoint(runtime::kSagaCheckpoint, kEventsPartition);
  EXPECT_EQ(cp.next_events_offset, static_cast<int64_t>(published_) + 1);  // + the claim
  EXPECT_EQ(cp.epoch, 1u);

  h_.Send(payorch::testing::Capture(pid, 6'000, "cap-1"));
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  PublishNew();
  RunUntil(/*orders=*/2, /*invoices=*/1);

  const std::vector<log::Record> orders = ReadAll(log::TopicKind::kOrderCommands);
  ASSERT_EQ(orders.size(), 2u);
  std::map<std::string, ord::OrderCommandEnvelope> by_id;
  for (const auto& r : orders) {
    ord::OrderCommandEnvelope c;
    ASSERT_TRUE(c.ParseFromString(r.value));
    EXPECT_EQ(r.key, "ord_1");
    EXPECT_EQ(c.order_id(), "ord_1");
    EXPECT_TRUE(by_id.emplace(c.command_id(), c).second) << "produced twice: " << c.command_id();
  }
  std::vector<ord::PaymentFactKind> kinds;
  for (const auto& r : orders) {
    ord::OrderCommandEnvelope c;
    ASSERT_TRUE(c.ParseFromString(r.value));
    kinds.push_back(c.payment_fact().kind());
  }
  EXPECT_EQ(kinds, (std::vector<ord::PaymentFactKind>{ord::PAYMENT_FACT_KIND_AUTHORIZED,
                                                      ord::PAYMENT_FACT_KIND_CAPTURED}));

  const std::vector<log::Record> invoices = ReadAll(log::TopicKind::kInvoiceCommands);
  ASSERT_EQ(invoices.size(), 1u);
  inv::InvoiceCommandEnvelope c;
  ASSERT_TRUE(c.ParseFromString(invoices[0].value));
  EXPECT_EQ(invoices[0].key, "inv_1");
  EXPECT_EQ(c.payment_succeeded().payment_id(), pid);
  EXPECT_EQ(c.payment_succeeded().captured().amount_minor(), 6'000);
}

}  // namespace
}  // namespace payorch
