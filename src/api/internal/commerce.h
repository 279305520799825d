// The merchant API's invoice, order and checkout routes (internal; docs/merchant-api.md,
// "Orders and checkout", "Invoices"):
//
//   POST /v1/checkout                        CreateOrder, LinkPayment, then the payment
//   GET  /v1/orders/{id}
//   POST /v1/invoices                        CreateInvoice
//   GET  /v1/invoices/{id}
//   POST /v1/invoices/{id}/payments          LinkPayment, then the payment
//   POST /v1/invoices/{id}/supplementary    IssueSupplementary, then the supplementary's
//                                           own CreateInvoice (invoice::SupplementaryCreate)
//   POST /v1/invoices/{id}/cancel|close
//
// Each command goes to its aggregate's commands topic keyed by the invoice or order id,
// and the answer waits (at most wait_ms) for its decision (AggregateFollower). A rejection
// answers the documented error with StatusForReason's status (commerce_json.h). A payment
// is created and confirmed by `create_payment`, which is POST /v1/payments itself, with
// metadata payorch_order or payorch_invoice (the saga's links); its id is derived from the merchant
// and the request's Idempotency-Key, as the order id is, so a retry with the same key after a crash
// redoes the remaining steps and every command is idempotent. A payment refused before it exists
// (400 or 422) never reaches the saga, so the route releases its link itself. Checkout and invoice
// payments keep their final answer under the Idempotency-Key (response_store.h), replayed as it
// was.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/config.h"
#include "api/internal/aggregates.h"
#include "api/internal/auth.h"
#include "api/internal/log_bridge.h"
#include "api/internal/response_store.h"
#include "common/clock.h"
#include "http/server.h"
#include "log/appender.h"
#include "log/options.h"

namespace payorch::api::internal {

struct CommerceDeps {
  const log::KafkaOptions* kafka = nullptr;
  const ApiConfig* config = nullptr;
  const Clock* clock = nullptr;
  log::Appender* appender = nullptr;
  AggregateFollower* follower = nullptr;
  ResponseStore* responses = nullptr;
  // POST /v1/payments (unguarded: the caller is authenticated already).
  AuthedHandler create_payment;
};

struct CommerceRoute {
  std::string method;
  std::string path;     // the OpenAPI path template
  std::string pattern;  // the server's route regex
  AuthedHandler handler;
};

// The OpenAPI paths of the routes above (handlers empty).
std::vector<CommerceRoute> CommerceRouteSpecs();
// The routes with their handlers; `deps` must outlive them.
std::vector<CommerceRoute> CommerceRoutes(const CommerceDeps& deps);

}  // namespace payorch::api::internal
