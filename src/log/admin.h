// Admin: topic metadata and creation, on any Kafka-protocol cluster.
//
// EnsureTopics() is the one start-up path for both brokers: it lists the cluster's topics
// and creates the missing payorch topics with the CreateTopics API. The embedded broker
// does not implement CreateTopics (librdkafka 2.0.2's mock), so EmbeddedBroker creates the
// topics itself when it starts, and EnsureTopics() then finds them present.
//
//   auto admin = Admin::Create(options);
//   Status s = admin.value()->EnsureTopics(options);
//   StatusOr<int> n = admin.value()->PartitionCount(options.Topic(TopicKind::kEvents));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "log/options.h"
#include "log/record.h"
#include "log/status.h"

namespace payorch::log {

struct TopicInfo {
  std::string name;
  int partitions = 0;
};

class Admin {
 public:
  [[nodiscard]] static StatusOr<std::unique_ptr<Admin>> Create(const KafkaOptions& options);
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // Every topic of the cluster (internal ones excluded).
  StatusOr<std::vector<TopicInfo>> ListTopics(int timeout_ms = 10'000);
  // kFailedPrecondition _UNKNOWN_TOPIC if the topic does not exist (IsUnknownTopic).
  StatusOr<int> PartitionCount(const std::string& topic, int timeout_ms = 10'000);
  // The low and high watermarks of one partition, asked of its leader (no reader needed).
  StatusOr<Watermarks> QueryWatermarks(const std::string& topic, PartitionId partition,
                                       int timeout_ms = 10'000);
  // Creates `topic`; success if it already exists.
  Status CreateTopic(const std::string& topic, int partitions, int replication_factor,
                     int timeout_ms = 10'000);
  // Creates the missing topics of `options` (options.partitions, .replication_factor),
  // then checks that commands and events have the same partition count
  // (kFailedPrecondition if not).
  Status EnsureTopics(const KafkaOptions& options, int timeout_ms = 10'000);

  struct Impl;

 private:
  explicit Admin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True for the status of a topic the cluster does not have (not for a cluster that does not
// answer).
[[nodiscard]] bool IsUnknownTopic(const Status& s);

}  // namespace payorch::log
