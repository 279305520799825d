#include "iso20022/result.h"

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

}  // namespace payorch::iso20022
