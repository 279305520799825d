// Dispatcher: turns a logged *Started event into one gateway call, and the answer into a
// RecordGatewayResult command for the commands topic. The runtime feeds it the counted
// events (fencing already applied) and appends what it returns.
//
// Contract:
//  - Only StepStarted, CaptureStarted, VoidStarted and RefundStarted cause a call, always
//    under the op's idempotency key, with its timeout, on the gateway of op.processor_id.
//    Every other event yields nullopt.
//  - The command is deterministic: command_id "gw/<op key>/call", payment_id and
//    correlation_id of the event, source "call". A redelivered event calls the gateway
//    again under the same key; the gateway's idempotency returns the first answer.
//  - An op whose processor has no gateway is answered FAILED (ERROR_CODE_UNKNOWN) without
//    a call, so the payment is not left waiting (counted in probe().unroutable).
//
//   Dispatcher dispatcher(registry);
//   if (auto command = dispatcher.Handle(event)) produce("commands", command->payment_id(),
//   *command);
//
// Thread-safe (Handle may run on several threads; calls block for the gateway's latency).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

#include "connectors/registry.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::connectors {

// Counters only; the runtime's probe exports them.
struct DispatcherProbe {
  std::atomic<uint64_t> calls{0};       // gateway Execute calls
  std::atomic<uint64_t> unroutable{0};  // ops answered without a gateway
  std::atomic<uint64_t> ignored{0};     // events that start no operation
  // Answers by GatewayOutcome value (UNSPECIFIED, SUCCEEDED, FAILED, UNKNOWN, NOT_FOUND).
  std::array<std::atomic<uint64_t>, 5> outcomes{};
  // Calls by OperationKind value.
  std::array<std::atomic<uint64_t>, 6> kinds{};
};

class Dispatcher {
 public:
  explicit Dispatcher(GatewayRegistry& gateways) : gateways_(gateways) {}

  [[nodiscard]] std::optional<::payments::commands::v1::CommandEnvelope> Handle(
      const ::payments::events::v1::EventEnvelope& event);

  const DispatcherProbe& probe() const { return probe_; }

 private:
  GatewayRegistry& gateways_;
  DispatcherProbe probe_;
};

}  // namespace payorch::connectors
