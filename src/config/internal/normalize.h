// Internal: schema-aware rewrite of a generic JSON tree (from YAML or JSON text) into
// canonical Protobuf JSON for one message type, with exact, located errors.
#pragma once

#include <google/protobuf/descriptor.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "config/internal/problem.h"

namespace payorch::config::internal {

struct NormalizeInput {
  const nlohmann::ordered_json* tree = nullptr;
  // True when every scalar arrived as a string (YAML); numbers and booleans are then parsed
  // from the text. False for JSON, where the JSON type must fit the field.
  bool scalars_are_strings = false;
  // Positions keyed by paths as written in the source (field names as the user spelled them).
  const PositionIndex* positions = nullptr;
};

struct NormalizeOutput {        // NOLINT(bugprone-exception-escape): json's moves may throw
  nlohmann::ordered_json json;  // canonical: proto field names, full enum names
  PositionIndex positions;      // keyed by canonical paths (proto field names)
};

// Accepts field names as proto names or JSON (lowerCamel) names; enum values with or
// without their prefix, in any case. Rejects unknown fields (naming them), a field given
// twice under its two spellings, wrong types, out-of-range integers and unknown enum values.
// Nulls are dropped (the field keeps its default).
std::optional<Problem> Normalize(const NormalizeInput& in, const google::protobuf::Descriptor* type,
                                 NormalizeOutput* out);

// The name of an enum value without the enum's prefix: PAYMENT_METHOD_CARD -> CARD.
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value);

// "CARD, APPLE_PAY, BANK_TRANSFER, GOOGLE_PAY": the short names of the non-zero values.
std::string ExpectedEnumNames(const google::protobuf::EnumDescriptor* type);

}  // namespace payorch::config::internal
