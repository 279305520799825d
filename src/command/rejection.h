// Rejection: an expected refusal, carried as a value (no exceptions).
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "payments/events/v1/events.pb.h"

namespace payorch::command {

struct Rejection {
  ::payments::events::v1::RejectReason reason = ::payments::events::v1::REJECT_REASON_UNSPECIFIED;
  std::string detail;
  // Set when the refusal breaches a monitored contract, e.g. "plan/coverage".
  std::string contract_id;
};

// Either a value or a Rejection. [[nodiscard]] so a refusal cannot be ignored.
template <typename T>
class [[nodiscard]] Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}                  // NOLINT(google-explicit-constructor)
  Outcome(Rejection rejection) : v_(std::move(rejection)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T& value() { return std::get<T>(v_); }
  const Rejection& rejection() const { return std::get<Rejection>(v_); }

 private:
  std::variant<T, Rejection> v_;
};

}  // namespace payorch::command
