// The invoice and order writers (runtime/aggregate_writer.h) on a real broker: they decide
// in offset order, resume after a restart from their store and the log without deciding a
// command twice, dead-letter records that are no command of theirs, and stop counting once
// a newer writer claims their partition (the payments fencing rule, shared).
#include "runtime/aggregate_writer.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "command/validity.h"
#include "kafka/test_broker.h"
#include "log/embedded_broker.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "outbox/event_outbox.h"
#include "payments/orders/v1/orders.pb.h"
#include "runtime/state_store.h"

namespace payorch {
namespace {

namespace fs = std::filesystem;
namespace ord = ::payments::orders::v1;

constexpr int kPartition = 0;

// One writer "process": its own producer, outbox and store.
struct OrderWriterProcess {
  OrderWriterProcess(const log::KafkaOptions& kafka, const std::string& name, const fs::path& dir,
                     metrics::RuntimeMetrics* metrics = nullptr)
      : cluster(kafka) {
    auto p = log::Producer::Create(kafka);
    EXPECT_TRUE(p.ok());
    producer = std::move(p.value());
    outbox =
        std::make_unique<outbox::EventOutbox>(*producer, kafka.Topic(log::TopicKind::kOrderEvents));
    EXPECT_EQ(store.Open((dir / name).string()).ToString(), "ok");
    runtime::AggregateWriterDeps deps{&kafka, &cluster, producer.get(),          outbox.get(),
                                      &store, name,     spdlog::default_logger()};
    deps.metrics = metrics;
    writer = runtime::MakeOrderWriter(kPartition, std::move(deps));
  }
  void Decide(const std::vector<log::Record>& records) {
    for (const auto& r : records) ASSERT_EQ(writer->Handle(r), "");
    ASSERT_TRUE(producer->Flush(10'000).ok());
    ASSERT_EQ(writer->Persist(), "");
  }
  log::KafkaCluster cluster;
  std::unique_ptr<log::Producer> producer;
  std::unique_ptr<outbox::EventOutbox> outbox;
  runtime::StateStore store;
  std::unique_ptr<runtime::CommandWriter> writer;
};

class AggregateWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("payorch-aggwriter-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    log::KafkaOptions base;
    base.partitions = 1;
    testing::TestBroker broker = testing::TestBroker::Start(base);
    ASSERT_TRUE(broker.ok()) << broker.error;
    broker_ = std::move(broker.embedded);
    kafka_ = broker.kafka;
    auto p = log::Producer::Create(kafka_);
    ASSERT_TRUE(p.ok());
    producer_ = std::move(p.value());
  }
  void TearDown() override { fs::remove_all(dir_); }

  static ord::OrderCommandEnvelope Create(const std::string& order_id) {
    ord::OrderCommandEnvelope env;
    env.set_schema_version(1);
    env.set_command_id("create-" + order_id);
    env.set_order_id(order_id);
    auto* c = env.mutable_create();
    c->set_merchant_id("m_1");
    c->set_currency("USD");
    auto* line = c->add_line_items();
    line->set_product_id("sku-1");
    line->set_quantity(2);
    line->set_unit_price_minor(1250);
    line->set_tax_rate_bps(1000);
    return env;
  }

  // Appends (key, value) records to the order commands partition; returns them read back.
  std::vector<log::Record> Append(const std::vector<std::pair<std::string, std::string>>& kvs) {
    int64_t from = -1;
    for (const auto& [key, value] : kvs) {
      log::OutRecord out{
          kafka_.Topic(log::TopicKind::kOrderCommands), PartitionId{kPartition}, key, value, {}};
      auto at = producer_->ProduceSync(out, 10'000);
      EXPECT_TRUE(at.ok());
      if (from < 0) from = at.value().value();
    }
    return Read(log::TopicKind::kOrderCommands, from, from + static_cast<int64_t>(kvs.size()));
  }

  std::vector<log::Record> Read(log::TopicKind kind, int64_t from, int64_t to) {
    std::vector<log::Record> records;
    auto reader = log::PartitionReader::Open(kafka_, kafka_.Topic(kind), PartitionId{kPartition},
                                             Offset{from});
    EXPECT_TRUE(reader.ok());
    EXPECT_TRUE(reader.value()
                    ->ReadUntil(
                        Offset{to}, [&](const log::Record& r) { records.push_back(r); }, 10'000)
                    .ok());
    return records;
  }

  // Every counted order event of the partition, by the validity rule.
  std::vector<ord::OrderEventEnvelope> Counted() {
    auto reader = log::PartitionReader::Open(kafka_, kafka_.Topic(log::TopicKind::kOrderEvents),
                                             PartitionId{kPartition}, Offset{0});
    EXPECT_TRUE(reader.ok());
    command::EpochFilter filter;
    std::vector<ord::OrderEventEnvelope> out;
    EXPECT_TRUE(reader.value()
                    ->ReadToEnd(
                        [&](const log::Record& r) {
                          ord::OrderEventEnvelope e;
                          ASSERT_TRUE(e.ParseFromString(r.value));
                          if (filter.Observe(e) == command::Verdict::kCounted) out.push_back(e);
                        },
                        10'000)
                    .ok());
    return out;
  }

  fs::path dir_;
  std::unique_ptr<log::EmbeddedBroker> broker_;
  log::KafkaOptions kafka_;
  std::unique_ptr<log::Producer> producer_;
};

TEST_F(AggregateWriterTest, DecidesResumesAfterRestartAndDeadLettersForeignRecords) {
  const auto records = Append({{"ord_1", Create("ord_1").SerializeAsString()},
                               {"ord_1", "not a protobuf \xff\xff"},
                               {"ord_2", Create("ord_1").SerializeAsString()}});
  metrics::RuntimeMetrics m;
  {
    OrderWriterProcess first(kafka_, "w1", dir_, &m);
    auto start = first.writer->Start();
    ASSERT_TRUE(std::holds_alternative<int64_t>(start)) << std::get<std::string>(start);
    EXPECT_EQ(std::get<int64_t>(start), 0);
    first.Decide(records);
    EXPECT_EQ(first.writer->persisted_command_offset(), 1);
  }
  std::vector<ord::OrderEventEnvelope> counted = Counted();
  ASSERT_EQ(counted.size(), 1u);
  EXPECT_TRUE(counted[0].has_order_created());
  EXPECT_EQ(counted[0].order_created().totals().total_minor(), 2750);
  // The undecodable record and the one keyed by another id are dead letters.
  auto dead = Read(log::TopicKind::kDeadLetters, 0, 2);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(*dead[0].FindHeader("payorch.source.offset"), "1");
  EXPECT_EQ(*dead[1].FindHeader("payorch.source.offset"), "2");
  // /metrics counts them: one order command decided (one event), two dead letters.
  const auto value = [](const metrics::LabeledValues& v) {
    const auto rows = v.Read();
    return rows.size() == 1 && rows[0].values == std::vector<std::string>{"order"} ? rows[0].value
                                                                                   : -1;
  };
  EXPECT_EQ(value(m.aggregate_commands), 1);
  EXPECT_EQ(value(m.aggregate_events), 1);
  EXPECT_EQ(m.dead_letters.value(), 2u);

  // A restarted writer (same store) resumes after the decided create: the repeat of the
  // create is a deduplication, not a second order.
  OrderWriterProcess second(kafka_, "w1", dir_);
  auto start = second.writer->Start();
  ASSERT_TRUE(std::holds_alternative<int64_t>(start));
  EXPECT_EQ(std::get<int64_t>(start), 1);
  second.Decide(Append({{"ord_1", Create("ord_1").SerializeAsString()}}));
  counted = Counted();
  ASSERT_EQ(counted.size(), 2u);
  EXPECT_TRUE(counted[1].has_command_deduplicated()) << counted[1].ShortDebugString();
  EXPECT_EQ(counted[1].sequence(), 2u);
}

TEST_F(AggregateWriterTest, AWriterWithoutItsStoreRestoresFromTheLog) {
  {
    OrderWriterProcess first(kafka_, "a", dir_);
    ASSERT_TRUE(std::holds_alternative<int64_t>(first.writer->Start()));
    first.Decide(Append({{"ord_9", Create("ord_9").SerializeAsString()}}));
  }
  OrderWriterProcess fresh(kafka_, "b", dir_);  // another instance: an empty store
  auto start = fresh.writer->Start();
  ASSERT_TRUE(std::holds_alternative<int64_t>(start));
  EXPECT_EQ(std::get<int64_t>(start), 1);
  fresh.Decide(Append({{"ord_9", Create("ord_9").SerializeAsString()}}));
  auto counted = Counted();
  ASSERT_EQ(counted.size(), 2u);
  EXPECT_TRUE(counted[1].has_command_deduplicated());
}

TEST_F(AggregateWriterTest, AZombieWriterIsFencedByANewerClaim) {
  metrics::RuntimeMetrics m;
  OrderWriterProcess zombie(kafka_, "old", dir_, &m);
  ASSERT_TRUE(std::holds_alternative<int64_t>(zombie.writer->Start()));
  zombie.Decide(Append({{"ord_a", Create("ord_a").SerializeAsString()}}));
  OrderWriterProcess newer(kafka_, "new", dir_);
  ASSERT_TRUE(std::holds_alternative<int64_t>(newer.writer->Start()));
  // The paused writer resumes: its next events land after the newer claim and never count.
  zombie.Decide(Append({{"ord_b", Create("ord_b").SerializeAsString()}}));
  EXPECT_TRUE(zombie.writer->fenced());
  EXPECT_EQ(m.fenced_writes.value(), 1u);
  for (const auto& e : Counted()) EXPECT_NE(e.order_id(), "ord_b") << e.ShortDebugString();
  // The newer writer decides the same command, and it counts.
  newer.Decide(Read(log::TopicKind::kOrderCommands, 1, 2));
  auto counted = Counted();
  ASSERT_EQ(counted.size(), 2u);
  EXPECT_EQ(counted[1].order_id(), "ord_b");
}

}  // namespace
}  // namespace payorch
