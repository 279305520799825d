// Crash test: a workload runs against a standalone `payorch broker` while the
// orchestrator process (`payorch run`) is killed with SIGKILL at random points and
// restarted. Beside the payments, a slice of orders and invoices in installments
// (runtime::CommerceWorkload) is paid through the saga across the same kills. Afterwards
// `payorch check`'s rules run over the whole log (payments, orders, invoices, dead letters)
// and the gateways' ledgers: nothing lost, nothing decided twice, nobody charged twice,
// what orders and invoices record as captured is what their payments captured, and every
// order and invoice is paid.
//
// KILLS (default 20) sets the number of kills; `make crash-long` runs 200. ORDERS (40) and
// INVOICES (15) size the commerce slice.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "connectors/ledger.h"
#include "kafka/test_broker.h"
#include "log/options.h"
#include "reliability/process.h"
#include "runtime/checker.h"
#include "runtime/commerce_workload.h"
#include "runtime/workload.h"

namespace payorch {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;

// Processors that misbehave: declines, timeouts whose charge may have happened, lost
// answers, network failures and 5xx, so kills land in every kind of state.
constexpr char kGateways[] =
    "cobranded_card=flaky:seed=21,decline=0.1;"
    "flaky_psp=flaky:seed=22,decline=0.05,timeout=0.08,lost=0.04,network=0.05,unavailable=0.05;"
    "applepay=mock:max=3000;*=mock";

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::atoi(v);
}

std::vector<connectors::LedgerEntry> ReadLedgers(const std::string& dir) {
  std::vector<connectors::LedgerEntry> all;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".ledger") continue;
    auto entries = connectors::ReadLedgerFile(entry.path().string());
    EXPECT_TRUE(entries.ok()) << entry.path();
    if (entries.ok()) all.insert(all.end(), entries.value().begin(), entries.value().end());
  }
  return all;
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("payorch-crash-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    if (testing::OnRealKafka()) {
      // Real Kafka (PAYORCH_TEST_BROKER=kafka): this test's own topics on the cluster.
      log::KafkaOptions base;
      base.partitions = 4;
      testing::TestBroker broker = testing::TestBroker::Start(base);
      ASSERT_TRUE(broker.ok()) << broker.error;
      kafka_ = broker.kafka;
      bootstrap_ = kafka_.bootstrap_servers;
      return;
    }
    bootstrap_ = testing::StartBroker(broker_, PAYORCH_BINARY, dir_.string(), 4);
    ASSERT_FALSE(bootstrap_.empty()) << testing::ReadFile((dir_ / "broker.log").string());
    kafka_.bootstrap_servers = bootstrap_;
  }

  void TearDown() override {
    run_.Kill(SIGKILL);
    broker_.Kill(SIGTERM);
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void StartRun(int generation) {
    std::vector<std::string> argv = {PAYORCH_BINARY, "run",
                                     "--brokers",    bootstrap_,
                                     "--data-dir",   (dir_ / "data").string(),
                                     "--gateways",   kGateways,
                                     "--writer-id",  "w" + std::to_string(generation),
                                     "--log-level",  "warn",
                                     "--assign",     "all"};
    if (testing::OnRealKafka()) {
      // A killed instance's connector-group member holds its partitions until its session
      // times out: keep that short, as on the embedded broker's defaults.
      argv.insert(argv.end(), {"--topic-prefix", kafka_.topic_prefix, "-X",
                               "session.timeout.ms=6000", "-X", "fetch.wait.max.ms=100"});
    }
    ASSERT_TRUE(run_.Start(argv, (dir_ / "run.log").string()));
  }

  fs::path dir_;
  std::string bootstrap_;
  log::KafkaOptions kafka_;
  ChildProcess broker_;
  ChildProcess run_;
};

TEST_F(CrashTest, SigkillAtRandomPointsLosesNothingAndChargesOnce) {
  const int kills = EnvInt("KILLS", 20);
  const int payments = EnvInt("PAYMENTS", 1500);
  std::mt19937 rng(static_cast<unsigned>(EnvInt("SEED", 4242)));
  // Kills land anywhere: during the group join, the restore, the claim, or the steady state.
  std::uniform_int_distribution<int> pause_ms(400, 3000);

  int generation = 0;
  StartRun(generation++);

  runtime::WorkloadOptions wo;
  wo.payments = payments;
  wo.seed = 99;
  wo.rate = std::max(50, payments * 1000 / (kills * 1700 + 1));  // spread over the kills
  runtime::Workload workload(kafka_, wo);
  ASSERT_EQ(workload.Start(), "");
  const int orders = EnvInt("ORDERS", 40);
  const int invoices = EnvInt("INVOICES", 15);
  runtime::CommerceOptions co;
  co.orders = orders;
  co.invoices = invoices;
  co.seed = 5;
  runtime::CommerceWorkload commerce(kafka_, co);
  ASSERT_EQ(commerce.Start(), "");
  const auto started = std::chrono::steady_clock::now();
  std::string publish_error;
  std::thread publisher([&] { publish_error = workload.PublishAll(); });
  // Orders and first installments while the first kills land; later installments follow
  // their predecessors' payments, so they span more kills.
  std::string commerce_error;
  std::thread commerce_publisher([&] { commerce_error = commerce.PublishAll(); });

  for (int i = 0; i < kills; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    run_.Kill(SIGKILL);
    StartRun(generation++);
  }
  publisher.join();
  commerce_publisher.join();
  ASSERT_EQ(publish_error, "");
  ASSERT_EQ(commerce_error, "");
  // The last generation must be past exec before it can handle SIGTERM.
  std::this_thread::sleep_for(std::chrono::seconds(2));

  const bool settled = workload.WaitSettled(180'000);
  workload.Stop();
  const runtime::WorkloadSummary summary = workload.Summary();
  // Every order paid and every invoice paid, seen on their events logs: the saga has
  // delivered every fact the kills left to it.
  const bool commerce_settled = commerce.WaitSettled(120'000);
  commerce.Stop();
  const runtime::CommerceSummary cs = commerce.Summary();
  // A clean stop drains: connectors stop, then the writers decide every command left.
  const int status = run_.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "payorch run exit " << status;

  std::string error;
  runtime::CheckReport report = runtime::CheckLog(
      kafka_, ReadLedgers((dir_ / "data" / "ledgers").string()), &error, {.require_drained = true});
  ASSERT_EQ(error, "");
  report.Print(stdout);
  std::printf(
      "%d kills; %lld payments: %lld completed, %lld failed, %lld via processing, "
      "%lld unsettled\n",
      kills, static_cast<long long>(summary.payments), static_cast<long long>(summary.completed),
      static_cast<long long>(summary.failed), static_cast<long long>(summary.processing_resolved),
      static_cast<long long>(summary.unsettled));
  std::printf("%d orders, %d invoices (%lld of %lld installments paid) in %.0f s\n", orders,
              invoices, static_cast<long long>(cs.installments_paid),
              static_cast<long long>(cs.installments),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  EXPECT_TRUE(report.ok());
  EXPECT_TRUE(commerce_settled) << "orders and invoices not all paid";
  // The checker's own fold of the logs, not the workload's observer.
  EXPECT_EQ(report.order_log.aggregates, orders);
  EXPECT_EQ(report.order_log.by_status["paid"], orders);
  EXPECT_EQ(report.invoice_log.aggregates, invoices);
  EXPECT_EQ(report.invoice_log.by_status["PAID"], invoices);
  EXPECT_EQ(cs.installments_paid, cs.installments);
  EXPECT_TRUE(settled) << summary.unsettled << " payments never reached a final event";
  // Most restarts live long enough to claim; the ones killed while joining do not.
  EXPECT_GE(report.claims, kills / 2) << "restarts must claim the partitions they restore";
  EXPECT_GT(report.ledger_payments_checked, payments / 2);
  if (HasFailure()) std::printf("%s\n", testing::ReadFile((dir_ / "run.log").string()).c_str());
}

}  // namespace
}  // namespace payorch
