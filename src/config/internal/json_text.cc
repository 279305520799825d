#include "config/internal/json_text.h"

#include <string>
#include <unordered_set>
#include <vector>

namespace payorch::config::internal {

namespace {

using Json = nlohmann::ordered_json;

// Tracks the path of the value being parsed, for the duplicate-key check.
struct Frame {
  bool array = false;
  size_t index = 0;
  std::string key;
  std::unordered_set<std::string> keys;
};

std::string PathOf(const std::vector<Frame>& stack, size_t depth) {
  std::string path;
  for (size_t i = 0; i < depth; ++i) {
    path = stack[i].array ? Index(path, stack[i].index) : Field(path, stack[i].key);
  }
  return path;
}

// Byte offset (1-based, as nlohmann reports it) -> line:column.
Position PositionAt(std::string_view text, size_t byte) {
  Position pos{1, 1};
  for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++pos.line;
      pos.column = 1;
    } else {
      ++pos.column;
    }
  }
  return pos;
}

}  // namespace

std::optional<Problem> ParseJson(std::string_view text, Json* out) {
  std::vector<Frame> stack;
  std::optional<Problem> duplicate;
  Json::parser_callback_t callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        stack.emplace_back();
        break;
      case Json::parse_event_t::array_start:
        stack.emplace_back();
        stack.back().array = true;
        break;
      case Json::parse_event_t::key: {
        Frame& top = stack.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second && !duplicate) {
          duplicate =
              Problem{PathOf(stack, stack.size() - 1), "duplicate key \"" + top.key + "\"", {}};
        }
        break;
      }
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        stack.pop_back();
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
      case Json::parse_event_t::value:
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
    }
    return true;
  };
  try {
    *out = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                       /*ignore_comments=*/false);
  } catch (const Json::parse_error& e) {
    // e.what(): "[json.exception.parse_error.101] parse error at line 3, column 5: <detail>"
    std::string detail = e.what();
    if (size_t col = detail.find("column "); col != std::string::npos) {
      if (size_t colon = detail.find(": ", col); colon != std::string::npos) {
        detail = detail.substr(colon + 2);
      }
    }
    return Problem{"", "JSON syntax error: " + detail, PositionAt(text, e.byte)};
  }
  return duplicate;
}

}  // namespace payorch::config::internal
