// The parts of a single writer's conversation with the log that do not depend on which
// aggregate it writes: the claim protocol, the gap check that finds a newer claim, and the
// dead-letter record. The payments writer (runtime/writer.cc) and the invoice and order
// writers (runtime/aggregate_writer.h) share them, so fencing is one rule for all three.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "command/validity.h"
#include "common/status.h"
#include "log/options.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "log/record.h"
#include "runtime/state_store.h"

namespace spdlog {
class logger;
}

namespace payorch::runtime::internal {

inline constexpr int kReadTimeoutMs = 30'000;

// A dead letter keeps at most this much of the original value (the parser's own record
// limit, command::kMaxRecordBytes): the rest is described by size and SHA-256 headers.
// The record for `record`: its key and its own headers, the reason and source headers,
// and a value cut to that limit when it is larger (with payorch.truncated,
// payorch.original.size and payorch.original.sha256), so the producer's size limit never
// refuses a dead letter.
log::OutRecord DeadLetterRecord(const std::string& dead_letters_topic, const log::Record& record,
                                const std::string& reason);

// The producer settings of a writer's events: a gapless series. With librdkafka's defaults
// an idempotent producer may lose a record in doubt (a message timeout while in flight) and
// still write the later ones: the log would hold a command's successor without the command,
// and a restore, resuming after the last complete group, would never decide it (found by
// the simulation over log::MemoryLog, which models the gapless series). So records never
// time out (message.timeout.ms=0: a writer whose broker is gone fails on its full queue and
// restarts instead) and any other error that could leave a gap is fatal to the producer
// (enable.gapless.guarantee=true). -X properties given for these keys still win.
log::KafkaOptions GaplessProducerOptions(log::KafkaOptions kafka);

// Milliseconds since the Unix epoch (claims and violations carry wall time).
int64_t WallMs();

// How an events partition is claimed. `claim_value(epoch)` is the serialized claim record of
// the aggregate's envelope; `fold(record)` folds every record read (the restore's fold, which
// feeds `filter` and sets `last_claim_offset` on a counted claim); `fold_error()` is the
// first error the fold met.
struct ClaimSteps {
  std::function<std::string(uint64_t epoch)> claim_value;
  std::function<void(const log::Record&)> fold;
  std::function<Status()> fold_error;
};

// Appends a claim of epoch highest_seen + 1 and reads the partition up to it; the claim
// holds when it is the latest counted claim (another writer's claim did not come first).
// Retries with a higher epoch a few times. Returns the claimed epoch, or an error.
StatusOr<uint64_t> ClaimPartition(log::PartitionReader& reader, log::Producer& producer,
                                  const std::string& topic, int32_t partition,
                                  const command::EpochFilter& filter,
                                  const int64_t& last_claim_offset, const ClaimSteps& steps,
                                  spdlog::logger& logger);

// Where a writer's restore reads from: the events partition at the store's snapshot point
// (`*meta`, loaded here). A store that describes another log (its point past the high
// watermark or before the low one: a new embedded broker, a recreated topic) has the
// partition reset and the read starts at the low watermark with an empty `*meta`.
StatusOr<std::unique_ptr<log::PartitionReader>> OpenRestore(log::Cluster& cluster,
                                                            const std::string& topic,
                                                            int32_t partition, EventStore& store,
                                                            PartitionMeta* meta,
                                                            spdlog::logger& logger);

// Reads events [from, to) of `topic`/`partition` and says whether a record there is a claim
// of a newer writer (`is_newer_claim` judges one record). A read that fails is logged and
// counts as no claim: a newer writer's events fence this one at the next gap, and this
// one's do not count after that claim (the validity rule).
bool GapHasNewerClaim(log::Cluster& cluster, const std::string& topic, int32_t partition,
                      int64_t from, int64_t to,
                      const std::function<bool(const log::Record&)>& is_newer_claim,
                      spdlog::logger& logger);

}  // namespace payorch::runtime::internal
