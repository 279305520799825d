// Records as the rest of payorch sees them: plain values, no librdkafka types.
//
//   OutRecord r{.topic = options.Topic(TopicKind::kCommands), .key = payment_id,
//               .value = envelope.SerializeAsString(), .headers = {{"source", "api"}}};
//   producer.Produce(std::move(r), [](const Delivery& d) { ... });
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "command/types.h"  // PartitionId, Offset

namespace payorch::log {

// Produce to the partition the partitioner picks from the key (murmur2, like Java clients).
inline const PartitionId kAnyPartition{-1};

// Special start offsets for Consumer rebalance answers and PartitionReader::Open.
inline const Offset kOffsetBeginning{-2};     // the partition's low watermark
inline const Offset kOffsetEnd{-1};           // the high watermark: only new records
inline const Offset kOffsetCommitted{-1001};  // the group's committed offset, else beginning

struct Header {
  std::string key{};
  std::string value{};  // a null header value reads as ""
  bool operator==(const Header&) const = default;
};

// A record read from the log.
struct Record {
  std::string topic{};
  PartitionId partition{};
  Offset offset{};
  int64_t timestamp_ms = -1;  // producer create time; -1 if absent
  std::string key{};
  std::string value{};
  std::vector<Header> headers{};

  // The first header named `key`, or nullptr.
  const std::string* FindHeader(const std::string& key) const;
};

// A record to append.
struct OutRecord {
  std::string topic{};
  PartitionId partition = kAnyPartition;
  std::string key{};  // empty = no key
  std::string value{};
  std::vector<Header> headers{};
};

// Offsets bounding a partition: low = first readable offset, high = next offset to be
// written (reading [low, high) reads the whole partition as of the query).
struct Watermarks {
  Offset low{};
  Offset high{};
};

struct PartitionOffset {
  PartitionId partition{};
  Offset offset{};
};

}  // namespace payorch::log
