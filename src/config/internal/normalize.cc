#include "config/internal/normalize.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace payorch::config::internal {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using Json = nlohmann::ordered_json;

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// "PAYMENT_METHOD_" for an enum whose zero value is PAYMENT_METHOD_UNSPECIFIED (buf's
// STANDARD lint guarantees that shape); "" otherwise.
std::string EnumPrefix(const EnumDescriptor* type) {
  const std::string& zero = type->value(0)->name();
  constexpr std::string_view kSuffix = "UNSPECIFIED";
  if (zero.size() > kSuffix.size() && zero.ends_with(kSuffix)) {
    return zero.substr(0, zero.size() - kSuffix.size());
  }
  return "";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      size_t cost = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                            std::tolower(static_cast<unsigned char>(b[j - 1]))
                        ? 0
                        : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

class Normalizer {
 public:
  Normalizer(const NormalizeInput& in, NormalizeOutput* out) : in_(in), out_(out) {}

  std::optional<Problem> Message(const Json& node, const Descriptor* type, const std::string& path,
                                 const std::string& raw, Json* result) {
    Record(path, raw);
    if (!node.is_object())
      return Fail(path, raw, "expected " + Describe(Json::object()) + ", got " + Describe(node));
    *result = Json::object();
    std::map<const FieldDescriptor*, std::string> seen;  // field -> spelling used
    std::map<const google::protobuf::OneofDescriptor*, std::string> oneofs;
    for (const auto& [key, value] : node.items()) {
      const FieldDescriptor* field = type->FindFieldByName(key);
      for (int i = 0; field == nullptr && i < type->field_count(); ++i) {
        if (type->field(i)->json_name() == key) field = type->field(i);
      }
      std::string child_raw = Field(raw, key);
      if (field == nullptr) return UnknownField(type, key, path, child_raw);
      std::string child = Field(path, field->name());
      if (auto [it, fresh] = seen.emplace(field, key); !fresh) {
        return Fail(path, child_raw,
                    "field " + Quote(field->name()) + " given twice (as " + Quote(it->second) +
                        " and " + Quote(key) + ")",
                    /*at_key=*/true);
      }
      if (value.is_null()) continue;  // Protobuf JSON: null means "default"
      if (const auto* oneof = field->real_containing_oneof()) {
        if (auto [it, fresh] = oneofs.emplace(oneof, field->name()); !fresh) {
          return Fail(path, child_raw,
                      "only one of the " + Quote(oneof->name()) + " fields may be set (got " +
                          Quote(it->second) + " and " + Quote(field->name()) + ")",
                      /*at_key=*/true);
        }
      }
      Json converted;
      if (auto p = FieldValue(value, field, child, child_raw, &converted)) return p;
      (*result)[field->name()] = std::move(converted);
    }
    return std::nullopt;
  }

 private:
  std::optional<Problem> FieldValue(const Json& node, const FieldDescriptor* field,
                                    const std::string& path, const std::string& raw, Json* result) {
    if (field->is_map()) return Map(node, field, path, raw, result);
    if (!field->is_repeated()) return Single(node, field, path, raw, result);
    Record(path, raw);
    if (!node.is_array()) {
      return Fail(path, raw, "expected " + Describe(Json::array()) + ", got " + Describe(node));
    }
    *result = Json::array();
    for (size_t i = 0; i < node.size(); ++i) {
      std::string child = Index(path, i);
      std::string child_raw = Index(raw, i);
      if (node[i].is_null()) {
        return Fail(child, child_raw, "null is not allowed in a list");
      }
      Json converted;
      if (auto p = Single(node[i], field, child, child_raw, &converted)) return p;
      result->push_back(std::move(converted));
    }
    return std::nullopt;
  }

  std::optional<Problem> Map(const Json& node, const FieldDescriptor* field,
                             const std::string& path, const std::string& raw, Json* result) {
    Record(path, raw);
    if (!node.is_object()) {
      return Fail(path, raw, "expected " + Describe(Json::object()) + ", got " + Describe(node));
    }
    const FieldDescriptor* value_field = field->message_type()->map_value();
    *result = Json::object();
    for (const auto& [key, value] : node.items()) {
      std::string child = Field(path, key);
      std::string child_raw = Field(raw, key);
      if (value.is_null()) return Fail(child, child_raw, "null is not allowed as a map value");
      Json converted;
      if (auto p = Single(value, value_field, child, child_raw, &converted)) return p;
      (*result)[key] = std::move(converted);
    }
    return std::nullopt;
  }

  std::optional<Problem> Single(const Json& node, const FieldDescriptor* field,
                                const std::string& path, const std::string& raw, Json* result) {
    Record(path, raw);
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (field->message_type()->file()->package() == "google.protobuf") {
          *result = node;  // well-known types have their own JSON forms: Protobuf judges them
          return std::nullopt;
        }
        return Message(node, field->message_type(), path, raw, result);
      case FieldDescriptor::CPPTYPE_STRING:
        if (!node.is_string()) {
          return Fail(path, raw, "expected a string, got " + Describe(node));
        }
        *result = node;
        return std::nullopt;
      case FieldDescriptor::CPPTYPE_BOOL:
        return Bool(node, path, raw, result);
      case FieldDescriptor::CPPTYPE_ENUM:
        return Enum(node, field->enum_type(), path, raw, result);
      case FieldDescriptor::CPPTYPE_INT32:
        return Integer(node, std::numeric_limits<int32_t>::min(),
                       std::numeric_limits<int32_t>::max(), false, path, raw, result);
      case FieldDescriptor::CPPTYPE_INT64:
        return Integer(node, std::numeric_limits<int64_t>::min(),
                       std::numeric_limits<int64_t>::max(), true, path, raw, result);
      case FieldDescriptor::CPPTYPE_UINT32:
        return Unsigned(node, std::numeric_limits<uint32_t>::max(), false, path, raw, result);
      case FieldDescriptor::CPPTYPE_UINT64:
        return Unsigned(node, std::numeric_limits<uint64_t>::max(), true, path, raw, result);
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        return Real(node, path, raw, result);
    }
    return Fail(path, raw, "unsupported field type");
  }

  std::optional<Problem> Bool(const Json& node, const std::string& path, const std::string& raw,
                              Json* result) {
    if (node.is_boolean()) {
      *result = node;
      return std::nullopt;
    }
    if (in_.scalars_are_strings && node.is_string()) {
      std::string v = Upper(node.get<std::string>());
      if (v == "TRUE" || v == "FALSE") {
        *result = (v == "TRUE");
        return std::nullopt;
      }
    }
    return Fail(path, raw, "expected true or false, got " + Describe(node));
  }

  std::optional<Problem> Enum(const Json& node, const EnumDescriptor* type, const std::string& path,
                              const std::string& raw, Json* result) {
    auto unknown = [&](const std::string& shown) {
      return Fail(path, raw,
                  "unknown value " + shown + " (expected " + ExpectedEnumNames(type) + ")");
    };
    if (!node.is_string()) return unknown(node.dump());
    std::string name = Upper(node.get<std::string>());
    const auto* value = type->FindValueByName(name);
    if (value == nullptr) value = type->FindValueByName(EnumPrefix(type) + name);
    if (value == nullptr) return unknown(Quote(node.get<std::string>()));
    *result = value->name();
    return std::nullopt;
  }

  // Reads an integer from a JSON number or a decimal string (Protobuf JSON allows both).
  // Returns false if `node` is neither.
  template <typename T>
  bool ReadInteger(const Json& node, T* value, bool* out_of_range) {
    *out_of_range = false;
    if (node.is_number_integer()) {
      if (node.is_number_unsigned()) {
        auto u = node.get<uint64_t>();
        *out_of_range = u > static_cast<uint64_t>(std::numeric_limits<T>::max());
        *value = static_cast<T>(u);
      } else {
        auto s = node.get<int64_t>();
        *out_of_range = s < 0 && std::is_unsigned_v<T>;
        *value = static_cast<T>(s);
      }
      return true;
    }
    if (!node.is_string()) return false;
    const std::string& text = node.get_ref<const std::string&>();
    if (text.empty()) return false;
    if (std::is_unsigned_v<T> && text[0] == '-') {
      // A negative number for an unsigned field is out of range, not malformed.
      int64_t probe = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), probe);
      if (p != text.data() + text.size() && ec != std::errc::result_out_of_range) return false;
      *out_of_range = true;
      return true;
    }
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
    if (p != text.data() + text.size()) return false;
    *out_of_range = ec == std::errc::result_out_of_range;
    return ec == std::errc() || *out_of_range;
  }

  std::optional<Problem> Integer(const Json& node, int64_t min, int64_t max, bool wide,
                                 const std::string& path, const std::string& raw, Json* result) {
    int64_t v = 0;
    bool out_of_range = false;
    if (!ReadInteger(node, &v, &out_of_range)) {
      return Fail(path, raw, "expected an integer, got " + Describe(node));
    }
    if (out_of_range || v < min || v > max) {
      return Fail(path, raw, "integer out of range: " + Shown(node));
    }
    *result = wide ? Json(std::to_string(v)) : Json(v);
    return std::nullopt;
  }

  std::optional<Problem> Unsigned(const Json& node, uint64_t max, bool wide,
                                  const std::string& path, const std::string& raw, Json* result) {
    uint64_t v = 0;
    bool out_of_range = false;
    if (!ReadInteger(node, &v, &out_of_range)) {
      return Fail(path, raw, "expected a non-negative integer, got " + Describe(node));
    }
    if (out_of_range || v > max) {
      return Fail(
          path, raw,
          "integer out of range: " + Shown(node) + " (must be 0.." + std::to_string(max) + ")");
    }
    *result = wide ? Json(std::to_string(v)) : Json(v);
    return std::nullopt;
  }

  std::optional<Problem> Real(const Json& node, const std::string& path, const std::string& raw,
                              Json* result) {
    if (node.is_number()) {
      *result = node;
      return std::nullopt;
    }
    if (node.is_string()) {
      const std::string& text = node.get_ref<const std::string&>();
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(v)) {
        *result = v;
        return std::nullopt;
      }
    }
    return Fail(path, raw, "expected a number, got " + Describe(node));
  }

  std::optional<Problem> UnknownField(const Descriptor* type, const std::string& key,
                                      const std::string& path, const std::string& raw) {
    std::string best;
    size_t best_distance = std::numeric_limits<size_t>::max();
    std::string names;
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* f = type->field(i);
      if (!names.empty()) names += ", ";
      names += f->name();
      for (const std::string& spelling : {f->name(), f->json_name()}) {
        size_t d = EditDistance(key, spelling);
        if (d < best_distance) {
          best_distance = d;
          best = f->name();
        }
      }
    }
    std::string hint = best_distance <= 2 && best_distance < key.size()
                           ? "did you mean " + Quote(best) + "?"
                           : "expected one of: " + names;
    return Fail(path, raw, "unknown field " + Quote(key) + " (" + hint + ")", /*at_key=*/true);
  }

  // A value as shown in messages: strings quoted, the rest as JSON.
  static std::string Shown(const Json& node) {
    return node.is_string() ? Quote(node.get<std::string>()) : node.dump();
  }

  std::string Describe(const Json& node) const {
    switch (node.type()) {
      case Json::value_t::object:
        return in_.scalars_are_strings ? "a mapping" : "an object";
      case Json::value_t::array:
        return in_.scalars_are_strings ? "a list" : "an array";
      case Json::value_t::string:
        return Quote(node.get<std::string>());
      case Json::value_t::null:
        return "null";
      default:
        return node.dump();
    }
  }

  void Record(const std::string& path, const std::string& raw) {
    if (in_.positions == nullptr) return;
    if (auto it = in_.positions->values.find(raw); it != in_.positions->values.end()) {
      out_->positions.values[path] = it->second;
    }
    if (auto it = in_.positions->keys.find(raw); it != in_.positions->keys.end()) {
      out_->positions.keys[path] = it->second;
    }
  }

  // `path` names the field in messages; `raw` locates it in the source.
  std::optional<Problem> Fail(const std::string& path, const std::string& raw, std::string message,
                              bool at_key = false) const {
    Position pos = in_.positions ? in_.positions->Find(raw, at_key) : Position{};
    return Problem{path, std::move(message), pos};
  }

  const NormalizeInput& in_;
  NormalizeOutput* out_;
};

}  // namespace

std::optional<Problem> Normalize(const NormalizeInput& in, const Descriptor* type,
                                 NormalizeOutput* out) {
  Normalizer normalizer(in, out);
  if (in.tree->is_null()) {  // an empty document is an empty message
    out->json = Json::object();
    return std::nullopt;
  }
  return normalizer.Message(*in.tree, type, "", "", &out->json);
}

std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value) {
  std::string prefix = EnumPrefix(value->type());
  const std::string& name = value->name();
  return !prefix.empty() && name.starts_with(prefix) ? name.substr(prefix.size()) : name;
}

std::string ExpectedEnumNames(const EnumDescriptor* type) {
  std::string out;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    if (!out.empty()) out += ", ";
    out += ShortEnumName(type->value(i));
  }
  return out;
}

}  // namespace payorch::config::internal
