// Partitioner: the partition a keyed record belongs to. Kafka's murmur2
// (org.apache.kafka.common.utils.Utils.murmur2), as Java clients' default partitioner and
// librdkafka's murmur2_random compute it: a payment's commands and events land on the same
// partition number whichever client appends them.
//
// One definition: the Producer places every keyed record with it itself (librdkafka
// 2.0.2's own partitioner path held records up to about a second before sending them;
// docs/performance.md, "The latency tail"), and whoever must check that a record sits
// where its key belongs calls it too.
//
//   PartitionId p = PartitionForKey("pay_0123...", 8);
#pragma once

#include <cstdint>
#include <string_view>

#include "log/record.h"

namespace payorch::log {

// Kafka's murmur2 of the key's bytes.
[[nodiscard]] int32_t Murmur2(std::string_view key);

// (murmur2(key) & 0x7fffffff) % partitions. `partitions` must be positive.
[[nodiscard]] PartitionId PartitionForKey(std::string_view key, int32_t partitions);

}  // namespace payorch::log
