// Projector: the pure "apply events to the read models" core of the projections. No I/O:
// it reads current values through a ViewSource (the RocksDB store, or a map in tests) and
// hands back the records to write as plain data. The I/O edge (ProjectionRunner) writes
// them and the consumed offsets in one RocksDB WriteBatch.
//
//   Projector projector(&store, ProjectorOptions{});
//   projector.Resume(p, store.LoadCheckpoint(p));          // where partition p stopped
//   for (record : batch) projector.Observe(record.partition, record.offset, record.value);
//   std::vector<Mutation> writes = projector.Flush();      // views + checkpoints
//   store.Write(writes);                                   // one atomic batch
//
// Rules, the same as every reader of the events log (command/validity.h):
// - per partition, command::EpochFilter: only events of the current claim's epoch count;
// - per partition, command::CommandGroups: a command's counted events are applied together
//   once all of them are read, as the core counts them (a group cut short by a writer's
//   crash is dropped; the next writer publishes it whole); ProjectorOptions::whole_groups;
// - per payment, an event whose sequence is not above the last one applied is a
//   re-publication and is dropped (PaymentView.last_sequence);
// - events outside a payment (sequence 0) change no view;
// - the status after each event is the core's: command::PaymentStatusAfter on the view's
//   facts (ViewStatusFacts), checked against the lifecycle table (command/status.h).
// Deterministic: the same events give the same bytes (maps in key order, no clock).
//
// Thread safety: none; one thread owns a Projector.
#pragma once

#include <google/protobuf/arena.h>

#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "command/status.h"
#include "command/validity.h"
#include "payments/events/v1/events.pb.h"
#include "payments/projection/v1/views.pb.h"

namespace payorch::projection {

namespace pv = ::payments::projection::v1;

// Where current values come from.
class ViewSource {
 public:
  virtual ~ViewSource() = default;
  [[nodiscard]] virtual std::optional<std::string> Get(const std::string& key) const = 0;
};

// One record to put.
struct Mutation {
  std::string key;
  std::string value;
};

// A partition's resume point: the next events offset to read and the validity rule's
// state at that offset.
struct Checkpoint {
  int64_t next_offset = 0;
  uint64_t epoch = 0;
  uint64_t highest_seen = 0;
  bool operator==(const Checkpoint&) const = default;
};
[[nodiscard]] std::string EncodeCheckpoint(const Checkpoint& c);
[[nodiscard]] std::optional<Checkpoint> DecodeCheckpoint(std::string_view bytes);

struct ProjectorOptions {
  // Processor fees in basis points of the authorized amount (daily totals' fee_minor).
  std::map<std::string, int64_t> fee_bps;
  // Views kept in memory between flushes (they are always equal to the store's).
  size_t max_cached_views = 50'000;
  // Apply a command's events together, once all of them are read (command::CommandGroups,
  // as the core counts them): a group cut short by a writer's crash never shows, and a
  // checkpoint taken mid-group points at the group's first event. Off: event by event (the
  // webhook feeder's model, whose snapshots are per event).
  bool whole_groups = true;
};

struct ProjectorStats {
  int64_t records = 0;     // event records observed
  int64_t applied = 0;     // counted, new events applied to a view
  int64_t duplicates = 0;  // counted, dropped by (payment_id, sequence)
  int64_t fenced = 0;      // of a fenced epoch
  int64_t claims = 0;
  int64_t undecodable = 0;
  int64_t other = 0;  // counted, outside a payment
  // Events that asked for a status change the lifecycle lacks (the view keeps its status;
  // the core reported the breach when it folded the event).
  int64_t illegal_transitions = 0;
};

class Projector {
 public:
  explicit Projector(const ViewSource* source, ProjectorOptions options = {});
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  // Declares that the source holds no record yet (a fresh rebuild): a view or total
  // missing from memory is then new, and the source is not asked until the cache is first
  // evicted. Call before the first Observe.
  void AssumeEmptySource() { source_empty_ = true; }

  // Sets partition's validity state and next offset (from the store's checkpoint).
  void Resume(int32_t partition, const Checkpoint& checkpoint);
  // Where a restart reads the partition from: the first event of an unfinished command
  // group (whole_groups), else the next offset.
  [[nodiscard]] Checkpoint checkpoint(int32_t partition);

  // Feeds one events record, in offset order per partition.
  void Observe(int32_t partition, int64_t offset, std::string_view value);
  // The same for an already decoded event.
  void Observe(int32_t partition, int64_t offset, const ::payments::events::v1::EventEnvelope& e);

  // The records changed since the last Flush (views, index, idempotency records, daily
  // totals) followed by the checkpoint of every partition observed. Write them atomically.
  [[nodiscard]] std::vector<Mutation> Flush();

  const ProjectorStats& stats() const { return stats_; }

 private:
  struct PartitionState {
    command::EpochFilter filter;
    Checkpoint checkpoint;  // after the last record observed
    // whole_groups: the counted events of the command being read, and the partition's
    // checkpoint before its first event (what a checkpoint written now says).
    command::CommandGroups groups;
    std::optional<Checkpoint> group_start;
    bool dirty = false;
  };
  struct CachedView {
    pv::PaymentView* view = nullptr;  // on views_arena_
    bool dirty = false;
  };
  struct CachedTotal {
    pv::DailyTotal total;
    bool dirty = false;
  };

  // The rest of Observe for a counted event (or a completed group's): the view and totals.
  void ApplyCounted(int32_t partition, const ::payments::events::v1::EventEnvelope& e);
  CachedView& ViewFor(const std::string& payment_id);
  void AddTotal(const pv::PaymentView& view, int64_t at_ms, std::string_view processor,
                std::string_view outcome, int64_t amount);
  void Apply(pv::PaymentView& view, const ::payments::events::v1::EventEnvelope& e);

  // Looks `key` up in the source unless the source is known to hold nothing we lack.
  std::optional<std::string> SourceGet(const std::string& key) const;

  const ViewSource* source_;
  bool source_empty_ = false;
  ProjectorOptions options_;
  ProjectorStats stats_;
  std::map<int32_t, PartitionState> partitions_;
  // The cached views live on an arena: evicting or destroying them frees a few blocks
  // instead of every string and attempt one by one.
  std::unique_ptr<google::protobuf::Arena> views_arena_;
  std::unordered_map<std::string, CachedView> views_;
  std::map<std::string, CachedTotal> totals_;
  std::vector<std::string> dirty_views_;
  // Decoding: each record is parsed onto an arena reset before the next one, so a decode
  // allocates nothing once the arena's blocks exist.
  std::unique_ptr<char[]> scratch_block_;  // the scratch arena's first block, kept on Reset
  std::unique_ptr<google::protobuf::Arena> scratch_arena_;
  // Memo of the last UTC date computed (events come in time order).
  int64_t date_day_ = INT64_MIN;
  std::string date_;
  std::map<int, std::string> failed_outcomes_;
};

// The view's StatusFacts for `event`, read after the event's bookkeeping (command/status.h):
// what the Projector hands command::PaymentStatusAfter. Empty for an event that needs none.
[[nodiscard]] command::StatusFacts ViewStatusFacts(
    const pv::PaymentView& view, const ::payments::events::v1::EventEnvelope& event);

// "succeeded" for PAYMENT_STATUS_SUCCEEDED, ...; and back (also accepts the enum name).
[[nodiscard]] std::string StatusSlug(::payments::events::v1::PaymentStatus status);
[[nodiscard]] std::optional<::payments::events::v1::PaymentStatus> ParseStatus(
    std::string_view text);

}  // namespace payorch::projection
