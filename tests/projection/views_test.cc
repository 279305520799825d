// The pure projector: what each view says after a sequence of events, and the reader
// rules (validity by epoch, de-duplication by sequence, resumable checkpoints).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "projection/internal/keys.h"
#include "projection/internal/time.h"
#include "projection/projector.h"
#include "projection/replay.h"
#include "projection/store.h"
#include "projection/views_support.h"

namespace payorch::projection {
namespace {

using testing::kT0;
using testing::Log;
using testing::MapStore;
namespace pvv = ::payments::projection::v1;
namespace ev = ::payments::events::v1;
namespace ty = ::payments::types::v1;

pvv::PaymentView ViewOf(const MapStore& store, const std::string& id) {
  pvv::PaymentView v;
  auto bytes = store.Get(internal::PaymentKey(id));
  EXPECT_TRUE(bytes.has_value()) << id;
  if (bytes) {
    EXPECT_TRUE(v.ParseFromString(*bytes));
  }
  return v;
}

pvv::DailyTotal TotalOf(const MapStore& store, const std::string& processor,
                        const std::string& outcome, const std::string& date = "2024-03-05") {
  pvv::DailyTotal t;
  auto bytes = store.Get(internal::DailyKey("m_shop", date, "USD", processor, outcome));
  if (bytes) {
    EXPECT_TRUE(t.ParseFromString(*bytes));
  }
  return t;
}

MapStore Project(const Log& log, ProjectorOptions options = {}) {
  MapStore store;
  Projector projector(&store, options);
  log.FeedTo(projector);
  store.Apply(projector.Flush());
  return store;
}

TEST(PaymentView, SaleWithRetryShowsStatusAmountsAndEveryAttempt) {
  Log log;
  log.Claim(1);
  testing::SaleWithRetry(log, "pay_1", "order-1", 1);
  MapStore store = Project(log);

  pvv::PaymentView v = ViewOf(store, "pay_1");
  EXPECT_EQ(v.status(), ev::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(v.merchant_id(), "m_shop");
  EXPECT_EQ(v.requested_minor(), 2500);
  EXPECT_EQ(v.authorized_minor(), 2500);
  EXPECT_EQ(v.captured_minor(), 2500);
  EXPECT_EQ(v.refunded_minor(), 0);
  EXPECT_EQ(v.last_sequence(), 6u);
  ASSERT_EQ(v.attempts_size(), 2);
  EXPECT_EQ(v.attempts(0).outcome(), pvv::ATTEMPT_OUTCOME_FAILED);
  EXPECT_EQ(v.attempts(0).error_code(), ty::ERROR_CODE_NETWORK_FAILURE);
  EXPECT_EQ(v.attempts(0).idempotency_key(), "pay_1:s0:a1");
  EXPECT_EQ(v.attempts(1).outcome(), pvv::ATTEMPT_OUTCOME_SUCCEEDED);
  EXPECT_EQ(v.attempts(1).processor_id(), "psp_a");
  EXPECT_EQ(v.attempts(1).latency_ms(), 42u);
  ASSERT_EQ(v.issues_size(), 1);
  EXPECT_EQ(v.issues(0).code(), "currency/normalized_case");
}

// The core's rule (found by the simulation): a requested void voids the payment only once
// every step that authorized money is released. Here the void of step 1 fails, so the
// payment stays capturable until a second void releases it.
TEST(PaymentView, AVoidThatFailsForOneStepKeepsThePaymentCapturable) {
  Log log;
  log.Claim(1);
  const std::string p = "pay_split";
  log.Created(p, 5000, "order-split", 1, kT0, ty::CAPTURE_MODE_MANUAL);
  const auto s0 = Log::Op(p, ev::OPERATION_KIND_AUTHORIZE, 0, 1, "applepay", 2000);
  const auto s1 = Log::Op(p, ev::OPERATION_KIND_AUTHORIZE, 1, 1, "psp_a", 3000);
  log.Started(p, s0, 1);
  log.Succeeded(p, s0, 1);
  log.Started(p, s1, 1);
  log.Succeeded(p, s1, 1);
  log.Completed(p, ev::PAYMENT_STATUS_REQUIRES_CAPTURE, 1);
  auto void_op = [&](int step, int n, int64_t amount) {
    ev::GatewayOperation op = Log::Op(p, ev::OPERATION_KIND_VOID, step, 1, "psp_a", amount);
    op.set_idempotency_key(p + ":v" + std::to_string(step) + ":n" + std::to_string(n));
    return op;
  };
  auto started = [&](const ev::GatewayOperation& op) {
    *log.Next(p, 1).mutable_void_started()->mutable_op() = op;
  };
  auto voided = [&](const ev::GatewayOperation& op) {
    auto* v = log.Next(p, 1).mutable_payment_voided();
    *v->mutable_op() = op;
    v->set_reason("requested");
  };
  const auto v0 = void_op(0, 1, 2000);
  const auto v1 = void_op(1, 1, 3000);
  started(v0);
  started(v1);
  *log.Next(p, 1).mutable_void_failed()->mutable_op() = v1;
  voided(v0);
  const size_t first_round = log.size();
  const auto v1_again = void_op(1, 2, 3000);
  started(v1_again);
  voided(v1_again);

  MapStore store;
  Projector projector(&store);
  log.FeedTo(projector, 0, first_round);
  store.Apply(projector.Flush());
  pvv::PaymentView v = ViewOf(store, p);
  EXPECT_EQ(v.status(), ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  EXPECT_EQ(v.voided_minor(), 2000);
  EXPECT_EQ(v.voids_in_flight(), 0u);

  log.FeedTo(projector, first_round);
  store.Apply(projector.Flush());
  v = ViewOf(store, p);
  EXPECT_EQ(v.status(), ev::PAYMENT_STATUS_VOIDED);
  EXPECT_EQ(v.voided_minor(), 5000);
}

// A command's events are applied together, as the core counts them (finding 12): a group
// cut short by a writer's crash never shows, the next writer's whole copy is applied once,
// and a checkpoint written mid-group points at the group's first event, so a projection
// restarted from it ends where one fed the whole log does.
TEST(CommandGroups, ACutGroupNeverShowsAndAMidGroupCheckpointRereadsTheGroup) {
  Log log;
  log.Claim(1);
  const std::string p = "pay_cut";
  log.Created(p, 2500, "order-cut", 1);
  // Event `i` of `n` of the command at `command` (the writer's causation).
  const auto caused = [](ev::EventEnvelope& e, uint32_t i, uint32_t n, int64_t command) {
    e.mutable_causation()->set_offset(command);
    e.mutable_causation()->set_index(i);
    e.mutable_causation()->set_count(n);
  };
  caused(log.last(), 0, 1, 0);  // the create: a group of one
  const auto auth = Log::Op(p, ev::OPERATION_KIND_SALE, 0, 1, "psp_a", 2500);
  log.Started(p, auth, 1);  // command 1's first event of two; its writer dies here
  caused(log.last(), 0, 2, 1);
  const size_t cut = log.size() - 1;
  log.Claim(2);
  log.Republish(cut, 2);  // the next writer publishes command 1 whole
  log.Succeeded(p, auth, 2);
  caused(log.last(), 1, 2, 1);

  MapStore store;
  Projector projector(&store);
  log.FeedTo(projector, 0, cut + 1);
  store.Apply(projector.Flush());
  EXPECT_EQ(ViewOf(store, p).last_sequence(), 1u);  // the cut StepStarted is not shown
  EXPECT_EQ(projector.checkpoint(0).next_offset, static_cast<int64_t>(cut));
  EXPECT_EQ(DecodeCheckpoint(store.Get(internal::CheckpointKey(0)).value())->next_offset,
            static_cast<int64_t>(cut));

  // Restarted from that checkpoint: the group is read again, then the whole copy.
  MapStore restarted = store;
  Projector resumed(&restarted);
  resumed.Resume(0, *DecodeCheckpoint(restarted.Get(internal::CheckpointKey(0)).value()));
  log.FeedTo(resumed, cut);
  restarted.Apply(resumed.Flush());
  // Without the restart.
  log.FeedTo(projector, cut + 1);
  store.Apply(projector.Flush());

  const MapStore whole = Project(log);
  for (const MapStore* s : {&store, &restarted}) {
    const pvv::PaymentView v = ViewOf(*s, p);
    EXPECT_EQ(v.last_sequence(), 3u);
    EXPECT_EQ(v.attempts_size(), 1);
    EXPECT_EQ(v.SerializeAsString(), ViewOf(whole, p).SerializeAsString());
    EXPECT_EQ(DecodeCheckpoint(s->Get(internal::CheckpointKey(0)).value())->next_offset,
              static_cast<int64_t>(log.size()));
  }
}

TEST(IdempotencyRecord, MapsMerchantAndKeyToPaymentHashAndOutcome) {
  Log log;
  log.Claim(1);
  testing::SaleWithRetry(log, "pay_1", "order-1", 1);
  MapStore store = Project(log);
  pvv::IdempotencyRecord r;
  auto bytes = store.Get(internal::IdempotencyKey("m_shop", "order-1"));
  ASSERT_TRUE(bytes && r.ParseFromString(*bytes));
  EXPECT_EQ(r.payment_id(), "pay_1");
  EXPECT_EQ(r.request_hash(), "h-order-1");
  EXPECT_EQ(r.outcome(), ev::PAYMENT_STATUS_SUCCEEDED);
}

TEST(MerchantIndex, OrdersPaymentsOfAMerchantByCreationTime) {
  Log log;
  log.Claim(1);
  log.Created("pay_b", 100, "k-b", 1, kT0 + 2000);
  log.Created("pay_a", 100, "k-a", 1, kT0 + 1000);
  MapStore store = Project(log);
  std::vector<std::string> ids;
  const std::string prefix = internal::MerchantIndexPrefix("m_shop");
  for (const auto& [key, value] : store.data) {
    if (key.rfind(prefix, 0) != 0) continue;
    pvv::PaymentSummary s;
    ASSERT_TRUE(s.ParseFromString(value));
    ids.push_back(s.payment_id());
    EXPECT_EQ(s.status(), ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION);
  }
  EXPECT_THAT(ids, ::testing::ElementsAre("pay_a", "pay_b"));
}

TEST(DailyTotals, CountVolumesFailuresAndFeesPerProcessorAndOutcome) {
  Log log;
  log.Claim(1);
  testing::SaleWithRetry(log, "pay_1", "order-1", 1);
  testing::SaleWithRetry(log, "pay_2", "order-2", 1);
  ProjectorOptions options;
  options.fee_bps["psp_a"] = 200;  // 2 %
  MapStore store = Project(log, options);
  const pvv::DailyTotal ok = TotalOf(store, "psp_a", "authorized");
  EXPECT_EQ(ok.count(), 2);
  EXPECT_EQ(ok.amount_minor(), 5000);
  EXPECT_EQ(ok.fee_minor(), 0) << "fees are on captured money";
  const pvv::DailyTotal captured = TotalOf(store, "psp_a", "captured");
  EXPECT_EQ(captured.count(), 2) << "a sale captures as it authorizes";
  EXPECT_EQ(captured.amount_minor(), 5000);
  EXPECT_EQ(captured.fee_minor(), 100);
  EXPECT_EQ(TotalOf(store, "psp_a", "failed_network_failure").count(), 2);
}

// Seed 003's report defect: an authorization that is voided moved no money, so it costs
// no fee; a partial capture pays the fee on what was captured only.
TEST(DailyTotals, AVoidedAuthorizationCostsNoFeeAndACaptureOnlyOnItsAmount) {
  Log log;
  log.Claim(1);
  for (const char* p : {"pay_void", "pay_cap"}) {
    log.Created(p, 420'000, std::string("k-") + p, 1, kT0, ty::CAPTURE_MODE_MANUAL);
    const auto auth = Log::Op(p, ev::OPERATION_KIND_AUTHORIZE, 0, 1, "psp_a", 420'000);
    log.Started(p, auth, 1);
    log.Succeeded(p, auth, 1);
    log.Completed(p, ev::PAYMENT_STATUS_REQUIRES_CAPTURE, 1);
  }
  auto release = Log::Op("pay_void", ev::OPERATION_KIND_VOID, 0, 1, "psp_a", 420'000);
  log.Next("pay_void", 1).mutable_payment_voided()->mutable_op()->CopyFrom(release);
  auto capture = Log::Op("pay_cap", ev::OPERATION_KIND_CAPTURE, 0, 1, "psp_a", 100'000);
  auto* captured = log.Next("pay_cap", 1).mutable_payment_captured();
  *captured->mutable_op() = capture;
  captured->set_total_captured_minor(100'000);
  ProjectorOptions options;
  options.fee_bps["psp_a"] = 30;  // 0.3 %
  MapStore store = Project(log, options);
  EXPECT_EQ(TotalOf(store, "psp_a", "authorized").amount_minor(), 840'000);
  EXPECT_EQ(TotalOf(store, "psp_a", "authorized").fee_minor(), 0);
  EXPECT_EQ(TotalOf(store, "psp_a", "voided").fee_minor(), 0);
  EXPECT_EQ(TotalOf(store, "psp_a", "captured").amount_minor(), 100'000);
  EXPECT_EQ(TotalOf(store, "psp_a", "captured").fee_minor(), 300);
}

TEST(DailyTotals, UseTheUtcDayTheEventOccurred) {
  Log log;
  log.Claim(1);
  // Failure at 23:59:59.990, success at 00:00:00.010 the next day.
  const int64_t before_midnight = kT0 + 14 * 3'600'000 - 20;
  testing::SaleWithRetry(log, "pay_1", "order-1", 1, before_midnight);
  MapStore store = Project(log);
  EXPECT_EQ(TotalOf(store, "psp_a", "failed_network_failure", "2024-03-05").count(), 1);
  EXPECT_EQ(TotalOf(store, "psp_a", "authorized", "2024-03-06").count(), 1);
}

TEST(ReaderRules, ARepublishedEventIsAppliedOnce) {
  Log log;
  log.Claim(1);
  testing::SaleWithRetry(log, "pay_1", "order-1", 1);
  log.Claim(2);
  log.Republish(5, 2);  // StepSucceeded again, under the new writer's epoch
  log.Republish(6, 2);
  MapStore store = Project(log);
  EXPECT_EQ(ViewOf(store, "pay_1").authorized_minor(), 2500);
  EXPECT_EQ(TotalOf(store, "psp_a", "authorized").count(), 1);
}

TEST(ReaderRules, AFencedWritersLateEventsAreIgnored) {
  Log log;
  log.Claim(1);
  log.Created("pay_1", 2500, "order-1", 1);
  log.Claim(2);
  auto op = Log::Op("pay_1", ev::OPERATION_KIND_SALE, 0, 1, "psp_a", 2500);
  log.Started("pay_1", op, 1);  // the zombie (epoch 1) after the claim of epoch 2
  MapStore store = Project(log);
  const pvv::PaymentView v = ViewOf(store, "pay_1");
  EXPECT_EQ(v.attempts_size(), 0);
  EXPECT_EQ(v.status(), ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION);
}

TEST(ReaderRules, ResumingFromACheckpointAndReReadingGivesTheSameStore) {
  Log log;
  log.Claim(1);
  testing::SaleWithRetry(log, "pay_1", "order-1", 1);
  testing::SaleWithRetry(log, "pay_2", "order-2", 1);
  const MapStore expected = Project(log);

  MapStore store;
  {
    Projector first(&store);
    log.FeedTo(first, 0, 5);
    store.Apply(first.Flush());  // committed: records 0..4
    log.FeedTo(first, 5, 9);     // applied in memory, then the process dies
  }
  auto checkpoint = DecodeCheckpoint(store.data.at(internal::CheckpointKey(0)));
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_EQ(checkpoint->next_offset, 5);
  Projector second(&store);
  second.Resume(0, *checkpoint);
  log.FeedTo(second, 3);  // delivery is at least once: 3 and 4 come again
  store.Apply(second.Flush());
  EXPECT_EQ(store.data, expected.data);
  EXPECT_EQ(second.stats().duplicates, 2);
}

TEST(Checkpoint, RoundTrips) {
  const Checkpoint c{.next_offset = 123456789012, .epoch = 7, .highest_seen = 9};
  EXPECT_EQ(DecodeCheckpoint(EncodeCheckpoint(c)), c);
  EXPECT_FALSE(DecodeCheckpoint("short").has_value());
}

TEST(Determinism, FlushPointsDoNotChangeTheResult) {
  Log log;
  log.Claim(1);
  for (int i = 0; i < 20; ++i) {
    testing::SaleWithRetry(log, "pay_" + std::to_string(i), "k" + std::to_string(i), 1,
                           kT0 + i * 1000);
  }
  const MapStore once = Project(log);
  MapStore often;
  Projector projector(&often, {.fee_bps = {}, .max_cached_views = 3});
  for (size_t i = 0; i < log.size(); i += 7) {
    log.FeedTo(projector, i, i + 7);
    often.Apply(projector.Flush());
  }
  EXPECT_EQ(once.data, often.data);
}

TEST(Determinism, AFreshSourceIsNotReadUntilTheCacheIsEvicted) {
  Log log;
  log.Claim(1);
  for (int i = 0; i < 20; ++i) {
    testing::SaleWithRetry(log, "pay_" + std::to_string(i), "k" + std::to_string(i), 1,
                           kT0 + i * 1000);
  }
  log.Republish(5, 1);  // of pay_0, long evicted: only the source knows it was applied
  const MapStore once = Project(log);
  MapStore fresh;
  Projector projector(&fresh, {.fee_bps = {}, .max_cached_views = 3});
  projector.AssumeEmptySource();  // right until the first eviction, then reads again
  for (size_t i = 0; i < log.size(); i += 11) {
    log.FeedTo(projector, i, i + 11);
    fresh.Apply(projector.Flush());
  }
  EXPECT_EQ(once.data, fresh.data);
}

class StoreWrite : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("payorch-store-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::map<std::string, std::string> Contents(const ProjectionStore& store) {
    std::map<std::string, std::string> out;
    store.Scan("", "", [&](std::string_view k, std::string_view v) {
      out.emplace(k, v);
      return true;
    });
    return out;
  }
  std::filesystem::path dir_;
};

TEST_F(StoreWrite, BulkLoadIngestsLargeBatchesWithTheSameContentAsWriteBatches) {
  std::vector<Mutation> big, later;
  for (int i = 0; i < 10'000; ++i) {  // unsorted, above the ingest threshold
    big.push_back({"p/" + std::to_string((i * 7919) % 10'000), "v" + std::to_string(i)});
  }
  later.push_back({"p/42", "updated"});
  later.push_back({"o/0000000000", "checkpoint"});
  later.push_back({"o/0000000000", "last wins"});  // a key given twice keeps its last value
  std::map<std::string, std::string> expected;
  for (const auto* batch : {&big, &later}) {
    for (const Mutation& m : *batch) expected[m.key] = m.value;
  }
  for (bool bulk : {false, true}) {
    {
      ProjectionStore store;
      ASSERT_EQ(store.Open(dir_.string(), {.disable_wal = true, .bulk_load = bulk}).ToString(),
                "ok");
      EXPECT_TRUE(store.Empty());
      ASSERT_EQ(store.Write(big).ToString(), "ok");
      ASSERT_EQ(store.Write(later).ToString(), "ok");
      EXPECT_FALSE(store.Empty());
      EXPECT_EQ(Contents(store), expected) << "bulk_load=" << bulk;
      ASSERT_EQ(store.Close().ToString(), "ok");
    }
    ProjectionStore reopened;  // what a later `replay --digest --store` reads
    ASSERT_EQ(reopened.Open(dir_.string(), {.read_only = true}).ToString(), "ok");
    EXPECT_EQ(Contents(reopened), expected) << "bulk_load=" << bulk;
    ASSERT_EQ(reopened.Close().ToString(), "ok");
    std::filesystem::remove_all(dir_);
  }
}

struct TimeCase {
  const char* text;
  std::optional<int64_t> ms;
};

TEST(ParseTime, AcceptsMillisDatesAndRfc3339Utc) {
  const TimeCase cases[] = {
      {"0", 0},
      {"1709632800000", kT0},
      {"2024-03-05", kT0 - 10 * 3'600'000},
      {"2024-03-05T10:00:00Z", kT0},
      {"2024-03-05T10:00:00.250Z", kT0 + 250},
      {"2024-02-29", 1'709'164'800'000},
      {"2023-02-29", std::nullopt},
      {"1900-02-29", std::nullopt},
      {"2000-02-29", 951'782'400'000},
      {"2024-04-31", std::nullopt},
      {"2024-13-01", std::nullopt},
      {"2024-03-05T10:00:00", std::nullopt},
      {"2024-03-05T10:00:00+01:00", std::nullopt},
      {"yesterday", std::nullopt},
      {"-5", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(internal::ParseTime(c.text), c.ms) << c.text;
  EXPECT_EQ(internal::UtcDate(kT0), "2024-03-05");
  EXPECT_EQ(internal::UtcTimestamp(kT0 + 5), "2024-03-05T10:00:00.005Z");
  // Before 1970 the day is floored, not truncated toward zero.
  EXPECT_EQ(internal::UtcDate(-1), "1969-12-31");
  EXPECT_EQ(internal::UtcTimestamp(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Status, SlugsParseBack) {
  EXPECT_EQ(StatusSlug(ev::PAYMENT_STATUS_REQUIRES_CAPTURE), "requires_capture");
  EXPECT_EQ(ParseStatus("requires_capture"), ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  EXPECT_EQ(ParseStatus("PAYMENT_STATUS_FAILED"), ev::PAYMENT_STATUS_FAILED);
  EXPECT_FALSE(ParseStatus("unspecified").has_value());
  EXPECT_FALSE(ParseStatus("bogus").has_value());
}

TEST(Csv, QuotesFieldsAsRfc4180Requires) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField(""), "");
}

TEST(ReplayFilter, SelectsByTypeMerchantPaymentAndTime) {
  ReplayFilter f;
  EXPECT_EQ(f.SetTypes("PaymentCreated,step_failed"), "");
  EXPECT_NE(f.SetTypes("NoSuchEvent"), "");
  ASSERT_EQ(f.SetTypes("PaymentCreated,step_failed"), "");
  f.merchants = {"m_shop"};
  f.from_ms = kT0;
  f.to_ms = kT0 + 1000;
  ev::EventEnvelope e;
  e.set_merchant_id("m_shop");
  e.set_occurred_at_ms(kT0);
  e.mutable_payment_created();
  EXPECT_TRUE(f.Matches(e));
  e.set_occurred_at_ms(kT0 + 1000);
  EXPECT_FALSE(f.Matches(e));  // `to` is exclusive
  e.set_occurred_at_ms(kT0);
  e.set_merchant_id("m_other");
  EXPECT_FALSE(f.Matches(e));
  e.set_merchant_id("m_shop");
  e.mutable_plan_built();
  EXPECT_FALSE(f.Matches(e));
}

}  // namespace
}  // namespace payorch::projection
