#include "command/hash.h"

#include <array>
#include <charconv>
#include <cstring>

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
  // Locals, not members, in the loop: a store to a member could alias the bytes read.
  uint64_t h1 = h1_;
  uint64_t h2 = h2_;
  for (unsigned char c : field) {
    h1 = (h1 ^ c) * kPrime1;
    h2 = (h2 ^ c) * (kPrime2 | 1);
  }
  // Length and a separator end every field, so field boundaries are part of the hash.
  const uint64_t len = field.size();
  h1_ = (h1 ^ (len + 0x1f)) * kPrime1;
  h2_ = (h2 ^ (len + 0x2f)) * (kPrime2 | 1);
  return *this;
}

StableHasher& StableHasher::Add(int64_t value) {
  if (value >= 0 && value <= 9) {  // flags and enums: one digit
    const char digit = static_cast<char>('0' + value);
    return Add(std::string_view(&digit, 1));
  }
  char buf[24];  // decimal, as "%lld" would print it
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return Add(std::string_view(buf, static_cast<size_t>(end - buf)));
}

namespace {

// The two lower-case hex digits of every byte value.
constexpr auto kHexPairs = [] {
  constexpr char kDigits[] = "0123456789abcdef";
  std::array<char, 512> pairs{};
  for (int b = 0; b < 256; ++b) {
    pairs[2 * b] = kDigits[b >> 4];
    pairs[2 * b + 1] = kDigits[b & 0xF];
  }
  return pairs;
}();

void PutHex64(uint64_t v, char* out) {  // 16 lower-case hex digits, as "%016llx"
  for (int i = 14; i >= 0; i -= 2) {
    std::memcpy(out + i, &kHexPairs[2 * (v & 0xFF)], 2);
    v >>= 8;
  }
}

}  // namespace

HexDigest StableHasher::Digest() const {
  HexDigest out;
  PutHex64(Mix(h1_), out.digits);
  PutHex64(Mix(h2_ ^ h1_), out.digits + 16);
  return out;
}

std::string StableHasher::Hex() const { return std::string(Digest().view()); }

std::string StableHash128(std::string_view data) { return StableHasher().Add(data).Hex(); }

PaymentIdChars DerivePaymentIdChars(std::string_view merchant_id,
                                    std::string_view idempotency_key) {
  PaymentIdChars id;
  std::memcpy(id.bytes, "pay_", 4);
  const HexDigest d = StableHasher().Add("payment").Add(merchant_id).Add(idempotency_key).Digest();
  std::memcpy(id.bytes + 4, d.digits, sizeof d.digits);
  return id;
}

std::string DerivePaymentId(std::string_view merchant_id, std::string_view idempotency_key) {
  return std::string(DerivePaymentIdChars(merchant_id, idempotency_key).view());
}

}  // namespace payorch
