// Status and StatusOr<T>: expected errors of the connectors as values (a one-line message),
// never exceptions.
//
//   StatusOr<SimulatedGatewayOptions> spec = ParseGatewaySpec("flaky:seed=7,decline=0.1");
//   if (!spec.ok()) { std::cerr << spec.status().message() << "\n"; return 2; }
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace payorch::connectors {

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), true); }
  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  Status(std::string message, bool failed) : message_(std::move(message)), failed_(failed) {}
  std::string message_;
  bool failed_ = false;
};

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  StatusOr(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T& value() { return std::get<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace payorch::connectors
