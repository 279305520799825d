// The flags of one payorch subcommand, parsed by CLI11 (Debian libcli11-dev) behind a
// small facade: --name value, --name=value, boolean --name (or --name=true|false|1|0),
// repeated flags, -X key=value pass-through, positional arguments anywhere. Integers are
// checked whole (no "1k", no "0x10", no overflow) and against optional bounds. A bad flag
// or value is a one-line message naming the flag; -h/--help asks for Usage().
//
//   FlagSet flags("broker", "Run an embedded Kafka-protocol broker.");
//   int partitions = 4;
//   flags.Int("partitions", &partitions, "number of partitions per topic", Bounds::AtLeast(1));
//   if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
//
// ParseCommandLine() is the subcommands' contract (src/cli/README.md): a bad flag prints
// "payorch <command>: <what is wrong>" on stderr and gives exit code 2; --help prints the
// usage on stdout and gives 0. CLI11 stays inside flags.cc: this header is all callers see.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace payorch::cli {

// The closed range an integer flag must lie in; a value outside is a usage error
// "--name: must be in [min, max], not V" ("must be at least min, not V" for AtLeast).
struct Bounds {
  int64_t min;
  int64_t max;
  static constexpr Bounds AtLeast(int64_t min) {
    return Bounds{min, std::numeric_limits<int64_t>::max()};
  }
};

class FlagSet {
 public:
  FlagSet(std::string command, std::string summary);
  ~FlagSet();
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  // Each registers --name, its help line, and *out's current value as the default shown
  // by Usage(). Given more than once, the last value wins (Repeated collects them all).
  void String(const std::string& name, std::string* out, const std::string& help);
  void Int(const std::string& name, int64_t* out, const std::string& help,
           std::optional<Bounds> bounds = std::nullopt);
  void Int(const std::string& name, int* out, const std::string& help,
           std::optional<Bounds> bounds = std::nullopt);
  void Bool(const std::string& name, bool* out, const std::string& help);
  // "X" registers the short -X; any other name --name.
  void Repeated(const std::string& name, std::vector<std::string>* out, const std::string& help);

  // Parses argv[first..argc). Returns "" on success, else a one-line message.
  // Arguments that are not flags (and everything after "--") go to positional().
  [[nodiscard]] std::string Parse(int argc, char** argv, int first = 0);
  [[nodiscard]] std::string Parse(const std::vector<std::string>& args);

  // Parses argv[1..argc) (argv[0] is the command's name). std::nullopt: carry on; else
  // the exit code to return at once, after printing the error (2) or the usage (0). More
  // than `max_positional` positional arguments is an error ("unexpected argument 'x'"):
  // a command that takes none does not silently ignore a stray word.
  [[nodiscard]] std::optional<int> ParseCommandLine(int argc, char** argv,
                                                    size_t max_positional = 0);

  bool help_requested() const { return help_; }
  const std::vector<std::string>& positional() const { return positional_; }
  std::string Usage() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string command_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

}  // namespace payorch::cli
