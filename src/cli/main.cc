// payorch: one binary, many subcommands. `payorch --help` lists them.
#include <google/protobuf/stubs/logging.h>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "command/invariants.h"

#ifdef PAYORCH_JEMALLOC
// The binary's allocator is jemalloc (CMake's PAYORCH_JEMALLOC), which reads this at its first
// allocation. One background thread ("jemalloc_bg_thd") returns freed pages to the kernel on
// jemalloc's decay schedule (dirty pages after 10 s) also when the process then goes quiet,
// as after an attack on an HTTP port. An operator's MALLOC_CONF wins.
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): jemalloc's hook
const char* malloc_conf = "background_thread:true,max_background_threads:1";
}
#endif

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(int, char**);
};

constexpr Subcommand kSubcommands[] = {
    {"demo", "run the orchestrator over a built-in workload and print what happened",
     payorch::cli::RunDemo},
    {"run", "run the orchestrator: single writers and connectors", payorch::cli::RunRun},
    {"broker", "run an embedded Kafka-protocol broker as its own process", payorch::cli::RunBroker},
    {"send", "append commands (Protobuf JSON lines) to the commands topic", payorch::cli::RunSend},
    {"tail", "print records of a topic as JSON lines", payorch::cli::RunTail},
    {"check", "verify the guarantees over the whole log", payorch::cli::RunCheck},
    {"serve", "keep the read models from the events log and serve the query API",
     payorch::cli::RunServe},
    {"replay", "events for analysts (JSON Lines, CSV); rebuild read models; digest",
     payorch::cli::RunReplay},
    {"gateway-sim", "a simulated remote processor (docs/gateway-api.md) on HTTP",
     payorch::cli::RunGatewaySim},
    {"retrospective", "contract violations vs external complaints, as a YAML report",
     payorch::cli::RunRetrospective},
    {"bench", "open-loop load generator: latency, throughput, efficiency against the broker",
     payorch::cli::RunBench},
    {"api", "the merchant API: payments over the log, API keys, rate limits, webhooks",
     payorch::cli::RunApi},
    {"keys", "create, rotate, revoke and list merchant API keys", payorch::cli::RunKeys},
};

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "usage: payorch <command> [flags]\n\n"
               "payorch is a payment orchestrator on a Kafka log.\n\ncommands:\n");
  for (const auto& c : kSubcommands) std::fprintf(out, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'payorch <command> --help' for the flags of a command.\n");
}

// With glibc's malloc (a build with -DPAYORCH_JEMALLOC=OFF, or a sanitized one):
// allocations of 1 MiB and more (RocksDB's memtable arena blocks, large fetch buffers) are
// mmapped and go back to the kernel when freed. glibc's default threshold rises with the
// first such free, after which those blocks come from the main heap and leave holes between
// long-lived small allocations: a 30-minute soak grew +22.7% with the default and stays flat
// with this (docs/reliability.md). A fixed mmap threshold also drops the heap's trim
// threshold to 128 KiB, and shrinking and regrowing the heap that often cost a third of
// `payorch bench`'s throughput; at 8 MiB the bench is as fast as with glibc's defaults, and
// less of the heap's top stays resident than at glibc's 64 MiB ceiling. An operator's
// GLIBC_TUNABLES=glibc.malloc.* settings win.
void ReturnLargeBlocksToTheKernel() {
#ifndef PAYORCH_JEMALLOC  // else glibc's malloc is not the one in use
  constexpr int kMmapThreshold = 1 << 20;
  constexpr int kTrimThreshold = 8 << 20;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) return;
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
#endif
}

// libprotobuf writes its own lines to stderr, e.g. for a string field that is not UTF-8 in
// a record being parsed. Every parse in payorch checks its result and says what it did with
// the record (a dead letter, a count of undecodable records), so those lines are debug
// detail through our logger, not a second, raw error line.
void LogProtobufThroughSpdlog(google::protobuf::LogLevel level, const char* file, int line,
                              const std::string& message) {
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    spdlog::critical("protobuf {}:{}: {}", file, line, message);
  } else {
    spdlog::debug("protobuf {}:{}: {}", file, line, message);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ReturnLargeBlocksToTheKernel();
  google::protobuf::SetLogHandler(LogProtobufThroughSpdlog);
  // A breach of the core's invariants is a bug: logged here, counted by the writers
  // (payorch_invariant_breaches_total); the state stays as it was.
  payorch::command::SetBreachHandler(
      +[](std::string_view what) { spdlog::error("invariant breach: {}", what); });
  if (argc < 2) {
    PrintUsage(stderr);
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    PrintUsage(stdout);
    return 0;
  }
  for (const auto& c : kSubcommands) {
    if (cmd == c.name) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "payorch: unknown command '%s' (see payorch --help)\n", argv[1]);
  return 2;
}
