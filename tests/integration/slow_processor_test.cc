// A slow processor slows only its own payments (docs/overload.md): with every call to one
// processor blocked, another processor's payments complete, the connectors keep polling
// (their group membership never waits on a processor), and once the processor answers
// again its payments complete too. Against the embedded broker, writers and connectors
// in one process.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "support/e2e/harness.h"

namespace payorch::testing::e2e {
namespace {

constexpr char kSlowMerchant[] = "m_slow";
constexpr char kFastMerchant[] = "m_fast";
constexpr char kSlow[] = "psp_slow";
constexpr char kFast[] = "psp_fast";

// Every call blocks until Release(); then it succeeds.
class BlockedGateway final : public connectors::Gateway {
 public:
  connectors::GatewayAnswer Execute(const connectors::GatewayRequest& request) override {
    std::unique_lock lock(mu_);
    ++waiting_;
    released_cv_.wait(lock, [&] { return released_; });
    --waiting_;
    connectors::GatewayAnswer a;
    a.outcome = ::payments::commands::v1::GATEWAY_OUTCOME_SUCCEEDED;
    a.amount_processed_minor = request.amount_minor;
    a.processor_reference = "ref-" + request.idempotency_key;
    return a;
  }
  connectors::GatewayAnswer Retrieve(std::string_view) override {
    connectors::GatewayAnswer a;
    a.outcome = ::payments::commands::v1::GATEWAY_OUTCOME_UNKNOWN;
    return a;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    released_cv_.notify_all();
  }
  int waiting() {
    std::lock_guard lock(mu_);
    return waiting_;
  }

 private:
  std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;
  int waiting_ = 0;
};

cfg::OrchestratorConfig TwoMerchants() {
  cfg::OrchestratorConfig config;
  config.set_schema_version(1);
  for (const auto& [merchant, processor] :
       {std::pair{kSlowMerchant, kSlow}, std::pair{kFastMerchant, kFast}}) {
    cfg::MerchantConfig* m = config.add_merchants();
    m->set_merchant_id(merchant);
    m->set_attempt_timeout_ms(60'000);
    m->set_processing_deadline_ms(120'000);
    cfg::RoutingProfile* p = m->add_profiles();
    p->set_name("card");
    p->set_method(ty::PAYMENT_METHOD_CARD);
    AddStep(p, ty::PAYMENT_METHOD_CARD, processor, 0, pl::STEP_ROLE_PRIMARY);
  }
  return config;
}

TEST(SlowProcessor, OnlyItsOwnPaymentsWaitAndTheConnectorsKeepPolling) {
  auto slow = std::make_shared<BlockedGateway>();
  HarnessOptions o;
  o.config = TwoMerchants();
  o.scripted_processors = {kFast};
  o.custom_gateways = {{kSlow, slow}};
  o.connector_threads = 2;  // per processor: the slow one's workers are all blocked
  E2eHarness h(std::move(o));
  ASSERT_EQ(h.Start(), "");

  std::vector<std::string> slow_ids;
  std::vector<std::string> fast_ids;
  for (int i = 0; i < 12; ++i) {
    const auto c = Create(kSlowMerchant, "slow-" + std::to_string(i), 1'000);
    ASSERT_EQ(h.Publish(c), "");
    slow_ids.push_back(PaymentIdOf(c));
  }
  // Both slow workers are blocked; the other ten calls wait in the slow bulkhead.
  for (int i = 0; i < 400 && slow->waiting() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(slow->waiting(), 2);
  for (int i = 0; i < 12; ++i) {
    const auto c = Create(kFastMerchant, "fast-" + std::to_string(i), 1'000);
    ASSERT_EQ(h.Publish(c), "");
    fast_ids.push_back(PaymentIdOf(c));
  }
  for (const std::string& id : fast_ids) {
    EXPECT_TRUE(h.WaitForEvent(id, ev::EventEnvelope::kPaymentCompleted))
        << "a fast processor's payment waited on the slow processor";
  }
  EXPECT_EQ(slow->waiting(), 2) << "the slow processor is still blocked";
  for (const std::string& id : slow_ids) {
    EXPECT_EQ(Find(h.EventsOf(id), ev::EventEnvelope::kPaymentCompleted), nullptr);
  }
  // A safety bound, not a speed target: the consumer never went near a session timeout.
  EXPECT_LT(h.probe().connectors.poll_gap_max_ms.load(), 3'000);

  slow->Release();
  for (const std::string& id : slow_ids) {
    EXPECT_TRUE(h.WaitForEvent(id, ev::EventEnvelope::kPaymentCompleted));
  }
  EXPECT_TRUE(h.StopAndCheck());
}

}  // namespace
}  // namespace payorch::testing::e2e
