#include "command/hash.h"

#include <cstdio>

namespace payorch {
namespace {

constexpr uint64_t kPrime1 = 0x100000001b3ULL;
constexpr uint64_t kPrime2 = 0x00000100000001b3ULL ^ 0x9e3779b97f4a7c15ULL;

uint64_t Mix(uint64_t h) {  // splitmix64 finaliser: spreads FNV's weak low bits
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

StableHasher& StableHasher::Add(std::string_view field) {
  for (unsigned char c : field) {
    h1_ = (h1_ ^ c) * kPrime1;
    h2_ = (h2_ ^ c) * (kPrime2 | 1);
  }
  // Length and a separator end every field, so field boundaries are part of the hash.
  const uint64_t len = field.size();
  h1_ = (h1_ ^ (len + 0x1f)) * kPrime1;
  h2_ = (h2_ ^ (len + 0x2f)) * (kPrime2 | 1);
  return *this;
}

StableHasher& StableHasher::Add(int64_t value) {
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(value));
  return Add(std::string_view(buf, static_cast<size_t>(n)));
}

std::string StableHasher::Hex() const {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(Mix(h1_)),
                static_cast<unsigned long long>(Mix(h2_ ^ h1_)));
  return std::string(buf, 32);
}

std::string StableHash128(std::string_view data) { return StableHasher().Add(data).Hex(); }

std::string DerivePaymentId(std::string_view merchant_id, std::string_view idempotency_key) {
  return "pay_" + StableHasher().Add("payment").Add(merchant_id).Add(idempotency_key).Hex();
}

}  // namespace payorch
