#include "iso20022/internal/xml.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <climits>
#include <mutex>

namespace payorch::iso20022::internal {
namespace {

std::string_view Str(const xmlChar* s) {
  return s == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(s));
}

struct CtxtFree {
  void operator()(xmlParserCtxt* ctxt) const { xmlFreeParserCtxt(ctxt); }
};

struct ParseState {
  bool saw_doctype = false;
  bool has_error = false;  // the first error, which names the cause; later ones follow it
  std::string error;
  int line = 0;
  int column = 0;
};

// Replaces the SAX handler of <!DOCTYPE name ...>: it is called once the name and the
// external id are read and before the internal subset, so no entity or DTD is ever
// declared, expanded or fetched.
void RefuseDoctype(void* ctx, const xmlChar* /*name*/, const xmlChar* /*external_id*/,
                   const xmlChar* /*system_id*/) {
  auto* ctxt = static_cast<xmlParserCtxt*>(ctx);
  static_cast<ParseState*>(ctxt->_private)->saw_doctype = true;
  xmlStopParser(ctxt);
}

std::string Trimmed(const char* message) {
  std::string s = message == nullptr ? "unknown error" : message;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Keeps the first error for the answer; nothing is printed.
void KeepFirstError(void* ctx, xmlError* error) {
  auto* state = static_cast<ParseState*>(static_cast<xmlParserCtxt*>(ctx)->_private);
  if (state->has_error || error == nullptr) return;
  state->has_error = true;
  state->error = Trimmed(error->message);
  state->line = error->line;
  state->column = error->int2;
}

}  // namespace

void EnsureLibxml() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

StatusOr<DocPtr> ParseUntrusted(std::string_view xml, size_t max_bytes, std::string_view what) {
  const std::string prefix = std::string(what) + ": ";
  if (xml.size() > max_bytes || xml.size() > static_cast<size_t>(INT_MAX)) {
    return Error(ErrorCode::kTooLarge, prefix + "document of " + std::to_string(xml.size()) +
                                           " bytes is over the limit of " +
                                           std::to_string(max_bytes) + " bytes");
  }
  EnsureLibxml();
  std::unique_ptr<xmlParserCtxt, CtxtFree> ctxt(xmlNewParserCtxt());
  if (!ctxt || ctxt->sax == nullptr) {
    return Error(ErrorCode::kMalformed, prefix + "libxml2 could not allocate a parser");
  }
  ParseState state;
  ctxt->_private = &state;
  ctxt->sax->internalSubset = RefuseDoctype;
  ctxt->sax->serror = KeepFirstError;
  // No XML_PARSE_NOENT (no entity substitution), no DTDLOAD/DTDATTR/DTDVALID, no XINCLUDE,
  // no HUGE (libxml2's own depth and text limits stay on).
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  DocPtr doc(xmlCtxtReadMemory(ctxt.get(), xml.data(), static_cast<int>(xml.size()), nullptr,
                               nullptr, options));
  if (state.saw_doctype) {
    return Error(ErrorCode::kDoctypeRefused,
                 prefix + "a DOCTYPE is refused (no DTDs or entities are accepted)");
  }
  if (!doc || !ctxt->wellFormed) {
    std::string detail = "not well-formed XML";
    if (state.has_error) {
      detail += " at line " + std::to_string(state.line) + ", column " +
                std::to_string(state.column) + ": " + state.error;
    }
    return Error(ErrorCode::kMalformed, prefix + detail);
  }
  if (doc->intSubset != nullptr || doc->extSubset != nullptr) {  // unreachable by the hook
    return Error(ErrorCode::kDoctypeRefused, prefix + "a DTD is refused");
  }
  return doc;
}

Status CheckRoot(const xmlDoc& doc, std::string_view ns, std::string_view what) {
  const std::string prefix = std::string(what) + ": ";
  const xmlNode* root = xmlDocGetRootElement(&doc);
  if (root == nullptr) return Error(ErrorCode::kMalformed, prefix + "no root element");
  if (Str(root->name) != "Document") {
    return Error(ErrorCode::kWrongRoot, prefix + "root element is <" +
                                            std::string(Str(root->name)) +
                                            ">, expected <Document> of " + std::string(ns));
  }
  if (root->ns == nullptr || root->ns->href == nullptr) {
    return Error(ErrorCode::kWrongNamespace,
                 prefix + "<Document> has no namespace, expected " + std::string(ns));
  }
  if (Str(root->ns->href) != ns) {
    return Error(ErrorCode::kWrongNamespace, prefix + "namespace is " +
                                                 std::string(Str(root->ns->href)) + ", expected " +
                                                 std::string(ns));
  }
  return Status();
}

std::vector<const xmlNode*> Children(const xmlNode* parent, std::string_view ns,
                                     std::string_view name) {
  std::vector<const xmlNode*> out;
  for (const xmlNode* n = parent->children; n != nullptr; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && n->ns != nullptr && Str(n->ns->href) == ns &&
        Str(n->name) == name) {
      out.push_back(n);
    }
  }
  return out;
}

const xmlNode* Child(const xmlNode* parent, std::string_view ns, std::string_view name) {
  for (const xmlNode* n = parent->children; n != nullptr; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && n->ns != nullptr && Str(n->ns->href) == ns &&
        Str(n->name) == name) {
      return n;
    }
  }
  return nullptr;
}

bool LeafText(const xmlNode* node, std::string* out) {
  out->clear();
  for (const xmlNode* n = node->children; n != nullptr; n = n->next) {
    if (n->type == XML_ELEMENT_NODE) return false;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
      out->append(Str(n->content));
    }
  }
  return true;
}

}  // namespace payorch::iso20022::internal
