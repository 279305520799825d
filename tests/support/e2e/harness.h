// E2eHarness: the whole of payorch in one test process, on the embedded broker (librdkafka's
// mock cluster; no Kafka mocks), or on real Kafka with PAYORCH_TEST_BROKER=kafka and
// PAYORCH_TEST_BOOTSTRAP=host:port (kafka/test_broker.h: own topic prefix and groups). It starts a
// broker with the four topics, an Orchestrator (writers + connectors) on its own thread with a
// fresh data directory, a PlanBuilder from an inline configuration and a GatewayRegistry where each
// named processor is a ScriptedGateway; it follows the events topic with the validity rule
// (EpochFilter) and de-duplication by sequence, so a test publishes commands and waits for the
// events of a payment. At the end, StopAndCheck() lets the log go quiet, stops the orchestrator and
// runs the checker (runtime::CheckLog) over the whole log and the gateways' ledgers.
//
//   HarnessOptions o;
//   o.config = config;                          // a payments.config.v1.OrchestratorConfig
//   o.scripted_processors = {"psp_a", "psp_b"};
//   E2eHarness h(o);
//   ASSERT_EQ(h.Start(), "");
//   auto create = Create("m_card", "order-1", 10'000);
//   ASSERT_EQ(h.Publish(create), "");
//   const std::string pid = PaymentIdOf(create);
//   ASSERT_TRUE(h.WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));
//   EXPECT_THAT(TypesOf(h.EventsOf(pid)), ElementsAre("PaymentCreated", ...));
//   EXPECT_TRUE(h.StopAndCheck());
//
// Thread safety: the harness is driven by the test thread; EventsOf/WaitFor* may be called
// from any thread. Header-only; link payorch_runtime (and gtest).
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "command/aggregate.h"
#include "command/plan_builder.h"
#include "command/validity.h"
#include "common/clock.h"
#include "connectors/registry.h"
#include "kafka/test_broker.h"
#include "log/embedded_broker.h"
#include "log/options.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/config/v1/config.pb.h"
#include "payments/events/v1/events.pb.h"
#include "runtime/checker.h"
#include "runtime/orchestrator.h"
#include "support/e2e/scripted_gateway.h"

namespace payorch::testing::e2e {

namespace cmd = ::payments::commands::v1;
namespace cfg = ::payments::config::v1;
namespace ev = ::payments::events::v1;
namespace pl = ::payments::plan::v1;
namespace ty = ::payments::types::v1;

using Events = std::vector<ev::EventEnvelope>;
using EventCase = ev::EventEnvelope::EventCase;

// ---------------------------------------------------------------------------------------
// Commands.

inline cmd::CommandEnvelope Create(const std::string& merchant, const std::string& key,
                                   int64_t amount,
                                   ty::PaymentMethod method = ty::PAYMENT_METHOD_CARD,
                                   ty::CaptureMode mode = ty::CAPTURE_MODE_AUTOMATIC,
                                   const std::string& currency = "USD", bool confirm = true) {
  cmd::CommandEnvelope env;
  env.set_schema_version(1);
  env.set_command_id("create/" + merchant + "/" + key + "/" + std::to_string(amount));
  env.set_correlation_id("corr/" + key);
  auto* c = env.mutable_create();
  c->set_merchant_id(merchant);
  c->set_idempotency_key(key);
  c->mutable_amount()->set_amount_minor(amount);
  c->mutable_amount()->set_currency(currency);
  c->set_method(method);
  c->set_capture_mode(mode);
  c->set_confirm(confirm);
  return env;
}

inline cmd::CommandEnvelope Capture(const std::string& payment_id, const std::string& key,
                                    int64_t amount = 0) {
  cmd::CommandEnvelope env;
  env.set_schema_version(1);
  env.set_command_id("capture/" + payment_id + "/" + key);
  env.set_payment_id(payment_id);
  env.mutable_capture()->set_idempotency_key(key);
  env.mutable_capture()->set_amount_minor(amount);
  return env;
}

inline cmd::CommandEnvelope Void(const std::string& payment_id, const std::string& reason) {
  cmd::CommandEnvelope env;
  env.set_schema_version(1);
  env.set_command_id("void/" + payment_id);
  env.set_payment_id(payment_id);
  env.mutable_void_()->set_reason(reason);
  return env;
}

inline cmd::CommandEnvelope Refund(const std::string& payment_id, const std::string& key,
                                   int64_t amount) {
  cmd::CommandEnvelope env;
  env.set_schema_version(1);
  env.set_command_id("refund/" + payment_id + "/" + key);
  env.set_payment_id(payment_id);
  env.mutable_refund()->set_idempotency_key(key);
  env.mutable_refund()->set_amount_minor(amount);
  return env;
}

inline std::string PaymentIdOf(const cmd::CommandEnvelope& c) {
  return command::TargetPaymentId(c);
}

// The deterministic key of attempt `attempt` of step `step`.
inline std::string AttemptKey(const std::string& payment_id, int step, int attempt) {
  return payment_id + ":s" + std::to_string(step) + ":a" + std::to_string(attempt);
}

// ---------------------------------------------------------------------------------------
// Events.

inline std::vector<std::string> TypesOf(const Events& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.emplace_back(command::EventTypeName(e));
  return out;
}

inline int Count(const Events& events, EventCase which) {
  int n = 0;
  for (const auto& e : events) n += e.event_case() == which ? 1 : 0;
  return n;
}

// The nth (0-based) event of a type, or nullptr.
inline const ev::EventEnvelope* Find(const Events& events, EventCase which, int nth = 0) {
  for (const auto& e : events) {
    if (e.event_case() == which && nth-- == 0) return &e;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// Configuration.

inline void AddStep(cfg::RoutingProfile* profile, ty::PaymentMethod method,
                    const std::string& processor, int64_t max_minor, pl::StepRole role) {
  auto* s = profile->add_steps();
  s->set_method(method);
  s->set_processor_id(processor);
  s->set_max_amount_minor(max_minor);
  s->set_role(role);
}

// ---------------------------------------------------------------------------------------
// The harness.

struct HarnessOptions {
  cfg::OrchestratorConfig config;
  // Processors answered by a ScriptedGateway (see gateway()).
  std::vector<std::string> scripted_processors;
  // Any other gateways, by processor id (e.g. one that blocks until the test releases it).
  std::vector<std::pair<std::string, std::shared_ptr<connectors::Gateway>>> custom_gateways;
  // Simulated processors, as a registry spec ("id=spec;...;*=spec"). Empty: processors not
  // scripted are unroutable (their operations fail with ERROR_CODE_UNKNOWN).
  std::string simulated_gateways;
  int partitions = 4;
  int connector_threads = 4;
  // Follow the events topic (EventsOf / WaitFor*). Off for workload-driven tests.
  bool follow_events = true;
  int ready_timeout_ms = 20'000;
  // Extra librdkafka properties for every client (e.g. timeouts for fault tests).
  std::vector<std::pair<std::string, std::string>> kafka_properties;
  int broker_count = 1;
  // Runs once the topics exist, before any client connects (e.g. to move leaders).
  std::function<std::string(log::EmbeddedBroker&, const log::KafkaOptions&)> on_topics_created;
};

class E2eHarness {
 public:
  explicit E2eHarness(HarnessOptions options)
      : options_(std::move(options)), plans_(options_.config), registry_(RegistryOptions()) {}

  ~E2eHarness() {
    (void)Stop(/*quiet_timeout_ms=*/0);
    if (!data_dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(data_dir_, ec);
    }
  }

  E2eHarness(const E2eHarness&) = delete;
  E2eHarness& operator=(const E2eHarness&) = delete;

  // Starts the broker, the orchestrator and the events follower, and waits until the
  // writers and the connectors hold every partition. "" or a one-line error.
  [[nodiscard]] std::string Start() {
    logger_ = std::make_shared<spdlog::logger>(
        "e2e", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    const char* level = std::getenv("PAYORCH_E2E_LOG_LEVEL");
    logger_->set_level(spdlog::level::from_str(level != nullptr ? level : "error"));

    for (const std::string& id : options_.scripted_processors) {
      auto g = std::make_shared<ScriptedGateway>(id);
      if (auto st = registry_.Register(id, g); !st.ok()) {
        return "register " + id + ": " + st.message();
      }
      scripted_[id] = g;
    }
    for (const auto& [id, g] : options_.custom_gateways) {
      if (auto st = registry_.Register(id, g); !st.ok()) {
        return "register " + id + ": " + st.message();
      }
    }
    if (!options_.simulated_gateways.empty()) {
      if (auto st = registry_.ConfigureAll(options_.simulated_gateways); !st.ok()) {
        return "gateways: " + st.message();
      }
    }

    // The embedded broker, or real Kafka with PAYORCH_TEST_BROKER=kafka (kafka/test_broker.h).
    log::KafkaOptions base;
    base.partitions = options_.partitions;
    base.logger = logger_;
    base.properties = options_.kafka_properties;
    TestBroker test_broker = TestBroker::Start(base, options_.broker_count);
    if (!test_broker.ok()) return test_broker.error;
    broker_ = std::move(test_broker.embedded);
    kafka_ = test_broker.kafka;
    if (options_.on_topics_created) {
      if (!broker_) return "on_topics_created needs the embedded broker";
      if (std::string err = options_.on_topics_created(*broker_, kafka_); !err.empty()) return err;
    }

    char tmpl[] = "/tmp/payorch-e2e-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
    data_dir_ = tmpl;

    auto producer = log::Producer::Create(kafka_);
    if (!producer.ok()) return "test producer: " + producer.status().ToString();
    producer_ = std::move(producer.value());

    auto marks = log::PartitionReader::Open(kafka_, kafka_.Topic(log::TopicKind::kCommands),
                                            PartitionId{0}, log::kOffsetBeginning);
    if (!marks.ok()) return "watermarks reader: " + marks.status().ToString();
    marks_reader_ = std::move(marks.value());

    if (options_.follow_events) {
      for (int p = 0; p < options_.partitions; ++p) {
        auto reader = log::PartitionReader::Open(kafka_, kafka_.Topic(log::TopicKind::kEvents),
                                                 PartitionId{p}, log::kOffsetBeginning);
        if (!reader.ok()) return "events reader: " + reader.status().ToString();
        readers_.push_back(std::move(reader.value()));
      }
      follower_ = std::thread([this] { Follow(); });
    }

    runtime::OrchestratorOptions oo;
    oo.kafka = kafka_;
    oo.data_dir = data_dir_ + "/state";
    oo.writer_id = "e2e-" + std::to_string(::getpid());
    oo.writers_group = GroupName(kafka_, oo.writers_group);  // unchanged on the embedded broker
    oo.connectors_group = GroupName(kafka_, oo.connectors_group);
    oo.connector_threads = options_.connector_threads;
    oo.plans = &plans_;
    oo.gateways = &registry_;
    oo.clock = &clock_;
    oo.logger = logger_;
    orchestrator_ = std::make_unique<runtime::Orchestrator>(oo);
    running_ = true;
    runner_ = std::thread([this] {
      std::string err = orchestrator_->Run(stop_);
      std::lock_guard lock(mu_);
      run_error_ = std::move(err);
      run_done_ = true;
    });

    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.ready_timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu_);
        if (run_done_) return "orchestrator stopped during start-up: " + run_error_;
      }
      if (orchestrator_->probe().partitions.load() == options_.partitions &&
          orchestrator_->probe().connectors.partitions.load() == options_.partitions) {
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "writers/connectors did not get their partitions within " +
           std::to_string(options_.ready_timeout_ms) + " ms (writers " +
           std::to_string(orchestrator_->probe().partitions.load()) + ", connectors " +
           std::to_string(orchestrator_->probe().connectors.partitions.load()) + ")";
  }

  // The embedded broker (fault injection); only when !OnRealKafka().
  log::EmbeddedBroker& broker() { return *broker_; }
  const log::KafkaOptions& kafka() const { return kafka_; }
  connectors::GatewayRegistry& registry() { return registry_; }
  const runtime::OrchestratorProbe& probe() const { return orchestrator_->probe(); }
  // The scripted processor `id` (must be in scripted_processors).
  ScriptedGateway& gateway(const std::string& id) { return *scripted_.at(id); }

  // Appends `command` to the commands topic with key = its target payment id, and waits
  // for the broker's acknowledgement. "" or an error.
  [[nodiscard]] std::string Publish(const cmd::CommandEnvelope& command) {
    return PublishRaw(PaymentIdOf(command), command.SerializeAsString());
  }
  // Appends any bytes under any key ("" = no key), to the key's partition or `partition`.
  [[nodiscard]] std::string PublishRaw(const std::string& key, const std::string& bytes,
                                       PartitionId partition = log::kAnyPartition) {
    log::OutRecord out{kafka_.Topic(log::TopicKind::kCommands), partition, key, bytes, {}};
    auto at = producer_->ProduceSync(out, 10'000);
    return at.ok() ? "" : "publish: " + at.status().ToString();
  }

  // Appends a record to any topic and partition (e.g. a copy of an event, as a retried
  // batch would leave it). "" or an error.
  [[nodiscard]] std::string Append(log::TopicKind kind, PartitionId partition,
                                   const std::string& key, const std::string& value) {
    log::OutRecord out{kafka_.Topic(kind), partition, key, value, {}};
    auto at = producer_->ProduceSync(out, 10'000);
    return at.ok() ? "" : "append: " + at.status().ToString();
  }

  // Appends `out` as it is (topic, partition, key, value, headers).
  [[nodiscard]] std::string AppendRecord(const log::OutRecord& out) {
    auto at = producer_->ProduceSync(out, 10'000);
    return at.ok() ? "" : "append: " + at.status().ToString();
  }

  // The counted events of `payment_id` so far, in sequence order, each once.
  Events EventsOf(const std::string& payment_id) const {
    std::lock_guard lock(mu_);
    auto it = events_.find(payment_id);
    return it == events_.end() ? Events{} : it->second;
  }
  // Counted events that name no payment (rejections of undecodable records).
  Events Orphans() const {
    std::lock_guard lock(mu_);
    return orphans_;
  }

  // Waits until `done(events of payment_id)` holds, up to timeout_ms.
  bool WaitFor(const std::string& payment_id, const std::function<bool(const Events&)>& done,
               int timeout_ms = 20'000) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
      auto it = events_.find(payment_id);
      return done(it == events_.end() ? Events{} : it->second);
    });
  }
  // Waits until the payment has at least `n` events of a type.
  bool WaitForEvent(const std::string& payment_id, EventCase which, int n = 1,
                    int timeout_ms = 20'000) {
    return WaitFor(
        payment_id, [&](const Events& es) { return Count(es, which) >= n; }, timeout_ms);
  }
  bool WaitForOrphans(size_t n, int timeout_ms = 20'000) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                        [&] { return orphans_.size() >= n; });
  }

  // Every record of a topic (all partitions, to the high watermarks as of the call).
  std::vector<log::Record> ReadTopic(log::TopicKind kind, std::string* error = nullptr) const {
    std::vector<log::Record> out;
    for (int p = 0; p < options_.partitions; ++p) {
      auto reader = log::PartitionReader::Open(kafka_, kafka_.Topic(kind), PartitionId{p},
                                               log::kOffsetBeginning);
      if (!reader.ok()) {
        if (error != nullptr) *error = reader.status().ToString();
        return out;
      }
      auto end = reader.value()->ReadToEnd([&](const log::Record& r) { out.push_back(r); }, 10'000);
      if (!end.ok() && error != nullptr) *error = end.status().ToString();
    }
    return out;
  }
  // Reads the topic until `done(records)` holds, up to timeout_ms. Returns the last read.
  std::vector<log::Record> WaitForRecords(
      log::TopicKind kind, const std::function<bool(const std::vector<log::Record>&)>& done,
      int timeout_ms = 20'000) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      std::vector<log::Record> records = ReadTopic(kind);
      if (done(records) || std::chrono::steady_clock::now() >= deadline) return records;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // Money moved by every gateway: the simulated ones' and the scripted ones' ledgers.
  std::vector<connectors::LedgerEntry> Ledger() const {
    std::vector<connectors::LedgerEntry> all = registry_.LedgerEntries();
    for (const auto& [id, g] : scripted_) {
      auto l = g->Ledger();
      all.insert(all.end(), l.begin(), l.end());
    }
    return all;
  }

  // Waits until the log stops growing and every command is decided (up to
  // quiet_timeout_ms), then stops the orchestrator and the follower. Returns the
  // orchestrator's error ("" if it ran clean). Idempotent.
  std::string Stop(int quiet_timeout_ms = 10'000) {
    if (running_) {
      WaitQuiet(quiet_timeout_ms);
      stop_ = true;
      runner_.join();
      running_ = false;
    }
    if (follower_.joinable()) {
      follow_stop_ = true;
      follower_.join();
    }
    std::lock_guard lock(mu_);
    return run_error_;
  }

  // Stop(), then the checker over the whole log and the gateways' ledgers. The report is
  // kept in last_report().
  ::testing::AssertionResult StopAndCheck() {
    const std::string run_error = Stop();
    if (!run_error.empty()) return ::testing::AssertionFailure() << "orchestrator: " << run_error;
    std::string err;
    report_ = runtime::CheckLog(kafka_, Ledger(), &err);
    if (!err.empty())
      return ::testing::AssertionFailure() << "checker could not read the log: " << err;
    if (!report_.ok()) {
      auto failure = ::testing::AssertionFailure();
      failure << report_.violations.size() << " checker violation(s):";
      for (const auto& v : report_.violations) failure << "\n  " << v;
      return failure;
    }
    return ::testing::AssertionSuccess();
  }
  const runtime::CheckReport& last_report() const { return report_; }

 private:
  connectors::GatewayRegistryOptions RegistryOptions() const {
    connectors::GatewayRegistryOptions o;
    o.default_spec = "";  // an unexpected processor id is unroutable, and visibly so
    return o;
  }

  void Follow() {
    std::vector<log::Record> batch;
    while (!follow_stop_.load()) {
      bool any = false;
      for (auto& reader : readers_) {
        batch.clear();
        (void)reader->Poll(2'000, 2, &batch);
        if (batch.empty()) continue;
        any = true;
        std::lock_guard lock(mu_);
        for (const auto& r : batch) Observe(r);
      }
      if (any) cv_.notify_all();
    }
  }

  // Requires mu_.
  void Observe(const log::Record& r) {
    ev::EventEnvelope e;
    if (!e.ParseFromString(r.value)) return;
    if (filters_[r.partition.value()].Observe(e) != command::Verdict::kCounted) return;
    if (e.payment_id().empty()) {
      orphans_.push_back(std::move(e));
      return;
    }
    Events& list = events_[e.payment_id()];
    if (!list.empty() && e.sequence() <= list.back().sequence()) return;  // re-publication
    list.push_back(std::move(e));
  }

  // The log is quiet when the commands and events topics have not grown for 300 ms (or
  // the timeout passed): a writer decides a command within milliseconds, a connector
  // answers a scripted or simulated gateway at once, so nothing is still on its way.
  void WaitQuiet(int timeout_ms) {
    if (timeout_ms <= 0 || !marks_reader_) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::vector<int64_t> last;
    auto stable_since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<int64_t> marks;
      for (log::TopicKind kind : {log::TopicKind::kCommands, log::TopicKind::kEvents}) {
        for (int p = 0; p < options_.partitions; ++p) {
          auto m = marks_reader_->QueryWatermarks(kafka_.Topic(kind), PartitionId{p}, 5'000);
          marks.push_back(m.ok() ? m.value().high.value() : -1);
        }
      }
      const auto now = std::chrono::steady_clock::now();
      if (marks != last) {
        last = std::move(marks);
        stable_since = now;
      } else if (now - stable_since >= std::chrono::milliseconds(300)) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  HarnessOptions options_;
  command::PlanBuilder plans_;
  connectors::GatewayRegistry registry_;
  std::map<std::string, std::shared_ptr<ScriptedGateway>> scripted_;
  SystemClock clock_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<log::EmbeddedBroker> broker_;
  log::KafkaOptions kafka_;
  std::string data_dir_;
  std::unique_ptr<log::Producer> producer_;
  std::vector<std::unique_ptr<log::PartitionReader>> readers_;
  std::unique_ptr<log::PartitionReader> marks_reader_;  // watermark queries only

  std::unique_ptr<runtime::Orchestrator> orchestrator_;
  std::atomic<bool> stop_{false};
  bool running_ = false;
  std::thread runner_;
  std::atomic<bool> follow_stop_{false};
  std::thread follower_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string run_error_;
  bool run_done_ = false;
  std::map<int32_t, command::EpochFilter> filters_;
  std::map<std::string, Events> events_;
  Events orphans_;
  runtime::CheckReport report_;
};

}  // namespace payorch::testing::e2e
