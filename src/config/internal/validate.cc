#include "config/internal/validate.h"

#include <cctype>
#include <map>
#include <string>

#include "config/internal/normalize.h"

namespace payorch::config::internal {

namespace {

using ::payments::config::v1::MerchantConfig;
using ::payments::config::v1::OrchestratorConfig;
using ::payments::config::v1::RoutingProfile;
using ::payments::plan::v1::StepRole;
using ::payments::types::v1::PaymentMethod;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string MethodName(PaymentMethod m) {
  return ShortEnumName(::payments::types::v1::PaymentMethod_descriptor()->FindValueByNumber(m));
}

std::string RoleName(StepRole r) {
  return ShortEnumName(::payments::plan::v1::StepRole_descriptor()->FindValueByNumber(r));
}

std::optional<Problem> Bounded(const std::string& path, uint32_t value, uint32_t min,
                               uint32_t max) {
  if (value == 0 || (value >= min && value <= max)) return std::nullopt;
  return Problem{path,
                 "must be 0 (the default) or " + std::to_string(min) + ".." + std::to_string(max) +
                     ", got " + std::to_string(value),
                 {}};
}

std::optional<Problem> ValidateProfile(RoutingProfile& profile, const std::string& path) {
  if (profile.steps_size() == 0) {
    return Problem{Field(path, "steps"), "at least one step is required", {}};
  }
  if (static_cast<size_t>(profile.steps_size()) > kMaxStepsPerProfile) {
    return Problem{Field(path, "steps"),
                   "at most " + std::to_string(kMaxStepsPerProfile) + " steps, got " +
                       std::to_string(profile.steps_size()),
                   {}};
  }
  for (int k = 0; k < profile.steps_size(); ++k) {
    const auto& step = profile.steps(k);
    std::string p = Index(Field(path, "steps"), k);
    if (step.method() == ::payments::types::v1::PAYMENT_METHOD_UNSPECIFIED) {
      return Problem{Field(p, "method"),
                     "required (one of " +
                         ExpectedEnumNames(::payments::types::v1::PaymentMethod_descriptor()) + ")",
                     {}};
    }
    if (step.processor_id().empty()) {
      return Problem{Field(p, "processor_id"), "must not be empty", {}};
    }
    if (step.max_amount_minor() < 0) {
      return Problem{Field(p, "max_amount_minor"),
                     "must be >= 0 (0 = no bound), got " + std::to_string(step.max_amount_minor()),
                     {}};
    }
    if (step.role() == ::payments::plan::v1::STEP_ROLE_UNSPECIFIED) {
      return Problem{Field(p, "role"),
                     "required (one of " +
                         ExpectedEnumNames(::payments::plan::v1::StepRole_descriptor()) + ")",
                     {}};
    }
    if (k == 0 && step.role() != ::payments::plan::v1::STEP_ROLE_PRIMARY) {
      return Problem{
          Field(p, "role"), "the first step must be PRIMARY, got " + RoleName(step.role()), {}};
    }
  }
  return std::nullopt;
}

std::optional<Problem> ValidateMerchant(MerchantConfig& m, const std::string& path) {
  const std::string& id = m.merchant_id();
  if (id.empty()) return Problem{Field(path, "merchant_id"), "must not be empty", {}};
  if (id.size() > kMaxMerchantIdLength) {
    return Problem{Field(path, "merchant_id"),
                   "longer than " + std::to_string(kMaxMerchantIdLength) + " characters",
                   {}};
  }
  for (char c : id) {
    if (!std::isgraph(static_cast<unsigned char>(c))) {
      return Problem{Field(path, "merchant_id"),
                     Quote(id) + " contains whitespace or a non-ASCII character",
                     {}};
    }
  }
  if (m.max_retries_per_step() > kMaxRetriesPerStep) {
    return Problem{Field(path, "max_retries_per_step"),
                   "must be at most " + std::to_string(kMaxRetriesPerStep) + ", got " +
                       std::to_string(m.max_retries_per_step()),
                   {}};
  }
  if (auto p = Bounded(Field(path, "attempt_timeout_ms"), m.attempt_timeout_ms(),
                       kMinAttemptTimeoutMs, kMaxAttemptTimeoutMs)) {
    return p;
  }
  if (auto p = Bounded(Field(path, "processing_deadline_ms"), m.processing_deadline_ms(),
                       kMinProcessingDeadlineMs, kMaxProcessingDeadlineMs)) {
    return p;
  }
  if (auto p = Bounded(Field(path, "circuit_breaker.open_ms"), m.circuit_breaker().open_ms(), 100,
                       3'600'000)) {
    return p;
  }
  if (auto p = Bounded(Field(path, "circuit_breaker.slow_call_ms"),
                       m.circuit_breaker().slow_call_ms(), 10, 600'000)) {
    return p;
  }
  if (auto p = Bounded(Field(path, "success_rate_routing.exploration_percent"),
                       m.success_rate_routing().exploration_percent(), 1, 100)) {
    return p;
  }
  if (auto p = Bounded(Field(path, "success_rate_routing.window"),
                       m.success_rate_routing().window(), 1, 100'000)) {
    return p;
  }
  if (m.attempt_timeout_ms() != 0 && m.processing_deadline_ms() != 0 &&
      m.processing_deadline_ms() < m.attempt_timeout_ms()) {
    return Problem{Field(path, "processing_deadline_ms"),
                   "must be >= attempt_timeout_ms (" + std::to_string(m.attempt_timeout_ms()) +
                       "), got " + std::to_string(m.processing_deadline_ms()),
                   {}};
  }
  if (m.max_amount_minor() < 0) {
    return Problem{
        Field(path, "max_amount_minor"),
        "must be >= 0 (0 = the system maximum), got " + std::to_string(m.max_amount_minor()),
        {}};
  }
  std::map<std::string, int> currencies;
  for (int c = 0; c < m.currencies_size(); ++c) {
    std::string p = Index(Field(path, "currencies"), c);
    std::string* code = m.mutable_currencies(c);
    bool shape = code->size() == 3;
    for (char& ch : *code) {
      shape = shape && std::isalpha(static_cast<unsigned char>(ch));
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    if (!shape) return Problem{p, Quote(*code) + " is not a 3-letter ISO 4217 code", {}};
    if (auto [it, fresh] = currencies.emplace(*code, c); !fresh) {
      return Problem{p,
                     "duplicate currency " + Quote(*code) + " (also " +
                         Index(Field(path, "currencies"), it->second) + ")",
                     {}};
    }
  }
  if (m.profiles_size() == 0) {
    return Problem{Field(path, "profiles"), "at least one profile is required", {}};
  }
  std::map<int, int> by_method;
  for (int j = 0; j < m.profiles_size(); ++j) {
    std::string p = Index(Field(path, "profiles"), j);
    RoutingProfile* profile = m.mutable_profiles(j);
    if (auto [it, fresh] = by_method.emplace(profile->method(), j); !fresh) {
      std::string method = profile->method() == ::payments::types::v1::PAYMENT_METHOD_UNSPECIFIED
                               ? "any method (UNSPECIFIED)"
                               : "method " + MethodName(profile->method());
      return Problem{Field(p, "method"),
                     "duplicate profile for " + method + " (also " +
                         Index(Field(path, "profiles"), it->second) + ")",
                     {}};
    }
    if (auto problem = ValidateProfile(*profile, p)) return problem;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Problem> Validate(OrchestratorConfig* config) {
  if (config->schema_version() == 0) config->set_schema_version(1);
  if (config->schema_version() != 1) {
    return Problem{
        "schema_version",
        "unsupported version " + std::to_string(config->schema_version()) + " (this build reads 1)",
        {}};
  }
  if (config->merchants_size() == 0) {
    return Problem{"merchants", "at least one merchant is required", {}};
  }
  std::map<std::string, int> ids;
  for (int i = 0; i < config->merchants_size(); ++i) {
    std::string path = Index("merchants", i);
    MerchantConfig* m = config->mutable_merchants(i);
    if (auto p = ValidateMerchant(*m, path)) return p;
    if (auto [it, fresh] = ids.emplace(m->merchant_id(), i); !fresh) {
      return Problem{Field(path, "merchant_id"),
                     "duplicate merchant " + Quote(m->merchant_id()) + " (also " +
                         Index("merchants", it->second) + ")",
                     {}};
    }
  }
  return std::nullopt;
}

}  // namespace payorch::config::internal
