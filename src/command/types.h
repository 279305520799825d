// Strong types for identifiers and counters, so a partition is never passed as an epoch.
//
//   PaymentId id{"pay_1f3a..."};
//   Epoch e{3};
//   if (e > Epoch{2}) ...
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace payorch {

template <typename T, typename Tag>
class NamedType {
 public:
  using value_type = T;
  NamedType() = default;
  explicit NamedType(T value) : value_(std::move(value)) {}
  const T& value() const { return value_; }
  T& mutable_value() { return value_; }
  auto operator<=>(const NamedType&) const = default;  // NOLINT(modernize-use-nullptr): tidy 14 bug
  bool operator==(const NamedType&) const = default;

 private:
  T value_{};
};

using PaymentId = NamedType<std::string, struct PaymentIdTag>;
using MerchantId = NamedType<std::string, struct MerchantIdTag>;
using Epoch = NamedType<uint64_t, struct EpochTag>;
using Sequence = NamedType<uint64_t, struct SequenceTag>;
using PartitionId = NamedType<int32_t, struct PartitionTag>;
using Offset = NamedType<int64_t, struct OffsetTag>;

}  // namespace payorch

template <typename T, typename Tag>
struct std::hash<payorch::NamedType<T, Tag>> {
  size_t operator()(const payorch::NamedType<T, Tag>& v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};
