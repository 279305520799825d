// payorch tail: prints the records of a payorch topic as JSON lines, decoded by topic
// (EventEnvelope, CommandEnvelope, ContractViolation; dead letters raw), each with its
// partition and offset.
#include <google/protobuf/util/json_util.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "log/admin.h"
#include "log/partition_reader.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/contracts/v1/contracts.pb.h"
#include "payments/events/v1/events.pb.h"
#include "payments/invoices/v1/invoices.pb.h"
#include "payments/orders/v1/orders.pb.h"

namespace payorch::cli {

namespace {

std::atomic<bool> g_stop{false};

void OnStopSignal(int) { g_stop = true; }

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += "=";
  }
  return out;
}

// The record's value as JSON, decoded by the topic's message type; nullopt if it does not
// decode.
std::optional<nlohmann::ordered_json> Decode(log::TopicKind kind, const std::string& value) {
  std::unique_ptr<google::protobuf::Message> msg;
  switch (kind) {
    case log::TopicKind::kEvents:
      msg = std::make_unique<payments::events::v1::EventEnvelope>();
      break;
    case log::TopicKind::kCommands:
      msg = std::make_unique<payments::commands::v1::CommandEnvelope>();
      break;
    case log::TopicKind::kContracts:
      msg = std::make_unique<payments::contracts::v1::ContractViolation>();
      break;
    case log::TopicKind::kInvoiceCommands:
      msg = std::make_unique<payments::invoices::v1::InvoiceCommandEnvelope>();
      break;
    case log::TopicKind::kInvoiceEvents:
      msg = std::make_unique<payments::invoices::v1::InvoiceEventEnvelope>();
      break;
    case log::TopicKind::kOrderCommands:
      msg = std::make_unique<payments::orders::v1::OrderCommandEnvelope>();
      break;
    case log::TopicKind::kOrderEvents:
      msg = std::make_unique<payments::orders::v1::OrderEventEnvelope>();
      break;
    case log::TopicKind::kDeadLetters:
      return std::nullopt;
  }
  if (!msg->ParseFromString(value)) return std::nullopt;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*msg, &json, options).ok()) return std::nullopt;
  return nlohmann::ordered_json::parse(json, nullptr, /*allow_exceptions=*/false);
}

void Print(log::TopicKind kind, const log::Record& r) {
  nlohmann::ordered_json line;
  line["topic"] = r.topic;
  line["partition"] = r.partition.value();
  line["offset"] = r.offset.value();
  line["timestamp_ms"] = r.timestamp_ms;
  line["key"] = r.key;
  if (!r.headers.empty()) {
    nlohmann::ordered_json headers = nlohmann::ordered_json::array();
    for (const log::Header& h : r.headers) headers.push_back({{"key", h.key}, {"value", h.value}});
    line["headers"] = std::move(headers);
  }
  std::optional<nlohmann::ordered_json> value = Decode(kind, r.value);
  if (value && !value->is_discarded()) {
    line["value"] = std::move(*value);
  } else {
    if (kind != log::TopicKind::kDeadLetters) line["error"] = "value does not decode";
    line["value_base64"] = Base64(r.value);
  }
  std::string out = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace

int RunTail(int argc, char** argv) {
  log::KafkaOptions kafka;
  bool from_beginning = false;
  bool follow = false;
  int64_t max = 0;
  int partition = -1;
  std::string topic_name = "events";
  FlagSet flags("tail",
                "Print the records of a payorch topic as JSON lines, with partition and offset.\n"
                "Without --follow, stops at the end of the log as of the start.");
  AddKafkaFlags(flags, &kafka);
  flags.String("topic", &topic_name,
               "events, commands, contracts, deadletter, invoice-commands, invoice-events, "
               "order-commands or order-events");
  flags.Bool("from-beginning", &from_beginning,
             "start at the beginning (default: the end, so only records appended from "
             "now on, with --follow)");
  flags.Bool("follow", &follow, "keep printing new records until SIGINT");
  flags.Int("max", &max, "stop after this many records (0 = no limit)");
  flags.Int("partition", &partition, "read only this partition (-1 = all)");
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  log::TopicKind kind;
  if (!log::ParseTopicKind(topic_name, &kind)) {
    std::fprintf(stderr,
                 "payorch tail: --topic: '%s' is not events, commands, contracts, deadletter, "
                 "invoice-commands, invoice-events, order-commands or order-events\n",
                 topic_name.c_str());
    return 2;
  }
  if (std::string err = ResolveKafkaOptions(&kafka); !err.empty()) {
    std::fprintf(stderr, "payorch tail: %s\n", err.c_str());
    return 2;
  }
  const std::string topic = kafka.Topic(kind);

  auto admin = log::Admin::Create(kafka);
  if (!admin.ok()) {
    std::fprintf(stderr, "payorch tail: %s\n", admin.status().ToString().c_str());
    return 1;
  }
  auto count = admin.value()->PartitionCount(topic);
  if (!count.ok()) {
    std::fprintf(stderr, "payorch tail: %s\n", count.status().ToString().c_str());
    return 1;
  }
  if (partition >= count.value()) {
    std::fprintf(stderr, "payorch tail: --partition %d: %s has %d partitions\n", partition,
                 topic.c_str(), count.value());
    return 2;
  }

  std::vector<std::unique_ptr<log::PartitionReader>> readers;
  for (int p = 0; p < count.value(); ++p) {
    if (partition >= 0 && p != partition) continue;
    auto reader = log::PartitionReader::Open(
        kafka, topic, PartitionId(p), from_beginning ? log::kOffsetBeginning : log::kOffsetEnd);
    if (!reader.ok()) {
      std::fprintf(stderr, "payorch tail: %s\n", reader.status().ToString().c_str());
      return 1;
    }
    readers.push_back(std::move(reader).value());
  }

  signal(SIGINT, OnStopSignal);
  signal(SIGTERM, OnStopSignal);
  int64_t printed = 0;
  auto room = [&] { return max <= 0 || printed < max; };

  // What is in the log now, partition by partition.
  for (auto& reader : readers) {
    auto end = reader->QueryWatermarks();
    if (!end.ok()) {
      std::fprintf(stderr, "payorch tail: %s\n", end.status().ToString().c_str());
      return 1;
    }
    std::vector<log::Record> batch;
    while (room() && !g_stop && reader->position() < end.value().high) {
      batch.clear();
      if (log::LogStatus s =
              reader->Poll(std::min<int64_t>(1000, max > 0 ? max - printed : 1000), 1000, &batch);
          !s.ok()) {
        std::fprintf(stderr, "payorch tail: %s\n", s.ToString().c_str());
        return 1;
      }
      for (const log::Record& r : batch) {
        if (!room() || r.offset >= end.value().high) break;
        Print(kind, r);
        ++printed;
      }
    }
    // Records past the high watermark read above are printed by --follow only; seek back.
    if (follow && reader->position() > end.value().high) {
      if (log::LogStatus s = reader->Seek(end.value().high); !s.ok()) {
        std::fprintf(stderr, "payorch tail: %s\n", s.ToString().c_str());
        return 1;
      }
    }
  }
  std::fflush(stdout);

  // New records, round-robin over the partitions.
  while (follow && room() && !g_stop) {
    bool any = false;
    for (auto& reader : readers) {
      std::vector<log::Record> batch;
      int wait_ms = readers.size() == 1 ? 100 : 0;
      if (log::LogStatus s = reader->Poll(1000, wait_ms, &batch); !s.ok()) {
        std::fprintf(stderr, "payorch tail: %s\n", s.ToString().c_str());
        return 1;
      }
      for (const log::Record& r : batch) {
        if (!room()) break;
        Print(kind, r);
        ++printed;
        any = true;
      }
    }
    if (any) std::fflush(stdout);
    if (!any && readers.size() > 1) {
      struct timespec ts {
        0, 20'000'000
      };
      nanosleep(&ts, nullptr);
    }
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace payorch::cli
