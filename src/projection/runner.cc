#include "projection/runner.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <iterator>
#include <mutex>
#include <stop_token>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "common/thread_name.h"
#include "log/admin.h"
#include "log/consumer.h"
#include "log/partition_reader.h"

namespace payorch::projection {

namespace {
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

ProjectionRunner::ProjectionRunner(ProjectionStore* store, RunnerOptions options)
    : store_(store), options_(std::move(options)), projector_(store, options_.projector) {}

ProjectionRunner::~ProjectionRunner() = default;

std::string ProjectionRunner::Open() {
  const std::string topic = options_.kafka.Topic(log::TopicKind::kEvents);
  auto admin = log::Admin::Create(options_.kafka);
  if (!admin.ok()) return "admin: " + admin.status().ToString();
  admin_ = std::move(admin).value();
  auto count = admin_->PartitionCount(topic);
  if (!count.ok()) return topic + ": " + count.status().ToString();
  const std::map<int32_t, Checkpoint> checkpoints = store_->LoadCheckpoints();
  if (checkpoints.empty() && store_->Empty()) projector_.AssumeEmptySource();
  std::vector<PartitionPosition> positions;
  for (int32_t p = 0; p < count.value(); ++p) {
    Checkpoint c;
    if (auto it = checkpoints.find(p); it != checkpoints.end()) c = it->second;
    projector_.Resume(p, c);
    positions.push_back({p, c.next_offset, 0});
  }
  {
    std::lock_guard lock(mu_);
    positions_ = std::move(positions);
  }
  if (std::string err = RefreshWatermarks(); !err.empty()) return err;
  {
    std::lock_guard lock(mu_);
    for (const PartitionPosition& pos : positions_) {
      if (pos.next_offset > pos.high_watermark) {
        return "the projection store is ahead of " + topic + " partition " +
               std::to_string(pos.partition) + " (offset " + std::to_string(pos.next_offset) +
               " > high watermark " + std::to_string(pos.high_watermark) +
               "): it was built from another log; rebuild it";
      }
    }
  }
  if (options_.shared != nullptr) {
    auto sub = options_.shared->Subscribe(Starts());
    if (!sub.ok()) return topic + ": " + sub.status().ToString();
    subscription_ = std::move(sub).value();
  }
  return "";
}

std::vector<log::PartitionOffset> ProjectionRunner::Starts() {
  std::vector<log::PartitionOffset> starts;
  for (const PartitionPosition& pos : positions()) {
    const int64_t next = projector_.checkpoint(pos.partition).next_offset;
    starts.push_back({PartitionId{pos.partition}, next > 0 ? Offset{next} : log::kOffsetBeginning});
  }
  return starts;
}

std::string ProjectionRunner::RefreshWatermarks() {
  const std::string& topic = options_.kafka.Topic(log::TopicKind::kEvents);
  std::vector<int64_t> highs;
  for (const PartitionPosition& pos : positions()) {
    auto marks = admin_->QueryWatermarks(topic, PartitionId{pos.partition}, 5'000);
    if (!marks.ok()) return "watermarks: " + marks.status().ToString();
    highs.push_back(marks.value().high.value());
  }
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < highs.size() && i < positions_.size(); ++i) {
      positions_[i].high_watermark = highs[i];
    }
    UpdateLag();
  }
  ReportProgress();
  return "";
}

void ProjectionRunner::ReportProgress() const {
  if (options_.on_progress) options_.on_progress(stats(), positions());
}

void ProjectionRunner::UpdateLag() {
  int64_t lag = 0;
  for (const PartitionPosition& pos : positions_) lag += pos.lag();
  lag_ = lag;
}

Status ProjectionRunner::Commit() {
  std::vector<Mutation> writes = projector_.Flush();
  if (!flushed_.empty()) {  // the observed batches' first: later mutations win
    flushed_.insert(flushed_.end(), std::make_move_iterator(writes.begin()),
                    std::make_move_iterator(writes.end()));
    writes.swap(flushed_);
    flushed_.clear();
    // Flushed per batch, a view (or a checkpoint) changed by several batches since the last
    // commit is here once per batch: write only its last value.
    std::vector<bool> last(writes.size());
    {
      std::unordered_set<std::string_view> later;  // views of keys not moved meanwhile
      for (size_t i = writes.size(); i-- > 0;) last[i] = later.insert(writes[i].key).second;
    }
    size_t kept = 0;
    for (size_t i = 0; i < writes.size(); ++i) {
      if (!last[i]) continue;
      if (kept != i) writes[kept] = std::move(writes[i]);
      ++kept;
    }
    writes.resize(kept);
  }
  if (writes.empty()) return Status::Ok();
  if (Status s = store_->Write(writes); !s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    for (PartitionPosition& pos : positions_) {
      pos.next_offset = projector_.checkpoint(pos.partition).next_offset;
      pos.high_watermark = std::max(pos.high_watermark, pos.next_offset);
    }
    stats_ = projector_.stats();
    UpdateLag();
  }
  ReportProgress();
  return Status::Ok();
}

std::string ProjectionRunner::Run(const std::atomic<bool>& stop) {
  const std::string& topic = options_.kafka.Topic(log::TopicKind::kEvents);
  std::unique_ptr<log::RecordSource> source = std::move(subscription_);
  if (source == nullptr) {
    auto consumer = log::ReadFrom(nullptr, options_.kafka, "payorch.projection", topic, Starts());
    if (!consumer.ok()) return topic + ": " + consumer.status().ToString();
    source = std::move(consumer).value();
  }
  // The high watermarks behind lag() are refreshed on a thread of their own: they are
  // broker round trips, and this thread's batches are what the merchant API's follower
  // answers from (ObserveBatches).
  // A std::jthread: stopped (which ends its wait at once) and joined when Run() returns.
  std::jthread refresher([this](const std::stop_token& stopping) {
    NameThisThread("po-proj-lag");
    std::mutex mu;
    std::condition_variable_any wake;  // woken by `stopping` only
    std::unique_lock lock(mu);
    const auto period = std::chrono::milliseconds(options_.lag_refresh_ms);
    while (
        !wake.wait_for(lock, stopping, period, [&stopping] { return stopping.stop_requested(); })) {
      if (std::string err = RefreshWatermarks(); !err.empty() && options_.logger) {
        options_.logger->warn("projection: {}", err);
      }
    }
  });
  std::vector<log::Record> batch;
  size_t pending = 0;
  int64_t batch_started = 0;  // when the uncommitted batch got its first record
  while (!stop.load()) {
    // Waits for the log (bounded, so stop is seen), never sleeps.
    int wait_ms = options_.lag_refresh_ms;
    if (pending > 0)
      wait_ms =
          static_cast<int>(std::max<int64_t>(0, batch_started + options_.max_batch_ms - NowMs()));
    batch.clear();
    if (log::LogStatus s = source->PollBatch(options_.max_batch_records, wait_ms, &batch);
        !s.ok()) {
      return topic + ": " + s.ToString();
    }
    if (!batch.empty() && pending == 0) batch_started = NowMs();
    if (observer_) {
      ObserveBatch(batch);
    } else {
      for (const log::Record& r : batch) {
        projector_.Observe(r.partition.value(), r.offset.value(), r.value);
      }
    }
    pending += batch.size();
    const int64_t now = NowMs();
    if (pending > 0 && (batch.empty() || pending >= options_.max_batch_records ||
                        now - batch_started >= options_.max_batch_ms)) {
      if (Status s = Commit(); !s.ok()) return s.ToString();
      pending = 0;
    }
  }
  source.reset();  // nothing committed to the group: checkpoints are ours
  const Status s = Commit();
  return s.ok() ? "" : s.ToString();
}

void ProjectionRunner::ObserveBatch(const std::vector<log::Record>& batch) {
  if (batch.empty()) return;
  google::protobuf::Arena arena;  // the batch's events, freed with it
  std::vector<const ::payments::events::v1::EventEnvelope*> events;
  events.reserve(batch.size());
  for (const log::Record& r : batch) {
    auto* e = google::protobuf::Arena::CreateMessage<::payments::events::v1::EventEnvelope>(&arena);
    if (!e->ParseFromString(r.value)) {  // the Projector counts it
      projector_.Observe(r.partition.value(), r.offset.value(), r.value);
      continue;
    }
    projector_.Observe(r.partition.value(), r.offset.value(), *e);
    events.push_back(e);
  }
  std::vector<Mutation> changed = projector_.Flush();
  observer_(events, changed);
  flushed_.insert(flushed_.end(), std::make_move_iterator(changed.begin()),
                  std::make_move_iterator(changed.end()));
}

std::string ProjectionRunner::CatchUp(const std::atomic<bool>& stop,
                                      const std::function<void(int64_t, int64_t)>& progress) {
  if (std::string err = RefreshWatermarks(); !err.empty()) return err;
  std::vector<int64_t> ends;
  int64_t total = 0;
  {
    std::lock_guard lock(mu_);
    for (const PartitionPosition& pos : positions_) {
      ends.push_back(pos.high_watermark);
      total += pos.lag();
    }
  }
  const size_t per_batch = options_.catch_up_batch_records > 0 ? options_.catch_up_batch_records
                                                               : options_.max_batch_records;
  int64_t done = 0;
  size_t pending = 0;
  if (progress) progress(0, total);
  // Round robin over the partitions not yet at their end, taking what each reader has
  // fetched without waiting (every reader prefetches on its own threads); waiting only when
  // a whole round found nothing.
  const std::string& topic = options_.kafka.Topic(log::TopicKind::kEvents);
  std::vector<std::unique_ptr<log::PartitionReader>> readers;
  std::vector<log::Record> batch;
  std::vector<size_t> open;
  for (size_t i = 0; i < ends.size(); ++i) {
    const int32_t p = positions_[i].partition;
    const int64_t next = projector_.checkpoint(p).next_offset;
    auto reader = log::PartitionReader::Open(options_.kafka, topic, PartitionId{p},
                                             next > 0 ? Offset{next} : log::kOffsetBeginning);
    if (!reader.ok()) return topic + ": " + reader.status().ToString();
    readers.push_back(std::move(reader).value());
    if (readers[i]->position().value() < ends[i]) open.push_back(i);
  }
  int64_t idle_since = NowMs();
  while (!open.empty() && !stop.load()) {
    bool any = false;
    for (size_t k = 0; k < open.size();) {
      const size_t i = open[k];
      log::PartitionReader& reader = *readers[i];
      batch.clear();
      if (log::LogStatus s = reader.Poll(per_batch - pending, 0, &batch); !s.ok()) {
        return "events partition " + std::to_string(i) + ": " + s.ToString();
      }
      for (const log::Record& r : batch) {
        if (r.offset.value() >= ends[i]) break;
        projector_.Observe(r.partition.value(), r.offset.value(), r.value);
        ++done;
        ++pending;
      }
      any = any || !batch.empty();
      if (reader.position().value() >= ends[i]) {
        open.erase(open.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        ++k;
      }
      if (pending >= per_batch) {
        if (Status s = Commit(); !s.ok()) return s.ToString();
        pending = 0;
        if (progress) progress(done, total);
      }
    }
    if (any) {
      idle_since = NowMs();
    } else if (!open.empty()) {
      if (NowMs() - idle_since > 60'000) {
        return "events partition " + std::to_string(open.front()) +
               ": no records for 60 s before offset " + std::to_string(ends[open.front()]);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (Status s = Commit(); !s.ok()) return s.ToString();
  if (progress) progress(done, total);
  return "";
}

std::vector<PartitionPosition> ProjectionRunner::positions() const {
  std::lock_guard lock(mu_);
  return positions_;
}

ProjectorStats ProjectionRunner::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace payorch::projection
