#include "cli/flags.h"

#include <charconv>
#include <sstream>

namespace payorch::cli {

FlagSet::FlagSet(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void FlagSet::String(const std::string& name, std::string* out, const std::string& help) {
  flags_.push_back({name, help, *out, false, [out](const std::string& v) {
                      *out = v;
                      return std::string();
                    }});
}

namespace {
template <typename T>
std::string ParseInteger(const std::string& name, const std::string& v, T* out) {
  T parsed{};
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), parsed);
  if (ec != std::errc() || ptr != v.data() + v.size()) {
    return "--" + name + ": '" + v + "' is not an integer";
  }
  *out = parsed;
  return "";
}
}  // namespace

void FlagSet::Int(const std::string& name, int64_t* out, const std::string& help) {
  flags_.push_back({name, help, std::to_string(*out), false,
                    [out, name](const std::string& v) { return ParseInteger(name, v, out); }});
}

void FlagSet::Int(const std::string& name, int* out, const std::string& help) {
  flags_.push_back({name, help, std::to_string(*out), false,
                    [out, name](const std::string& v) { return ParseInteger(name, v, out); }});
}

void FlagSet::Bool(const std::string& name, bool* out, const std::string& help) {
  flags_.push_back(
      {name, help, *out ? "true" : "false", true, [out, name](const std::string& v) -> std::string {
         if (v == "" || v == "true" || v == "1") {
           *out = true;
         } else if (v == "false" || v == "0") {
           *out = false;
         } else {
           return "--" + name + ": '" + v + "' is not true or false";
         }
         return "";
       }});
}

void FlagSet::Repeated(const std::string& name, std::vector<std::string>* out,
                       const std::string& help) {
  flags_.push_back({name, help, "", false, [out](const std::string& v) {
                      out->push_back(v);
                      return std::string();
                    }});
}

const FlagSet::Flag* FlagSet::Find(const std::string& name) const {
  for (const auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string FlagSet::Parse(int argc, char** argv, int first) {
  std::vector<std::string> args;
  for (int i = first; i < argc; ++i) args.emplace_back(argv[i]);
  return Parse(args);
}

std::string FlagSet::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      continue;
    }
    std::string name;
    std::string value;
    bool has_value = false;
    if (arg == "-X") {
      name = "X";
    } else if (arg.rfind("--", 0) == 0 && arg.size() > 2) {
      name = arg.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
    } else {
      positional_.push_back(arg);
      continue;
    }
    const Flag* flag = Find(name);
    if (flag == nullptr) return "unknown flag " + arg + " (see payorch " + command_ + " --help)";
    if (!has_value && !flag->is_bool) {
      if (i + 1 >= args.size()) return "--" + name + " needs a value";
      value = args[++i];
    }
    if (std::string err = flag->set(value); !err.empty()) return err;
  }
  return "";
}

std::string FlagSet::Usage() const {
  std::ostringstream os;
  os << "usage: payorch " << command_ << " [flags]\n\n" << summary_ << "\n\nflags:\n";
  for (const auto& f : flags_) {
    std::string left = (f.name == "X" ? "  -X key=value" : "  --" + f.name);
    if (!f.is_bool && f.name != "X") left += " VALUE";
    os << left;
    if (left.size() < 28)
      os << std::string(28 - left.size(), ' ');
    else
      os << "\n" << std::string(28, ' ');
    os << f.help;
    if (!f.default_text.empty() && f.default_text != "false")
      os << " (default: " << f.default_text << ")";
    os << "\n";
  }
  os << "  -h, --help                show this help\n";
  return os.str();
}

}  // namespace payorch::cli
