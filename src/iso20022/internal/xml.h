// libxml2 plumbing shared by the writer, the parser and the schema check: owning pointers,
// the one safe way to parse untrusted text, and namespace-aware child lookup.
#pragma once

#include <libxml/tree.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "iso20022/result.h"

namespace payorch::iso20022::internal {

struct DocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

// Initialises libxml2 once per process (thread-safe); every entry point calls it first.
void EnsureLibxml();

// Parses untrusted XML. In order: more than max_bytes -> kTooLarge (nothing parsed); any
// DOCTYPE -> kDoctypeRefused (the parser stops at the DOCTYPE's name, before its internal
// subset, whatever the encoding); not well-formed -> kMalformed with line and column. Never
// loads a DTD or an entity, never touches the network, never prints to stderr. `what`
// (e.g. "pain.002") prefixes every message.
[[nodiscard]] StatusOr<DocPtr> ParseUntrusted(std::string_view xml, size_t max_bytes,
                                              std::string_view what);

// The root must be {ns}Document: kWrongRoot or kWrongNamespace otherwise.
[[nodiscard]] Status CheckRoot(const xmlDoc& doc, std::string_view ns, std::string_view what);

// Element children of `parent` named {ns}name, in document order.
std::vector<const xmlNode*> Children(const xmlNode* parent, std::string_view ns,
                                     std::string_view name);
// The first such child, or nullptr.
const xmlNode* Child(const xmlNode* parent, std::string_view ns, std::string_view name);

// The text of a leaf element; false when it has element children.
bool LeafText(const xmlNode* node, std::string* out);

}  // namespace payorch::iso20022::internal
