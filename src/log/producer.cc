#include "log/producer.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <string>
#include <unordered_map>

#include "log/internal/client.h"
#include "log/partitioner.h"

namespace payorch::log {

using internal::ClientState;

namespace {

struct ProducerImpl {
  ClientState state;
  internal::Handle rk;
  bool closing = false;  // destructor: drop callbacks instead of running them
  struct Count {
    int32_t partitions = 0;
    int64_t read_at_ms = 0;
  };
  std::unordered_map<std::string, Count> partition_counts;  // by topic, from metadata
};

constexpr int kQueueFullWaitMs = 5000;

void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  auto* state = static_cast<ClientState*>(opaque);
  auto* impl = static_cast<ProducerImpl*>(state->owner);
  std::unique_ptr<DeliveryCallback> cb(static_cast<DeliveryCallback*>(msg->_private));
  if (!cb || impl->closing) return;
  Delivery d{PartitionId(msg->partition), Offset(msg->offset), Status::Ok()};
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) d.status = internal::DeliveryError(msg);
  (*cb)(d);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Partition counts are re-read this often, so a topic that grows is followed.
constexpr int64_t kPartitionCountTtlMs = 30'000;
constexpr int kMetadataTimeoutMs = 2'000;

// The topic's partition count from the cache or the cluster's metadata; 0 if unknown.
int32_t PartitionCount(ProducerImpl& impl, const std::string& topic) {
  const int64_t now = NowMs();
  auto it = impl.partition_counts.find(topic);
  if (it != impl.partition_counts.end() && now - it->second.read_at_ms < kPartitionCountTtlMs) {
    return it->second.partitions;
  }
  rd_kafka_t* rk = impl.rk.get();
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rkt == nullptr) return it == impl.partition_counts.end() ? 0 : it->second.partitions;
  const rd_kafka_metadata_t* md = nullptr;
  int32_t count = 0;
  if (rd_kafka_metadata(rk, 0, rkt, &md, kMetadataTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      count = md->topics[0].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(rkt);
  if (count <= 0) return it == impl.partition_counts.end() ? 0 : it->second.partitions;
  impl.partition_counts[topic] = {count, now};
  return count;
}

// The librdkafka producer behind Producer::Create().
class KafkaProducer final : public Producer {
 public:
  explicit KafkaProducer(std::unique_ptr<ProducerImpl> impl) : impl_(std::move(impl)) {}
  ~KafkaProducer() override;
  using Producer::Produce;
  Status Produce(const OutRecord& record, DeliveryCallback on_delivery) override;
  Status Poll(int timeout_ms) override;
  Status Flush(int timeout_ms) override;
  int InFlight() const override;

 private:
  std::unique_ptr<ProducerImpl> impl_;
};

}  // namespace

StatusOr<std::unique_ptr<Producer>> Producer::Create(const KafkaOptions& options) {
  auto impl = std::make_unique<ProducerImpl>();
  impl->state.logger = internal::LoggerFor(options);
  impl->state.owner = impl.get();
  StatusOr<rd_kafka_conf_t*> conf =
      internal::NewConf(options, internal::ClientKind::kProducer, &impl->state, {});
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf.value(), OnDelivery);
  StatusOr<internal::Handle> rk = internal::NewHandle(RD_KAFKA_PRODUCER, conf.value());
  if (!rk.ok()) return rk.status();
  impl->rk = std::move(rk).value();
  return std::unique_ptr<Producer>(new KafkaProducer(std::move(impl)));
}

KafkaProducer::~KafkaProducer() {
  impl_->closing = true;
  rd_kafka_t* rk = impl_->rk.get();
  rd_kafka_purge(
      rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING);
  // Frees the callbacks of purged records (they are settled promptly after a purge).
  const int64_t deadline = NowMs() + 2000;
  while (rd_kafka_outq_len(rk) > 0 && NowMs() < deadline) rd_kafka_poll(rk, 10);
  rd_kafka_poll(rk, 0);
}

Status KafkaProducer::Produce(const OutRecord& record, DeliveryCallback on_delivery) {
  if (auto fatal = impl_->state.Fatal()) return *fatal;
  rd_kafka_t* rk = impl_->rk.get();
  // A keyed record is placed here (log/partitioner.h), not by librdkafka's partitioner.
  int32_t partition = record.partition.value();
  if (partition == kAnyPartition.value() && !record.key.empty()) {
    if (const int32_t n = PartitionCount(*impl_, record.topic); n > 0) {
      partition = PartitionForKey(record.key, n).value();
    }
  }
  auto* cb = on_delivery ? new DeliveryCallback(std::move(on_delivery)) : nullptr;
  const int64_t deadline = NowMs() + kQueueFullWaitMs;
  while (true) {
    rd_kafka_headers_t* headers = nullptr;
    if (!record.headers.empty()) {
      headers = rd_kafka_headers_new(record.headers.size());
      for (const Header& h : record.headers) {
        rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(record.key.empty() ? nullptr : record.key.data(), record.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(record.value.data()), record.value.size()),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(cb), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
    if (headers != nullptr) rd_kafka_headers_destroy(headers);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && NowMs() < deadline) {
      rd_kafka_poll(rk, 1);
      continue;
    }
    delete cb;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      if (auto fatal = impl_->state.Fatal()) return *fatal;
    }
    return internal::MakeError(
        err, "produce to " + record.topic + "[" + std::to_string(partition) + "]");
  }
}

Status KafkaProducer::Poll(int timeout_ms) {
  rd_kafka_poll(impl_->rk.get(), timeout_ms);
  if (auto fatal = impl_->state.Fatal()) return *fatal;
  return Status::Ok();
}

Status KafkaProducer::Flush(int timeout_ms) {
  rd_kafka_resp_err_t err = rd_kafka_flush(impl_->rk.get(), timeout_ms);
  if (auto fatal = impl_->state.Fatal()) return *fatal;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return internal::MakeError(err, std::to_string(InFlight()) + " records still in flight after " +
                                        std::to_string(timeout_ms) + " ms");
  }
  return Status::Ok();
}

StatusOr<Offset> Producer::ProduceSync(const OutRecord& record, int timeout_ms) {
  struct Outcome {
    bool done = false;
    Delivery delivery;
  };
  // Shared with the callback, which may outlive this call if the wait times out.
  auto outcome = std::make_shared<Outcome>();
  Status s = Produce(record, [outcome](const Delivery& d) {
    outcome->done = true;
    outcome->delivery = d;
  });
  if (!s.ok()) return s;
  const int64_t deadline = NowMs() + timeout_ms;
  while (!outcome->done) {
    const int64_t left = deadline - NowMs();
    if (left <= 0) {
      return Status(StatusCode::kAborted,
                    "_TIMED_OUT: delivery to " + record.topic + " not confirmed in " +
                        std::to_string(timeout_ms) + " ms; the record may still be written",
                    RD_KAFKA_RESP_ERR__TIMED_OUT);
    }
    if (Status p = Poll(static_cast<int>(std::min<int64_t>(left, 100))); !p.ok()) return p;
  }
  if (!outcome->delivery.status.ok()) return outcome->delivery.status;
  return outcome->delivery.offset;
}

int KafkaProducer::InFlight() const { return rd_kafka_outq_len(impl_->rk.get()); }

}  // namespace payorch::log
