#include "api/internal/admin.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "api/internal/answers.h"
#include "common/sha256.h"

namespace payorch::api::internal {

namespace {

using json = nlohmann::json;

// Bearer tokens are compared by their SHA-256, in constant time.
bool TokenMatches(const std::string& expected_sha256, const http::Request& req) {
  const auto auth = req.Header("Authorization");
  if (!auth || auth->rfind("Bearer ", 0) != 0) return false;
  const std::string presented = Sha256Hex(auth->substr(7));
  return presented.size() == expected_sha256.size() &&
         CRYPTO_memcmp(presented.data(), expected_sha256.data(), presented.size()) == 0;
}

std::string Actor(const http::Request& req) {
  return "admin-api@" + req.remote_addr + " " + req.request_id;
}

json KeyJson(const ApiKeyRecord& r) {
  json j{{"id", r.key_id},
         {"object", "api_key"},
         {"merchant", r.merchant_id},
         {"created", r.created_at_ms / 1000},
         {"revoked", r.revoked}};
  j["revoked_at"] = r.revoked ? json(r.revoked_at_ms / 1000) : json(nullptr);
  j["replaced_by"] = r.replaced_by.empty() ? json(nullptr) : json(r.replaced_by);
  return j;
}

// The record of `key_id`, if any (revoked ones included).
std::optional<ApiKeyRecord> Find(const KeyStore& keys, const std::string& key_id) {
  auto all = keys.Load();
  auto it = all.find(key_id);
  if (it == all.end()) return std::nullopt;
  return it->second;
}

http::Response KeyNotFound() { return http::Error(404, "api_key_not_found", "no such API key"); }

http::Response Created(int status, const CreatedKey& key, const std::string& merchant) {
  return http::Json(
      status,
      {{"id", key.key_id}, {"object", "api_key"}, {"merchant", merchant}, {"key", key.secret}});
}

class Admin {
 public:
  Admin(KeyStore* keys, const std::string& token,
        std::function<bool(const std::string&)> configured)
      : keys_(keys),
        token_sha256_(token.empty() ? "" : Sha256Hex(token)),
        configured_(std::move(configured)) {}

  // Runs `handler` for the operator only: 404 while the admin API is off (nothing tells
  // it exists), 401 for a missing or wrong token.
  http::Handler Guard(std::function<http::Response(const http::Request&)> handler) const {
    return [this, handler = std::move(handler)](const http::Request& req) {
      if (token_sha256_.empty()) return Finalize(http::Error(404, "not_found", "no such route"));
      if (!TokenMatches(token_sha256_, req)) {
        http::Response r =
            http::Error(401, "unauthorized", "the operator token is required: Bearer <token>");
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return Finalize(std::move(r));
      }
      return Finalize(handler(req));  // the merchant API's error shape and version header
    };
  }

  http::Response Create(const http::Request& req) const {
    const json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (!body.is_object()) return http::Error(400, "invalid_json", "the body is not a JSON object");
    if (!body.contains("merchant") || !body["merchant"].is_string() || body.size() != 1) {
      return FieldError("merchant", "required: the merchant id (the only field)");
    }
    const std::string merchant = body["merchant"];
    if (!configured_ || !configured_(merchant)) {
      return FieldError("merchant", "merchant '" + merchant + "' is not configured");
    }
    std::string error;
    auto key = keys_->Create(merchant, Actor(req), &error);
    if (!key) return http::Error(500, "key_store_failed", error);
    return Created(201, *key, merchant);
  }

  http::Response Rotate(const http::Request& req) const {
    const auto old = Find(*keys_, req.path_params[0]);
    if (!old) return KeyNotFound();
    std::string error;
    auto key = keys_->Rotate(old->merchant_id, old->key_id, Actor(req), &error);
    if (!key) return http::Error(409, "api_key_revoked", error);
    return Created(200, *key, old->merchant_id);
  }

  http::Response Revoke(const http::Request& req) const {
    const auto key = Find(*keys_, req.path_params[0]);
    if (!key) return KeyNotFound();
    if (std::string error = keys_->Revoke(key->merchant_id, key->key_id, Actor(req));
        !error.empty()) {
      return http::Error(409, "api_key_revoked", error);
    }
    return http::Json(200, {{"id", key->key_id},
                            {"object", "api_key"},
                            {"merchant", key->merchant_id},
                            {"revoked", true}});
  }

  http::Response List(const http::Request& req) const {
    json data = json::array();
    for (const ApiKeyRecord& r : keys_->List(req.Query("merchant").value_or(""))) {
      data.push_back(KeyJson(r));
    }
    return http::Json(200, {{"object", "list"}, {"data", std::move(data)}, {"has_more", false}});
  }

  http::Response Audit(const http::Request& req) const {
    int limit = 100;
    if (const auto v = req.Query("limit")) {
      const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), limit);
      if (ec != std::errc() || end != v->data() + v->size() || limit < 1 ||
          limit > kMaxAuditRecords) {
        return http::Error(400, "bad_parameter", "limit must be an integer in 1..1000",
                           {{"parameter", "limit"}});
      }
    }
    const std::vector<std::string> lines = keys_->Audit(req.Query("merchant").value_or(""));
    json data = json::array();
    const size_t n = std::min(lines.size(), static_cast<size_t>(limit));
    for (size_t i = lines.size(); i > lines.size() - n; --i) {
      data.push_back(json::parse(lines[i - 1], nullptr, false));
    }
    return http::Json(
        200, {{"object", "list"}, {"data", std::move(data)}, {"has_more", lines.size() > n}});
  }

 private:
  static http::Response FieldError(const std::string& field, const std::string& message) {
    return http::Error(
        422, "validation_failed", message,
        {{"fields", json::array({{{"field", field}, {"code", "invalid"}, {"message", message}}})}});
  }

  KeyStore* keys_;
  std::string token_sha256_;
  std::function<bool(const std::string&)> configured_;
};

}  // namespace

std::vector<AdminRoute> AdminRoutes(KeyStore* keys, const std::string& token,
                                    std::function<bool(const std::string&)> merchant_configured) {
  auto admin = std::make_shared<Admin>(keys, token, std::move(merchant_configured));
  const auto bind = [admin](http::Response (Admin::*m)(const http::Request&) const) {
    return admin->Guard([admin, m](const http::Request& r) { return ((*admin).*m)(r); });
  };
  constexpr char kKeys[] = "/v1/admin/api-keys";
  return {{"POST", kKeys, bind(&Admin::Create)},
          {"GET", kKeys, bind(&Admin::List)},
          {"GET", std::string(kKeys) + "/audit", bind(&Admin::Audit)},
          {"PUT", std::string(kKeys) + "/([^/]+)/rotate", bind(&Admin::Rotate)},
          {"DELETE", std::string(kKeys) + "/([^/]+)", bind(&Admin::Revoke)}};
}

}  // namespace payorch::api::internal
