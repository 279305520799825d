// Fencing: a writer that was paused while a newer writer claimed its partition (a
// zombie) resumes and keeps deciding. None of its late events may count, for any reader.
// Also, on the same harness: the writer's payment cache keeps to its share of the
// process's budget, and an evicted payment is decided from the store as if cached.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "command/aggregate.h"
#include "command/validity.h"
#include "config/config.h"
#include "kafka/test_broker.h"
#include "log/embedded_broker.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "outbox/event_outbox.h"
#include "runtime/checker.h"
#include "runtime/state_store.h"
#include "runtime/writer.h"

namespace payorch {
namespace {

namespace fs = std::filesystem;
namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;

constexpr int kPartition = 0;

// One writer "process": its own producer, outbox and state store.
struct WriterProcess {
  WriterProcess(const log::KafkaOptions& kafka, const command::PlanBuilder& plans,
                const std::string& name, const fs::path& dir)
      : cluster(kafka) {
    auto p = log::Producer::Create(kafka);
    EXPECT_TRUE(p.ok());
    producer = std::move(p.value());
    outbox = std::make_unique<outbox::EventOutbox>(*producer, kafka.Topic(log::TopicKind::kEvents));
    EXPECT_EQ(store.Open((dir / name).string()).ToString(), "ok");
    runtime::WriterDeps deps{&kafka, &cluster, producer.get(),           outbox.get(), &store,
                             &plans, name,     spdlog::default_logger(), &probe,       &cache};
    writer = std::make_unique<runtime::PartitionWriter>(kPartition, deps);
  }

  // Decides `records` and waits until their events are delivered and persisted.
  void Decide(const std::vector<log::Record>& records) {
    for (const auto& r : records) ASSERT_EQ(writer->Handle(r), "");
    ASSERT_TRUE(producer->Flush(10'000).ok());
    ASSERT_EQ(writer->Persist(), "");
  }

  log::KafkaCluster cluster;
  std::unique_ptr<log::Producer> producer;
  std::unique_ptr<outbox::EventOutbox> outbox;
  runtime::StateStore store;
  runtime::WriterProbe probe;
  runtime::CacheBudget cache{1000};
  std::unique_ptr<runtime::PartitionWriter> writer;
};

class FencingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("payorch-fencing-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    // The embedded broker, or real Kafka with PAYORCH_TEST_BROKER=kafka (own topics).
    log::KafkaOptions base;
    base.partitions = 1;
    testing::TestBroker broker = testing::TestBroker::Start(base);
    ASSERT_TRUE(broker.ok()) << broker.error;
    broker_ = std::move(broker.embedded);
    kafka_ = broker.kafka;
    plans_ = command::PlanBuilder(config::DefaultConfig());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Appends `n` creates to the commands partition and returns them as read back.
  std::vector<log::Record> AppendCreates(int first, int n) {
    auto producer = log::Producer::Create(kafka_);
    EXPECT_TRUE(producer.ok());
    int64_t from = -1;
    for (int i = first; i < first + n; ++i) {
      cmd::CommandEnvelope env;
      env.set_schema_version(1);
      env.set_command_id("c" + std::to_string(i));
      auto* c = env.mutable_create();
      c->set_merchant_id("m_jpy");
      c->set_idempotency_key("k" + std::to_string(i));
      c->mutable_amount()->set_amount_minor(1000 + i);
      c->mutable_amount()->set_currency("JPY");
      c->set_confirm(true);
      log::OutRecord out{kafka_.Topic(log::TopicKind::kCommands),
                         PartitionId{kPartition},
                         command::TargetPaymentId(env),
                         env.SerializeAsString(),
                         {}};
      auto at = producer.value()->ProduceSync(out, 10'000);
      EXPECT_TRUE(at.ok());
      if (from < 0) from = at.value().value();
    }
    std::vector<log::Record> records;
    auto reader = log::PartitionReader::Open(kafka_, kafka_.Topic(log::TopicKind::kCommands),
                                             PartitionId{kPartition}, Offset{from});
    EXPECT_TRUE(reader.ok());
    EXPECT_TRUE(
        reader.value()
            ->ReadUntil(
                Offset{from + n}, [&](const log::Record& r) { records.push_back(r); }, 10'000)
            .ok());
    return records;
  }

  fs::path dir_;
  std::unique_ptr<log::EmbeddedBroker> broker_;
  log::KafkaOptions kafka_;
  command::PlanBuilder plans_;
};

TEST_F(FencingTest, PausedWriterResumedAfterANewClaimGetsNoEventCounted) {
  WriterProcess old_writer(kafka_, plans_, "old", dir_);
  auto start = old_writer.writer->Start();
  ASSERT_TRUE(std::holds_alternative<int64_t>(start));
  ASSERT_EQ(std::get<int64_t>(start), 0);
  ASSERT_EQ(old_writer.writer->epoch(), 1u);
  old_writer.Decide(AppendCreates(0, 5));

  // The old writer pauses. A new writer restores from the log and claims epoch 2.
  WriterProcess new_writer(kafka_, plans_, "new", dir_);
  start = new_writer.writer->Start();
  ASSERT_TRUE(std::holds_alternative<int64_t>(start));
  EXPECT_EQ(std::get<int64_t>(start), 5) << "resumes after the commands already decided";
  EXPECT_EQ(new_writer.writer->epoch(), 2u);

  // Both see the next commands. The zombie decides them first.
  const std::vector<log::Record> later = AppendCreates(5, 5);
  for (const auto& r : later) (void)old_writer.writer->Handle(r);
  ASSERT_TRUE(old_writer.producer->Flush(10'000).ok());
  (void)old_writer.writer->Persist();
  EXPECT_TRUE(old_writer.writer->fenced()) << "the zombie must notice the newer claim";
  EXPECT_GE(old_writer.outbox->probe().refused_fenced + old_writer.probe.fenced, 1u);
  new_writer.Decide(later);

  // Every reader's rule: nothing the zombie wrote after the claim counts.
  auto reader = log::PartitionReader::Open(kafka_, kafka_.Topic(log::TopicKind::kEvents),
                                           PartitionId{kPartition}, log::kOffsetBeginning);
  ASSERT_TRUE(reader.ok());
  command::EpochFilter filter;
  int zombie_records = 0;
  int zombie_counted = 0;
  bool after_new_claim = false;
  ASSERT_TRUE(reader.value()
                  ->ReadToEnd(
                      [&](const log::Record& r) {
                        ev::EventEnvelope e;
                        ASSERT_TRUE(e.ParseFromString(r.value));
                        const command::Verdict v = filter.Observe(e);
                        if (e.has_writer_claimed() && e.epoch() == 2) after_new_claim = true;
                        if (after_new_claim && e.epoch() == 1) {
                          ++zombie_records;
                          if (v == command::Verdict::kCounted) ++zombie_counted;
                        }
                      },
                      10'000)
                  .ok());
  EXPECT_GT(zombie_records, 0) << "the test must actually get zombie events into the log";
  EXPECT_EQ(zombie_counted, 0);

  std::string error;
  runtime::CheckReport report = runtime::CheckLog(kafka_, {}, &error);
  ASSERT_EQ(error, "");
  report.Print(stdout);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.fenced, zombie_records);
  EXPECT_EQ(report.commands, 10);
}

TEST_F(FencingTest, FencedWriterRefusesToPublishAgain) {
  WriterProcess old_writer(kafka_, plans_, "old", dir_);
  ASSERT_TRUE(std::holds_alternative<int64_t>(old_writer.writer->Start()));
  WriterProcess new_writer(kafka_, plans_, "new", dir_);
  ASSERT_TRUE(std::holds_alternative<int64_t>(new_writer.writer->Start()));
  const std::vector<log::Record> records = AppendCreates(0, 4);
  old_writer.Decide({records[0]});  // gets through, then the gap check fences it
  ASSERT_TRUE(old_writer.writer->fenced());
  const uint64_t groups_before = old_writer.outbox->probe().groups;
  old_writer.Decide({records[1], records[2], records[3]});
  EXPECT_EQ(old_writer.outbox->probe().groups, groups_before) << "no publish after fencing";
}

using WriterCacheTest = FencingTest;

TEST_F(WriterCacheTest, KeepsItsShareOfTheProcessBudgetAndReloadsWhatItEvicted) {
  WriterProcess w(kafka_, plans_, "w", dir_);
  // 1,000 states for the process, which owns 10 partitions: 100 for this one.
  w.cache.SetOwnedPartitions(10);
  ASSERT_EQ(w.cache.per_partition(), 100u);
  ASSERT_TRUE(std::holds_alternative<int64_t>(w.writer->Start()));
  // 300 payments that never settle (no connector answers them): none is evicted as
  // settled, so only the budget bounds the cache.
  const std::vector<log::Record> creates = AppendCreates(0, 300);
  w.Decide(creates);
  EXPECT_LE(w.writer->cached_payments(), 100u);
  EXPECT_GT(w.writer->cached_payments(), 0u);

  // The same creates again (a client's retries): each payment, cached or evicted, is
  // recognised from its state; none is created twice.
  w.Decide(AppendCreates(0, 300));
  auto reader = log::PartitionReader::Open(kafka_, kafka_.Topic(log::TopicKind::kEvents),
                                           PartitionId{kPartition}, log::kOffsetBeginning);
  ASSERT_TRUE(reader.ok());
  int created = 0;
  ASSERT_TRUE(reader.value()
                  ->ReadToEnd(
                      [&](const log::Record& r) {
                        ev::EventEnvelope e;
                        ASSERT_TRUE(e.ParseFromString(r.value));
                        if (e.has_payment_created()) ++created;
                      },
                      10'000)
                  .ok());
  EXPECT_EQ(created, 300);
  EXPECT_LE(w.writer->cached_payments(), 100u);
}

}  // namespace
}  // namespace payorch
