// Stable, platform-independent hashes for deterministic identifiers. Not for secrets.
//
//   DerivePaymentId("m_1", "order-42") -> "pay_" + 32 hex digits, the same everywhere,
//   so duplicates of a CreatePayment land on the same partition and the same aggregate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace payorch {

// 128-bit hash (two independent 64-bit FNV-1a streams with length mixing), as 32 hex digits.
std::string StableHash128(std::string_view data);

// The 32 hex digits of a StableHasher, held in place (no allocation).
struct HexDigest {
  char digits[32];
  std::string_view view() const { return {digits, sizeof digits}; }
};

// Incremental form: feed fields with separators so ("ab","c") != ("a","bc").
class StableHasher {
 public:
  StableHasher& Add(std::string_view field);
  StableHasher& Add(int64_t value);
  std::string Hex() const;
  HexDigest Digest() const;  // the same digits as Hex()

 private:
  uint64_t h1_ = 0xcbf29ce484222325ULL;
  uint64_t h2_ = 0x84222325cbf29ce4ULL;
};

std::string DerivePaymentId(std::string_view merchant_id, std::string_view idempotency_key);

// DerivePaymentId() held in place: "pay_" + 32 hex digits.
struct PaymentIdChars {
  char bytes[36];
  std::string_view view() const { return {bytes, sizeof bytes}; }
};
PaymentIdChars DerivePaymentIdChars(std::string_view merchant_id, std::string_view idempotency_key);

}  // namespace payorch
