// CreateView: ParseCreate()'s result as views into the command, for the decide hot path.
// Internal to src/command/. ParseCreate() (parser.h) is built on it, so both accept and
// reject exactly the same requests and hash them the same way.
//
//   CreateView v;
//   if (auto rejection = ParseCreateView(command.create(), merchant, &v)) -> reject
//   v.merchant_id, v.currency(), v.metadata(), v.RequestDigest() ...
//
// The views point into the command (or into static strings) and live as long as it does.
// Nothing is allocated unless the request carries validation issues.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "command/hash.h"
#include "command/rejection.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/config/v1/config.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::command::internal {

inline constexpr size_t kMetadataCapacity = 50;  // kMaxMetadataEntries

// Plain pointers and sizes, so the array of them in CreateView costs nothing to construct.
struct MetadataEntry {
  const char* key_data;
  size_t key_size;
  const char* value_data;
  size_t value_size;

  std::string_view key() const { return {key_data, key_size}; }        // trimmed
  std::string_view value() const { return {value_data, value_size}; }  // or "[REDACTED_PAN]"
  void set(std::string_view k, std::string_view v) {
    key_data = k.data();
    key_size = k.size();
    value_data = v.data();
    value_size = v.size();
  }
};

struct CreateView {
  std::string_view merchant_id;      // trimmed
  std::string_view idempotency_key;  // trimmed
  int64_t amount = 0;
  std::array<char, 3> currency_code{};  // upper-case, known
  ::payments::types::v1::PaymentMethod method = ::payments::types::v1::PAYMENT_METHOD_CARD;
  bool manual_capture = false;
  bool confirm = false;
  std::string_view customer_reference;  // trimmed
  std::array<MetadataEntry, kMetadataCapacity> metadata_entries;
  size_t metadata_size = 0;                                     // sorted by key, keys unique
  std::vector<::payments::events::v1::ValidationIssue> issues;  // sorted by (field, code)

  std::string_view currency() const { return {currency_code.data(), currency_code.size()}; }
  std::span<const MetadataEntry> metadata() const {
    return {metadata_entries.data(), metadata_size};
  }
  // CreateRequest::RequestDigest() of the same request.
  HexDigest RequestDigest() const;
};

// Parses `create` into `*out`; returns the rejection if it cannot be accepted.
[[nodiscard]] std::optional<Rejection> ParseCreateView(
    const ::payments::commands::v1::CreatePayment& create,
    const ::payments::config::v1::MerchantConfig* merchant, CreateView* out);

// The request fingerprint over normalised fields; metadata in key order.
template <typename Metadata>
HexDigest CreateDigest(std::string_view merchant_id, std::string_view idempotency_key,
                       int64_t amount, std::string_view currency,
                       ::payments::types::v1::PaymentMethod method, bool manual_capture,
                       bool confirm, std::string_view customer_reference,
                       const Metadata& metadata) {
  StableHasher h;
  h.Add("create").Add(merchant_id).Add(idempotency_key).Add(amount).Add(currency);
  h.Add(static_cast<int64_t>(method)).Add(manual_capture ? 1 : 0).Add(confirm ? 1 : 0);
  h.Add(customer_reference).Add(static_cast<int64_t>(metadata.size()));
  for (const auto& entry : metadata) {
    if constexpr (requires { entry.key(); }) {
      h.Add(entry.key()).Add(entry.value());
    } else {
      h.Add(entry.first).Add(entry.second);
    }
  }
  return h.Digest();
}

}  // namespace payorch::command::internal
