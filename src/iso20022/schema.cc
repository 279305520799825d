#include "iso20022/schema.h"

#include <libxml/xmlschemas.h>

#include <filesystem>

#include "iso20022/internal/xml.h"

namespace payorch::iso20022 {
namespace {

// The first few errors libxml2 reports, one line each; the rest are counted.
struct Collected {
  static constexpr size_t kKept = 5;
  std::vector<std::string> lines;
  size_t dropped = 0;

  std::string Joined() const {
    std::string out;
    for (const std::string& line : lines) out += (out.empty() ? "" : "; ") + line;
    if (dropped > 0) out += "; and " + std::to_string(dropped) + " more";
    return out.empty() ? "no detail from libxml2" : out;
  }
};

void Collect(void* ctx, xmlError* error) {
  auto* c = static_cast<Collected*>(ctx);
  if (error == nullptr) return;
  if (c->lines.size() >= Collected::kKept) {
    ++c->dropped;
    return;
  }
  std::string message = error->message == nullptr ? "error" : error->message;
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  c->lines.push_back("line " + std::to_string(error->line) + ": " + message);
}

}  // namespace

struct XsdSchema::Compiled {
  explicit Compiled(xmlSchema* s) : schema(s) {}
  ~Compiled() { xmlSchemaFree(schema); }
  Compiled(const Compiled&) = delete;
  Compiled& operator=(const Compiled&) = delete;
  xmlSchema* schema;
};

StatusOr<XsdSchema> XsdSchema::Load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {  // libxml2 would print an I/O warning
    return Error(ErrorCode::kSchemaUnavailable, "xsd " + path + ": no such file");
  }
  internal::EnsureLibxml();
  xmlSchemaParserCtxt* pctxt = xmlSchemaNewParserCtxt(path.c_str());
  if (pctxt == nullptr) {
    return Error(ErrorCode::kSchemaUnavailable, "xsd " + path + ": no parser context");
  }
  Collected errors;
  xmlSchemaSetParserStructuredErrors(pctxt, Collect, &errors);
  xmlSchema* schema = xmlSchemaParse(pctxt);
  xmlSchemaFreeParserCtxt(pctxt);
  if (schema == nullptr) {
    return Error(ErrorCode::kSchemaUnavailable, "xsd " + path + ": " + errors.Joined());
  }
  return XsdSchema(std::make_shared<const Compiled>(schema));
}

Status XsdSchema::Validate(std::string_view xml) const {
  auto doc = internal::ParseUntrusted(xml, kMaxValidatedBytes, "xsd validation");
  if (!doc.ok()) return doc.status();
  xmlSchemaValidCtxt* vctxt = xmlSchemaNewValidCtxt(compiled_->schema);
  if (vctxt == nullptr) {
    return Error(ErrorCode::kSchemaUnavailable, "xsd validation: no validation context");
  }
  Collected errors;
  xmlSchemaSetValidStructuredErrors(vctxt, Collect, &errors);
  const int rc = xmlSchemaValidateDoc(vctxt, doc.value().get());
  xmlSchemaFreeValidCtxt(vctxt);
  if (rc == 0) return Status();
  return Error(ErrorCode::kSchemaInvalid, "xsd validation: " + errors.Joined());
}

}  // namespace payorch::iso20022
