// The merchant API's objects: the one place that maps payorch's read models
// (payments.projection.v1.PaymentView, built from the log's Protobuf events, which do not
// change) to the Stripe-style objects merchants see (docs/merchant-api.md, "Objects").
//
//   json intent = PaymentIntent(view, metadata);   // {"id", "object": "payment_intent", ...}
//   std::string s = PublicStatus(ev::PAYMENT_STATUS_FAILED, 0);   // "requires_payment_method"
//
// Pure functions: no I/O, no clock. Internals (plan, request_hash, partition,
// last_sequence, rejected_commands, attempts) stay on the internal query API.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "payments/events/v1/events.pb.h"
#include "payments/projection/v1/views.pb.h"

namespace payorch::api::internal {

// `s` with ASCII letters in lower case (currencies, enum names as public values).
std::string Lower(std::string s);

// The version the API answers with (Payorch-Version header): the date of the last
// incompatible change of the objects or errors.
inline constexpr const char* kApiVersion = "2026-12-05";

// requires_confirmation, processing, requires_capture, succeeded, requires_payment_method
// (a FAILED payment that processed nothing: command::AwaitsPaymentMethod) or canceled (a
// CANCELED or VOIDED payment, or a FAILED one that processed part of its amount, with
// cancellation_reason saying why). `authorized` is the view's authorized_minor.
[[nodiscard]] std::string PublicStatus(::payments::events::v1::PaymentStatus status,
                                       int64_t authorized);

// The PaymentIntent object of a payment. `metadata` is what the merchant sent at creation
// (an object of strings; null for none).
[[nodiscard]] nlohmann::json PaymentIntent(const ::payments::projection::v1::PaymentView& v,
                                           const nlohmann::json& metadata);
// PaymentIntent(v, metadata).dump(), byte for byte, with `metadata_text` the metadata's
// JSON text ("" for none), written directly rather than through nlohmann::json's tree of
// maps (the hot path of every POST and GET of a payment).
// Appends `s` as a JSON string, written as nlohmann::json's dump() writes it.
void AppendJsonString(std::string* out, std::string_view s);
[[nodiscard]] std::string PaymentIntentJson(const ::payments::projection::v1::PaymentView& v,
                                            const std::string& metadata_text);

// Refunds. The core names a refund "ref_<32 hex>" (a hash of the payment id and the
// refund's Idempotency-Key; RefundStarted.refund_id, the prefix of its operations' keys).
// The public id is "re_<those hex>_<payment id>", so the payment of a refund is found
// without an index: PublicRefundId / ParseRefundId.
struct RefundRef {
  std::string payment_id;
  std::string refund_id;  // the core's, "ref_..."
};
[[nodiscard]] std::string PublicRefundId(const std::string& payment_id,
                                         const std::string& refund_id);
[[nodiscard]] std::optional<RefundRef> ParseRefundId(const std::string& public_id);

// The Refund object of `refund_id` (the core's id) from the payment's refund operations,
// or null if the view has none. status: pending until every part is answered, succeeded
// when every part succeeded, failed if any part failed or expired.
[[nodiscard]] nlohmann::json Refund(const ::payments::projection::v1::PaymentView& v,
                                    const std::string& refund_id);
// Every refund of the payment, oldest first.
[[nodiscard]] nlohmann::json Refunds(const ::payments::projection::v1::PaymentView& v);

// {type, code, decline_code, message} of the payment's last step attempt if it failed,
// else null.
[[nodiscard]] nlohmann::json LastPaymentError(const ::payments::projection::v1::PaymentView& v);

// The public name of a field the writer names in a rejection ("amount.amount_minor" and
// "amount_minor" -> "amount", "method" -> "payment_method", ...); other names unchanged.
[[nodiscard]] std::string PublicField(const std::string& field);

// `message` with internal field names replaced by their public names.
[[nodiscard]] std::string PublicMessage(std::string message);

// The Stripe error type of an answer's HTTP status and code: invalid_request_error,
// authentication_error (401), rate_limit_error (429), idempotency_error
// (idempotency_key_reused), api_error (5xx).
[[nodiscard]] std::string ErrorType(int status, const std::string& code);

}  // namespace payorch::api::internal
