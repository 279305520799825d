// Validation of a document against an XSD with libxml2's xmlSchema API. The XSD file is
// trusted (read from disk once, compiled); the document is not: it is parsed with the same
// rules as ParsePain002 (byte limit first, no DOCTYPE, no network).
//
//   StatusOr<XsdSchema> xsd = XsdSchema::Load(dir + "/pain.002.001.12.xsd");
//   Status st = xsd.value().Validate(xml);   // kSchemaInvalid: the first errors, with lines
//
// An XSD that cannot be read or compiled is kSchemaUnavailable (canonically
// kFailedPrecondition: a broken set-up, not worth a retry).
//
// A loaded schema is immutable and may be shared between threads; each Validate call uses
// its own validation context.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "iso20022/result.h"

namespace payorch::iso20022 {

// Largest document Validate reads, in bytes. The largest pain.001 the writer can produce
// (10,000 payment infos of one transaction, every text at its maximum length and made of
// '&', which is written as 5 bytes) is 34.5 MB.
inline constexpr size_t kMaxValidatedBytes = 64 * 1024 * 1024;

class XsdSchema {
 public:
  [[nodiscard]] static StatusOr<XsdSchema> Load(const std::string& path);

  [[nodiscard]] Status Validate(std::string_view xml) const;

 private:
  struct Compiled;
  explicit XsdSchema(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace payorch::iso20022
