#include "api/internal/reports.h"

#include <optional>
#include <string_view>

#include "api/internal/objects.h"
#include "command/money.h"
#include "projection/internal/keys.h"
#include "projection/internal/time.h"
#include "projection/replay.h"

namespace payorch::api::internal {

namespace pv = ::payments::projection::v1;
using json = nlohmann::json;

namespace {

constexpr int64_t kMsPerDay = 86'400'000;
constexpr char kCsvHeader[] =
    "currency,gateway,gross_captured,refunded,net_revenue,fees,net_after_fees,authorized,"
    "voided,failed_count,taxes,service_fees,installments_paid,overpaid\r\n";

struct ReportQuery {
  std::string from;
  std::string to;
  std::string currency;  // upper case; "" = every currency
  bool csv = false;
};

http::Response BadParameter(const std::string& name, const std::string& message) {
  return http::Error(400, "bad_parameter", message, {{"parameter", name}});
}

// A required date parameter: "YYYY-MM-DD" (UTC), into `text` and `ms` (00:00 UTC).
std::optional<http::Response> DateParameter(const http::Request& req, const std::string& name,
                                            std::string* text, int64_t* ms) {
  const auto v = req.Query(name);
  if (!v) return BadParameter(name, name + " is required (a UTC date YYYY-MM-DD)");
  const auto parsed = projection::internal::ParseDate(*v);
  if (!parsed) return BadParameter(name, name + " is not a date YYYY-MM-DD");
  *text = *v;
  *ms = *parsed;
  return std::nullopt;
}

std::optional<http::Response> ParseQuery(const http::Request& req, ReportQuery* q) {
  for (const auto& [k, _] : req.query) {
    if (k != "from" && k != "to" && k != "currency" && k != "format")
      return BadParameter(k, "unknown query parameter " + k);
    if (req.query.count(k) > 1) return BadParameter(k, k + " is given more than once");
  }
  int64_t from = 0;
  int64_t to = 0;
  if (auto refused = DateParameter(req, "from", &q->from, &from)) return refused;
  if (auto refused = DateParameter(req, "to", &q->to, &to)) return refused;
  if (to < from) return BadParameter("to", "to is before from");
  if ((to - from) / kMsPerDay + 1 > kMaxReportDays)
    return BadParameter("to", "the period is over " + std::to_string(kMaxReportDays) +
                                  " days (from and to inclusive)");
  if (const auto v = req.Query("currency")) {
    std::string upper = *v;
    for (char& c : upper)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (upper.size() != 3 || FindCurrency(upper) == nullptr)
      return BadParameter("currency", "currency is not an ISO 4217 code");
    q->currency = std::move(upper);
  }
  if (const auto v = req.Query("format")) {
    if (*v != "json" && *v != "csv") return BadParameter("format", "format is json or csv");
    q->csv = *v == "csv";
  }
  return std::nullopt;
}

json AmountsJson(const ReportAmounts& a) {
  return {{"gross_captured", a.gross_captured},
          {"refunded", a.refunded},
          {"net_revenue", a.net_revenue()},
          {"fees", a.fees},
          {"net_after_fees", a.net_after_fees()},
          {"authorized", a.authorized},
          {"voided", a.voided},
          {"failed_count", a.failed_count}};
}

// `invoices`: the currency's invoice columns (its total row); nullptr: empty fields (a
// gateway's row: invoice money is not split by gateway).
void CsvRow(std::string_view currency, std::string_view gateway, const ReportAmounts& a,
            const InvoiceMoney* invoices, std::string* out) {
  out->append(projection::CsvField(currency)).append(",").append(projection::CsvField(gateway));
  for (int64_t v : {a.gross_captured, a.refunded, a.net_revenue(), a.fees, a.net_after_fees(),
                    a.authorized, a.voided, a.failed_count})
    out->append(",").append(std::to_string(v));
  for (int64_t v : {invoices ? invoices->taxes : 0, invoices ? invoices->service_fees : 0,
                    invoices ? invoices->installments_paid : 0, invoices ? invoices->overpaid : 0})
    out->append(",").append(invoices ? std::to_string(v) : "");
  out->append("\r\n");
}

}  // namespace

void ReportAmounts::Add(const pv::DailyTotal& t) {
  const std::string& outcome = t.outcome();
  if (outcome == "captured") {
    gross_captured += t.amount_minor();
    fees += t.fee_minor();  // the projector charges fees on captured money only
  } else if (outcome == "refunded") {
    refunded += t.amount_minor();
  } else if (outcome == "authorized") {
    authorized += t.amount_minor();
  } else if (outcome == "voided") {
    voided += t.amount_minor();
  } else if (outcome.starts_with("failed_")) {
    failed_count += t.count();
  }
}

void ReadFinancialReport(const projection::ProjectionStore& store, const std::string& currency,
                         FinancialReport* report) {
  const std::string prefix = projection::internal::DailyMerchantPrefix(report->merchant);
  const std::string start = projection::internal::DailyPrefix(report->merchant, report->from);
  store.Scan(prefix, start, [&](std::string_view key, std::string_view value) {
    // <date>\0<currency>\0<processor>\0<outcome>: the keys are in date order.
    const std::string_view rest = key.substr(prefix.size());
    if (rest.substr(0, rest.find('\0')) > report->to) return false;
    pv::DailyTotal t;
    if (!t.ParseFromArray(value.data(), static_cast<int>(value.size()))) return true;
    if (!currency.empty() && t.currency() != currency) return true;
    CurrencyReport& c = report->currencies[t.currency()];
    c.total.Add(t);
    c.by_gateway[t.processor_id()].Add(t);
    return true;
  });
}

json FinancialReportJson(const FinancialReport& report) {
  json currencies = json::array();
  for (const auto& [code, c] : report.currencies) {
    json entry = AmountsJson(c.total);
    entry["currency"] = Lower(code);
    json gateways = json::array();
    for (const auto& [gateway, amounts] : c.by_gateway) {
      json g = AmountsJson(amounts);
      g["gateway"] = gateway;
      gateways.push_back(std::move(g));
    }
    entry["by_gateway"] = std::move(gateways);
    entry["taxes"] = c.invoices.taxes;
    entry["service_fees"] = c.invoices.service_fees;
    entry["installments_paid"] = c.invoices.installments_paid;
    entry["overpaid"] = c.invoices.overpaid;
    currencies.push_back(std::move(entry));
  }
  return {{"object", "financial_report"},
          {"merchant", report.merchant},
          {"from", report.from},
          {"to", report.to},
          {"currencies", std::move(currencies)}};
}

std::string FinancialReportCsv(const FinancialReport& report) {
  std::string out = kCsvHeader;
  for (const auto& [code, c] : report.currencies) {
    const std::string currency = Lower(code);
    for (const auto& [gateway, amounts] : c.by_gateway) {
      CsvRow(currency, gateway, amounts, nullptr, &out);
    }
    CsvRow(currency, "*", c.total, &c.invoices, &out);
  }
  return out;
}

http::Response FinancialReportAnswer(const projection::ProjectionStore& store,
                                     const AggregateFollower* invoices,
                                     const http::Request& request, const std::string& merchant) {
  ReportQuery q;
  if (auto refused = ParseQuery(request, &q)) return *refused;
  FinancialReport report{.merchant = merchant, .from = q.from, .to = q.to, .currencies = {}};
  ReadFinancialReport(store, q.currency, &report);
  if (invoices != nullptr) {
    for (const auto& [code, money] : invoices->InvoiceTotals(merchant, q.from, q.to)) {
      if (q.currency.empty() || code == q.currency) report.currencies[code].invoices = money;
    }
  }
  if (!q.csv) return http::Json(200, FinancialReportJson(report));
  http::Response r;
  r.status = 200;
  r.content_type = "text/csv; charset=utf-8";
  r.body = FinancialReportCsv(report);
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"financial-report-" +
                                                    q.from + "-" + q.to + ".csv\"");
  return r;
}

std::vector<std::pair<std::string, ReportsHandler>> ReportRoutes(
    const projection::ProjectionStore* store, const AggregateFollower* invoices,
    std::function<bool()> behind) {
  return {{"/v1/reports/financial", [store, invoices, behind = std::move(behind)](
                                        const http::Request& r, const Principal& w) {
             if (behind && behind())
               return http::Error(503, "projection_behind", "reports are catching up; retry");
             return FinancialReportAnswer(*store, invoices, r, w.merchant_id);
           }}};
}

}  // namespace payorch::api::internal
