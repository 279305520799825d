// The flags of every payorch subcommand: what a person typing them gets back. A bad flag
// or value is one line naming it and exit code 2; --help is the usage and exit code 0;
// flags not given keep their defaults.
#include "cli/flags.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace payorch::cli {
namespace {

// The flags of a small command, with the defaults `payorch run` uses.
struct Options {
  std::string data_dir = "data/payorch";
  std::string http;
  int64_t max_lag = 10'000;
  int threads = 8;
  bool no_writers = false;
  std::vector<std::string> properties;
};

class Flags : public ::testing::Test {
 protected:
  Flags() : flags_("run", "Runs the orchestrator.") {
    flags_.String("data-dir", &o_.data_dir, "state store directory");
    flags_.String("http", &o_.http, "serve the query API on host:port");
    flags_.Int("max-lag", &o_.max_lag, "records behind before 503 (-1: never)");
    flags_.Int("connector-threads", &o_.threads, "gateway calls in parallel", Bounds{1, 256});
    flags_.Bool("no-writers", &o_.no_writers, "run only the connectors");
    flags_.Repeated("X", &o_.properties, "librdkafka property");
  }

  std::string Parse(const std::vector<std::string>& args) { return flags_.Parse(args); }

  // ParseCommandLine over "payorch run ARGS...": its result, stdout and stderr.
  struct Outcome {
    std::optional<int> exit_code;
    std::string out;
    std::string err;
  };
  Outcome Run(std::vector<std::string> args) {
    args.insert(args.begin(), "run");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    Outcome o;
    o.exit_code = flags_.ParseCommandLine(static_cast<int>(argv.size()), argv.data());
    o.out = ::testing::internal::GetCapturedStdout();
    o.err = ::testing::internal::GetCapturedStderr();
    return o;
  }

  Options o_;
  FlagSet flags_;
};

bool OneLine(const std::string& s) {
  return !s.empty() && s.back() == '\n' && s.find('\n') == s.size() - 1;
}

TEST_F(Flags, DefaultsStayWhenNoFlagIsGiven) {
  EXPECT_EQ(Parse({}), "");
  EXPECT_EQ(o_.data_dir, "data/payorch");
  EXPECT_EQ(o_.http, "");
  EXPECT_EQ(o_.max_lag, 10'000);
  EXPECT_EQ(o_.threads, 8);
  EXPECT_FALSE(o_.no_writers);
  EXPECT_TRUE(o_.properties.empty());
  EXPECT_FALSE(flags_.help_requested());
}

TEST_F(Flags, EverySpellingOfAValueIsTaken) {
  EXPECT_EQ(Parse({"--data-dir", "/tmp/d", "--http=127.0.0.1:0", "--max-lag", "-1",
                   "--connector-threads=256", "--no-writers", "-X", "a=b", "-X", "c=d"}),
            "");
  EXPECT_EQ(o_.data_dir, "/tmp/d");
  EXPECT_EQ(o_.http, "127.0.0.1:0");
  EXPECT_EQ(o_.max_lag, -1);  // a negative number is a value, not a flag
  EXPECT_EQ(o_.threads, 256);
  EXPECT_TRUE(o_.no_writers);
  EXPECT_EQ(o_.properties, (std::vector<std::string>{"a=b", "c=d"}));
}

TEST_F(Flags, AnEmptyValueAfterEqualsIsEmptyAndADashIsAValue) {
  o_.http = "127.0.0.1:8080";
  EXPECT_EQ(Parse({"--http=", "--data-dir", "-", "--help"}), "");
  EXPECT_EQ(o_.http, "");
  EXPECT_EQ(o_.data_dir, "-");  // stdin or stdout, for the commands that take a file
  EXPECT_TRUE(flags_.help_requested());
}

TEST_F(Flags, TheLastOfARepeatedFlagWins) {
  EXPECT_EQ(Parse({"--connector-threads", "2", "--connector-threads", "3"}), "");
  EXPECT_EQ(o_.threads, 3);
}

TEST_F(Flags, BooleanFlagsTakeTrueOrFalse) {
  EXPECT_EQ(Parse({"--no-writers=true", "--no-writers=0"}), "");
  EXPECT_FALSE(o_.no_writers);
  EXPECT_EQ(Parse({"--no-writers=maybe"}), "--no-writers: 'maybe' is not true or false");
}

TEST_F(Flags, PositionalArgumentsAreCollectedInOrder) {
  EXPECT_EQ(Parse({"create", "--data-dir", "d", "extra", "-X", "k=v", "last"}), "");
  EXPECT_EQ(flags_.positional(), (std::vector<std::string>{"create", "extra", "last"}));
  EXPECT_EQ(o_.properties, std::vector<std::string>{"k=v"});
}

TEST_F(Flags, EverythingAfterADoubleDashIsPositional) {
  EXPECT_EQ(Parse({"--", "--data-dir", "-X"}), "");
  EXPECT_EQ(flags_.positional(), (std::vector<std::string>{"--data-dir", "-X"}));
  EXPECT_EQ(o_.data_dir, "data/payorch");
}

struct BadCase {
  const char* name;
  std::vector<std::string> args;
  std::string message;  // after "payorch run: "
};

TEST_F(Flags, BadUsageIsOneLineNamingTheFlagAndExitCodeTwo) {
  const BadCase cases[] = {
      {"unknown flag", {"--bogus"}, "unknown flag --bogus (see payorch run --help)"},
      {"unknown flag with a value",
       {"--bogus=1"},
       "unknown flag --bogus=1 (see payorch run --help)"},
      {"unknown short flag", {"-v"}, "unknown flag -v (see payorch run --help)"},
      {"not an integer", {"--max-lag", "abc"}, "--max-lag: 'abc' is not an integer"},
      {"a unit is not an integer", {"--max-lag", "1k"}, "--max-lag: '1k' is not an integer"},
      {"hexadecimal is not an integer", {"--max-lag=0x10"}, "--max-lag: '0x10' is not an integer"},
      {"a fraction is not an integer",
       {"--connector-threads", "1.5"},
       "--connector-threads: '1.5' is not an integer"},
      {"overflow",
       {"--max-lag", "99999999999999999999"},
       "--max-lag: '99999999999999999999' is out of range"},
      {"int overflow",
       {"--connector-threads", "3000000000"},
       "--connector-threads: '3000000000' is out of range"},
      {"below the bounds",
       {"--connector-threads", "0"},
       "--connector-threads: must be in [1, 256], not 0"},
      {"above the bounds",
       {"--connector-threads=257"},
       "--connector-threads: must be in [1, 256], not 257"},
      {"missing value", {"--data-dir"}, "--data-dir needs a value"},
      {"missing -X value", {"-X"}, "-X needs a value"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    Options fresh;
    o_ = fresh;
    const Outcome o = Run(c.args);
    ASSERT_TRUE(o.exit_code.has_value());
    EXPECT_EQ(*o.exit_code, 2);
    EXPECT_EQ(o.err, "payorch run: " + c.message + "\n");
    EXPECT_TRUE(OneLine(o.err));
    EXPECT_EQ(o.out, "");
  }
}

TEST_F(Flags, AStrayArgumentIsBadUsageUnlessTheCommandTakesIt) {
  const Outcome o = Run({"--data-dir", "d", "extra"});
  ASSERT_TRUE(o.exit_code.has_value());
  EXPECT_EQ(*o.exit_code, 2);
  EXPECT_EQ(o.err, "payorch run: unexpected argument 'extra' (see payorch run --help)\n");
  EXPECT_EQ(o.out, "");

  std::string data;
  FlagSet keys("keys", "Keys.");
  keys.String("data", &data, "data directory");
  std::vector<std::string> args = {"keys", "list", "--data", "d"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  EXPECT_FALSE(keys.ParseCommandLine(static_cast<int>(argv.size()), argv.data(), 1));
  EXPECT_EQ(keys.positional(), std::vector<std::string>{"list"});
}

TEST(FlagBounds, AtLeastHasNoUpperBound) {
  int64_t from = 0;
  FlagSet flags("replay", "Replays.");
  flags.Int("from-offset", &from, "first offset", Bounds::AtLeast(0));
  EXPECT_EQ(flags.Parse({"--from-offset", "9223372036854775807"}), "");
  EXPECT_EQ(from, 9223372036854775807);
  EXPECT_EQ(flags.Parse({"--from-offset=-1"}), "--from-offset: must be at least 0, not -1");
}

TEST_F(Flags, HelpPrintsTheUsageAndExitCodeZero) {
  for (const char* help : {"--help", "-h"}) {
    const Outcome o = Run({"--data-dir", "d", help});
    ASSERT_TRUE(o.exit_code.has_value()) << help;
    EXPECT_EQ(*o.exit_code, 0);
    EXPECT_EQ(o.err, "");
    EXPECT_EQ(o.out.rfind("usage: payorch run [flags]\n\nRuns the orchestrator.\n", 0), 0u)
        << o.out;
    EXPECT_NE(o.out.find("--data-dir VALUE"), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("state store directory (default: data/payorch)"), std::string::npos);
    EXPECT_NE(o.out.find("(default: 10000)"), std::string::npos);
    EXPECT_NE(o.out.find("-X key=value"), std::string::npos);
    EXPECT_NE(o.out.find("--no-writers "), std::string::npos);
    EXPECT_EQ(o.out.find("--no-writers VALUE"), std::string::npos);
    EXPECT_NE(o.out.find("-h, --help"), std::string::npos);
  }
}

TEST_F(Flags, GoodFlagsCarryOn) {
  const Outcome o = Run({"--connector-threads", "4"});
  EXPECT_FALSE(o.exit_code.has_value());
  EXPECT_EQ(o.err, "");
  EXPECT_EQ(o_.threads, 4);
}

}  // namespace
}  // namespace payorch::cli
