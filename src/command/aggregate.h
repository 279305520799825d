// The payment aggregate: decide(state, command) -> events; evolve(state, event) -> state.
//
// Pure and deterministic: no I/O, no clock (time comes from the command record), no
// logging, no threads. evolve never fails; every refusal happens in decide, as a
// CommandRejected event. Every command yields at least one event.
//
//   PaymentState state;                        // from the writer's cache or a fold
//   std::vector<EventEnvelope> events;
//   DecideAndApply(state, record, ctx, events);  // state now == fold(old state, events)
//
// The idempotency key of step attempt (s, a) of payment p is "p:s<s>:a<a>"; of capture c
// part s "c:s<s>"; of refund r part s "r:s<s>"; of a void of step s "p:v<s>".
#pragma once

#include <google/protobuf/repeated_ptr_field.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command/plan_builder.h"
#include "command/state.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::command {

// Where a command was read from. Its timestamp is the only clock decide() sees.
struct CommandRecord {
  const ::payments::commands::v1::CommandEnvelope* command = nullptr;
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
};

struct DecideContext {
  const PlanBuilder* plans = nullptr;
  uint64_t epoch = 0;  // stamped on every event
};

// The payment a command addresses: derived from (merchant_id, idempotency_key) for a
// CreatePayment without payment_id, else the envelope's payment_id. Empty if neither.
std::string TargetPaymentId(const ::payments::commands::v1::CommandEnvelope& command);

// Decides the events for `record` given `state`, appends them to `out`, and applies each
// to `state` as it goes. Equivalent to Decide() followed by Evolve() of each event.
void DecideAndApply(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
                    std::vector<ev::EventEnvelope>& out);

// The same, appending to a RepeatedPtrField: messages left there by out.Clear() are
// reused with their memory, so a caller that decides command after command into one
// field and clears it in between allocates far less (see bench/core_bench.cc).
void DecideAndApply(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
                    google::protobuf::RepeatedPtrField<ev::EventEnvelope>& out);

// The pure form: returns the events and leaves `state` untouched.
std::vector<ev::EventEnvelope> Decide(const PaymentState& state, const CommandRecord& record,
                                      const DecideContext& ctx);

// Applies one event. Never fails: an event that does not fit leaves the state as it was,
// apart from its sequence. WriterClaimed and events for other payments are ignored.
void Evolve(PaymentState& state, const ev::EventEnvelope& event);

// Short name of the command's type: "create", "confirm", ..., "empty".
const char* CommandTypeName(const ::payments::commands::v1::CommandEnvelope& command);

// Short name of the event's type: "PaymentCreated", ...
const char* EventTypeName(const ev::EventEnvelope& event);

// Retryable error codes: TIMEOUT (once reconciliation shows nothing happened),
// NETWORK_FAILURE, PROCESSOR_UNAVAILABLE.
bool IsRetryable(::payments::types::v1::ErrorCode code);

}  // namespace payorch::command
