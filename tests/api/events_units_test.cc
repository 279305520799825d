// GET /v1/events without a broker (api/internal/events.h): the outbox's meta scans, the
// event records the feeder writes, their retention sweep (bounded, at most once a minute
// of a manual clock), and the list and retrieve handlers over an outbox.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "api/config.h"
#include "api/internal/events.h"
#include "api/internal/webhook_feeder.h"
#include "outbox/webhook_outbox.h"
#include "projection/internal/keys.h"
#include "projection/projector.h"
#include "projection/views_support.h"

namespace payorch::api::internal {
namespace {

namespace fs = std::filesystem;
namespace ev = ::payments::events::v1;
using json = nlohmann::json;

constexpr int64_t kNow = 1'700'000'000'000;

class EventsTest : public ::testing::Test {
 protected:
  EventsTest() {
    fs::remove_all(dir_);
    outbox::WebhookOutboxOptions o;
    o.dir = dir_.string();
    o.clock = &clock_;
    box_ = std::make_unique<outbox::WebhookOutbox>(std::move(o));
    EXPECT_EQ(box_->Open().ToString(), "ok");
  }
  ~EventsTest() override {
    box_.reset();
    fs::remove_all(dir_);
  }

  static ev::EventEnvelope Event(const std::string& merchant, const std::string& payment,
                                 uint64_t sequence, int64_t at_ms, bool succeeded = false) {
    ev::EventEnvelope e;
    e.set_merchant_id(merchant);
    e.set_payment_id(payment);
    e.set_sequence(sequence);
    e.set_event_id(payment + "/" + std::to_string(sequence));
    e.set_occurred_at_ms(at_ms);
    if (succeeded) {
      e.mutable_payment_completed()->set_status(ev::PAYMENT_STATUS_SUCCEEDED);
    } else {
      e.mutable_payment_created();
    }
    return e;
  }
  // Records events as the feeder does (one batch); returns their webhook bodies.
  std::vector<json> Record(const std::vector<ev::EventEnvelope>& events) {
    MetaEntries meta;
    std::vector<json> bodies;
    for (const auto& e : events) {
      const auto d = DeliveryOf(e, *WebhookType(e), {{"id", e.payment_id()}});
      AppendEventRecord(e, d.body, &meta);
      bodies.push_back(json::parse(d.body));
    }
    EXPECT_EQ(box_->Enqueue({}, meta).ToString(), "ok");
    return bodies;
  }
  json List(const std::string& merchant, std::multimap<std::string, std::string> query,
            int status = 200) {
    http::Request req;
    req.query = std::move(query);
    const http::Response r = ListEvents(*box_, req, merchant);
    EXPECT_EQ(r.status, status) << r.body;
    return json::parse(r.body);
  }
  static std::vector<std::string> Ids(const json& list) {
    std::vector<std::string> ids;
    for (const auto& e : list["data"]) ids.push_back(e["id"]);
    return ids;
  }

  fs::path dir_ = fs::temp_directory_path() / ("payorch-events-" + std::to_string(::getpid()));
  ManualClock clock_{kNow};
  std::unique_ptr<outbox::WebhookOutbox> box_;
};

TEST_F(EventsTest, ScanMetaWalksOnePrefixEitherWayAfterAKey) {
  ASSERT_EQ(box_->Enqueue({}, {{"a/1", "1"}, {"a/2", "2"}, {"a/3", "3"}, {"ab", "x"}, {"b", "y"}})
                .ToString(),
            "ok");
  using Entries = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(box_->ScanMeta("a/", "", 10, false),
            (Entries{{"a/1", "1"}, {"a/2", "2"}, {"a/3", "3"}}));
  EXPECT_EQ(box_->ScanMeta("a/", "", 2, true), (Entries{{"a/3", "3"}, {"a/2", "2"}}));
  EXPECT_EQ(box_->ScanMeta("a/", "a/2", 10, true), (Entries{{"a/1", "1"}}));
  EXPECT_EQ(box_->ScanMeta("a/", "a/2", 10, false), (Entries{{"a/3", "3"}}));
  EXPECT_EQ(box_->ScanMeta("a/", "a/1", 10, true), Entries{});
  EXPECT_EQ(box_->ScanMeta("b", "", 10, true), (Entries{{"b", "y"}}));
  EXPECT_EQ(box_->ScanMeta("a/", "", 0, false), Entries{});
  ASSERT_EQ(box_->DeleteMeta({"a/1", "a/3", "absent"}).ToString(), "ok");
  EXPECT_EQ(box_->ScanMeta("a/", "", 10, false), (Entries{{"a/2", "2"}}));
  EXPECT_EQ(box_->GetMeta("ab"), "x");
}

TEST_F(EventsTest, AnEventIsTheWebhookBodyWithIdObjectAndCreated) {
  const ev::EventEnvelope e = Event("m_a", "pay_1", 3, kNow + 1'999);
  const json body = json::parse(DeliveryOf(e, "payment.created", nullptr).body);
  EXPECT_EQ(body["id"], "pay_1/3");
  EXPECT_EQ(body["event_id"], "pay_1/3");
  EXPECT_EQ(body["object"], "event");
  EXPECT_EQ(body["created"], (kNow + 1'999) / 1000);
  EXPECT_EQ(body["occurred_at_ms"], kNow + 1'999);
  const auto bodies = Record({e});
  const http::Response r = GetEvent(*box_, "pay_1/3", "m_a");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), bodies[0]);
  EXPECT_EQ(GetEvent(*box_, "pay_1/3", "m_b").status, 404) << "another merchant's event";
  EXPECT_EQ(json::parse(GetEvent(*box_, "pay_1/4", "m_a").body)["error"]["code"],
            "event_not_found");
  // Read again (a re-read of the log after a crash): the same records, not a second one.
  Record({e});
  EXPECT_EQ(Ids(List("m_a", {})), (std::vector<std::string>{"pay_1/3"}));
}

TEST_F(EventsTest, ListsNewestFirstPagesWithStartingAfterAndFiltersByType) {
  // Same millisecond: the sequence orders them (10 after 9, not before as text would).
  Record({Event("m_a", "pay_1", 9, kNow), Event("m_a", "pay_1", 10, kNow, true),
          Event("m_a", "pay_2", 1, kNow + 5), Event("m_a", "pay_2", 2, kNow + 9, true),
          Event("m_b", "pay_3", 1, kNow + 7)});
  const std::vector<std::string> newest_first = {"pay_2/2", "pay_2/1", "pay_1/10", "pay_1/9"};
  const json all = List("m_a", {});
  EXPECT_EQ(Ids(all), newest_first);
  EXPECT_EQ(all["object"], "list");
  EXPECT_EQ(all["has_more"], false);
  std::vector<std::string> walked;
  std::multimap<std::string, std::string> q = {{"limit", "1"}};
  for (json page = List("m_a", q);; page = List("m_a", q)) {
    ASSERT_EQ(page["data"].size(), 1u);
    walked.push_back(page["data"][0]["id"]);
    if (!page["has_more"].get<bool>()) break;
    q = {{"limit", "1"}, {"starting_after", walked.back()}};
  }
  EXPECT_EQ(walked, newest_first);
  EXPECT_EQ(Ids(List("m_a", {{"limit", "2"}, {"starting_after", "pay_2/1"}})),
            (std::vector<std::string>{"pay_1/10", "pay_1/9"}));
  EXPECT_EQ(Ids(List("m_a", {{"type", "payment.succeeded"}})),
            (std::vector<std::string>{"pay_2/2", "pay_1/10"}));
  const json one = List("m_a", {{"type", "payment.created"}, {"limit", "1"}});
  EXPECT_EQ(Ids(one), (std::vector<std::string>{"pay_2/1"}));
  EXPECT_EQ(one["has_more"], true);
  EXPECT_EQ(Ids(List("m_a", {{"type", "payment.*"}})), newest_first);
  EXPECT_TRUE(List("m_a", {{"type", "refund.*"}})["data"].empty());
  EXPECT_EQ(Ids(List("m_b", {})), (std::vector<std::string>{"pay_3/1"}));
  EXPECT_TRUE(List("m_c", {})["data"].empty());
}

TEST_F(EventsTest, BadParametersAre400BadParameterNamingTheParameter) {
  Record({Event("m_a", "pay_1", 1, kNow), Event("m_b", "pay_2", 1, kNow)});
  const std::vector<std::pair<std::multimap<std::string, std::string>, std::string>> cases = {
      {{{"limit", "0"}}, "limit"},
      {{{"limit", "101"}}, "limit"},
      {{{"limit", "ten"}}, "limit"},
      {{{"limit", ""}}, "limit"},
      {{{"starting_after", "pay_9/1"}}, "starting_after"},
      {{{"starting_after", "pay_2/1"}}, "starting_after"},  // m_b's
      {{{"type", "payment.succeded"}}, "type"},
      {{{"type", "pay*ment"}}, "type"},
      {{{"type", ""}}, "type"},
      {{{"cursor", "x"}}, "cursor"},
  };
  for (const auto& [query, parameter] : cases) {
    const json body = List("m_a", query, 400);
    EXPECT_EQ(body["error"]["code"], "bad_parameter") << body;
    EXPECT_EQ(body["error"]["details"]["parameter"], parameter) << body;
  }
  EXPECT_EQ(List("m_a", {{"limit", "100"}})["data"].size(), 1u);
}

// Every type a webhook can have is a valid ?type= (WebhookTypes is their one list).
TEST(EventTypes, WebhookTypesHoldsEveryTypeWebhookTypeReturns) {
  const auto& types = WebhookTypes();
  const std::set<std::string> listed(types.begin(), types.end());
  const auto* oneof = ev::EventEnvelope::descriptor()->FindOneofByName("event");
  ASSERT_NE(oneof, nullptr);
  std::set<std::string> returned;
  for (int i = 0; i < oneof->field_count(); ++i) {
    ev::EventEnvelope e;
    e.GetReflection()->MutableMessage(&e, oneof->field(i));
    if (auto t = WebhookType(e)) returned.insert(*t);
  }
  ev::EventEnvelope held;
  held.mutable_payment_completed()->set_status(ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  returned.insert(*WebhookType(held));
  EXPECT_EQ(returned, listed);
}

// A split payment's void releases each step with its own PaymentVoided; the merchant hears
// `payment.voided` once, from the event after which the payment is voided (the feeder asks
// with its model's view, as here: the projection's Projector).
TEST(EventTypes, PaymentVoidedIsAnnouncedOnceWhenTheLastStepOfASplitIsReleased) {
  namespace ty = ::payments::types::v1;
  using projection::testing::Log;
  Log log;
  log.Claim(1);
  const std::string p = "pay_split";
  log.Created(p, 5000, "order-split", 1, projection::testing::kT0, ty::CAPTURE_MODE_MANUAL);
  for (const auto& [step, amount] : {std::pair{0, 2000}, std::pair{1, 3000}}) {
    const auto auth = Log::Op(p, ev::OPERATION_KIND_AUTHORIZE, step, 1, "psp_a", amount);
    log.Started(p, auth, 1);
    log.Succeeded(p, auth, 1);
  }
  log.Completed(p, ev::PAYMENT_STATUS_REQUIRES_CAPTURE, 1);
  for (const auto& [step, amount] : {std::pair{0, 2000}, std::pair{1, 3000}}) {
    const auto op = Log::Op(p, ev::OPERATION_KIND_VOID, step, 1, "psp_a", amount);
    *log.Next(p, 1).mutable_void_started()->mutable_op() = op;
  }
  const size_t first_void = log.size();
  for (const auto& [step, amount] : {std::pair{0, 2000}, std::pair{1, 3000}}) {
    auto* v = log.Next(p, 1).mutable_payment_voided();
    *v->mutable_op() = Log::Op(p, ev::OPERATION_KIND_VOID, step, 1, "psp_a", amount);
    v->set_reason("requested");
  }

  projection::testing::MapStore store;
  projection::Projector projector(&store);
  std::vector<std::optional<std::string>> announced;
  for (size_t i = 0; i < log.size(); ++i) {
    log.FeedTo(projector, i, i + 1);
    store.Apply(projector.Flush());
    if (i < first_void) continue;
    ::payments::projection::v1::PaymentView view;
    ASSERT_TRUE(view.ParseFromString(*store.Get(projection::internal::PaymentKey(p))));
    EXPECT_EQ(WebhookType(log.record(i)), "payment.voided");  // the event alone
    announced.push_back(WebhookTypeAfter(log.record(i), view.status()));
  }
  EXPECT_EQ(announced, (std::vector<std::optional<std::string>>{std::nullopt, "payment.voided"}));
}

TEST_F(EventsTest, TheSweepDeletesExpiredEventsAtMostAThousandAtATime) {
  const int64_t retention = 30 * kDayMs;
  std::vector<ev::EventEnvelope> events;
  for (int i = 0; i < 1'500; ++i)
    events.push_back(Event("m_a", "pay_old" + std::to_string(i), 1, kNow - retention - 1 - i));
  events.push_back(Event("m_a", "pay_edge", 1, kNow - retention));  // exactly 30 days: kept
  events.push_back(Event("m_a", "pay_young", 1, kNow - 1'000));
  Record(events);
  EXPECT_EQ(SweepExpiredEvents(*box_, kNow, retention, 1'000), 1'000);
  EXPECT_EQ(SweepExpiredEvents(*box_, kNow, retention, 1'000), 500);
  EXPECT_EQ(SweepExpiredEvents(*box_, kNow, retention, 1'000), 0);
  EXPECT_EQ(Ids(List("m_a", {})), (std::vector<std::string>{"pay_young/1", "pay_edge/1"}));
  // All three records of a swept event are gone.
  EXPECT_EQ(box_->ScanMeta("ev", "", 10'000, false).size(), 6u);
  EXPECT_EQ(GetEvent(*box_, "pay_old7/1", "m_a").status, 404);
  EXPECT_EQ(GetEvent(*box_, "pay_young/1", "m_a").status, 200);
}

TEST_F(EventsTest, TheFeedersRetentionSweepsAtMostOnceAMinuteOfItsClock) {
  const int64_t retention = kDayMs;
  EventRetention r(box_.get(), &clock_, retention);
  EXPECT_TRUE(r.Expired(kNow - retention - 1));
  EXPECT_FALSE(r.Expired(kNow - retention));
  Record({Event("m_a", "pay_1", 1, kNow - retention - 1),
          Event("m_a", "pay_2", 1, kNow - retention + 30'000)});
  EXPECT_EQ(r.MaybeSweep(), 1);  // the first call sweeps
  clock_.Advance(std::chrono::milliseconds(59'999));
  EXPECT_TRUE(r.Expired(kNow - retention + 30'000));
  EXPECT_EQ(r.MaybeSweep(), 0) << "pay_2 is expired but a sweep ran less than a minute ago";
  clock_.Advance(std::chrono::milliseconds(1));
  EXPECT_EQ(r.MaybeSweep(), 1);
  EXPECT_TRUE(List("m_a", {})["data"].empty());
}

TEST(EventsConfig, RetentionIsThirtyDaysUnlessTheConfigSaysOtherwise) {
  EXPECT_EQ(ApiConfig{}.events_retention_days, 30);
  const fs::path file =
      fs::temp_directory_path() / ("payorch-events-" + std::to_string(::getpid()) + ".yaml");
  const auto load = [&](const std::string& text, ApiConfig* config) {
    std::ofstream(file) << text;
    return LoadApiConfig(file.string(), config);
  };
  ApiConfig config;
  EXPECT_EQ(load("events_retention_days: 7\n", &config), "");
  EXPECT_EQ(config.events_retention_days, 7);
  EXPECT_NE(load("events_retention_days: 0\n", &config).find("events_retention_days"),
            std::string::npos);
  EXPECT_NE(load("events_retention_days: soon\n", &config).find("events_retention_days"),
            std::string::npos);
  fs::remove(file);
}

}  // namespace
}  // namespace payorch::api::internal
