#include "cli/flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <sstream>
#include <utility>

namespace payorch::cli {

namespace {

// "--name" for a flag, "-X" for the one-letter pass-through.
std::string OptionName(const std::string& name) {
  return name.size() == 1 ? "-" + name : "--" + name;
}

// Checks the whole text is one integer of type T, in `bounds` when given. CLI11 converts
// after the check passes (its own conversion would accept "0x10" and saturate overflows).
template <typename T>
CLI::Validator IntegerValidator(std::optional<Bounds> bounds) {
  return CLI::Validator(
      [bounds](std::string& v) -> std::string {
        T parsed{};
        auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), parsed);
        if (ec == std::errc::result_out_of_range) return "'" + v + "' is out of range";
        if (ec != std::errc() || ptr != v.data() + v.size()) {
          return "'" + v + "' is not an integer";
        }
        if (bounds && (parsed < bounds->min || parsed > bounds->max)) {
          if (bounds->max == std::numeric_limits<int64_t>::max()) {
            return "must be at least " + std::to_string(bounds->min) + ", not " + v;
          }
          return "must be in [" + std::to_string(bounds->min) + ", " + std::to_string(bounds->max) +
                 "], not " + v;
        }
        return "";
      },
      "", "integer");
}

// The values the hand-rolled parser took, and no others ("yes", "on" stay errors).
CLI::Validator BoolValidator() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (v == "true" || v == "1" || v == "false" || v == "0") return "";
        return "'" + v + "' is not true or false";
      },
      "", "bool");
}

// Usage in payorch's shape: "usage: payorch <command> [flags]", the summary, then one
// line per flag with its default, -h/--help last.
class UsageFormatter : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode) const override {
    std::ostringstream os;
    os << "usage: " << name << " [flags]\n\n" << app->get_description() << "\n\nflags:\n";
    for (const CLI::Option* opt : app->get_options()) {
      if (opt == app->get_help_ptr()) continue;
      std::string left = "  " + opt->get_name();
      if (opt->get_items_expected_min() != 0)
        left += opt->get_name() == "-X" ? " key=value" : " VALUE";
      os << left;
      if (left.size() < kColumn) {
        os << std::string(kColumn - left.size(), ' ');
      } else {
        os << "\n" << std::string(kColumn, ' ');
      }
      os << opt->get_description();
      if (const std::string& d = opt->get_default_str(); !d.empty())
        os << " (default: " << d << ")";
      os << "\n";
    }
    os << "  -h, --help" << std::string(kColumn - 12, ' ') << "show this help\n";
    return os.str();
  }

 private:
  static constexpr size_t kColumn = 28;
};

// One line for a CLI11 parse error. A missing value reads "--name needs a value".
std::string OneLine(const CLI::ParseError& e) {
  std::string what = e.what();
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    const size_t colon = what.find(':');
    if (colon != std::string::npos && what.find("missing") != std::string::npos) {
      return what.substr(0, colon) + " needs a value";
    }
  }
  if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
  return what;
}

bool LooksLikeFlag(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-') return false;
  const char c = arg[1];
  return !(c >= '0' && c <= '9');  // "-1" is a value, not a flag
}

}  // namespace

struct FlagSet::Impl {
  CLI::App app;
  Impl(std::string summary, std::string name) : app(std::move(summary), std::move(name)) {}
};

FlagSet::FlagSet(std::string command, std::string summary)
    // impl_ is initialized before command_ is moved from (declaration order).
    : impl_(std::make_unique<Impl>(std::move(summary), "payorch " + command)),
      command_(std::move(command)) {
  CLI::App& app = impl_->app;
  app.allow_extras();  // unknown flags and positionals are sorted out after parsing
  app.set_help_flag("-h,--help", "show this help");
  app.formatter(std::make_shared<UsageFormatter>());
}

FlagSet::~FlagSet() = default;

void FlagSet::String(const std::string& name, std::string* out, const std::string& help) {
  impl_->app.add_option(OptionName(name), *out, help)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->default_str(*out);
}

void FlagSet::Int(const std::string& name, int64_t* out, const std::string& help,
                  std::optional<Bounds> bounds) {
  impl_->app.add_option(OptionName(name), *out, help)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->check(IntegerValidator<int64_t>(bounds))
      ->default_str(std::to_string(*out));
}

void FlagSet::Int(const std::string& name, int* out, const std::string& help,
                  std::optional<Bounds> bounds) {
  impl_->app.add_option(OptionName(name), *out, help)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->check(IntegerValidator<int>(bounds))
      ->default_str(std::to_string(*out));
}

void FlagSet::Bool(const std::string& name, bool* out, const std::string& help) {
  impl_->app.add_flag(OptionName(name), *out, help)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->check(BoolValidator())
      ->default_str(*out ? "true" : "");
}

void FlagSet::Repeated(const std::string& name, std::vector<std::string>* out,
                       const std::string& help) {
  // One value per occurrence: "-X a=b pos" leaves "pos" positional.
  impl_->app.add_option(OptionName(name), *out, help)->allow_extra_args(false);
}

std::string FlagSet::Parse(int argc, char** argv, int first) {
  std::vector<std::string> args;
  for (int i = first; i < argc; ++i) args.emplace_back(argv[i]);
  return Parse(args);
}

std::string FlagSet::Parse(const std::vector<std::string>& args) {
  CLI::App& app = impl_->app;
  // CLI11 pops arguments from the back. "--name=" is an empty value, which CLI11 would
  // take from the next argument instead: hand it over as "--name" "".
  std::vector<std::string> reversed;
  bool after_separator = false;
  for (const std::string& arg : args) {
    after_separator = after_separator || arg == "--";
    if (!after_separator && arg.size() > 3 && arg.rfind("--", 0) == 0 && arg.back() == '=' &&
        arg.find('=') == arg.size() - 1) {
      reversed.push_back(arg.substr(0, arg.size() - 1));
      reversed.emplace_back();
    } else {
      reversed.push_back(arg);
    }
  }
  std::reverse(reversed.begin(), reversed.end());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    help_ = true;
    return "";
  } catch (const CLI::ParseError& e) {
    return OneLine(e);
  }
  after_separator = false;
  for (const std::string& arg : app.remaining()) {
    if (!after_separator && arg == "--") {
      after_separator = true;
    } else if (!after_separator && LooksLikeFlag(arg)) {
      return "unknown flag " + arg + " (see payorch " + command_ + " --help)";
    } else {
      positional_.push_back(arg);
    }
  }
  return "";
}

std::optional<int> FlagSet::ParseCommandLine(int argc, char** argv, size_t max_positional) {
  std::string err = Parse(argc, argv, 1);
  if (err.empty() && !help_ && positional_.size() > max_positional) {
    err = "unexpected argument '" + positional_[max_positional] + "' (see payorch " + command_ +
          " --help)";
  }
  if (!err.empty()) {
    std::fprintf(stderr, "payorch %s: %s\n", command_.c_str(), err.c_str());
    return 2;
  }
  if (help_) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  return std::nullopt;
}

std::string FlagSet::Usage() const { return impl_->app.help(); }

}  // namespace payorch::cli
