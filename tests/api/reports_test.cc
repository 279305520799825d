// GET /v1/reports/financial over real HTTP, against `payorch run --http --merchant-api` on a
// `payorch broker` (issue 21 item 5): payments created, captured and refunded through the
// API appear in the merchant's report for today's UTC date, per currency and per gateway,
// in JSON and CSV, once the projection has committed them; another merchant sees none.
#include <ctime>

#include "api/e2e_support.h"

namespace payorch::api::testing {
namespace {

// Today's UTC date, YYYY-MM-DD.
std::string UtcToday() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

const json* CurrencyOf(const json& report, const std::string& code) {
  if (!report.is_object() || !report.contains("currencies")) return nullptr;
  for (const json& c : report["currencies"])
    if (c["currency"] == code) return &c;
  return nullptr;
}

TEST(Reports, CapturedMoneyThroughTheApiIsInTodaysReportPerCurrency) {
  Stack stack("reports");
  ASSERT_TRUE(stack.StartBroker());
  const int port = stack.StartRun("wait_ms: 5000\nrate_limit: {per_second: 1000, burst: 1000}\n");
  ASSERT_NE(port, 0) << payorch::testing::ReadFile((stack.dir / "run1.log").string());
  const std::string key = stack.NewKey("m_cobranded");
  ASSERT_FALSE(key.empty());
  Client c("127.0.0.1", port);
  const std::string from = UtcToday();  // the events' dates fall between from and to

  // An automatic capture (a sale) and a manual one, captured in part; a refund; and EUR.
  Reply sale = c.Post(
      "/v1/payments", key, "rep-1",
      {{"amount", 1200}, {"currency", "USD"}, {"payment_method", "card"}, {"confirm", true}});
  ASSERT_EQ(sale.status, 201) << sale.raw;
  Reply manual = c.Post("/v1/payments", key, "rep-2",
                        {{"amount", 3000},
                         {"currency", "USD"},
                         {"payment_method", "card"},
                         {"capture_method", "manual"},
                         {"confirm", true}});
  ASSERT_EQ(manual.status, 201) << manual.raw;
  ASSERT_EQ(manual.body["status"], "requires_capture") << manual.raw;
  const std::string id = manual.body["id"];
  Reply captured = c.Post("/v1/payments/" + id + "/capture", key, "rep-2-capture",
                          {{"amount", 2000}, {"final_capture", true}});
  ASSERT_EQ(captured.status, 200) << captured.raw;
  ASSERT_EQ(captured.body["amount_received"], 2000) << captured.raw;
  Reply refund =
      c.Post("/v1/refunds", key, "rep-2-refund", {{"payment_intent", id}, {"amount", 500}});
  ASSERT_EQ(refund.status, 200) << refund.raw;
  Reply eur =
      c.Post("/v1/payments", key, "rep-3",
             {{"amount", 900}, {"currency", "EUR"}, {"payment_method", "card"}, {"confirm", true}});
  ASSERT_EQ(eur.status, 201) << eur.raw;
  const std::string to = UtcToday();

  const std::string query = "/v1/reports/financial?from=" + from + "&to=" + to;
  Reply report;
  const auto complete = [&] {
    report = c.Get(query, key);
    const json* usd = CurrencyOf(report.body, "usd");
    const json* euro = CurrencyOf(report.body, "eur");
    return report.status == 200 && usd && euro && (*usd)["gross_captured"] == 3200 &&
           (*usd)["refunded"] == 500 && (*euro)["gross_captured"] == 900;
  };
  ASSERT_TRUE(Eventually(complete, std::chrono::seconds(20))) << report.status << " " << report.raw;
  EXPECT_EQ(report.body["object"], "financial_report");
  EXPECT_EQ(report.body["merchant"], "m_cobranded");
  EXPECT_EQ(CurrencyOf(report.body, "usd")->value("taxes", -1), 0) << "no invoice paid";
  ASSERT_EQ(report.body["currencies"].size(), 2u) << report.raw;
  const json& usd = *CurrencyOf(report.body, "usd");
  EXPECT_EQ(usd["net_revenue"], 2700);
  EXPECT_EQ(usd["fees"], 0) << "no fees configured";
  EXPECT_EQ(usd["net_after_fees"], 2700);
  EXPECT_EQ(usd["authorized"], 4200) << "the sale and the manual authorization";
  EXPECT_EQ(usd["failed_count"], 0);
  ASSERT_EQ(usd["by_gateway"].size(), 1u) << usd.dump();
  EXPECT_EQ(usd["by_gateway"][0]["gateway"], "cobranded_card");
  EXPECT_EQ(usd["by_gateway"][0]["gross_captured"], 3200);
  EXPECT_FALSE(report.headers.find("Payorch-Version") == report.headers.end());

  Reply csv = c.Get(query + "&format=csv", key);
  ASSERT_EQ(csv.status, 200) << csv.raw;
  EXPECT_EQ(csv.headers.find("Content-Type")->second, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.raw,
            "currency,gateway,gross_captured,refunded,net_revenue,fees,net_after_fees,"
            "authorized,voided,failed_count,taxes,service_fees,installments_paid,overpaid\r\n"
            "eur,cobranded_card,900,0,900,0,900,900,0,0,,,,\r\n"
            "eur,*,900,0,900,0,900,900,0,0,0,0,0,0\r\n"
            "usd,cobranded_card,3200,500,2700,0,2700,4200,0,0,,,,\r\n"
            "usd,*,3200,500,2700,0,2700,4200,0,0,0,0,0,0\r\n");

  // Another merchant's report is its own (empty); a bad period is 400 with its param.
  const std::string other = stack.NewKey("m_wallet");
  ASSERT_FALSE(other.empty());
  Reply theirs = c.Get(query, other);
  ASSERT_EQ(theirs.status, 200) << theirs.raw;
  EXPECT_EQ(theirs.body["currencies"], json::array());
  Reply bad = c.Get("/v1/reports/financial?from=" + to + "&to=2000-01-01", key);
  EXPECT_EQ(bad.status, 400) << bad.raw;
  EXPECT_EQ(bad.body["error"]["code"], "bad_parameter") << bad.raw;
  EXPECT_EQ(bad.body["error"]["param"], "to") << bad.raw;
  EXPECT_EQ(bad.body["error"]["type"], "invalid_request_error") << bad.raw;
  EXPECT_EQ(c.Get(query, "").status, 401);
}

}  // namespace
}  // namespace payorch::api::testing
