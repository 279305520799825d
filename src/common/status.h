// Status and StatusOr<T>: payorch's one way to return an expected error, as a value (never
// an exception), in the manner of absl::Status and rocksdb::Status. A status has a
// canonical code (what a caller may do about it), the code of the library it came from
// (RocksDB's Status::Code(), libxml2's, an ISO 20022 ErrorCode: `native_code`, for logs and
// for callers that must tell such codes apart) and a one-line message.
//
//   StatusOr<Options> spec = ParseSpec(text);
//   if (!spec.ok()) return spec.status();            // passes the error up
//   if (s.code() == StatusCode::kUnavailable) ...    // retry later
//   store.Sweep().IgnoreError();                     // a deliberate ignore: greppable
//
// A Status is [[nodiscard]]: dropping one is a compile warning (an error with -Werror), so
// every discard is either handled or spelled IgnoreError() with a comment saying why.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace payorch {

// absl's canonical codes, those payorch uses.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the input is wrong; the same input will always fail
  kNotFound,            // what was asked for does not exist
  kFailedPrecondition,  // the system is not in a state where this can work (configuration)
  kAborted,             // the outcome of in-flight work is lost; redo the unit of work
  kResourceExhausted,   // a limit was hit (size, queue, quota)
  kDeadlineExceeded,    // no answer in time; the outcome may be unknown
  kUnavailable,         // transient: retry the same call after a back-off
  kDataLoss,            // stored data is corrupt or truncated
  kInternal,            // a broken invariant or an unexpected library error
};

constexpr const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kAborted:
      return "aborted";
    case StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kDataLoss:
      return "data_loss";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, int native_code = 0)
      : code_(code), native_code_(native_code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // The originating library's code (0 when none): for logs, and for callers that must tell
  // such codes apart (iso20022::ErrorCodeOf).
  int native_code() const { return native_code_; }
  const std::string& message() const { return message_; }
  // "ok", or "<code name>: <message>".
  std::string ToString() const {
    return ok() ? "ok" : std::string(StatusCodeName(code_)) + ": " + message_;
  }
  // A deliberate ignore of an error, where nothing better can be done (say why next to it).
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  int native_code_ = 0;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status FailedPreconditionError(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status DataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }

// A value or an error Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  // An error; an OK status here is a bug and becomes kInternal.
  StatusOr(Status status)  // NOLINT(google-explicit-constructor)
      : v_(status.ok() ? InternalError("StatusOr built from an OK status") : std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace payorch
