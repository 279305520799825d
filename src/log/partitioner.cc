#include "log/partitioner.h"

namespace payorch::log {

int32_t Murmur2(std::string_view key) {
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  size_t len = key.size();
  uint32_t h = 0x9747b28c ^ static_cast<uint32_t>(len);
  while (len >= 4) {
    uint32_t k =
        data[0] | (data[1] << 8) | (data[2] << 16) | (static_cast<uint32_t>(data[3]) << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
    data += 4;
    len -= 4;
  }
  switch (len) {
    case 3:
      h ^= data[2] << 16;
      [[fallthrough]];
    case 2:
      h ^= data[1] << 8;
      [[fallthrough]];
    case 1:
      h ^= data[0];
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

PartitionId PartitionForKey(std::string_view key, int32_t partitions) {
  return PartitionId{static_cast<int32_t>((static_cast<uint32_t>(Murmur2(key)) & 0x7fffffff) %
                                          static_cast<uint32_t>(partitions))};
}

}  // namespace payorch::log
