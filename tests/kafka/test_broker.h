// TestBroker: the broker a test runs against, chosen by the environment, so the same
// end-to-end, crash and fencing tests run on the embedded broker and on real Kafka.
//
//   PAYORCH_TEST_BROKER=embedded (default)  librdkafka's mock cluster, in this process;
//                                           the topics are created by the mock.
//   PAYORCH_TEST_BROKER=kafka               a running Apache Kafka at
//     PAYORCH_TEST_BOOTSTRAP=host:port[,...]  (e.g. scripts/kafka.sh start; ctest's
//                                           `kafka` label starts one); every TestBroker
//                                           gets its own topic prefix, and its topics are
//                                           created with the CreateTopics API (log::Admin).
//     PAYORCH_TEST_REPLICATION=N            replication factor of those topics (default 1)
//
//   log::KafkaOptions base;                     // partitions, logger, properties
//   base.partitions = 4;
//   TestBroker broker = TestBroker::Start(base, /*broker_count=*/1);
//   ASSERT_TRUE(broker.ok()) << broker.error;
//   log::KafkaOptions kafka = broker.kafka;      // base + bootstrap (+ topic prefix)
//   if (broker.embedded) broker.embedded->SetBrokerDown(...);  // fault injection: embedded only
//
// Tests that need the mock's fault injection GTEST_SKIP() when `embedded` is null.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "log/admin.h"
#include "log/embedded_broker.h"
#include "log/options.h"

namespace payorch::testing {

// True when PAYORCH_TEST_BROKER=kafka.
inline bool OnRealKafka() {
  const char* v = std::getenv("PAYORCH_TEST_BROKER");
  return v != nullptr && std::string(v) == "kafka";
}

// A topic prefix no other test process or TestBroker uses: "t<pid>-<n>-<random>.".
inline std::string UniqueTopicPrefix() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return "t" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(rd() % 100000) + ".";
}

struct TestBroker {
  std::string error;  // "" when the broker is up and the topics exist
  log::KafkaOptions kafka;
  std::unique_ptr<log::EmbeddedBroker> embedded;  // null on real Kafka

  bool ok() const { return error.empty(); }

  // The embedded broker with `broker_count` brokers, or the real cluster; the four payorch
  // topics (base.partitions, base.replication_factor on Kafka unless
  // PAYORCH_TEST_REPLICATION says otherwise) exist when it returns.
  static TestBroker Start(const log::KafkaOptions& base, int broker_count = 1) {
    TestBroker b;
    b.kafka = base;
    if (!OnRealKafka()) {
      auto broker = log::EmbeddedBroker::Start(broker_count, base.logger);
      if (!broker.ok()) {
        b.error = "embedded broker: " + broker.status().ToString();
        return b;
      }
      b.embedded = std::move(broker.value());
      b.kafka.bootstrap_servers = b.embedded->bootstrap();
      if (auto st = b.embedded->CreateTopics(b.kafka); !st.ok())
        b.error = "topics: " + st.ToString();
      return b;
    }
    const char* bootstrap = std::getenv("PAYORCH_TEST_BOOTSTRAP");
    if (bootstrap == nullptr || *bootstrap == '\0') {
      b.error = "PAYORCH_TEST_BROKER=kafka needs PAYORCH_TEST_BOOTSTRAP=host:port";
      return b;
    }
    b.kafka.bootstrap_servers = bootstrap;
    b.kafka.topic_prefix = UniqueTopicPrefix();
    if (const char* rf = std::getenv("PAYORCH_TEST_REPLICATION"); rf != nullptr) {
      b.kafka.replication_factor = std::atoi(rf);
    }
    auto admin = log::Admin::Create(b.kafka);
    if (!admin.ok()) {
      b.error = "admin: " + admin.status().ToString();
      return b;
    }
    if (auto st = admin.value()->EnsureTopics(b.kafka, 30'000); !st.ok()) {
      b.error = "topics: " + st.ToString();
    }
    return b;
  }
};

// Consumer groups of one test on a shared real cluster: prefixed like its topics, so
// tests do not join each other's groups. Unchanged on the embedded broker.
inline std::string GroupName(const log::KafkaOptions& kafka, const std::string& group) {
  return kafka.topic_prefix + group;
}

}  // namespace payorch::testing
