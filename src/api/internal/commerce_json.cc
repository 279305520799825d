#include "api/internal/commerce_json.h"

#include <cstdio>
#include <limits>
#include <utility>

#include "api/internal/answers.h"
#include "api/internal/objects.h"
#include "command/money.h"

namespace payorch::api::internal {

namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;
namespace types = ::payments::types::v1;
using json = nlohmann::json;

namespace {

// Reasons that are not 422. One row per reason name; both cores name theirs alike.
constexpr std::pair<std::string_view, int> kReasonStatus[] = {
    {"INVOICE_UNKNOWN", 404},          {"ORDER_UNKNOWN", 404},
    {"MERCHANT_MISMATCH", 404},  // another merchant's: as if it did not exist
    {"INVOICE_EXISTS", 409},           {"ORDER_EXISTS", 409},
    {"TRANSITION_NOT_ALLOWED", 409},   {"LINE_ITEMS_FROZEN", 409},
    {"LINE_ITEMS_NOT_FROZEN", 409},    {"INSTALLMENT_ALREADY_PAID", 409},
    {"INSTALLMENT_OUT_OF_ORDER", 409}, {"PAYMENT_IN_FLIGHT", 409},
    {"PAYMENT_ALREADY_LINKED", 409},   {"PAYMENT_NOT_LINKED", 409},
    {"PAYMENT_ALREADY_SETTLED", 409},  {"PAYMENT_FACT_STALE", 409},
    {"SUPPLEMENTARY_EXISTS", 409},     {"AMOUNT_MISMATCH", 409},
};

std::string StatusSlug(std::string name, std::string_view prefix) {
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  return Lower(std::move(name));
}

std::string DateText(int32_t year, uint32_t month, uint32_t day) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", year, month, day);
  return buf;
}

json DateJson(const std::optional<invoice::Date>& d) {
  return d ? json(DateText(d->year, d->month, d->day)) : json(nullptr);
}

json LineJson(const PricedLineItem& l) {
  return {{"product_id", l.product_id},
          {"description", l.description},
          {"quantity", l.quantity},
          {"unit_price", l.unit_price_minor},
          {"tax_rate_bps", l.tax_rate_bps},
          {"net", l.net_minor},
          {"tax", l.tax_minor}};
}

json LinesJson(const std::vector<PricedLineItem>& lines) {
  json out = json::array();
  for (const auto& l : lines) out.push_back(LineJson(l));
  return out;
}

json OrNull(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// An integer member from `min` to `max`.
std::optional<int64_t> Bounded(const json& body, const char* name, const std::string& field,
                               bool required, int64_t min, int64_t max, FieldErrors* errs) {
  if (!body.contains(name)) {
    if (required) errs->Add(field, "missing", "required");
    return std::nullopt;
  }
  const json& v = body[name];
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max) {
    errs->Add(field, "invalid_value",
              "an integer from " + std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  }
  return v.get<int64_t>();
}

std::optional<std::string> Text(const json& body, const char* name, const std::string& field,
                                bool required, FieldErrors* errs) {
  if (!body.contains(name)) {
    if (required) errs->Add(field, "missing", "required");
    return std::nullopt;
  }
  if (!body[name].is_string()) {
    errs->Add(field, "invalid_type", "a string is required");
    return std::nullopt;
  }
  return body[name].get<std::string>();
}

// line_items[] into `out` (OrderLineItem or LineItem: the same fields). The values are the
// core's to check (price precision, rate and total ranges); here shapes and integer ranges,
// the quantity's and unit price's lower bound of 1 included.
template <class Item, class Repeated>
void ParseLines(const json& body, Repeated* out, FieldErrors* errs) {
  if (!body.contains("line_items")) {
    errs->Add("line_items", "missing", "required");
    return;
  }
  const json& items = body["line_items"];
  if (!items.is_array() || items.empty()) {
    errs->Add("line_items", "invalid_type", "a non-empty array of line items");
    return;
  }
  if (items.size() > kMaxLineItems) {
    errs->Add("line_items", "too_many", "at most " + std::to_string(kMaxLineItems) + " items");
    return;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string at = "line_items[" + std::to_string(i) + "]";
    const json& it = items[i];
    if (!it.is_object()) {
      errs->Add(at, "invalid_type", "a line item object");
      continue;
    }
    for (const auto& [k, _] : it.items())
      if (k != "product_id" && k != "description" && k != "quantity" && k != "unit_price" &&
          k != "tax_rate_bps")
        errs->Add(std::string(at).append(".").append(k), "unknown_field",
                  "not a field of a line item");
    Item* item = out->Add();
    if (auto v = Text(it, "product_id", at + ".product_id", false, errs)) item->set_product_id(*v);
    if (auto v = Text(it, "description", at + ".description", false, errs))
      item->set_description(*v);
    if (auto v = Bounded(it, "quantity", at + ".quantity", true, 1, kMaxLineQuantity, errs))
      item->set_quantity(*v);
    if (auto v = Bounded(it, "unit_price", at + ".unit_price", true, 1, kMaxAmountMinor, errs))
      item->set_unit_price_minor(*v);
    if (auto v = Bounded(it, "tax_rate_bps", at + ".tax_rate_bps", false, 0, kMaxRateBps, errs))
      item->set_tax_rate_bps(static_cast<uint32_t>(*v));
  }
}

std::optional<std::string> Method(const json& body, FieldErrors* errs) {
  const types::PaymentMethod m = MethodField(body, true, errs);
  if (m == types::PAYMENT_METHOD_UNSPECIFIED) return std::nullopt;
  return body["payment_method"].get<std::string>();
}

}  // namespace

int StatusForReason(std::string_view reason) {
  for (const auto& [name, status] : kReasonStatus)
    if (name == reason) return status;
  return 422;
}

http::Response AggregateRejection(const AggregateDecision& d) {
  const std::string code = Lower(d.rejection);
  return http::Error(StatusForReason(d.rejection), code,
                     d.detail.empty() ? "the command was rejected: " + code : d.detail,
                     {{"reason", code}, {"detail", d.detail}, {"command_type", d.command_type}});
}

std::optional<inv::CalendarDate> ParseDate(std::string_view text) {
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  if (std::sscanf(std::string(text).c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3)
    return std::nullopt;
  inv::CalendarDate out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

std::optional<http::Response> ParseCheckout(const json& body, const std::string& merchant_id,
                                            ord::CreateOrder* order, CheckoutPayment* payment) {
  FieldErrors errs;
  CheckKnown(body,
             {"currency", "line_items", "customer_reference", "payment_method", "capture_method"},
             &errs);
  auto currency = Text(body, "currency", "currency", true, &errs);
  ParseLines<ord::OrderLineItem>(body, order->mutable_line_items(), &errs);
  auto reference = Text(body, "customer_reference", "customer_reference", false, &errs);
  auto method = Method(body, &errs);
  auto capture = Text(body, "capture_method", "capture_method", false, &errs);
  if (capture && *capture != "automatic" && *capture != "manual")
    errs.Add("capture_method", "invalid_value", "automatic or manual");
  if (!errs.empty()) return errs.Response();
  order->set_merchant_id(merchant_id);
  order->set_currency(*currency);
  if (reference) order->set_customer_reference(*reference);
  payment->payment_method = *method;
  payment->capture_method = capture.value_or("automatic");
  return std::nullopt;
}

std::optional<http::Response> ParseCreateInvoice(const json& body, const std::string& merchant_id,
                                                 inv::CreateInvoice* out) {
  FieldErrors errs;
  CheckKnown(
      body,
      {"currency", "line_items", "service_fee", "installments", "due_date", "customer_reference"},
      &errs);
  auto currency = Text(body, "currency", "currency", true, &errs);
  ParseLines<inv::LineItem>(body, out->mutable_line_items(), &errs);
  auto reference = Text(body, "customer_reference", "customer_reference", false, &errs);
  if (body.contains("service_fee")) {
    const json& f = body["service_fee"];
    if (!f.is_object()) {
      errs.Add("service_fee", "invalid_type", "an object {fixed, rate_bps}");
    } else {
      for (const auto& [k, _] : f.items())
        if (k != "fixed" && k != "rate_bps")
          errs.Add("service_fee." + k, "unknown_field", "not a field of service_fee");
      if (auto v = Bounded(f, "fixed", "service_fee.fixed", false, 0, kMaxAmountMinor, &errs))
        out->mutable_service_fee()->set_fixed_minor(*v);
      if (auto v = Bounded(f, "rate_bps", "service_fee.rate_bps", false, 0, kMaxRateBps, &errs))
        out->mutable_service_fee()->set_rate_bps(static_cast<uint32_t>(*v));
    }
  }
  if (body.contains("installments")) {
    const json& p = body["installments"];
    if (!p.is_object()) {
      errs.Add("installments", "invalid_type", "an object {count, due_dates, weights?}");
    } else {
      for (const auto& [k, _] : p.items())
        if (k != "count" && k != "due_dates" && k != "weights")
          errs.Add("installments." + k, "unknown_field", "not a field of installments");
      auto* plan = out->mutable_installment_plan();
      if (auto v = Bounded(p, "count", "installments.count", true, 0, 1000, &errs))
        plan->set_count(static_cast<uint32_t>(*v));
      if (!p.contains("due_dates") || !p["due_dates"].is_array() || p["due_dates"].size() > 1000) {
        errs.Add("installments.due_dates", "invalid_type", "an array of YYYY-MM-DD dates");
      } else {
        for (size_t i = 0; i < p["due_dates"].size(); ++i) {
          const json& d = p["due_dates"][i];
          auto date = d.is_string() ? ParseDate(d.get<std::string>()) : std::nullopt;
          if (!date)
            errs.Add("installments.due_dates[" + std::to_string(i) + "]", "invalid_value",
                     "a date YYYY-MM-DD");
          else
            *plan->add_due_dates() = *date;
        }
      }
      if (p.contains("weights")) {
        if (!p["weights"].is_array() || p["weights"].size() > 1000) {
          errs.Add("installments.weights", "invalid_type", "an array of integers");
        } else {
          for (size_t i = 0; i < p["weights"].size(); ++i) {
            const json& w = p["weights"][i];
            if (!w.is_number_integer() || w.get<int64_t>() < 0 ||
                w.get<int64_t>() > std::numeric_limits<uint32_t>::max())
              errs.Add("installments.weights[" + std::to_string(i) + "]", "invalid_value",
                       "a positive integer");
            else
              plan->add_weights(static_cast<uint32_t>(w.get<int64_t>()));
          }
        }
      }
    }
  }
  if (body.contains("due_date")) {
    const json& d = body["due_date"];
    auto date = d.is_string() ? ParseDate(d.get<std::string>()) : std::nullopt;
    if (!date)
      errs.Add("due_date", "invalid_value", "a date YYYY-MM-DD");
    else
      *out->mutable_due_date() = *date;
  }
  if (!errs.empty()) return errs.Response();
  out->set_merchant_id(merchant_id);
  out->set_currency(*currency);
  if (reference) out->set_customer_reference(*reference);
  return std::nullopt;
}

std::optional<http::Response> ParseInvoicePayment(const json& body, InvoicePaymentRequest* out) {
  FieldErrors errs;
  CheckKnown(body, {"installment", "payment_method", "amount"}, &errs);
  auto installment = Bounded(body, "installment", "installment", true, 0, 1000, &errs);
  auto method = Method(body, &errs);
  auto amount = IntField(body, "amount", false, &errs);
  if (!errs.empty()) return errs.Response();
  out->installment = static_cast<uint32_t>(*installment);
  out->payment_method = *method;
  out->amount = amount;
  return std::nullopt;
}

std::optional<http::Response> ParseSupplementary(const json& body, inv::IssueSupplementary* out) {
  FieldErrors errs;
  CheckKnown(body, {"supplementary_invoice_id", "line_items", "reason"}, &errs);
  auto id = Text(body, "supplementary_invoice_id", "supplementary_invoice_id", false, &errs);
  ParseLines<inv::LineItem>(body, out->mutable_line_items(), &errs);
  auto reason = Text(body, "reason", "reason", true, &errs);
  if (!errs.empty()) return errs.Response();
  if (id) out->set_supplementary_invoice_id(*id);
  out->set_reason(*reason);
  return std::nullopt;
}

std::optional<http::Response> ParseReason(const json& body, std::string* reason) {
  FieldErrors errs;
  CheckKnown(body, {"reason"}, &errs);
  auto r = Text(body, "reason", "reason", true, &errs);
  if (!errs.empty()) return errs.Response();
  *reason = *r;
  return std::nullopt;
}

json OrderObject(const order::OrderState& s) {
  json payments = json::array();
  for (const auto& p : s.payments)
    payments.push_back({{"payment_id", p.payment_id}, {"amount", p.amount_minor}});
  return {{"id", s.order_id},
          {"object", "order"},
          {"status", StatusSlug(ord::OrderStatus_Name(s.status), "ORDER_STATUS_")},
          {"currency", s.currency},
          {"customer_reference", OrNull(s.customer_reference)},
          {"line_items", LinesJson(s.lines)},
          {"subtotal", s.subtotal_minor},
          {"tax", s.tax_minor},
          {"total", s.total_minor},
          {"payment_id", OrNull(s.payment_id)},
          {"amount_authorized", s.authorized_minor},
          {"amount_captured", s.captured_minor},
          {"amount_refunded", s.refunded_minor},
          {"payments", std::move(payments)},
          {"cancel_reason", OrNull(s.cancel_reason)}};
}

json InvoiceObject(const invoice::InvoiceState& s) {
  json installments = json::array();
  for (const auto& i : s.installments)
    installments.push_back({{"number", i.row.number},
                            {"due_date", DateJson(i.row.due_date)},
                            {"principal", i.row.columns.principal_minor},
                            {"tax", i.row.columns.tax_minor},
                            {"service_fee", i.row.columns.fee_minor},
                            {"total", i.total_minor()},
                            {"amount_paid", i.paid_minor},
                            {"outstanding", i.outstanding_minor()},
                            {"paid", i.paid}});
  json payments = json::array();
  for (const auto& p : s.payments)
    payments.push_back({{"payment_id", p.payment_id},
                        {"installment", p.installment},
                        {"amount", p.amount_minor},
                        {"captured", p.captured_minor},
                        {"applied", p.applied_minor},
                        {"released", p.released},
                        {"pending", s.IsPending(p)}});
  json supplementaries = json::array();
  for (const auto& r : s.supplementaries) supplementaries.push_back(r.supplementary_invoice_id);
  return {{"id", s.invoice_id},
          {"object", "invoice"},
          {"status", StatusSlug(inv::InvoiceStatus_Name(s.status), "INVOICE_STATUS_")},
          {"currency", s.currency},
          {"customer_reference", OrNull(s.customer_reference)},
          {"supplements_invoice_id", OrNull(s.supplements_invoice_id)},
          {"line_items", LinesJson(s.lines)},
          {"service_fee", {{"fixed", s.fee.fixed_minor}, {"rate_bps", s.fee.rate_bps}}},
          {"subtotal", s.totals.principal_minor},
          {"tax", s.totals.tax_minor},
          {"service_fee_amount", s.totals.fee_minor},
          {"total", s.total_minor()},
          {"amount_paid", s.paid_minor},
          {"amount_overpaid", s.overpaid_minor},
          {"due_date", DateJson(s.due_date)},
          {"installments", std::move(installments)},
          {"payments", std::move(payments)},
          {"supplementary_invoices", std::move(supplementaries)},
          {"close_reason", OrNull(s.close_reason)},
          {"cancel_reason", OrNull(s.cancel_reason)}};
}

}  // namespace payorch::api::internal
