#include "command/transitions.h"

namespace payorch::command {

namespace ev = ::payments::events::v1;

bool IsTerminalStatus(ev::PaymentStatus status) {
  switch (status) {
    case ev::PAYMENT_STATUS_SUCCEEDED:
    case ev::PAYMENT_STATUS_FAILED:
    case ev::PAYMENT_STATUS_CANCELED:
    case ev::PAYMENT_STATUS_VOIDED:
      return true;
    default:
      return false;
  }
}

bool IsValidTransition(ev::PaymentStatus from, ev::PaymentStatus to) {
  if (from == to) return true;
  switch (to) {
    case ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION:
      return from == ev::PAYMENT_STATUS_UNSPECIFIED;
    case ev::PAYMENT_STATUS_AUTHORIZING:
      return from == ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION ||
             from == ev::PAYMENT_STATUS_PROCESSING;
    case ev::PAYMENT_STATUS_PROCESSING:
      return from == ev::PAYMENT_STATUS_AUTHORIZING;
    case ev::PAYMENT_STATUS_REQUIRES_CAPTURE:
      return from == ev::PAYMENT_STATUS_AUTHORIZING || from == ev::PAYMENT_STATUS_PROCESSING;
    case ev::PAYMENT_STATUS_SUCCEEDED:
      return from == ev::PAYMENT_STATUS_AUTHORIZING || from == ev::PAYMENT_STATUS_PROCESSING ||
             from == ev::PAYMENT_STATUS_REQUIRES_CAPTURE;
    case ev::PAYMENT_STATUS_FAILED:
      return from == ev::PAYMENT_STATUS_AUTHORIZING || from == ev::PAYMENT_STATUS_PROCESSING;
    case ev::PAYMENT_STATUS_CANCELED:
      return from == ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION;
    case ev::PAYMENT_STATUS_VOIDED:
      return from == ev::PAYMENT_STATUS_REQUIRES_CAPTURE;
    default:
      return false;
  }
}

const char* StatusName(ev::PaymentStatus status) {
  switch (status) {
    case ev::PAYMENT_STATUS_UNSPECIFIED:
      return "none";
    case ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION:
      return "requires_confirmation";
    case ev::PAYMENT_STATUS_AUTHORIZING:
      return "authorizing";
    case ev::PAYMENT_STATUS_PROCESSING:
      return "processing";
    case ev::PAYMENT_STATUS_REQUIRES_CAPTURE:
      return "requires_capture";
    case ev::PAYMENT_STATUS_SUCCEEDED:
      return "succeeded";
    case ev::PAYMENT_STATUS_FAILED:
      return "failed";
    case ev::PAYMENT_STATUS_CANCELED:
      return "canceled";
    case ev::PAYMENT_STATUS_VOIDED:
      return "voided";
    default:
      return "invalid";
  }
}

}  // namespace payorch::command
