// Errors of the Kafka adapter: payorch::Status / StatusOr<T> (common/status.h), classified
// once, in internal::Classify (client.cc). The canonical code says what the caller must do;
// native_code() is librdkafka's rd_kafka_resp_err_t, an opaque number above src/log/ (for
// logs only); message() is "<ERROR_NAME>: <what happened> (<librdkafka's text>)".
//
//   StatusOr<Offset> r = producer.ProduceSync(record, 5000);
//   if (!r.ok()) {
//     if (log::IsRetriable(r.status())) { /* back off, repeat the call */ }
//     else if (log::IsAbortable(r.status())) { /* abandon the unit of work */ }
//     else { /* fatal: close the client, report, exit */ }
//   }
//
// The three classes and their codes:
//
//   retriable  StatusCode::kUnavailable
//   abortable  StatusCode::kAborted
//   fatal      StatusCode::kFailedPrecondition (configuration, authorization, unsupported
//              by the broker, unknown topic or partition, client state), kInternal (every
//              other code: fencing, oversized records, librdkafka's __FATAL, unknown codes)
//
// Any other code, from code outside src/log/, counts as fatal, so nothing loops on it.
#pragma once

#include "common/status.h"

namespace payorch::log {

// What the caller must do about a failure.
enum class ErrorClass {
  // Transient (broker unreachable, queue full, coordinator moving). Nothing the caller
  // owns is in doubt: repeat the same call after a back-off. StatusCode::kUnavailable.
  kRetriable,
  // The client is unusable or the request can never succeed (bad configuration,
  // authorization, unsupported by the broker, fenced producer, record too large).
  // StatusCode::kFailedPrecondition or kInternal.
  kFatal,
  // The outcome of in-flight work is unknown or belongs to a lost generation (a record
  // timed out possibly persisted, a commit for a revoked partition). The client stays
  // usable; abandon the unit of work (e.g. the writer's claim on a partition) and restart
  // it from the log. StatusCode::kAborted.
  kAbortable,
};

// The class of an error status (an OK status has none: it reads kFatal).
inline ErrorClass ClassOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kUnavailable:
      return ErrorClass::kRetriable;
    case StatusCode::kAborted:
      return ErrorClass::kAbortable;
    default:
      return ErrorClass::kFatal;
  }
}
// False for an OK status.
inline bool IsRetriable(const Status& s) { return s.code() == StatusCode::kUnavailable; }
inline bool IsAbortable(const Status& s) { return s.code() == StatusCode::kAborted; }
inline bool IsFatal(const Status& s) { return !s.ok() && ClassOf(s) == ErrorClass::kFatal; }

// The adapter's former names: the same types as payorch::Status and payorch::StatusOr<T>
// (not wrappers), kept so that code in flight still compiles. New code writes Status.
using LogStatus = Status;
template <typename T>
using LogResult = StatusOr<T>;

}  // namespace payorch::log
