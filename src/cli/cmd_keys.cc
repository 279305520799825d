// payorch keys: API keys of the merchant API (src/api/keys.h). Each operation appends to
// DATA_DIR/api/keys.jsonl, the key store and its audit log.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "api/keys.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "common/clock.h"

namespace payorch::cli {

namespace {
std::string Actor() {
  const char* user = std::getenv("USER");
  return std::string(user != nullptr ? user : "unknown") + "@pid" + std::to_string(::getpid());
}
}  // namespace

int RunKeys(int argc, char** argv) {
  std::string data_dir;
  std::string merchant;
  std::string key_id;
  std::string config_path;
  FlagSet flags("keys",
                "Manages merchant API keys: keys create|rotate|revoke|list|audit --data DIR "
                "--merchant M [--key ID].\nA new key is printed once; only its argon2id hash "
                "is stored, in DIR/api/keys.jsonl,\nwhich is also the append-only audit log of "
                "key operations.");
  flags.String("data", &data_dir, "data directory of `payorch api` / `payorch run` (required)");
  flags.String("merchant", &merchant, "merchant the key belongs to (required but for list)");
  flags.String("key", &key_id, "key id, for rotate and revoke");
  flags.String("config", &config_path,
               "merchant configuration the API serves, YAML or JSON (default: built-in demo "
               "merchants); create and rotate refuse a merchant it does not configure");
  if (auto exit_code = flags.ParseCommandLine(argc, argv, /*max_positional=*/1)) {
    return *exit_code;
  }
  if (flags.positional().size() != 1) {
    std::fprintf(stderr, "payorch keys: want one of create, rotate, revoke, list, audit\n");
    return 2;
  }
  const std::string op = flags.positional()[0];
  if (data_dir.empty()) {
    std::fprintf(stderr, "payorch keys: --data is required\n");
    return 2;
  }
  // Only create and rotate make the directory; reading a mistyped one is an error, not an
  // empty list.
  if ((op == "list" || op == "audit" || op == "revoke") &&
      !std::filesystem::is_directory(data_dir)) {
    std::fprintf(stderr, "payorch keys: --data '%s' is not a directory\n", data_dir.c_str());
    return 2;
  }
  if (op != "list" && op != "audit" && merchant.empty()) {
    std::fprintf(stderr, "payorch keys: --merchant is required\n");
    return 2;
  }
  if ((op == "rotate" || op == "revoke") && key_id.empty()) {
    std::fprintf(stderr, "payorch keys: --key is required for %s\n", op.c_str());
    return 2;
  }
  if (op == "create" || op == "rotate") {
    ::payments::config::v1::OrchestratorConfig config;
    if (std::string err = LoadMerchantConfig(config_path, &config); !err.empty()) {
      std::fprintf(stderr, "payorch keys: %s\n", err.c_str());
      return 2;
    }
    const bool configured = std::any_of(config.merchants().begin(), config.merchants().end(),
                                        [&](const auto& m) { return m.merchant_id() == merchant; });
    if (!configured) {
      std::fprintf(stderr,
                   "payorch keys: merchant '%s' is not in the merchant configuration%s%s "
                   "(a key for it could never be used)\n",
                   merchant.c_str(), config_path.empty() ? "" : " ", config_path.c_str());
      return 2;
    }
  }
  SystemClock clock;
  api::KeyStore store(data_dir + "/api/keys.jsonl", &clock);
  std::string err;
  if (op == "create" || op == "rotate") {
    auto key = op == "create" ? store.Create(merchant, Actor(), &err)
                              : store.Rotate(merchant, key_id, Actor(), &err);
    if (!key) {
      std::fprintf(stderr, "payorch keys: %s\n", err.c_str());
      return 1;
    }
    std::printf("%s\n", key->secret.c_str());
    std::fprintf(stderr, "key %s for merchant %s: store it now, it is not shown again\n",
                 key->key_id.c_str(), merchant.c_str());
    return 0;
  }
  if (op == "revoke") {
    err = store.Revoke(merchant, key_id, Actor());
    if (!err.empty()) {
      std::fprintf(stderr, "payorch keys: %s\n", err.c_str());
      return 1;
    }
    return 0;
  }
  if (op == "audit") {
    for (const std::string& line : store.Audit(merchant)) std::printf("%s\n", line.c_str());
    return 0;
  }
  if (op == "list") {
    for (const auto& k : store.List(merchant))
      std::printf("%s\t%s\t%s\tcreated_at_ms=%lld%s\n", k.key_id.c_str(), k.merchant_id.c_str(),
                  k.revoked ? "revoked" : "active", static_cast<long long>(k.created_at_ms),
                  k.replaced_by.empty() ? "" : ("\treplaced_by=" + k.replaced_by).c_str());
    return 0;
  }
  std::fprintf(stderr,
               "payorch keys: unknown operation '%s' (create, rotate, revoke, list, audit)\n",
               op.c_str());
  return 2;
}

}  // namespace payorch::cli
