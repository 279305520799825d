// payorch check: verifies the guarantees over the whole log (and the gateways' ledgers).
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "common/clock.h"
#include "connectors/ledger.h"
#include "runtime/checker.h"

namespace payorch::cli {

namespace {

// "0", or one or more <integer><unit> with unit ms, s, m or h ("90s", "5m", "1h30m").
bool ParseDurationMs(const std::string& text, int64_t* out) {
  if (text == "0") {
    *out = 0;
    return true;
  }
  int64_t total = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  if (p == end) return false;
  while (p != end) {
    int64_t n = 0;
    auto [next, ec] = std::from_chars(p, end, n);
    if (ec != std::errc() || next == p || n < 0) return false;
    p = next;
    int64_t unit = 0;
    if (end - p >= 2 && p[0] == 'm' && p[1] == 's') {
      unit = 1;
      p += 2;
    } else if (p != end && (*p == 's' || *p == 'm' || *p == 'h')) {
      unit = *p == 's' ? 1000 : *p == 'm' ? 60'000 : 3'600'000;
      ++p;
    } else {
      return false;  // a unit is required
    }
    if (n > (std::numeric_limits<int64_t>::max() - total) / unit) return false;
    total += n * unit;
  }
  *out = total;
  return true;
}

}  // namespace

int RunCheck(int argc, char** argv) {
  log::KafkaOptions kafka;
  std::vector<std::string> ledger_dirs;
  std::string settle_within = "5m";
  FlagSet flags("check",
                "Reads the commands and events topics from the beginning and verifies:\n"
                "every command has all its events; one payload per (payment_id, sequence)\n"
                "after de-duplication; no sequence gaps; fenced writers' events ignored; valid\n"
                "transitions only; terminal states never regress; amounts add up. With\n"
                "--ledger-dir, also that no payment was charged twice and that the gateways'\n"
                "money equals the log's.\n"
                "Settling: a payment with an operation pending, or in a status payorch still\n"
                "owes an answer for, longer than --settle-within after its last client command\n"
                "is a violation (ages run to the later of now and the newest record), and so is\n"
                "a command undecided that long; with --ledger-dir, so is a FAILED, CANCELED or\n"
                "VOIDED payment whose processor still holds money, at any age. Exits 1 on any\n"
                "violation.");
  AddKafkaFlags(flags, &kafka);
  flags.Repeated("ledger-dir", &ledger_dirs,
                 "directory of simulated gateway *.ledger files (repeatable)");
  flags.String("settle-within", &settle_within,
               "longest a payment may stay unsettled after its last command: 90s, 5m, 1h30m; "
               "0 reports the counts without judging ages");
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  runtime::CheckOptions check;
  if (!ParseDurationMs(settle_within, &check.settle_within_ms)) {
    std::fprintf(stderr,
                 "payorch check: --settle-within: '%s' is not a duration (e.g. 90s, 5m, 1h30m; "
                 "0 to judge no age)\n",
                 settle_within.c_str());
    return 2;
  }
  check.now_ms = SystemClock().NowMs();
  if (std::string err = ResolveKafkaOptions(&kafka); !err.empty()) {
    std::fprintf(stderr, "payorch check: %s\n", err.c_str());
    return 2;
  }
  if (kafka.bootstrap_servers.empty()) {
    std::fprintf(stderr, "payorch check: --brokers or --bootstrap-file is required\n");
    return 2;
  }
  std::vector<connectors::LedgerEntry> ledger;
  for (const auto& dir : ledger_dirs) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".ledger") continue;
      auto entries = connectors::ReadLedgerFile(entry.path().string());
      if (!entries.ok()) {
        std::fprintf(stderr, "payorch check: %s\n", entries.status().message().c_str());
        return 2;
      }
      ledger.insert(ledger.end(), entries.value().begin(), entries.value().end());
    }
    if (ec) {
      std::fprintf(stderr, "payorch check: --ledger-dir %s: %s\n", dir.c_str(),
                   ec.message().c_str());
      return 2;
    }
  }
  std::string error;
  runtime::CheckReport report = runtime::CheckLog(kafka, ledger, &error, check);
  if (!error.empty()) {
    std::fprintf(stderr, "payorch check: %s\n", error.c_str());
    return 1;
  }
  report.Print(stdout);
  return report.ok() ? 0 : 1;
}

}  // namespace payorch::cli
