#include "log/embedded_broker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "log/internal/client.h"

namespace payorch::log {

using internal::ClientState;

namespace {

// librdkafka 2.0.2's mock thread can miss the wake-up of an operation that arrives right
// after it served the previous one; the operation then waits for the thread's 1 s poll
// timeout. Back-to-back calls hit that window almost surely, so leave a short gap.
void Pace() { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }

}  // namespace

struct EmbeddedBroker::Impl {
  ClientState state;
  internal::Handle host;  // the mock cluster lives in (and logs through) this handle
  rd_kafka_mock_cluster_t* cluster = nullptr;
  std::string bootstrap;
  int broker_count = 0;

  ~Impl() {
    if (cluster == nullptr) return;
    Pace();
    rd_kafka_mock_cluster_destroy(cluster);
  }
  Status Check(rd_kafka_resp_err_t err, const std::string& what) const {
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
    return internal::MakeError(err, what);
  }
};

StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(
    int broker_count, std::shared_ptr<spdlog::logger> logger) {
  if (broker_count < 1) return internal::ConfigError("broker_count must be at least 1");
  auto impl = std::make_unique<Impl>();
  KafkaOptions options;
  options.logger = std::move(logger);
  impl->state.logger = internal::LoggerFor(options);
  impl->state.owner = impl.get();
  StatusOr<rd_kafka_conf_t*> conf =
      internal::NewConf(options, internal::ClientKind::kMockHost, &impl->state,
                        {{"client.id", "payorch-embedded-broker"},
                         // Hides the host handle's own "no bootstrap.servers" notice.
                         {"log_level", "4"}});
  if (!conf.ok()) return conf.status();
  StatusOr<internal::Handle> host = internal::NewHandle(RD_KAFKA_PRODUCER, conf.value());
  if (!host.ok()) return host.status();
  impl->host = std::move(host).value();
  impl->cluster = rd_kafka_mock_cluster_new(impl->host.get(), broker_count);
  if (impl->cluster == nullptr) {
    return internal::MakeError(RD_KAFKA_RESP_ERR__FAIL, "cannot start the mock cluster");
  }
  impl->bootstrap = rd_kafka_mock_cluster_bootstraps(impl->cluster);
  impl->broker_count = broker_count;
  impl->state.logger->info("embedded broker up: {} broker(s) at {}", broker_count, impl->bootstrap);
  return std::unique_ptr<EmbeddedBroker>(new EmbeddedBroker(std::move(impl)));
}

EmbeddedBroker::EmbeddedBroker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmbeddedBroker::~EmbeddedBroker() = default;

const std::string& EmbeddedBroker::bootstrap() const { return impl_->bootstrap; }
int EmbeddedBroker::broker_count() const { return impl_->broker_count; }

Status EmbeddedBroker::CreateTopic(const std::string& name, int partitions,
                                   int replication_factor) {
  Pace();
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(impl_->cluster, name.c_str(), partitions, replication_factor);
  if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return Status::Ok();
  return impl_->Check(err, "create topic " + name);
}

Status EmbeddedBroker::CreateTopics(const KafkaOptions& options) {
  const int rf = std::min(options.replication_factor, impl_->broker_count);
  for (const std::string& topic : options.AllTopics()) {
    if (Status s = CreateTopic(topic, options.partitions, rf); !s.ok()) return s;
  }
  return Status::Ok();
}

Status EmbeddedBroker::SetBrokerDown(int32_t broker_id) {
  Pace();
  return impl_->Check(rd_kafka_mock_broker_set_down(impl_->cluster, broker_id),
                      "set broker " + std::to_string(broker_id) + " down");
}

Status EmbeddedBroker::SetBrokerUp(int32_t broker_id) {
  Pace();
  return impl_->Check(rd_kafka_mock_broker_set_up(impl_->cluster, broker_id),
                      "set broker " + std::to_string(broker_id) + " up");
}

Status EmbeddedBroker::SetRtt(int32_t broker_id, int rtt_ms) {
  Pace();
  return impl_->Check(rd_kafka_mock_broker_set_rtt(impl_->cluster, broker_id, rtt_ms),
                      "set rtt of broker " + std::to_string(broker_id));
}

Status EmbeddedBroker::SetPartitionLeader(const std::string& topic, int32_t partition,
                                          int32_t broker_id) {
  Pace();
  return impl_->Check(
      rd_kafka_mock_partition_set_leader(impl_->cluster, topic.c_str(), partition, broker_id),
      "set leader of " + topic + "[" + std::to_string(partition) + "]");
}

void EmbeddedBroker::PushRequestErrors(KafkaApi api, const std::vector<BrokerError>& errors) {
  std::vector<rd_kafka_resp_err_t> codes;
  codes.reserve(errors.size());
  for (BrokerError e : errors) codes.push_back(static_cast<rd_kafka_resp_err_t>(e));
  Pace();
  rd_kafka_mock_push_request_errors_array(impl_->cluster, static_cast<int16_t>(api), codes.size(),
                                          codes.data());
}

void EmbeddedBroker::FailNextProduces(int count, BrokerError error) {
  PushRequestErrors(KafkaApi::kProduce, std::vector<BrokerError>(count, error));
}

Status EmbeddedBroker::PushDelayedResponses(int32_t broker_id, KafkaApi api,
                                            const std::vector<BrokerError>& errors,
                                            const std::vector<int>& delays_ms) {
  if (errors.size() != delays_ms.size()) {
    return internal::ConfigError("PushDelayedResponses: errors and delays differ in length");
  }
  // The C API is variadic (error, rtt) pairs; push one pair per call, in order.
  for (size_t i = 0; i < errors.size(); ++i) {
    Pace();
    rd_kafka_resp_err_t err = rd_kafka_mock_broker_push_request_error_rtts(
        impl_->cluster, broker_id, static_cast<int16_t>(api), 1,
        static_cast<rd_kafka_resp_err_t>(errors[i]), delays_ms[i]);
    if (Status s = impl_->Check(err, "push delayed responses"); !s.ok()) return s;
  }
  return Status::Ok();
}

StatusOr<size_t> EmbeddedBroker::PendingResponses(int32_t broker_id, KafkaApi api) {
  Pace();
  size_t count = 0;
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_error_stack_cnt(impl_->cluster, broker_id,
                                                                 static_cast<int16_t>(api), &count);
  if (Status s = impl_->Check(err, "pending responses"); !s.ok()) return s;
  return count;
}

void EmbeddedBroker::ClearRequestErrors(KafkaApi api) {
  Pace();
  rd_kafka_mock_clear_request_errors(impl_->cluster, static_cast<int16_t>(api));
}

}  // namespace payorch::log
