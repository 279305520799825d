#include "command/parser.h"

#include <algorithm>
#include <array>

#include "command/hash.h"
#include "command/money.h"

namespace payorch::command {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace ty = ::payments::types::v1;

namespace {

void AddIssue(std::vector<ev::ValidationIssue>& issues, std::string field, std::string code,
              std::string detail) {
  ev::ValidationIssue& issue = issues.emplace_back();
  issue.set_field(std::move(field));
  issue.set_code(std::move(code));
  issue.set_detail(std::move(detail));
}

Rejection Reject(ev::RejectReason reason, std::string detail, std::string contract_id = "") {
  return Rejection{reason, std::move(detail), std::move(contract_id)};
}

// Trims and records a "<field>/trimmed" issue when whitespace was removed.
std::string TrimField(std::string_view raw, const char* field,
                      std::vector<ev::ValidationIssue>& issues) {
  std::string_view t = Trim(raw);
  if (t.size() != raw.size()) AddIssue(issues, field, std::string(field) + "/trimmed", "");
  return std::string(t);
}

// Strict UTF-8 (RFC 3629), as protobuf checks proto3 strings: no overlong forms, no
// UTF-16 surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    unsigned char lo = 0x80;  // allowed range of the first continuation byte
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

constexpr std::array<std::string_view, 7> kKnownMetadataKeys = {
    "channel", "customer_email", "description", "invoice_id", "order_id", "product", "source"};

}  // namespace

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

bool IsKnownMetadataKey(std::string_view key) {
  return std::find(kKnownMetadataKeys.begin(), kKnownMetadataKeys.end(), key) !=
         kKnownMetadataKeys.end();
}

bool LooksLikePan(std::string_view value) {
  // Scan runs of digits allowing single spaces or dashes between them. A candidate is the
  // whole run or any part of it that starts and ends at a group boundary (run edge or
  // separator): "4111 1111 1111 1111 12/29" holds a PAN, "4111111111111112" is not one.
  size_t i = 0;
  std::string digits;
  std::vector<size_t> bounds;  // digit counts at group boundaries
  while (i < value.size()) {
    if (value[i] < '0' || value[i] > '9') {
      ++i;
      continue;
    }
    digits.clear();
    bounds.assign(1, 0);
    size_t j = i;
    while (j < value.size()) {
      char c = value[j];
      if (c >= '0' && c <= '9') {
        digits.push_back(c);
        ++j;
      } else if ((c == ' ' || c == '-') && j + 1 < value.size() && value[j + 1] >= '0' &&
                 value[j + 1] <= '9') {
        bounds.push_back(digits.size());
        ++j;
      } else {
        break;
      }
    }
    bounds.push_back(digits.size());
    for (size_t a = 0; a < bounds.size(); ++a) {
      for (size_t b = a + 1; b < bounds.size(); ++b) {
        const size_t start = bounds[a];
        const size_t len = bounds[b] - start;
        if (len < 13 || len > 19) continue;
        int sum = 0;
        for (size_t k = 0; k < len; ++k) {
          int d = digits[start + len - 1 - k] - '0';
          if (k % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
          }
          sum += d;
        }
        if (sum % 10 == 0) return true;
      }
    }
    i = j;
  }
  return false;
}

std::string CreateRequest::RequestHash() const {
  StableHasher h;
  h.Add("create").Add(merchant_id).Add(idempotency_key).Add(amount).Add(currency);
  h.Add(static_cast<int64_t>(method)).Add(manual_capture ? 1 : 0).Add(confirm ? 1 : 0);
  h.Add(customer_reference).Add(static_cast<int64_t>(metadata.size()));
  for (const auto& [k, v] : metadata) h.Add(k).Add(v);
  return h.Hex();
}

Outcome<CreateRequest> ParseCreate(const cmd::CreatePayment& create,
                                   const ::payments::config::v1::MerchantConfig* merchant) {
  CreateRequest r;

  r.merchant_id = TrimField(create.merchant_id(), "merchant_id", r.issues);
  if (r.merchant_id.empty()) {
    return Reject(ev::REJECT_REASON_MERCHANT_MISSING, "merchant_id is empty", "request/malformed");
  }
  if (r.merchant_id.size() > kMaxIdLength || !IsValidUtf8(r.merchant_id)) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG, "merchant_id longer than 64 bytes or not UTF-8",
                  "request/malformed");
  }

  r.idempotency_key = TrimField(create.idempotency_key(), "idempotency_key", r.issues);
  if (r.idempotency_key.empty()) {
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING, "idempotency_key is empty",
                  "request/malformed");
  }
  if (r.idempotency_key.size() > kMaxIdempotencyKeyLength || !IsValidUtf8(r.idempotency_key)) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG,
                  "idempotency_key longer than 255 bytes or not UTF-8", "request/malformed");
  }

  std::string currency = TrimField(create.amount().currency(), "amount.currency", r.issues);
  std::string upper = currency;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  });
  if (upper != currency) {
    AddIssue(r.issues, "amount.currency", "currency/normalized_case",
             "'" + currency + "' read as '" + upper + "'");
  }
  const CurrencyInfo* info = FindCurrency(upper);
  if (info == nullptr) {
    return Reject(ev::REJECT_REASON_CURRENCY_UNKNOWN,
                  "currency '" + upper.substr(0, 16) + "' is not an ISO 4217 code",
                  "request/malformed");
  }
  r.currency = upper;
  if (merchant != nullptr && merchant->currencies_size() > 0 &&
      std::find(merchant->currencies().begin(), merchant->currencies().end(), r.currency) ==
          merchant->currencies().end()) {
    return Reject(ev::REJECT_REASON_CURRENCY_NOT_ACCEPTED,
                  "merchant does not accept " + r.currency);
  }

  r.amount = create.amount().amount_minor();
  if (r.amount <= 0) {
    return Reject(ev::REJECT_REASON_AMOUNT_NOT_POSITIVE,
                  "amount_minor must be > 0, got " + std::to_string(r.amount), "request/malformed");
  }
  int64_t limit = kMaxAmountMinor;
  if (merchant != nullptr && merchant->max_amount_minor() > 0) {
    limit = std::min(limit, merchant->max_amount_minor());
  }
  if (r.amount > limit) {
    return Reject(ev::REJECT_REASON_AMOUNT_TOO_LARGE,
                  "amount_minor " + std::to_string(r.amount) + " exceeds the maximum " +
                      std::to_string(limit));
  }

  const auto method = create.method();
  if (method == ty::PAYMENT_METHOD_UNSPECIFIED) {
    r.method = ty::PAYMENT_METHOD_CARD;
    AddIssue(r.issues, "method", "method/defaulted", "no method given; CARD assumed");
  } else if (!ty::PaymentMethod_IsValid(method)) {
    return Reject(ev::REJECT_REASON_METHOD_MISSING,
                  "unknown method value " + std::to_string(static_cast<int>(method)),
                  "request/malformed");
  } else {
    r.method = method;
  }

  if (!ty::CaptureMode_IsValid(create.capture_mode())) {
    return Reject(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                  "unknown capture_mode value " + std::to_string(create.capture_mode()),
                  "request/malformed");
  }
  r.manual_capture = create.capture_mode() == ty::CAPTURE_MODE_MANUAL;
  r.confirm = create.confirm();

  r.customer_reference = TrimField(create.customer_reference(), "customer_reference", r.issues);
  if (r.customer_reference.size() > kMaxReferenceLength || !IsValidUtf8(r.customer_reference)) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG,
                  "customer_reference longer than 255 bytes or not UTF-8", "request/malformed");
  }

  if (static_cast<size_t>(create.metadata_size()) > kMaxMetadataEntries) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG,
                  "metadata has " + std::to_string(create.metadata_size()) +
                      " entries; at most 50 allowed",
                  "request/malformed");
  }
  // Protobuf map iteration order is unspecified and differs between map instances: visit
  // entries in key order, so keys equal after trimming resolve the same way every time.
  std::vector<const google::protobuf::MapPair<std::string, std::string>*> entries;
  entries.reserve(static_cast<size_t>(create.metadata_size()));
  for (const auto& entry : create.metadata()) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* entry : entries) {
    const std::string& raw_key = entry->first;
    const std::string& value = entry->second;
    std::string key(Trim(raw_key));
    if (key.empty() || key.size() > kMaxMetadataKeyLength ||
        value.size() > kMaxMetadataValueLength || !IsValidUtf8(key) || !IsValidUtf8(value)) {
      return Reject(ev::REJECT_REASON_FIELD_TOO_LONG,
                    "metadata entry '" + key.substr(0, 40) +
                        "' is empty, too long (key 40, value 500 bytes) or not UTF-8",
                    "request/malformed");
    }
    if (r.metadata.count(key) > 0) {
      AddIssue(r.issues, "metadata." + key, "metadata/duplicate_key",
               "another entry has the same key once trimmed; the first in key order is kept");
      continue;
    }
    if (!IsKnownMetadataKey(key)) {
      AddIssue(r.issues, "metadata." + key, "metadata/unknown_key", "kept as given");
    }
    if (LooksLikePan(value)) {
      AddIssue(r.issues, "metadata." + key, "metadata/pan_redacted",
               "a card number was removed from the value");
      r.metadata[key] = "[REDACTED_PAN]";
    } else {
      r.metadata[key] = value;
    }
  }
  // Map iteration order is unspecified in protobuf; sort issues for determinism.
  std::stable_sort(r.issues.begin(), r.issues.end(),
                   [](const ev::ValidationIssue& a, const ev::ValidationIssue& b) {
                     return std::tie(a.field(), a.code()) < std::tie(b.field(), b.code());
                   });
  return r;
}

}  // namespace payorch::command
