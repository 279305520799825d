// payorch send: appends commands, one Protobuf-JSON CommandEnvelope per line, to the
// commands topic, keyed by the payment they address.
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "command/aggregate.h"
#include "log/admin.h"
#include "log/producer.h"
#include "payments/commands/v1/commands.pb.h"

namespace payorch::cli {

namespace {

// A random command id, "cmd_" + 32 hex digits.
std::string NewCommandId(std::mt19937_64& rng) {
  static const char* kHex = "0123456789abcdef";
  std::string id = "cmd_";
  for (int i = 0; i < 2; ++i) {
    uint64_t v = rng();
    for (int j = 0; j < 16; ++j, v >>= 4) id += kHex[v & 0xf];
  }
  return id;
}

bool IsBlank(const std::string& line) {
  return line.find_first_not_of(" \t\r\n") == std::string::npos;
}

}  // namespace

int RunSend(int argc, char** argv) {
  log::KafkaOptions kafka;
  std::string file = "-";
  std::string merchant;
  int timeout_ms = 30'000;
  FlagSet flags("send",
                "Append commands to the commands topic: one Protobuf-JSON CommandEnvelope per "
                "line.\nAn empty command_id is filled with a random one; each record is keyed by "
                "the payment the command addresses.\nA bad line is reported as 'line K: "
                "reason' on stderr and skipped; the exit code is then 1.");
  AddKafkaFlags(flags, &kafka);
  flags.String("file", &file, "read commands from this file ('-' = stdin)");
  flags.Int("timeout-ms", &timeout_ms, "how long to wait for the broker to confirm all records");
  flags.String("merchant", &merchant,
               "the merchant the commands act for: set as merchant_id on every command that "
               "names none, so the writer refuses one aimed at another merchant's payment");
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  if (std::string err = ResolveKafkaOptions(&kafka); !err.empty()) {
    std::fprintf(stderr, "payorch send: %s\n", err.c_str());
    return 2;
  }
  std::ifstream file_in;
  std::istream* in = &std::cin;
  if (file != "-") {
    file_in.open(file);
    if (!file_in) {
      std::fprintf(stderr, "payorch send: cannot read --file %s\n", file.c_str());
      return 2;
    }
    in = &file_in;
  }

  auto admin = log::Admin::Create(kafka);
  if (!admin.ok()) {
    std::fprintf(stderr, "payorch send: %s\n", admin.status().ToString().c_str());
    return 1;
  }
  if (log::LogStatus s = admin.value()->EnsureTopics(kafka); !s.ok()) {
    std::fprintf(stderr, "payorch send: %s\n", s.ToString().c_str());
    return 1;
  }
  auto producer = log::Producer::Create(kafka);
  if (!producer.ok()) {
    std::fprintf(stderr, "payorch send: %s\n", producer.status().ToString().c_str());
    return 1;
  }

  const std::string topic = kafka.Topic(log::TopicKind::kCommands);
  std::mt19937_64 rng(std::random_device{}());
  google::protobuf::util::JsonParseOptions json;
  json.ignore_unknown_fields = false;
  int64_t sent = 0;
  bool failed = false;
  std::string line;
  for (int64_t line_no = 1; std::getline(*in, line); ++line_no) {
    if (IsBlank(line)) continue;
    payments::commands::v1::CommandEnvelope envelope;
    auto status = google::protobuf::util::JsonStringToMessage(line, &envelope, json);
    if (!status.ok()) {
      std::string reason(status.message());
      reason = reason.substr(0, reason.find('\n'));  // the parser adds the line and a caret
      std::fprintf(stderr, "line %lld: %s\n", static_cast<long long>(line_no), reason.c_str());
      failed = true;
      continue;
    }
    if (envelope.command_id().empty()) envelope.set_command_id(NewCommandId(rng));
    if (envelope.merchant_id().empty()) envelope.set_merchant_id(merchant);
    // A command addressing no payment still goes in (the writer records its rejection);
    // its own id keeps it on one partition.
    std::string key = command::TargetPaymentId(envelope);
    if (key.empty()) key = envelope.command_id();
    log::OutRecord record{.topic = topic, .key = key, .value = envelope.SerializeAsString()};
    log::LogStatus s = producer.value()->Produce(record, [&, line_no](const log::Delivery& d) {
      if (d.status.ok()) {
        ++sent;
      } else {
        std::fprintf(stderr, "line %lld: not delivered: %s\n", static_cast<long long>(line_no),
                     d.status.ToString().c_str());
        failed = true;
      }
    });
    if (!s.ok()) {
      std::fprintf(stderr, "line %lld: %s\n", static_cast<long long>(line_no),
                   s.ToString().c_str());
      failed = true;
      if (log::IsFatal(s)) break;
    }
    if (log::LogStatus p = producer.value()->Poll(0); !p.ok()) {
      std::fprintf(stderr, "payorch send: %s\n", p.ToString().c_str());
      failed = true;
      break;
    }
  }
  if (log::LogStatus s = producer.value()->Flush(timeout_ms); !s.ok()) {
    std::fprintf(stderr, "payorch send: %s\n", s.ToString().c_str());
    failed = true;
  }
  std::printf("sent %lld commands\n", static_cast<long long>(sent));
  return failed ? 1 : 0;
}

}  // namespace payorch::cli
