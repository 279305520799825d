#include "app/kafka_options.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace payorch::app {

namespace {

std::string Trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

std::string ResolveKafkaOptions(log::KafkaOptions* options) {
  for (const std::string& arg : options->property_args) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) return "-X '" + arg + "': expected key=value";
    options->properties.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
  }
  options->property_args.clear();
  if (options->replication_factor < 1) {
    return "--replication-factor: must be at least 1, not " +
           std::to_string(options->replication_factor);
  }
  if (options->partitions < 1) {
    return "--partitions: must be at least 1, not " + std::to_string(options->partitions);
  }
  if (options->bootstrap_servers.empty()) {
    if (options->bootstrap_file.empty()) {
      return "no broker given: use --brokers host:port or --bootstrap-file FILE (written by "
             "`payorch broker --bootstrap-file FILE`)";
    }
    if (std::string err = ReadBootstrapFile(options->bootstrap_file, &options->bootstrap_servers);
        !err.empty()) {
      return err;
    }
  }
  return "";
}

std::string ReadBootstrapFile(const std::string& path, std::string* bootstrap) {
  std::ifstream in(path);
  if (!in) return "--bootstrap-file " + path + ": cannot read it (" + std::strerror(errno) + ")";
  std::string line;
  std::getline(in, line);
  line = Trim(line);
  if (line.empty()) return "--bootstrap-file " + path + ": no address in it";
  *bootstrap = line;
  return "";
}

std::string WriteBootstrapFile(const std::string& path, const std::string& bootstrap) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out)
      return "--bootstrap-file " + path + ": cannot write it (" + std::strerror(errno) + ")";
    out << bootstrap << "\n";
    out.flush();
    if (!out) return "--bootstrap-file " + path + ": write failed";
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return "--bootstrap-file " + path + ": cannot rename into place (" + std::strerror(errno) + ")";
  }
  return "";
}

}  // namespace payorch::app
