// The permissive parser: the dual contract's edge. It accepts what upstream sends
// (payments.commands.v1) and returns the strict form the core works with, recording every
// recoverable problem as a ValidationIssue and every unrecoverable one as a Rejection.
//
//   auto parsed = ParseCreate(envelope.create(), merchant_config_or_null);
//   if (!parsed.ok()) -> CommandRejected{parsed.rejection()}
//   parsed.value().issues -> PaymentCreated.issues
//
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "command/hash.h"
#include "command/rejection.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/config/v1/config.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::command {

inline constexpr uint32_t kSchemaVersion = 1;

// Limits, documented in docs/contracts.md.
inline constexpr size_t kMaxIdLength = 64;  // merchant_id, payment_id
inline constexpr size_t kMaxIdempotencyKeyLength = 255;
inline constexpr size_t kMaxMetadataEntries = 50;
inline constexpr size_t kMaxMetadataKeyLength = 40;
inline constexpr size_t kMaxMetadataValueLength = 500;
inline constexpr size_t kMaxReferenceLength = 255;    // customer_reference, reasons
inline constexpr size_t kMaxRecordBytes = 64 * 1024;  // one encoded CommandEnvelope
inline constexpr size_t kMaxCommandIdLength = 128;    // command_id, correlation_id
// operation_key, processor_id, processor_reference, source of a RecordGatewayResult.
inline constexpr size_t kMaxGatewayTextLength = 255;

struct CreateRequest {
  std::string merchant_id;
  std::string idempotency_key;
  int64_t amount = 0;
  std::string currency;  // upper-case, known
  ::payments::types::v1::PaymentMethod method = ::payments::types::v1::PAYMENT_METHOD_CARD;
  bool manual_capture = false;
  bool confirm = false;
  std::string customer_reference;
  std::map<std::string, std::string> metadata;  // sorted: deterministic hash and output
  std::vector<::payments::events::v1::ValidationIssue> issues;

  // Hash of the normalised request, the idempotency fingerprint.
  std::string RequestHash() const;
  HexDigest RequestDigest() const;  // the same digits, held in place
};

// One metadata entry within the limits: the key, trimmed, 1..kMaxMetadataKeyLength bytes,
// the value at most kMaxMetadataValueLength, both UTF-8. ParseCreate rejects an entry
// that is not (FIELD_TOO_LONG); the merchant API refuses it before appending.
bool IsValidMetadataEntry(std::string_view key, std::string_view value);

// Metadata keys we know; others are kept and flagged "metadata/unknown_key".
bool IsKnownMetadataKey(std::string_view key);

// True when `value` holds a card number (common/pan.h: 13-19 Luhn-valid digits, in groups
// joined by single spaces or dashes), anywhere in it.
bool LooksLikePan(std::string_view value);
// What a card number is replaced by wherever payorch keeps text it was given.
inline constexpr std::string_view kRedactedPan = "[REDACTED_PAN]";
// `text`, or kRedactedPan when it looks like a card number (LooksLikePan, once trimmed).
std::string RedactPan(std::string_view text);
// True for an idempotency key that is a card number: only digits, spaces and dashes, 13-19
// digits, the first one 2-6 (the card networks' ranges) and Luhn-valid. Narrower than
// LooksLikePan on purpose: a key is refused, not redacted, and keys often carry numeric ids
// (millisecond timestamps start with 1 and are never refused).
bool IsCardNumberKey(std::string_view key);

// `merchant` may be null (unknown merchant); then merchant limits are not applied.
Outcome<CreateRequest> ParseCreate(const ::payments::commands::v1::CreatePayment& create,
                                   const ::payments::config::v1::MerchantConfig* merchant);

// Decodes one command record. A record longer than kMaxRecordBytes is refused unread
// (RECORD_TOO_LARGE); bytes that are not a CommandEnvelope, including a string field that
// is not UTF-8, are UNDECODABLE. Both go to the dead-letter topic, not to decide().
[[nodiscard]] std::optional<Rejection> DecodeCommand(
    std::string_view bytes, ::payments::commands::v1::CommandEnvelope* out);

// The envelope-level checks, before decide() looks at the payment: schema_version
// (SCHEMA_VERSION_UNSUPPORTED), a command present (COMMAND_MISSING), command_id,
// correlation_id, payment_id, merchant_id and the strings of a RecordGatewayResult within their
// limits (FIELD_TOO_LONG), no negative amount (AMOUNT_NOT_POSITIVE), known enum values
// (OUTCOME_MISSING for a gateway outcome). A CreatePayment's fields are ParseCreate's.
[[nodiscard]] std::optional<Rejection> CheckEnvelope(
    const ::payments::commands::v1::CommandEnvelope& envelope);

// The sender's merchant check, one guard for every command: an envelope whose
// merchant_id (trimmed) is set and differs from `payment_merchant` (the payment's merchant;
// for a CreatePayment, the merchant it names) is refused with MERCHANT_MISMATCH. An empty
// merchant_id is not checked (senders from before the field existed). Defence in depth
// against a misrouted producer, not authentication: docs/contracts.md.
// An amount of `currency` finer than its settlement step (IDR: whole rupiah, multiples of
// 100 minor units) is AMOUNT_PRECISION: creates, captures and refunds alike. Unknown
// currencies pass (checked elsewhere).
[[nodiscard]] std::optional<Rejection> CheckAmountPrecision(int64_t amount_minor,
                                                            std::string_view currency);

[[nodiscard]] std::optional<Rejection> CheckSenderMerchant(
    const ::payments::commands::v1::CommandEnvelope& envelope, std::string_view payment_merchant);

// Trims ASCII whitespace.
std::string_view Trim(std::string_view s);

// The longest prefix of `s` of at most `max_bytes` bytes that is valid UTF-8: never cuts a
// character in two, so a shortened string still serializes as a proto3 string.
std::string TruncateUtf8(std::string_view s, size_t max_bytes);

// The same for text already valid UTF-8 (a decoded proto3 string), without copying or
// validating: the prefix of at most `max_bytes` bytes that ends on a character boundary.
// Inline: every event header is cut with it on the command path.
inline std::string_view CutUtf8(std::string_view valid_utf8, size_t max_bytes) {
  if (valid_utf8.size() <= max_bytes) return valid_utf8;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(valid_utf8[cut]) & 0xC0) == 0x80) --cut;
  return valid_utf8.substr(0, cut);
}

}  // namespace payorch::command
