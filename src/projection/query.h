// The query API over the projection store, as routes of an http::Server (JSON, Protobuf
// JSON mapping with the .proto field names; int64 amounts are strings, as the mapping says).
//
//   GET /v1/payments/{id}                         -> PaymentView
//   GET /v1/merchants/{id}/payments?from=&to=&status=&limit=&cursor=   -> PaymentList
//   GET /v1/idempotency/{merchant_id}/{key}       -> IdempotencyRecord
//   GET /v1/reports/daily?merchant=&date=         -> DailyReport
//   GET /v1/projection[?digest=1]                 -> lag, positions (and the digest)
//
//   http::Server server;
//   RegisterQueryRoutes(server, store, {.lag = [&] { return runner.lag(); }, .max_lag = 1000});
//   (void)server.Start("127.0.0.1:8080");
//
// Errors use http::Error: 404 for unknown ids, 400 for bad parameters, 503 (with "lag" and
// "max_lag" in details) while the projection is more than max_lag records behind the log.
// Limits: docs/projection.md.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "http/server.h"
#include "projection/runner.h"
#include "projection/store.h"

namespace payorch::projection {

struct QueryOptions {
  // Records the projection is behind the log; -1 = not known yet. Null: never behind.
  std::function<int64_t()> lag;
  // Above this lag the data endpoints answer 503. Negative: never.
  int64_t max_lag = 10'000;
  // Where the projection is, for GET /v1/projection. Null: not shown.
  std::function<std::vector<PartitionPosition>()> positions;
};

// Page sizes and scan bounds of the merchant index.
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kMaxScannedPerRequest = 10'000;

// GET /v1/merchants/{id}/payments as a function, for servers that serve the list under
// their own route (the merchant API): `request.path_params[0]` is the merchant, the
// query parameters are the route's. The same answers as the route, without the lag
// check (the caller makes its own).
[[nodiscard]] http::Response ListMerchantPayments(const ProjectionStore& store,
                                                  const http::Request& request);

// Mounts the routes above on `server`. `store` must outlive the server's use of them.
void RegisterQueryRoutes(http::Server& server, const ProjectionStore& store, QueryOptions options);

}  // namespace payorch::projection
