#include "log/shared_reader.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "common/thread_name.h"
#include "log/admin.h"

namespace payorch::log {

namespace {
// The reader's longest wait for the log or for room, so Stop() is seen promptly.
constexpr int kWaitMs = 100;
constexpr size_t kMaxPollRecords = 2'000;
using Batch = std::shared_ptr<const std::vector<Record>>;
}  // namespace

struct SharedReader::State {
  KafkaOptions kafka;
  std::string group_id;
  std::string topic;
  int32_t partitions = 0;
  size_t max_queued = kMaxQueuedRecords;

  std::mutex mu;
  std::condition_variable room;  // the reader waits here while a subscription is full
  std::vector<Subscription*> subs;
  // Lowest start of any subscriber per partition (-1: none yet).
  std::vector<int64_t> lowest;
  bool started = false;
  bool stop = false;
  std::thread thread;

  // Records every subscription can still take (0: one that paces is full). Detaches the
  // full detachable ones first.
  size_t Room();
  void Loop(std::unique_ptr<Consumer> consumer);
};

class SharedReader::Subscription final : public RecordSource {
 public:
  Subscription(std::shared_ptr<State> state, std::vector<int64_t> next, bool detachable)
      : state_(std::move(state)), detachable_(detachable), next_(std::move(next)) {}
  ~Subscription() override {
    {
      std::lock_guard lock(state_->mu);
      std::erase(state_->subs, this);
    }
    state_->room.notify_all();
  }

  Status PollBatch(size_t max_records, int timeout_ms, std::vector<Record>* out) override {
    // Takes whole or partial batches under the lock, copies the records outside it.
    struct Span {
      Batch batch;
      size_t begin;
      size_t end;
    };
    std::vector<Span> spans;
    Status error;
    {
      std::unique_lock lock(state_->mu);
      ready_.wait_for(lock, std::chrono::milliseconds(std::max(timeout_ms, 0)),
                      [this] { return !batches_.empty() || !error_.ok(); });
      std::swap(error, error_);
      size_t taken = 0;
      while (taken < max_records && !batches_.empty()) {
        const Batch& front = batches_.front();
        const size_t n = std::min(front->size() - front_index_, max_records - taken);
        spans.push_back({front, front_index_, front_index_ + n});
        taken += n;
        front_index_ += n;
        if (front_index_ == front->size()) {
          batches_.pop_front();
          front_index_ = 0;
        }
      }
      const bool was_full = queued_ >= state_->max_queued;
      queued_ -= taken;
      if (was_full && queued_ < state_->max_queued) state_->room.notify_all();
    }
    for (const Span& s : spans) {
      for (size_t i = s.begin; i < s.end; ++i) {
        const Record& r = (*s.batch)[i];
        int64_t& next = next_[static_cast<size_t>(r.partition.value())];
        if (r.offset.value() < next) continue;  // below this subscriber's start
        next = r.offset.value() + 1;
        out->push_back(r);
      }
    }
    return error;
  }

 private:
  friend struct SharedReader::State;
  std::shared_ptr<State> state_;
  const bool detachable_;  // dropped when full, instead of pacing the reader
  // Guarded by state_->mu:
  std::condition_variable ready_;
  std::deque<Batch> batches_;
  size_t front_index_ = 0;  // records of batches_.front() already taken
  size_t queued_ = 0;       // records queued and not yet taken
  Status error_;            // the reader's last failure, returned once
  // The subscriber's thread only: the next offset it takes of each partition.
  std::vector<int64_t> next_;
};

size_t SharedReader::State::Room() {
  // A full detachable subscription is dropped: it reads on its own from where it is.
  std::erase_if(subs, [this](Subscription* s) {
    if (!s->detachable_ || s->queued_ < max_queued) return false;
    s->batches_.clear();
    s->front_index_ = 0;
    s->queued_ = 0;
    s->error_ = Status(StatusCode::kResourceExhausted,
                       "shared reader: " + std::to_string(max_queued) +
                           " records behind, detached: read from your own position");
    s->ready_.notify_one();
    return true;
  });
  size_t fullest = 0;
  for (const Subscription* s : subs) fullest = std::max(fullest, s->queued_);
  return fullest >= max_queued ? 0 : max_queued - fullest;
}

void SharedReader::State::Loop(std::unique_ptr<Consumer> consumer) {
  NameThisThread("po-events");
  std::vector<Record> batch;
  while (true) {
    size_t free = 0;
    {
      std::unique_lock lock(mu);
      room.wait_for(lock, std::chrono::milliseconds(kWaitMs),
                    [this] { return stop || Room() > 0; });
      if (stop) break;
      free = Room();
      if (free == 0) continue;
    }
    batch.clear();
    Status s = consumer->PollBatch(std::min(free, kMaxPollRecords), kWaitMs, &batch);
    std::unique_lock lock(mu);
    if (!s.ok()) {
      for (Subscription* sub : subs) {
        sub->error_ = s;
        sub->ready_.notify_one();
      }
      // Back off before the next try (or until Stop).
      room.wait_for(lock, std::chrono::milliseconds(kWaitMs), [this] { return stop; });
    }
    if (batch.empty()) continue;
    const auto shared = std::make_shared<const std::vector<Record>>(std::move(batch));
    batch = std::vector<Record>();
    for (Subscription* sub : subs) {
      sub->batches_.push_back(shared);
      sub->queued_ += shared->size();
      sub->ready_.notify_one();
    }
  }
  consumer->Close().IgnoreError();  // nothing committed: the subscribers keep their own
}

SharedReader::SharedReader(std::shared_ptr<State> state) : state_(std::move(state)) {}

SharedReader::~SharedReader() { Stop(); }

StatusOr<std::unique_ptr<SharedReader>> SharedReader::Open(const KafkaOptions& kafka,
                                                           std::string group_id, std::string topic,
                                                           size_t max_queued_records) {
  auto admin = Admin::Create(kafka);
  if (!admin.ok()) return admin.status();
  auto count = admin.value()->PartitionCount(topic);
  if (!count.ok()) return count.status();
  auto state = std::make_shared<State>();
  state->kafka = kafka;
  state->group_id = std::move(group_id);
  state->topic = std::move(topic);
  state->partitions = count.value();
  state->max_queued = std::max<size_t>(max_queued_records, 1);
  state->lowest.assign(static_cast<size_t>(count.value()), -1);
  return std::unique_ptr<SharedReader>(new SharedReader(std::move(state)));
}

StatusOr<std::unique_ptr<RecordSource>> SharedReader::Subscribe(
    const std::vector<PartitionOffset>& starts, bool detachable) {
  std::vector<int64_t> next(static_cast<size_t>(state_->partitions), 0);
  for (const PartitionOffset& po : starts) {
    const int32_t p = po.partition.value();
    if (p < 0 || p >= state_->partitions) {
      return Status(StatusCode::kInvalidArgument,
                    "shared reader: no partition " + std::to_string(p) + " in " + state_->topic);
    }
    if (po.offset != kOffsetBeginning && po.offset.value() < 0) {
      return Status(StatusCode::kInvalidArgument,
                    "shared reader: a start must be an offset or the beginning");
    }
    next[static_cast<size_t>(p)] = std::max<int64_t>(po.offset.value(), 0);
  }
  std::lock_guard lock(state_->mu);
  if (state_->started) {
    return Status(StatusCode::kFailedPrecondition, "shared reader: subscribe after start");
  }
  for (size_t p = 0; p < next.size(); ++p) {
    int64_t& lowest = state_->lowest[p];
    lowest = lowest < 0 ? next[p] : std::min(lowest, next[p]);
  }
  auto sub = std::make_unique<Subscription>(state_, std::move(next), detachable);
  state_->subs.push_back(sub.get());
  return std::unique_ptr<RecordSource>(std::move(sub));
}

Status SharedReader::Start() {
  std::vector<PartitionOffset> starts;
  std::vector<PartitionId> partitions;
  {
    std::lock_guard lock(state_->mu);
    if (state_->started) {
      return Status(StatusCode::kFailedPrecondition, "shared reader: started twice");
    }
    state_->started = true;
    for (int32_t p = 0; p < state_->partitions; ++p) {
      const int64_t lowest = state_->lowest[static_cast<size_t>(p)];
      starts.push_back({PartitionId{p}, lowest > 0 ? Offset{lowest} : kOffsetBeginning});
      partitions.push_back(PartitionId{p});
    }
  }
  StartAt listener(starts);  // runs inside CreateAssigned only
  auto consumer = Consumer::CreateAssigned(state_->kafka, state_->group_id, state_->topic,
                                           partitions, &listener);
  if (!consumer.ok()) return consumer.status();
  state_->thread = std::thread([state = state_.get(), c = std::move(consumer).value()]() mutable {
    state->Loop(std::move(c));
  });
  return Status::Ok();
}

void SharedReader::Stop() {
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->room.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
}

StatusOr<std::unique_ptr<RecordSource>> ReadFrom(SharedReader* shared, const KafkaOptions& kafka,
                                                 const std::string& group_id,
                                                 const std::string& topic,
                                                 const std::vector<PartitionOffset>& starts,
                                                 bool detachable) {
  if (shared != nullptr) return shared->Subscribe(starts, detachable);
  std::vector<PartitionId> partitions;
  partitions.reserve(starts.size());
  for (const PartitionOffset& po : starts) partitions.push_back(po.partition);
  StartAt listener(starts);  // runs inside CreateAssigned only
  auto consumer = Consumer::CreateAssigned(kafka, group_id, topic, partitions, &listener);
  if (!consumer.ok()) return consumer.status();
  return std::unique_ptr<RecordSource>(std::move(consumer).value());
}

}  // namespace payorch::log
