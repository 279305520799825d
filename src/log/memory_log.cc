#include "log/memory_log.h"

#include <utility>

#include "log/partitioner.h"

namespace payorch::log {

namespace {

// librdkafka's codes for the errors a broker-less log can still have, for logs only.
constexpr int kTimedOut = -185;     // RD_KAFKA_RESP_ERR__TIMED_OUT
constexpr int kTransport = -195;    // RD_KAFKA_RESP_ERR__TRANSPORT
constexpr int kUnknownTopic = 3;    // RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
constexpr int kMsgTimedOut = -192;  // RD_KAFKA_RESP_ERR__MSG_TIMED_OUT
constexpr int kGapless = -148;      // RD_KAFKA_RESP_ERR__GAPLESS_GUARANTEE

Status Down(const std::string& what) {
  return Status(StatusCode::kUnavailable, "_TRANSPORT: memory log down: " + what, kTransport);
}

}  // namespace

class MemoryProducer final : public Producer {
 public:
  explicit MemoryProducer(MemoryLog* log) : log_(log) {}
  using Producer::Produce;
  Status Produce(const OutRecord& record, DeliveryCallback on_delivery) override {
    queue_.push_back({record, std::move(on_delivery)});
    return Status::Ok();
  }
  Status Poll(int /*timeout_ms*/) override {
    SettleAll();
    return Status::Ok();
  }
  Status Flush(int /*timeout_ms*/) override {
    SettleAll();
    return Status::Ok();
  }
  int InFlight() const override { return static_cast<int>(queue_.size()); }

 private:
  struct Queued {
    OutRecord record;
    DeliveryCallback done;
  };
  // A gapless series: once a record is not written, no later one of this producer is.
  void SettleAll() {
    while (!queue_.empty()) {
      Queued q = std::move(queue_.front());
      queue_.pop_front();
      Delivery d{q.record.partition, Offset{-1}, LogStatus::Ok()};
      if (broken_) {
        d.status = Status(StatusCode::kAborted,
                          "_GAPLESS_GUARANTEE: an earlier record of this producer was not written",
                          kGapless);
      } else {
        d = log_->Settle(q.record);
        broken_ = !d.status.ok() && d.offset.value() < 0;
      }
      if (q.done) q.done(d);
    }
  }
  MemoryLog* log_;
  bool broken_ = false;
  std::deque<Queued> queue_;
};

namespace {

class MemoryReader final : public PartitionReader {
 public:
  MemoryReader(MemoryLog* log, std::string topic, PartitionId partition, Offset start)
      : log_(log), topic_(std::move(topic)), partition_(partition), position_(start) {}
  using PartitionReader::QueryWatermarks;
  StatusOr<Watermarks> QueryWatermarks(const std::string& topic, PartitionId partition,
                                       int /*timeout_ms*/) override {
    if (log_->down()) return Down("watermarks of " + topic);
    return Watermarks{Offset{0},
                      Offset{static_cast<int64_t>(log_->Records(topic, partition).size())}};
  }
  Status ReadUntil(Offset end, const RecordFn& fn, int timeout_ms) override {
    if (log_->down()) return Down("read " + topic_);
    const std::vector<Record>& records = log_->Records(topic_, partition_);
    while (position_ < end && position_.value() < static_cast<int64_t>(records.size())) {
      const Record& r = records[static_cast<size_t>(position_.value())];
      position_ = Offset{position_.value() + 1};
      fn(r);
    }
    if (position_ < end) {
      return Status(StatusCode::kUnavailable,
                    "_TIMED_OUT: reading " + topic_ + " reached offset " +
                        std::to_string(position_.value()) + " of " + std::to_string(end.value()) +
                        " in " + std::to_string(timeout_ms) + " ms",
                    kTimedOut);
    }
    return Status::Ok();
  }
  Status Poll(size_t max_records, int /*timeout_ms*/, std::vector<Record>* out) override {
    if (log_->down()) return Down("read " + topic_);
    const std::vector<Record>& records = log_->Records(topic_, partition_);
    for (size_t n = 0; n < max_records && position_.value() < static_cast<int64_t>(records.size());
         ++n) {
      out->push_back(records[static_cast<size_t>(position_.value())]);
      position_ = Offset{position_.value() + 1};
    }
    return Status::Ok();
  }
  Offset position() const override { return position_; }
  Status Seek(Offset offset) override {
    if (offset == kOffsetBeginning) {
      position_ = Offset{0};
    } else if (offset == kOffsetEnd) {
      position_ = Offset{static_cast<int64_t>(log_->Records(topic_, partition_).size())};
    } else {
      position_ = offset;
    }
    return Status::Ok();
  }
  const std::string& topic() const override { return topic_; }
  PartitionId partition() const override { return partition_; }

 private:
  MemoryLog* log_;
  std::string topic_;
  PartitionId partition_;
  Offset position_;
};

}  // namespace

MemoryLog::MemoryLog(const KafkaOptions& options) {
  for (TopicKind kind : kAllTopicKinds) CreateTopic(options.Topic(kind), options.partitions);
}

MemoryLog::~MemoryLog() = default;

void MemoryLog::CreateTopic(const std::string& topic, int partitions) {
  auto& parts = topics_[topic];
  if (parts.empty()) parts.resize(static_cast<size_t>(std::max(partitions, 1)));
}

std::vector<Record>* MemoryLog::Find(const std::string& topic, int32_t partition) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) return nullptr;
  if (partition < 0 || static_cast<size_t>(partition) >= it->second.size()) return nullptr;
  return &it->second[static_cast<size_t>(partition)];
}

int32_t MemoryLog::PartitionOf(const OutRecord& record) const {
  if (record.partition != kAnyPartition) return record.partition.value();
  auto it = topics_.find(record.topic);
  if (it == topics_.end()) return -1;
  if (record.key.empty()) return 0;
  return PartitionForKey(record.key, static_cast<int32_t>(it->second.size())).value();
}

int64_t MemoryLog::Append(const OutRecord& record, int64_t timestamp_ms) {
  const int32_t partition = PartitionOf(record);
  std::vector<Record>* records = Find(record.topic, partition);
  if (records == nullptr) return -1;
  const auto offset = static_cast<int64_t>(records->size());
  records->push_back(Record{record.topic, PartitionId{partition}, Offset{offset}, timestamp_ms,
                            record.key, record.value, record.headers});
  return offset;
}

const std::vector<Record>& MemoryLog::Records(const std::string& topic,
                                              PartitionId partition) const {
  static const std::vector<Record> kNone;
  auto it = topics_.find(topic);
  if (it == topics_.end() || partition.value() < 0 ||
      static_cast<size_t>(partition.value()) >= it->second.size()) {
    return kNone;
  }
  return it->second[static_cast<size_t>(partition.value())];
}

std::unique_ptr<Producer> MemoryLog::NewProducer() {
  return std::make_unique<MemoryProducer>(this);
}

void MemoryLog::PushProduceFaults(const std::vector<ProduceFault>& faults) {
  faults_.insert(faults_.end(), faults.begin(), faults.end());
}

Delivery MemoryLog::Settle(const OutRecord& record) {
  Delivery d{record.partition, Offset{-1}, Status::Ok()};
  if (down_) {
    d.status = Down("produce to " + record.topic);
    return d;
  }
  ProduceFault fault = ProduceFault::kNone;
  if (!faults_.empty()) {
    fault = faults_.front();
    faults_.pop_front();
  }
  if (fault == ProduceFault::kRefused) {
    d.status = Down("produce to " + record.topic);
    return d;
  }
  if (fault == ProduceFault::kInDoubtLost) {
    d.status = Status(StatusCode::kAborted,
                      "_MSG_TIMED_OUT: delivery to " + record.topic + " in doubt", kMsgTimedOut);
    return d;
  }
  d.partition = PartitionId{PartitionOf(record)};
  const int64_t offset = Append(record, now_ms_);
  if (offset < 0) {
    d.status = Status(StatusCode::kFailedPrecondition,
                      "UNKNOWN_TOPIC_OR_PART: produce to " + record.topic, kUnknownTopic);
    return d;
  }
  d.offset = Offset{offset};
  if (fault == ProduceFault::kDuplicated) Append(record, now_ms_);
  if (fault == ProduceFault::kInDoubtWritten) {
    d.status = Status(StatusCode::kAborted,
                      "_MSG_TIMED_OUT: delivery to " + record.topic + " in doubt", kMsgTimedOut);
  }
  return d;
}

StatusOr<std::unique_ptr<PartitionReader>> MemoryLog::OpenReader(const std::string& topic,
                                                                 PartitionId partition,
                                                                 Offset start) {
  if (topics_.count(topic) == 0) {
    return Status(StatusCode::kFailedPrecondition, "UNKNOWN_TOPIC_OR_PART: " + topic,
                  kUnknownTopic);
  }
  std::unique_ptr<PartitionReader> reader =
      std::make_unique<MemoryReader>(this, topic, partition, Offset{0});
  if (Status s = reader->Seek(start); !s.ok()) return s;
  return reader;
}

StatusOr<int> MemoryLog::PartitionCount(const std::string& topic) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) {
    return Status(StatusCode::kFailedPrecondition, "UNKNOWN_TOPIC_OR_PART: " + topic,
                  kUnknownTopic);
  }
  return static_cast<int>(it->second.size());
}

}  // namespace payorch::log
