// GET /v1/events over real HTTP, against `payorch run --http --merchant-api` on a `payorch
// broker` (issue 20 item 5): the events of payments made through the API are listed newest
// first with the ids (and bodies) of their webhook deliveries, page with starting_after,
// filter by type, are retrieved by id ('/' plain or as %2F), are recorded for a merchant
// without an endpoint too, and are never shown to another merchant.
#include "api/e2e_support.h"

namespace payorch::api::testing {
namespace {

class EventsApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    receiver_ = new Receiver();
    stack_ = new Stack("events");
    ASSERT_TRUE(stack_->StartBroker());
    const std::string config =
        "wait_ms: 3000\nrate_limit: {per_second: 1000, burst: 1000}\n"
        "webhooks:\n  endpoints:\n    m_cobranded: {url: 'http://127.0.0.1:" +
        std::to_string(receiver_->port()) + "/hook', secret: whsec_e}\n";
    port_ = stack_->StartRun(config);
    ASSERT_NE(port_, 0) << payorch::testing::ReadFile((stack_->dir / "run1.log").string());
    key_ = stack_->NewKey("m_cobranded");
    Client c("127.0.0.1", port_);
    for (int i = 0; i < 3; ++i) {
      Reply r = c.Post("/v1/payments", key_, "events-" + std::to_string(i),
                       {{"amount", 1000 + i},
                        {"currency", "USD"},
                        {"payment_method", "card"},
                        {"confirm", true}});
      ASSERT_EQ(r.status, 201) << r.raw;
      payments_.push_back(r.body["id"]);
    }
  }
  static void TearDownTestSuite() {
    delete stack_;
    delete receiver_;
  }
  void SetUp() override { ASSERT_FALSE(payments_.empty()); }

  static Client client() { return Client("127.0.0.1", port_); }
  // The merchant's events, every page of `limit` walked with starting_after.
  static std::vector<json> Walk(const std::string& key, int limit, const std::string& extra = "") {
    Client c = client();
    std::vector<json> events;
    std::string after;
    for (int page = 0; page < 1'000; ++page) {
      Reply r = c.Get("/v1/events?limit=" + std::to_string(limit) + extra +
                          (after.empty() ? "" : "&starting_after=" + after),
                      key);
      EXPECT_EQ(r.status, 200) << r.raw;
      if (r.status != 200) break;
      for (const json& e : r.body["data"]) events.push_back(e);
      if (!r.body["has_more"].get<bool>() || events.empty()) break;
      after = events.back()["id"];
    }
    return events;
  }
  static std::set<std::string> IdsOf(const std::vector<json>& events, const std::string& payment) {
    std::set<std::string> ids;
    for (const json& e : events)
      if (e["payment_id"] == payment) ids.insert(e["id"].get<std::string>());
    return ids;
  }

  static inline Stack* stack_ = nullptr;
  static inline Receiver* receiver_ = nullptr;
  static inline int port_ = 0;
  static inline std::string key_;
  static inline std::vector<std::string> payments_;
};

TEST_F(EventsApiTest, ListsTheWebhooksEventsNewestFirstWithTheSameIdsAndBodies) {
  // Every payment's events, created to succeeded, are listed, and are those delivered.
  const auto complete = [&](const std::vector<json>& events) {
    for (const std::string& p : payments_) {
      std::set<std::string> types;
      for (const json& e : events)
        if (e["payment_id"] == p) types.insert(e["type"].get<std::string>());
      if (!types.count("payment.created") || !types.count("payment.succeeded")) return false;
      if (IdsOf(events, p) != receiver_->EventsOf(p)) return false;
    }
    return true;
  };
  std::vector<json> listed;
  ASSERT_TRUE(
      Eventually([&] { return complete(listed = Walk(key_, 100)); }, std::chrono::seconds(20)))
      << json(listed).dump();
  EXPECT_GE(listed.size(), 2 * payments_.size());
  std::map<std::string, json> bodies;  // delivered, by event id
  for (const auto& d : receiver_->got()) bodies[d.event_id] = json::parse(d.body);
  for (size_t i = 0; i < listed.size(); ++i) {
    const json& e = listed[i];
    EXPECT_EQ(e["object"], "event");
    EXPECT_EQ(e["merchant_id"], "m_cobranded");
    EXPECT_EQ(e["created"], e["occurred_at_ms"].get<int64_t>() / 1000);
    EXPECT_EQ(e, bodies[e["id"]]) << "the webhook's body";
    if (i > 0) {
      EXPECT_GE(listed[i - 1]["occurred_at_ms"], e["occurred_at_ms"]) << "newest first";
    }
  }
  for (const std::string& p : payments_)
    EXPECT_TRUE(IdsOf(listed, p).count(p + "/1")) << "payment.created is " << p << "/1";
  // Pages of one walk the same events in the same order, each once.
  std::vector<std::string> all, paged;
  for (const json& e : listed) all.push_back(e["id"]);
  for (const json& e : Walk(key_, 1)) paged.push_back(e["id"]);
  EXPECT_EQ(paged, all);
  EXPECT_EQ(std::set<std::string>(paged.begin(), paged.end()).size(), paged.size());
}

TEST_F(EventsApiTest, FiltersByTypeAndRetrievesById) {
  std::vector<json> succeeded;
  ASSERT_TRUE(Eventually(
      [&] {
        succeeded = Walk(key_, 2, "&type=payment.succeeded");
        return succeeded.size() >= payments_.size();
      },
      std::chrono::seconds(20)));
  for (const json& e : succeeded) EXPECT_EQ(e["type"], "payment.succeeded");
  for (const json& e : Walk(key_, 100, "&type=payment.*"))
    EXPECT_EQ(e["type"].get<std::string>().rfind("payment.", 0), 0u) << e["type"];
  Client c = client();
  const std::string id = succeeded.front()["id"];  // "pay_.../N"
  ASSERT_NE(id.find('/'), std::string::npos);
  Reply plain = c.Get("/v1/events/" + id, key_);
  ASSERT_EQ(plain.status, 200) << plain.raw;
  EXPECT_EQ(plain.body, succeeded.front());
  const std::string encoded = id.substr(0, id.find('/')) + "%2F" + id.substr(id.find('/') + 1);
  Reply escaped = c.Get("/v1/events/" + encoded, key_);
  EXPECT_EQ(escaped.status, 200) << escaped.raw;
  EXPECT_EQ(escaped.body, plain.body);
  Reply missing = c.Get("/v1/events/" + id + "9999", key_);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"]["code"], "event_not_found") << missing.raw;
  EXPECT_EQ(missing.body["error"]["type"], "invalid_request_error") << missing.raw;
}

TEST_F(EventsApiTest, AnotherMerchantSeesNoneAndAMerchantWithoutAnEndpointHasItsOwn) {
  const std::string other = stack_->NewKey("m_wallet");  // no webhook endpoint here
  ASSERT_FALSE(other.empty());
  Client c = client();
  const std::string id = payments_.front() + "/1";
  Reply theirs = c.Get("/v1/events/" + id, other);
  EXPECT_EQ(theirs.status, 404) << theirs.raw;
  EXPECT_EQ(theirs.body["error"]["code"], "event_not_found");
  Reply empty = c.Get("/v1/events", other);
  ASSERT_EQ(empty.status, 200) << empty.raw;
  EXPECT_TRUE(empty.body["data"].empty()) << empty.raw;
  EXPECT_EQ(empty.body["has_more"], false);
  Reply after = c.Get("/v1/events?starting_after=" + id, other);
  EXPECT_EQ(after.status, 400) << "not one of its events";
  EXPECT_EQ(after.body["error"]["param"], "starting_after") << after.raw;
  Reply created = c.Post("/v1/payments", other, "events-wallet",
                         {{"amount", 700}, {"currency", "USD"}, {"payment_method", "card"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string mine = created.body["id"];
  EXPECT_TRUE(Eventually([&] { return IdsOf(Walk(other, 10), mine).count(mine + "/1") == 1; },
                         std::chrono::seconds(20)))
      << "recorded without a webhook endpoint";
  EXPECT_TRUE(receiver_->EventsOf(mine).empty());
  for (const json& e : Walk(key_, 100)) EXPECT_NE(e["payment_id"], mine);
  EXPECT_EQ(c.Get("/v1/events/" + mine + "/1", key_).status, 404);
}

TEST_F(EventsApiTest, BadParametersAre400BadParameter) {
  Client c = client();
  for (const std::string query : {"limit=0", "limit=101", "limit=x", "type=payment.nope",
                                  "starting_after=pay_x/1", "foo=1"}) {
    Reply r = c.Get("/v1/events?" + query, key_);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(r.body["error"]["code"], "bad_parameter") << query << " " << r.raw;
    EXPECT_EQ(r.body["error"]["param"], query.substr(0, query.find('='))) << r.raw;
  }
  EXPECT_EQ(c.Get("/v1/events", "").status, 401);
}

}  // namespace
}  // namespace payorch::api::testing
