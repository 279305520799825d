// The merchant API's answers and request checks, shared by its handlers: the documented
// error shape for a writer's rejection, the finishing pass every answer goes through
// (version header, Stripe-style `type` and `param`), field-level checks of JSON bodies, and
// the create request's parsing into a CreatePayment. Pure: no I/O, no state.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "http/server.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"
#include "payments/projection/v1/views.pb.h"

namespace payorch::api::internal {

// The Idempotency-Key as the correlation id when it fits (128 bytes), else a stable hash of
// it: keys up to 255 bytes are accepted, correlation ids are shorter.
std::string CorrelationIdFor(const std::string& idem);

// An answer whose body is already JSON text (a stored or rendered object).
http::Response Raw(int status, std::string body);

// The Refund object of `refund_id` (the core's id) on the payment, as JSON text; while its
// operations are not in the view yet, a pending refund with what is known.
std::string RefundJson(const ::payments::projection::v1::PaymentView& v,
                       const std::string& refund_id);
// 202 with the refund as far as it is known (without a view: its ids and "pending").
http::Response AcceptedRefund(const std::string& payment_id,
                              const std::optional<::payments::projection::v1::PaymentView>& v,
                              const std::string& refund_id);

// A page of objects in the list shape: {object: "list", data, has_more, next_cursor}.
http::Response ListObject(nlohmann::json data, std::string next_cursor);

// GET /v1/payments's query as the projection's list request for `merchant_id` (created_from
// and created_to become from and to), or the 400 answer for an unknown parameter.
std::optional<http::Response> ListQuery(const http::Request& request,
                                        const std::string& merchant_id, http::Request* query);
// The projection's list error with the public parameter names (created_from, created_to).
http::Response PublicListError(http::Response r);

// Whether a payment's view is final for an answer: no attempt in flight or outcome unknown,
// no capture, void or refund in flight.
bool Settled(const ::payments::projection::v1::PaymentView& v);

// The final answer of a settled payment command: `ok_status` (201 for a create, else 200)
// with the PaymentIntent `intent`; but when the payment awaits another payment method
// (its plan failed: requires_payment_method), 402 with the card error
// {error: {status, type, code, decline_code, message, payment_intent}}, as processors answer
// a declined confirm.
http::Response PaymentAnswer(int ok_status, nlohmann::json intent);

// 503 `store_unavailable`: the idempotency store (response_store.h) could not be read or
// written; nothing was appended, so a retry with the same key is safe.
http::Response StoreUnavailable();

// 503 `overloaded` with Retry-After: max(1, retry_after_s): a create refused by admission.
http::Response Overloaded(int retry_after_s);

// A writer's CommandRejected as the documented error (status by reason, slug, fields).
http::Response RejectionResponse(const ::payments::events::v1::CommandRejected& rej);

// Every answer of the merchant API passes here: the version header, and on an error the
// Stripe-style `type` and `param` (the public name of the field it is about) next to the
// documented status/code/message/details, with internal field names replaced by public
// ones. Deterministic, so a stored response replayed reads as it did the first time.
http::Response Finalize(http::Response r);

// Field-level problems found at the edge, before anything is appended.
struct FieldErrors {
  nlohmann::json list = nlohmann::json::array();
  void Add(const std::string& field, const std::string& code, const std::string& message) {
    list.push_back({{"field", field}, {"code", code}, {"message", message}});
  }
  bool empty() const { return list.empty(); }
  http::Response Response() const {
    return http::Error(422, "validation_failed", "the request has invalid fields",
                       {{"fields", list}});
  }
};

// Adds an unknown_field error for every member of `body` not in `known`.
void CheckKnown(const nlohmann::json& body, std::initializer_list<const char*> known,
                FieldErrors* errs);
// The integer (string) member `name`, or nullopt with an error when required or mistyped.
std::optional<int64_t> IntField(const nlohmann::json& body, const char* name, bool required,
                                FieldErrors* errs);
std::optional<std::string> StrField(const nlohmann::json& body, const char* name, bool required,
                                    FieldErrors* errs);
// `payment_method` (card, apple_pay, google_pay, bank_transfer); UNSPECIFIED when absent or
// bad (with an error when required or not one of them).
::payments::types::v1::PaymentMethod MethodField(const nlohmann::json& body, bool required,
                                                 FieldErrors* errs);

// The metadata of a create ParseCreate built (card numbers already redacted), as the JSON
// object the API stores with the payment.
[[nodiscard]] std::string MetadataJson(const ::payments::commands::v1::CreatePayment& create);

// POST /v1/payments's body as the CreatePayment of `envelope` for `merchant_id` under
// `idem`, or the 422 answer naming every bad field. Card numbers in customer_reference and
// metadata are redacted (command::RedactPan, as the writer does in its events).
std::optional<http::Response> ParseCreate(const nlohmann::json& body,
                                          const std::string& merchant_id, const std::string& idem,
                                          ::payments::commands::v1::CommandEnvelope* envelope);

// POST /v1/payments/{id}/`action`'s body (confirm, capture, void, cancel, refunds) as the
// command of `envelope` under `idem`, or the 422 answer naming every bad field.
std::optional<http::Response> ParseFollowUp(const std::string& action, const nlohmann::json& body,
                                            const std::string& idem,
                                            ::payments::commands::v1::CommandEnvelope* envelope);

}  // namespace payorch::api::internal
