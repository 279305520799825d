// Scheduling rules of the gateway path, on an injected clock: the bulkhead's saturation
// rule and lanes, which charges may be shed, the reconciler's deadline-ordered, windowed
// retrieves, and the money-held tracker.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "connectors/bulkhead.h"
#include "connectors/charge_admission.h"
#include "connectors/held_money.h"
#include "connectors/reconciler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/connectors/test_support.h"

namespace payorch::connectors {
namespace {

using ::testing::ElementsAre;
using testing::Envelope;
using ::testing::IsEmpty;
using testing::MakeAnswer;
using testing::Op;
using testing::Processing;
using testing::ScriptedGateway;
using ::testing::SizeIs;
namespace ev = ::payments::events::v1;
namespace cmd = ::payments::commands::v1;

constexpr int64_t kT0 = 1'700'000'000'000;

// --- Bulkhead ---

struct SaturationCase {
  const char* name;
  BulkheadLoad load;
  uint32_t budget_ms;
  bool saturated;
};

TEST(Bulkhead, SaturationRule) {
  const BulkheadOptions options{.concurrency = 4, .queue_limit = 10};
  const SaturationCase cases[] = {
      {"idle", {0, 0, 0}, 800, false},
      {"a worker is free, whatever is queued", {9, 3, 5000}, 800, false},
      {"queue at its limit", {10, 0, 0}, 800, true},
      {"all busy, short wait", {4, 4, 500}, 800, false},           // 4/4*500 = 500
      {"all busy, wait past the budget", {8, 4, 500}, 800, true},  // 8/4*500 = 1000
      {"all busy, no latency known yet", {8, 4, 0}, 800, false},
      {"no budget of its own: 1 s", {8, 4, 400}, 0, false},     // 800 < 1000
      {"no budget of its own, slower", {12, 4, 400}, 0, true},  // 1200 > 1000
  };
  for (const SaturationCase& c : cases) {
    EXPECT_EQ(IsSaturated(c.load, options, c.budget_ms), c.saturated) << c.name;
  }
}

// Admission's "no new charge could be sent": an idle processor, or one configured and never
// called, is room for the plan's fallback (found black-box: one busy processor refused every
// new payment while the fallback was idle).
TEST(Bulkhead, EveryProcessorSaturatedOnlyWhenNoneHasRoom) {
  const BulkheadOptions options{.concurrency = 1, .queue_limit = 2};
  const BulkheadLoad full{2, 1, 100};
  const BulkheadLoad idle{0, 0, 100};
  const BulkheadLoad busy_with_room{0, 1, 100};  // a worker busy, nothing queued: not full
  using Loads = std::vector<std::pair<std::string, BulkheadLoad>>;
  EXPECT_TRUE(EveryProcessorSaturated(Loads{{"a", full}}, {"a"}, options));
  EXPECT_TRUE(EveryProcessorSaturated(Loads{{"a", full}, {"b", full}}, {}, options));
  EXPECT_FALSE(EveryProcessorSaturated(Loads{{"a", full}}, {"a", "b"}, options))
      << "b is configured and was never called";
  EXPECT_FALSE(EveryProcessorSaturated(Loads{{"a", full}, {"b", idle}}, {"a", "b"}, options))
      << "b's pool is idle";
  EXPECT_FALSE(EveryProcessorSaturated(Loads{{"a", full}, {"b", busy_with_room}}, {}, options));
  EXPECT_FALSE(EveryProcessorSaturated(Loads{}, {"a"}, options)) << "no work at all";
  EXPECT_FALSE(EveryProcessorSaturated(Loads{{"a", idle}}, {}, options));
}

TEST(Bulkhead, UrgentLaneGoesFirstAndOneProcessorDoesNotBlockAnother) {
  Bulkhead bulkhead({.concurrency = 1, .queue_limit = 100});
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::vector<std::string> order;
  // Occupy psp_a's only worker until released.
  bulkhead.Submit("psp_a", Bulkhead::Lane::kCharge, [&] {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
  });
  while (bulkhead.LoadOf("psp_a").in_flight == 0) std::this_thread::yield();
  auto record = [&](const char* what) {
    return [&, what] {
      std::lock_guard lock(mu);
      order.emplace_back(what);
    };
  };
  bulkhead.Submit("psp_a", Bulkhead::Lane::kCharge, record("charge"));
  bulkhead.Submit("psp_a", Bulkhead::Lane::kFollowUp, record("capture"));
  bulkhead.Submit("psp_a", Bulkhead::Lane::kUrgent, record("compensation void"));
  EXPECT_EQ(bulkhead.LoadOf("psp_a").queued, 3u);
  // psp_b has its own workers: it runs while psp_a is stuck.
  std::atomic<bool> b_ran{false};
  bulkhead.Submit("psp_b", Bulkhead::Lane::kCharge, [&] { b_ran = true; });
  for (int i = 0; i < 2000 && !b_ran; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(b_ran);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (int i = 0; i < 2000 && bulkhead.queued() + bulkhead.LoadOf("psp_a").in_flight > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::lock_guard lock(mu);
  EXPECT_THAT(order, ElementsAre("compensation void", "capture", "charge"));
}

TEST(Bulkhead, StopDropsWhatIsQueuedAndWaitsForWhatRuns) {
  Bulkhead bulkhead({.concurrency = 1, .queue_limit = 100});
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  std::atomic<int> later{0};
  bulkhead.Submit("psp_a", Bulkhead::Lane::kCharge, [&] {
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    finished = true;
  });
  while (!started) std::this_thread::yield();
  for (int i = 0; i < 5; ++i) bulkhead.Submit("psp_a", Bulkhead::Lane::kCharge, [&] { ++later; });
  bulkhead.Stop();
  EXPECT_TRUE(finished);
  EXPECT_EQ(later, 0);
  EXPECT_EQ(bulkhead.queued(), 0u);
  bulkhead.Submit("psp_a", Bulkhead::Lane::kCharge, [&] { ++later; });  // ignored after Stop
  EXPECT_EQ(bulkhead.queued(), 0u);
}

// --- Reconciler scheduling ---

struct Sched {
  explicit Sched(ReconcilerOptions options = {}) : reconciler(registry, clock, options) {
    EXPECT_TRUE(registry.Register("psp_a", gateway).ok());
  }
  std::vector<RetrieveTask> TakeAll() {
    return reconciler.TakeDue([](const RetrieveTask&) { return true; });
  }
  ManualClock clock{kT0};
  GatewayRegistry registry;
  std::shared_ptr<ScriptedGateway> gateway = std::make_shared<ScriptedGateway>();
  Reconciler reconciler;
};

std::vector<std::string> Keys(const std::vector<RetrieveTask>& tasks) {
  std::vector<std::string> keys;
  for (const auto& t : tasks) keys.push_back(t.key);
  return keys;
}

ev::EventEnvelope Failed(const std::string& payment) {
  ev::EventEnvelope e = Envelope(payment, 9);
  e.mutable_payment_failed();
  return e;
}

TEST(ReconcilerScheduling, LateChasesGoFirstThenTheLongestOverdue) {
  Sched s;
  s.reconciler.OnEvent(
      Processing("pay_1", Op(ev::OPERATION_KIND_SALE, "pay_1:s0:a1"), kT0 + 60'000));
  s.clock.Set(kT0 + 50);
  s.reconciler.OnEvent(
      Processing("pay_2", Op(ev::OPERATION_KIND_SALE, "pay_2:s0:a1"), kT0 + 60'000));
  s.clock.Set(kT0 + 100);
  s.reconciler.OnEvent(
      Processing("pay_3", Op(ev::OPERATION_KIND_SALE, "pay_3:s0:a1"), kT0 + 60'000));
  s.reconciler.OnEvent(Failed("pay_3"));  // failed at its deadline: money may be held
  s.clock.Set(kT0 + 1000);
  const auto tasks = s.TakeAll();
  EXPECT_THAT(Keys(tasks), ElementsAre("pay_3:s0:a1", "pay_1:s0:a1", "pay_2:s0:a1"));
  EXPECT_TRUE(tasks[0].urgent);
  EXPECT_FALSE(tasks[1].urgent);
}

TEST(ReconcilerScheduling, ASkipsSealingChaseIsNotUrgent) {
  Sched s;
  ev::EventEnvelope skip = Envelope("pay_1", 4);
  *skip.mutable_step_failed()->mutable_op() = Op(ev::OPERATION_KIND_SALE, "pay_1:s0:a1");
  skip.mutable_step_failed()->set_circuit_open(true);
  s.reconciler.OnEvent(skip);  // first: due earliest
  s.clock.Set(kT0 + 10);
  s.reconciler.OnEvent(
      Processing("pay_2", Op(ev::OPERATION_KIND_SALE, "pay_2:s0:a1"), kT0 + 60'000));
  s.reconciler.OnEvent(Failed("pay_2"));  // money may be held
  s.clock.Set(kT0 + 1000);
  const auto tasks = s.TakeAll();
  EXPECT_THAT(Keys(tasks), ElementsAre("pay_2:s0:a1", "pay_1:s0:a1"));
  EXPECT_TRUE(tasks[0].urgent);
  EXPECT_FALSE(tasks[1].urgent);
}

TEST(ReconcilerScheduling, AnOpInFlightIsNotTakenAgainAndRefusedOpsStayDue) {
  Sched s;
  for (const char* key : {"pay_1:s0:a1", "pay_2:s0:a1"}) {
    s.reconciler.OnEvent(
        Processing(std::string(key).substr(0, 5), Op(ev::OPERATION_KIND_SALE, key), kT0 + 60'000));
  }
  s.clock.Set(kT0 + 200);
  const auto first = s.reconciler.TakeDue(
      [](const RetrieveTask& t) { return t.key == "pay_1:s0:a1"; });  // no room for pay_2
  EXPECT_THAT(Keys(first), ElementsAre("pay_1:s0:a1"));
  EXPECT_THAT(Keys(s.TakeAll()), ElementsAre("pay_2:s0:a1"));
  EXPECT_THAT(s.TakeAll(), IsEmpty()) << "both in flight";
  EXPECT_THAT(s.reconciler.OnRetrieved(first[0], MakeAnswer(cmd::GATEWAY_OUTCOME_UNKNOWN)),
              IsEmpty());
  EXPECT_THAT(s.TakeAll(), IsEmpty()) << "rescheduled after its backoff, not at once";
  s.clock.Set(kT0 + 200 + 400);
  EXPECT_THAT(Keys(s.TakeAll()), ElementsAre("pay_1:s0:a1"));
}

TEST(ReconcilerScheduling, WindowHalvesOnSlowOrUnknownAnswersAndGrowsBack) {
  Sched s({.max_retrieves_per_processor = 4, .slow_retrieve_ms = 1000});
  for (int i = 0; i < 8; ++i) {
    const std::string key = "pay_" + std::to_string(i) + ":s0:a1";
    s.reconciler.OnEvent(
        Processing(key.substr(0, 5), Op(ev::OPERATION_KIND_SALE, key), kT0 + 600'000));
  }
  s.clock.Set(kT0 + 200);
  auto tasks = s.TakeAll();
  ASSERT_THAT(tasks, SizeIs(4)) << "the window starts at its maximum";
  GatewayAnswer slow = MakeAnswer(cmd::GATEWAY_OUTCOME_NOT_FOUND);
  slow.latency_ms = 1500;
  (void)s.reconciler.OnRetrieved(tasks[0], slow);
  EXPECT_EQ(s.reconciler.WindowOf("psp_a"), 2);
  (void)s.reconciler.OnRetrieved(tasks[1], MakeAnswer(cmd::GATEWAY_OUTCOME_UNKNOWN));
  EXPECT_EQ(s.reconciler.WindowOf("psp_a"), 1);
  (void)s.reconciler.OnRetrieved(tasks[2], std::nullopt);  // could not be routed
  EXPECT_EQ(s.reconciler.WindowOf("psp_a"), 1) << "never below one";
  EXPECT_THAT(s.TakeAll(), IsEmpty()) << "one still in flight fills a window of one";
  (void)s.reconciler.OnRetrieved(tasks[3], MakeAnswer(cmd::GATEWAY_OUTCOME_NOT_FOUND));
  EXPECT_EQ(s.reconciler.WindowOf("psp_a"), 2) << "a fast definite answer widens it by one";
  EXPECT_THAT(s.TakeAll(), SizeIs(2));
}

TEST(ReconcilerScheduling, ExpiryWaitsForARetrieveInFlight) {
  Sched s;
  const ev::GatewayOperation op = Op(ev::OPERATION_KIND_SALE, "pay_1:s0:a1");
  s.reconciler.OnEvent(Processing("pay_1", op, kT0 + 300));
  s.clock.Set(kT0 + 250);
  const auto tasks = s.TakeAll();
  ASSERT_THAT(tasks, SizeIs(1));
  s.clock.Set(kT0 + 400);  // past the deadline, the retrieve still out
  EXPECT_THAT(s.reconciler.Expiries(), IsEmpty());
  const auto found = s.reconciler.OnRetrieved(
      tasks[0], MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 1000, {}, "ch_1"));
  ASSERT_THAT(found, SizeIs(1)) << "the charge is found, and that settles the payment";
  EXPECT_EQ(found[0].gateway_result().outcome(), cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(found[0].command_id(), "gw/pay_1:s0:a1/reconcile/1");
  // An UNKNOWN answer would have let the expiry go out.
  Sched t;
  t.reconciler.OnEvent(Processing("pay_1", op, kT0 + 300));
  t.clock.Set(kT0 + 250);
  const auto again = t.TakeAll();
  t.clock.Set(kT0 + 400);
  (void)t.reconciler.OnRetrieved(again[0], MakeAnswer(cmd::GATEWAY_OUTCOME_UNKNOWN));
  const auto expiries = t.reconciler.Expiries();
  ASSERT_THAT(expiries, SizeIs(1));
  EXPECT_EQ(expiries[0].command_id(), "expire/pay_1:s0:a1");
}

TEST(ReconcilerScheduling, AnAnswerForAnOpSettledMeanwhileIsDropped) {
  Sched s;
  const ev::GatewayOperation op = Op(ev::OPERATION_KIND_SALE, "pay_1:s0:a1");
  s.reconciler.OnEvent(Processing("pay_1", op, kT0 + 60'000));
  s.clock.Set(kT0 + 200);
  const auto tasks = s.TakeAll();
  ev::EventEnvelope settled = Envelope("pay_1", 9);
  *settled.mutable_step_succeeded()->mutable_op() = op;
  s.reconciler.OnEvent(settled);
  EXPECT_THAT(s.reconciler.OnRetrieved(tasks[0], MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 1000)),
              IsEmpty());
  EXPECT_EQ(s.reconciler.tracked(), 0u);
}

// --- Money held ---

ev::EventEnvelope CompensationVoid(const std::string& payment, const std::string& reversed,
                                   const std::string& key, int64_t at_ms, bool voided) {
  ev::EventEnvelope e = Envelope(payment, 10);
  e.set_occurred_at_ms(at_ms);
  ev::GatewayOperation op = Op(ev::OPERATION_KIND_VOID, key);
  op.set_parent_id(reversed);
  if (voided) {
    *e.mutable_payment_voided()->mutable_op() = op;
    e.mutable_payment_voided()->set_compensation(true);
  } else {
    *e.mutable_void_started()->mutable_op() = op;
    e.mutable_void_started()->set_compensation(true);
  }
  return e;
}

// A saturated processor sheds a new payment's charge, but not the next step of a payment
// that already has money charged (a split plan): that would fail it with money held.
TEST(ChargeAdmission, ASplitPaymentsNextStepIsNotShedOnceAStepIsCharged) {
  ChargeAdmission charges;
  ev::EventEnvelope first = Envelope("pay_1", 2);
  *first.mutable_step_started()->mutable_op() = Op(ev::OPERATION_KIND_AUTHORIZE, "pay_1:s0:a1");
  charges.OnEvent(first);
  EXPECT_TRUE(charges.MayShed(first)) << "nothing charged yet";

  ev::EventEnvelope charged = Envelope("pay_1", 3);
  *charged.mutable_step_succeeded()->mutable_op() = first.step_started().op();
  charges.OnEvent(charged);
  ev::EventEnvelope second = Envelope("pay_1", 4);
  *second.mutable_step_started()->mutable_op() = Op(ev::OPERATION_KIND_AUTHORIZE, "pay_1:s1:a1");
  charges.OnEvent(second);
  EXPECT_FALSE(charges.MayShed(second));
  ev::EventEnvelope other = Envelope("pay_2", 2);
  *other.mutable_step_started()->mutable_op() = Op(ev::OPERATION_KIND_AUTHORIZE, "pay_2:s0:a1");
  EXPECT_TRUE(charges.MayShed(other)) << "another payment is unaffected";
  EXPECT_EQ(charges.partly_charged(), 1u);

  for (const char* final_event : {"completed", "failed", "canceled"}) {
    ChargeAdmission c;
    c.OnEvent(charged);
    ev::EventEnvelope end = Envelope("pay_1", 5);
    if (std::string(final_event) == "completed") end.mutable_payment_completed();
    if (std::string(final_event) == "failed") end.mutable_payment_failed()->set_reason("x");
    if (std::string(final_event) == "canceled") end.mutable_payment_canceled();
    c.OnEvent(end);
    EXPECT_EQ(c.partly_charged(), 0u) << final_event << " puts the payment at rest";
  }
}

TEST(HeldMoney, FromTheCompensationVoidStartedUntilItSucceeds) {
  HeldMoney held;
  EXPECT_EQ(held.OnEvent(CompensationVoid("pay_1", "pay_1:s0:a1", "v1", kT0, false), kT0 + 5),
            std::nullopt);
  EXPECT_EQ(
      held.OnEvent(CompensationVoid("pay_2", "pay_2:s0:a1", "v2", kT0 + 1000, false), kT0 + 1000),
      std::nullopt);
  EXPECT_EQ(held.count(), 2u);
  EXPECT_EQ(held.OldestAgeMs(kT0 + 3000), 3000);
  // A retried void (the first failed) keeps the first finding's time.
  (void)held.OnEvent(CompensationVoid("pay_1", "pay_1:s0:a1", "v1b", kT0 + 2000, false),
                     kT0 + 2000);
  EXPECT_EQ(held.OldestAgeMs(kT0 + 3000), 3000);
  EXPECT_EQ(
      held.OnEvent(CompensationVoid("pay_1", "pay_1:s0:a1", "v1b", kT0 + 4000, true), kT0 + 4100),
      4000);
  EXPECT_EQ(held.count(), 1u);
  EXPECT_EQ(held.OldestAgeMs(kT0 + 5000), 4000);
  // A requested (non-compensation) void is not money at risk.
  ev::EventEnvelope requested = CompensationVoid("pay_3", "pay_3:s0:a1", "v3", kT0, false);
  requested.mutable_void_started()->set_compensation(false);
  (void)held.OnEvent(requested, kT0);
  EXPECT_EQ(held.count(), 1u);
}

}  // namespace
}  // namespace payorch::connectors
