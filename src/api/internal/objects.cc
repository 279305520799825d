#include "api/internal/objects.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>

namespace payorch::api::internal {

namespace ev = ::payments::events::v1;
namespace pv = ::payments::projection::v1;
namespace types = ::payments::types::v1;
using json = nlohmann::json;

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsStep(ev::OperationKind k) {
  return k == ev::OPERATION_KIND_AUTHORIZE || k == ev::OPERATION_KIND_SALE;
}

// "card", "apple_pay", ...: the enum's name without its prefix, as the API accepts them.
std::string MethodName(types::PaymentMethod m) {
  // The writer defaults a missing method to CARD.
  if (m == types::PAYMENT_METHOD_UNSPECIFIED || !types::PaymentMethod_IsValid(m)) return "card";
  constexpr std::string_view kPrefix = "PAYMENT_METHOD_";
  return Lower(types::PaymentMethod_Name(m).substr(kPrefix.size()));
}

json CancellationReason(const pv::PaymentView& v) {
  switch (v.status()) {
    case ev::PAYMENT_STATUS_CANCELED:
      // The merchant's own reason (free text), else Stripe's default for a cancel.
      return v.failure_reason().empty() ? json("requested_by_customer") : json(v.failure_reason());
    case ev::PAYMENT_STATUS_VOIDED:
      return "void";
    case ev::PAYMENT_STATUS_FAILED:
      return "automatic";
    default:
      return nullptr;
  }
}

}  // namespace

std::string PublicStatus(ev::PaymentStatus status) {
  switch (status) {
    case ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION:
      return "requires_confirmation";
    case ev::PAYMENT_STATUS_AUTHORIZING:
    case ev::PAYMENT_STATUS_PROCESSING:
      return "processing";
    case ev::PAYMENT_STATUS_REQUIRES_CAPTURE:
      return "requires_capture";
    case ev::PAYMENT_STATUS_SUCCEEDED:
      return "succeeded";
    case ev::PAYMENT_STATUS_FAILED:
    case ev::PAYMENT_STATUS_CANCELED:
    case ev::PAYMENT_STATUS_VOIDED:
      return "canceled";
    default:
      // UNSPECIFIED: no PaymentCreated counted yet (a view is only kept after one).
      return "processing";
  }
}

json LastPaymentError(const pv::PaymentView& v) {
  const pv::Attempt* last = nullptr;
  for (const auto& a : v.attempts())
    if (IsStep(a.kind())) last = &a;
  if (last == nullptr) return nullptr;
  if (last->outcome() != pv::ATTEMPT_OUTCOME_FAILED &&
      last->outcome() != pv::ATTEMPT_OUTCOME_EXPIRED)
    return nullptr;
  json e = {{"type", "card_error"}, {"code", nullptr}, {"decline_code", nullptr}, {"message", ""}};
  if (last->outcome() == pv::ATTEMPT_OUTCOME_EXPIRED) {
    e["type"] = "api_error";
    e["code"] = "processing_error";
    e["message"] = "the processor's outcome was not known before the processing deadline";
    return e;
  }
  switch (last->error_code()) {
    case types::ERROR_CODE_DECLINED:
      e["code"] = "card_declined";
      e["decline_code"] = "generic_decline";
      e["message"] = "Your card was declined.";
      break;
    case types::ERROR_CODE_HARD_DECLINE:
      e["code"] = "card_declined";
      e["decline_code"] = "do_not_honor";
      e["message"] = "Your card was declined; do not retry it.";
      break;
    case types::ERROR_CODE_INVALID_CARD:
      e["code"] = "invalid_number";
      e["message"] = "The card details are invalid.";
      break;
    case types::ERROR_CODE_TIMEOUT:
    case types::ERROR_CODE_NETWORK_FAILURE:
    case types::ERROR_CODE_PROCESSOR_UNAVAILABLE:
      e["type"] = "api_error";
      e["code"] = "processing_error";
      e["message"] = "The processor could not be reached.";
      break;
    default:
      e["type"] = "api_error";
      e["code"] = "processing_error";
      e["message"] = "The processor failed the payment.";
      break;
  }
  return e;
}

json PaymentIntent(const pv::PaymentView& v, const json& metadata) {
  const int64_t capturable =
      v.status() == ev::PAYMENT_STATUS_REQUIRES_CAPTURE
          ? std::max<int64_t>(0, v.authorized_minor() - v.captured_minor() - v.voided_minor())
          : 0;
  return {
      {"id", v.payment_id()},
      {"object", "payment_intent"},
      {"status", PublicStatus(v.status())},
      {"amount", v.requested_minor()},
      {"amount_capturable", capturable},
      {"amount_received", v.captured_minor()},
      {"amount_refunded", v.refunded_minor()},
      {"currency", Lower(v.currency())},
      {"capture_method", v.capture_mode() == types::CAPTURE_MODE_MANUAL ? "manual" : "automatic"},
      {"payment_method", MethodName(v.method())},
      {"created", v.created_at_ms() / 1000},
      {"metadata", metadata.is_object() ? metadata : json::object()},
      {"customer_reference",
       v.customer_reference().empty() ? json(nullptr) : json(v.customer_reference())},
      {"last_payment_error", LastPaymentError(v)},
      {"cancellation_reason", CancellationReason(v)},
  };
}

std::string PublicField(const std::string& field) {
  if (field == "amount.amount_minor" || field == "amount_minor" || field == "amount")
    return "amount";
  if (field == "amount.currency" || field == "currency") return "currency";
  if (field == "method") return "payment_method";
  if (field == "capture_mode") return "capture_method";
  if (field == "idempotency_key") return "Idempotency-Key";
  return field;
}

std::string PublicMessage(std::string message) {
  static const std::pair<const char*, const char*> kNames[] = {{"amount.amount_minor", "amount"},
                                                               {"amount_minor", "amount"},
                                                               {"amount.currency", "currency"},
                                                               {"capture_mode", "capture_method"}};
  for (const auto& [from, to] : kNames) {
    const std::string f = from;
    for (size_t at = message.find(f); at != std::string::npos; at = message.find(f, at)) {
      message.replace(at, f.size(), to);
      at += std::char_traits<char>::length(to);
    }
  }
  return message;
}

std::string ErrorType(int status, const std::string& code) {
  if (status == 401) return "authentication_error";
  if (status == 429) return "rate_limit_error";
  if (status == 402) return "card_error";
  if (code == "idempotency_key_reused") return "idempotency_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

}  // namespace payorch::api::internal
