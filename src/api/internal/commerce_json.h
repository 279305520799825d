// Invoices and orders as the merchant API shows them (internal): the request bodies of the
// invoice, order and checkout routes as the cores' commands, the folded states as JSON
// objects, and the one table from a core's RejectReason to an HTTP status. Pure: no I/O,
// no state. Money is int64 minor units of the object's currency; dates are "YYYY-MM-DD".
//
//   ord::CreateOrder create;
//   CheckoutPayment pay;
//   if (auto refused = ParseCheckout(body, merchant, &create, &pay)) return *refused;  // 422
//   ...
//   json order = OrderObject(*follower.Order(order_id));
//   if (d.rejected()) return AggregateRejection(d);  // 404 / 409 / 422, documented shape
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/internal/aggregates.h"
#include "http/server.h"
#include "invoice/state.h"
#include "order/state.h"
#include "payments/invoices/v1/invoices.pb.h"
#include "payments/orders/v1/orders.pb.h"

namespace payorch::api::internal {

// The HTTP status of a rejection reason of either core (the name without REJECT_REASON_):
// 404 when the invoice or order does not exist or is another merchant's, 409 when the
// aggregate's state refuses the command (a conflict: it may pass later or never), 422 for
// everything else (the request itself is invalid).
[[nodiscard]] int StatusForReason(std::string_view reason);

// A rejected command as the documented error: status by StatusForReason, code the reason
// in lower case, details {reason, detail, command_type}.
[[nodiscard]] http::Response AggregateRejection(const AggregateDecision& d);

// What POST /v1/checkout says about the payment besides the order.
struct CheckoutPayment {
  std::string payment_method;  // card, apple_pay, google_pay, bank_transfer
  std::string capture_method;  // automatic (default) or manual
};

// POST /v1/checkout's body as a CreateOrder of `merchant_id` and the payment's method, or
// the 422 answer naming every bad field.
std::optional<http::Response> ParseCheckout(const nlohmann::json& body,
                                            const std::string& merchant_id,
                                            ::payments::orders::v1::CreateOrder* order,
                                            CheckoutPayment* payment);

// POST /v1/invoices's body as a CreateInvoice of `merchant_id`, or the 422 answer.
std::optional<http::Response> ParseCreateInvoice(const nlohmann::json& body,
                                                 const std::string& merchant_id,
                                                 ::payments::invoices::v1::CreateInvoice* out);

// POST /v1/invoices/{id}/payments's body.
struct InvoicePaymentRequest {
  uint32_t installment = 0;
  std::string payment_method;
  std::optional<int64_t> amount;  // default: the installment's outstanding amount
};
std::optional<http::Response> ParseInvoicePayment(const nlohmann::json& body,
                                                  InvoicePaymentRequest* out);

// POST /v1/invoices/{id}/supplementary's body (supplementary_invoice_id stays empty when
// absent: the caller derives one).
std::optional<http::Response> ParseSupplementary(const nlohmann::json& body,
                                                 ::payments::invoices::v1::IssueSupplementary* out);

// POST /v1/invoices/{id}/cancel and /close: {reason} (required).
std::optional<http::Response> ParseReason(const nlohmann::json& body, std::string* reason);

// "YYYY-MM-DD" (the core checks the date is real).
[[nodiscard]] std::optional<::payments::invoices::v1::CalendarDate> ParseDate(
    std::string_view text);

// The merchant-facing objects.
[[nodiscard]] nlohmann::json OrderObject(const order::OrderState& s);
[[nodiscard]] nlohmann::json InvoiceObject(const invoice::InvoiceState& s);

}  // namespace payorch::api::internal
