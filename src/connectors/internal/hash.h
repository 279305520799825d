// Stable hashing for the simulated gateways' fates and references. Not for secrets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace payorch::connectors::internal {

inline uint64_t Fnv1a64(std::string_view data, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// splitmix64's finaliser: spreads every input bit over the output.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A uniform draw in [0, 1) that depends only on its arguments.
inline double UnitDraw(uint64_t seed, std::string_view stream, std::string_view key,
                       uint64_t index) {
  uint64_t h = Mix64(seed ^ Fnv1a64(stream));
  h = Mix64(h ^ Fnv1a64(key));
  h = Mix64(h ^ index);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

inline std::string Hex64(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[i] = kDigits[v & 0xf];
    v >>= 4;
  }
  return out;
}

}  // namespace payorch::connectors::internal
