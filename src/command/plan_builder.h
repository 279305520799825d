// PlanBuilder: turns merchant configuration (payments.config.v1) into the ordered plan of
// steps for one payment. Pure and deterministic: the same configuration and request give
// the same plan, byte for byte.
//
//   PlanBuilder builder(config);                 // config loaded by src/config/
//   auto plan = builder.Build("m_1", 15000, "USD", PAYMENT_METHOD_APPLE_PAY);
//   if (!plan.ok()) { plan.rejection().contract_id == "plan/coverage" ... }
//
// Thread safety: const methods may be called concurrently.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "command/rejection.h"
#include "payments/config/v1/config.pb.h"
#include "payments/plan/v1/plan.pb.h"

namespace payorch::command {

// Defaults for fields a merchant leaves at zero.
inline constexpr uint32_t kDefaultMaxRetriesPerStep = 2;
inline constexpr uint32_t kDefaultAttemptTimeoutMs = 2'000;
inline constexpr uint32_t kDefaultProcessingDeadlineMs = 60'000;

class PlanBuilder {
 public:
  PlanBuilder() = default;
  explicit PlanBuilder(::payments::config::v1::OrchestratorConfig config);

  // nullptr if the merchant is not configured.
  const ::payments::config::v1::MerchantConfig* FindMerchant(std::string_view merchant_id) const;

  // Rejections: MERCHANT_UNKNOWN; PLAN_COVERAGE (contract "plan/coverage") when no profile
  // matches the method or the steps' maxima cannot cover the amount.
  Outcome<::payments::plan::v1::PaymentPlan> Build(
      std::string_view merchant_id, int64_t amount_minor, std::string_view currency,
      ::payments::types::v1::PaymentMethod method) const;

  // The same plan, written into `*plan`, which must be empty (new or cleared): the hot
  // path reuses a recycled message. Returns the rejection, if any (then `*plan` holds a
  // partial plan).
  //
  // `preference` (CreatePayment.processor_preference, may be null): processor ids, best
  // first. If the merchant enables success_rate_routing, the steps of each group (a step and
  // the FALLBACK steps right after it) are ordered by it (stably; ids it does not name keep
  // their place after those it names), and the group's roles stay by position.
  [[nodiscard]] std::optional<Rejection> BuildInto(
      std::string_view merchant_id, int64_t amount_minor, std::string_view currency,
      ::payments::types::v1::PaymentMethod method, ::payments::plan::v1::PaymentPlan* plan,
      const google::protobuf::RepeatedPtrField<std::string>* preference = nullptr) const;

  const ::payments::config::v1::OrchestratorConfig& config() const { return config_; }

 private:
  // Looks up std::string keys by std::string_view without building a string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  static constexpr int kLinearLookupMax = 8;

  ::payments::config::v1::OrchestratorConfig config_;
  std::unordered_map<std::string, int, Hash, std::equal_to<>> by_merchant_;
};

// The most a plan can process: each step together with the FALLBACK steps right after it
// forms a group whose capacity is the largest maximum among them (0 = unbounded); the
// plan's capacity is the sum over groups. Returns -1 for unbounded.
int64_t PlanCapacity(const ::payments::plan::v1::PaymentPlan& plan);

}  // namespace payorch::command
