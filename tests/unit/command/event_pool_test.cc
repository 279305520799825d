// EventPool: events decided from recycled messages are byte for byte the events decided
// from new ones, whatever the recycled messages held before (other event types, junk
// header values, unknown fields), and recycling keeps the messages for reuse.
#include "command/event_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "command/aggregate.h"
#include "support/command_harness.h"

namespace payorch::command {
namespace {

namespace cmd = ::payments::commands::v1;
namespace ty = ::payments::types::v1;
using testing::CommandHarness;
using testing::Events;
using testing::kSeedMerchant;

// Commands that reach most event types, built against a harness so keys are right.
std::vector<cmd::CommandEnvelope> Scenario() {
  CommandHarness h;
  std::vector<cmd::CommandEnvelope> out;
  auto send = [&](cmd::CommandEnvelope c) {
    c.set_command_id("c" + std::to_string(out.size()));
    h.Send(c);
    out.push_back(std::move(c));
  };
  const std::string a = CommandHarness::PaymentIdFor(kSeedMerchant, "a");
  testing::CreateOptions manual;
  manual.manual_capture = true;
  manual.metadata = {{"order_id", "o-1"}, {"channel", "web"}};
  send(testing::Create(kSeedMerchant, "a", 15'000, "USD", ty::PAYMENT_METHOD_APPLE_PAY, manual));
  send(testing::Failed(a, h.PendingAttemptKey(a), ty::ERROR_CODE_NETWORK_FAILURE));
  send(testing::Succeeded(a, h.PendingAttemptKey(a)));
  send(testing::Succeeded(a, h.PendingAttemptKey(a)));
  send(testing::Capture(a, 12'000, "cap-1"));
  for (const auto& k : h.PendingKeys(a, ev::OPERATION_KIND_CAPTURE)) {
    send(testing::Succeeded(a, k));
  }
  send(testing::Refund(a, 2'000, "ref-1"));
  for (const auto& k : h.PendingKeys(a, ev::OPERATION_KIND_REFUND)) {
    send(testing::Failed(a, k, ty::ERROR_CODE_DECLINED));
  }
  const std::string b = CommandHarness::PaymentIdFor(kSeedMerchant, "b");
  send(testing::Create(kSeedMerchant, "b", 15'000, "EUR", ty::PAYMENT_METHOD_APPLE_PAY));
  send(testing::Succeeded(b, h.PendingAttemptKey(b)));
  send(testing::Failed(b, h.PendingAttemptKey(b), ty::ERROR_CODE_HARD_DECLINE));
  for (const auto& k : h.PendingKeys(b, ev::OPERATION_KIND_VOID)) {
    send(testing::Failed(b, k, ty::ERROR_CODE_PROCESSOR_UNAVAILABLE));
  }
  send(testing::Confirm("pay_unknown"));
  send(testing::Capture("", 1, "x"));  // no payment: an orphan event
  return out;
}

// Decides `commands` one after the other into fresh states; with `pool`, every command's
// events are recycled before the next one (the returned copies are taken first).
Events DecideAll(const std::vector<cmd::CommandEnvelope>& commands, EventPool* pool) {
  const PlanBuilder plans(testing::SeedConfig());
  const DecideContext ctx{&plans, 7};
  std::map<std::string, PaymentState> states;
  Events all;
  Events out;
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string pid = TargetPaymentId(commands[i]);
    PaymentState scratch;
    PaymentState& state = pid.empty() ? scratch : states[pid];
    if (!pid.empty()) state.payment_id = pid;
    const CommandRecord rec{&commands[i], "commands", 2, static_cast<int64_t>(i),
                            1'700'000'000'000 + static_cast<int64_t>(i)};
    if (pool != nullptr) {
      pool->Recycle(out);
      DecideAndApply(state, rec, ctx, out, *pool);
    } else {
      out.clear();
      DecideAndApply(state, rec, ctx, out);
    }
    all.insert(all.end(), out.begin(), out.end());
  }
  return all;
}

// Events with every field set to something else than what decide writes: other payment,
// sequence, merchant, causation, unknown fields.
Events Junk(const Events& events) {
  Events junk = events;
  for (size_t i = 0; i < junk.size(); ++i) {
    ev::EventEnvelope& e = junk[i];
    e.set_schema_version(99);
    e.set_event_id(std::string(70, 'e'));
    e.set_payment_id(std::string(40, 'p'));
    e.set_sequence(12345);
    e.set_epoch(99);
    e.set_correlation_id("junk-correlation");
    e.set_occurred_at_ms(1);
    e.set_merchant_id("junk-merchant");
    ev::Causation* c = e.mutable_causation();
    c->set_topic("junk-topic-with-a-long-name");
    c->set_partition(99);
    c->set_offset(99);
    c->set_command_id("junk-command");
    c->set_index(9);
    c->set_count(9);
    if (i % 3 == 0) {
      e.GetReflection()->MutableUnknownFields(&e)->AddVarint(999, 1);
    }
    if (i % 5 == 0) {
      c->GetReflection()->MutableUnknownFields(c)->AddLengthDelimited(998, "x");
    }
  }
  return junk;
}

TEST(EventPoolTest, PooledEventsAreByteIdenticalToNewOnes) {
  const auto commands = Scenario();
  const Events plain = DecideAll(commands, nullptr);
  EventPool pool;
  const Events pooled = DecideAll(commands, &pool);
  EXPECT_EQ(testing::DeterministicBytes(pooled), testing::DeterministicBytes(plain));
}

TEST(EventPoolTest, RecycledMessagesOfAnyOriginLeaveNothingBehind) {
  const auto commands = Scenario();
  const Events plain = DecideAll(commands, nullptr);
  std::set<int> cases;
  for (const auto& e : plain) cases.insert(e.event_case());
  EXPECT_GE(cases.size(), 14u) << "the scenario should reach most event types";

  EventPool pool;
  Events junk = Junk(plain);
  // Twice over, in both orders, so every command finds junk of other event types.
  Events reversed(junk.rbegin(), junk.rend());
  pool.Recycle(junk);
  pool.Recycle(reversed);
  EXPECT_TRUE(junk.empty());
  EXPECT_EQ(pool.envelopes(), 2 * plain.size());
  const Events pooled = DecideAll(commands, &pool);
  EXPECT_EQ(testing::DeterministicBytes(pooled), testing::DeterministicBytes(plain));
}

TEST(EventPoolTest, DecidingTakesEnvelopesAndRecyclingGivesThemBack) {
  const auto commands = Scenario();
  const PlanBuilder plans(testing::SeedConfig());
  const DecideContext ctx{&plans, 1};
  EventPool pool;
  PaymentState state;
  state.payment_id = TargetPaymentId(commands[0]);
  Events out;
  const CommandRecord rec{&commands[0], "commands", 0, 0, 1'700'000'000'000};
  DecideAndApply(state, rec, ctx, out, pool);
  ASSERT_EQ(out.size(), 4u);  // created, plan, confirmed, step started
  EXPECT_EQ(pool.envelopes(), 0u);
  pool.Recycle(out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(pool.envelopes(), 4u);

  PaymentState again;
  again.payment_id = state.payment_id;
  DecideAndApply(again, rec, ctx, out, pool);
  EXPECT_EQ(out.size(), 4u);
  EXPECT_EQ(pool.envelopes(), 0u);
}

TEST(EventPoolTest, PooledEventsOutliveThePool) {
  const auto commands = Scenario();
  Events kept;
  {
    EventPool pool;
    kept = DecideAll(commands, &pool);
    Events more = kept;
    pool.Recycle(more);
  }
  EXPECT_EQ(testing::DeterministicBytes(kept),
            testing::DeterministicBytes(DecideAll(commands, nullptr)));
}

// Decider::Begin overwrites every header field of a pooled envelope instead of clearing
// it: a field added to EventEnvelope or Causation must be added there (and here).
TEST(EventPoolTest, HeaderWriterCoversEveryField) {
  std::vector<std::string> envelope;
  const auto* d = ev::EventEnvelope::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->containing_oneof() == nullptr) envelope.push_back(d->field(i)->name());
  }
  EXPECT_THAT(envelope, ::testing::ElementsAre("schema_version", "event_id", "payment_id",
                                               "sequence", "epoch", "causation", "correlation_id",
                                               "occurred_at_ms", "merchant_id"));
  std::vector<std::string> causation;
  const auto* c = ev::Causation::descriptor();
  for (int i = 0; i < c->field_count(); ++i) causation.push_back(c->field(i)->name());
  EXPECT_THAT(causation, ::testing::ElementsAre("topic", "partition", "offset", "command_id",
                                                "index", "count"));
}

}  // namespace
}  // namespace payorch::command
