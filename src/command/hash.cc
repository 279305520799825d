#include "command/hash.h"

#include <charconv>

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
  char buf[24];  // decimal, as "%lld" would print it
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return Add(std::string_view(buf, static_cast<size_t>(end - buf)));
}

namespace {

void PutHex64(uint64_t v, char* out) {  // 16 lower-case hex digits, as "%016llx"
  constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out[i] = kDigits[v & 0xF];
    v >>= 4;
  }
}

}  // namespace

std::string StableHasher::Hex() const {
  std::string out(32, '0');
  PutHex64(Mix(h1_), out.data());
  PutHex64(Mix(h2_ ^ h1_), out.data() + 16);
  return out;
}

std::string StableHash128(std::string_view data) { return StableHasher().Add(data).Hex(); }

std::string DerivePaymentId(std::string_view merchant_id, std::string_view idempotency_key) {
  std::string id;
  id.reserve(36);
  id.append("pay_");
  id.append(StableHasher().Add("payment").Add(merchant_id).Add(idempotency_key).Hex());
  return id;
}

}  // namespace payorch
