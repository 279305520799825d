#include "connectors/breaker.h"

namespace payorch::connectors {

namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;

BreakerConfig BreakerConfigOf(const ::payments::config::v1::CircuitBreakerConfig& c) {
  BreakerConfig out;
  out.failure_threshold = c.failure_threshold();
  if (c.open_ms() > 0) out.open_ms = c.open_ms();
  if (c.half_open_probes() > 0) out.half_open_probes = c.half_open_probes();
  out.slow_call_ms = c.slow_call_ms();
  return out;
}

namespace {

BreakerTransition Move(Breaker& b, BreakerState to, int64_t now_ms) {
  BreakerTransition t{b.state, to, now_ms, b.consecutive_failures};
  b.state = to;
  b.probes_in_flight = 0;
  b.probe_successes = 0;
  if (to == cmd::BREAKER_STATE_OPEN) b.opened_at_ms = now_ms;
  if (to == cmd::BREAKER_STATE_CLOSED) b.consecutive_failures = 0;
  return t;
}

}  // namespace

Admission Admit(Breaker& b, const BreakerConfig& config, int64_t now_ms) {
  Admission a;
  if (config.failure_threshold == 0) return a;
  if (b.state == cmd::BREAKER_STATE_OPEN) {
    if (now_ms - b.opened_at_ms < config.open_ms) {
      a.allowed = false;
      return a;
    }
    a.transition = Move(b, cmd::BREAKER_STATE_HALF_OPEN, now_ms);
  }
  if (b.state == cmd::BREAKER_STATE_HALF_OPEN) {
    if (b.probes_in_flight >= config.half_open_probes) {
      a.allowed = false;
      return a;
    }
    ++b.probes_in_flight;
  }
  return a;
}

std::optional<BreakerTransition> Record(Breaker& b, const BreakerConfig& config,
                                        bool availability_failure, int64_t now_ms) {
  if (config.failure_threshold == 0) return std::nullopt;
  switch (b.state) {
    case cmd::BREAKER_STATE_HALF_OPEN:
      if (availability_failure) {
        ++b.consecutive_failures;
        return Move(b, cmd::BREAKER_STATE_OPEN, now_ms);
      }
      if (++b.probe_successes >= config.half_open_probes) {
        return Move(b, cmd::BREAKER_STATE_CLOSED, now_ms);
      }
      return std::nullopt;
    case cmd::BREAKER_STATE_OPEN:
      return std::nullopt;  // a late answer of a call admitted before the breaker opened
    default:
      if (!availability_failure) {
        b.consecutive_failures = 0;
        return std::nullopt;
      }
      if (++b.consecutive_failures >= config.failure_threshold) {
        return Move(b, cmd::BREAKER_STATE_OPEN, now_ms);
      }
      return std::nullopt;
  }
}

bool IsAvailabilityFailure(const GatewayAnswer& answer, const BreakerConfig& config) {
  if (answer.outcome == cmd::GATEWAY_OUTCOME_UNKNOWN) return true;
  if (config.slow_call_ms > 0 && answer.latency_ms > config.slow_call_ms) return true;
  if (answer.outcome != cmd::GATEWAY_OUTCOME_FAILED) return false;
  return answer.error_code == types::ERROR_CODE_TIMEOUT ||
         answer.error_code == types::ERROR_CODE_NETWORK_FAILURE ||
         answer.error_code == types::ERROR_CODE_PROCESSOR_UNAVAILABLE;
}

void BreakerBook::Configure(const ::payments::config::v1::OrchestratorConfig& config) {
  std::lock_guard lock(mu_);
  configs_.clear();
  for (const auto& m : config.merchants()) {
    if (m.has_circuit_breaker() && m.circuit_breaker().failure_threshold() > 0) {
      configs_.emplace(m.merchant_id(), BreakerConfigOf(m.circuit_breaker()));
    }
  }
}

Admission BreakerBook::Admit(const std::string& merchant, const std::string& processor,
                             int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto c = configs_.find(merchant);
  if (c == configs_.end()) return Admission{};
  return connectors::Admit(breakers_[{merchant, processor}], c->second, now_ms);
}

std::optional<BreakerTransition> BreakerBook::Record(const std::string& merchant,
                                                     const std::string& processor,
                                                     const GatewayAnswer& answer, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto c = configs_.find(merchant);
  if (c == configs_.end()) return std::nullopt;
  return connectors::Record(breakers_[{merchant, processor}], c->second,
                            IsAvailabilityFailure(answer, c->second), now_ms);
}

BreakerState BreakerBook::StateOf(const std::string& merchant, const std::string& processor) const {
  std::lock_guard lock(mu_);
  auto it = breakers_.find({merchant, processor});
  return it == breakers_.end() ? cmd::BREAKER_STATE_CLOSED : it->second.state;
}

}  // namespace payorch::connectors
