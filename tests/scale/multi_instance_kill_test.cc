// Multi-instance kill test: three `payorch run` instances share six partitions through the
// consumer groups (no --assign), on a standalone `payorch broker`, and call one shared
// `payorch gateway-sim` over HTTP, so the gateway's idempotency by key is real across
// processes. Under load one instance is SIGKILLed. Then:
//   - its partitions are claimed again (WriterClaimed of a newer epoch by a survivor) and
//     the time from the kill to the last of those claims is printed and bounded;
//   - every payment settles, and the survivors drain on SIGTERM;
//   - `payorch check`'s rules over the whole log and the simulator's ledger: nothing lost,
//     nothing decided twice, gateway money equal to the log's;
//   - the simulator's audit: at most one charge per idempotency key, and the same money
//     key as its ledger;
//   - the survivors export payorch_restore_seconds.
//
// Knobs (environment): PAYMENTS (default 600), RATE (payments/s, default 40), SIM_SPEC,
// SIM_THREADS (default 64), KILL=0 (a baseline without the kill),
// SESSION_TIMEOUT_MS (default 3000), SERVE_BOUND_MS (the asserted bound, default 12000).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "connectors/ledger.h"
#include "log/options.h"
#include "log/partition_reader.h"
#include "payments/events/v1/events.pb.h"
#include "reliability/process.h"
#include "runtime/checker.h"
#include "runtime/workload.h"

namespace payorch {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;

constexpr int kInstances = 3;
constexpr int kPartitions = 6;
// Every processor of the default merchant configuration calls the shared simulator.
constexpr const char* kProcessors[] = {"cobranded_card", "stripe", "applepay", "adyen",
                                       "flaky_psp"};
// Declines, timeouts (nothing charged), lost answers (charged, answer lost: reconciled by
// key) and 503s, so the kill lands on payments in every state (SIM_SPEC overrides).
constexpr char kSimSpec[] =
    "flaky:seed=31,decline=0.05,timeout=0.03,lost=0.03,unavailable=0.03,latency_ms=1";

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::atoi(v);
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A loopback port free right now (the child binds it a moment later).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

struct Claim {
  uint64_t epoch = 0;
  std::string writer;
  int64_t at_ms = 0;  // the claiming process's wall clock
};

// Follows the WriterClaimed records of every events partition.
class ClaimWatcher {
 public:
  std::string Open(const log::KafkaOptions& kafka) {
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto reader = log::PartitionReader::Open(kafka, kafka.Topic(log::TopicKind::kEvents),
                                               PartitionId{p}, Offset{0});
      if (!reader.ok()) return reader.status().ToString();
      readers_.push_back(std::move(reader.value()));
    }
    return "";
  }

  // Reads every partition to its end; returns the number of new claims.
  int Update() {
    int fresh = 0;
    for (auto& reader : readers_) {
      const int32_t p = reader->partition().value();
      auto end = reader->ReadToEnd(
          [&](const log::Record& r) {
            ::payments::events::v1::EventEnvelope e;
            if (!e.ParseFromString(r.value) || !e.has_writer_claimed()) return;
            latest_[p] = {e.writer_claimed().epoch(), e.writer_claimed().writer_id(),
                          e.occurred_at_ms()};
            ++fresh;
          },
          10'000);
      (void)end;
    }
    return fresh;
  }

  const std::map<int32_t, Claim>& latest() const { return latest_; }

  std::set<std::string> Owners() const {
    std::set<std::string> owners;
    for (const auto& [p, c] : latest_) owners.insert(c.writer);
    return owners;
  }

 private:
  std::vector<std::unique_ptr<log::PartitionReader>> readers_;
  std::map<int32_t, Claim> latest_;
};

std::vector<std::string> LinesContaining(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

class MultiInstanceKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("payorch-scale-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(
        broker_.Start({PAYORCH_BINARY, "broker", "--partitions", std::to_string(kPartitions),
                       "--bootstrap-file", (dir_ / "bootstrap").string()},
                      (dir_ / "broker.log").string()));
    bootstrap_ = testing::WaitForFileLine((dir_ / "bootstrap").string(), std::chrono::seconds(20));
    ASSERT_FALSE(bootstrap_.empty()) << testing::ReadFile((dir_ / "broker.log").string());
    kafka_.bootstrap_servers = bootstrap_;

    // --threads: cpp-httplib holds a pool thread per keep-alive connection, and the three
    // instances keep up to 3 x 8 connector connections open; with the default 8 threads
    // calls queue past their timeout and turn into unknown outcomes (reconciled, slowly).
    ASSERT_TRUE(
        sim_.Start({PAYORCH_BINARY, "gateway-sim", "--listen", "127.0.0.1:0", "--port-file",
                    (dir_ / "sim.port").string(), "--processor", "sim", "--spec",
                    std::getenv("SIM_SPEC") ? std::getenv("SIM_SPEC") : kSimSpec, "--hang-ms",
                    "300", "--threads", std::to_string(EnvInt("SIM_THREADS", 64)), "--ledger",
                    (dir_ / "sim.ledger").string()},
                   (dir_ / "sim.log").string()));
    const std::string port =
        testing::WaitForFileLine((dir_ / "sim.port").string(), std::chrono::seconds(20));
    ASSERT_FALSE(port.empty()) << testing::ReadFile((dir_ / "sim.log").string());
    sim_port_ = std::stoi(port);
    for (const char* processor : kProcessors) {
      gateways_ += std::string(processor) + "=http://127.0.0.1:" + port + "?timeout_ms=1500;";
    }
    gateways_ += "*=mock";
  }

  void TearDown() override {
    for (auto& run : runs_) run.Kill(SIGKILL);
    sim_.Kill(SIGKILL);
    broker_.Kill(SIGTERM);
    if (!HasFailure()) fs::remove_all(dir_);
  }

  static std::string WriterId(int i) { return "w" + std::to_string(i); }
  std::string RunLog(int i) const { return (dir_ / ("run-" + WriterId(i) + ".log")).string(); }

  void StartRun(int i) {
    metrics_ports_[i] = FreePort();
    const std::string session = std::to_string(EnvInt("SESSION_TIMEOUT_MS", 3000));
    std::vector<std::string> argv = {
        PAYORCH_BINARY, "run",
        "--brokers",    bootstrap_,
        "--data-dir",   (dir_ / ("data-" + WriterId(i))).string(),
        "--writer-id",  WriterId(i),
        "--gateways",   gateways_,
        "--log-level",  "info",
        "--metrics",    "127.0.0.1:" + std::to_string(metrics_ports_[i]),
        "-X",           "session.timeout.ms=" + session,
        "-X",           "heartbeat.interval.ms=250"};
    ASSERT_TRUE(runs_[i].Start(argv, RunLog(i)));
  }

  // payorch_restore_seconds_count on instance i's /metrics (-1 if unreadable).
  int64_t RestoreCount(int i) {
    httplib::Client client("127.0.0.1", metrics_ports_[i]);
    auto res = client.Get("/metrics");
    if (!res || res->status != 200) return -1;
    std::smatch m;
    static const std::regex kCount(R"(payorch_restore_seconds_count\s+([0-9.e+]+))");
    if (!std::regex_search(res->body, m, kCount)) return -1;
    return static_cast<int64_t>(std::stod(m[1].str()));
  }

  fs::path dir_;
  std::string bootstrap_;
  log::KafkaOptions kafka_;
  std::string gateways_;
  int sim_port_ = 0;
  ChildProcess broker_;
  ChildProcess sim_;
  ChildProcess runs_[kInstances];
  int metrics_ports_[kInstances] = {};
};

TEST_F(MultiInstanceKillTest, KilledInstancesPartitionsServeAgainAndNothingIsLostOrChargedTwice) {
  const int payments = EnvInt("PAYMENTS", 600);
  const int serve_bound_ms = EnvInt("SERVE_BOUND_MS", 12'000);
  for (int i = 0; i < kInstances; ++i) StartRun(i);

  runtime::WorkloadOptions wo;
  wo.payments = payments;
  wo.seed = 77;
  wo.rate = EnvInt("RATE", 40);  // creates still arrive when the kill lands
  runtime::Workload workload(kafka_, wo);
  ASSERT_EQ(workload.Start(), "");
  std::string publish_error;
  std::thread publisher([&] { publish_error = workload.PublishAll(); });

  // The group settles: every partition claimed, every instance a writer, no new claims
  // for a while (no rebalance in flight).
  ClaimWatcher claims;
  ASSERT_EQ(claims.Open(kafka_), "");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  auto quiet_since = std::chrono::steady_clock::now();
  bool settled_group = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (claims.Update() > 0) quiet_since = std::chrono::steady_clock::now();
    if (claims.latest().size() == kPartitions &&
        claims.Owners().size() == static_cast<size_t>(kInstances) &&
        std::chrono::steady_clock::now() - quiet_since > std::chrono::milliseconds(1500)) {
      settled_group = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!settled_group) publisher.join();
  ASSERT_TRUE(settled_group) << "the three instances never shared the partitions";

  // Kill the instance mid-load.
  constexpr int kVictim = 1;
  (void)claims.Update();
  std::map<int32_t, uint64_t> victim_epochs;
  for (const auto& [p, c] : claims.latest()) {
    if (c.writer == WriterId(kVictim)) victim_epochs[p] = c.epoch;
  }
  ASSERT_FALSE(victim_epochs.empty());
  const int64_t kill_ms = WallMs();
  // KILL=0: the same run without the kill (a baseline when something fails).
  const bool kill = EnvInt("KILL", 1) != 0;
  if (kill) runs_[kVictim].Kill(SIGKILL);

  // Each of its partitions is claimed again, by a survivor, with a newer epoch.
  int64_t served_ms = -1;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (kill && std::chrono::steady_clock::now() < deadline) {
    (void)claims.Update();
    int64_t last = 0;
    bool all = true;
    for (const auto& [p, epoch] : victim_epochs) {
      const Claim& c = claims.latest().at(p);
      if (c.epoch <= epoch) {
        all = false;
        break;
      }
      EXPECT_NE(c.writer, WriterId(kVictim));
      last = std::max(last, c.at_ms);
    }
    if (all) {
      served_ms = last - kill_ms;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  publisher.join();
  ASSERT_EQ(publish_error, "");
  std::printf(
      "killed %s owning %zu of %d partitions; they serve again %lld ms after the kill "
      "(session.timeout.ms=%d)\n",
      WriterId(kVictim).c_str(), victim_epochs.size(), kPartitions,
      static_cast<long long>(served_ms), EnvInt("SESSION_TIMEOUT_MS", 3000));
  if (kill) {
    ASSERT_GE(served_ms, 0) << "the killed instance's partitions were never claimed again";
    EXPECT_LE(served_ms, serve_bound_ms);
  }

  const bool settled = workload.WaitSettled(90'000);
  workload.Stop();
  const runtime::WorkloadSummary summary = workload.Summary();

  // The survivors exported their restores, the take-over included.
  for (int i = 0; i < kInstances; ++i) {
    if (kill && i == kVictim) continue;
    EXPECT_GE(RestoreCount(i), 1) << WriterId(i) << " exports no payorch_restore_seconds";
    for (const std::string& line :
         LinesContaining(testing::ReadFile(RunLog(i)), "restore folded")) {
      std::printf("%s: %s\n", WriterId(i).c_str(), line.c_str());
    }
  }

  // The simulator's audit: one charge per key at most, and its money per payment.
  httplib::Client client("127.0.0.1", sim_port_);
  auto audit = client.Get("/v1/audit");
  ASSERT_TRUE(audit && audit->status == 200);
  const nlohmann::json body = nlohmann::json::parse(audit->body);
  EXPECT_LE(body.at("max_charges_per_key").get<int>(), 1);
  std::map<std::string, int64_t> audit_charged;  // by idempotency key
  for (const auto& c : body.at("charges")) {
    const auto key = c.at("idempotency_key").get<std::string>();
    EXPECT_EQ(audit_charged.count(key), 0U) << "two charges under key " << key;
    audit_charged[key] = c.at("authorized").get<int64_t>();
  }

  // A clean stop drains: every command in the log is decided.
  for (int i = 0; i < kInstances; ++i) {
    if (kill && i == kVictim) continue;
    const int status = runs_[i].Kill(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << WriterId(i) << " exit " << status << "\n"
        << testing::ReadFile(RunLog(i));
  }
  sim_.Kill(SIGTERM);

  auto ledger = connectors::ReadLedgerFile((dir_ / "sim.ledger").string());
  ASSERT_TRUE(ledger.ok()) << ledger.status().message();
  // The audit (a live view) and the ledger (what CheckLog compares with the log) agree.
  std::map<std::string, int64_t> ledger_charged;
  for (const auto& e : ledger.value()) {
    if (e.kind == ::payments::events::v1::OPERATION_KIND_AUTHORIZE ||
        e.kind == ::payments::events::v1::OPERATION_KIND_SALE) {
      ledger_charged[e.idempotency_key] += e.amount_minor;
    }
  }
  EXPECT_EQ(audit_charged, ledger_charged);

  std::string error;
  runtime::CheckReport report =
      runtime::CheckLog(kafka_, ledger.value(), &error, {.require_drained = true});
  ASSERT_EQ(error, "");
  report.Print(stdout);
  std::printf(
      "%lld payments in %.1f s (p99 %.0f ms, max %.0f ms): %lld completed, %lld failed, "
      "%lld via processing, %lld unsettled; %zu gateway charges\n",
      static_cast<long long>(summary.payments), summary.seconds, summary.p99_ms, summary.max_ms,
      static_cast<long long>(summary.completed), static_cast<long long>(summary.failed),
      static_cast<long long>(summary.processing_resolved),
      static_cast<long long>(summary.unsettled), audit_charged.size());
  EXPECT_TRUE(report.ok());
  EXPECT_TRUE(settled) << summary.unsettled << " payments never reached a final event";
  EXPECT_EQ(summary.unsettled, 0);
  EXPECT_GT(report.ledger_payments_checked, payments / 2);
  EXPECT_GT(audit_charged.size(), static_cast<size_t>(payments / 2));
}

}  // namespace
}  // namespace payorch
