// Gateways end to end: the whole runtime (writers + connectors on the embedded broker)
// calling simulated processors over real HTTP on loopback through the libcurl adapter.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <map>
#include <set>

#include "connectors/http_gateway.h"
#include "connectors/webhooks.h"
#include "gatewaysim/simulator.h"
#include "support/e2e/harness.h"

namespace payorch::testing::e2e {
namespace {

using connectors::GatewayAnswer;
using connectors::GatewayRequest;

// A simulator served on a free loopback port.
struct Sim {
  Sim(const std::string& processor, const std::string& spec, int64_t hang_ms = 0) {
    gatewaysim::GatewaySimulatorOptions o;
    o.engine = connectors::ParseGatewaySpec(spec).value();
    o.engine.processor_id = processor;
    o.hang_ms = hang_ms;
    sim = std::move(gatewaysim::GatewaySimulator::Open(std::move(o)).value());
    sim->RegisterRoutes(server);
    port = *server.Start("127.0.0.1:0");
  }
  std::shared_ptr<connectors::Gateway> Client(const std::string& processor,
                                              const std::string& query = "") const {
    auto g = connectors::HttpGateway::FromSpec(processor,
                                               "http://127.0.0.1:" + std::to_string(port) + query);
    return std::shared_ptr<connectors::Gateway>(std::move(g.value()));
  }
  std::unique_ptr<gatewaysim::GatewaySimulator> sim;
  http::Server server{http::ServerOptions{.threads = 8}};
  int port = 0;
};

cfg::MerchantConfig* Merchant(cfg::OrchestratorConfig* config, const std::string& id,
                              const std::vector<std::string>& processors) {
  auto* m = config->add_merchants();
  m->set_merchant_id(id);
  m->set_max_retries_per_step(2);
  m->set_attempt_timeout_ms(1000);
  auto* p = m->add_profiles();
  p->set_name("card");
  p->set_method(ty::PAYMENT_METHOD_CARD);
  for (size_t i = 0; i < processors.size(); ++i) {
    AddStep(p, ty::PAYMENT_METHOD_CARD, processors[i], 0,
            i == 0 ? pl::STEP_ROLE_PRIMARY : pl::STEP_ROLE_FALLBACK);
  }
  return m;
}

bool Terminal(const Events& es) {
  return Count(es, ev::EventEnvelope::kPaymentCompleted) > 0 ||
         Count(es, ev::EventEnvelope::kPaymentFailed) > 0;
}

// What the events say a payment has standing at its processors: step successes minus the
// compensation voids that reverse them (a late success and its void cancel out at the
// processor and never appear as a step success).
int64_t ChargedPerEvents(const Events& events) {
  std::set<std::string> succeeded;
  int64_t net = 0;
  for (const auto& e : events) {
    if (e.has_step_succeeded()) {
      succeeded.insert(e.step_succeeded().op().idempotency_key());
      net += e.step_succeeded().result().amount_processed_minor();
    }
  }
  std::map<std::string, std::string> void_parent;
  for (const auto& e : events) {
    if (e.has_void_started()) {
      void_parent[e.void_started().op().idempotency_key()] = e.void_started().op().parent_id();
    }
    if (e.has_payment_voided() &&
        succeeded.count(void_parent[e.payment_voided().op().idempotency_key()])) {
      net -= e.payment_voided().op().amount().amount_minor();
    }
  }
  return net;
}

TEST(GatewaysEndToEnd, FlakyRunLedgerEqualsTheEventsPaymentByPayment) {
  // Declines, timeouts (nothing charged), lost answers (charged, answer lost), 502/503:
  // retries under new attempt keys, reconciliation by key, fallback to a second processor.
  Sim a("psp_a",
        "flaky:seed=11,decline=0.05,timeout=0.04,lost=0.05,network=0.03,"
        "unavailable=0.05,ops=charges");
  Sim b("psp_b", "flaky:seed=12,decline=0.03,lost=0.03,unavailable=0.03,ops=charges");
  HarnessOptions o;
  Merchant(&o.config, "m_flaky", {"psp_a", "psp_b"});
  E2eHarness h(o);
  ASSERT_TRUE(h.registry().Register("psp_a", a.Client("psp_a", "?timeout_ms=1000")).ok());
  ASSERT_TRUE(h.registry().Register("psp_b", b.Client("psp_b", "?timeout_ms=1000")).ok());
  ASSERT_EQ(h.Start(), "");

  constexpr int kPayments = 2000;
  std::vector<std::string> pids;
  std::map<std::string, int64_t> amounts;
  for (int i = 0; i < kPayments; ++i) {
    const int64_t amount = 100 + i;
    auto create = Create("m_flaky", "flaky-" + std::to_string(i), amount);
    ASSERT_EQ(h.Publish(create), "");
    pids.push_back(PaymentIdOf(create));
    amounts[pids.back()] = amount;
  }
  int completed = 0;
  for (const auto& pid : pids) {
    ASSERT_TRUE(h.WaitFor(pid, Terminal, 60'000)) << pid;
    completed += Count(h.EventsOf(pid), ev::EventEnvelope::kPaymentCompleted);
  }
  ASSERT_EQ(h.Stop(), "");

  // The processors' ledgers, payment by payment, against the events.
  std::map<std::string, int64_t> charged;
  std::map<std::string, int> per_key;
  for (Sim* s : {&a, &b}) {
    for (const auto& c : s->sim->Charges()) {
      charged[c.payment_id] += c.authorized - c.voided - c.refunded;
      ++per_key[c.idempotency_key];
    }
  }
  for (const auto& [key, n] : per_key) EXPECT_EQ(n, 1) << "two charges under " << key;
  int mismatches = 0;
  for (const auto& pid : pids) {
    const Events events = h.EventsOf(pid);
    const int64_t expected = ChargedPerEvents(events);
    if (charged[pid] != expected && ++mismatches <= 5) {
      ADD_FAILURE() << pid << ": processors hold " << charged[pid] << ", events say " << expected;
    }
    if (Count(events, ev::EventEnvelope::kPaymentCompleted) > 0) {
      EXPECT_EQ(expected, amounts[pid]) << pid;
    } else {
      EXPECT_EQ(expected, 0) << pid;
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(completed, kPayments * 8 / 10);
  EXPECT_LT(completed, kPayments);  // the run was flaky for real

  std::vector<connectors::LedgerEntry> ledger = a.sim->Ledger();
  auto lb = b.sim->Ledger();
  ledger.insert(ledger.end(), lb.begin(), lb.end());
  std::string err;
  runtime::CheckReport report = runtime::CheckLog(h.kafka(), ledger, &err);
  EXPECT_EQ(err, "");
  for (const auto& v : report.violations) ADD_FAILURE() << v;
  RecordProperty("payments", kPayments);
  RecordProperty("completed", completed);
}

TEST(GatewaysEndToEnd, LostAnswersAreReconciledWithOneChargePerAttemptKey) {
  // Every first try charges and loses its answer (held 150 ms; the client waits 100).
  Sim s("psp_a", "flaky:seed=4,lost=0.7,ops=charges", /*hang_ms=*/150);
  HarnessOptions o;
  Merchant(&o.config, "m_lost", {"psp_a"});
  E2eHarness h(o);
  ASSERT_TRUE(h.registry().Register("psp_a", s.Client("psp_a", "?timeout_ms=100")).ok());
  ASSERT_EQ(h.Start(), "");
  std::vector<std::string> pids;
  for (int i = 0; i < 40; ++i) {
    auto create = Create("m_lost", "lost-" + std::to_string(i), 1000);
    ASSERT_EQ(h.Publish(create), "");
    pids.push_back(PaymentIdOf(create));
  }
  int processing = 0;
  for (const auto& pid : pids) {
    ASSERT_TRUE(h.WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted)) << pid;
    const Events es = h.EventsOf(pid);
    processing += Count(es, ev::EventEnvelope::kPaymentProcessing);
    EXPECT_EQ(Count(es, ev::EventEnvelope::kStepStarted), 1) << pid;  // no second attempt
  }
  EXPECT_GT(processing, 10);
  ASSERT_EQ(h.Stop(), "");
  std::map<std::string, int> per_payment;
  for (const auto& c : s.sim->Charges()) ++per_payment[c.payment_id];
  EXPECT_EQ(per_payment.size(), pids.size());
  for (const auto& [pid, n] : per_payment) EXPECT_EQ(n, 1) << pid;
}

// Delegates to one of two gateways, switched by the test (a processor going down and up).
class SwitchGateway : public connectors::Gateway {
 public:
  SwitchGateway(std::shared_ptr<connectors::Gateway> up, std::shared_ptr<connectors::Gateway> down)
      : up_(std::move(up)), down_(std::move(down)) {}
  GatewayAnswer Execute(const GatewayRequest& r) override {
    ++calls;
    return (is_down ? down_ : up_)->Execute(r);
  }
  GatewayAnswer Retrieve(std::string_view key) override {
    return (is_down ? down_ : up_)->Retrieve(key);
  }
  std::atomic<bool> is_down{true};
  std::atomic<int> calls{0};

 private:
  std::shared_ptr<connectors::Gateway> up_, down_;
};

TEST(GatewaysEndToEnd, BreakerOpensUnderFailuresSkipsTheProcessorAndRecovers) {
  Sim up("psp_a", "mock");
  Sim down("psp_a", "flaky:seed=1,unavailable=1");
  Sim fallback("psp_b", "mock");
  HarnessOptions o;
  auto* m = Merchant(&o.config, "m_brk", {"psp_a", "psp_b"});
  m->set_max_retries_per_step(1);
  m->mutable_circuit_breaker()->set_failure_threshold(3);
  m->mutable_circuit_breaker()->set_open_ms(400);
  E2eHarness h(o);
  auto a = std::make_shared<SwitchGateway>(up.Client("psp_a"), down.Client("psp_a"));
  ASSERT_TRUE(h.registry().Register("psp_a", a).ok());
  ASSERT_TRUE(h.registry().Register("psp_b", fallback.Client("psp_b")).ok());
  h.registry().breakers().Configure(o.config);
  ASSERT_EQ(h.Start(), "");

  auto pay = [&](const std::string& key) {
    auto create = Create("m_brk", key, 2500);
    EXPECT_EQ(h.Publish(create), "");
    const std::string pid = PaymentIdOf(create);
    EXPECT_TRUE(h.WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted)) << key;
    return h.EventsOf(pid);
  };
  auto transitions = [](const Events& es) {
    std::vector<std::string> out;
    for (const auto& e : es) {
      if (e.has_breaker_transitioned()) {
        out.push_back(cmd::BreakerState_Name(e.breaker_transitioned().transition().to()));
      }
    }
    return out;
  };
  auto succeeded_on = [](const Events& es) {
    const ev::EventEnvelope* s = Find(es, ev::EventEnvelope::kStepSucceeded);
    return s == nullptr ? std::string() : s->step_succeeded().op().processor_id();
  };

  const Events p1 = pay("brk-1");  // two failures on psp_a, then psp_b
  EXPECT_TRUE(transitions(p1).empty());
  EXPECT_EQ(succeeded_on(p1), "psp_b");
  const Events p2 = pay("brk-2");  // third failure opens; the retry is skipped
  EXPECT_EQ(transitions(p2), std::vector<std::string>{"BREAKER_STATE_OPEN"});
  EXPECT_EQ(succeeded_on(p2), "psp_b");
  const int calls_before = a->calls.load();
  const Events p3 = pay("brk-3");  // open: psp_a is not called at all
  EXPECT_EQ(a->calls.load(), calls_before);
  const ev::EventEnvelope* skipped = Find(p3, ev::EventEnvelope::kStepFailed);
  ASSERT_NE(skipped, nullptr);
  EXPECT_TRUE(skipped->step_failed().circuit_open());
  EXPECT_FALSE(skipped->step_failed().will_retry());
  EXPECT_EQ(succeeded_on(p3), "psp_b");

  a->is_down = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  const Events p4 = pay("brk-4");  // half-open probe succeeds: closed again
  EXPECT_EQ(transitions(p4),
            (std::vector<std::string>{"BREAKER_STATE_HALF_OPEN", "BREAKER_STATE_CLOSED"}));
  EXPECT_EQ(succeeded_on(p4), "psp_a");
  EXPECT_EQ(succeeded_on(pay("brk-5")), "psp_a");
  EXPECT_TRUE(h.StopAndCheck());
}

TEST(GatewaysEndToEnd, WebhookDeliveredThreeTimesResolvesThePaymentOnce) {
  // The answer is lost and the processor cannot tell on retrieve: only the webhook can
  // resolve the payment.
  Sim s("psp_a", "flaky:seed=2,lost=1,retrieve_unknown=1,ops=charges");
  HarnessOptions o;
  Merchant(&o.config, "m_wh", {"psp_a"});
  E2eHarness h(o);
  ASSERT_TRUE(h.registry().Register("psp_a", s.Client("psp_a")).ok());
  ASSERT_EQ(h.Start(), "");

  http::Server server;
  connectors::WebhookOptions wo;
  wo.secrets = {{"psp_a", "whsec_1"}};
  wo.append = [&](const cmd::CommandEnvelope& c,
                  const std::function<void(const std::string&)>& done) {
    done(h.PublishRaw(c.payment_id(), c.SerializeAsString()));
  };
  auto receiver = connectors::RegisterWebhookRoutes(server, std::move(wo));
  auto port = server.Start("127.0.0.1:0");
  ASSERT_TRUE(port);

  auto create = Create("m_wh", "wh-1", 4200);
  ASSERT_EQ(h.Publish(create), "");
  const std::string pid = PaymentIdOf(create);
  ASSERT_TRUE(h.WaitForEvent(pid, ev::EventEnvelope::kPaymentProcessing));
  const auto charges = s.sim->Charges();
  ASSERT_EQ(charges.size(), 1u);
  const nlohmann::json body = {{"id", "evt_" + charges[0].reference},
                               {"type", "operation.succeeded"},
                               {"data",
                                {{"idempotency_key", charges[0].idempotency_key},
                                 {"id", charges[0].reference},
                                 {"amount", charges[0].authorized},
                                 {"metadata", {{"payment_id", pid}}}}}};
  const std::string text = body.dump();
  httplib::Client client("127.0.0.1", *port);
  for (int i = 0; i < 3; ++i) {
    const int64_t t = SystemClock().NowMs() / 1000;
    httplib::Headers headers = {{"Payorch-Signature", connectors::SignWebhook("whsec_1", t, text)}};
    auto r = client.Post("/v1/webhooks/psp_a", headers, text, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  ASSERT_TRUE(h.WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));
  server.Stop();
  EXPECT_EQ(receiver->probe().accepted.load(), 1u);
  EXPECT_EQ(receiver->probe().duplicates.load(), 2u);
  const Events es = h.EventsOf(pid);
  EXPECT_EQ(Count(es, ev::EventEnvelope::kStepSucceeded), 1);
  EXPECT_EQ(Count(es, ev::EventEnvelope::kPaymentCompleted), 1);
  EXPECT_EQ(s.sim->Charges().size(), 1u);
  int webhook_commands = 0;
  for (const auto& r : h.ReadTopic(log::TopicKind::kCommands)) {
    cmd::CommandEnvelope c;
    if (c.ParseFromString(r.value) && c.gateway_result().source() == "webhook") ++webhook_commands;
  }
  EXPECT_EQ(webhook_commands, 1);
  EXPECT_TRUE(h.StopAndCheck());
}

}  // namespace
}  // namespace payorch::testing::e2e
