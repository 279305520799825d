#include "log/partition_reader.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>

#include "log/admin.h"
#include "log/internal/client.h"

namespace payorch::log {

using internal::ClientState;

namespace {

constexpr size_t kBatch = 4096;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Uses librdkafka's simple (group-less) consumer: consume_start on a private queue.
struct ReaderImpl {
  ClientState state;
  internal::Handle rk;
  rd_kafka_topic_t* rkt = nullptr;
  rd_kafka_queue_t* queue = nullptr;
  std::string topic;
  PartitionId partition;
  Offset position;
  bool started = false;
  // Fetched, not yet handed out, in offset order.
  std::deque<rd_kafka_message_t*> pending;
  std::vector<rd_kafka_message_t*> batch = std::vector<rd_kafka_message_t*>(kBatch);
  Record record;  // reused

  ~ReaderImpl() {
    DropPending();
    Stop();
    if (queue != nullptr) rd_kafka_queue_destroy(queue);
    if (rkt != nullptr) rd_kafka_topic_destroy(rkt);
  }

  void DropPending() {
    for (rd_kafka_message_t* m : pending) rd_kafka_message_destroy(m);
    pending.clear();
  }

  void Stop() {
    if (started) rd_kafka_consume_stop(rkt, partition.value());
    started = false;
  }

  Status Start() {
    if (rd_kafka_consume_start_queue(rkt, partition.value(), position.value(), queue) == -1) {
      return internal::MakeError(rd_kafka_last_error(), "start reading " + Name());
    }
    started = true;
    return Status::Ok();
  }

  std::string Name() const { return topic + "[" + std::to_string(partition.value()) + "]"; }

  // The next fetched message, waiting up to timeout_ms for one; nullptr if none came.
  rd_kafka_message_t* Peek(int timeout_ms) {
    if (pending.empty()) {
      ssize_t n = internal::ConsumeAvailable(queue, timeout_ms, batch.data(), batch.size());
      for (ssize_t i = 0; i < n; ++i) pending.push_back(batch[i]);
    }
    return pending.empty() ? nullptr : pending.front();
  }

  void Pop() {
    rd_kafka_message_destroy(pending.front());
    pending.pop_front();
  }

  // Consumes the front message if it is not a record (EOF, error) or a stale duplicate.
  // Returns true if it did; an error worth returning goes to *status.
  bool SkipNonRecord(rd_kafka_message_t* m, Status* status) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // Everything before the high watermark at fetch time has been handed out.
      if (m->offset > position.value()) position = Offset(m->offset);
      Pop();
      return true;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Status e = internal::MakeError(m->err, "read " + Name());
      Pop();
      if (IsFatal(e)) {
        *status = e;
      } else {
        state.logger->warn("{}", e.ToString());
      }
      return true;
    }
    if (m->offset < position.value()) {  // from before a seek, or refetched
      Pop();
      return true;
    }
    return false;
  }
};

namespace {

class KafkaReader final : public PartitionReader {
 public:
  explicit KafkaReader(std::unique_ptr<ReaderImpl> impl) : impl_(std::move(impl)) {}
  using PartitionReader::QueryWatermarks;
  StatusOr<Watermarks> QueryWatermarks(const std::string& topic, PartitionId partition,
                                       int timeout_ms) override;
  Status ReadUntil(Offset end, const RecordFn& fn, int timeout_ms) override;
  Status Poll(size_t max_records, int timeout_ms, std::vector<Record>* out) override;
  Offset position() const override { return impl_->position; }
  Status Seek(Offset offset) override;
  const std::string& topic() const override { return impl_->topic; }
  PartitionId partition() const override { return impl_->partition; }

 private:
  std::unique_ptr<ReaderImpl> impl_;
};

}  // namespace

StatusOr<std::unique_ptr<PartitionReader>> PartitionReader::Open(const KafkaOptions& options,
                                                                 const std::string& topic,
                                                                 PartitionId partition,
                                                                 Offset start) {
  auto impl = std::make_unique<ReaderImpl>();
  impl->state.logger = internal::LoggerFor(options);
  impl->state.owner = impl.get();
  impl->topic = topic;
  impl->partition = partition;
  StatusOr<rd_kafka_conf_t*> conf =
      internal::NewConf(options, internal::ClientKind::kReader, &impl->state, {});
  if (!conf.ok()) return conf.status();
  StatusOr<internal::Handle> rk = internal::NewHandle(RD_KAFKA_CONSUMER, conf.value());
  if (!rk.ok()) return rk.status();
  impl->rk = std::move(rk).value();
  impl->rkt = rd_kafka_topic_new(impl->rk.get(), topic.c_str(), nullptr);
  if (impl->rkt == nullptr) return internal::MakeError(rd_kafka_last_error(), "topic " + topic);
  impl->queue = rd_kafka_queue_new(impl->rk.get());
  std::unique_ptr<PartitionReader> reader(new KafkaReader(std::move(impl)));
  if (Status s = reader->Seek(start); !s.ok()) return s;
  return reader;
}

StatusOr<Watermarks> KafkaReader::QueryWatermarks(const std::string& topic, PartitionId partition,
                                                  int timeout_ms) {
  return internal::QueryWatermarks(impl_->rk.get(), topic, partition, timeout_ms);
}

Status KafkaReader::Seek(Offset offset) {
  Offset target = offset;
  if (offset == kOffsetBeginning || offset == kOffsetEnd) {
    StatusOr<Watermarks> wm = QueryWatermarks();
    if (!wm.ok()) return wm.status();
    target = offset == kOffsetBeginning ? wm.value().low : wm.value().high;
  } else if (offset.value() < 0) {
    return internal::ConfigError("cannot seek " + impl_->Name() + " to offset " +
                                 std::to_string(offset.value()));
  }
  impl_->DropPending();
  impl_->Stop();
  impl_->position = target;
  return impl_->Start();
}

Status KafkaReader::ReadUntil(Offset end, const RecordFn& fn, int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  Status status;
  while (impl_->position < end) {
    const int64_t left = deadline - NowMs();
    if (left <= 0) {
      return Status(StatusCode::kUnavailable,
                    "_TIMED_OUT: reading " + impl_->Name() + " reached offset " +
                        std::to_string(impl_->position.value()) + " of " +
                        std::to_string(end.value()) + " in " + std::to_string(timeout_ms) + " ms",
                    RD_KAFKA_RESP_ERR__TIMED_OUT);
    }
    rd_kafka_message_t* m = impl_->Peek(static_cast<int>(std::min<int64_t>(left, 100)));
    if (m == nullptr) continue;
    if (impl_->SkipNonRecord(m, &status)) {
      if (!status.ok()) return status;
      continue;
    }
    if (m->offset >= end.value()) {
      // No record lies between position and end (markers or compacted away). The record
      // stays pending for the next read.
      impl_->position = Offset(m->offset);
      break;
    }
    internal::ToRecord(m, impl_->topic, &impl_->record);
    impl_->position = Offset(m->offset + 1);
    impl_->Pop();
    fn(impl_->record);
  }
  return Status::Ok();
}

StatusOr<Offset> PartitionReader::ReadToEnd(const RecordFn& fn, int timeout_ms) {
  StatusOr<Watermarks> wm = QueryWatermarks(timeout_ms);
  if (!wm.ok()) return wm.status();
  if (Status s = ReadUntil(wm.value().high, fn, timeout_ms); !s.ok()) return s;
  return wm.value().high;
}

Status KafkaReader::Poll(size_t max_records, int timeout_ms, std::vector<Record>* out) {
  const int64_t deadline = NowMs() + timeout_ms;
  size_t n = 0;
  Status status;
  while (n < max_records) {
    const int64_t left = n == 0 ? deadline - NowMs() : 0;
    rd_kafka_message_t* m = impl_->Peek(static_cast<int>(std::max<int64_t>(left, 0)));
    if (m == nullptr) {
      if (n > 0 || left <= 0) break;
      continue;
    }
    if (impl_->SkipNonRecord(m, &status)) {
      if (!status.ok()) return status;
      continue;
    }
    internal::ToRecord(m, impl_->topic, &out->emplace_back());
    impl_->position = Offset(m->offset + 1);
    impl_->Pop();
    ++n;
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<PartitionReader>> KafkaCluster::OpenReader(const std::string& topic,
                                                                    PartitionId partition,
                                                                    Offset start) {
  return PartitionReader::Open(options_, topic, partition, start);
}

StatusOr<int> KafkaCluster::PartitionCount(const std::string& topic) {
  auto admin = Admin::Create(options_);
  if (!admin.ok()) return admin.status();
  return admin.value()->PartitionCount(topic);
}

}  // namespace payorch::log
