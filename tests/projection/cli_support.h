// Running the payorch binary from a test: its stdout and exit code.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace payorch::projection::testing {

struct Output {
  int exit_code = -1;
  std::string out;
};

// Runs a shell command line; stdout captured, stderr passed through.
inline Output Shell(const std::string& command_line) {
  Output o;
  FILE* pipe = ::popen(command_line.c_str(), "r");
  if (pipe == nullptr) return o;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) o.out.append(buf, n);
  const int status = ::pclose(pipe);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace payorch::projection::testing
