// Expected errors of the ISO 20022 writer and parser as values: a code that says what went
// wrong (so a caller can dead-letter hostile input apart from a bad field) and a one-line
// message naming the element or field. Never an exception.
//
//   Result<std::string> xml = WritePain001(message);
//   if (!xml.ok()) { log(ErrorCodeName(xml.error().code), xml.error().message); }
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace payorch::iso20022 {

enum class ErrorCode {
  kInvalidInput,       // writer: a field of the input struct breaks a rule (named)
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

struct Error {
  ErrorCode code;
  std::string message;
};

class [[nodiscard]] Status {
 public:
  Status() = default;                                               // OK
  Status(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit
  bool ok() const { return !failed_; }
  const Error& error() const { return error_; }

 private:
  Error error_{ErrorCode::kInvalidInput, {}};
  bool failed_ = false;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T& value() { return std::get<T>(v_); }
  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace payorch::iso20022
