// StateStore::LoadPayment gives a payment's whole history or an error, never a shorter
// history that the writer would then decide on (issue 19).
#include "runtime/state_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace payorch::runtime {
namespace {

namespace ev = ::payments::events::v1;

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("payorch-state-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Stores PaymentCreated (sequence 1) of `pid` on partition 3.
  void StoreCreated(StateStore& store, const std::string& pid) {
    ev::EventEnvelope e;
    e.set_payment_id(pid);
    e.set_sequence(1);
    e.set_merchant_id("m_shop");
    e.mutable_payment_created()->mutable_amount()->set_amount_minor(1'000);
    e.mutable_payment_created()->mutable_amount()->set_currency("USD");
    ASSERT_EQ(store.Append(3, {&e}, PartitionMeta{}).ToString(), "ok");
  }

  std::filesystem::path dir_;
};

TEST_F(StateStoreTest, LoadsTheFoldOfAStoredHistory) {
  StateStore store;
  ASSERT_EQ(store.Open(dir_.string()).ToString(), "ok");
  StoreCreated(store, "pay_1");
  StatusOr<command::PaymentState> state = store.LoadPayment(3, "pay_1");
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state.value().payment_id, "pay_1");
  EXPECT_EQ(state.value().sequence, 1u);
  EXPECT_EQ(state.value().merchant_id, "m_shop");
  StatusOr<command::PaymentState> unknown = store.LoadPayment(3, "pay_2");
  ASSERT_TRUE(unknown.ok()) << unknown.status().ToString();
  EXPECT_EQ(unknown.value().payment_id, "pay_2");
  EXPECT_EQ(unknown.value().sequence, 0u);
}

TEST_F(StateStoreTest, AStoredEventThatDoesNotParseIsAnErrorNotAShorterHistory) {
  {
    StateStore store;
    ASSERT_EQ(store.Open(dir_.string()).ToString(), "ok");
    StoreCreated(store, "pay_1");
  }
  {
    // Sequence 2 of pay_1 on partition 3, as the store keys it, holding bytes that are
    // not an EventEnvelope.
    rocksdb::DB* raw = nullptr;
    rocksdb::Options options;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string key = std::string("e") + std::string("\0\0\0\3", 4) + "pay_1" + '\0' +
                      std::string("\0\0\0\0\0\0\0\2", 8);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, "\xff\xff\xff garbage").ok());
  }
  StateStore store;
  ASSERT_EQ(store.Open(dir_.string()).ToString(), "ok");
  const StatusOr<command::PaymentState> state = store.LoadPayment(3, "pay_1");
  ASSERT_FALSE(state.ok()) << "an error, not a state";
  EXPECT_EQ(state.status().code(), StatusCode::kDataLoss) << state.status().ToString();
  EXPECT_NE(state.status().message().find("does not parse"), std::string::npos)
      << state.status().ToString();
}

// ForEachStored seeks with a prefix bloom on the aggregate's prefix (state_store.cc). Read
// back from the tables after a reopen (the memtables flushed at the first store's end),
// ids that are prefixes of each other and partition numbers with zero bytes
// still find exactly their own events, and a reset still reaches every aggregate.
TEST_F(StateStoreTest, PrefixSeeksFindExactlyTheirAggregateAfterAReopen) {
  const auto collect = [](StateStore& store, int32_t p, const std::string& id) {
    std::vector<std::string> seen;
    EXPECT_TRUE(store
                    .ForEachStored(p, id,
                                   [&](std::string_view b) {
                                     seen.emplace_back(b);
                                     return Status::Ok();
                                   })
                    .ok());
    return seen;
  };
  {
    StateStore store;
    ASSERT_EQ(store.Open(dir_.string()).ToString(), "ok");
    for (int32_t p : {0, 1, 256}) {
      const std::string at = "@" + std::to_string(p);
      ASSERT_TRUE(store
                      .AppendEncoded(p,
                                     {{"pay_1", 1, "pay_1" + at},
                                      {"pay_10", 1, "pay_10" + at},
                                      {"pay_10", 2, "pay_10#2" + at},
                                      {"", 0, "none" + at}},
                                     PartitionMeta{})
                      .ok());
    }
  }
  StateStore store;
  ASSERT_EQ(store.Open(dir_.string()).ToString(), "ok");
  for (int32_t p : {0, 1, 256}) {
    const std::string at = "@" + std::to_string(p);
    EXPECT_EQ(collect(store, p, "pay_1"), std::vector<std::string>{"pay_1" + at});
    EXPECT_EQ(collect(store, p, "pay_10"),
              (std::vector<std::string>{"pay_10" + at, "pay_10#2" + at}));
    EXPECT_TRUE(collect(store, p, "").empty()) << "events naming no aggregate are not stored";
    EXPECT_TRUE(collect(store, p, "pay_").empty());
    EXPECT_TRUE(collect(store, p, "pay_100").empty());
  }
  EXPECT_TRUE(collect(store, 2, "pay_1").empty()) << "a partition never stored";
  ASSERT_TRUE(store.ResetPartition(1).ok());
  EXPECT_TRUE(collect(store, 1, "pay_1").empty());
  EXPECT_TRUE(collect(store, 1, "pay_10").empty());
  EXPECT_EQ(collect(store, 0, "pay_10").size(), 2u) << "other partitions are kept";
  EXPECT_EQ(collect(store, 256, "pay_1").size(), 1u);
}

}  // namespace
}  // namespace payorch::runtime
