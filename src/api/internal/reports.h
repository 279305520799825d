// Financial reports of the merchant API (issue 21 item 5): a merchant's money over a period
// of UTC days, per currency and per gateway, from the projection's daily totals (keys
// d/<merchant>\0<YYYY-MM-DD>\0<currency>\0<processor>\0<outcome>, docs/projection.md).
// Amounts are integers in minor units; different currencies are never added together.
//
//   GET /v1/reports/financial?from=YYYY-MM-DD&to=YYYY-MM-DD[&currency=usd][&format=csv]
//     {object: "financial_report", merchant, from, to, currencies: [...]}
//     or CSV: currency,gateway,gross_captured,...; one row per (currency, gateway) and a
//     total row per currency (gateway "*")
//
// What each amount counts (per currency, and per gateway within it):
//   gross_captured  money captured (captures, and sales, which capture as they authorize)
//   refunded        money refunded
//   net_revenue     gross_captured - refunded
//   fees            processor fees, charged on captured money only (ProjectorOptions::fee_bps)
//   net_after_fees  net_revenue - fees
//   authorized      money authorized (sales included), voided: authorizations released
//   failed_count    gateway attempts that failed (outcomes failed_<error>)
// and per currency only (not per gateway), from the invoices (AggregateFollower::
// InvoiceTotals, cash basis: on the day an installment was paid):
//   taxes, service_fees, installments_paid   the paid installments' schedule columns
//   overpaid        money received beyond what an installment needed
//
// Handlers only read the store. Bounded: the scan starts at `from` and stops past `to`, at
// most kMaxReportDays days, so at most days x currencies x gateways x outcomes records.
//
//   http::Response r = FinancialReportAnswer(store, request, "m_shop");
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/internal/aggregates.h"
#include "api/keys.h"
#include "http/server.h"
#include "payments/projection/v1/views.pb.h"
#include "projection/store.h"

namespace payorch::api::internal {

// The longest period a report covers, in days (from and to inclusive).
inline constexpr int kMaxReportDays = 366;

// The money of one currency (and one gateway, or all of them), in minor units.
struct ReportAmounts {
  int64_t gross_captured = 0;
  int64_t refunded = 0;
  int64_t fees = 0;
  int64_t authorized = 0;
  int64_t voided = 0;
  int64_t failed_count = 0;
  [[nodiscard]] int64_t net_revenue() const { return gross_captured - refunded; }
  [[nodiscard]] int64_t net_after_fees() const { return net_revenue() - fees; }
  // Adds a daily total of this currency (and gateway) by its outcome.
  void Add(const ::payments::projection::v1::DailyTotal& total);
};

struct CurrencyReport {
  ReportAmounts total;
  // From the invoices of the currency (paid installments' columns, overpayments).
  InvoiceMoney invoices;
  std::map<std::string, ReportAmounts> by_gateway;  // by processor id
};

struct FinancialReport {
  std::string merchant;
  std::string from;                                  // YYYY-MM-DD, inclusive
  std::string to;                                    // YYYY-MM-DD, inclusive
  std::map<std::string, CurrencyReport> currencies;  // by upper-case ISO 4217 code
};

// Reads `report->merchant`'s daily totals from `report->from` to `report->to` (valid dates,
// from <= to) into `report`; only `currency` (upper case) unless it is empty.
void ReadFinancialReport(const projection::ProjectionStore& store, const std::string& currency,
                         FinancialReport* report);

// The report as the merchant API's JSON object, and as CSV (RFC 4180: CRLF, a header line,
// fields quoted when they hold a comma, a quote or a line break).
[[nodiscard]] nlohmann::json FinancialReportJson(const FinancialReport& report);
[[nodiscard]] std::string FinancialReportCsv(const FinancialReport& report);

// GET /v1/reports/financial of `merchant`: 200 (JSON, or text/csv with format=csv), or 400
// bad_parameter (details.parameter) for a missing, malformed or unknown parameter, a
// parameter given twice, to before from, or a period over kMaxReportDays.
// `invoices` (may be null: no invoice columns) adds the invoices' taxes and service fees.
[[nodiscard]] http::Response FinancialReportAnswer(const projection::ProjectionStore& store,
                                                   const AggregateFollower* invoices,
                                                   const http::Request& request,
                                                   const std::string& merchant);

// The route above as (path regex, handler of an authenticated merchant), for
// MerchantApi::Mount: 503 projection_behind while `behind()`, else FinancialReportAnswer.
using ReportsHandler = std::function<http::Response(const http::Request&, const Principal&)>;
[[nodiscard]] std::vector<std::pair<std::string, ReportsHandler>> ReportRoutes(
    const projection::ProjectionStore* store, const AggregateFollower* invoices,
    std::function<bool()> behind);

}  // namespace payorch::api::internal
