// The Decider: decides the events of one command, applying each to the state as it is
// emitted. Its methods live in decide.cc (envelope, create, confirm, cancel),
// decide_operations.cc (gateway attempts, answers, voids, the plan's progress) and
// decide_money.cc (capture, void, refund). Internal to src/command.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command/aggregate.h"
#include "command/hash.h"
#include "command/internal/event_pool_parts.h"
#include "command/internal/payment_edit.h"
#include "command/rejection.h"

namespace payorch::command::internal {

namespace cmd = ::payments::commands::v1;
namespace pl = ::payments::plan::v1;
namespace res = ::payments::result::v1;
namespace ty = ::payments::types::v1;

// Voids started per step at most (the first and its retries), for compensation voids.
inline constexpr uint32_t kMaxVoidsPerStep = 5;

inline void AppendDecimal(std::string& out, uint64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

inline void AppendDecimal(std::string& out, int64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

// Writes `value` into a string (clear() and append() are cheaper than assign()).
inline void Write(std::string* field, std::string_view value) {
  field->clear();
  field->append(value.data(), value.size());
}
// Sets a string field that may hold an earlier value (a pooled envelope's header) to
// `value`. An empty value on an empty field takes no mutable_x() call (which would give
// the field a string of its own).
template <typename Msg>
inline void Overwrite(Msg* msg, const std::string& (Msg::*field)() const,
                      std::string* (Msg::*mutable_field)(), std::string_view value) {
  if (value.empty() && (msg->*field)().empty()) return;
  Write((msg->*mutable_field)(), value);
}

// The same for a value that usually repeats from one event to the next (the topic, the
// merchant): a field that already holds it is not touched.
template <typename Msg>
inline void OverwriteIfChanged(Msg* msg, const std::string& (Msg::*field)() const,
                               std::string* (Msg::*mutable_field)(), std::string_view value) {
  if ((msg->*field)() == value) return;
  Write((msg->*mutable_field)(), value);
}

// Sets a string field through its mutable pointer, so a reused message keeps its buffer
// (set_x(const char*) builds a temporary std::string). Empty values are not set at all:
// an unset proto3 string reads and serializes as "", and a new or cleared message already
// holds "".
template <typename Msg>
inline void SetText(Msg* msg, std::string* (Msg::*mutable_field)(), std::string_view value) {
  if (!value.empty()) Write((msg->*mutable_field)(), value);
}

// "<base>:<tag><n>", or "<base>:<tag><n>:<tag2><m>" when tag2 is set: the operation keys
// of aggregate.h ("p:s0:a1", "p:v0:n1", "cap_...:s0"), written in place.
inline void WriteOperationKey(std::string* key, std::string_view base, char tag, uint64_t n,
                              char tag2 = '\0', uint64_t m = 0) {
  key->clear();
  key->append(base);
  key->push_back(':');
  key->push_back(tag);
  AppendDecimal(*key, n);
  if (tag2 == '\0') return;
  key->push_back(':');
  key->push_back(tag2);
  AppendDecimal(*key, m);
}

// "<prefix><32 hex digits>" (a capture or refund id), in place.
struct IdChars {
  char bytes[36];
  std::string_view view() const { return {bytes, sizeof bytes}; }
};

inline IdChars PrefixedDigest(const char (&prefix)[5], const HexDigest& digest) {
  IdChars id;
  std::copy(prefix, prefix + 4, id.bytes);
  std::copy(digest.digits, digest.digits + sizeof digest.digits, id.bytes + 4);
  return id;
}

// Where decided events go: appended to a vector, built from a pool's recycled messages
// when there is one, else from new ones.
class EventSink {
 public:
  EventSink(std::vector<ev::EventEnvelope>& out, internal::EventPoolParts* parts)
      : out_(out), parts_(parts) {}

  ev::EventEnvelope& Add() {
    return parts_ != nullptr ? parts_->Append(out_) : out_.emplace_back();
  }
  size_t size() const { return out_.size(); }
  ev::EventEnvelope& operator[](size_t i) { return out_[i]; }

  template <class T>
  T* New() {
    return parts_ != nullptr ? parts_->Take<T>() : new T();
  }
  // Gives back a message New() returned that was not used.
  template <class T>
  void Discard(T* m) {
    if (parts_ != nullptr) {
      parts_->Recycle(m);
    } else {
      delete m;
    }
  }
  // Attaches a new or recycled sub-message to `parent` and returns it.
  template <class Parent, class Child>
  Child* Attach(Parent* parent, void (Parent::*set_allocated)(Child*)) {
    Child* child = New<Child>();
    (parent->*set_allocated)(child);
    return child;
  }

 private:
  std::vector<ev::EventEnvelope>& out_;
  internal::EventPoolParts* parts_;
};

// Decides the events of one command, applying each to the state as it is emitted, so
// that later decisions in the same command see the state the earlier events produced.
class Decider {
 public:
  Decider(PaymentState& state, const CommandRecord& record, const DecideContext& ctx,
          EventSink& out)
      : s_(state), rec_(record), env_(*record.command), ctx_(ctx), out_(out), first_(out.size()) {}

  void Run();

 private:
  ev::EventEnvelope& Begin();
  void Commit(ev::EventEnvelope& e) { Evolve(s_, e); }

  void Reject(const Rejection& r) { Reject(r.reason, r.detail, r.contract_id); }
  void Reject(ev::RejectReason reason, std::string_view detail, std::string_view contract_id = {});
  void Deduplicated(std::string_view original_id);

  void OnCreate(const cmd::CreatePayment& c);
  void OnConfirm(const cmd::ConfirmPayment& c);
  // A confirm with a payment method: builds its plan (PlanBuilt), after the steps already
  // attempted. Returns whether the confirm may go on.
  bool PlanFor(ty::PaymentMethod method);
  // Puts the first `first` steps of the payment's plan before the steps of `plan`.
  void KeepEarlierSteps(uint32_t first, pl::PaymentPlan* plan) const;
  void OnCapture(const cmd::CapturePayment& c);
  void OnVoid(const cmd::VoidPayment& c);
  void OnRefund(const cmd::RefundPayment& c);
  void OnCancel(const cmd::CancelPayment& c);
  // Void (OnVoid) and cancel after authorization (OnCancel): release every authorized step
  // that is not voided yet, with the merchant's `reason`.
  void ReleaseAuthorization(std::string_view verb, std::string_view reason);
  void OnGatewayResult(const cmd::RecordGatewayResult& r);
  void OnExpire(const cmd::ExpireProcessing& x);

  // Shared guards. Each returns whether the command may go on; when it may not, the
  // command is answered (rejected, or a repeat deduplicated) and nothing else is decided.
  // The idempotency key of a capture or refund (`what`): missing, too long, a repeat.
  // Returns true when that answered the command.
  bool AnsweredByKey(std::string_view what, std::string_view key, const HexDigest& hash,
                     const std::vector<KeyedRequest>& seen);
  bool RequireStatus(ev::PaymentStatus status, std::string_view verb);
  bool RequireNothingInFlight();

  // Splits `amount` over the plan's steps in order, each step taking at most
  // `available(ledger)`, and calls `start(step, part)` for each step that takes some: the
  // one split rule of captures and refunds.
  template <class Available, class Start>
  void SplitAcrossSteps(int64_t amount, Available available, Start start) {
    int64_t left = amount;
    for (uint32_t step = 0; step < s_.ledger.size() && left > 0; ++step) {
      const int64_t part = std::min(left, available(s_.ledger[step]));
      if (part <= 0) continue;
      left -= part;
      start(step, part);
    }
  }

  // `op` is in s_.pending: valid until the answer's event is committed.
  void OnAttemptResult(const PendingOperation& op, const cmd::RecordGatewayResult& r);
  void OnOperationResult(const PendingOperation& op, const cmd::RecordGatewayResult& r);
  void OnLateResult(const AttemptRecord& attempt, const cmd::RecordGatewayResult& r);

  void RetryCompensation(const PendingOperation& failed);
  void StartAttempt(uint32_t step, uint32_t attempt);
  void Advance();
  void Complete();
  void FailPlan(std::string_view reason);
  void StartVoid(uint32_t step, int64_t amount, std::string_view target_reference,
                 std::string_view reversed_key, std::string_view reason);
  void FillComposite(res::CompositeResult* out) const;
  void FillResult(res::Result* result, const PendingOperation& op,
                  const cmd::RecordGatewayResult& r, bool success, ty::ErrorCode code,
                  int64_t amount) const;
  // A new operation of the plan's step `step`, as StartAttempt and the *Started events log it.
  void FillOperation(ev::GatewayOperation* op, ev::OperationKind kind, uint32_t step,
                     int64_t amount);
  // One part of a capture or refund: key "<parent_id>:s<step>", aimed at the step's
  // processor reference.
  void FillPartOperation(ev::GatewayOperation* op, ev::OperationKind kind, uint32_t step,
                         int64_t part, std::string_view parent_id);
  // A started operation again, as its answer's event carries it.
  void CopyOperation(ev::GatewayOperation* op, const PendingOperation& from);

  template <class Parent>
  ev::GatewayOperation* AttachOperation(Parent* parent, const PendingOperation& from) {
    ev::GatewayOperation* op = out_.Attach(parent, &Parent::set_allocated_op);
    CopyOperation(op, from);
    return op;
  }
  // The Result (or CompositeResult) of `parent`.
  template <class Parent>
  auto* AttachResult(Parent* parent) {
    return out_.Attach(parent, &Parent::set_allocated_result);
  }

  PaymentState& s_;
  const CommandRecord& rec_;
  const cmd::CommandEnvelope& env_;
  const DecideContext& ctx_;
  EventSink& out_;
  const size_t first_;  // index in out_ of this command's first event
  std::string_view merchant_for_orphan_;
};

}  // namespace payorch::command::internal
