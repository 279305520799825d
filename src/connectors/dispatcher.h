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
//  - Circuit breakers (breaker.h, the registry's BreakerBook, per (merchant, processor)):
//    an AUTHORIZE/SALE whose breaker is open is not called; it is answered FAILED
//    (PROCESSOR_UNAVAILABLE, circuit_open, source "breaker", command_id
//    "gw/<key>/breaker"), and the core moves the plan to its next step. HandleAll() also
//    returns a RecordBreakerTransition (command_id "breaker/<processor>/<at_ms>/<to>") for
//    each transition the call caused, before the result. Capture/void/refund always call,
//    and so does a repeat (an event re-read from history after a restart or a move): a
//    call under its key may have been made before, and "skipped, nothing sent" would then
//    be false.
//  - Saturated(): a new AUTHORIZE/SALE the connector does not send because its processor's
//    bulkhead is saturated (bulkhead.h) is answered like an open breaker's skip (FAILED,
//    PROCESSOR_UNAVAILABLE, circuit_open: nothing sent) with source "bulkhead" and
//    command_id "gw/<key>/saturated": the core moves the plan to its fallback, and the
//    reconciler seals the key as for any skip. A repeat is never refused this way.
//  - A failure the gateway keeps no record of (NETWORK_FAILURE: not sent; a 429/5xx:
//    PROCESSOR_UNAVAILABLE) leaves the key open: a later call under it, say a duplicate
//    dispatch by another connector during a rebalance, would be a fresh try that can move
//    money after the core took the failure as final. So before answering such a failure
//    the dispatcher seals the key with Retrieve(): NOT_FOUND seals it (the gateway refuses
//    it from then on) and the failure is answered; a recorded answer (a racing call under
//    the same key got there first) is answered instead; anything else is answered
//    UNKNOWN, and the reconciler retrieves until the key is answered or sealed.
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
#include <vector>

#include "common/clock.h"
#include "connectors/registry.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::connectors {

// Counters only; the runtime's probe exports them.
struct DispatcherProbe {
  std::atomic<uint64_t> calls{0};       // gateway Execute calls
  std::atomic<uint64_t> unroutable{0};  // ops answered without a gateway
  std::atomic<uint64_t> ignored{0};     // events that start no operation
  std::atomic<uint64_t> skipped{0};     // ops not called: circuit breaker open
  std::atomic<uint64_t> saturated{0};   // ops not called: the processor's bulkhead is full
  std::atomic<uint64_t> seals{0};       // retrieves after an unrecorded failure
  std::atomic<uint64_t> unsealed{0};    // ... that could not seal: answered UNKNOWN
  // Answers by GatewayOutcome value (UNSPECIFIED, SUCCEEDED, FAILED, UNKNOWN, NOT_FOUND).
  std::array<std::atomic<uint64_t>, 5> outcomes{};
  // Calls by OperationKind value.
  std::array<std::atomic<uint64_t>, 6> kinds{};
};

class Dispatcher {
 public:
  // `clock` (may be null: time 0) times the circuit breakers.
  explicit Dispatcher(GatewayRegistry& gateways, const Clock* clock = nullptr)
      : gateways_(gateways), clock_(clock) {}

  // The result command only.
  [[nodiscard]] std::optional<::payments::commands::v1::CommandEnvelope> Handle(
      const ::payments::events::v1::EventEnvelope& event);
  // Breaker transitions, then the result; empty for an event that starts no operation.
  // `repeat`: the event may have been dispatched before (see the contract).
  [[nodiscard]] std::vector<::payments::commands::v1::CommandEnvelope> HandleAll(
      const ::payments::events::v1::EventEnvelope& event, bool repeat = false);

  // The skip answer for a new charge refused by a saturated bulkhead (see the contract).
  [[nodiscard]] ::payments::commands::v1::CommandEnvelope Saturated(
      const ::payments::events::v1::EventEnvelope& event);
  // The op a *Started event asks for; nullptr for any other event.
  [[nodiscard]] static const ::payments::events::v1::GatewayOperation* OperationOf(
      const ::payments::events::v1::EventEnvelope& event);
  // AUTHORIZE or SALE: a new charge, which a breaker or a full bulkhead may skip.
  [[nodiscard]] static bool IsCharge(const ::payments::events::v1::GatewayOperation& op);

  const DispatcherProbe& probe() const { return probe_; }

 private:
  // Answers an unrecorded failure only once the key is sealed (see the contract).
  GatewayAnswer Seal(Gateway& gateway, const std::string& key, const GatewayAnswer& failure);

  GatewayRegistry& gateways_;
  const Clock* clock_;
  DispatcherProbe probe_;
};

}  // namespace payorch::connectors
