// Webhook deliveries survive a SIGKILL: while the merchant's endpoint refuses them they
// sit in the RocksDB outbox; the orchestrator (with the merchant API) is SIGKILLed and
// restarted, the endpoint recovers, and every merchant-visible event of the payments is
// delivered exactly once, with its event_id.
#include "api/e2e_support.h"

namespace payorch::api::testing {
namespace {

TEST(WebhookRestart, PendingDeliveriesSurviveASigkill) {
  Receiver receiver;
  receiver.set_status(503);
  Stack stack("restart");
  ASSERT_TRUE(stack.StartBroker());
  const std::string config =
      "wait_ms: 3000\nwebhooks:\n  retry: {initial_ms: 100, max_interval_ms: 200, "
      "give_up_after_ms: 600000}\n  endpoints:\n    m_cobranded: {url: 'http://127.0.0.1:" +
      std::to_string(receiver.port()) + "/hook', secret: whsec_r}\n";
  int port = stack.StartRun(config);
  ASSERT_NE(port, 0);
  const std::string key = stack.NewKey("m_cobranded");
  std::vector<std::string> ids;
  {
    Client c("127.0.0.1", port);
    for (int i = 0; i < 3; ++i) {
      Reply r = c.Post("/v1/payments", key, "restart-" + std::to_string(i),
                       {{"amount", 1000 + i},
                        {"currency", "USD"},
                        {"payment_method", "card"},
                        {"confirm", true}});
      ASSERT_EQ(r.status, 201) << r.raw;
      ids.push_back(r.body["id"]);
    }
  }
  // Refused at least once each: the deliveries are queued, not sent.
  ASSERT_TRUE(Eventually([&] { return receiver.attempts() >= 6; }, std::chrono::seconds(10)));
  stack.run.Kill(SIGKILL);
  receiver.set_status(200);
  port = stack.StartRun(config);
  ASSERT_NE(port, 0);
  for (const std::string& id : ids) {
    EXPECT_TRUE(Eventually(
        [&] {
          std::set<std::string> types;
          for (const auto& d : receiver.got()) {
            const json body = json::parse(d.body);
            if (body["payment_id"] == id) types.insert(body["type"].get<std::string>());
          }
          return types.count("payment.created") && types.count("payment.succeeded");
        },
        std::chrono::seconds(20)))
        << id;
  }
  std::map<std::string, int> times;
  for (const auto& d : receiver.got()) {
    ++times[d.event_id];
    EXPECT_TRUE(SignatureValid(d.signature, "whsec_r", d.body));
  }
  for (const auto& [event_id, n] : times) EXPECT_EQ(n, 1) << event_id << " delivered twice";
}

}  // namespace
}  // namespace payorch::api::testing
