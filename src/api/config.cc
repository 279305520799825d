#include "api/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string_view>

namespace payorch::api {
namespace {

template <typename T>
bool Read(const YAML::Node& node, const char* name, T* out, std::string* err,
          const std::string& where) {
  const YAML::Node v = node[name];
  if (!v) return true;
  try {
    *out = v.as<T>();
  } catch (const YAML::Exception&) {
    *err = where + name + ": not a valid value";
    return false;
  }
  return true;
}

// "" if every key of the mapping `node` is in `known`; else the first unknown one, named
// (a misspelt field would otherwise be ignored and its default used without a word).
std::string Unknown(const YAML::Node& node, std::initializer_list<std::string_view> known,
                    const std::string& where) {
  if (!node.IsMap()) return "";
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string names;
    for (std::string_view k : known) names.append(names.empty() ? "" : ", ").append(k);
    std::string err = where;
    err.append(key).append(": unknown field (known: ").append(names).append(")");
    return err;
  }
  return "";
}

}  // namespace

std::string LoadApiConfig(const std::string& path, ApiConfig* config) {
  if (path.empty()) return "";
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return "--api-config " + path + ": " + e.what();
  }
  if (!root.IsMap()) return "--api-config " + path + ": not a YAML mapping";
  std::string err;
  const std::string at = "--api-config " + path + ": ";
  if (std::string u =
          Unknown(root,
                  {"wait_ms", "append_timeout_ms", "key_cache_ttl_ms", "idempotency_window_ms",
                   "rate_limit", "events_retention_days", "admin_token_env", "webhooks"},
                  at);
      !u.empty())
    return u;
  if (!Read(root, "wait_ms", &config->wait_ms, &err, at) ||
      !Read(root, "append_timeout_ms", &config->append_timeout_ms, &err, at) ||
      !Read(root, "key_cache_ttl_ms", &config->key_cache_ttl_ms, &err, at) ||
      !Read(root, "idempotency_window_ms", &config->idempotency_window_ms, &err, at) ||
      !Read(root, "events_retention_days", &config->events_retention_days, &err, at))
    return err;
  std::string admin_token_env;
  if (!Read(root, "admin_token_env", &admin_token_env, &err, at)) return err;
  if (!admin_token_env.empty()) {
    const char* v = std::getenv(admin_token_env.c_str());
    if (v == nullptr || std::strlen(v) < 32)
      return at + "admin_token_env: " + admin_token_env + " must hold a token of at least 32 bytes";
    config->admin_token = v;
  }
  if (config->idempotency_window_ms <= 0) return at + "idempotency_window_ms must be > 0";
  if (config->events_retention_days <= 0 || config->events_retention_days > 36'500)
    return at + "events_retention_days must be in 1..36500";
  if (const YAML::Node rl = root["rate_limit"]) {
    if (std::string u = Unknown(rl, {"per_second", "burst"}, at + "rate_limit."); !u.empty())
      return u;
    if (!Read(rl, "per_second", &config->rate_limit.per_second, &err, at + "rate_limit.") ||
        !Read(rl, "burst", &config->rate_limit.burst, &err, at + "rate_limit."))
      return err;
    if (config->rate_limit.per_second <= 0 || config->rate_limit.burst < 1)
      return at + "rate_limit: per_second must be > 0 and burst >= 1";
  }
  if (config->wait_ms < 0 || config->append_timeout_ms <= 0)
    return at + "wait_ms must be >= 0 and append_timeout_ms > 0";
  if (const YAML::Node wh = root["webhooks"]) {
    if (std::string u = Unknown(wh, {"retry", "endpoints"}, at + "webhooks."); !u.empty()) return u;
    if (const YAML::Node r = wh["retry"]) {
      const std::string w = at + "webhooks.retry.";
      if (std::string u = Unknown(r, {"initial_ms", "max_interval_ms", "give_up_after_ms"}, w);
          !u.empty())
        return u;
      if (!Read(r, "initial_ms", &config->retry.initial_ms, &err, w) ||
          !Read(r, "max_interval_ms", &config->retry.max_interval_ms, &err, w) ||
          !Read(r, "give_up_after_ms", &config->retry.give_up_after_ms, &err, w))
        return err;
      if (config->retry.initial_ms <= 0 || config->retry.max_interval_ms <= 0)
        return w + "initial_ms and max_interval_ms must be > 0";
    }
    if (const YAML::Node eps = wh["endpoints"]) {
      if (!eps.IsMap()) return at + "webhooks.endpoints: not a mapping of merchant -> endpoint";
      for (const auto& kv : eps) {
        const std::string merchant = kv.first.as<std::string>();
        std::string w = at;
        w.append("webhooks.endpoints.").append(merchant).append(".");
        if (std::string u = Unknown(kv.second, {"url", "secret", "secret_env"}, w); !u.empty())
          return u;
        outbox::WebhookEndpoint ep;
        std::string secret_env;
        if (!Read(kv.second, "url", &ep.url, &err, w) ||
            !Read(kv.second, "secret", &ep.secret, &err, w) ||
            !Read(kv.second, "secret_env", &secret_env, &err, w))
          return err;
        if (ep.url.rfind("http://", 0) != 0 && ep.url.rfind("https://", 0) != 0)
          return w + "url: want an http:// or https:// URL";
        if (!secret_env.empty()) {
          const char* v = std::getenv(secret_env.c_str());
          if (v == nullptr || *v == '\0')
            return w.append("secret_env: ").append(secret_env) + " is not set";
          ep.secret = v;
        }
        if (ep.secret.empty()) return w + "secret or secret_env is required";
        config->webhooks[merchant] = ep;
      }
    }
  }
  return "";
}

}  // namespace payorch::api
