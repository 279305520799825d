// Merchant configuration loading: YAML or JSON text -> payments.config.v1.OrchestratorConfig,
// strictly checked. Every failure is a value: one line naming the file, the position when
// known, the field path and the exact problem, e.g.
//   merchants.yaml:7:17: merchants[0].profiles[1].steps[0].method: unknown value "CARDD"
//   (expected CARD, APPLE_PAY, BANK_TRANSFER, GOOGLE_PAY)
// (printed on one line). Field names may be snake_case or lowerCamelCase; enum values may be
// written with or without their prefix (CARD or PAYMENT_METHOD_CARD), in any case. The
// accepted shape and the validation bounds are listed in src/config/README.md.
//
//   auto loaded = payorch::config::LoadConfigFile("deploy/config/merchants.yaml");
//   if (!loaded.ok()) { std::cerr << loaded.error() << "\n"; return 2; }
//   payorch::command::PlanBuilder builder(std::move(loaded).config());
//
// Thread safety: all functions are pure (LoadConfigFile reads the file) and reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "payments/config/v1/config.pb.h"

namespace payorch::config {

inline constexpr uint32_t kConfigSchemaVersion = 1;

enum class Format { kYaml, kJson };

// .yaml / .yml -> kYaml, .json -> kJson (case-insensitive); anything else -> nullopt.
[[nodiscard]] std::optional<Format> FormatForPath(std::string_view path);

// A loaded, validated configuration or a one-line error message.
class [[nodiscard]] LoadResult {
 public:
  static LoadResult Ok(::payments::config::v1::OrchestratorConfig config) {
    return LoadResult(std::move(config));
  }
  static LoadResult Error(std::string message) { return LoadResult(std::move(message)); }

  bool ok() const { return std::holds_alternative<Config>(v_); }
  // Requires ok().
  const ::payments::config::v1::OrchestratorConfig& config() const& { return std::get<Config>(v_); }
  ::payments::config::v1::OrchestratorConfig&& config() && {
    return std::get<Config>(std::move(v_));
  }
  // Requires !ok().
  const std::string& error() const { return std::get<std::string>(v_); }

 private:
  using Config = ::payments::config::v1::OrchestratorConfig;
  explicit LoadResult(Config c) : v_(std::move(c)) {}
  explicit LoadResult(std::string e) : v_(std::move(e)) {}
  std::variant<Config, std::string> v_;
};

// Reads `path`, picks the format from its extension, parses and validates.
[[nodiscard]] LoadResult LoadConfigFile(const std::string& path);

// Parses and validates `text`; `source_name` prefixes error messages (usually the file name).
[[nodiscard]] LoadResult LoadConfigText(std::string_view text, Format fmt,
                                        std::string_view source_name = "<config>");

// The built-in demo configuration (merchants m_cobranded, m_wallet, m_flaky, m_jpy), the
// same as deploy/config/merchants.yaml. It passes validation.
[[nodiscard]] ::payments::config::v1::OrchestratorConfig DefaultConfig();

}  // namespace payorch::config
