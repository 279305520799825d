// The connectors' expected errors: payorch's one Status and StatusOr<T> (common/status.h).
// Configuration and spec errors are kInvalidArgument, I/O on a ledger file kUnavailable or
// kDataLoss.
//
//   StatusOr<SimulatedGatewayOptions> spec = ParseGatewaySpec("flaky:seed=7,decline=0.1");
//   if (!spec.ok()) { std::cerr << spec.status().message() << "\n"; return 2; }
#pragma once

#include "common/status.h"

namespace payorch::connectors {

using ::payorch::Status;
using ::payorch::StatusOr;

}  // namespace payorch::connectors
