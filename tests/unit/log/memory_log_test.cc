// log::MemoryLog: the in-memory log the simulation runs the writer on. Its contract is
// Kafka's as payorch relies on it (offsets, placement by key, delivery on Poll), plus the
// fault hooks and the gapless series of a producer.
#include "log/memory_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "log/partitioner.h"

namespace payorch::log {
namespace {

KafkaOptions Options() {
  KafkaOptions o;
  o.partitions = 4;
  return o;
}

struct Delivered {
  std::vector<Delivery> all;
  DeliveryCallback Callback() {
    return [this](const Delivery& d) { all.push_back(d); };
  }
};

TEST(MemoryLogTest, KeyedRecordsGoWhereKafkaPutsThemAndSettleOnPoll) {
  MemoryLog log(Options());
  const std::string topic = Options().Topic(TopicKind::kEvents);
  auto producer = log.NewProducer();
  Delivered d;
  ASSERT_TRUE(producer->Produce({topic, kAnyPartition, "pay_1", "a", {}}, d.Callback()).ok());
  ASSERT_TRUE(producer->Produce({topic, kAnyPartition, "pay_1", "b", {}}, d.Callback()).ok());
  EXPECT_EQ(producer->InFlight(), 2);
  EXPECT_TRUE(d.all.empty()) << "nothing settles before a poll";
  ASSERT_TRUE(producer->Poll(0).ok());
  ASSERT_EQ(d.all.size(), 2u);
  const PartitionId p = PartitionForKey("pay_1", 4);
  EXPECT_EQ(d.all[0].partition, p);
  EXPECT_EQ(d.all[0].offset, Offset{0});
  EXPECT_EQ(d.all[1].offset, Offset{1});
  EXPECT_EQ(log.Records(topic, p).size(), 2u);
  EXPECT_EQ(log.PartitionCount(topic).value(), 4);

  auto reader = log.OpenReader(topic, p, kOffsetBeginning);
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> values;
  auto end = reader.value()->ReadToEnd([&](const Record& r) { values.push_back(r.value); }, 10);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end.value(), Offset{2});
  EXPECT_EQ(values, (std::vector<std::string>{"a", "b"}));
  // Past the end it does not wait: the read fails retriable.
  EXPECT_EQ(reader.value()
                ->ReadUntil(
                    Offset{3}, [](const Record&) {}, 10)
                .code(),
            StatusCode::kUnavailable);
}

TEST(MemoryLogTest, FaultsApplyToTheNextSettledRecordsInOrder) {
  MemoryLog log(Options());
  const std::string topic = Options().Topic(TopicKind::kEvents);
  const OutRecord r{topic, PartitionId{0}, "k", "v", {}};
  log.PushProduceFaults({ProduceFault::kDuplicated, ProduceFault::kInDoubtWritten});
  auto producer = log.NewProducer();
  Delivered d;
  ASSERT_TRUE(producer->Produce(r, d.Callback()).ok());
  ASSERT_TRUE(producer->Produce(r, d.Callback()).ok());
  ASSERT_TRUE(producer->Produce(r, d.Callback()).ok());
  ASSERT_TRUE(producer->Flush(0).ok());
  ASSERT_EQ(d.all.size(), 3u);
  EXPECT_TRUE(d.all[0].status.ok());  // written twice
  EXPECT_EQ(d.all[1].status.code(), StatusCode::kAborted) << "in doubt, but written";
  EXPECT_TRUE(d.all[2].status.ok());
  EXPECT_EQ(log.Records(topic, PartitionId{0}).size(), 4u);
  EXPECT_EQ(log.pending_faults(), 0u);
}

TEST(MemoryLogTest, AProducerIsAGaplessSeries) {
  MemoryLog log(Options());
  const std::string topic = Options().Topic(TopicKind::kEvents);
  const OutRecord r{topic, PartitionId{1}, "k", "v", {}};
  log.PushProduceFaults({ProduceFault::kNone, ProduceFault::kInDoubtLost});
  auto producer = log.NewProducer();
  Delivered d;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(producer->Produce(r, d.Callback()).ok());
  ASSERT_TRUE(producer->Poll(0).ok());
  ASSERT_EQ(d.all.size(), 4u);
  EXPECT_TRUE(d.all[0].status.ok());
  EXPECT_EQ(d.all[1].status.code(), StatusCode::kAborted);
  // After a record that was not written, no later one of this producer is.
  EXPECT_FALSE(d.all[2].status.ok());
  EXPECT_FALSE(d.all[3].status.ok());
  EXPECT_EQ(log.Records(topic, PartitionId{1}).size(), 1u);
  // Another producer (a restarted writer) writes again.
  auto fresh = log.NewProducer();
  EXPECT_TRUE(fresh->ProduceSync(r, 10).ok());
  EXPECT_EQ(log.Records(topic, PartitionId{1}).size(), 2u);
}

TEST(MemoryLogTest, WhileDownNothingIsWrittenOrRead) {
  MemoryLog log(Options());
  const std::string topic = Options().Topic(TopicKind::kCommands);
  log.SetDown(true);
  auto producer = log.NewProducer();
  auto sent = producer->ProduceSync({topic, PartitionId{0}, "k", "v", {}}, 10);
  EXPECT_EQ(sent.status().code(), StatusCode::kUnavailable);
  auto reader = log.OpenReader(topic, PartitionId{0}, kOffsetBeginning);
  ASSERT_TRUE(reader.ok());
  std::vector<Record> out;
  EXPECT_EQ(reader.value()->Poll(10, 0, &out).code(), StatusCode::kUnavailable);
  log.SetDown(false);
  EXPECT_TRUE(log.NewProducer()->ProduceSync({topic, PartitionId{0}, "k", "v", {}}, 10).ok());
  EXPECT_TRUE(reader.value()->Poll(10, 0, &out).ok());
  EXPECT_EQ(out.size(), 1u);
}

TEST(MemoryLogTest, UnknownTopicsAreRefused) {
  MemoryLog log(Options());
  EXPECT_FALSE(log.OpenReader("nope", PartitionId{0}, kOffsetBeginning).ok());
  EXPECT_FALSE(log.PartitionCount("nope").ok());
  EXPECT_EQ(log.Append({"nope", PartitionId{0}, "k", "v", {}}), -1);
}

}  // namespace
}  // namespace payorch::log
