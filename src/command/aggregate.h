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
// Command after command, pass an EventPool and give the events back when done with them:
// events are then built from recycled messages and deciding allocates almost nothing.
//
//   DecideAndApply(state, record, ctx, events, pool);
//   ... publish and persist events ...
//   pool.Recycle(events);
//
// Identifiers, all deterministic (p = payment_id):
//   event id            "p/<sequence>"; for an event of no payment (a command without a
//                       payment id) "cmd/<partition>/<offset>/<index in the command>"
//   step attempt key    "p:s<step>:a<attempt>", attempt from 1
//   capture part key    "<capture_id>:s<step>", capture_id = "cap_" + hash(p, capture key)
//   refund part key     "<refund_id>:s<step>", refund_id = "ref_" + hash(p, refund key)
//   void key            "p:v<step>:n<n>", n = 1 + voids already started for the step
//
// A compensation void (reversing a step of a failed plan, or a late success) that fails
// is started again under the next void key, up to 5 voids per step.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command/event_pool.h"
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
  // The runtime's admission (runtime/admission.h): a new payment is rejected
  // REJECT_REASON_OVERLOADED. An input like `plans`, so decide stays pure; a repeated
  // create of an existing payment is still de-duplicated, and other commands are decided
  // as usual (they settle work already accepted).
  bool overloaded = false;
};

// The payment a command addresses: derived from (merchant_id, idempotency_key) for a
// CreatePayment without payment_id, else the envelope's payment_id. Empty if neither.
std::string TargetPaymentId(const ::payments::commands::v1::CommandEnvelope& command);

// Decides the events for `record` given `state`, appends them to `out`, and applies each
// to `state` as it goes. Equivalent to Decide() followed by Evolve() of each event.
void DecideAndApply(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
                    std::vector<ev::EventEnvelope>& out);

// The same, building the events from `pool`'s recycled messages (see event_pool.h). The
// events are byte for byte those of the overload above.
void DecideAndApply(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
                    std::vector<ev::EventEnvelope>& out, EventPool& pool);

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
