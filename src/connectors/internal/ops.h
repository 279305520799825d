// Shared by the dispatcher and the reconciler: how an operation becomes a request and an
// answer a command. Which events start or settle an operation is command::EffectsOf
// (command/lifecycle.h), the one definition every reader uses.
#pragma once

#include <string>
#include <string_view>

#include "connectors/gateway.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::connectors::internal {

GatewayRequest RequestFor(const ::payments::events::v1::GatewayOperation& op,
                          const std::string& payment_id);

::payments::commands::v1::CommandEnvelope ResultCommand(
    const std::string& payment_id, const std::string& correlation_id,
    const ::payments::events::v1::GatewayOperation& op, const GatewayAnswer& answer,
    std::string_view source, std::string command_id);

}  // namespace payorch::connectors::internal
