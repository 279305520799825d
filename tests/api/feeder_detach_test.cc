// The webhook feeder that falls behind the shared events reader: the reader drops its
// subscription (instead of being paced by it) and the feeder goes on with a consumer of its
// own from the positions it reached, losing no event. Compared with a feeder
// that read on its own from the start (docs/merchant-api.md, "Events").
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "api/internal/webhook_feeder.h"
#include "config/config.h"
#include "log/shared_reader.h"
#include "outbox/webhook_outbox.h"
#include "runtime/workload.h"
#include "support/e2e/harness.h"

namespace payorch::api::internal {
namespace {

namespace fs = std::filesystem;

// The event records a feeder wrote (their by-time keys: time, merchant, event id).
std::vector<std::string> EventKeys(const outbox::WebhookOutbox& o) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : o.ScanMeta("evt/", "", 1'000'000, false)) keys.push_back(key);
  return keys;
}

std::unique_ptr<outbox::WebhookOutbox> OpenOutbox(const fs::path& dir) {
  outbox::WebhookOutboxOptions o;
  o.dir = dir.string();
  o.endpoints = [](const std::string&) { return std::optional<outbox::WebhookEndpoint>(); };
  auto outbox = std::make_unique<outbox::WebhookOutbox>(std::move(o));
  EXPECT_TRUE(outbox->Open().ok());
  return outbox;
}

// Waits until `o` holds the same event records for 1 s in a row; returns them.
std::vector<std::string> SettledEventKeys(const outbox::WebhookOutbox& o) {
  std::vector<std::string> last;
  int stable = 0;
  for (int i = 0; i < 600 && stable < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<std::string> now = EventKeys(o);
    stable = (!now.empty() && now == last) ? stable + 1 : 0;
    last = std::move(now);
  }
  return last;
}

TEST(WebhookFeeder, FallingBehindTheSharedReaderLosesNoEvent) {
  const fs::path dir =
      fs::temp_directory_path() / ("payorch-feeder-detach-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  testing::e2e::HarnessOptions ho;
  ho.config = config::DefaultConfig();
  ho.simulated_gateways = "*=mock";
  ho.follow_events = false;
  testing::e2e::E2eHarness harness(ho);
  ASSERT_EQ(harness.Start(), "");
  const auto run_workload = [&](uint64_t seed) {
    runtime::WorkloadOptions wo;
    wo.payments = 80;
    wo.seed = seed;
    runtime::Workload workload(harness.kafka(), wo);
    ASSERT_EQ(workload.Start(), "");
    ASSERT_EQ(workload.PublishAll(), "");
    ASSERT_TRUE(workload.WaitSettled(60'000));
    workload.Stop();
  };
  const auto has_endpoint = [](const std::string&) { return false; };
  auto outbox = OpenOutbox(dir / "detached");

  // Phase 1: the feeder reads the first payments on its own and stops, its positions
  // somewhere inside every partition.
  ASSERT_NO_FATAL_FAILURE(run_workload(3));
  {
    WebhookFeeder first(harness.kafka(), outbox.get(), has_endpoint);
    ASSERT_EQ(first.Start(), "");
    ASSERT_FALSE(SettledEventKeys(*outbox).empty());
  }
  // Phase 2: more payments; the feeder restarts on a shared reader that holds at most one
  // record for it, so the reader drops its subscription at once and the feeder reads on
  // its own again, from the positions phase 1 left.
  ASSERT_NO_FATAL_FAILURE(run_workload(4));
  ASSERT_EQ(harness.Stop(), "");  // the log is quiet from here on
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(200);
  spdlog::default_logger()->sinks().push_back(sink);
  auto shared = log::SharedReader::Open(harness.kafka(), "payorch.events.detach-test",
                                        harness.kafka().Topic(log::TopicKind::kEvents),
                                        /*max_queued_records=*/1);
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  std::vector<std::string> got;
  {
    WebhookFeeder feeder(harness.kafka(), outbox.get(), has_endpoint, {}, nullptr,
                         30 * 86'400'000LL, shared.value().get());
    ASSERT_EQ(feeder.Start(), "");
    ASSERT_TRUE(shared.value()->Start().ok());
    got = SettledEventKeys(*outbox);
    feeder.Stop();
    shared.value()->Stop();
  }
  spdlog::default_logger()->sinks().pop_back();

  // The reference: a feeder that read the whole log on its own.
  auto reference_outbox = OpenOutbox(dir / "reference");
  std::vector<std::string> want;
  {
    WebhookFeeder reference(harness.kafka(), reference_outbox.get(), has_endpoint);
    ASSERT_EQ(reference.Start(), "");
    want = SettledEventKeys(*reference_outbox);
  }
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(got, want);  // the same events (a record rewritten by a re-read is the same key)
  bool detached = false;
  for (const std::string& line : sink->last_formatted()) {
    detached = detached || line.find("fell behind the shared events reader") != std::string::npos;
  }
  EXPECT_TRUE(detached) << "the shared reader never dropped the feeder's subscription";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace payorch::api::internal
