// EmbeddedBroker: librdkafka's mock cluster, in this process. It speaks the Kafka protocol
// on 127.0.0.1 ephemeral ports, so any client (ours, kcat, Java) can connect to
// bootstrap(). The log lives in memory and dies with the object.
//
// What it does not do (librdkafka 2.0.2; see src/log/README.md): CreateTopics/DeleteTopics
// requests (use CreateTopic() here), waking long polls on new data (keep
// fetch.wait.max.ms small), de-duplicating retried batches of a non-transactional
// idempotent producer, enforcing transactions.
//
// Fault injection for reliability tests: brokers down/up, round-trip delays, and error
// codes returned to the next requests of an API.
//
//   auto broker = EmbeddedBroker::Start(/*broker_count=*/1);
//   KafkaOptions options;
//   options.bootstrap_servers = broker.value()->bootstrap();
//   Status s = broker.value()->CreateTopics(options);
//   broker.value()->PushRequestErrors(KafkaApi::kProduce,
//                                     {BrokerError::kNotLeaderOrFollower,
//                                      BrokerError::kRequestTimedOut});
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "log/options.h"
#include "log/status.h"

namespace payorch::log {

// Kafka protocol API keys that tests inject errors into.
enum class KafkaApi : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kApiVersions = 18,
  kInitProducerId = 22,
};

// Kafka protocol error codes a broker answers with.
enum class BrokerError : int16_t {
  kNone = 0,
  kUnknownTopicOrPartition = 3,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  kNetworkException = 13,
  kCoordinatorLoadInProgress = 14,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kNotEnoughReplicas = 19,
  kNotEnoughReplicasAfterAppend = 20,
  kRebalanceInProgress = 27,
  kTopicAuthorizationFailed = 29,
  kOutOfOrderSequenceNumber = 45,
  kInvalidProducerEpoch = 47,
};

class EmbeddedBroker {
 public:
  // Starts `broker_count` brokers, ids 1..broker_count. `logger` as in KafkaOptions.
  [[nodiscard]] static StatusOr<std::unique_ptr<EmbeddedBroker>> Start(
      int broker_count = 1, std::shared_ptr<spdlog::logger> logger = nullptr);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // "127.0.0.1:PORT[,127.0.0.1:PORT...]".
  const std::string& bootstrap() const;
  int broker_count() const;

  // Creates a topic (success if it exists with any partition count).
  Status CreateTopic(const std::string& name, int partitions, int replication_factor = 1);
  // Creates the four payorch topics of `options` with options.partitions.
  Status CreateTopics(const KafkaOptions& options);

  // A down broker drops its connections and refuses new ones until SetBrokerUp.
  Status SetBrokerDown(int32_t broker_id);
  Status SetBrokerUp(int32_t broker_id);
  // Delays every response of `broker_id` by rtt_ms.
  Status SetRtt(int32_t broker_id, int rtt_ms);
  // Moves a partition's leadership.
  Status SetPartitionLeader(const std::string& topic, int32_t partition, int32_t broker_id);

  // The next requests of `api`, on any broker, fail with `errors` in order, one each.
  // The failed requests have no effect (a failed Produce appends nothing).
  void PushRequestErrors(KafkaApi api, const std::vector<BrokerError>& errors);
  // The next `count` Produce requests fail with `error`.
  void FailNextProduces(int count, BrokerError error = BrokerError::kNotLeaderOrFollower);
  // The next requests of `api` on `broker_id` are answered with errors[i] after
  // delays_ms[i]. With kNone and a delay longer than the client's request timeout, the
  // request takes effect but the client sees a timeout (an "in doubt" request).
  Status PushDelayedResponses(int32_t broker_id, KafkaApi api,
                              const std::vector<BrokerError>& errors,
                              const std::vector<int>& delays_ms);
  // How many of the responses pushed with PushDelayedResponses(broker_id, api, ...) are
  // still waiting for a request (0: every one was served).
  [[nodiscard]] StatusOr<size_t> PendingResponses(int32_t broker_id, KafkaApi api);
  void ClearRequestErrors(KafkaApi api);

  struct Impl;

 private:
  explicit EmbeddedBroker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace payorch::log
