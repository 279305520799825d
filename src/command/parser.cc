#include "command/parser.h"

#include <algorithm>
#include <array>

#include "command/hash.h"
#include "command/internal/create_view.h"
#include "command/money.h"
#include "common/pan.h"

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
std::string_view TrimView(std::string_view raw, const char* field,
                          std::vector<ev::ValidationIssue>& issues) {
  std::string_view t = Trim(raw);
  if (t.size() != raw.size()) AddIssue(issues, field, std::string(field) + "/trimmed", "");
  return t;
}

// Length of the valid UTF-8 sequence at s[i] (RFC 3629, as protobuf checks proto3
// strings: no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF); 0 if invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
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
    return 0;
  }
  if (i + n >= s.size()) return 0;
  for (size_t k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return 0;
  }
  return n + 1;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {  // ASCII, the common case
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Text fit to echo in a rejection detail: a card number in it is redacted.
std::string Printable(const std::string& text) { return RedactPan(text); }

std::optional<Rejection> CheckText(std::string_view value, size_t max, const char* field) {
  if (value.size() <= max) return std::nullopt;
  return Reject(ev::REJECT_REASON_FIELD_TOO_LONG,
                std::string(field) + " longer than " + std::to_string(max) + " bytes",
                "request/malformed");
}

// payorch_*: the links of a payment to its order or invoice (order::kPaymentLinkKey,
// invoice::kPaymentLinkKey, invoice::kInstallmentKey).
constexpr std::array<std::string_view, 10> kKnownMetadataKeys = {
    "channel",         "customer_email",      "description",   "invoice_id", "order_id",
    "payorch_invoice", "payorch_installment", "payorch_order", "product",    "source"};

}  // namespace

std::string_view Trim(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
  };
  size_t b = 0;
  size_t e = s.size();
  while (b < e && space(s[b])) ++b;
  while (e > b && space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::string TruncateUtf8(std::string_view s, size_t max_bytes) {
  size_t end = 0;
  while (end < s.size()) {
    const size_t n = static_cast<unsigned char>(s[end]) < 0x80 ? 1 : Utf8SequenceLength(s, end);
    if (n == 0 || end + n > max_bytes) break;
    end += n;
  }
  return std::string(s.substr(0, end));
}

std::string RedactPan(std::string_view text) {
  return LooksLikePan(Trim(text)) ? std::string(kRedactedPan) : std::string(text);
}

bool IsValidMetadataEntry(std::string_view key, std::string_view value) {
  key = Trim(key);
  return !key.empty() && key.size() <= kMaxMetadataKeyLength &&
         value.size() <= kMaxMetadataValueLength && IsValidUtf8(key) && IsValidUtf8(value);
}

bool IsKnownMetadataKey(std::string_view key) {
  return std::find(kKnownMetadataKeys.begin(), kKnownMetadataKeys.end(), key) !=
         kKnownMetadataKeys.end();
}

bool IsCardNumberKey(std::string_view key) {
  size_t digits = 0;
  char first = 0;
  for (char c : key) {
    if (c >= '0' && c <= '9') {
      if (digits++ == 0) first = c;
    } else if (c != ' ' && c != '-') {
      return false;
    }
  }
  return digits >= 13 && digits <= 19 && first >= '2' && first <= '6' && LooksLikePan(key);
}

bool LooksLikePan(std::string_view value) { return FindPan(value).has_value(); }

std::string CreateRequest::RequestHash() const { return std::string(RequestDigest().view()); }

HexDigest CreateRequest::RequestDigest() const {
  return internal::CreateDigest(merchant_id, idempotency_key, amount, currency, method,
                                manual_capture, confirm, customer_reference, metadata);
}

HexDigest internal::CreateView::RequestDigest() const {
  return CreateDigest(merchant_id, idempotency_key, amount, currency(), method, manual_capture,
                      confirm, customer_reference, metadata());
}

std::optional<Rejection> internal::ParseCreateView(
    const cmd::CreatePayment& create, const ::payments::config::v1::MerchantConfig* merchant,
    CreateView* out) {
  CreateView& r = *out;
  r.issues.clear();

  r.merchant_id = TrimView(create.merchant_id(), "merchant_id", r.issues);
  if (r.merchant_id.empty()) {
    return Reject(ev::REJECT_REASON_MERCHANT_MISSING, "merchant_id is empty", "request/malformed");
  }
  if (r.merchant_id.size() > kMaxIdLength || !IsValidUtf8(r.merchant_id)) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG, "merchant_id longer than 64 bytes or not UTF-8",
                  "request/malformed");
  }

  r.idempotency_key = TrimView(create.idempotency_key(), "idempotency_key", r.issues);
  if (r.idempotency_key.empty()) {
    return Reject(ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING, "idempotency_key is empty",
                  "request/malformed");
  }
  if (r.idempotency_key.size() > kMaxIdempotencyKeyLength || !IsValidUtf8(r.idempotency_key)) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG,
                  "idempotency_key longer than 255 bytes or not UTF-8", "request/malformed");
  }
  if (IsCardNumberKey(r.idempotency_key)) {  // the detail does not repeat it
    return Reject(ev::REJECT_REASON_CARD_NUMBER_IN_KEY,
                  "idempotency_key carries a card number; use an id of your own",
                  "request/malformed");
  }

  const std::string_view currency =
      TrimView(create.amount().currency(), "amount.currency", r.issues);
  auto upper_char = [](char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  };
  bool lower_case = false;
  for (char c : currency) lower_case |= upper_char(c) != c;
  if (lower_case || currency.size() != 3) {
    std::string upper(currency);
    std::transform(upper.begin(), upper.end(), upper.begin(), upper_char);
    if (lower_case) {
      AddIssue(r.issues, "amount.currency", "currency/normalized_case",
               "'" + std::string(currency) + "' read as '" + upper + "'");
    }
    if (FindCurrency(upper) == nullptr) {
      return Reject(ev::REJECT_REASON_CURRENCY_UNKNOWN,
                    "currency '" + Printable(TruncateUtf8(upper, 16)) + "' is not an ISO 4217 code",
                    "request/malformed");
    }
  }
  for (size_t i = 0; i < 3; ++i) r.currency_code[i] = upper_char(currency[i]);
  if (FindCurrency(r.currency()) == nullptr) {
    return Reject(ev::REJECT_REASON_CURRENCY_UNKNOWN,
                  "currency '" + TruncateUtf8(r.currency(), 16) + "' is not an ISO 4217 code",
                  "request/malformed");
  }
  if (merchant != nullptr && merchant->currencies_size() > 0 &&
      std::find(merchant->currencies().begin(), merchant->currencies().end(), r.currency()) ==
          merchant->currencies().end()) {
    return Reject(ev::REJECT_REASON_CURRENCY_NOT_ACCEPTED,
                  "merchant does not accept " + std::string(r.currency()));
  }

  r.amount = create.amount().amount_minor();
  if (r.amount <= 0) {
    return Reject(ev::REJECT_REASON_AMOUNT_NOT_POSITIVE,
                  "amount_minor must be > 0, got " + std::to_string(r.amount), "request/malformed");
  }
  if (auto refused = CheckAmountPrecision(r.amount, r.currency())) return refused;
  int64_t limit = kMaxAmountMinor;
  if (merchant != nullptr && merchant->max_amount_minor() > 0) {
    limit = std::min(limit, merchant->max_amount_minor());
  }
  if (r.amount > limit) {
    return Reject(ev::REJECT_REASON_AMOUNT_TOO_LARGE, "amount_minor " + std::to_string(r.amount) +
                                                          " exceeds the maximum " +
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

  r.customer_reference = TrimView(create.customer_reference(), "customer_reference", r.issues);
  if (r.customer_reference.size() > kMaxReferenceLength || !IsValidUtf8(r.customer_reference)) {
    return Reject(ev::REJECT_REASON_FIELD_TOO_LONG,
                  "customer_reference longer than 255 bytes or not UTF-8", "request/malformed");
  }
  if (LooksLikePan(r.customer_reference)) {
    AddIssue(r.issues, "customer_reference", "customer_reference/pan_redacted",
             "a card number was removed from the value");
    r.customer_reference = kRedactedPan;
  }

  if (static_cast<size_t>(create.metadata_size()) > kMaxMetadataEntries) {
    return Reject(
        ev::REJECT_REASON_FIELD_TOO_LONG,
        "metadata has " + std::to_string(create.metadata_size()) + " entries; at most 50 allowed",
        "request/malformed");
  }
  // Protobuf map iteration order is unspecified and differs between map instances: visit
  // entries in key order, so keys equal after trimming resolve the same way every time.
  static_assert(internal::kMetadataCapacity == kMaxMetadataEntries);
  std::array<const google::protobuf::MapPair<std::string, std::string>*, kMaxMetadataEntries>
      entries;
  size_t n = 0;
  for (const auto& entry : create.metadata()) entries[n++] = &entry;
  std::sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(n),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  r.metadata_size = 0;
  for (size_t i = 0; i < n; ++i) {
    const std::string& raw_key = entries[i]->first;
    const std::string& value = entries[i]->second;
    std::string_view key = Trim(raw_key);
    if (!IsValidMetadataEntry(key, value)) {
      return Reject(ev::REJECT_REASON_FIELD_TOO_LONG,
                    "metadata entry '" + Printable(TruncateUtf8(key, 40)) +
                        "' is empty, too long (key 40, value 500 bytes) or not UTF-8",
                    "request/malformed");
    }
    // A card number is never stored, logged or echoed, as a key either.
    if (LooksLikePan(key)) {
      AddIssue(r.issues, "metadata." + std::string(kRedactedPan), "metadata/pan_redacted",
               "a card number was removed from a key");
      key = kRedactedPan;
    }
    const auto kept = r.metadata_entries.begin();
    const auto kept_end = kept + static_cast<std::ptrdiff_t>(r.metadata_size);
    if (std::any_of(kept, kept_end,
                    [&](const internal::MetadataEntry& e) { return e.key() == key; })) {
      AddIssue(r.issues, "metadata." + std::string(key), "metadata/duplicate_key",
               "another entry has the same key once trimmed; the first in key order is kept");
      continue;
    }
    if (!IsKnownMetadataKey(key)) {
      AddIssue(r.issues, "metadata." + std::string(key), "metadata/unknown_key", "kept as given");
    }
    internal::MetadataEntry& kept_entry = r.metadata_entries[r.metadata_size++];
    if (LooksLikePan(value)) {
      AddIssue(r.issues, "metadata." + std::string(key), "metadata/pan_redacted",
               "a card number was removed from the value");
      kept_entry.set(key, kRedactedPan);
    } else {
      kept_entry.set(key, value);
    }
  }
  // Kept entries in trimmed-key order (the order of a std::map of them).
  if (r.metadata_size > 1)
    std::sort(r.metadata_entries.begin(),
              r.metadata_entries.begin() + static_cast<std::ptrdiff_t>(r.metadata_size),
              [](const internal::MetadataEntry& a, const internal::MetadataEntry& b) {
                return a.key() < b.key();
              });
  // Map iteration order is unspecified in protobuf; sort issues for determinism.
  if (r.issues.size() > 1) {
    std::stable_sort(r.issues.begin(), r.issues.end(),
                     [](const ev::ValidationIssue& a, const ev::ValidationIssue& b) {
                       return std::tie(a.field(), a.code()) < std::tie(b.field(), b.code());
                     });
  }
  return std::nullopt;
}

std::optional<Rejection> DecodeCommand(std::string_view bytes, cmd::CommandEnvelope* out) {
  if (bytes.size() > kMaxRecordBytes) {
    return Reject(ev::REJECT_REASON_RECORD_TOO_LARGE,
                  "record of " + std::to_string(bytes.size()) + " bytes; at most " +
                      std::to_string(kMaxRecordBytes) + " allowed",
                  "request/malformed");
  }
  if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Reject(ev::REJECT_REASON_UNDECODABLE,
                  "not a payments.commands.v1.CommandEnvelope (or a string is not UTF-8)",
                  "request/malformed");
  }
  return std::nullopt;
}

std::optional<Rejection> CheckEnvelope(const cmd::CommandEnvelope& e) {
  if (e.schema_version() != kSchemaVersion) {
    return Reject(ev::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED,
                  "schema_version " + std::to_string(e.schema_version()) + " is not supported",
                  "request/malformed");
  }
  if (e.command_case() == cmd::CommandEnvelope::COMMAND_NOT_SET) {
    return Reject(ev::REJECT_REASON_COMMAND_MISSING, "envelope carries no command",
                  "request/malformed");
  }
  if (auto r = CheckText(e.command_id(), kMaxCommandIdLength, "command_id")) return r;
  if (auto r = CheckText(e.correlation_id(), kMaxCommandIdLength, "correlation_id")) return r;
  if (auto r = CheckText(e.payment_id(), kMaxIdLength, "payment_id")) return r;
  if (auto r = CheckText(Trim(e.merchant_id()), kMaxIdLength, "merchant_id")) return r;
  const auto negative = [](const char* what) {
    return Reject(ev::REJECT_REASON_AMOUNT_NOT_POSITIVE,
                  std::string(what) + " amount must not be negative", "request/malformed");
  };
  switch (e.command_case()) {
    case cmd::CommandEnvelope::kCapture:
      if (e.capture().amount_minor() < 0) return negative("capture");
      return CheckText(Trim(e.capture().idempotency_key()), kMaxIdempotencyKeyLength,
                       "idempotency_key");
    case cmd::CommandEnvelope::kRefund:
      if (e.refund().amount_minor() < 0) return negative("refund");
      return CheckText(Trim(e.refund().idempotency_key()), kMaxIdempotencyKeyLength,
                       "idempotency_key");
    case cmd::CommandEnvelope::kGatewayResult: {
      const cmd::RecordGatewayResult& g = e.gateway_result();
      if (g.outcome() == cmd::GATEWAY_OUTCOME_UNSPECIFIED ||
          !cmd::GatewayOutcome_IsValid(g.outcome())) {
        return Reject(ev::REJECT_REASON_OUTCOME_MISSING,
                      "unknown gateway outcome " + std::to_string(g.outcome()),
                      "request/malformed");
      }
      if (g.amount_processed_minor() < 0) return negative("processed");
      if (auto r = CheckText(g.operation_key(), kMaxGatewayTextLength, "operation_key")) return r;
      if (auto r = CheckText(g.processor_id(), kMaxGatewayTextLength, "processor_id")) return r;
      if (auto r =
              CheckText(g.processor_reference(), kMaxGatewayTextLength, "processor_reference")) {
        return r;
      }
      return CheckText(g.source(), kMaxGatewayTextLength, "source");
    }
    case cmd::CommandEnvelope::kExpire:
      return CheckText(e.expire().operation_key(), kMaxGatewayTextLength, "operation_key");
    default:
      return std::nullopt;  // create: ParseCreate; reasons are truncated by decide()
  }
}

std::optional<Rejection> CheckAmountPrecision(int64_t amount_minor, std::string_view currency) {
  const CurrencyInfo* info = FindCurrency(currency);
  if (info == nullptr) return std::nullopt;
  const int64_t step = SettlementStepMinor(*info);
  if (amount_minor % step == 0) return std::nullopt;
  return Rejection{ev::REJECT_REASON_AMOUNT_PRECISION,
                   "amount_minor " + std::to_string(amount_minor) + " is not a multiple of " +
                       std::to_string(step) + ": " + std::string(currency) +
                       " is settled in whole units",
                   "request/malformed"};
}

std::optional<Rejection> CheckSenderMerchant(const cmd::CommandEnvelope& e,
                                             std::string_view payment_merchant) {
  const std::string_view sender = Trim(e.merchant_id());
  if (sender.empty() || sender == payment_merchant) return std::nullopt;
  return Reject(ev::REJECT_REASON_MERCHANT_MISMATCH,
                "merchant_id '" + std::string(sender) + "' is not this payment's merchant",
                "request/malformed");
}

Outcome<CreateRequest> ParseCreate(const cmd::CreatePayment& create,
                                   const ::payments::config::v1::MerchantConfig* merchant) {
  internal::CreateView v;
  if (auto rejection = internal::ParseCreateView(create, merchant, &v))
    return *std::move(rejection);
  CreateRequest r;
  r.merchant_id = std::string(v.merchant_id);
  r.idempotency_key = std::string(v.idempotency_key);
  r.amount = v.amount;
  r.currency = std::string(v.currency());
  r.method = v.method;
  r.manual_capture = v.manual_capture;
  r.confirm = v.confirm;
  r.customer_reference = std::string(v.customer_reference);
  for (const auto& entry : v.metadata()) r.metadata.emplace(entry.key(), entry.value());
  r.issues = std::move(v.issues);
  return r;
}

}  // namespace payorch::command
