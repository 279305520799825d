// The query API over real sockets: a store built from hand-made events, the routes on an
// http::Server bound to a free port, httplib::Client as the caller.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "http/server.h"
#include "projection/query.h"
#include "projection/store.h"
#include "projection/views_support.h"

namespace payorch::projection {
namespace {

using nlohmann::json;
using testing::kT0;
using testing::Log;
namespace ev = ::payments::events::v1;
namespace ty = ::payments::types::v1;

class QueryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("payorch-api-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    ASSERT_EQ(store_.Open(dir_.string(), {}).ToString(), "ok");
    Log log;
    log.Claim(1);
    // 25 payments one second apart; every third one fails, the others succeed.
    for (int i = 0; i < 25; ++i) {
      const std::string p = "pay_" + std::to_string(100 + i);
      if (i % 3 == 0) {
        log.Created(p, 1000, "order-" + std::to_string(i), 1, kT0 + i * 1000);
        auto op = Log::Op(p, ev::OPERATION_KIND_SALE, 0, 1, "psp_a", 1000);
        log.Started(p, op, 1, kT0 + i * 1000);
        log.Failed(p, op, ty::ERROR_CODE_DECLINED, 1, kT0 + i * 1000);
        log.Next(p, 1, kT0 + i * 1000).mutable_payment_failed()->set_reason("declined");
      } else {
        testing::SaleWithRetry(log, p, "order-" + std::to_string(i), 1, kT0 + i * 1000);
      }
    }
    Projector projector(&store_);
    log.FeedTo(projector);
    ASSERT_EQ(store_.Write(projector.Flush()).ToString(), "ok");

    QueryOptions q;
    q.lag = [this] { return lag_.load(); };
    q.max_lag = 100;
    RegisterQueryRoutes(server_, store_, q);
    auto port = server_.Start("127.0.0.1:0");
    ASSERT_TRUE(port) << port.error();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }
  void TearDown() override {
    server_.Stop();
    store_.Close().IgnoreError();  // teardown
    std::filesystem::remove_all(dir_);
  }

  // GET path -> (status, body as JSON).
  std::pair<int, json> Get(const std::string& path) {
    auto res = client_->Get(path.c_str());
    if (!res) return {-1, json()};
    return {res->status, json::parse(res->body, nullptr, false)};
  }

  std::filesystem::path dir_;
  ProjectionStore store_;
  http::Server server_;
  std::unique_ptr<httplib::Client> client_;
  std::atomic<int64_t> lag_{0};
};

TEST_F(QueryApiTest, PaymentViewAsProtobufJson) {
  auto [status, body] = Get("/v1/payments/pay_101");
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["status"], "PAYMENT_STATUS_SUCCEEDED");
  EXPECT_EQ(body["captured_minor"], "2500");  // int64 as a string, per the JSON mapping
  ASSERT_EQ(body["attempts"].size(), 2u);
  EXPECT_EQ(body["attempts"][0]["error_code"], "ERROR_CODE_NETWORK_FAILURE");
  EXPECT_EQ(body["attempts"][1]["idempotency_key"], "pay_101:s0:a2");
}

TEST_F(QueryApiTest, UnknownIdsAre404WithTheErrorShape) {
  for (const char* path : {"/v1/payments/pay_nope", "/v1/merchants/m_nope/payments",
                           "/v1/idempotency/m_shop/no-such-key",
                           "/v1/reports/daily?merchant=m_nope&date=2024-03-05"}) {
    auto [status, body] = Get(path);
    EXPECT_EQ(status, 404) << path;
    EXPECT_EQ(body["error"]["code"], "not_found") << path;
    EXPECT_EQ(body["error"]["status"], 404) << path;
  }
}

TEST_F(QueryApiTest, BadParametersAre400NamingTheParameter) {
  struct Case {
    const char* path;
    const char* parameter;
  };
  const Case cases[] = {
      {"/v1/merchants/m_shop/payments?limit=0", "limit"},
      {"/v1/merchants/m_shop/payments?limit=1001", "limit"},
      {"/v1/merchants/m_shop/payments?limit=ten", "limit"},
      {"/v1/merchants/m_shop/payments?from=yesterday", "from"},
      {"/v1/merchants/m_shop/payments?to=2024-02-30", "to"},
      {"/v1/merchants/m_shop/payments?from=2024-03-06&to=2024-03-05", "from"},
      {"/v1/merchants/m_shop/payments?status=lost", "status"},
      {"/v1/merchants/m_shop/payments?cursor=zz", "cursor"},
      {"/v1/merchants/m_shop/payments?cursor=00", "cursor"},
      {"/v1/reports/daily?merchant=m_shop", "date"},
      {"/v1/reports/daily?merchant=m_shop&date=2024-3-5", "date"},
      {"/v1/reports/daily?date=2024-03-05", "merchant"},
  };
  for (const Case& c : cases) {
    auto [status, body] = Get(c.path);
    EXPECT_EQ(status, 400) << c.path << " " << body.dump();
    EXPECT_EQ(body["error"]["details"]["parameter"], c.parameter) << c.path;
  }
}

TEST_F(QueryApiTest, CursorPaginationVisitsEveryPaymentOnceInTimeOrder) {
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    std::string path = "/v1/merchants/m_shop/payments?limit=7";
    if (!cursor.empty()) path += "&cursor=" + cursor;
    auto [status, body] = Get(path);
    ASSERT_EQ(status, 200) << body.dump();
    for (const auto& p : body["payments"]) seen.push_back(p["payment_id"]);
    cursor = body["next_cursor"];
    ASSERT_LT(++pages, 10);
  } while (!cursor.empty());
  EXPECT_EQ(pages, 4);  // 7 + 7 + 7 + 4
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(seen[i], "pay_" + std::to_string(100 + i));
}

TEST_F(QueryApiTest, FiltersByStatusAndTimeRange) {
  auto [status, body] =
      Get("/v1/merchants/m_shop/payments?status=failed&from=2024-03-05T10:00:03Z&to=1709632810000");
  ASSERT_EQ(status, 200) << body.dump();
  std::vector<std::string> ids;
  for (const auto& p : body["payments"]) {
    ids.push_back(p["payment_id"]);
    EXPECT_EQ(p["status"], "PAYMENT_STATUS_FAILED");
  }
  // Failed are i = 0, 3, 6, 9, ...; the window is [3 s, 10 s).
  EXPECT_EQ(ids, (std::vector<std::string>{"pay_103", "pay_106", "pay_109"}));
  EXPECT_EQ(body["next_cursor"], "");
}

TEST_F(QueryApiTest, IdempotencyRecordAndDailyReport) {
  auto [status, body] = Get("/v1/idempotency/m_shop/order-3");
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["payment_id"], "pay_103");
  EXPECT_EQ(body["outcome"], "PAYMENT_STATUS_FAILED");
  EXPECT_EQ(body["request_hash"], "h-order-3");

  auto [rstatus, report] = Get("/v1/reports/daily?merchant=m_shop&date=2024-03-05");
  ASSERT_EQ(rstatus, 200) << report.dump();
  std::map<std::string, std::pair<std::string, std::string>> by_outcome;
  for (const auto& t : report["totals"]) {
    by_outcome[t["outcome"]] = {t["count"], t["amount_minor"]};
  }
  EXPECT_EQ(by_outcome["authorized"], std::make_pair(std::string("16"), std::string("40000")));
  EXPECT_EQ(by_outcome["failed_declined"].first, "9");
  EXPECT_EQ(by_outcome["failed_network_failure"].first, "16");

  auto [estatus, empty] = Get("/v1/reports/daily?merchant=m_shop&date=2024-03-06");
  EXPECT_EQ(estatus, 200);
  EXPECT_TRUE(empty["totals"].empty());
}

TEST_F(QueryApiTest, CatchingUpBeyondMaxLagIs503WithTheLag) {
  lag_ = 101;
  auto [status, body] = Get("/v1/payments/pay_101");
  EXPECT_EQ(status, 503);
  EXPECT_EQ(body["error"]["details"]["lag"], 101);
  EXPECT_EQ(body["error"]["details"]["max_lag"], 100);
  auto [pstatus, projection] = Get("/v1/projection?digest=1");
  EXPECT_EQ(pstatus, 200);
  EXPECT_EQ(projection["lag"], 101);
  EXPECT_EQ(projection["digest"], store_.Digest());
  lag_ = 100;
  EXPECT_EQ(Get("/v1/payments/pay_101").first, 200);
}

}  // namespace
}  // namespace payorch::projection
