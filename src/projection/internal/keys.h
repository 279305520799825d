// Key layout of the projection store (docs/projection.md). One RocksDB column family;
// the first two bytes name the record kind, fields are separated by '\0' so that a
// prefix scan of one merchant never reads another's keys ("m1" vs "m10").
//
//   p/<payment_id>                                          -> PaymentView
//   m/<merchant>\0<created_at_ms, 20 digits>\0<payment_id>   -> PaymentSummary
//   i/<merchant>\0<idempotency_key>                         -> IdempotencyRecord
//   d/<merchant>\0<YYYY-MM-DD>\0<currency>\0<processor>\0<outcome> -> DailyTotal
//   o/<partition, 10 digits>                                -> Checkpoint (not in digests)
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace payorch::projection::internal {

inline constexpr std::string_view kPaymentPrefix = "p/";
inline constexpr std::string_view kMerchantPrefix = "m/";
inline constexpr std::string_view kIdempotencyPrefix = "i/";
inline constexpr std::string_view kDailyPrefix = "d/";
inline constexpr std::string_view kCheckpointPrefix = "o/";

inline std::string Join(std::string_view prefix, std::initializer_list<std::string_view> parts) {
  std::string key(prefix);
  bool first = true;
  for (std::string_view p : parts) {
    if (!first) key.push_back('\0');
    key.append(p);
    first = false;
  }
  return key;
}

inline std::string Digits(int64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(v < 0 ? 0 : v));
  return buf;
}

inline std::string PaymentKey(std::string_view payment_id) {
  return Join(kPaymentPrefix, {payment_id});
}
// Everything of one merchant in the index; a time position within it.
inline std::string MerchantIndexPrefix(std::string_view merchant) {
  return Join(kMerchantPrefix, {merchant, ""});
}
inline std::string MerchantIndexSuffix(int64_t created_at_ms, std::string_view payment_id) {
  return Join("", {Digits(created_at_ms, 20), payment_id});
}
inline std::string MerchantIndexKey(std::string_view merchant, int64_t created_at_ms,
                                    std::string_view payment_id) {
  return MerchantIndexPrefix(merchant) + MerchantIndexSuffix(created_at_ms, payment_id);
}
inline std::string IdempotencyKey(std::string_view merchant, std::string_view key) {
  return Join(kIdempotencyPrefix, {merchant, key});
}
inline std::string DailyPrefix(std::string_view merchant, std::string_view date) {
  return Join(kDailyPrefix, {merchant, date, ""});
}
inline std::string DailyMerchantPrefix(std::string_view merchant) {
  return Join(kDailyPrefix, {merchant, ""});
}
inline std::string DailyKey(std::string_view merchant, std::string_view date,
                            std::string_view currency, std::string_view processor,
                            std::string_view outcome) {
  return Join(kDailyPrefix, {merchant, date, currency, processor, outcome});
}
inline std::string CheckpointKey(int32_t partition) {
  return std::string(kCheckpointPrefix) + Digits(partition, 10);
}

}  // namespace payorch::projection::internal
