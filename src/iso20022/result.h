// Expected errors of the ISO 20022 writer and parser: payorch's one Status and StatusOr<T>
// (common/status.h), never an exception. Every error is built by Error(code, message): the
// domain's ErrorCode says what went wrong (so a caller can dead-letter hostile input apart
// from a bad field) and is kept as the status's native_code; the canonical StatusCode says
// what a caller may do about it; the one-line message names the element or field.
//
//   StatusOr<std::string> xml = WritePain001(message);
//   if (!xml.ok()) { log(ErrorCodeName(ErrorCodeOf(xml.status())), xml.status().message()); }
//
// ErrorCode -> StatusCode:
//   kInvalidInput, kDoctypeRefused, kMalformed, kWrongRoot, kWrongNamespace,
//   kInvalidContent, kSchemaInvalid                                  -> kInvalidArgument
//   kTooLarge                                                        -> kResourceExhausted
//   kSchemaUnavailable                                               -> kFailedPrecondition
// (an XSD that cannot be read or compiled is a broken set-up: retrying the same call does
// not help, so not kUnavailable).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace payorch::iso20022 {

// Numbered from 1: a native_code of 0 means "no native code" (common/status.h).
enum class ErrorCode {
  kInvalidInput = 1,   // writer: a field of the input struct breaks a rule (named)
  kTooLarge,           // input over the byte limit; checked before any parsing
  kDoctypeRefused,     // a DOCTYPE (DTD, entities): XXE and entity expansion refused
  kMalformed,          // not well-formed XML (line and column given)
  kWrongRoot,          // the root element is not Document
  kWrongNamespace,     // no namespace, or not the expected message version
  kInvalidContent,     // well-formed, right message, but a required element is missing
                       // or a value breaks a rule (element path given)
  kSchemaInvalid,      // not valid against the XSD (first errors given)
  kSchemaUnavailable,  // the XSD could not be read or compiled
};

std::string_view ErrorCodeName(ErrorCode code);

// The canonical code of a domain code (the table above).
StatusCode CanonicalCodeOf(ErrorCode code);

// The one way this library builds an error: {CanonicalCodeOf(code), message, code}.
Status Error(ErrorCode code, std::string message);

// The domain code of an error built by Error(). Meaningful only for those: check ok()
// first. An OK status, or one whose native code is not an ErrorCode under its canonical
// code (another library's), answers kInvalidInput.
ErrorCode ErrorCodeOf(const Status& status);

}  // namespace payorch::iso20022
