// payorch replay: reads the events log for analysts. Counted events only (the validity
// rule and de-duplication by (payment_id, sequence)), filtered, as JSON Lines or CSV; or
// rebuilds a projection store from scratch and prints the digest of its read models.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "cli/progress.h"
#include "log/admin.h"
#include "log/partition_reader.h"
#include "payments/events/v1/events.pb.h"
#include "projection/internal/time.h"
#include "projection/replay.h"
#include "projection/runner.h"
#include "projection/store.h"

namespace payorch::cli {

namespace {

namespace fs = std::filesystem;

int Usage(const std::string& message) {
  std::fprintf(stderr, "payorch replay: %s\n", message.c_str());
  return 2;
}
int Fail(const std::string& message) {
  std::fprintf(stderr, "payorch replay: %s\n", message.c_str());
  return 1;
}

// Builds a fresh store in `dir` from the whole log; prints its digest if asked.
int Rebuild(const log::KafkaOptions& kafka, const std::string& dir, bool digest, bool progress) {
  projection::ProjectionStore store;
  if (Status s = store.Open(dir, {.disable_wal = true, .bulk_load = true}); !s.ok())
    return Fail(s.ToString());
  projection::RunnerOptions ro;
  ro.kafka = kafka;
  ro.catch_up_batch_records = projection::kRebuildBatchRecords;
  projection::ProjectionRunner runner(&store, ro);
  if (std::string err = runner.Open(); !err.empty()) return Fail(err);
  ProgressBar bar(stderr);
  std::atomic<bool> stop{false};
  std::string err = runner.CatchUp(stop, [&](int64_t done, int64_t total) {
    if (progress) bar.Update("rebuild", done, total);
  });
  bar.Done();
  if (!err.empty()) return Fail(err);
  if (digest) std::printf("%s\n", store.Digest().c_str());
  if (Status s = store.Close(); !s.ok()) return Fail(s.ToString());
  if (progress && ::isatty(STDERR_FILENO) != 0) {
    const projection::ProjectorStats s = runner.stats();
    std::fprintf(stderr,
                 "rebuilt %s from %lld records (%lld applied, %lld duplicates, %lld fenced)\n",
                 dir.c_str(), static_cast<long long>(s.records), static_cast<long long>(s.applied),
                 static_cast<long long>(s.duplicates), static_cast<long long>(s.fenced));
  }
  return 0;
}

}  // namespace

int RunReplay(int argc, char** argv) {
  log::KafkaOptions kafka;
  int64_t from_offset = 0;
  int64_t to_offset = -1;
  int partition = -1;
  std::string from_time, to_time, types, format = "jsonl", output = "-", rebuild, store_dir;
  std::vector<std::string> merchants, payments;
  bool digest = false;
  FlagSet flags("replay",
                "Reads the events log from the beginning and writes the counted events (fenced\n"
                "and re-published copies dropped, as every reader does) as JSON Lines or CSV,\n"
                "filtered by offset, time, merchant, payment or type. With --rebuild DIR it\n"
                "builds a fresh projection store instead; --digest prints its digest.");
  AddKafkaFlags(flags, &kafka);
  flags.Int("from-offset", &from_offset, "first events offset to write, in every partition",
            Bounds::AtLeast(0));
  flags.Int("to-offset", &to_offset, "stop before this offset (-1: the end of the log now)",
            Bounds::AtLeast(-1));
  flags.Int("partition", &partition, "only this partition (-1: all)");
  flags.String("from", &from_time,
               "events that occurred at or after this time (ms, YYYY-MM-DD or RFC 3339 UTC)");
  flags.String("to", &to_time, "events that occurred before this time");
  flags.Repeated("merchant", &merchants, "only this merchant (repeatable)");
  flags.Repeated("payment", &payments, "only this payment (repeatable)");
  flags.String("type", &types, "only these event types: \"PaymentCreated,step_failed\"");
  flags.String("format", &format, "jsonl or csv (RFC 4180, header row)");
  flags.String("output", &output, "file to write (- = stdout)");
  flags.String("rebuild", &rebuild,
               "build a fresh projection store in this (new or empty) directory");
  flags.Bool("digest", &digest,
             "print the digest of the read models (with --rebuild, of the store built; with "
             "--store, of that store; alone, of a temporary rebuild)");
  flags.String("store", &store_dir, "an existing projection store, for --digest (read only)");
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  if (!store_dir.empty()) {
    if (!digest) return Usage("--store needs --digest");
    projection::ProjectionStore store;
    if (Status s = store.Open(store_dir, {.read_only = true}); !s.ok()) return Fail(s.ToString());
    std::printf("%s\n", store.Digest().c_str());
    return 0;
  }
  projection::ReplayFilter filter;
  if (std::string err = filter.SetTypes(types); !err.empty()) return Usage("--type: " + err);
  filter.merchants.insert(merchants.begin(), merchants.end());
  filter.payments.insert(payments.begin(), payments.end());
  if (!from_time.empty()) {
    auto t = projection::internal::ParseTime(from_time);
    if (!t)
      return Usage("--from: '" + from_time + "' is not a time (ms, YYYY-MM-DD or RFC 3339 UTC)");
    filter.from_ms = *t;
  }
  if (!to_time.empty()) {
    auto t = projection::internal::ParseTime(to_time);
    if (!t) return Usage("--to: '" + to_time + "' is not a time (ms, YYYY-MM-DD or RFC 3339 UTC)");
    filter.to_ms = *t;
  }
  if (format != "jsonl" && format != "csv")
    return Usage("--format: '" + format + "' is not jsonl or csv");
  if (std::string err = ResolveKafkaOptions(&kafka); !err.empty()) return Usage(err);

  const bool output_is_tty = output == "-" && ::isatty(STDOUT_FILENO) != 0;
  const bool progress = !output_is_tty;  // the bar itself is silent unless stderr is a tty
  if (!rebuild.empty() || digest) {
    const bool filtered = !types.empty() || !merchants.empty() || !payments.empty() ||
                          !from_time.empty() || !to_time.empty() || from_offset != 0 ||
                          to_offset != -1 || partition != -1 || output != "-";
    if (filtered)
      return Usage("--rebuild/--digest read the whole log: filters and --output do not apply");
    if (rebuild.empty()) {
      char tmpl[] = "/tmp/payorch-replay-XXXXXX";
      if (::mkdtemp(tmpl) == nullptr) return Fail("mkdtemp failed");
      const int rc = Rebuild(kafka, std::string(tmpl) + "/store", true, progress);
      std::error_code ec;
      fs::remove_all(tmpl, ec);
      return rc;
    }
    std::error_code ec;
    if (fs::exists(rebuild, ec) && !fs::is_empty(rebuild, ec)) {
      return Usage("--rebuild: " + rebuild + " is not empty (a rebuild starts from nothing)");
    }
    return Rebuild(kafka, rebuild, digest, progress);
  }

  FILE* out = stdout;
  if (output != "-") {
    out = std::fopen(output.c_str(), "wb");
    if (out == nullptr) return Usage("--output: cannot open " + output);
  }
  const std::string topic = kafka.Topic(log::TopicKind::kEvents);
  auto admin = log::Admin::Create(kafka);
  if (!admin.ok()) return Fail(admin.status().ToString());
  auto count = admin.value()->PartitionCount(topic);
  if (!count.ok()) return Fail(topic + ": " + count.status().ToString());
  if (partition >= count.value()) {
    return Usage("--partition " + std::to_string(partition) + ": " + topic + " has " +
                 std::to_string(count.value()) + " partitions");
  }
  // Every partition is read from its beginning: the validity rule and de-duplication need
  // the history before --from-offset.
  std::vector<std::unique_ptr<log::PartitionReader>> readers;
  std::vector<int64_t> ends;
  int64_t total = 0;
  for (int p = 0; p < count.value(); ++p) {
    if (partition >= 0 && p != partition) continue;
    auto reader = log::PartitionReader::Open(kafka, topic, PartitionId{p}, log::kOffsetBeginning);
    if (!reader.ok()) return Fail(reader.status().ToString());
    auto marks = reader.value()->QueryWatermarks();
    if (!marks.ok()) return Fail(marks.status().ToString());
    int64_t end = marks.value().high.value();
    if (to_offset >= 0) end = std::min(end, to_offset);
    total += std::max<int64_t>(0, end - marks.value().low.value());
    ends.push_back(end);
    readers.push_back(std::move(reader).value());
  }
  if (format == "csv") std::fputs(projection::CsvHeader().c_str(), out);
  ProgressBar bar(stderr);
  projection::EventDeduper dedup;
  ::payments::events::v1::EventEnvelope e;
  int64_t read = 0, written = 0;
  std::string line;
  for (size_t i = 0; i < readers.size(); ++i) {
    log::PartitionReader& reader = *readers[i];
    const int32_t p = reader.partition().value();
    if (ends[i] <= 0) continue;
    log::LogStatus st = reader.ReadUntil(
        Offset{ends[i]},
        [&](const log::Record& r) {
          ++read;
          if (progress && read % 10'000 == 0) bar.Update("replay", read, total);
          if (!e.ParseFromString(r.value) || !dedup.Counts(p, e)) return;
          if (r.offset.value() < from_offset || !filter.Matches(e)) return;
          line = format == "csv" ? projection::CsvRow(p, r.offset.value(), e)
                                 : projection::JsonLine(p, r.offset.value(), e);
          std::fwrite(line.data(), 1, line.size(), out);
          ++written;
        },
        120'000);
    if (!st.ok()) return Fail("events partition " + std::to_string(p) + ": " + st.ToString());
  }
  if (progress) bar.Update("replay", read, total);
  bar.Done();
  const bool write_failed = std::fflush(out) != 0 || std::ferror(out) != 0;
  if (out != stdout) std::fclose(out);
  if (write_failed) return Fail("writing " + output + " failed");
  if (progress && ::isatty(STDERR_FILENO) != 0) {
    std::fprintf(stderr, "%lld events written (%lld records read)\n",
                 static_cast<long long>(written), static_cast<long long>(read));
  }
  return 0;
}

}  // namespace payorch::cli
