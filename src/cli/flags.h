// A small flag parser for payorch subcommands: --name value, --name=value, boolean
// --name, repeated flags, and -X key=value pass-through. Unknown flags and bad values
// produce a one-line error naming the flag.
//
//   FlagSet flags("broker", "Run an embedded Kafka-protocol broker.");
//   int partitions = 4;
//   flags.Int("partitions", &partitions, "number of partitions per topic");
//   if (auto err = flags.Parse(argc, argv); !err.empty()) { fail(err); }
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace payorch::cli {

class FlagSet {
 public:
  FlagSet(std::string command, std::string summary);

  void String(const std::string& name, std::string* out, const std::string& help);
  void Int(const std::string& name, int64_t* out, const std::string& help);
  void Int(const std::string& name, int* out, const std::string& help);
  void Bool(const std::string& name, bool* out, const std::string& help);
  void Repeated(const std::string& name, std::vector<std::string>* out, const std::string& help);

  // Parses argv[first..argc). Returns "" on success, else a one-line message.
  // Positional arguments are collected into positional().
  std::string Parse(int argc, char** argv, int first = 0);
  std::string Parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_; }
  const std::vector<std::string>& positional() const { return positional_; }
  std::string Usage() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    std::function<std::string(const std::string&)> set;  // returns error or ""
  };
  const Flag* Find(const std::string& name) const;

  std::string command_;
  std::string summary_;
  std::vector<Flag> flags_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

}  // namespace payorch::cli
