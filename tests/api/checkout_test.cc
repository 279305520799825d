// Issue 20's "done when": a Stripe user's checkout flow, end to end over HTTP against
// `payorch run --merchant-api` on a `payorch broker`: create and confirm with a card that
// declines (402, requires_payment_method), confirm again with another payment method on
// the same payment, capture part, refund with the default amount, list the refunds, receive
// the webhooks with object snapshots, and recover a missed event from /v1/events.
//
// Cards decline at every processor (`flaky:decline=1` for Adyen and Stripe); Apple Pay is
// a mock processor that accepts. m_wallet's card plan is Adyen then Stripe; its Apple Pay
// plan is Apple Pay up to 50.00 (the built-in configuration).
#include "api/e2e_support.h"

namespace payorch::api::testing {
namespace {

std::string Path(std::string path, const std::string& id) { return path + id; }

// The event ids /v1/events lists for `payment_id`, newest first, following the pages.
std::vector<json> EventsOf(Client& c, const std::string& key, const std::string& payment_id) {
  std::vector<json> out;
  std::string after;
  for (int page = 0; page < 50; ++page) {
    Reply r =
        c.Get("/v1/events?limit=100" + (after.empty() ? "" : "&starting_after=" + after), key);
    EXPECT_EQ(r.status, 200) << r.raw;
    if (r.status != 200) break;
    for (const json& e : r.body["data"]) {
      if (e["data"]["object"].value("id", "") == payment_id ||
          e["data"]["object"].value("payment_intent", "") == payment_id) {
        out.push_back(e);
      }
    }
    if (!r.body["has_more"].get<bool>() || r.body["data"].empty()) break;
    after = r.body["data"].back()["id"].get<std::string>();
  }
  return out;
}

TEST(Checkout, AStripeStyleCheckoutFlowWorksEndToEnd) {
  Receiver hooks;
  Stack stack("checkout");
  ASSERT_TRUE(stack.StartBroker());
  const std::string config =
      "wait_ms: 5000\nappend_timeout_ms: 2000\n"
      "webhooks:\n  retry: {initial_ms: 100, max_interval_ms: 200, give_up_after_ms: 1000}\n"
      "  endpoints:\n    m_wallet: {url: 'http://127.0.0.1:" +
      std::to_string(hooks.port()) + "/hook', secret: whsec_c}\n";
  const int port =
      stack.StartRun(config, {"--gateways", "adyen=flaky:decline=1;stripe=flaky:decline=1;*=mock"});
  ASSERT_NE(port, 0) << payorch::testing::ReadFile((stack.dir / "run1.log").string());
  const std::string key = stack.NewKey("m_wallet");
  ASSERT_FALSE(key.empty());
  Client c("127.0.0.1", port);
  EXPECT_EQ(c.Get("/v1/admin/api-keys", key).status, 404) << "no operator token: admin API off";

  // 1. Create and confirm with a card: declined at both processors of the plan.
  const json create = {{"amount", 3000},           {"currency", "USD"},
                       {"payment_method", "card"}, {"capture_method", "manual"},
                       {"confirm", true},          {"metadata", {{"order_id", "A-1"}}}};
  Reply declined = c.Post("/v1/payments", key, "checkout-1", create);
  ASSERT_EQ(declined.status, 402) << declined.raw;
  const json& error = declined.body["error"];
  EXPECT_EQ(error["type"], "card_error");
  EXPECT_EQ(error["code"], "card_declined");
  EXPECT_EQ(error["decline_code"], "generic_decline");
  EXPECT_EQ(error["payment_intent"]["status"], "requires_payment_method");
  EXPECT_EQ(error["payment_intent"]["last_payment_error"]["code"], "card_declined");
  EXPECT_TRUE(error["payment_intent"]["cancellation_reason"].is_null());
  const std::string id = error["payment_intent"]["id"];
  Reply replay = c.Post("/v1/payments", key, "checkout-1", create);
  EXPECT_EQ(replay.status, 402);
  EXPECT_EQ(replay.raw, declined.raw) << "the same key replays the same answer";
  EXPECT_EQ(c.Get(Path("/v1/payments/", id), key).body["status"], "requires_payment_method");

  // 2. Confirm again on the same payment with another payment method.
  Reply confirmed = c.Post(Path("/v1/payments/", id) + "/confirm", key, "checkout-2",
                           {{"payment_method", "apple_pay"}});
  ASSERT_EQ(confirmed.status, 200) << confirmed.raw;
  EXPECT_EQ(confirmed.body["id"], id);
  EXPECT_EQ(confirmed.body["status"], "requires_capture");
  EXPECT_EQ(confirmed.body["payment_method"], "apple_pay");
  EXPECT_EQ(confirmed.body["amount_capturable"], 3000);
  EXPECT_TRUE(confirmed.body["last_payment_error"].is_null());
  EXPECT_EQ(confirmed.body["metadata"]["order_id"], "A-1");

  // 3. Capture part of it, as the final capture: the rest of the authorization is released.
  // Its webhooks are refused for a while: the merchant misses them.
  hooks.set_status(500);
  Reply captured = c.Post(Path("/v1/payments/", id) + "/capture", key, "checkout-3",
                          {{"amount", 1200}, {"final_capture", true}});
  ASSERT_EQ(captured.status, 200) << captured.raw;
  EXPECT_EQ(captured.body["status"], "succeeded");
  EXPECT_EQ(captured.body["amount_received"], 1200);
  EXPECT_EQ(captured.body["amount_capturable"], 0);
  ASSERT_TRUE(Eventually([&] { return hooks.attempts() > 0; }, std::chrono::seconds(10)));
  hooks.set_status(200);

  // 4. Refund with the default amount: what was received.
  Reply refund = c.Post("/v1/refunds", key, "checkout-4", {{"payment_intent", id}});
  ASSERT_EQ(refund.status, 200) << refund.raw;
  EXPECT_EQ(refund.body["object"], "refund");
  EXPECT_EQ(refund.body["amount"], 1200);
  EXPECT_EQ(refund.body["status"], "succeeded");
  Reply refunds = c.Get("/v1/refunds?payment_intent=" + id, key);
  ASSERT_EQ(refunds.status, 200) << refunds.raw;
  ASSERT_EQ(refunds.body["data"].size(), 1u);
  EXPECT_EQ(refunds.body["data"][0]["id"], refund.body["id"]);
  EXPECT_EQ(c.Get(Path("/v1/payments/", id), key).body["amount_refunded"], 1200);

  // 5. The webhooks carry snapshots of the object as it was after each event.
  std::map<std::string, json> delivered;  // type -> data.object
  ASSERT_TRUE(Eventually(
      [&] {
        for (const auto& d : hooks.got()) {
          if (d.event_id.rfind(id + "/", 0) != 0) continue;
          EXPECT_TRUE(SignatureValid(d.signature, "whsec_c", d.body));
          const json body = json::parse(d.body);
          delivered[body["type"].get<std::string>()] = body["data"]["object"];
        }
        return delivered.count("payment.failed") && delivered.count("payment.requires_capture") &&
               delivered.count("refund.succeeded");
      },
      std::chrono::seconds(15)))
      << delivered.size();
  EXPECT_EQ(delivered["payment.failed"]["status"], "requires_payment_method");
  EXPECT_EQ(delivered["payment.requires_capture"]["payment_method"], "apple_pay");
  EXPECT_EQ(delivered["refund.succeeded"]["object"], "refund");
  EXPECT_EQ(delivered["refund.succeeded"]["amount"], 1200);

  // 6. The missed capture event is listed by /v1/events under the id webhooks use, and
  // retrieved by it, with its snapshot.
  const std::vector<json> events = EventsOf(c, key, id);
  const json* missed = nullptr;
  for (const json& e : events) {
    if (e["type"] == "payment.captured") missed = &e;
  }
  ASSERT_NE(missed, nullptr) << json(events).dump();
  EXPECT_EQ((*missed)["data"]["object"]["status"], "succeeded");
  EXPECT_EQ((*missed)["data"]["object"]["amount_received"], 1200);
  const std::string missed_id = (*missed)["id"];
  Reply one = c.Get("/v1/events/" + missed_id, key);
  ASSERT_EQ(one.status, 200) << one.raw;
  EXPECT_EQ(one.body, *missed);
  // Every delivered event is listed too, under the same id.
  std::set<std::string> listed;
  for (const json& e : events) listed.insert(e["id"].get<std::string>());
  for (const std::string& delivered_id : hooks.EventsOf(id)) {
    EXPECT_TRUE(listed.count(delivered_id)) << delivered_id;
  }
}

}  // namespace
}  // namespace payorch::api::testing
