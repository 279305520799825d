// A starved processor (issue 16, docs/overload.md), against real processes: `payorch
// broker`, one `payorch gateway-sim` serving every processor with few threads and long
// hangs, and INSTANCES `payorch run` in the consumer groups with a short session timeout,
// calling it over HTTP. Payments arrive while the processor is starved; one instance is
// SIGKILLed and restarted; then the processor recovers (the simulator restarts healthy,
// same port, same ledger). Afterwards:
//  - every accepted payment is final (creates refused as overloaded are counted apart),
//  - `payorch check`'s rules hold over the log and the processor's ledger, with the
//    settling rules: nothing unsettled, no failed payment holds money, one charge per key,
//  - no consumer was expelled from its group, and the connectors' largest poll gap stayed
//    under the session timeout (a safety bound, not a speed target).
//
// The defaults fit `make test` (~1 minute). The full scenario:
//   STARVED_FULL=1 build/tests/reliability/starved_test     (label long)
// is 3 instances, 8 simulator threads with 900 ms hangs, 1,200 payments at 150/s.
// PAYMENTS, RATE, INSTANCES, SIM_THREADS, HANG_MS, STARVED_MS override either.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <thread>

#include "connectors/ledger.h"
#include "projection/cli_support.h"
#include "reliability/process.h"
#include "runtime/checker.h"
#include "runtime/workload.h"

namespace payorch {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using SteadyClock = std::chrono::steady_clock;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::atoi(v);
}

bool Full() { return EnvInt("STARVED_FULL", 0) != 0; }

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

// The value of an unlabeled metric in a /metrics page, or -1.
double MetricValue(const std::string& page, const std::string& name) {
  const std::regex re("\n" + name + " ([0-9.eE+-]+)");
  std::smatch m;
  return std::regex_search(page, m, re) ? std::stod(m[1].str()) : -1;
}

class StarvedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("payorch-starved-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "ledgers");
    bootstrap_ = testing::StartBroker(broker_, PAYORCH_BINARY, dir_.string(), 6);
    ASSERT_FALSE(bootstrap_.empty()) << testing::ReadFile((dir_ / "broker.log").string());
    kafka_.bootstrap_servers = bootstrap_;
  }

  void TearDown() override {
    for (auto& run : runs_) run.Kill(SIGKILL);
    sim_.Kill(SIGKILL);
    broker_.Kill(SIGTERM);
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // The simulator on `listen` (port 0 the first time); returns its port.
  int StartSim(const std::string& listen, int threads, int hang_ms, const std::string& spec) {
    fs::remove(dir_ / "sim.port");
    const std::string log = (dir_ / ("sim" + std::to_string(++sims_) + ".log")).string();
    EXPECT_TRUE(sim_.Start({PAYORCH_BINARY, "gateway-sim", "--listen", listen, "--processor", "sim",
                            "--spec", spec, "--ledger", (dir_ / "ledgers" / "sim.ledger").string(),
                            "--hang-ms", std::to_string(hang_ms), "--threads",
                            std::to_string(threads), "--port-file", (dir_ / "sim.port").string()},
                           log));
    const std::string port =
        testing::WaitForFileLine((dir_ / "sim.port").string(), std::chrono::seconds(20));
    EXPECT_FALSE(port.empty()) << testing::ReadFile(log);
    return port.empty() ? 0 : std::stoi(port);
  }

  void StartRun(size_t i) {
    const std::string name = "run" + std::to_string(i) + "-" + std::to_string(++generation_);
    const std::string url = "http://127.0.0.1:" + std::to_string(sim_port_) +
                            "?timeout_ms=" + std::to_string(800 + 350 * (i % 3));
    std::string gateway;  // every processor the default merchants use
    for (const char* p : {"adyen", "applepay", "card", "cobranded_card", "flaky_psp", "stripe"}) {
      gateway += std::string(p) + "=" + url + ";";
    }
    gateway += "*=mock";
    logs_[i] = (dir_ / (name + ".log")).string();
    ASSERT_TRUE(runs_[i].Start({PAYORCH_BINARY,
                                "run",
                                "--brokers",
                                bootstrap_,
                                "--data-dir",
                                (dir_ / ("data" + std::to_string(i))).string(),
                                "--writer-id",
                                name,
                                "--gateways",
                                gateway,
                                "--connector-threads",
                                "8",
                                "--metrics",
                                "127.0.0.1:0",
                                "--log-level",
                                "info",
                                "-X",
                                "session.timeout.ms=3000",
                                "-X",
                                "heartbeat.interval.ms=250"},
                               logs_[i]));
  }

  // The instance's /metrics page, or "" (its port is in its log).
  std::string Metrics(size_t i) {
    static const std::regex re("metrics at http://127\\.0\\.0\\.1:([0-9]+)/metrics");
    const std::string text = testing::ReadFile(logs_[i]);
    std::smatch m;
    std::string port;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it) {
      port = (*it)[1].str();  // the latest start
    }
    if (port.empty()) return "";
    return projection::testing::Shell("curl -s --max-time 5 http://127.0.0.1:" + port + "/metrics")
        .out;
  }

  fs::path dir_;
  std::string bootstrap_;
  log::KafkaOptions kafka_;
  ChildProcess broker_;
  ChildProcess sim_;
  int sim_port_ = 0;
  int sims_ = 0;
  int generation_ = 0;
  std::vector<ChildProcess> runs_;
  std::vector<std::string> logs_;
};

TEST_F(StarvedTest, EveryPaymentSettlesAfterTheProcessorRecoversAndNoConsumerIsExpelled) {
  const int payments = EnvInt("PAYMENTS", Full() ? 1200 : 240);
  const int rate = EnvInt("RATE", Full() ? 150 : 60);
  const size_t instances = static_cast<size_t>(EnvInt("INSTANCES", Full() ? 3 : 2));
  const int sim_threads = EnvInt("SIM_THREADS", Full() ? 8 : 4);
  const int hang_ms = EnvInt("HANG_MS", 900);
  // Full: starved past the default merchants' 30 s processing deadline, so payments fail
  // at their deadline while the processor may hold their charge.
  const int starved_ms = EnvInt("STARVED_MS", Full() ? 45'000 : 8'000);
  // Declines, charges whose answer is lost, timeouts, 5xx: every kind of unknown outcome.
  const std::string flaky = "flaky:seed=7,decline=0.05,lost=0.05,timeout=0.08,unavailable=0.05";

  sim_port_ = StartSim("127.0.0.1:0", sim_threads, hang_ms, flaky);
  ASSERT_NE(sim_port_, 0);
  runs_ = std::vector<ChildProcess>(instances);
  logs_ = std::vector<std::string>(instances);
  for (size_t i = 0; i < instances; ++i) StartRun(i);

  runtime::WorkloadOptions wo;
  wo.payments = payments;
  wo.seed = 16;
  wo.rate = rate;
  runtime::Workload workload(kafka_, wo);
  ASSERT_EQ(workload.Start(), "");
  const auto start = SteadyClock::now();
  std::string publish_error;
  std::thread publisher([&] { publish_error = workload.PublishAll(); });

  // One instance dies mid-run and comes back.
  std::this_thread::sleep_for(std::chrono::milliseconds(starved_ms / 3));
  runs_[0].Kill(SIGKILL);
  StartRun(0);
  publisher.join();
  ASSERT_EQ(publish_error, "");
  const double remaining_ms = starved_ms - SecondsSince(start) * 1000;
  if (remaining_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(remaining_ms)));
  }

  // The processor recovers: healthy, same port, same ledger (its idempotency memory).
  sim_.Kill(SIGKILL);
  ASSERT_EQ(StartSim("127.0.0.1:" + std::to_string(sim_port_), 64, 0, "mock"), sim_port_);
  const auto recovered = SteadyClock::now();
  const bool settled = workload.WaitSettled(Full() ? 300'000 : 120'000);
  const double settle_s = SecondsSince(recovered);
  workload.Stop();
  const runtime::WorkloadSummary summary = workload.Summary();

  // Read the instances' figures before stopping them.
  double gap_max_s = 0;
  double held_sum_s = 0;
  double held_count = 0;
  for (size_t i = 0; i < instances; ++i) {
    const std::string page = Metrics(i);
    gap_max_s = std::max(gap_max_s, MetricValue(page, "payorch_connector_poll_gap_max_seconds"));
    held_sum_s += std::max(0.0, MetricValue(page, "payorch_money_held_seconds_sum"));
    held_count += std::max(0.0, MetricValue(page, "payorch_money_held_seconds_count"));
  }
  for (size_t i = 0; i < instances; ++i) {
    const int status = runs_[i].Kill(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "instance " << i << " exit " << status;
  }
  int expelled = 0;
  int resumes = 0;
  for (const std::string& log : logs_) {
    const std::string text = testing::ReadFile(log);
    for (const char* sign : {"SESSTMOUT", "Unknown member", "MAXPOLL", "max.poll.interval"}) {
      for (size_t at = text.find(sign); at != std::string::npos; at = text.find(sign, at + 1)) {
        ++expelled;
      }
    }
    for (size_t at = text.find("connectors resume"); at != std::string::npos;
         at = text.find("connectors resume", at + 1)) {
      ++resumes;
    }
  }

  std::vector<connectors::LedgerEntry> ledger;
  auto entries = connectors::ReadLedgerFile((dir_ / "ledgers" / "sim.ledger").string());
  ASSERT_TRUE(entries.ok());
  ledger = entries.value();
  std::string error;
  runtime::CheckReport report =
      runtime::CheckLog(kafka_, ledger, &error, {.require_drained = true, .settle_within_ms = 0});
  ASSERT_EQ(error, "");
  report.Print(stdout);
  std::printf(
      "starved: %d payments at %d/s, %zu instances, simulator %d threads / %d ms hangs for "
      "%d ms, one SIGKILL\n"
      "  accepted %lld: completed %lld, failed %lld (%lld via processing), unsettled %lld; "
      "refused as overloaded %lld\n"
      "  every payment final %.1f s after the processor recovered\n"
      "  connectors' largest poll gap %.3f s; expulsion signs %d; partition resumes %d\n"
      "  money held for failed payments: %.0f voided, mean %.2f s from found to voided\n",
      payments, rate, instances, sim_threads, hang_ms, starved_ms,
      static_cast<long long>(summary.payments - summary.refused),
      static_cast<long long>(summary.completed), static_cast<long long>(summary.failed),
      static_cast<long long>(summary.processing_resolved),
      static_cast<long long>(summary.unsettled), static_cast<long long>(summary.refused), settle_s,
      gap_max_s, expelled, resumes, held_count, held_count > 0 ? held_sum_s / held_count : 0.0);
  // The same judgement as an operator runs it, with the settling bound of the issue.
  const auto cli = projection::testing::Shell(
      std::string(PAYORCH_BINARY) + " check --brokers " + bootstrap_ + " --ledger-dir " +
      (dir_ / "ledgers").string() + " --settle-within 60s 2>&1");
  EXPECT_EQ(cli.exit_code, 0) << cli.out;
  EXPECT_TRUE(settled) << summary.unsettled << " payments never reached a final event";
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(expelled, 0) << "a connector or writer was expelled from its group";
  EXPECT_GE(gap_max_s, 0) << "no poll gap metric read";
  EXPECT_LT(gap_max_s, 3.0) << "the poll loop stalled for a session timeout";
  EXPECT_GT(report.ledger_payments_checked, 0);
  if (HasFailure()) {
    for (const std::string& log : logs_) std::printf("== %s\n", log.c_str());
  }
}

}  // namespace
}  // namespace payorch
