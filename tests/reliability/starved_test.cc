// A starved processor (issue 16, docs/overload.md, docs/reliability.md), against real
// processes: `payorch broker`, one `payorch gateway-sim` serving every processor with few
// threads and long hangs, and INSTANCES `payorch run` in the consumer groups with a short
// session timeout, calling it over HTTP. Payments arrive while the processor is starved (the
// built-in mix: creates, manual captures, refunds, duplicates, bad input; plus manual
// payments that the customer voids, sent with `payorch send`); one instance is SIGKILLed and
// restarted; then the processor recovers (the simulator restarts healthy, same port, same
// ledger). Phase 1 is longer than the processing deadline (DEADLINE_MS for m_cobranded and
// m_flaky in the short form), so payments fail at their deadline while the processor may
// hold their charge: each such charge must be found and voided. Afterwards, within generous
// bounds (safety bounds, not speed targets):
//  - every accepted payment is final (creates refused as overloaded are counted apart),
//  - no failed payment holds money (the checker's ledger audit), one charge per key (the
//    checker and the simulator's audit), the checker's other rules hold, and
//    `payorch check --ledger-dir ... --settle-within 60s` exits 0,
//  - no consumer was expelled from its group (max.poll.interval.ms is the session timeout,
//    so a stalled poll loop leaves the group: MAX_POLL_MS=0 keeps librdkafka's default),
//    every instance exports its connectors' largest poll gap and it stayed under the session
//    timeout (sampled every second, the killed instance's too), every instance exits 0
//    within 30 s of SIGTERM, and the stop leaves no command undecided but redundant
//    connector ones.
//
// The defaults fit `make test` (~20 s). The issue's full scenario:
//   STARVED_FULL=1 build/tests/reliability/starved_test     (starved_full_test, label long)
// is 3 instances, 8 simulator threads with 900 ms hangs, 1,200 payments at 150/s, the
// default merchants (30 s deadline). PAYMENTS, RATE, INSTANCES, SIM_THREADS, HANG_MS,
// STARVED_MS, DEADLINE_MS (0: the default merchants), VOIDS, BOUND_S override either.
// KEEP=1 keeps the run's directory (logs, topics as JSON lines); REST_HOLD_MS stays at rest
// that long before the stop. STARVED_PAYORCH=/path/to/payorch runs another build's broker,
// simulator and instances (e.g. an older commit, to see what this test catches); the judges
// stay this build's.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "command/hash.h"
#include "config/config.h"
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

constexpr int kSessionTimeoutMs = 3000;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::atoi(v);
}

bool Full() { return EnvInt("STARVED_FULL", 0) != 0; }

// The payorch under test (broker, simulator, instances). The judges (the checker's rules,
// `payorch check`) and the upstream (`payorch send`) are always this build's.
std::string UnderTest() {
  const char* v = std::getenv("STARVED_PAYORCH");
  return v != nullptr && *v != '\0' ? v : PAYORCH_BINARY;
}

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

// The value of the unlabeled metric `name` in a /metrics page, or -1.
double MetricValue(const std::string& page, const std::string& name) {
  const std::string head = "\n" + name + " ";
  const size_t at = page.find(head);
  return at == std::string::npos ? -1 : std::atof(page.c_str() + at + head.size());
}

// The sum of every labeled series of `name` in a page (0 if none).
double MetricSum(const std::string& page, const std::string& name) {
  const std::regex re("\n" + name + "\\{[^}]*\\} ([0-9.eE+-]+)");
  double sum = 0;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), re); it != std::sregex_iterator();
       ++it) {
    sum += std::stod((*it)[1].str());
  }
  return sum;
}

// The smallest histogram bucket bound holding every observation of `name` (an upper bound
// of the largest one), or -1 without observations.
double HistogramMaxBound(const std::string& page, const std::string& name) {
  const double count = MetricValue(page, name + "_count");
  if (count <= 0) return -1;
  const std::regex re("\n" + name + "_bucket\\{le=\"([^\"]+)\"\\} ([0-9.eE+-]+)");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), re); it != std::sregex_iterator();
       ++it) {
    if (std::stod((*it)[2].str()) >= count) {
      const std::string le = (*it)[1].str();
      return le == "+Inf" ? 1e9 : std::stod(le);
    }
  }
  return -1;
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

class StarvedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("payorch-starved-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "ledgers");
    bootstrap_ = testing::StartBroker(broker_, UnderTest(), dir_.string(), 6);
    ASSERT_FALSE(bootstrap_.empty()) << testing::ReadFile((dir_ / "broker.log").string());
    kafka_.bootstrap_servers = bootstrap_;
  }

  void TearDown() override {
    StopSampler();
    for (auto& run : runs_) run.Kill(SIGKILL);
    sim_.Kill(SIGKILL);
    broker_.Kill(SIGTERM);
    if (!HasFailure() && EnvInt("KEEP", 0) == 0) fs::remove_all(dir_);
  }

  // The default merchants with the card merchants' processing deadline (m_cobranded,
  // m_flaky) at `deadline_ms`; returns the file for --config. m_wallet keeps the default
  // (60 s): its manual payments live until the customer voids them.
  std::string WriteConfig(int deadline_ms) {
    auto config = config::DefaultConfig();
    for (auto& m : *config.mutable_merchants()) {
      if (m.merchant_id() != "m_cobranded" && m.merchant_id() != "m_flaky") continue;
      m.set_processing_deadline_ms(
          std::max<uint32_t>(static_cast<uint32_t>(deadline_ms), m.attempt_timeout_ms()));
    }
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(config, &json).ok());
    const std::string path = (dir_ / "merchants.json").string();
    std::ofstream(path) << json;
    const auto loaded = config::LoadConfigFile(path);
    EXPECT_TRUE(loaded.ok()) << loaded.error();
    return path;
  }

  // The simulator on `listen` (port 0 the first time); returns its port.
  int StartSim(const std::string& listen, int threads, int hang_ms, const std::string& spec) {
    fs::remove(dir_ / "sim.port");
    const std::string log = (dir_ / ("sim" + std::to_string(++sims_) + ".log")).string();
    EXPECT_TRUE(sim_.Start({UnderTest(), "gateway-sim", "--listen", listen, "--processor", "sim",
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
    std::vector<std::string> argv = {UnderTest(),
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
                                     "session.timeout.ms=" + std::to_string(kSessionTimeoutMs),
                                     "-X",
                                     "heartbeat.interval.ms=250"};
    // A poll loop that stalls for a session timeout also leaves the group on its own
    // (librdkafka's MAXPOLL): the bound is enforced by the client, not only read from
    // payorch's own metric.
    if (const int max_poll_ms = EnvInt("MAX_POLL_MS", kSessionTimeoutMs); max_poll_ms > 0) {
      argv.push_back("-X");
      argv.push_back("max.poll.interval.ms=" + std::to_string(max_poll_ms));
    }
    if (!config_.empty()) {
      argv.push_back("--config");
      argv.push_back(config_);
    }
    const std::string log = (dir_ / (name + ".log")).string();
    std::lock_guard lock(mu_);
    logs_[i] = log;
    all_logs_.push_back(log);
    ASSERT_TRUE(runs_[i].Start(argv, log));
  }

  // The /metrics page of the instance logging to `log` (its port is in its log), or "".
  static std::string Metrics(const std::string& log) {
    static const std::regex re("metrics at http://127\\.0\\.0\\.1:([0-9]+)/metrics");
    const std::string text = testing::ReadFile(log);
    std::smatch m;
    if (!std::regex_search(text, m, re)) return "";
    httplib::Client client("127.0.0.1", std::stoi(m[1].str()));
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    auto res = client.Get("/metrics");
    return res && res->status == 200 ? res->body : "";
  }

  // Samples every instance's /metrics every second: the largest poll gap and the oldest
  // money held seen by any of them (a killed instance's figures die with it), and each
  // instance's last page.
  void StartSampler() {
    sampler_ = std::thread([this] {
      while (!stop_sampler_.load()) {
        std::vector<std::string> logs;
        {
          std::lock_guard lock(mu_);
          logs = logs_;
        }
        for (const std::string& log : logs) {
          const std::string page = Metrics(log);
          if (page.empty()) continue;
          std::lock_guard lock(mu_);
          last_page_[log] = page;
          gap_max_s_ =
              std::max(gap_max_s_, MetricValue(page, "payorch_connector_poll_gap_max_seconds"));
          held_oldest_max_s_ =
              std::max(held_oldest_max_s_, MetricValue(page, "payorch_money_held_oldest_seconds"));
        }
        for (int k = 0; k < 10 && !stop_sampler_.load(); ++k) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    });
  }

  void StopSampler() {
    stop_sampler_ = true;
    if (sampler_.joinable()) sampler_.join();
  }

  // Sends JSON lines through `payorch send`, as an upstream service would.
  void Send(const std::vector<std::string>& lines, const std::string& name) {
    const std::string path = (dir_ / (name + ".jsonl")).string();
    {
      std::ofstream out(path);
      for (const auto& line : lines) out << line << "\n";
    }
    const auto sent = projection::testing::Shell(std::string(PAYORCH_BINARY) + " send --brokers " +
                                                 bootstrap_ + " --file " + path + " 2>&1");
    EXPECT_EQ(sent.exit_code, 0) << sent.out;
  }

  // SIGTERM, then up to 30 s to exit; SIGKILL after that. Returns the wait status, or -1
  // if the instance had to be killed.
  int Terminate(ChildProcess& p) {
    std::atomic<bool> done{false};
    std::atomic<bool> killed{false};
    const pid_t pid = p.pid();
    std::thread watchdog([&] {
      const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
      while (!done.load() && SteadyClock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!done.load()) {
        killed = true;
        ::kill(pid, SIGKILL);  // not reaped yet: still this child
      }
    });
    const int status = p.Kill(SIGTERM);
    done = true;
    watchdog.join();
    return killed.load() ? -1 : status;
  }

  // Both topics as JSON lines in dir_ (`payorch tail`), for the checks below and to read.
  void DumpTopics() {
    for (const char* topic : {"commands", "events"}) {
      const auto out =
          projection::testing::Shell(std::string(PAYORCH_BINARY) + " tail --brokers " + bootstrap_ +
                                     " --from-beginning --topic " + topic + " > " +
                                     (dir_ / (std::string(topic) + ".jsonl")).string());
      EXPECT_EQ(out.exit_code, 0) << "payorch tail --topic " << topic;
    }
  }

  struct TrailingCommands {
    // Appended by the connectors (gateway answers, expiries) after every payment was at
    // rest: redundant by then, decided or not.
    int redundant = 0;
    std::vector<std::string> others;  // any other command left undecided (its JSON line)
  };
  // The commands after the last one decided in their partition (by the events' causation).
  TrailingCommands UndecidedTrailingCommands(int64_t at_rest_ms) {
    DumpTopics();
    std::map<int, int64_t> last_decided;
    std::ifstream events(dir_ / "events.jsonl");
    for (std::string line; std::getline(events, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("value") || !j["value"].contains("causation")) continue;
      const auto& c = j["value"]["causation"];
      if (c.value("topic", "").find("commands") == std::string::npos) continue;
      const int p = c.value("partition", 0);
      const int64_t offset = std::stoll(c.value("offset", std::string("0")));
      last_decided[p] = std::max(last_decided.count(p) ? last_decided[p] : -1, offset);
    }
    TrailingCommands out;
    std::ifstream commands(dir_ / "commands.jsonl");
    for (std::string line; std::getline(commands, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      const int p = j.value("partition", 0);
      if (j.value("offset", int64_t{0}) <= (last_decided.count(p) ? last_decided[p] : -1)) continue;
      const auto& v = j["value"];
      const bool by_connector = v.contains("gateway_result") || v.contains("expire");
      if (by_connector && j.value("timestamp_ms", int64_t{0}) > at_rest_ms) {
        ++out.redundant;
      } else {
        out.others.push_back(line.substr(0, 400));
      }
    }
    return out;
  }

  // Compensating voids, from the events log (the writers' decision times): a FAILED
  // payment's charge found (its VoidStarted after PaymentFailed) to PaymentVoided, and
  // from PaymentFailed to PaymentVoided (how long the customer was told "failed" while the
  // processor held the money). Reads events.jsonl as DumpTopics() wrote it.
  struct VoidTimes {
    int count = 0;
    double found_to_voided_mean_s = 0, found_to_voided_max_s = 0;
    double failed_to_voided_mean_s = 0, failed_to_voided_max_s = 0;
  };
  VoidTimes CompensatingVoids() {
    struct Track {
      int64_t failed = -1, found = -1, voided = -1;
    };
    std::map<std::string, Track> by_payment;
    std::ifstream events(dir_ / "events.jsonl");
    for (std::string line; std::getline(events, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("value")) continue;
      const auto& v = j["value"];
      const int64_t at = std::stoll(v.value("occurred_at_ms", std::string("0")));
      Track& t = by_payment[v.value("payment_id", "")];
      if (v.contains("payment_failed") && t.failed < 0) t.failed = at;
      if (v.contains("void_started") && t.failed >= 0 && t.found < 0) t.found = at;
      if (v.contains("payment_voided") && t.found >= 0 && t.voided < 0) t.voided = at;
    }
    VoidTimes out;
    for (const auto& [id, t] : by_payment) {
      if (t.voided < 0) continue;
      ++out.count;
      const double found_s = (t.voided - t.found) / 1000.0;
      const double failed_s = (t.voided - t.failed) / 1000.0;
      out.found_to_voided_mean_s += found_s;
      out.failed_to_voided_mean_s += failed_s;
      out.found_to_voided_max_s = std::max(out.found_to_voided_max_s, found_s);
      out.failed_to_voided_max_s = std::max(out.failed_to_voided_max_s, failed_s);
    }
    if (out.count > 0) {
      out.found_to_voided_mean_s /= out.count;
      out.failed_to_voided_mean_s /= out.count;
    }
    return out;
  }

  fs::path dir_;
  std::string bootstrap_;
  std::string config_;
  log::KafkaOptions kafka_;
  ChildProcess broker_;
  ChildProcess sim_;
  int sim_port_ = 0;
  int sims_ = 0;
  int generation_ = 0;
  std::vector<ChildProcess> runs_;

  std::mutex mu_;
  std::vector<std::string> logs_;      // each instance's current log
  std::vector<std::string> all_logs_;  // every generation's
  std::map<std::string, std::string> last_page_;
  double gap_max_s_ = -1;
  double held_oldest_max_s_ = 0;
  std::thread sampler_;
  std::atomic<bool> stop_sampler_{false};
};

TEST_F(StarvedTest, EveryPaymentSettlesAfterTheProcessorRecoversAndNoConsumerIsExpelled) {
  const bool full = Full();
  const int payments = EnvInt("PAYMENTS", full ? 1200 : 240);
  const int rate = EnvInt("RATE", full ? 150 : 40);
  const size_t instances = static_cast<size_t>(EnvInt("INSTANCES", 3));
  const int sim_threads = EnvInt("SIM_THREADS", full ? 8 : 4);
  const int hang_ms = EnvInt("HANG_MS", 900);
  // Starved past the processing deadline, so payments fail at their deadline while the
  // processor may hold their charge: the default merchants' 30 s (m_cobranded) in the full
  // form, m_cobranded's and m_flaky's at 3 s in the short one.
  const int starved_ms = EnvInt("STARVED_MS", full ? 45'000 : 14'000);
  const int deadline_ms = EnvInt("DEADLINE_MS", full ? 0 : 3'000);
  const int voids = EnvInt("VOIDS", full ? 60 : 20);
  // How long after the recovery everything must be final and no money held (a safety
  // bound; the issue's target is 60 s, measured and printed).
  const int bound_s = EnvInt("BOUND_S", full ? 300 : 90);
  // Declines, charges whose answer is lost, timeouts, 5xx: every kind of unknown outcome.
  const std::string flaky = "flaky:seed=7,decline=0.05,lost=0.05,timeout=0.08,unavailable=0.05";

  if (deadline_ms > 0) config_ = WriteConfig(deadline_ms);
  sim_port_ = StartSim("127.0.0.1:0", sim_threads, hang_ms, flaky);
  ASSERT_NE(sim_port_, 0);
  runs_ = std::vector<ChildProcess>(instances);
  logs_ = std::vector<std::string>(instances);
  for (size_t i = 0; i < instances; ++i) StartRun(i);
  StartSampler();

  runtime::WorkloadOptions wo;
  wo.payments = payments;
  wo.seed = 16;
  wo.rate = rate;
  runtime::Workload workload(kafka_, wo);
  ASSERT_EQ(workload.Start(), "");
  const auto start = SteadyClock::now();
  std::string publish_error;
  std::thread publisher([&] { publish_error = workload.PublishAll(); });

  // Manual payments the customer voids, through a starved processor (m_wallet's card:
  // Adyen). A void is accepted only once the payment waits for its capture, so it is sent
  // twice: half-way through the starved period, and once the workload has settled after
  // the recovery.
  std::vector<std::string> creates;
  std::vector<std::string> void_ids;
  for (int i = 0; i < voids; ++i) {
    const std::string merchant = "m_wallet";
    const std::string key = "starved-void-" + std::to_string(i);
    void_ids.push_back(DerivePaymentId(merchant, key));
    creates.push_back(R"({"schemaVersion":1,"commandId":"vc-)" + std::to_string(i) +
                      R"(","create":{"merchantId":")" + merchant + R"(","idempotencyKey":")" + key +
                      R"(","amount":{"amountMinor":")" + std::to_string(1000 + i) +
                      R"(","currency":"EUR"},"method":"PAYMENT_METHOD_CARD",)" +
                      R"("captureMode":"CAPTURE_MODE_MANUAL","confirm":true}})");
  }
  auto void_lines = [&](int round) {
    std::vector<std::string> lines;
    for (size_t i = 0; i < void_ids.size(); ++i) {
      lines.push_back(R"({"schemaVersion":1,"commandId":"vv)" + std::to_string(round) + "-" +
                      std::to_string(i) + R"(","paymentId":")" + void_ids[i] +
                      R"(","void":{"reason":"customer cancelled"}})");
    }
    return lines;
  };
  Send(creates, "void-creates");

  // One instance dies mid-run and comes back.
  std::this_thread::sleep_for(std::chrono::milliseconds(starved_ms / 3));
  runs_[0].Kill(SIGKILL);
  StartRun(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(starved_ms / 6));
  Send(void_lines(1), "voids-1");
  publisher.join();
  ASSERT_EQ(publish_error, "");
  const double remaining_ms = starved_ms - SecondsSince(start) * 1000;
  if (remaining_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(remaining_ms)));
  }
  const double starved_s = SecondsSince(start);

  // The processor recovers: healthy, same port, same ledger (its idempotency memory).
  sim_.Kill(SIGKILL);
  ASSERT_EQ(StartSim("127.0.0.1:" + std::to_string(sim_port_), 64, 0, "mock"), sim_port_);
  const auto recovered = SteadyClock::now();
  const auto bound = recovered + std::chrono::seconds(bound_s);

  // Every payment final: the workload's, then the log's (the voided ones too) with no
  // failed payment holding money, all within the bound.
  const bool settled = workload.WaitSettled(bound_s * 1000);
  const double final_s = SecondsSince(recovered);
  Send(void_lines(2), "voids-2");
  std::vector<connectors::LedgerEntry> ledger;
  runtime::CheckReport report;
  std::string error;
  double rest_s = -1;      // from the recovery to nothing unsettled and no money held
  int64_t at_rest_ms = 0;  // wall clock: a command appended before this was decided then
  while (true) {
    at_rest_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    auto entries = connectors::ReadLedgerFile((dir_ / "ledgers" / "sim.ledger").string());
    ASSERT_TRUE(entries.ok());
    ledger = entries.value();
    error.clear();
    report = runtime::CheckLog(kafka_, ledger, &error, {.settle_within_ms = 0});
    ASSERT_EQ(error, "");
    if (report.unsettled == 0 && report.failed_holding == 0 && report.undecided == 0) {
      rest_s = SecondsSince(recovered);
      break;
    }
    if (SteadyClock::now() >= bound) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const int64_t commands_at_rest = report.commands;
  // Optionally stay at rest a while: nothing should be appended any more.
  std::this_thread::sleep_for(std::chrono::milliseconds(EnvInt("REST_HOLD_MS", 0)));
  workload.Stop();
  const runtime::WorkloadSummary summary = workload.Summary();
  StopSampler();

  // The simulator's audit: at most one charge per idempotency key, over the whole ledger.
  httplib::Client sim_client("127.0.0.1", sim_port_);
  auto audit = sim_client.Get("/v1/audit");
  ASSERT_TRUE(audit && audit->status == 200);
  const int max_charges_per_key =
      nlohmann::json::parse(audit->body).at("max_charges_per_key").get<int>();

  // The instances' figures (their last pages; the killed one's as last sampled).
  std::map<std::string, std::string> pages;
  double gap_max_s = 0;
  {
    std::lock_guard lock(mu_);
    pages = last_page_;
    gap_max_s = gap_max_s_;
  }
  double held_count = 0;
  double held_sum_s = 0;
  double held_max_bound_s = -1;
  double refused = 0;
  double held_now = 0;
  double overloaded_now = 0;  // instances refusing new payments with everything at rest
  for (const std::string& log : logs_) {
    const std::string page = Metrics(log);
    EXPECT_GE(MetricValue(page, "payorch_connector_poll_gap_max_seconds"), 0)
        << log << " exports no payorch_connector_poll_gap_max_seconds";
    gap_max_s = std::max(gap_max_s, MetricValue(page, "payorch_connector_poll_gap_max_seconds"));
    held_now += std::max(0.0, MetricValue(page, "payorch_money_held_payments"));
    overloaded_now += std::max(0.0, MetricValue(page, "payorch_overloaded"));
    pages[log] = page;
  }
  for (const auto& [log, page] : pages) {
    held_count += std::max(0.0, MetricValue(page, "payorch_money_held_seconds_count"));
    held_sum_s += std::max(0.0, MetricValue(page, "payorch_money_held_seconds_sum"));
    held_max_bound_s =
        std::max(held_max_bound_s, HistogramMaxBound(page, "payorch_money_held_seconds"));
    refused += MetricSum(page, "payorch_connector_refused_total");
  }

  // A clean stop, then the logs.
  for (size_t i = 0; i < instances; ++i) {
    const int status = Terminate(runs_[i]);
    EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "instance " << i << ": " << (status < 0 ? "no exit 30 s after SIGTERM" : "exit status ")
        << status;
  }
  int expelled = 0;
  int resumes = 0;
  for (const std::string& log : all_logs_) {
    const std::string text = testing::ReadFile(log);
    for (const char* sign : {"SESSTMOUT", "Unknown member", "MAXPOLL", "max.poll.interval"}) {
      expelled += Count(text, sign);
    }
    resumes += Count(text, "connectors resume");
  }

  // The whole log once more, with the issue's settling bound.
  report = runtime::CheckLog(kafka_, ledger, &error, {.settle_within_ms = 60'000});
  ASSERT_EQ(error, "");
  report.Print(stdout);
  // A clean stop should leave every command decided. Known exception (docs/reliability.md,
  // "Starved processor"): connectors append gateway answers and expiries for operations
  // the log has already settled (a reconciler keeps the operations of partitions it lost
  // in a rebalance; one taking a partition over from an old checkpoint expires and
  // retrieves before it has caught up), also while the last instances stop, after their
  // writers did. Appended after every payment was at rest, those are redundant and may
  // stay undecided; any other command may not.
  const TrailingCommands trailing = UndecidedTrailingCommands(at_rest_ms);
  const VoidTimes voids_log = CompensatingVoids();
  EXPECT_TRUE(trailing.others.empty())
      << trailing.others.size() << " commands undecided after the stop, e.g. "
      << trailing.others.front();
  const auto cli = projection::testing::Shell(
      std::string(PAYORCH_BINARY) + " check --brokers " + bootstrap_ + " --ledger-dir " +
      (dir_ / "ledgers").string() + " --settle-within 60s 2>&1");
  auto status_count = [&](const char* s) {
    auto it = report.by_status.find(s);
    return it == report.by_status.end() ? 0LL : static_cast<long long>(it->second);
  };
  std::printf(
      "starved: %d payments at %d/s, %zu instances, simulator %d threads / %d ms hangs for "
      "%.1f s, processing deadline %s, one SIGKILL, %d customer voids\n"
      "  accepted %lld: completed %lld, failed %lld (%lld via processing), unsettled %lld; "
      "refused as overloaded %lld\n"
      "  every workload payment final %.1f s after the processor recovered; every payment at "
      "rest and no money held %.1f s after (-1: not within %d s)\n"
      "  log: voided %lld, failed %lld; largest charges per key %d\n"
      "  connectors' largest poll gap %.3f s; expulsion signs %d; partition resumes %d\n"
      "  money held for failed payments (metrics): %.0f voided, mean %.2f s, all within "
      "%.3f s from found to voided; oldest seen held %.0f s; held at the end %.0f\n"
      "  compensating voids (log): %d; found to voided mean %.2f s, max %.2f s; failed to "
      "voided mean %.1f s, max %.1f s\n"
      "  new charges refused as saturated: %.0f; instances refusing new payments at the end "
      "%.0f\n"
      "  commands appended after everything was at rest: %lld; left undecided by the stop: "
      "%d redundant connector commands, %zu others\n"
      "  payorch check --settle-within 60s: exit %d\n",
      payments, rate, instances, sim_threads, hang_ms, starved_s,
      deadline_ms > 0 ? (std::to_string(deadline_ms) + " ms").c_str() : "default", voids,
      static_cast<long long>(summary.payments - summary.refused),
      static_cast<long long>(summary.completed), static_cast<long long>(summary.failed),
      static_cast<long long>(summary.processing_resolved),
      static_cast<long long>(summary.unsettled), static_cast<long long>(summary.refused), final_s,
      rest_s, bound_s, status_count("voided"), status_count("failed"), max_charges_per_key,
      gap_max_s, expelled, resumes, held_count, held_count > 0 ? held_sum_s / held_count : 0.0,
      held_max_bound_s, held_oldest_max_s_, held_now, voids_log.count,
      voids_log.found_to_voided_mean_s, voids_log.found_to_voided_max_s,
      voids_log.failed_to_voided_mean_s, voids_log.failed_to_voided_max_s, refused, overloaded_now,
      static_cast<long long>(report.commands - commands_at_rest), trailing.redundant,
      trailing.others.size(), cli.exit_code);

  EXPECT_TRUE(settled) << summary.unsettled << " payments never reached a final event";
  EXPECT_GE(rest_s, 0) << "not at rest " << bound_s << " s after the recovery: " << report.unsettled
                       << " unsettled, " << report.failed_holding
                       << " failed payments holding money";
  EXPECT_EQ(report.failed_holding, 0) << "failed payments still hold money";
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(cli.exit_code, 0) << cli.out;
  EXPECT_LE(max_charges_per_key, 1);
  EXPECT_EQ(expelled, 0) << "a connector or writer was expelled from its group";
  EXPECT_GE(gap_max_s, 0) << "no poll gap metric read";
  EXPECT_LT(gap_max_s, kSessionTimeoutMs / 1000.0) << "the poll loop stalled for a session timeout";
  EXPECT_GT(report.ledger_payments_checked, 0);
  // The scenario did what it is for: unknown outcomes, and customer voids that completed.
  EXPECT_GT(summary.processing_resolved, 0);
  EXPECT_GT(status_count("voided"), 0);
  if (HasFailure()) {  // what to read: the logs, and both topics as JSON lines
    std::printf("== %s (logs, commands.jsonl, events.jsonl)\n", dir_.c_str());
    for (const std::string& log : all_logs_) std::printf("== %s\n", log.c_str());
  }
}

}  // namespace
}  // namespace payorch
