#include "command/plan_builder.h"

#include <algorithm>
#include <vector>

#include "command/money.h"
#include "command/parser.h"

namespace payorch::command {

namespace cfg = ::payments::config::v1;
namespace pl = ::payments::plan::v1;
namespace ty = ::payments::types::v1;
namespace ev = ::payments::events::v1;

PlanBuilder::PlanBuilder(cfg::OrchestratorConfig config) : config_(std::move(config)) {
  for (int i = 0; i < config_.merchants_size(); ++i) {
    by_merchant_.emplace(config_.merchants(i).merchant_id(), i);  // first definition wins
  }
}

const cfg::MerchantConfig* PlanBuilder::FindMerchant(std::string_view merchant_id) const {
  // A few merchants: comparing their ids is cheaper than hashing the one asked for.
  if (config_.merchants_size() <= kLinearLookupMax) {
    for (const auto& m : config_.merchants()) {
      if (m.merchant_id() == merchant_id) return &m;  // the first definition wins
    }
    return nullptr;
  }
  auto it = by_merchant_.find(merchant_id);
  return it == by_merchant_.end() ? nullptr : &config_.merchants(it->second);
}

int64_t PlanCapacity(const pl::PaymentPlan& plan) {
  int64_t total = 0;
  int64_t group = 0;
  bool group_open = false;
  bool unbounded = false;
  auto close_group = [&] {
    if (group_open) {
      // Saturate: a sum that does not fit is as good as unbounded.
      const auto sum = CheckedAdd(total, group);
      if (sum.has_value()) {
        total = *sum;
      } else {
        unbounded = true;
      }
    }
    group = 0;
  };
  for (const auto& step : plan.steps()) {
    if (step.role() != pl::STEP_ROLE_FALLBACK || !group_open) {
      close_group();
      group_open = true;
    }
    if (step.max_amount_minor() <= 0) unbounded = true;
    group = std::max(group, step.max_amount_minor());
    if (total > (int64_t{1} << 62) || group > (int64_t{1} << 62)) unbounded = true;
  }
  close_group();
  return unbounded ? -1 : total;
}

Outcome<pl::PaymentPlan> PlanBuilder::Build(std::string_view merchant_id, int64_t amount_minor,
                                            std::string_view currency,
                                            ty::PaymentMethod method) const {
  pl::PaymentPlan plan;
  if (auto rejection = BuildInto(merchant_id, amount_minor, currency, method, &plan)) {
    return *std::move(rejection);
  }
  return plan;
}

namespace {

// Orders the steps of each group (a step and the FALLBACK steps after it) by `preference`.
void ApplyPreference(const google::protobuf::RepeatedPtrField<std::string>& preference,
                     pl::PaymentPlan* plan) {
  auto rank = [&](const std::string& processor) {
    for (int i = 0; i < preference.size(); ++i) {
      if (preference[i] == processor) return i;
    }
    return preference.size();
  };
  auto* steps = plan->mutable_steps();
  int begin = 0;
  while (begin < steps->size()) {
    int end = begin + 1;
    while (end < steps->size() && steps->Get(end).role() == pl::STEP_ROLE_FALLBACK) ++end;
    if (end - begin > 1) {
      std::vector<int> order;
      order.reserve(static_cast<size_t>(end - begin));
      for (int i = begin; i < end; ++i) order.push_back(i);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return rank(steps->Get(a).processor_id()) < rank(steps->Get(b).processor_id());
      });
      std::vector<pl::PaymentStep> sorted;
      sorted.reserve(order.size());
      for (int i : order) sorted.push_back(steps->Get(i));
      const pl::StepRole first_role = steps->Get(begin).role();
      for (int i = begin; i < end; ++i) {
        pl::PaymentStep& step = *steps->Mutable(i);
        step = std::move(sorted[static_cast<size_t>(i - begin)]);
        step.set_role(i == begin ? first_role : pl::STEP_ROLE_FALLBACK);
      }
    }
    begin = end;
  }
}

}  // namespace

std::optional<Rejection> PlanBuilder::BuildInto(
    std::string_view merchant_id, int64_t amount_minor, std::string_view currency,
    ty::PaymentMethod method, pl::PaymentPlan* out,
    const google::protobuf::RepeatedPtrField<std::string>* preference) const {
  const cfg::MerchantConfig* merchant = FindMerchant(merchant_id);
  if (merchant == nullptr) {
    return Rejection{ev::REJECT_REASON_MERCHANT_UNKNOWN,
                     "merchant '" + std::string(merchant_id) + "' is not configured", ""};
  }
  // The first profile for exactly this method wins; else the first catch-all profile.
  const cfg::RoutingProfile* profile = nullptr;
  for (const auto& p : merchant->profiles()) {
    if (p.method() == method) {
      profile = &p;
      break;
    }
  }
  if (profile == nullptr) {
    for (const auto& p : merchant->profiles()) {
      if (p.method() == ty::PAYMENT_METHOD_UNSPECIFIED) {
        profile = &p;
        break;
      }
    }
  }
  if (profile == nullptr || profile->steps_size() == 0) {
    return Rejection{ev::REJECT_REASON_PLAN_COVERAGE,
                     "merchant has no routing profile for method " + ty::PaymentMethod_Name(method),
                     "plan/coverage"};
  }

  pl::PaymentPlan& plan = *out;
  plan.set_schema_version(kSchemaVersion);
  plan.mutable_total()->set_amount_minor(amount_minor);
  plan.mutable_total()->mutable_currency()->assign(currency.data(), currency.size());
  plan.set_profile(profile->name());
  plan.set_max_retries_per_step(merchant->max_retries_per_step() > 0
                                    ? merchant->max_retries_per_step()
                                    : kDefaultMaxRetriesPerStep);
  plan.set_attempt_timeout_ms(merchant->attempt_timeout_ms() > 0 ? merchant->attempt_timeout_ms()
                                                                 : kDefaultAttemptTimeoutMs);
  plan.set_processing_deadline_ms(merchant->processing_deadline_ms() > 0
                                      ? merchant->processing_deadline_ms()
                                      : kDefaultProcessingDeadlineMs);
  for (const auto& t : profile->steps()) {
    pl::PaymentStep* step = plan.add_steps();
    step->set_method(t.method() == ty::PAYMENT_METHOD_UNSPECIFIED ? method : t.method());
    step->set_processor_id(t.processor_id());
    step->set_max_amount_minor(t.max_amount_minor());
    step->set_role(t.role() == pl::STEP_ROLE_UNSPECIFIED
                       ? (plan.steps_size() == 1 ? pl::STEP_ROLE_PRIMARY : pl::STEP_ROLE_SPLIT)
                       : t.role());
  }
  if (preference != nullptr && !preference->empty() && merchant->success_rate_routing().enabled()) {
    ApplyPreference(*preference, &plan);
  }
  const int64_t capacity = PlanCapacity(plan);
  if (capacity >= 0 && capacity < amount_minor) {
    return Rejection{ev::REJECT_REASON_PLAN_COVERAGE,
                     "plan '" + profile->name() + "' covers at most " + std::to_string(capacity) +
                         " of " + std::to_string(amount_minor),
                     "plan/coverage"};
  }
  return std::nullopt;
}

}  // namespace payorch::command
