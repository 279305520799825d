// ProjectionRunner: the I/O edge of the projections. It reads every partition of the
// events topic from the store's checkpoints, feeds the records to a Projector, and writes
// each batch's view updates together with the consumed offsets in one RocksDB WriteBatch,
// so a crash can neither lose nor double-apply an event.
//
// Run() follows the log with one client for every partition (an assigned consumer: one
// fetch session, blocking waits, no sleep-polling) and commits a batch when the log is
// drained, after max_batch_records, or max_batch_ms after its first record, whichever
// comes first, so views trail the log by at most about max_batch_ms under steady load.
// CatchUp() (rebuilds) reads with a reader per partition, round robin, for throughput.
//
//   ProjectionStore store;  (void)store.Open(dir, {});
//   ProjectionRunner runner(&store, {.kafka = kafka});
//   if (auto err = runner.Open(); !err.empty()) ...
//   std::atomic<bool> stop{false};
//   std::string err = runner.Run(stop);        // follows the log until stop; or
//   std::string err = runner.CatchUp(stop);    // reads to the end as of the call, returns
//
// Thread safety: Run/CatchUp on one thread; lag() and positions() from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "log/options.h"
#include "log/shared_reader.h"
#include "payments/events/v1/events.pb.h"
#include "projection/projector.h"
#include "projection/store.h"

namespace spdlog {
class logger;
}

namespace payorch::log {
class Admin;
}

namespace payorch::projection {

struct PartitionPosition {
  int32_t partition = 0;
  int64_t next_offset = 0;     // committed to the store
  int64_t high_watermark = 0;  // as last seen
  // Records read but not committed yet (0 when caught up).
  int64_t lag() const { return std::max<int64_t>(0, high_watermark - next_offset); }
};

struct RunnerOptions {
  log::KafkaOptions kafka;
  ProjectorOptions projector;
  // Records applied before a commit (a batch is also committed when the log is drained).
  size_t max_batch_records = 20'000;
  // Run(): a batch is committed at most this long after its first record.
  int max_batch_ms = 50;
  // The same for CatchUp (0: max_batch_records). Rebuilds use large batches: a view
  // changed by many events of one batch is serialized and written once.
  size_t catch_up_batch_records = 0;
  // How often Run() refreshes the high watermarks behind lag(), on a thread of its own
  // ("po-proj-lag"), so the broker round trips never delay a batch.
  int lag_refresh_ms = 200;
  std::shared_ptr<spdlog::logger> logger;
  // Called after each commit (on the runner's thread) and each refresh of the high
  // watermarks (on Run()'s watermark thread, so possibly at the same time), with the
  // projector's counts since the start and every partition's position (e.g. for /metrics;
  // keep it short and thread-safe). Unset: nothing is called.
  std::function<void(const ProjectorStats& stats, const std::vector<PartitionPosition>& positions)>
      on_progress;
  // The process's shared reader of the events topic, not yet started, or null: Open()
  // subscribes to it from the checkpoints, and Run() reads through that subscription
  // instead of a consumer of its own. CatchUp() reads on its own either way.
  log::SharedReader* shared = nullptr;
};

// Batch size of `payorch replay --rebuild` (and its benchmark): large enough that most
// views are written once, small enough to bound memory (views, a batch's records).
inline constexpr size_t kRebuildBatchRecords = 500'000;

class ProjectionRunner {
 public:
  ProjectionRunner(ProjectionStore* store, RunnerOptions options);
  ~ProjectionRunner();
  ProjectionRunner(const ProjectionRunner&) = delete;
  ProjectionRunner& operator=(const ProjectionRunner&) = delete;

  // Finds the partitions and their checkpoints, reads the high watermarks, subscribes to
  // RunnerOptions::shared. "" or a one-line error.
  [[nodiscard]] std::string Open();

  // Follows the events topic until `stop`. Returns "" on stop, or the error that stopped
  // it (a store write failing, the log unreadable).
  [[nodiscard]] std::string Run(const std::atomic<bool>& stop);

  // Run() calls `observer` on its thread after each batch it read, with the batch's
  // decoded events and what they changed (the Projector's mutations: views, checkpoints,
  // ...). The Projector is then flushed per batch, and the store gets the mutations at the
  // next commit as before. For a reader in the same process that must see every view
  // change without waiting for the commit (the merchant API's events follower) and would
  // otherwise run a Projector of its own over the same events. Set before Run().
  using BatchObserver =
      std::function<void(const std::vector<const ::payments::events::v1::EventEnvelope*>& events,
                         const std::vector<Mutation>& changed)>;
  void ObserveBatches(BatchObserver observer) { observer_ = std::move(observer); }

  // Reads every partition up to its high watermark as of the call and commits.
  // `progress(done, total)` is called now and then with records read so far.
  [[nodiscard]] std::string CatchUp(
      const std::atomic<bool>& stop,
      const std::function<void(int64_t done, int64_t total)>& progress = nullptr);

  // Records between the committed positions and the high watermarks last seen (-1 before
  // Open succeeded).
  int64_t lag() const { return lag_.load(); }
  std::vector<PartitionPosition> positions() const;
  ProjectorStats stats() const;

 private:
  // Writes what the projector flushed, in one batch, and advances the positions.
  [[nodiscard]] Status Commit();
  // Run()'s batch with an observer: decoded once, projected, flushed and observed.
  void ObserveBatch(const std::vector<log::Record>& batch);
  [[nodiscard]] std::string RefreshWatermarks();
  void UpdateLag();             // mu_ held
  void ReportProgress() const;  // options_.on_progress, mu_ not held
  // Where each partition resumes: the projector's checkpoints.
  std::vector<log::PartitionOffset> Starts();

  ProjectionStore* store_;
  RunnerOptions options_;
  Projector projector_;
  std::unique_ptr<log::Admin> admin_;                // partition count and watermarks
  std::unique_ptr<log::RecordSource> subscription_;  // of options_.shared, for Run()
  BatchObserver observer_;
  std::vector<Mutation> flushed_;  // flushed for the observer, not yet committed
  std::atomic<int64_t> lag_{-1};
  mutable std::mutex mu_;  // guards positions_ and stats_
  std::vector<PartitionPosition> positions_;
  ProjectorStats stats_;
};

}  // namespace payorch::projection
