// payorch check: verifies the guarantees over the whole log (and the gateways' ledgers).
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "connectors/ledger.h"
#include "runtime/checker.h"

namespace payorch::cli {

int RunCheck(int argc, char** argv) {
  log::KafkaOptions kafka;
  std::vector<std::string> ledger_dirs;
  FlagSet flags("check",
                "Reads the commands and events topics from the beginning and verifies:\n"
                "every command has all its events; one payload per (payment_id, sequence)\n"
                "after de-duplication; no sequence gaps; fenced writers' events ignored; valid\n"
                "transitions only; terminal states never regress; amounts add up. With\n"
                "--ledger-dir, also that no payment was charged twice and that the gateways'\n"
                "money equals the log's. Exits 1 on any violation.");
  AddKafkaFlags(flags, &kafka);
  flags.Repeated("ledger-dir", &ledger_dirs,
                 "directory of simulated gateway *.ledger files (repeatable)");
  if (std::string err = flags.Parse(argc, argv, 1); !err.empty()) {
    std::fprintf(stderr, "payorch check: %s\n", err.c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
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
  runtime::CheckReport report = runtime::CheckLog(kafka, ledger, &error);
  if (!error.empty()) {
    std::fprintf(stderr, "payorch check: %s\n", error.c_str());
    return 1;
  }
  report.Print(stdout);
  return report.ok() ? 0 : 1;
}

}  // namespace payorch::cli
