#include "iso20022/result.h"

#include <utility>

namespace payorch::iso20022 {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput:
      return "invalid_input";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kDoctypeRefused:
      return "doctype_refused";
    case ErrorCode::kMalformed:
      return "malformed";
    case ErrorCode::kWrongRoot:
      return "wrong_root";
    case ErrorCode::kWrongNamespace:
      return "wrong_namespace";
    case ErrorCode::kInvalidContent:
      return "invalid_content";
    case ErrorCode::kSchemaInvalid:
      return "schema_invalid";
    case ErrorCode::kSchemaUnavailable:
      return "schema_unavailable";
  }
  return "unknown";
}

StatusCode CanonicalCodeOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput:
    case ErrorCode::kDoctypeRefused:
    case ErrorCode::kMalformed:
    case ErrorCode::kWrongRoot:
    case ErrorCode::kWrongNamespace:
    case ErrorCode::kInvalidContent:
    case ErrorCode::kSchemaInvalid:
      return StatusCode::kInvalidArgument;
    case ErrorCode::kTooLarge:
      return StatusCode::kResourceExhausted;
    case ErrorCode::kSchemaUnavailable:
      return StatusCode::kFailedPrecondition;
  }
  return StatusCode::kInternal;
}

Status Error(ErrorCode code, std::string message) {
  return Status(CanonicalCodeOf(code), std::move(message), static_cast<int>(code));
}

ErrorCode ErrorCodeOf(const Status& status) {
  const int native = status.native_code();
  if (status.ok() || native < static_cast<int>(ErrorCode::kInvalidInput) ||
      native > static_cast<int>(ErrorCode::kSchemaUnavailable)) {
    return ErrorCode::kInvalidInput;
  }
  const auto code = static_cast<ErrorCode>(native);
  // Another library's native code in the same range comes with another canonical code.
  return status.code() == CanonicalCodeOf(code) ? code : ErrorCode::kInvalidInput;
}

}  // namespace payorch::iso20022
