// The free lists behind EventPool (command/event_pool.h). Internal to src/command/.
//
// Every message type that appears in an event has its own list of cleared messages.
// Recycle() takes a message apart: its singular sub-messages are released into their own
// lists first (a proto3 Clear() would delete them), then it is cleared (strings and
// repeated fields keep their capacity) and listed. Take<T>() hands out a cleared message,
// or a new one when the list is empty; callers attach it with set_allocated_*().
// One exception: a PaymentCreated keeps its metadata entries (see Recycle()).
#pragma once

#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "payments/events/v1/events.pb.h"
#include "payments/plan/v1/plan.pb.h"
#include "payments/result/v1/result.pb.h"
#include "payments/types/v1/types.pb.h"

namespace payorch::command::internal {

// X(case, type, field) for every payload of EventEnvelope's `event` oneof.
#define PAYORCH_EVENT_PAYLOADS(X)                                    \
  X(kPaymentCreated, PaymentCreated, payment_created)                \
  X(kPlanBuilt, PlanBuilt, plan_built)                               \
  X(kStepStarted, StepStarted, step_started)                         \
  X(kStepSucceeded, StepSucceeded, step_succeeded)                   \
  X(kStepFailed, StepFailed, step_failed)                            \
  X(kPaymentProcessing, PaymentProcessing, payment_processing)       \
  X(kPaymentCompleted, PaymentCompleted, payment_completed)          \
  X(kPaymentFailed, PaymentFailed, payment_failed)                   \
  X(kCaptureStarted, CaptureStarted, capture_started)                \
  X(kPaymentCaptured, PaymentCaptured, payment_captured)             \
  X(kCaptureFailed, CaptureFailed, capture_failed)                   \
  X(kVoidStarted, VoidStarted, void_started)                         \
  X(kPaymentVoided, PaymentVoided, payment_voided)                   \
  X(kVoidFailed, VoidFailed, void_failed)                            \
  X(kRefundStarted, RefundStarted, refund_started)                   \
  X(kRefundSucceeded, RefundSucceeded, refund_succeeded)             \
  X(kRefundFailed, RefundFailed, refund_failed)                      \
  X(kPaymentCanceled, PaymentCanceled, payment_canceled)             \
  X(kCommandRejected, CommandRejected, command_rejected)             \
  X(kCommandDeduplicated, CommandDeduplicated, command_deduplicated) \
  X(kProcessingExpired, ProcessingExpired, processing_expired)       \
  X(kPaymentConfirmed, PaymentConfirmed, payment_confirmed)          \
  X(kBreakerTransitioned, BreakerTransitioned, breaker_transitioned) \
  X(kWriterClaimed, WriterClaimed, writer_claimed)

template <class T>
class FreeList {
 public:
  FreeList() = default;
  FreeList(const FreeList&) = delete;
  FreeList& operator=(const FreeList&) = delete;
  ~FreeList() {
    for (T* m : items_) delete m;
  }
  T* Take() {
    if (items_.empty()) return new T();
    T* m = items_.back();
    items_.pop_back();
    return m;
  }
  void Put(T* m) { items_.push_back(m); }

 private:
  std::vector<T*> items_;
};

#define PAYORCH_FREE_LIST_OF_PAYLOAD(Case, Type, field) FreeList<::payments::events::v1::Type>,

struct EventPoolParts {
  // Envelopes without a payload (their header still set, strings kept), swapped into
  // callers' vectors; and the empty shells their contents left, to swap recycled contents into.
  // Shells live as long as the pool, so a cycle costs two swaps and no allocation.
  std::vector<std::unique_ptr<::payments::events::v1::EventEnvelope>> envelopes;
  std::vector<std::unique_ptr<::payments::events::v1::EventEnvelope>> shells;
  std::tuple<PAYORCH_EVENT_PAYLOADS(PAYORCH_FREE_LIST_OF_PAYLOAD)  //
             FreeList<::payments::events::v1::Causation>,
             FreeList<::payments::events::v1::GatewayOperation>,
             FreeList<::payments::types::v1::Money>, FreeList<::payments::result::v1::Result>,
             FreeList<::payments::result::v1::CompositeResult>,
             FreeList<::payments::plan::v1::PaymentPlan>>
      lists;

  // GetReflection() looks descriptors up on every call (and builds them on the first):
  // done once, when the pool is made.
  const google::protobuf::Reflection* const envelope_reflection =
      ::payments::events::v1::EventEnvelope::GetReflection();
  const google::protobuf::Reflection* const causation_reflection =
      ::payments::events::v1::Causation::GetReflection();

  bool HasUnknownFields(const ::payments::events::v1::EventEnvelope& e) const {
    return !envelope_reflection->GetUnknownFields(e).empty();
  }
  bool HasUnknownFields(const ::payments::events::v1::Causation& c) const {
    return !causation_reflection->GetUnknownFields(c).empty();
  }

  template <class T>
  T* Take() {
    return std::get<FreeList<T>>(lists).Take();
  }

  // Appends an envelope to `out`: with a pooled one's contents if there is one (swapping
  // messages swaps their strings' buffers), else a new one.
  ::payments::events::v1::EventEnvelope& Append(
      std::vector<::payments::events::v1::EventEnvelope>& out) {
    ::payments::events::v1::EventEnvelope& e = out.emplace_back();
    if (!envelopes.empty()) {
      e.Swap(envelopes.back().get());
      shells.push_back(std::move(envelopes.back()));
      envelopes.pop_back();
    }
    return e;
  }

  template <class T>
  void Recycle(T* m) {
    if constexpr (requires { m->release_op(); }) {
      if (m->has_op()) Recycle(m->release_op());
    }
    if constexpr (requires { m->release_result(); }) {
      if (m->has_result()) Recycle(m->release_result());
    }
    if constexpr (requires { m->release_amount(); }) {
      if (m->has_amount()) Recycle(m->release_amount());
    }
    if constexpr (requires { m->release_plan(); }) {
      if (m->has_plan()) Recycle(m->release_plan());
    }
    if constexpr (requires { m->release_total(); }) {
      if (m->has_total()) Recycle(m->release_total());
    }
    if constexpr (std::is_same_v<T, ::payments::events::v1::PaymentCreated>) {
      // The metadata map keeps its entries (their nodes), for the next PaymentCreated to
      // reuse: Decider's SetMetadata() makes the map exactly the request's.
      google::protobuf::Map<std::string, std::string> metadata;
      metadata.swap(*m->mutable_metadata());
      m->Clear();
      m->mutable_metadata()->swap(metadata);
    } else {
      m->Clear();
    }
    std::get<FreeList<T>>(lists).Put(m);
  }

  // Takes `e` apart and keeps its parts; `e` is left empty. The envelope keeps its header
  // fields and causation as they are: DecideAndApply overwrites every one of them (see
  // Decider::Begin), so clearing them here would only cost time. Its payload goes to the
  // payload's list.
  void Recycle(::payments::events::v1::EventEnvelope& e) {
    if (e.GetArena() != nullptr) return;  // an arena's messages are the arena's
    if (HasUnknownFields(e) || (e.has_causation() && HasUnknownFields(e.causation()))) {
      e.Clear();  // parsed from a newer writer's bytes: nothing of it may survive
    }
    switch (e.event_case()) {
#define PAYORCH_RECYCLE_PAYLOAD(Case, Type, field)  \
  case ::payments::events::v1::EventEnvelope::Case: \
    Recycle(e.release_##field());                   \
    break;
      PAYORCH_EVENT_PAYLOADS(PAYORCH_RECYCLE_PAYLOAD)
#undef PAYORCH_RECYCLE_PAYLOAD
      default:
        break;
    }
    if (shells.empty()) shells.push_back(std::make_unique<::payments::events::v1::EventEnvelope>());
    shells.back()->Swap(&e);
    envelopes.push_back(std::move(shells.back()));
    shells.pop_back();
  }
};

#undef PAYORCH_FREE_LIST_OF_PAYLOAD

}  // namespace payorch::command::internal
