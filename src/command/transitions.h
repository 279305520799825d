// The payment status transition table, in the manner of librdkafka's
// rd_kafka_txn_state_transition_is_valid(): one switch listing, for each target status,
// the statuses that may lead to it. Evolve() only ever moves along these edges; decide()
// rejects commands that would need any other.
//
//   UNSPECIFIED ──► REQUIRES_CONFIRMATION ──► AUTHORIZING ◄──► PROCESSING
//                        │                        │  │              │
//                        ▼                        │  ▼              ▼
//                    CANCELED       REQUIRES_CAPTURE ──► SUCCEEDED  FAILED
//                                          │
//                                          ▼
//                                        VOIDED
#pragma once

#include "payments/events/v1/events.pb.h"

namespace payorch::command {

// True if a payment may move from `from` to `to`. Staying in the same status is valid
// (events such as RefundSucceeded leave the status as it is).
bool IsValidTransition(::payments::events::v1::PaymentStatus from,
                       ::payments::events::v1::PaymentStatus to);

// SUCCEEDED, FAILED, CANCELED, VOIDED: no way out.
bool IsTerminalStatus(::payments::events::v1::PaymentStatus status);

const char* StatusName(::payments::events::v1::PaymentStatus status);

// Whether a successful void releases money the payment counted: a void the merchant asked
// for (no parent attempt) does, and so does the compensation of a success the payment
// counted; the compensation of a late success reverses money the payment never counted.
// The core's ledger and every read model decide it here.
constexpr bool VoidReleasesCountedMoney(bool has_parent, bool parent_succeeded) {
  return !has_parent || parent_succeeded;
}

}  // namespace payorch::command
