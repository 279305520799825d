// The Kafka adapter (src/log/) against librdkafka's real mock cluster: what the runtime
// relies on, stated as behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "log/admin.h"
#include "log/consumer.h"
#include "log/embedded_broker.h"
#include "log/internal/client.h"
#include "log/partition_reader.h"
#include "log/partitioner.h"
#include "log/producer.h"
#include "log/shared_reader.h"

namespace payorch::log {
namespace {

using ::testing::ElementsAre;

constexpr int kWaitMs = 15'000;

std::shared_ptr<spdlog::logger> QuietLogger() {
  static auto logger = [] {
    auto l = spdlog::default_logger()->clone("log_test");
    l->set_level(spdlog::level::err);
    return l;
  }();
  return logger;
}

// Tests share one embedded broker (tearing one down takes librdkafka's mock about 1 s);
// each test gets its own topics through a unique prefix.
class LogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto broker = EmbeddedBroker::Start(1, QuietLogger());
    ASSERT_TRUE(broker.ok()) << broker.status().ToString();
    shared_broker_ = std::move(broker).value().release();
  }
  static void TearDownTestSuite() {
    delete shared_broker_;
    shared_broker_ = nullptr;
  }

  void SetUp() override { UseBroker(shared_broker_); }

  void UseBroker(EmbeddedBroker* broker) {
    static int test_number = 0;
    broker_ = broker;
    options_.bootstrap_servers = broker_->bootstrap();
    options_.logger = QuietLogger();
    options_.topic_prefix = "t" + std::to_string(++test_number) + ".";
    // Reconnect promptly after a broker comes back up.
    options_.properties = {{"reconnect.backoff.ms", "10"}, {"reconnect.backoff.max.ms", "100"}};
    ASSERT_TRUE(broker_->CreateTopics(options_).ok());
  }

  std::unique_ptr<Producer> NewProducer() {
    auto p = Producer::Create(options_);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  // Every record of topic[partition], from the beginning to the high watermark.
  std::vector<Record> ReadAll(const std::string& topic, int32_t partition) {
    auto reader = PartitionReader::Open(options_, topic, PartitionId(partition), kOffsetBeginning);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    std::vector<Record> out;
    auto end = reader.value()->ReadToEnd([&](const Record& r) { out.push_back(r); }, kWaitMs);
    EXPECT_TRUE(end.ok()) << end.status().ToString();
    return out;
  }

  std::string Events() const { return options_.Topic(TopicKind::kEvents); }

  // 50 records on events partition 0, then a shared reader of at most 10 queued records per
  // subscription, started with two subscriptions from the beginning: `slow` (never polled
  // by the tests until they say so) and `fast`. Empty pointers if any step failed.
  struct SlowAndFast {
    std::unique_ptr<SharedReader> reader;
    std::unique_ptr<RecordSource> slow;
    std::unique_ptr<RecordSource> fast;
  };
  SlowAndFast StartSlowAndFast(bool slow_detachable) {
    SlowAndFast out;
    auto producer = NewProducer();
    for (int i = 0; i < 50; ++i) {
      if (!producer->Produce({.topic = Events(), .partition = PartitionId(0)}).ok()) return out;
    }
    if (!producer->Flush(kWaitMs).ok()) return out;
    auto reader =
        SharedReader::Open(options_, "slow-and-fast", Events(), /*max_queued_records=*/10);
    if (!reader.ok()) return out;
    auto slow = reader.value()->Subscribe({}, slow_detachable);
    auto fast = reader.value()->Subscribe({});
    if (!slow.ok() || !fast.ok() || !reader.value()->Start().ok()) return out;
    out.reader = std::move(reader).value();
    out.slow = std::move(slow).value();
    out.fast = std::move(fast).value();
    return out;
  }
  std::string Commands() const { return options_.Topic(TopicKind::kCommands); }

  static EmbeddedBroker* shared_broker_;
  EmbeddedBroker* broker_ = nullptr;
  KafkaOptions options_;
};

EmbeddedBroker* LogTest::shared_broker_ = nullptr;

// Fault tests get a broker of their own.
class LogFaultTest : public LogTest {
 protected:
  void SetUp() override {
    auto broker = EmbeddedBroker::Start(1, QuietLogger());
    ASSERT_TRUE(broker.ok()) << broker.status().ToString();
    own_broker_ = std::move(broker).value();
    UseBroker(own_broker_.get());
  }
  std::unique_ptr<EmbeddedBroker> own_broker_;
};

// --- Errors are classified once, at the adapter ------------------------------------------

TEST(ErrorClassification, MapsLibrdkafkaCodesToWhatTheCallerMustDo) {
  struct Case {
    rd_kafka_resp_err_t err;
    StatusCode code;
    ErrorClass want;
  };
  const Case cases[] = {
      {RD_KAFKA_RESP_ERR__TRANSPORT, StatusCode::kUnavailable, ErrorClass::kRetriable},
      {RD_KAFKA_RESP_ERR__QUEUE_FULL, StatusCode::kUnavailable, ErrorClass::kRetriable},
      {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, StatusCode::kUnavailable,
       ErrorClass::kRetriable},
      {RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, StatusCode::kUnavailable,
       ErrorClass::kRetriable},
      {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, StatusCode::kAborted, ErrorClass::kAbortable},
      {RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, StatusCode::kAborted, ErrorClass::kAbortable},
      {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, StatusCode::kAborted, ErrorClass::kAbortable},
      {RD_KAFKA_RESP_ERR__FATAL, StatusCode::kInternal, ErrorClass::kFatal},
      {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, StatusCode::kFailedPrecondition,
       ErrorClass::kFatal},
      {RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, StatusCode::kFailedPrecondition, ErrorClass::kFatal},
      {RD_KAFKA_RESP_ERR__INVALID_ARG, StatusCode::kFailedPrecondition, ErrorClass::kFatal},
      {RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION, StatusCode::kFailedPrecondition, ErrorClass::kFatal},
      {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, StatusCode::kInternal, ErrorClass::kFatal},
      {RD_KAFKA_RESP_ERR_PRODUCER_FENCED, StatusCode::kInternal, ErrorClass::kFatal},
      // Unknown: never loop. 200 is no code of librdkafka 2.0 yet inside the enum's value
      // range ([-256, 255]); 9999 was outside it, undefined behaviour that UBSan reports.
      {static_cast<rd_kafka_resp_err_t>(200), StatusCode::kInternal, ErrorClass::kFatal},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(internal::Classify(c.err), c.code) << rd_kafka_err2name(c.err);
    Status s = internal::MakeError(c.err, "op");
    EXPECT_EQ(s.code(), c.code) << rd_kafka_err2name(c.err);
    EXPECT_EQ(s.native_code(), static_cast<int>(c.err)) << rd_kafka_err2name(c.err);
    EXPECT_EQ(ClassOf(s), c.want) << rd_kafka_err2name(c.err);
    EXPECT_EQ(IsRetriable(s), c.want == ErrorClass::kRetriable) << rd_kafka_err2name(c.err);
    EXPECT_EQ(IsAbortable(s), c.want == ErrorClass::kAbortable) << rd_kafka_err2name(c.err);
    EXPECT_EQ(IsFatal(s), c.want == ErrorClass::kFatal) << rd_kafka_err2name(c.err);
  }
}

TEST(ErrorClassification, AnOkStatusHasNoClass) {
  EXPECT_FALSE(IsRetriable(Status::Ok()));
  EXPECT_FALSE(IsAbortable(Status::Ok()));
  EXPECT_FALSE(IsFatal(Status::Ok()));
}

TEST(ErrorClassification, ErrorsOfOtherComponentsAreFatal) {
  EXPECT_TRUE(IsFatal(InvalidArgumentError("bad input")));
  EXPECT_TRUE(IsFatal(DataLossError("truncated")));
  EXPECT_TRUE(IsRetriable(UnavailableError("later")));
}

TEST(ErrorClassification, MessageNamesTheErrorAndTheOperation) {
  Status e = internal::MakeError(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, "produce to t[0]");
  EXPECT_EQ(e.ToString(), "aborted: _MSG_TIMED_OUT: produce to t[0] (Local: Message timed out)");
  EXPECT_EQ(e.message(), "_MSG_TIMED_OUT: produce to t[0] (Local: Message timed out)");
  EXPECT_EQ(e.native_code(), RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
}

TEST(ErrorClassification, ConfigurationErrorsAreFailedPreconditions) {
  Status e = internal::ConfigError("linger.ms=x: invalid value");
  EXPECT_EQ(e.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(e.native_code(), RD_KAFKA_RESP_ERR__INVALID_ARG);
  EXPECT_TRUE(IsFatal(e));
}

// A topic the cluster does not have is told apart from a cluster that does not answer:
// `payorch check` skips the first (a log from before invoices and orders) and fails at once
// on the second (it waited out five timeouts, 50 s, before).
TEST_F(LogTest, AMissingTopicIsNotAnUnreachableCluster) {
  auto admin = Admin::Create(options_);
  ASSERT_TRUE(admin.ok());
  auto missing = admin.value()->PartitionCount(options_.topic_prefix + "no-such-topic");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(IsUnknownTopic(missing.status())) << missing.status().ToString();

  KafkaOptions nowhere = options_;
  nowhere.bootstrap_servers = "127.0.0.1:1";  // nothing listens there
  auto unreachable = Admin::Create(nowhere);
  ASSERT_TRUE(unreachable.ok());
  auto count = unreachable.value()->PartitionCount(options_.Topic(TopicKind::kEvents), 500);
  ASSERT_FALSE(count.ok());
  EXPECT_FALSE(IsUnknownTopic(count.status())) << count.status().ToString();
}

// --- Producer ------------------------------------------------------------------------------

TEST_F(LogTest, RecordsRoundTripWithKeyValueAndHeaders) {
  auto producer = NewProducer();
  struct Sent {
    OutRecord record;
    Delivery delivery{PartitionId(-1), Offset(-1), LogStatus::Ok()};
  };
  std::vector<Sent> sent = {
      {{.topic = Events(), .key = "pay_1", .value = "v1", .headers = {{"h", "1"}}}},
      {{.topic = Events(),
        .key = "pay_2",
        .value = std::string("bin\0ary", 7),
        .headers = {{"a", "x"}, {"b", ""}, {"a", "y"}}}},
      {{.topic = Events(), .key = "pay_3", .value = "", .headers = {}}},
  };
  for (Sent& s : sent) {
    ASSERT_TRUE(producer->Produce(s.record, [&s](const Delivery& d) { s.delivery = d; }).ok());
  }
  ASSERT_TRUE(producer->Flush(kWaitMs).ok());

  for (const Sent& s : sent) {
    ASSERT_TRUE(s.delivery.status.ok()) << s.delivery.status.ToString();
    auto reader =
        PartitionReader::Open(options_, Events(), s.delivery.partition, s.delivery.offset);
    ASSERT_TRUE(reader.ok());
    std::vector<Record> got;
    ASSERT_TRUE(reader.value()
                    ->ReadUntil(
                        Offset(s.delivery.offset.value() + 1),
                        [&](const Record& r) { got.push_back(r); }, kWaitMs)
                    .ok());
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].topic, Events());
    EXPECT_EQ(got[0].partition, s.delivery.partition);
    EXPECT_EQ(got[0].offset, s.delivery.offset);
    EXPECT_EQ(got[0].key, s.record.key);
    EXPECT_EQ(got[0].value, s.record.value);
    EXPECT_EQ(got[0].headers, s.record.headers);
    EXPECT_GT(got[0].timestamp_ms, 1'600'000'000'000);
  }
}

// Java's murmur2 of these keys (librdkafka's rdmurmur2.c unit test) modulo 4.
TEST_F(LogTest, KeyPicksThePartitionAJavaClientWould) {
  const std::map<std::string, int32_t> java_partition = {
      {"kafka", 0}, {"4", 1}, {"234", 2}, {"reAmbleWillBeRemoved,ThePrePartThatIs", 3}};
  auto producer = NewProducer();
  for (const auto& [key, want] : java_partition) {
    for (int i = 0; i < 3; ++i) {
      PartitionId got(-1);
      ASSERT_TRUE(producer
                      ->Produce({.topic = Commands(), .key = key, .value = std::to_string(i)},
                                [&got](const Delivery& d) { got = d.partition; })
                      .ok());
      ASSERT_TRUE(producer->Flush(kWaitMs).ok());
      EXPECT_EQ(got, PartitionId(want)) << key;
    }
  }
}

// org.apache.kafka.common.utils.UtilsTest#testMurmur2, and the partitions above.
TEST(Partitioner, MatchesKafkasMurmur2AndJavasPartitions) {
  EXPECT_EQ(Murmur2("21"), -973932308);
  EXPECT_EQ(Murmur2("foobar"), -790332482);
  EXPECT_EQ(Murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(Murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(Murmur2("abc"), 479470107);
  EXPECT_EQ(PartitionForKey("kafka", 4), PartitionId(0));
  EXPECT_EQ(PartitionForKey("4", 4), PartitionId(1));
  EXPECT_EQ(PartitionForKey("234", 4), PartitionId(2));
  EXPECT_EQ(PartitionForKey("reAmbleWillBeRemoved,ThePrePartThatIs", 4), PartitionId(3));
}

TEST_F(LogTest, ExplicitPartitionIsHonouredAndOtherPartitionsStayEmpty) {
  auto producer = NewProducer();
  for (int i = 0; i < 5; ++i) {
    auto at = producer->ProduceSync(
        {.topic = Events(), .partition = PartitionId(2), .key = "pay_" + std::to_string(i)},
        kWaitMs);
    ASSERT_TRUE(at.ok()) << at.status().ToString();
  }
  EXPECT_EQ(ReadAll(Events(), 2).size(), 5u);
  for (int32_t p : {0, 1, 3}) EXPECT_TRUE(ReadAll(Events(), p).empty()) << p;
}

TEST_F(LogTest, ProduceSyncReturnsConsecutiveOffsets) {
  auto producer = NewProducer();
  std::vector<int64_t> offsets;
  for (int i = 0; i < 5; ++i) {
    auto at = producer->ProduceSync(
        {.topic = Events(), .partition = PartitionId(1), .value = "claim"}, kWaitMs);
    ASSERT_TRUE(at.ok()) << at.status().ToString();
    offsets.push_back(at.value().value());
  }
  EXPECT_THAT(offsets, ElementsAre(0, 1, 2, 3, 4));
}

TEST_F(LogTest, ProducingToAMissingPartitionFailsFatal) {
  auto producer = NewProducer();
  auto at = producer->ProduceSync({.topic = Events(), .partition = PartitionId(99)}, kWaitMs);
  ASSERT_FALSE(at.ok());
  EXPECT_EQ(ClassOf(at.status()), ErrorClass::kFatal) << at.status().ToString();
}

// --- SharedReader --------------------------------------------------------------------------

// Polls `source` until it returned `want` records (or kWaitMs passed), then `quiet_ms` more.
std::vector<Record> PollFor(RecordSource& source, size_t want, int quiet_ms = 0) {
  std::vector<Record> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(source.PollBatch(100, 100, &out).ok());
  }
  const auto quiet_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(quiet_ms);
  while (std::chrono::steady_clock::now() < quiet_end) {
    EXPECT_TRUE(source.PollBatch(100, 100, &out).ok());
  }
  return out;
}

std::map<int32_t, std::vector<int64_t>> OffsetsByPartition(const std::vector<Record>& records) {
  std::map<int32_t, std::vector<int64_t>> out;
  for (const Record& r : records) out[r.partition.value()].push_back(r.offset.value());
  return out;
}

TEST_F(LogTest, SharedReaderGivesEachSubscriberEveryRecordFromItsOwnStartOnce) {
  auto producer = NewProducer();
  for (int32_t p : {0, 1}) {
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(
          producer->ProduceSync({.topic = Events(), .partition = PartitionId(p)}, kWaitMs).ok());
    }
  }
  auto reader = SharedReader::Open(options_, "shared", Events());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto all = reader.value()->Subscribe({});  // every partition from the beginning
  auto late = reader.value()->Subscribe({{PartitionId(0), Offset{6}}, {PartitionId(1), Offset{3}}});
  ASSERT_TRUE(all.ok() && late.ok());
  ASSERT_TRUE(reader.value()->Start().ok());
  EXPECT_FALSE(reader.value()->Subscribe({}).ok()) << "no subscription after the start";

  const std::vector<int64_t> zero_to_nine = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto got_all = OffsetsByPartition(PollFor(*all.value(), 20, 300));
  EXPECT_EQ(got_all[0], zero_to_nine);
  EXPECT_EQ(got_all[1], zero_to_nine);
  auto got_late = OffsetsByPartition(PollFor(*late.value(), 11, 300));
  EXPECT_THAT(got_late[0], ElementsAre(6, 7, 8, 9));
  EXPECT_THAT(got_late[1], ElementsAre(3, 4, 5, 6, 7, 8, 9));

  // New records reach both.
  ASSERT_TRUE(
      producer->ProduceSync({.topic = Events(), .partition = PartitionId(2)}, kWaitMs).ok());
  EXPECT_THAT(OffsetsByPartition(PollFor(*all.value(), 1))[2], ElementsAre(0));
  EXPECT_THAT(OffsetsByPartition(PollFor(*late.value(), 1))[2], ElementsAre(0));
}

// A subscription holds at most max_queued_records: one that does not poll stops the reader
// (and so its other subscribers) there, and releases it when it is destroyed.
TEST_F(LogTest, SharedReaderIsPacedByItsFullestSubscriptionAndHoldsNoMoreThanItsBound) {
  SlowAndFast r = StartSlowAndFast(/*slow_detachable=*/false);
  ASSERT_TRUE(r.reader && r.slow && r.fast);
  std::vector<Record> first = PollFor(*r.fast, 10, 1'000);
  EXPECT_EQ(first.size(), 10u) << "the slow subscription holds 10 and paces the reader";
  r.slow.reset();
  std::vector<Record> rest = PollFor(*r.fast, 40);
  EXPECT_EQ(rest.size(), 40u);
  first.insert(first.end(), rest.begin(), rest.end());
  std::vector<int64_t> want(50);
  for (int i = 0; i < 50; ++i) want[static_cast<size_t>(i)] = i;
  EXPECT_EQ(OffsetsByPartition(first)[0], want);
}

// A detachable subscription never paces the reader: full, it is dropped (its queue freed)
// and told so once, with kResourceExhausted, so that its subscriber reads on its own.
TEST_F(LogTest, AFullDetachableSubscriptionIsDroppedInsteadOfPacingTheReader) {
  SlowAndFast r = StartSlowAndFast(/*slow_detachable=*/true);
  ASSERT_TRUE(r.reader && r.slow && r.fast);
  std::vector<Record> all = PollFor(*r.fast, 50);
  EXPECT_EQ(all.size(), 50u) << "the slow subscription did not hold the other at 10";
  std::vector<Record> none;
  const Status told = r.slow->PollBatch(100, 100, &none);
  EXPECT_EQ(told.code(), StatusCode::kResourceExhausted) << told.ToString();
  EXPECT_TRUE(none.empty()) << "its queue was freed";
}

// --- PartitionReader -----------------------------------------------------------------------

TEST_F(LogTest, ReaderStopsExactlyAtTheHighWatermark) {
  auto producer = NewProducer();
  constexpr int kCount = 100'000;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(
        producer
            ->Produce({.topic = Events(), .partition = PartitionId(0), .value = std::to_string(i)})
            .ok());
  }
  ASSERT_TRUE(producer->Flush(kWaitMs * 2).ok());

  auto reader = PartitionReader::Open(options_, Events(), PartitionId(0), kOffsetBeginning);
  ASSERT_TRUE(reader.ok());
  auto wm = reader.value()->QueryWatermarks();
  ASSERT_TRUE(wm.ok());
  EXPECT_EQ(wm.value().low, Offset(0));
  EXPECT_EQ(wm.value().high, Offset(kCount));

  int64_t n = 0;
  int64_t mismatches = 0;
  const auto start = std::chrono::steady_clock::now();
  auto end = reader.value()->ReadToEnd(
      [&](const Record& r) {
        mismatches += (r.offset.value() != n || r.value != std::to_string(n));
        ++n;
      },
      kWaitMs * 2);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(end.value(), Offset(kCount));
  EXPECT_EQ(n, kCount);
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(reader.value()->position(), Offset(kCount));
  std::printf("[ info     ] read %d records in %.3f s (%.0f records/s)\n", kCount, secs,
              kCount / secs);

  // Nothing more to read: returns at once, delivering nothing.
  n = 0;
  end = reader.value()->ReadToEnd([&](const Record&) { ++n; }, kWaitMs);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(n, 0);
}

TEST_F(LogTest, ReadUntilATargetDeliversOnlyRecordsBeforeItAndResumesThere) {
  auto producer = NewProducer();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(
        producer->Produce({.topic = Events(), .partition = PartitionId(3), .value = "x"}).ok());
  }
  ASSERT_TRUE(producer->Flush(kWaitMs).ok());
  auto reader = PartitionReader::Open(options_, Events(), PartitionId(3), Offset(100));
  ASSERT_TRUE(reader.ok());
  std::vector<int64_t> first;
  ASSERT_TRUE(
      reader.value()
          ->ReadUntil(
              Offset(400), [&](const Record& r) { first.push_back(r.offset.value()); }, kWaitMs)
          .ok());
  ASSERT_EQ(first.size(), 300u);
  EXPECT_EQ(first.front(), 100);
  EXPECT_EQ(first.back(), 399);
  EXPECT_EQ(reader.value()->position(), Offset(400));

  std::vector<int64_t> rest;
  auto end = reader.value()->ReadToEnd([&](const Record& r) { rest.push_back(r.offset.value()); },
                                       kWaitMs);
  ASSERT_TRUE(end.ok());
  ASSERT_EQ(rest.size(), 600u);
  EXPECT_EQ(rest.front(), 400);
  EXPECT_EQ(rest.back(), 999);
}

TEST_F(LogTest, ReadUntilPastTheEndTimesOutRetriable) {
  auto reader = PartitionReader::Open(options_, Events(), PartitionId(0), kOffsetBeginning);
  ASSERT_TRUE(reader.ok());
  LogStatus s = reader.value()->ReadUntil(
      Offset(1), [](const Record&) {}, 300);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(ClassOf(s), ErrorClass::kRetriable);
  EXPECT_EQ(reader.value()->position(), Offset(0));
}

TEST_F(LogTest, ReaderStartingAtTheEndFollowsNewRecords) {
  auto producer = NewProducer();
  ASSERT_TRUE(
      producer
          ->ProduceSync({.topic = Events(), .partition = PartitionId(0), .value = "old"}, kWaitMs)
          .ok());
  auto reader = PartitionReader::Open(options_, Events(), PartitionId(0), kOffsetEnd);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader.value()->position(), Offset(1));
  ASSERT_TRUE(
      producer
          ->ProduceSync({.topic = Events(), .partition = PartitionId(0), .value = "new"}, kWaitMs)
          .ok());
  std::vector<Record> got;
  for (int i = 0; i < 50 && got.empty(); ++i) {
    ASSERT_TRUE(reader.value()->Poll(10, 100, &got).ok());
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].value, "new");
  EXPECT_EQ(got[0].offset, Offset(1));
}

// --- Group consumer ------------------------------------------------------------------------

class RecordingListener : public RebalanceListener {
 public:
  explicit RecordingListener(std::vector<PartitionOffset> starts) : starts_(std::move(starts)) {}
  std::vector<PartitionOffset> OnAssigned(const std::vector<PartitionId>& ps) override {
    assigned.insert(assigned.end(), ps.begin(), ps.end());
    calls.push_back({'+', ps});
    return starts_;
  }
  void OnRevoked(const std::vector<PartitionId>& ps, bool lost) override {
    revoked.insert(revoked.end(), ps.begin(), ps.end());
    calls.push_back({'-', ps});
  }
  std::vector<PartitionId> assigned;
  std::vector<PartitionId> revoked;
  std::vector<std::pair<char, std::vector<PartitionId>>> calls;  // '+' assigned, '-' revoked

 private:
  std::vector<PartitionOffset> starts_;
};

// Polls until `want` records arrived (or 20 s passed).
std::vector<Record> PollFor(Consumer* consumer, size_t want) {
  std::vector<Record> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    LogStatus s = consumer->PollBatch(100, 100, &got);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return got;
}

TEST_F(LogTest, GroupMemberStartsWhereItsListenerSaysAndResumesFromCommits) {
  const std::string topic = options_.topic_prefix + "group";
  ASSERT_TRUE(broker_->CreateTopic(topic, 2).ok());
  // The mock delays a join after a member left by session.timeout.ms - 1 s.
  options_.properties.push_back({"session.timeout.ms", "2500"});
  options_.properties.push_back({"heartbeat.interval.ms", "250"});
  auto producer = NewProducer();
  for (int32_t p : {0, 1}) {
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(producer->Produce({.topic = topic, .partition = PartitionId(p)}).ok());
    }
  }
  ASSERT_TRUE(producer->Flush(kWaitMs).ok());

  auto first_offset = [](const std::vector<Record>& records, int32_t p) {
    for (const Record& r : records) {
      if (r.partition == PartitionId(p)) return r.offset.value();
    }
    return int64_t{-1};
  };

  {
    // Partition 0 from offset 5 (as a restored writer would say), partition 1 from the
    // beginning.
    RecordingListener listener({{PartitionId(0), Offset(5)}, {PartitionId(1), kOffsetBeginning}});
    auto consumer = Consumer::Create(options_, "writers", topic, &listener);
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    std::vector<Record> got = PollFor(consumer.value().get(), 15);
    ASSERT_EQ(got.size(), 15u);
    EXPECT_EQ(first_offset(got, 0), 5);
    EXPECT_EQ(first_offset(got, 1), 0);
    EXPECT_THAT(listener.assigned, ElementsAre(PartitionId(0), PartitionId(1)));
    EXPECT_THAT(consumer.value()->Assignment(), ElementsAre(PartitionId(0), PartitionId(1)));

    // A paused partition yields nothing until resumed.
    ASSERT_TRUE(consumer.value()->Pause(PartitionId(1)).ok());
    for (int32_t p : {0, 1}) {
      for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(producer->Produce({.topic = topic, .partition = PartitionId(p)}).ok());
      }
    }
    ASSERT_TRUE(producer->Flush(kWaitMs).ok());
    got = PollFor(consumer.value().get(), 3);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(consumer.value()->PollBatch(100, 50, &got).ok());
    ASSERT_EQ(got.size(), 3u);
    for (const Record& r : got) EXPECT_EQ(r.partition, PartitionId(0));
    ASSERT_TRUE(consumer.value()->Resume(PartitionId(1)).ok());
    got = PollFor(consumer.value().get(), 3);
    ASSERT_EQ(got.size(), 3u);
    for (const Record& r : got) EXPECT_EQ(r.partition, PartitionId(1));

    ASSERT_TRUE(consumer.value()->Commit(PartitionId(1), Offset(7)).ok());
    auto committed = consumer.value()->Committed(PartitionId(1), kWaitMs);
    ASSERT_TRUE(committed.ok());
    EXPECT_EQ(committed.value(), Offset(7));
    ASSERT_TRUE(consumer.value()->Close().ok());
    EXPECT_THAT(listener.revoked, ElementsAre(PartitionId(0), PartitionId(1)));
  }
  {
    // No answer from the listener: committed offsets, else the beginning.
    RecordingListener listener({});
    auto consumer = Consumer::Create(options_, "writers", topic, &listener);
    ASSERT_TRUE(consumer.ok());
    std::vector<Record> got = PollFor(consumer.value().get(), 13 + 6);
    ASSERT_EQ(got.size(), 13u + 6u);
    EXPECT_EQ(first_offset(got, 0), 0);
    EXPECT_EQ(first_offset(got, 1), 7);
  }
}

TEST_F(LogTest, SecondMemberTakesOverHalfThePartitionsThroughRevokeAndAssign) {
  const std::string topic = options_.topic_prefix + "group2";
  ASSERT_TRUE(broker_->CreateTopic(topic, 2).ok());
  options_.properties.push_back({"session.timeout.ms", "2500"});
  options_.properties.push_back({"heartbeat.interval.ms", "250"});
  RecordingListener first_listener({});
  RecordingListener second_listener({});
  auto first = Consumer::Create(options_, "pair", topic, &first_listener);
  ASSERT_TRUE(first.ok());
  std::vector<Record> sink;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (first.value()->Assignment().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(first.value()->PollBatch(10, 50, &sink).ok());
  }
  ASSERT_EQ(first.value()->Assignment().size(), 2u);

  auto second = Consumer::Create(options_, "pair", topic, &second_listener);
  ASSERT_TRUE(second.ok());
  while ((first.value()->Assignment().size() != 1 || second.value()->Assignment().size() != 1) &&
         std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(first.value()->PollBatch(10, 50, &sink).ok());
    ASSERT_TRUE(second.value()->PollBatch(10, 50, &sink).ok());
  }
  ASSERT_EQ(first.value()->Assignment().size(), 1u);
  ASSERT_EQ(second.value()->Assignment().size(), 1u);
  EXPECT_NE(first.value()->Assignment(), second.value()->Assignment());
  // Eager protocol: each revocation hands back the whole previous assignment, and the
  // last assignment is what the member owns. (The mock may rebalance more than once.)
  const auto& calls = first_listener.calls;
  ASSERT_GE(calls.size(), 3u);
  EXPECT_EQ(calls.front(), std::make_pair('+', std::vector{PartitionId(0), PartitionId(1)}));
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_NE(calls[i].first, calls[i - 1].first) << "calls alternate";
    if (calls[i].first == '-') {
      EXPECT_EQ(calls[i].second, calls[i - 1].second);
    }
  }
  EXPECT_EQ(calls.back(), std::make_pair('+', first.value()->Assignment()));
  EXPECT_EQ(second_listener.calls.back(), std::make_pair('+', second.value()->Assignment()));
}

// --- Faults --------------------------------------------------------------------------------

TEST_F(LogFaultTest, RecordsProducedWhileTheBrokerIsDownAreDeliveredOnceWhenItIsBack) {
  auto producer = NewProducer();
  ASSERT_TRUE(
      producer->ProduceSync({.topic = Events(), .partition = PartitionId(0), .value = "0"}, kWaitMs)
          .ok());
  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  int delivered = 0;
  int failed = 0;
  for (int i = 1; i <= 100; ++i) {
    ASSERT_TRUE(
        producer
            ->Produce({.topic = Events(), .partition = PartitionId(0), .value = std::to_string(i)},
                      [&](const Delivery& d) { d.status.ok() ? ++delivered : ++failed; })
            .ok());
  }
  ASSERT_TRUE(producer->Poll(1000).ok());
  EXPECT_EQ(delivered, 0);  // the broker really was down

  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
  ASSERT_TRUE(producer->Flush(kWaitMs).ok());
  EXPECT_EQ(delivered, 100);
  EXPECT_EQ(failed, 0);
  std::vector<Record> log = ReadAll(Events(), 0);
  ASSERT_EQ(log.size(), 101u);
  for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i].value, std::to_string(i));
}

TEST_F(LogFaultTest, RetriableProduceErrorsAreRetriedInOrderWithoutDuplicates) {
  auto producer = NewProducer();
  ASSERT_TRUE(
      producer->ProduceSync({.topic = Events(), .partition = PartitionId(0), .value = "0"}, kWaitMs)
          .ok());
  broker_->PushRequestErrors(KafkaApi::kProduce,
                             {BrokerError::kNotLeaderOrFollower, BrokerError::kRequestTimedOut,
                              BrokerError::kNotEnoughReplicas, BrokerError::kLeaderNotAvailable,
                              BrokerError::kNotEnoughReplicasAfterAppend});
  int failed = 0;
  for (int i = 1; i <= 200; ++i) {
    ASSERT_TRUE(
        producer
            ->Produce({.topic = Events(), .partition = PartitionId(0), .value = std::to_string(i)},
                      [&](const Delivery& d) { failed += !d.status.ok(); })
            .ok());
    if (i % 20 == 0) {
      ASSERT_TRUE(producer->Poll(5).ok());  // several requests
    }
  }
  ASSERT_TRUE(producer->Flush(kWaitMs).ok());
  EXPECT_EQ(failed, 0);
  std::vector<Record> log = ReadAll(Events(), 0);
  ASSERT_EQ(log.size(), 201u);
  for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i].value, std::to_string(i));
}

TEST_F(LogFaultTest, NonRetriableProduceErrorFailsTheDeliveryFatal) {
  auto producer = NewProducer();
  ASSERT_TRUE(
      producer->ProduceSync({.topic = Events(), .partition = PartitionId(0)}, kWaitMs).ok());
  broker_->PushRequestErrors(KafkaApi::kProduce, {BrokerError::kTopicAuthorizationFailed});
  auto at = producer->ProduceSync({.topic = Events(), .partition = PartitionId(0)}, kWaitMs);
  ASSERT_FALSE(at.ok());
  EXPECT_EQ(ClassOf(at.status()), ErrorClass::kFatal) << at.status().ToString();
  EXPECT_THAT(at.status().message(), ::testing::HasSubstr("TOPIC_AUTHORIZATION_FAILED"));
}

// Pins a limit of librdkafka 2.0.2's mock that the design must absorb (src/log/README.md):
// it checks producer sequence numbers only for transactional producers, so a Produce that
// took effect but whose answer was lost is written again by the idempotent retry. Readers
// de-duplicate by (payment_id, sequence). If this starts failing, the mock got stricter.
TEST_F(LogFaultTest, EmbeddedBrokerWritesAnInDoubtRetryTwice) {
  KafkaOptions impatient = options_;
  impatient.properties.push_back({"socket.timeout.ms", "500"});
  auto producer = Producer::Create(impatient);
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE(
      producer.value()
          ->ProduceSync({.topic = Events(), .partition = PartitionId(0), .value = "a"}, kWaitMs)
          .ok());
  ASSERT_TRUE(
      broker_->PushDelayedResponses(1, KafkaApi::kProduce, {BrokerError::kNone}, {1500}).ok());
  auto at = producer.value()->ProduceSync(
      {.topic = Events(), .partition = PartitionId(0), .value = "b"}, kWaitMs);
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  std::vector<std::string> values;
  for (const Record& r : ReadAll(Events(), 0)) values.push_back(r.value);
  EXPECT_THAT(values, ElementsAre("a", "b", "b"));
}

// --- Topics --------------------------------------------------------------------------------

TEST_F(LogTest, EnsureTopicsAcceptsTheEmbeddedBrokersTopics) {
  auto admin = Admin::Create(options_);
  ASSERT_TRUE(admin.ok());
  LogStatus s = admin.value()->EnsureTopics(options_);
  EXPECT_TRUE(s.ok()) << s.ToString();
  for (const std::string& topic : options_.AllTopics()) {
    auto n = admin.value()->PartitionCount(topic);
    ASSERT_TRUE(n.ok()) << topic;
    EXPECT_EQ(n.value(), 4) << topic;
  }
}

TEST_F(LogTest, EnsureTopicsRejectsCommandsAndEventsOfDifferentWidth) {
  KafkaOptions other = options_;
  other.topic_prefix = "skewed." + options_.topic_prefix;
  ASSERT_TRUE(broker_->CreateTopic(other.Topic(TopicKind::kCommands), 4).ok());
  ASSERT_TRUE(broker_->CreateTopic(other.Topic(TopicKind::kEvents), 2).ok());
  ASSERT_TRUE(broker_->CreateTopic(other.Topic(TopicKind::kContracts), 1).ok());
  ASSERT_TRUE(broker_->CreateTopic(other.Topic(TopicKind::kDeadLetters), 1).ok());
  for (TopicKind kind : {TopicKind::kInvoiceCommands, TopicKind::kInvoiceEvents,
                         TopicKind::kOrderCommands, TopicKind::kOrderEvents}) {
    ASSERT_TRUE(broker_->CreateTopic(other.Topic(kind), 4).ok());
  }
  auto admin = Admin::Create(other);
  ASSERT_TRUE(admin.ok());
  LogStatus s = admin.value()->EnsureTopics(other);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(ClassOf(s), ErrorClass::kFatal);
  EXPECT_THAT(s.message(), ::testing::HasSubstr(other.Topic(TopicKind::kEvents) + " has 2"));
}

TEST_F(LogTest, EnsureTopicsCannotCreateTopicsOnTheEmbeddedBroker) {
  KafkaOptions fresh = options_;
  fresh.topic_prefix = "fresh." + options_.topic_prefix;
  auto admin = Admin::Create(fresh);
  ASSERT_TRUE(admin.ok());
  LogStatus s = admin.value()->EnsureTopics(fresh, 1000);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), ::testing::HasSubstr("embedded broker"));
}

}  // namespace
}  // namespace payorch::log
