// Fuzz target: the merchant configuration loader. The first byte picks the format (even:
// YAML, odd: JSON); the rest is the text.
//
// Checked: LoadConfigText never crashes or hangs; an error is one non-empty line; an
// accepted configuration builds plans (PlanBuilder) and loads again, from its own
// Protobuf JSON, to the same configuration.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "command/plan_builder.h"
#include "config/config.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 64 * 1024) return 0;
  const auto fmt =
      (data[0] & 1) != 0 ? payorch::config::Format::kJson : payorch::config::Format::kYaml;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto loaded = payorch::config::LoadConfigText(text, fmt, "fuzz.yaml");
  if (!loaded.ok()) {
    Check(!loaded.error().empty(), "empty error message");
    Check(loaded.error().find('\n') == std::string::npos, "error message of several lines");
    return 0;
  }
  const auto& config = loaded.config();
  payorch::command::PlanBuilder plans(config);
  std::string json;
  Check(google::protobuf::util::MessageToJsonString(config, &json).ok(), "config to JSON");
  auto again = payorch::config::LoadConfigText(json, payorch::config::Format::kJson, "again.json");
  Check(again.ok(), "an accepted configuration does not load again from its JSON");
  Check(google::protobuf::util::MessageDifferencer::Equals(config, again.config()),
        "configuration changed by a JSON round trip");
  return 0;
}
