// GET /v1/reports/financial without a broker (api/internal/reports.h): the handler over a
// real ProjectionStore in a temporary directory, fed daily totals directly or through the
// projection's Projector over synthetic events. Currencies are never added together, each
// gateway has its line, fees come from captured money only, refunds are subtracted, the
// period is inclusive and bounded, the CSV is RFC 4180, and each bad parameter is a 400.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "api/internal/reports.h"
#include "payments/projection/v1/views.pb.h"
#include "projection/internal/keys.h"
#include "projection/store.h"
#include "projection/views_support.h"

namespace payorch::api::internal {
namespace {

namespace fs = std::filesystem;
namespace ev = ::payments::events::v1;
namespace ty = ::payments::types::v1;
namespace pv = ::payments::projection::v1;
using json = nlohmann::json;
using projection::testing::Log;

constexpr char kMerchant[] = "m_shop";

class ReportsTest : public ::testing::Test {
 protected:
  ReportsTest() {
    fs::remove_all(dir_);
    EXPECT_EQ(store_.Open(dir_.string(), {}).ToString(), "ok");
  }
  ~ReportsTest() override {
    store_.Close().IgnoreError();  // teardown
    fs::remove_all(dir_);
  }

  // A daily total as the projector writes it.
  void Put(const std::string& date, const std::string& currency, const std::string& gateway,
           const std::string& outcome, int64_t count, int64_t amount, int64_t fee = 0,
           const std::string& merchant = kMerchant) {
    pv::DailyTotal t;
    t.set_date(date);
    t.set_merchant_id(merchant);
    t.set_currency(currency);
    t.set_processor_id(gateway);
    t.set_outcome(outcome);
    t.set_count(count);
    t.set_amount_minor(amount);
    t.set_fee_minor(fee);
    ASSERT_EQ(
        store_
            .Write({{projection::internal::DailyKey(merchant, date, currency, gateway, outcome),
                     t.SerializeAsString()}})
            .ToString(),
        "ok");
  }

  // GET /v1/reports/financial?<query> of kMerchant.
  http::Response Get(const std::string& query, const std::string& merchant = kMerchant) {
    http::Request req;
    req.method = "GET";
    req.path = "/v1/reports/financial";
    size_t pos = 0;
    while (pos <= query.size() && !query.empty()) {
      const size_t amp = std::min(query.find('&', pos), query.size());
      const std::string pair = query.substr(pos, amp - pos);
      const size_t eq = pair.find('=');
      req.query.emplace(pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1));
      pos = amp + 1;
    }
    return FinancialReportAnswer(store_, nullptr, req, merchant);
  }
  json Report(const std::string& query) {
    http::Response r = Get(query);
    EXPECT_EQ(r.status, 200) << query << " " << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    return json::parse(r.body, nullptr, false);
  }
  static const json& Currency(const json& report, const std::string& code) {
    for (const json& c : report["currencies"])
      if (c["currency"] == code) return c;
    static const json none;
    ADD_FAILURE() << "no " << code << " in " << report.dump();
    return none;
  }
  static const json& Gateway(const json& currency, const std::string& gateway) {
    for (const json& g : currency["by_gateway"])
      if (g["gateway"] == gateway) return g;
    static const json none;
    ADD_FAILURE() << "no " << gateway << " in " << currency.dump();
    return none;
  }

  fs::path dir_ = fs::temp_directory_path() / ("payorch-reports-" + std::to_string(::getpid()));
  projection::ProjectionStore store_;
};

TEST_F(ReportsTest, EachCurrencyHasItsOwnTotalsAndNoneAreAddedTogether) {
  Put("2024-03-05", "USD", "stripe", "captured", 2, 5'000);
  Put("2024-03-05", "EUR", "stripe", "captured", 1, 700);
  Put("2024-03-06", "JPY", "stripe", "captured", 1, 12'000);
  Put("2024-03-06", "USD", "stripe", "refunded", 1, 1'000);
  const json r = Report("from=2024-03-05&to=2024-03-06");
  EXPECT_EQ(r["object"], "financial_report");
  EXPECT_EQ(r["merchant"], kMerchant);
  EXPECT_EQ(r["from"], "2024-03-05");
  EXPECT_EQ(r["to"], "2024-03-06");
  EXPECT_FALSE(r.contains("taxes")) << "taxes are per currency, from its invoices";
  ASSERT_EQ(r["currencies"].size(), 3u);
  std::vector<std::string> codes;
  for (const json& c : r["currencies"]) codes.push_back(c["currency"]);
  EXPECT_EQ(codes, (std::vector<std::string>{"eur", "jpy", "usd"})) << "lower case, sorted";
  EXPECT_EQ(Currency(r, "usd")["gross_captured"], 5'000);
  EXPECT_EQ(Currency(r, "usd")["net_revenue"], 4'000);
  EXPECT_EQ(Currency(r, "eur")["gross_captured"], 700);
  EXPECT_EQ(Currency(r, "eur")["refunded"], 0);
  EXPECT_EQ(Currency(r, "jpy")["gross_captured"], 12'000);
  EXPECT_FALSE(r.contains("gross_captured")) << "no total across currencies";
  // One currency only, in either case.
  for (const char* filter : {"eur", "EUR"}) {
    const json only = Report(std::string("from=2024-03-05&to=2024-03-06&currency=") + filter);
    ASSERT_EQ(only["currencies"].size(), 1u) << only.dump();
    EXPECT_EQ(only["currencies"][0]["currency"], "eur");
  }
  EXPECT_TRUE(Report("from=2024-03-05&to=2024-03-06&currency=gbp")["currencies"].empty());
}

TEST_F(ReportsTest, EachGatewayHasItsLineAndTheCurrencyTotalIsTheirSum) {
  Put("2024-03-05", "USD", "stripe", "authorized", 3, 9'000);
  Put("2024-03-05", "USD", "stripe", "captured", 2, 6'000, 180);
  Put("2024-03-05", "USD", "stripe", "voided", 1, 3'000);
  Put("2024-03-05", "USD", "adyen", "captured", 1, 2'000, 20);
  Put("2024-03-05", "USD", "adyen", "refunded", 1, 500);
  Put("2024-03-05", "USD", "adyen", "failed_declined", 4, 8'000);
  Put("2024-03-05", "USD", "adyen", "failed_timeout", 1, 2'000);
  Put("2024-03-05", "USD", "adyen", "expired", 1, 2'000);
  const json usd = Currency(Report("from=2024-03-05&to=2024-03-05"), "usd");
  ASSERT_EQ(usd["by_gateway"].size(), 2u);
  EXPECT_EQ(usd["by_gateway"][0]["gateway"], "adyen") << "sorted by gateway";
  EXPECT_EQ(Gateway(usd, "stripe"), (json{{"gateway", "stripe"},
                                          {"gross_captured", 6'000},
                                          {"refunded", 0},
                                          {"net_revenue", 6'000},
                                          {"fees", 180},
                                          {"net_after_fees", 5'820},
                                          {"authorized", 9'000},
                                          {"voided", 3'000},
                                          {"failed_count", 0}}));
  EXPECT_EQ(Gateway(usd, "adyen"), (json{{"gateway", "adyen"},
                                         {"gross_captured", 2'000},
                                         {"refunded", 500},
                                         {"net_revenue", 1'500},
                                         {"fees", 20},
                                         {"net_after_fees", 1'480},
                                         {"authorized", 0},
                                         {"voided", 0},
                                         {"failed_count", 5}}))
      << "failed_count counts the failed attempts of every error; expired is not a failure";
  EXPECT_EQ(usd["gross_captured"], 8'000);
  EXPECT_EQ(usd["refunded"], 500);
  EXPECT_EQ(usd["net_revenue"], 7'500);
  EXPECT_EQ(usd["fees"], 200);
  EXPECT_EQ(usd["net_after_fees"], 7'300);
  EXPECT_EQ(usd["authorized"], 9'000);
  EXPECT_EQ(usd["voided"], 3'000);
  EXPECT_EQ(usd["failed_count"], 5);
}

// Through the projection's own Projector with fees configured: a voided authorization costs
// nothing, a partial capture pays the fee on what was captured, a refund is subtracted (its
// capture's fee is not given back), a sale counts as authorized and captured.
TEST_F(ReportsTest, FeesComeFromCapturedMoneyOnlyAndRefundsAreSubtracted) {
  using projection::testing::kT0;
  Log log(kMerchant);
  log.Claim(1);
  for (const char* p : {"pay_void", "pay_cap"}) {
    log.Created(p, 420'000, std::string("k-") + p, 1, kT0, ty::CAPTURE_MODE_MANUAL);
    const auto auth = Log::Op(p, ev::OPERATION_KIND_AUTHORIZE, 0, 1, "psp_a", 420'000);
    log.Started(p, auth, 1);
    log.Succeeded(p, auth, 1);
    log.Completed(p, ev::PAYMENT_STATUS_REQUIRES_CAPTURE, 1);
  }
  const auto release = Log::Op("pay_void", ev::OPERATION_KIND_VOID, 0, 1, "psp_a", 420'000);
  log.Next("pay_void", 1).mutable_payment_voided()->mutable_op()->CopyFrom(release);
  const auto capture = Log::Op("pay_cap", ev::OPERATION_KIND_CAPTURE, 0, 1, "psp_a", 100'000);
  auto* captured = log.Next("pay_cap", 1).mutable_payment_captured();
  *captured->mutable_op() = capture;
  captured->set_total_captured_minor(100'000);
  const auto refund = Log::Op("pay_cap", ev::OPERATION_KIND_REFUND, 0, 1, "psp_a", 40'000);
  auto* refunded = log.Next("pay_cap", 1, kT0 + 60'000).mutable_refund_succeeded();
  *refunded->mutable_op() = refund;
  refunded->set_total_refunded_minor(40'000);
  projection::testing::SaleWithRetry(log, "pay_sale", "k-sale", 1);        // psp_a, 2500
  projection::Projector projector(&store_, {.fee_bps = {{"psp_a", 30}}});  // 0.3 %
  log.FeedTo(projector);
  ASSERT_EQ(store_.Write(projector.Flush()).ToString(), "ok");

  const json usd = Currency(Report("from=2024-03-05&to=2024-03-05"), "usd");
  EXPECT_EQ(usd["authorized"], 842'500) << "two authorizations and a sale";
  EXPECT_EQ(usd["voided"], 420'000);
  EXPECT_EQ(usd["gross_captured"], 102'500) << "the capture and the sale";
  EXPECT_EQ(usd["fees"], 300 + 7) << "0.3 % of 100,000 and of 2,500 (rounded down)";
  EXPECT_EQ(usd["refunded"], 40'000);
  EXPECT_EQ(usd["net_revenue"], 62'500);
  EXPECT_EQ(usd["net_after_fees"], 62'500 - 307);
  EXPECT_EQ(usd["failed_count"], 1) << "the sale's first attempt";
  EXPECT_EQ(Gateway(usd, "psp_a")["fees"], 307);
}

TEST_F(ReportsTest, ThePeriodIsInclusiveAndOnlyTheMerchantsOwn) {
  Put("2024-02-29", "USD", "stripe", "captured", 1, 1);
  Put("2024-03-01", "USD", "stripe", "captured", 1, 10);
  Put("2024-03-15", "USD", "stripe", "captured", 1, 100);
  Put("2024-03-31", "USD", "stripe", "captured", 1, 1'000);
  Put("2024-04-01", "USD", "stripe", "captured", 1, 10'000);
  Put("2024-03-15", "USD", "stripe", "captured", 1, 100'000, 0, "m_shop2");  // "m_shop" + "2"
  Put("2024-03-15", "USD", "stripe", "captured", 1, 100'000, 0, "m_sho");
  EXPECT_EQ(Currency(Report("from=2024-03-01&to=2024-03-31"), "usd")["gross_captured"], 1'110);
  EXPECT_EQ(Currency(Report("from=2024-03-15&to=2024-03-15"), "usd")["gross_captured"], 100);
  EXPECT_EQ(Currency(Report("from=2024-02-29&to=2024-04-01"), "usd")["gross_captured"], 11'111);
  EXPECT_TRUE(Report("from=2024-03-02&to=2024-03-14")["currencies"].empty());
  EXPECT_TRUE(Report("from=2025-01-01&to=2025-01-31")["currencies"].empty());
  // At most 366 days: a leap year is allowed, one day more is not.
  EXPECT_EQ(Get("from=2024-01-01&to=2024-12-31").status, 200);
  EXPECT_EQ(Get("from=2023-03-02&to=2024-03-01").status, 200);
  EXPECT_EQ(Get("from=2023-03-01&to=2024-03-01").status, 400) << "367 days with 2024-02-29";
  EXPECT_EQ(Get("from=2023-01-01&to=2024-01-01").status, 200);
  EXPECT_EQ(Get("from=2023-01-01&to=2024-01-02").status, 400);
  // A merchant without totals gets an empty report, not an error.
  http::Response none = Get("from=2024-03-01&to=2024-03-31", "m_new");
  ASSERT_EQ(none.status, 200);
  EXPECT_EQ(json::parse(none.body)["currencies"], json::array());
}

TEST_F(ReportsTest, CsvHasAHeaderARowPerGatewayAndATotalRowPerCurrency) {
  Put("2024-03-05", "USD", "stripe", "captured", 2, 6'000, 180);
  Put("2024-03-05", "USD", "adyen", "refunded", 1, 500);
  Put("2024-03-05", "EUR", "adyen", "failed_declined", 2, 900);
  http::Response r = Get("from=2024-03-05&to=2024-03-05&format=csv");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(r.body,
            "currency,gateway,gross_captured,refunded,net_revenue,fees,net_after_fees,"
            "authorized,voided,failed_count,taxes,service_fees,installments_paid,overpaid\r\n"
            "eur,adyen,0,0,0,0,0,0,0,2,,,,\r\n"
            "eur,*,0,0,0,0,0,0,0,2,0,0,0,0\r\n"
            "usd,adyen,0,500,-500,0,-500,0,0,0,,,,\r\n"
            "usd,stripe,6000,0,6000,180,5820,0,0,0,,,,\r\n"
            "usd,*,6000,500,5500,180,5320,0,0,0,0,0,0,0\r\n");
  bool disposition = false;
  for (const auto& [name, value] : r.headers)
    disposition |= name == "Content-Disposition" &&
                   value == "attachment; filename=\"financial-report-2024-03-05-2024-03-05.csv\"";
  EXPECT_TRUE(disposition);
  EXPECT_EQ(Get("from=2024-03-06&to=2024-03-06&format=csv").body,
            "currency,gateway,gross_captured,refunded,net_revenue,fees,net_after_fees,"
            "authorized,voided,failed_count,taxes,service_fees,installments_paid,overpaid\r\n")
      << "no totals: the header only";
  EXPECT_EQ(Get("from=2024-03-05&to=2024-03-05&format=json").content_type, "application/json");
}

// The invoice columns are per currency (the total row), never per gateway, and a currency
// with invoice money but no payment totals still has its entry.
TEST_F(ReportsTest, InvoiceTaxesAndServiceFeesArePerCurrency) {
  FinancialReport report{
      .merchant = kMerchant, .from = "2024-03-05", .to = "2024-03-05", .currencies = {}};
  report.currencies["USD"].total.gross_captured = 1100;
  report.currencies["USD"].by_gateway["stripe"].gross_captured = 1100;
  report.currencies["USD"].invoices = {
      .principal = 900, .taxes = 90, .service_fees = 110, .installments_paid = 1, .overpaid = 0};
  report.currencies["MYR"].invoices = {
      .principal = 0, .taxes = 0, .service_fees = 0, .installments_paid = 0, .overpaid = 25};
  const json j = FinancialReportJson(report);
  ASSERT_EQ(j["currencies"].size(), 2u);
  EXPECT_EQ(j["currencies"][0]["currency"], "myr");
  EXPECT_EQ(j["currencies"][0]["overpaid"], 25);
  EXPECT_EQ(j["currencies"][1]["taxes"], 90);
  EXPECT_EQ(j["currencies"][1]["service_fees"], 110);
  EXPECT_EQ(j["currencies"][1]["installments_paid"], 1);
  EXPECT_FALSE(j["currencies"][1]["by_gateway"][0].contains("taxes"));
  EXPECT_EQ(FinancialReportCsv(report),
            "currency,gateway,gross_captured,refunded,net_revenue,fees,net_after_fees,"
            "authorized,voided,failed_count,taxes,service_fees,installments_paid,overpaid\r\n"
            "myr,*,0,0,0,0,0,0,0,0,0,0,0,25\r\n"
            "usd,stripe,1100,0,1100,0,1100,0,0,0,,,,\r\n"
            "usd,*,1100,0,1100,0,1100,0,0,0,90,110,1,0\r\n");
}

TEST_F(ReportsTest, CsvQuotesAFieldWithACommaAQuoteOrALineBreak) {
  Put("2024-03-05", "USD", "psp,\"eu\"", "captured", 1, 100);
  Put("2024-03-05", "USD", "two\r\nlines", "captured", 1, 200);
  const std::string body = Get("from=2024-03-05&to=2024-03-05&format=csv").body;
  EXPECT_NE(body.find("\r\nusd,\"psp,\"\"eu\"\"\",100,0,100,0,100,0,0,0,,,,\r\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("\r\nusd,\"two\r\nlines\",200,0,200,0,200,0,0,0,,,,\r\n"), std::string::npos)
      << body;
  EXPECT_NE(body.find("\r\nusd,*,300,"), std::string::npos) << body;
}

TEST_F(ReportsTest, EachBadParameterIs400BadParameterNamingIt) {
  const struct {
    const char* query;
    const char* parameter;
  } cases[] = {
      {"to=2024-03-05", "from"},
      {"from=2024-03-05", "to"},
      {"", "from"},
      {"from=2024-02-30&to=2024-03-05", "from"},
      {"from=2024-3-5&to=2024-03-05", "from"},
      {"from=1709632800000&to=2024-03-05", "from"},
      {"from=2024-03-05&to=2024-03-05T00:00:00Z", "to"},
      {"from=2024-03-05&to=", "to"},
      {"from=2024-03-05&to=2024-03-04", "to"},
      {"from=2023-01-01&to=2024-01-02", "to"},
      {"from=2024-03-05&to=2024-03-05&merchant=m_other", "merchant"},
      {"from=2024-03-05&to=2024-03-05&from=2024-03-01", "from"},
      {"from=2024-03-05&to=2024-03-05&currency=ZZZ", "currency"},
      {"from=2024-03-05&to=2024-03-05&currency=us", "currency"},
      {"from=2024-03-05&to=2024-03-05&currency=", "currency"},
      {"from=2024-03-05&to=2024-03-05&format=xml", "format"},
      {"from=2024-03-05&to=2024-03-05&format=CSV", "format"},
  };
  for (const auto& c : cases) {
    http::Response r = Get(c.query);
    EXPECT_EQ(r.status, 400) << c.query;
    const json body = json::parse(r.body, nullptr, false);
    EXPECT_EQ(body["error"]["code"], "bad_parameter") << c.query << " " << r.body;
    EXPECT_EQ(body["error"]["details"]["parameter"], c.parameter) << c.query << " " << r.body;
  }
}

TEST_F(ReportsTest, TheRouteAnswers503WhileTheProjectionIsBehind) {
  Put("2024-03-05", "USD", "stripe", "captured", 1, 100);
  bool behind = true;
  auto routes = ReportRoutes(&store_, nullptr, [&behind] { return behind; });
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].first, "/v1/reports/financial");
  http::Request req;
  req.query = {{"from", "2024-03-05"}, {"to", "2024-03-05"}};
  const Principal who{.key_id = "k1", .merchant_id = kMerchant};
  http::Response r = routes[0].second(req, who);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "projection_behind");
  behind = false;
  r = routes[0].second(req, who);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["merchant"], kMerchant) << "the key's merchant";
}

}  // namespace
}  // namespace payorch::api::internal
