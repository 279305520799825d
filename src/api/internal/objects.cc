#include "api/internal/objects.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>
#include <vector>

#include "command/transitions.h"

namespace payorch::api::internal {

namespace ev = ::payments::events::v1;
namespace pv = ::payments::projection::v1;
namespace types = ::payments::types::v1;
using json = nlohmann::json;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

namespace {

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
      // The reason given to the void or to the cancel that released the authorization.
      return v.failure_reason().empty() ? json("void") : json(v.failure_reason());
    case ev::PAYMENT_STATUS_FAILED:
      // Awaiting another payment method is not canceled (yet).
      return command::AwaitsPaymentMethod(v.status(), v.authorized_minor()) ? json(nullptr)
                                                                            : json("automatic");
    default:
      return nullptr;
  }
}

}  // namespace

std::string PublicStatus(ev::PaymentStatus status, int64_t authorized) {
  if (command::AwaitsPaymentMethod(status, authorized)) return "requires_payment_method";
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
      {"status", PublicStatus(v.status(), v.authorized_minor())},
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

// A JSON string as nlohmann::json's dump() writes it: ASCII escaped the same way here, any
// other byte left to nlohmann (its UTF-8 checks and errors unchanged).
void AppendJsonString(std::string* out, std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      out->append(json(std::string(s)).dump());
      return;
    }
  }
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          constexpr char kHex[] = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[(c >> 4) & 0xf]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string PaymentIntentJson(const pv::PaymentView& v, const std::string& metadata_text) {
  const int64_t capturable =
      v.status() == ev::PAYMENT_STATUS_REQUIRES_CAPTURE
          ? std::max<int64_t>(0, v.authorized_minor() - v.captured_minor() - v.voided_minor())
          : 0;
  // nlohmann::json keeps an object's keys sorted: the same order here.
  std::string out;
  out.reserve(512);
  const auto key = [&out](std::string_view k) {
    out.push_back(out.empty() ? '{' : ',');
    out.push_back('"');
    out.append(k);
    out.append("\":");
  };
  const auto str = [&out](std::string_view s) { AppendJsonString(&out, s); };
  const auto num = [&out](int64_t n) { out.append(std::to_string(n)); };
  const auto any = [&out](const json& j) { out.append(j.dump()); };
  key("amount");
  num(v.requested_minor());
  key("amount_capturable");
  num(capturable);
  key("amount_received");
  num(v.captured_minor());
  key("amount_refunded");
  num(v.refunded_minor());
  key("cancellation_reason");
  any(CancellationReason(v));
  key("capture_method");
  str(v.capture_mode() == types::CAPTURE_MODE_MANUAL ? "manual" : "automatic");
  key("created");
  num(v.created_at_ms() / 1000);
  key("currency");
  str(Lower(v.currency()));
  key("customer_reference");
  if (v.customer_reference().empty()) {
    out.append("null");
  } else {
    str(v.customer_reference());
  }
  key("id");
  str(v.payment_id());
  key("last_payment_error");
  any(LastPaymentError(v));
  key("metadata");
  if (metadata_text.empty()) {
    out.append("{}");
  } else {
    const json m = json::parse(metadata_text, nullptr, false);
    any(m.is_object() ? m : json::object());
  }
  key("object");
  str("payment_intent");
  key("payment_method");
  str(MethodName(v.method()));
  key("status");
  str(PublicStatus(v.status(), v.authorized_minor()));
  out.push_back('}');
  return out;
}

namespace {
constexpr std::string_view kCoreRefundPrefix = "ref_";
constexpr std::string_view kPublicRefundPrefix = "re_";

// The core refund id of a refund operation: its key is "<refund id>:s<step>".
std::string RefundIdOf(const pv::Attempt& a) {
  const std::string& key = a.idempotency_key();
  return key.substr(0, key.find(':'));
}
}  // namespace

std::string PublicRefundId(const std::string& payment_id, const std::string& refund_id) {
  std::string hex = refund_id.rfind(kCoreRefundPrefix, 0) == 0
                        ? refund_id.substr(kCoreRefundPrefix.size())
                        : refund_id;
  return std::string(kPublicRefundPrefix) + hex + "_" + payment_id;
}

std::optional<RefundRef> ParseRefundId(const std::string& public_id) {
  if (public_id.rfind(kPublicRefundPrefix, 0) != 0) return std::nullopt;
  const size_t sep = public_id.find('_', kPublicRefundPrefix.size());
  if (sep == std::string::npos || sep == kPublicRefundPrefix.size() || sep + 1 == public_id.size())
    return std::nullopt;
  const std::string hex =
      public_id.substr(kPublicRefundPrefix.size(), sep - kPublicRefundPrefix.size());
  for (char c : hex)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  return RefundRef{public_id.substr(sep + 1), std::string(kCoreRefundPrefix) + hex};
}

json Refund(const pv::PaymentView& v, const std::string& refund_id) {
  int64_t amount = 0;
  int64_t started_ms = 0;
  int parts = 0;
  int succeeded = 0;
  const pv::Attempt* failed = nullptr;
  for (const auto& a : v.attempts()) {
    if (a.kind() != ev::OPERATION_KIND_REFUND || RefundIdOf(a) != refund_id) continue;
    if (parts++ == 0 || a.started_at_ms() < started_ms) started_ms = a.started_at_ms();
    amount += a.amount_requested_minor();
    if (a.outcome() == pv::ATTEMPT_OUTCOME_SUCCEEDED) ++succeeded;
    if (a.outcome() == pv::ATTEMPT_OUTCOME_FAILED || a.outcome() == pv::ATTEMPT_OUTCOME_EXPIRED)
      failed = &a;
  }
  if (parts == 0) return nullptr;
  const char* status = failed != nullptr ? "failed" : succeeded == parts ? "succeeded" : "pending";
  json failure_reason = nullptr;
  if (failed != nullptr)
    failure_reason = failed->error_code() == types::ERROR_CODE_DECLINED ||
                             failed->error_code() == types::ERROR_CODE_HARD_DECLINE
                         ? "declined"
                         : "unknown";
  return {{"id", PublicRefundId(v.payment_id(), refund_id)},
          {"object", "refund"},
          {"amount", amount},
          {"currency", Lower(v.currency())},
          {"payment_intent", v.payment_id()},
          {"status", status},
          {"failure_reason", failure_reason},
          {"created", started_ms / 1000}};
}

json Refunds(const pv::PaymentView& v) {
  std::vector<std::string> ids;
  for (const auto& a : v.attempts()) {
    if (a.kind() != ev::OPERATION_KIND_REFUND) continue;
    std::string id = RefundIdOf(a);
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(std::move(id));
  }
  json out = json::array();
  for (const std::string& id : ids) out.push_back(Refund(v, id));
  return out;
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
