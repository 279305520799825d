// The operator's API key administration over HTTP (seed 003: generate, rotate, revoke, and
// query the audit), on the merchant API's listener under /v1/admin/, authenticated by the
// operator token (ApiConfig::admin_token, from the environment variable named by
// `admin_token_env`), never by a merchant's key. Without a token every admin route answers
// 404 `not_found`: the admin API is off.
//
//   POST   /v1/admin/api-keys {merchant}       201 {id, key (shown once), merchant, created}
//   GET    /v1/admin/api-keys?merchant=        200 list of keys (no hashes)
//   PUT    /v1/admin/api-keys/{id}/rotate      200 the replacement key (the old one revoked)
//   DELETE /v1/admin/api-keys/{id}             200 {id, merchant, revoked: true}
//   GET    /v1/admin/api-keys/audit?merchant=&limit=   200 the newest audit records
//
// Every change is written to the key store's audit log (keys.jsonl) with the actor
// "admin-api@<remote address> <request id>", exactly as `payorch keys` writes its own.
//
//   for (auto& r : AdminRoutes(&keys, config.admin_token, merchant_configured))
//     server.Handle(r.method, r.path, r.handler);
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/keys.h"
#include "http/server.h"

namespace payorch::api::internal {

// Audit records an audit query answers at most (the newest first).
inline constexpr int kMaxAuditRecords = 1'000;
// The operator token's minimum length: it is compared by SHA-256, so it must be random.
inline constexpr size_t kMinAdminTokenBytes = 32;

struct AdminRoute {
  std::string method;
  std::string path;  // regex
  http::Handler handler;
};

// The admin routes over `keys`. `token`: the operator token ("" = admin API off).
// `merchant_configured(m)`: whether the merchant configuration has `m` (a key for any other
// merchant is refused, as `payorch keys create` refuses it).
[[nodiscard]] std::vector<AdminRoute> AdminRoutes(
    KeyStore* keys, const std::string& token,
    std::function<bool(const std::string& merchant)> merchant_configured);

}  // namespace payorch::api::internal
