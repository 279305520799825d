#include "connectors/charge_admission.h"

namespace payorch::connectors {

namespace ev = ::payments::events::v1;

void ChargeAdmission::OnEvent(const ev::EventEnvelope& event) {
  if (event.has_step_succeeded()) {
    partly_charged_.insert(event.payment_id());
  } else if (event.has_payment_completed() || event.has_payment_failed() ||
             event.has_payment_canceled()) {
    partly_charged_.erase(event.payment_id());
  }
}

bool ChargeAdmission::MayShed(const ev::EventEnvelope& started) const {
  return partly_charged_.count(started.payment_id()) == 0;
}

}  // namespace payorch::connectors
