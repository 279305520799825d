// Projections against the real runtime on the embedded broker: a live projection follows a
// workload; rebuilds from the log give the same digest; the views agree with the checker;
// `payorch replay` filters and formats (CSV read back with python3's csv module).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "command/transitions.h"
#include "config/config.h"
#include "projection/cli_support.h"
#include "projection/internal/keys.h"
#include "projection/runner.h"
#include "projection/store.h"
#include "runtime/workload.h"
#include "support/e2e/harness.h"

namespace payorch::projection {
namespace {

namespace fs = std::filesystem;
using testing::Shell;
using testing::Trim;

constexpr char kGateways[] =
    "cobranded_card=flaky:seed=21,decline=0.1;"
    "flaky_psp=flaky:seed=22,decline=0.05,timeout=0.08,network=0.05;"
    "applepay=mock:max=3000;*=mock";

class ProjectionE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("payorch-proj-e2e-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    payorch::testing::e2e::HarnessOptions o;
    o.config = config::DefaultConfig();
    o.simulated_gateways = kGateways;
    o.follow_events = false;
    harness_ = new payorch::testing::e2e::E2eHarness(o);
    ASSERT_EQ(harness_->Start(), "");

    // The live projection follows the log while the workload runs.
    ASSERT_EQ(live_.Open((dir_ / "live").string(), {}).ToString(), "ok");
    RunnerOptions ro;
    ro.kafka = harness_->kafka();
    ro.max_batch_records = 500;
    ro.on_progress = [](const ProjectorStats& s, const std::vector<PartitionPosition>& p) {
      std::lock_guard lock(progress_mu_);
      progress_stats_ = s;
      progress_positions_ = p;
      ++progress_calls_;
    };
    runner_ = new ProjectionRunner(&live_, ro);
    ASSERT_EQ(runner_->Open(), "");
    std::thread follower([] { run_error_ = runner_->Run(stop_); });

    runtime::WorkloadOptions wo;
    wo.payments = 400;
    wo.seed = 7;
    runtime::Workload workload(harness_->kafka(), wo);
    ASSERT_EQ(workload.Start(), "");
    ASSERT_EQ(workload.PublishAll(), "");
    EXPECT_TRUE(workload.WaitSettled(60'000));
    workload.Stop();
    ASSERT_EQ(harness_->Stop(), "");  // the log is quiet and the orchestrator stopped

    // Caught up: committed positions at the high watermarks.
    for (int i = 0; i < 500 && runner_->lag() != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // a watermark refresh
    EXPECT_EQ(runner_->lag(), 0);
    stop_ = true;
    follower.join();
    bootstrap_ = harness_->kafka().bootstrap_servers;
  }
  static void TearDownTestSuite() {
    delete runner_;
    live_.Close().IgnoreError();  // teardown
    delete harness_;
    fs::remove_all(dir_);
  }

  static std::string Binary() { return PAYORCH_BINARY; }
  static std::string Brokers() { return " --brokers " + bootstrap_ + " --partitions 4"; }

  static inline fs::path dir_;
  static inline payorch::testing::e2e::E2eHarness* harness_ = nullptr;
  static inline ProjectionStore live_;
  static inline ProjectionRunner* runner_ = nullptr;
  static inline std::atomic<bool> stop_{false};
  static inline std::string run_error_;
  static inline std::string bootstrap_;
  static inline std::mutex progress_mu_;
  static inline ProjectorStats progress_stats_;
  static inline std::vector<PartitionPosition> progress_positions_;
  static inline int progress_calls_ = 0;
};

TEST_F(ProjectionE2eTest, LiveProjectionRanCleanAndAppliedEveryCountedEvent) {
  EXPECT_EQ(run_error_, "");
  const ProjectorStats s = runner_->stats();
  EXPECT_GT(s.applied, 400 * 4);
  EXPECT_GT(s.claims, 0);
  EXPECT_EQ(s.undecodable, 0);
}

// on_progress (what /metrics shows) saw the last commit's counts and caught-up positions.
TEST_F(ProjectionE2eTest, ProgressReportsTheLastCommitsCountsAndPositions) {
  std::lock_guard lock(progress_mu_);
  EXPECT_GT(progress_calls_, 1);
  const ProjectorStats s = runner_->stats();
  EXPECT_EQ(progress_stats_.applied, s.applied);
  EXPECT_EQ(progress_stats_.duplicates, s.duplicates);
  EXPECT_EQ(progress_stats_.claims, s.claims);
  ASSERT_EQ(progress_positions_.size(), 4u);
  for (const PartitionPosition& p : progress_positions_) {
    EXPECT_GT(p.next_offset, 0) << p.partition;
    EXPECT_EQ(p.next_offset, p.high_watermark) << p.partition;
  }
}

TEST_F(ProjectionE2eTest, ViewsAgreeWithTheCheckerOnEveryPaymentsStatus) {
  std::string err;
  const runtime::CheckReport report = runtime::CheckLog(harness_->kafka(), {}, &err);
  ASSERT_EQ(err, "");
  ASSERT_TRUE(report.ok());
  std::map<std::string, int64_t> by_status;
  int64_t payments = 0;
  const std::string prefix(internal::kPaymentPrefix);
  live_.Scan(prefix, prefix, [&](std::string_view, std::string_view value) {
    pv::PaymentView v;
    EXPECT_TRUE(v.ParseFromArray(value.data(), static_cast<int>(value.size())));
    ++by_status[command::StatusName(v.status())];
    ++payments;
    EXPECT_LE(v.captured_minor(), v.authorized_minor()) << v.payment_id();
    EXPECT_LE(v.refunded_minor(), v.captured_minor()) << v.payment_id();
    return true;
  });
  EXPECT_EQ(payments, report.payments);
  EXPECT_EQ(by_status, report.by_status);
}

TEST_F(ProjectionE2eTest, TwoRebuildsGiveTheLiveDigest) {
  const std::string live = live_.Digest();
  for (const char* name : {"rebuild-1", "rebuild-2"}) {
    ProjectionStore store;
    ASSERT_EQ(store.Open((dir_ / name).string(), {.disable_wal = true}).ToString(), "ok");
    RunnerOptions ro;
    ro.kafka = harness_->kafka();
    ProjectionRunner runner(&store, ro);
    ASSERT_EQ(runner.Open(), "");
    std::atomic<bool> stop{false};
    ASSERT_EQ(runner.CatchUp(stop), "");
    EXPECT_EQ(store.Digest(), live) << name;
  }
  // The same through the binary.
  const auto out = Shell(Binary() + " replay" + Brokers() + " --rebuild " +
                         (dir_ / "rebuild-cli").string() + " --digest");
  ASSERT_EQ(out.exit_code, 0);
  EXPECT_EQ(Trim(out.out), live);
  const auto again = Shell(Binary() + " replay" + Brokers() + " --digest");
  EXPECT_EQ(Trim(again.out), live);
  const auto stored =
      Shell(Binary() + " replay --digest --store " + (dir_ / "rebuild-cli").string());
  EXPECT_EQ(Trim(stored.out), live);
}

TEST_F(ProjectionE2eTest, ReplayRefusesANonEmptyRebuildDirectoryAndBadFlags) {
  fs::create_directories(dir_ / "full");
  std::ofstream(dir_ / "full" / "x") << "x";
  EXPECT_EQ(Shell(Binary() + " replay" + Brokers() + " --rebuild " + (dir_ / "full").string() +
                  " 2>/dev/null")
                .exit_code,
            2);
  for (const char* flags : {" --format xml", " --type NoSuchEvent", " --from yesterday",
                            " --rebuild /tmp/x --merchant m1"}) {
    EXPECT_EQ(Shell(Binary() + " replay" + Brokers() + flags + " 2>/dev/null").exit_code, 2)
        << flags;
  }
}

TEST_F(ProjectionE2eTest, ReplayCsvIsReadableByPythonsCsvModuleAndFiltersTypes) {
  const fs::path csv = dir_ / "events.csv";
  const auto out =
      Shell(Binary() + " replay" + Brokers() +
            " --format csv --type PaymentCreated,step_failed --output " + csv.string());
  ASSERT_EQ(out.exit_code, 0);
  // python3 reads it back: the header, 16 fields per row, only the two types.
  const fs::path script = dir_ / "check_csv.py";
  std::ofstream(script) << R"(import csv, sys, json
with open(sys.argv[1], newline='') as f:
    rows = list(csv.reader(f))
header = rows[0]
assert header[:5] == ['partition', 'offset', 'occurred_at', 'event_id', 'type'], header
assert len(header) == 16, header
types = {}
for r in rows[1:]:
    assert len(r) == 16, r
    json.loads(r[15])
    types[r[4]] = types.get(r[4], 0) + 1
assert set(types) == {'PaymentCreated', 'StepFailed'}, types
print(types['PaymentCreated'])
)";
  const auto py = Shell("python3 " + script.string() + " " + csv.string());
  ASSERT_EQ(py.exit_code, 0) << py.out;
  int64_t views = 0;  // payments created (a rejected create has a view too, not created)
  const std::string prefix(internal::kPaymentPrefix);
  live_.Scan(prefix, prefix, [&](std::string_view, std::string_view value) {
    pv::PaymentView v;
    EXPECT_TRUE(v.ParseFromArray(value.data(), static_cast<int>(value.size())));
    views += v.created_at_ms() > 0 ? 1 : 0;
    return true;
  });
  EXPECT_EQ(std::stoll(Trim(py.out)), views);
}

TEST_F(ProjectionE2eTest, ReplayJsonLinesOfOnePaymentAreItsCountedEventsInOrder) {
  // Any payment with a few events.
  pv::PaymentView view;
  const std::string prefix(internal::kPaymentPrefix);
  live_.Scan(prefix, prefix, [&](std::string_view, std::string_view value) {
    EXPECT_TRUE(view.ParseFromArray(value.data(), static_cast<int>(value.size())));
    return view.last_sequence() < 5;
  });
  ASSERT_GE(view.last_sequence(), 5u);
  const auto out = Shell(Binary() + " replay" + Brokers() + " --payment " + view.payment_id());
  ASSERT_EQ(out.exit_code, 0);
  std::istringstream lines(out.out);
  std::string line;
  uint64_t expected_sequence = 1;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["event"]["payment_id"], view.payment_id());
    EXPECT_EQ(j["event"]["sequence"], std::to_string(expected_sequence));
    ++expected_sequence;
  }
  EXPECT_EQ(expected_sequence - 1, view.last_sequence());

  // --merchant and --to select nothing from another merchant or before any event.
  EXPECT_EQ(Shell(Binary() + " replay" + Brokers() + " --merchant m_not_in_the_log").out, "");
  EXPECT_EQ(Shell(Binary() + " replay" + Brokers() + " --to 2000-01-01").out, "");
}

}  // namespace
}  // namespace payorch::projection
