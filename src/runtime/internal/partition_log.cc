#include "runtime/internal/partition_log.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "command/parser.h"
#include "common/sha256.h"

namespace payorch::runtime::internal {

namespace {
constexpr int kClaimAttempts = 10;
constexpr size_t kMaxDeadLetterValueBytes = command::kMaxRecordBytes;
}  // namespace

log::KafkaOptions GaplessProducerOptions(log::KafkaOptions kafka) {
  // Properties apply in order, so these go first: an operator's -X for the same key wins.
  kafka.properties.insert(kafka.properties.begin(),
                          {{"enable.gapless.guarantee", "true"}, {"message.timeout.ms", "0"}});
  return kafka;
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

log::OutRecord DeadLetterRecord(const std::string& dead_letters_topic, const log::Record& record,
                                const std::string& reason) {
  log::OutRecord dlq{dead_letters_topic,
                     log::kAnyPartition,
                     record.key,
                     record.value,
                     {{"payorch.reason", reason},
                      {"payorch.source.topic", record.topic},
                      {"payorch.source.partition", std::to_string(record.partition.value())},
                      {"payorch.source.offset", std::to_string(record.offset.value())}}};
  for (const log::Header& h : record.headers) dlq.headers.push_back(h);
  if (record.value.size() > kMaxDeadLetterValueBytes) {
    dlq.value.resize(kMaxDeadLetterValueBytes);
    dlq.headers.push_back({"payorch.truncated", "true"});
    dlq.headers.push_back({"payorch.original.size", std::to_string(record.value.size())});
    dlq.headers.push_back({"payorch.original.sha256", Sha256Hex(record.value)});
  }
  return dlq;
}

StatusOr<uint64_t> ClaimPartition(log::PartitionReader& reader, log::Producer& producer,
                                  const std::string& topic, int32_t partition,
                                  const command::EpochFilter& filter,
                                  const int64_t& last_claim_offset, const ClaimSteps& steps,
                                  spdlog::logger& logger) {
  for (int attempt = 1; attempt <= kClaimAttempts; ++attempt) {
    const uint64_t epoch = filter.highest_seen() + 1;
    log::OutRecord record{topic, PartitionId{partition}, "claim", steps.claim_value(epoch), {}};
    auto at = producer.ProduceSync(record, kReadTimeoutMs);
    if (!at.ok()) return UnavailableError("claim append: " + at.status().ToString());
    auto st = reader.ReadUntil(Offset{at.value().value() + 1}, steps.fold, kReadTimeoutMs);
    if (!st.ok()) return UnavailableError("claim read-back: " + st.ToString());
    if (Status s = steps.fold_error(); !s.ok()) return s;
    if (last_claim_offset == at.value().value() && filter.epoch() == epoch) return epoch;
    logger.warn("[{} p{}] claim of epoch {} lost to another writer; retrying", topic, partition,
                epoch);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
  }
  return UnavailableError("could not claim partition " + std::to_string(partition) + " of " +
                          topic);
}

StatusOr<std::unique_ptr<log::PartitionReader>> OpenRestore(log::Cluster& cluster,
                                                            const std::string& topic,
                                                            int32_t partition, EventStore& store,
                                                            PartitionMeta* meta,
                                                            spdlog::logger& logger) {
  *meta = store.LoadMeta(partition);
  auto reader = cluster.OpenReader(topic, PartitionId{partition}, Offset{meta->next_events_offset});
  if (!reader.ok()) return UnavailableError("events reader: " + reader.status().ToString());
  auto marks = reader.value()->QueryWatermarks();
  if (!marks.ok()) return UnavailableError("events watermarks: " + marks.status().ToString());
  const int64_t low = marks.value().low.value();
  const int64_t high = marks.value().high.value();
  if (high >= meta->next_events_offset && low <= meta->next_events_offset) {
    return std::move(reader.value());
  }
  logger.warn(
      "[{} p{}] the state store describes another log (its point {}, the log {}..{}); "
      "rebuilding",
      topic, partition, meta->next_events_offset, low, high);
  if (Status s = store.ResetPartition(partition); !s.ok()) return s;
  *meta = PartitionMeta{};
  meta->next_events_offset = low;
  if (auto st = reader.value()->Seek(Offset{low}); !st.ok()) {
    return UnavailableError("events seek: " + st.ToString());
  }
  return std::move(reader.value());
}

bool GapHasNewerClaim(log::Cluster& cluster, const std::string& topic, int32_t partition,
                      int64_t from, int64_t to,
                      const std::function<bool(const log::Record&)>& is_newer_claim,
                      spdlog::logger& logger) {
  auto reader = cluster.OpenReader(topic, PartitionId{partition}, Offset{from});
  if (!reader.ok()) {
    logger.warn("[{} p{}] events gap [{}, {}) not checked: {}", topic, partition, from, to,
                reader.status().ToString());
    return false;
  }
  bool newer = false;
  auto st = reader.value()->ReadUntil(
      Offset{to}, [&](const log::Record& r) { newer = newer || is_newer_claim(r); },
      kReadTimeoutMs);
  if (!st.ok() && !newer) {
    logger.warn("[{} p{}] events gap [{}, {}) read partly: {}", topic, partition, from, to,
                st.ToString());
  }
  return newer;
}

}  // namespace payorch::runtime::internal
