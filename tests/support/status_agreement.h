// Test support: feeds events one at a time to the core (command::Evolve, one PaymentState
// per payment) and to the read model (projection::Projector over an in-memory store) and
// says where they disagree about a payment's status after an event. Both ask
// command::PaymentStatusAfter (command/status.h); this checks that the facts each fills
// from its own state lead to the same answer.
//
//   testing::StatusAgreement agree;
//   for (const ev::EventEnvelope& e : h.history(pid)) {
//     const std::string diff = agree.Feed(e);
//     EXPECT_EQ(diff, "");
//   }
//
// Header-only; the test links payorch_command and payorch_projection. Events carry epoch
// 1, as CommandHarness's do.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "command/aggregate.h"
#include "command/state.h"
#include "command/status.h"
#include "payments/events/v1/events.pb.h"
#include "payments/projection/v1/views.pb.h"
#include "projection/projector.h"
#include "support/map_view_source.h"

namespace payorch::testing {

class StatusAgreement {
 public:
  // Event by event (whole_groups off): the status rule is compared after every event,
  // inside command groups too.
  StatusAgreement() : projector_(&store_, EventByEvent()) {
    ::payments::events::v1::EventEnvelope claim;
    claim.set_event_id("claim/0/1");
    claim.set_epoch(1);
    claim.mutable_writer_claimed()->set_epoch(1);
    projector_.Observe(0, offset_++, claim);
  }

  // Feeds `e` to both; "" if they agree on the status after it (and, for a capture's or a
  // void's answer, on the facts the status rule reads), else what each says.
  std::string Feed(const ::payments::events::v1::EventEnvelope& e) {
    projector_.Observe(0, offset_++, e);
    store_.Apply(projector_.Flush());
    if (e.payment_id().empty() || e.sequence() == 0) return "";
    command::PaymentState& core = states_[e.payment_id()];
    command::Evolve(core, e);
    ::payments::projection::v1::PaymentView view;
    if (!view.ParseFromString(store_.Get("p/" + e.payment_id()).value_or(""))) {
      return "no view of " + e.payment_id();
    }
    last_status_ = core.status;
    std::string diff;
    if (view.status() != core.status) {
      diff += "status: core " + Name(core.status) + ", view " + Name(view.status()) + "; ";
    }
    diff += FactsDiff(e, command::StatusFactsOf(core, e), projection::ViewStatusFacts(view, e));
    if (diff.empty()) return "";
    return "after " + std::string(command::EventTypeName(e)) + " #" + std::to_string(e.sequence()) +
           " of " + e.payment_id() + ": " + diff;
  }

  // The core's status after the last event fed.
  ::payments::events::v1::PaymentStatus last_status() const { return last_status_; }
  const command::PaymentState& core(const std::string& pid) { return states_[pid]; }

 private:
  static std::string Name(::payments::events::v1::PaymentStatus s) {
    return ::payments::events::v1::PaymentStatus_Name(s);
  }

  // The facts PaymentStatusAfter reads for `e` (status.cc), where core and view differ.
  static std::string FactsDiff(const ::payments::events::v1::EventEnvelope& e,
                               const command::StatusFacts& core, const command::StatusFacts& view) {
    std::string diff;
    auto check = [&](const char* name, auto a, auto b) {
      if (a != b) {
        diff += std::string(name) + ": core " + std::to_string(a) + ", view " + std::to_string(b) +
                "; ";
      }
    };
    if (e.has_payment_captured()) {
      check("captures_in_flight", core.captures_in_flight, view.captures_in_flight);
      check("final_capture", core.final_capture, view.final_capture);
      if (!core.captures_in_flight && !core.final_capture) {
        check("capturable_left", core.capturable_left, view.capturable_left);
      }
    }
    if (e.has_payment_voided() && e.payment_voided().has_op() &&
        !e.payment_voided().compensation()) {
      check("voids_in_flight", core.voids_in_flight, view.voids_in_flight);
      check("every_step_released", core.every_step_released, view.every_step_released);
    }
    return diff;
  }

  MapViewSource store_;
  static projection::ProjectorOptions EventByEvent() {
    projection::ProjectorOptions o;
    o.whole_groups = false;
    return o;
  }
  projection::Projector projector_;
  int64_t offset_ = 0;
  std::map<std::string, command::PaymentState> states_;
  ::payments::events::v1::PaymentStatus last_status_{};
};

}  // namespace payorch::testing
