// Errors of the Kafka adapter, classified once, here. Nothing above src/log/ sees a
// librdkafka error code as anything but an opaque number for logs: callers branch on
// ErrorClass only.
//
//   LogResult<Offset> r = producer.ProduceSync(record, 5000);
//   if (!r.ok()) {
//     if (r.error().cls == ErrorClass::kRetriable) { /* back off, repeat the call */ }
//     else if (r.error().cls == ErrorClass::kAbortable) { /* abandon the unit of work */ }
//     else { /* kFatal: close the client, report, exit */ }
//   }
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace payorch::log {

// What the caller must do about a failure.
enum class ErrorClass {
  // Transient (broker unreachable, queue full, coordinator moving). Nothing the caller
  // owns is in doubt: repeat the same call after a back-off.
  kRetriable,
  // The client is unusable or the request can never succeed (bad configuration,
  // authorization, unsupported by the broker, fenced producer, record too large).
  kFatal,
  // The outcome of in-flight work is unknown or belongs to a lost generation (a record
  // timed out possibly persisted, a commit for a revoked partition). The client stays
  // usable; abandon the unit of work (e.g. the writer's claim on a partition) and restart
  // it from the log.
  kAbortable,
};

const char* ErrorClassName(ErrorClass cls);

struct LogError {
  ErrorClass cls = ErrorClass::kFatal;
  int code = 0;         // librdkafka's error code, for logs only
  std::string message;  // "<ERROR_NAME>: <what happened>"

  std::string ToString() const;  // "fatal: <message>"
};

// Success or a LogError.
class [[nodiscard]] LogStatus {
 public:
  LogStatus() = default;
  LogStatus(LogError error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  static LogStatus Ok() { return LogStatus(); }

  bool ok() const { return !error_.has_value(); }
  const LogError& error() const { return *error_; }
  std::string ToString() const { return ok() ? "ok" : error_->ToString(); }
  // A deliberate ignore, where nothing better can be done (say why next to it): the one
  // greppable spelling, as payorch::Status::IgnoreError().
  void IgnoreError() const {}

 private:
  std::optional<LogError> error_;
};

// A value or a LogError.
template <typename T>
class [[nodiscard]] LogResult {
 public:
  LogResult(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  LogResult(LogError error) : v_(std::move(error)) {}  // NOLINT: implicit by design
  LogResult(LogStatus status) : v_(status.error()) {}  // NOLINT: requires !status.ok()

  bool ok() const { return v_.index() == 0; }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const LogError& error() const { return std::get<1>(v_); }
  LogStatus status() const { return ok() ? LogStatus() : LogStatus(error()); }

 private:
  std::variant<T, LogError> v_;
};

}  // namespace payorch::log
