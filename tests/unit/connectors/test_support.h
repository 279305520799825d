// Test support for the connectors: event builders and a scriptable fake gateway.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/gateway.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::connectors::testing {

namespace ev = ::payments::events::v1;
namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;

inline ev::GatewayOperation Op(ev::OperationKind kind, const std::string& key,
                               const std::string& processor = "psp_a", int64_t amount = 1000,
                               uint32_t step = 0, const std::string& target = "") {
  ev::GatewayOperation op;
  op.set_kind(kind);
  op.set_idempotency_key(key);
  op.set_processor_id(processor);
  op.set_method(types::PAYMENT_METHOD_CARD);
  op.mutable_amount()->set_amount_minor(amount);
  op.mutable_amount()->set_currency("EUR");
  op.set_step_index(step);
  op.set_attempt(1);
  op.set_timeout_ms(2000);
  op.set_target_reference(target);
  return op;
}

inline ev::EventEnvelope Envelope(const std::string& payment_id, uint64_t sequence = 1) {
  ev::EventEnvelope e;
  e.set_schema_version(1);
  e.set_payment_id(payment_id);
  e.set_sequence(sequence);
  e.set_event_id(payment_id + "/" + std::to_string(sequence));
  e.set_correlation_id("corr-" + payment_id);
  e.set_epoch(1);
  return e;
}

inline ev::EventEnvelope Processing(const std::string& payment_id, const ev::GatewayOperation& op,
                                    int64_t deadline_at_ms) {
  ev::EventEnvelope e = Envelope(payment_id, 5);
  *e.mutable_payment_processing()->mutable_op() = op;
  e.mutable_payment_processing()->set_deadline_at_ms(deadline_at_ms);
  return e;
}

inline GatewayAnswer MakeAnswer(cmd::GatewayOutcome outcome, int64_t amount = 0,
                                types::ErrorCode code = types::ERROR_CODE_UNSPECIFIED,
                                const std::string& reference = "") {
  GatewayAnswer a;
  a.outcome = outcome;
  a.amount_processed_minor = amount;
  a.error_code = code;
  a.processor_reference = reference;
  return a;
}

// A gateway that answers from a script and records what it was asked.
class ScriptedGateway : public Gateway {
 public:
  GatewayAnswer Execute(const GatewayRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    executes.push_back(request);
    return execute_answer;
  }
  GatewayAnswer Retrieve(std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    retrieves.emplace_back(key);
    if (retrieve_script.empty()) return MakeAnswer(cmd::GATEWAY_OUTCOME_UNKNOWN);
    GatewayAnswer a = retrieve_script.front();
    retrieve_script.pop_front();
    return a;
  }

  GatewayAnswer execute_answer =
      MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 1000, types::ERROR_CODE_UNSPECIFIED, "ref-1");
  std::deque<GatewayAnswer> retrieve_script;  // then UNKNOWN forever
  std::vector<GatewayRequest> executes;
  std::vector<std::string> retrieves;

 private:
  std::mutex mu_;
};

}  // namespace payorch::connectors::testing
