// Shared by the dispatcher and the reconciler: which events start or resolve a gateway
// operation, and how an answer becomes a command.
#pragma once

#include <string>
#include <string_view>

#include "connectors/gateway.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::connectors::internal {

// The op of a StepStarted / CaptureStarted / VoidStarted / RefundStarted; else nullptr.
const ::payments::events::v1::GatewayOperation* StartedOperation(
    const ::payments::events::v1::EventEnvelope& event);

// The op of an event that settles it (StepSucceeded, StepFailed, ProcessingExpired,
// PaymentCaptured, CaptureFailed, PaymentVoided, VoidFailed, RefundSucceeded,
// RefundFailed); else nullptr.
const ::payments::events::v1::GatewayOperation* SettlingOperation(
    const ::payments::events::v1::EventEnvelope& event);

GatewayRequest RequestFor(const ::payments::events::v1::GatewayOperation& op,
                          const std::string& payment_id);

::payments::commands::v1::CommandEnvelope ResultCommand(
    const std::string& payment_id, const std::string& correlation_id,
    const ::payments::events::v1::GatewayOperation& op, const GatewayAnswer& answer,
    std::string_view source, std::string command_id);

}  // namespace payorch::connectors::internal
