// The EventStore contract (runtime/state_store.h), one typed suite over both stores: the
// RocksDB StateStore and the MemoryEventStore. Whatever a writer, the saga or a test sees
// through one must hold for the other (issue 19: one contract suite over both).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "runtime/state_store.h"

namespace payorch::runtime {
namespace {

namespace ev = ::payments::events::v1;
namespace fs = std::filesystem;

// Owns one store of each kind; the RocksDB one in a directory of its own.
template <class Store>
struct Fixture;

template <>
struct Fixture<StateStore> {
  Fixture() {
    dir = fs::temp_directory_path() /
          ("payorch-event-store-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    EXPECT_EQ(store.Open(dir.string()).ToString(), "ok");
  }
  ~Fixture() { fs::remove_all(dir); }
  fs::path dir;
  StateStore store;
};

template <>
struct Fixture<MemoryEventStore> {
  MemoryEventStore store;
};

template <class Store>
class EventStoreContract : public ::testing::Test {
 protected:
  EventStore& store() { return fixture_.store; }
  Fixture<Store> fixture_;
};

using Stores = ::testing::Types<StateStore, MemoryEventStore>;
TYPED_TEST_SUITE(EventStoreContract, Stores);

Status CollectInto(std::vector<std::string>* out, std::string_view bytes) {
  out->emplace_back(bytes);
  return Status::Ok();
}

TYPED_TEST(EventStoreContract, StoresEventsInSequenceOrderPerAggregateAndPartition) {
  EventStore& s = this->store();
  const PartitionMeta meta{
      .next_events_offset = 7, .last_command_offset = 3, .epoch = 2, .highest_epoch_seen = 5};
  ASSERT_TRUE(s.AppendEncoded(1,
                              {{"inv_1", 2, "second"},
                               {"inv_1", 1, "first"},
                               {"inv_2", 1, "other"},
                               {"", 0, "a rejection outside any aggregate"}},
                              meta)
                  .ok());
  ASSERT_TRUE(s.AppendEncoded(2, {{"inv_1", 1, "another partition"}}, PartitionMeta{}).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(
      s.ForEachStored(1, "inv_1", [&](std::string_view b) { return CollectInto(&seen, b); }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"first", "second"}));
  seen.clear();
  ASSERT_TRUE(
      s.ForEachStored(1, "inv_", [&](std::string_view b) { return CollectInto(&seen, b); }).ok());
  EXPECT_TRUE(seen.empty()) << "an id is not a prefix of another";
  const PartitionMeta loaded = s.LoadMeta(1);
  EXPECT_EQ(loaded.next_events_offset, 7);
  EXPECT_EQ(loaded.last_command_offset, 3);
  EXPECT_EQ(loaded.epoch, 2u);
  EXPECT_EQ(loaded.highest_epoch_seen, 5u);
  EXPECT_EQ(s.LoadMeta(9).last_command_offset, -1) << "a partition never stored";
}

TYPED_TEST(EventStoreContract, ARepeatedSequenceKeepsOnePayloadAndFnErrorsStopTheScan) {
  EventStore& s = this->store();
  ASSERT_TRUE(s.AppendEncoded(0, {{"ord_1", 1, "a"}, {"ord_1", 2, "b"}}, {}).ok());
  ASSERT_TRUE(s.AppendEncoded(0, {{"ord_1", 2, "b"}}, {}).ok());
  int calls = 0;
  Status st = s.ForEachStored(0, "ord_1", [&](std::string_view) {
    ++calls;
    return DataLossError("stop");
  });
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_EQ(calls, 1);
  std::vector<std::string> seen;
  ASSERT_TRUE(
      s.ForEachStored(0, "ord_1", [&](std::string_view b) { return CollectInto(&seen, b); }).ok());
  EXPECT_EQ(seen.size(), 2u);
}

TYPED_TEST(EventStoreContract, CheckpointsArePerReaderAndSurviveAReset) {
  EventStore& s = this->store();
  ASSERT_TRUE(s.SaveCheckpoint("saga", 4, {.next_events_offset = 11, .epoch = 3}).ok());
  ASSERT_TRUE(s.SaveCheckpoint("connectors", 4, {.next_events_offset = 12}).ok());
  ASSERT_TRUE(s.AppendEncoded(4, {{"pay_1", 1, "x"}}, {.next_events_offset = 5}).ok());
  ASSERT_TRUE(s.AppendEncoded(5, {{"pay_2", 1, "y"}}, {.next_events_offset = 6}).ok());
  ASSERT_TRUE(s.ResetPartition(4).ok());
  EXPECT_EQ(s.LoadMeta(4).next_events_offset, 0) << "the meta is the partition's";
  EXPECT_EQ(s.LoadMeta(5).next_events_offset, 6) << "another partition keeps its own";
  int calls = 0;
  ASSERT_TRUE(s.ForEachStored(4, "pay_1", [&](std::string_view) {
                 ++calls;
                 return Status::Ok();
               }).ok());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(s.LoadCheckpoint("saga", 4).next_events_offset, 11);
  EXPECT_EQ(s.LoadCheckpoint("saga", 4).epoch, 3u);
  EXPECT_EQ(s.LoadCheckpoint("connectors", 4).next_events_offset, 12);
  EXPECT_EQ(s.LoadCheckpoint("saga", 5).next_events_offset, 0);
}

TYPED_TEST(EventStoreContract, APaymentIsTheFoldOfItsEventsAndABadOneIsDataLoss) {
  EventStore& s = this->store();
  ev::EventEnvelope created;
  created.set_payment_id("pay_1");
  created.set_sequence(1);
  created.set_merchant_id("m_shop");
  created.mutable_payment_created()->mutable_amount()->set_amount_minor(1'000);
  created.mutable_payment_created()->mutable_amount()->set_currency("USD");
  ASSERT_TRUE(s.Append(0, {&created}, {}).ok());
  StatusOr<command::PaymentState> p = s.LoadPayment(0, "pay_1");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().merchant_id, "m_shop");
  EXPECT_EQ(p.value().status, ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION);
  StatusOr<command::PaymentState> none = s.LoadPayment(0, "pay_none");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.value().payment_id, "pay_none");
  ASSERT_TRUE(s.AppendEncoded(0, {{"pay_1", 2, "\xff\xff not an envelope"}}, {}).ok());
  EXPECT_EQ(s.LoadPayment(0, "pay_1").status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace payorch::runtime
