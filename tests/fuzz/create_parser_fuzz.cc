// Fuzz target: the permissive parser alone. The input's first byte picks the merchant
// limits (none, or m_jpy's currencies and maximum); the rest is a CreatePayment. Also
// drives the text helpers on the raw bytes.
//
// Checked: ParseCreate never crashes; an accepted request respects every documented limit
// (lengths, entry count, positive amount, known upper-case currency), keeps no card
// number, and hashes the same twice; TruncateUtf8 returns a prefix of at most the asked
// size; Trim returns a substring.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "command/money.h"
#include "command/parser.h"
#include "config/config.h"

namespace {

namespace cmd = ::payments::commands::v1;
namespace cfg = ::payments::config::v1;
using namespace payorch::command;  // NOLINT(google-build-using-namespace): a test driver

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

const cfg::MerchantConfig& Jpy() {
  static const cfg::OrchestratorConfig* config =
      new cfg::OrchestratorConfig(payorch::config::DefaultConfig());
  for (const auto& m : config->merchants()) {
    if (m.merchant_id() == "m_jpy") return m;
  }
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view raw(reinterpret_cast<const char*>(data) + 1, size - 1);
  const cfg::MerchantConfig* merchant = (data[0] & 1) != 0 ? &Jpy() : nullptr;

  for (size_t max : {size_t{0}, size_t{1}, size_t{3}, size_t{16}, raw.size()}) {
    const std::string t = TruncateUtf8(raw, max);
    Check(t.size() <= max && raw.substr(0, t.size()) == t, "TruncateUtf8 not a short prefix");
  }
  const std::string_view trimmed = Trim(raw);
  Check(trimmed.empty() || (trimmed.data() >= raw.data() &&
                            trimmed.data() + trimmed.size() <= raw.data() + raw.size()),
        "Trim not a substring");
  (void)LooksLikePan(raw);

  cmd::CreatePayment create;
  if (!create.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) return 0;
  auto parsed = ParseCreate(create, merchant);
  if (!parsed.ok()) {
    Check(parsed.rejection().reason != ::payments::events::v1::REJECT_REASON_UNSPECIFIED,
          "rejection without a reason");
    return 0;
  }
  const CreateRequest& r = parsed.value();
  Check(!r.merchant_id.empty() && r.merchant_id.size() <= kMaxIdLength, "merchant_id limit");
  Check(!r.idempotency_key.empty() && r.idempotency_key.size() <= kMaxIdempotencyKeyLength,
        "idempotency_key limit");
  Check(r.customer_reference.size() <= kMaxReferenceLength, "customer_reference limit");
  Check(!LooksLikePan(r.customer_reference), "PAN in customer_reference");
  Check(r.amount > 0 && r.amount <= payorch::kMaxAmountMinor, "amount limits");
  Check(payorch::FindCurrency(r.currency) != nullptr, "unknown currency accepted");
  Check(r.metadata.size() <= kMaxMetadataEntries, "metadata entry count");
  for (const auto& [k, v] : r.metadata) {
    Check(!k.empty() && k.size() <= kMaxMetadataKeyLength, "metadata key limit");
    Check(v.size() <= kMaxMetadataValueLength, "metadata value limit");
    Check(!LooksLikePan(k) && !LooksLikePan(v), "PAN in metadata");
  }
  Check(r.RequestHash() == r.RequestHash(), "request hash not stable");
  return 0;
}
