// app::Run, as `payorch run` uses it but without the binary: it starts an embedded broker
// when none is given, announces what it serves, drains when asked to stop, and ends with
// a one-line bad-input outcome when an option's value cannot be used.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "app/orchestrator_app.h"
#include "gtest/gtest.h"

namespace payorch::app {
namespace {

class AppRun : public ::testing::Test {
 protected:
  AppRun()
      : dir_(std::filesystem::temp_directory_path() /
             ("payorch-app-run-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    options_.data_dir = dir_.string();
    options_.logger = std::make_shared<spdlog::logger>(
        "app_run_test", std::make_shared<spdlog::sinks::null_sink_mt>());
    options_.announce = [this](const std::string& line) {
      std::lock_guard lock(mu_);
      lines_.push_back(line);
      if (line.rfind(stop_after_, 0) == 0) stop_ = true;
    };
  }
  ~AppRun() override { std::filesystem::remove_all(dir_); }

  bool Announced(const std::string& prefix) {
    std::lock_guard lock(mu_);
    for (const std::string& l : lines_) {
      if (l.rfind(prefix, 0) == 0) return true;
    }
    return false;
  }

  std::filesystem::path dir_;
  RunOptions options_;
  std::string stop_after_ = "\x01never";  // an announced line that sets stop_
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(AppRun, ServesMetricsOnAnEmbeddedBrokerAndStopsWhenAsked) {
  options_.metrics_addr = "127.0.0.1:0";
  options_.assign = "all";
  stop_after_ = "metrics at http://127.0.0.1:";
  const RunOutcome outcome = app::Run(options_, stop_);
  EXPECT_EQ(outcome.kind, RunOutcome::Kind::kStopped) << outcome.message;
  EXPECT_EQ(outcome.message, "");
  EXPECT_TRUE(Announced("embedded broker at 127.0.0.1:"));
  EXPECT_TRUE(Announced("metrics at http://127.0.0.1:"));
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "ledgers"));
}

struct BadCase {
  const char* name;
  void (*change)(RunOptions&);
  std::string message_prefix;
};

// Runs with `c`'s change to `base`: a bad-input end whose message starts with the prefix.
RunOutcome RunExpectingBadInput(const RunOptions& base, const BadCase& c,
                                const std::atomic<bool>& stop) {
  RunOptions o = base;
  c.change(o);
  RunOutcome outcome = app::Run(o, stop);
  EXPECT_EQ(outcome.kind, RunOutcome::Kind::kBadInput);
  EXPECT_EQ(outcome.message.rfind(c.message_prefix, 0), 0u) << outcome.message;
  return outcome;
}

TEST_F(AppRun, AnUnusableValueEndsTheRunAsBadInputNamingTheFlag) {
  const BadCase cases[] = {
      {"a partition the topic does not have", [](RunOptions& o) { o.assign = "0,99"; },
       "--assign: '99' is not a partition in 0.."},
      {"an unknown gateway kind", [](RunOptions& o) { o.gateways = "x=bogus"; }, "--gateways: "},
      {"webhooks without secrets", [](RunOptions& o) { o.webhooks_addr = "127.0.0.1:0"; },
       "--webhooks needs --webhook-secrets"},
      {"a bound broken before anything starts", [](RunOptions& o) { o.connector_threads = 0; },
       "--connector-threads: must be in [1, 256], not 0"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(RunExpectingBadInput(options_, c, stop_).message.find('\n'), std::string::npos);
  }
}

// What is wrong with a value that needs no broker to judge ends the run before the
// embedded broker starts: nothing is announced, so `payorch run` prints one line.
TEST_F(AppRun, AValueBadWithoutABrokerEndsTheRunBeforeOneStarts) {
  const BadCase cases[] = {
      {"an unknown gateway kind", [](RunOptions& o) { o.gateways = "x=bogus"; }, "--gateways: "},
      {"a property without a value", [](RunOptions& o) { o.kafka.property_args = {"b"}; },
       "-X 'b': expected key=value"},
      {"assign not a number", [](RunOptions& o) { o.assign = "foo"; }, "--assign: 'foo' "},
      {"webhooks without secrets", [](RunOptions& o) { o.webhooks_addr = "127.0.0.1:0"; },
       "--webhooks needs --webhook-secrets"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    RunExpectingBadInput(options_, c, stop_);
    std::lock_guard lock(mu_);
    EXPECT_TRUE(lines_.empty()) << lines_.front();
  }
}

}  // namespace
}  // namespace payorch::app
