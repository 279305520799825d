// ScriptedGateway: a payment processor whose answers a test writes in advance, for the
// end-to-end tests. It keeps a real processor's idempotency memory, records every call and
// every Retrieve, and keeps a ledger of the money it moved (connectors::LedgerEntry), so
// the checker can reconcile the log with it.
//
// Which answer an Execute gets, in order of precedence:
//  1. A definite answer already recorded under the key (a success, or a decided failure:
//     DECLINED, HARD_DECLINE, INVALID_CARD, UNKNOWN) is repeated: a redelivered call never
//     moves money twice. A key sealed by a NOT_FOUND retrieve answers FAILED (UNKNOWN).
//  2. The key's own script (OnKey): successive calls take successive replies; the last
//     reply repeats.
//  3. The processor's queue (OnNextCalls): consumed in call order by calls whose key has
//     no script.
//  4. The default reply (SetDefault; initially: succeed with the whole amount).
// A Timeout() reply answers UNKNOWN (TIMEOUT); Timeout(/*charged=*/true) also moves the
// money, as a processor whose answer was lost on the way back.
//
// Retrieve(key) answers from the key's retrieve script (OnRetrieve; the last reply
// repeats); without one, the recorded definite answer, else UNKNOWN. A scripted SUCCEEDED
// moves the money of the key's logged request (once); a scripted NOT_FOUND seals the key.
//
//   auto psp = std::make_shared<ScriptedGateway>("psp_a");
//   psp->OnKey(pid + ":s0:a1", {NetworkFailure(), Succeed()});
//   psp->OnRetrieve(pid + ":s0:a2", {Succeed()});
//   (void)registry.Register("psp_a", psp);
//   ...
//   EXPECT_THAT(psp->CallKeys(), ElementsAre(pid + ":s0:a1"));
//
// Thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/gateway.h"
#include "connectors/ledger.h"

namespace payorch::testing::e2e {

// One scripted answer.
struct Reply {
  ::payments::commands::v1::GatewayOutcome outcome =
      ::payments::commands::v1::GATEWAY_OUTCOME_SUCCEEDED;
  ::payments::types::v1::ErrorCode error = ::payments::types::v1::ERROR_CODE_UNSPECIFIED;
  // Amount processed by a success; -1 = everything asked. Never more than asked.
  int64_t amount = -1;
  // UNKNOWN only: the money moved although the answer was lost.
  bool charged = false;
};

inline Reply Succeed(int64_t amount = -1) { return Reply{.amount = amount}; }
inline Reply Fail(::payments::types::v1::ErrorCode code) {
  return Reply{.outcome = ::payments::commands::v1::GATEWAY_OUTCOME_FAILED, .error = code};
}
inline Reply Decline() { return Fail(::payments::types::v1::ERROR_CODE_DECLINED); }
inline Reply NetworkFailure() { return Fail(::payments::types::v1::ERROR_CODE_NETWORK_FAILURE); }
inline Reply Timeout(bool charged = false) {
  return Reply{.outcome = ::payments::commands::v1::GATEWAY_OUTCOME_UNKNOWN,
               .error = ::payments::types::v1::ERROR_CODE_TIMEOUT,
               .charged = charged};
}
// For Retrieve scripts.
inline Reply NotFound() {
  return Reply{.outcome = ::payments::commands::v1::GATEWAY_OUTCOME_NOT_FOUND};
}
inline Reply CannotTell() {
  return Reply{.outcome = ::payments::commands::v1::GATEWAY_OUTCOME_UNKNOWN};
}

class ScriptedGateway final : public connectors::Gateway {
 public:
  explicit ScriptedGateway(std::string processor_id) : processor_id_(std::move(processor_id)) {}

  void OnKey(const std::string& key, std::vector<Reply> replies) {
    std::lock_guard lock(mu_);
    key_script_[key] = std::deque<Reply>(replies.begin(), replies.end());
  }
  void OnNextCalls(const std::vector<Reply>& replies) {
    std::lock_guard lock(mu_);
    queue_.insert(queue_.end(), replies.begin(), replies.end());
  }
  void SetDefault(Reply reply) {
    std::lock_guard lock(mu_);
    default_ = reply;
  }
  void OnRetrieve(const std::string& key, std::vector<Reply> replies) {
    std::lock_guard lock(mu_);
    retrieve_script_[key] = std::deque<Reply>(replies.begin(), replies.end());
  }

  connectors::GatewayAnswer Execute(const connectors::GatewayRequest& request) override {
    namespace cmd = ::payments::commands::v1;
    std::lock_guard lock(mu_);
    calls_.push_back(request);
    Memory& m = memory_[request.idempotency_key];
    if (m.definite) return m.answer;
    if (m.sealed)
      return Answer(cmd::GATEWAY_OUTCOME_FAILED, ::payments::types::v1::ERROR_CODE_UNKNOWN);
    m.request = request;
    m.has_request = true;
    const Reply r = NextReply(request.idempotency_key);
    switch (r.outcome) {
      case cmd::GATEWAY_OUTCOME_SUCCEEDED:
        return Charge(m, r.amount);
      case cmd::GATEWAY_OUTCOME_UNKNOWN:
        if (r.charged) (void)Charge(m, r.amount);
        return Answer(cmd::GATEWAY_OUTCOME_UNKNOWN, ::payments::types::v1::ERROR_CODE_TIMEOUT);
      default: {
        connectors::GatewayAnswer a = Answer(r.outcome, r.error);
        if (r.outcome == cmd::GATEWAY_OUTCOME_FAILED && IsDecided(r.error)) Record(m, a);
        return a;
      }
    }
  }

  connectors::GatewayAnswer Retrieve(std::string_view key_view) override {
    namespace cmd = ::payments::commands::v1;
    const std::string key(key_view);
    std::lock_guard lock(mu_);
    retrieves_.push_back(key);
    Memory& m = memory_[key];
    auto it = retrieve_script_.find(key);
    if (it == retrieve_script_.end() || it->second.empty()) {
      if (m.definite) return m.answer;
      return Answer(cmd::GATEWAY_OUTCOME_UNKNOWN, ::payments::types::v1::ERROR_CODE_UNSPECIFIED);
    }
    const Reply r = it->second.front();
    if (it->second.size() > 1) it->second.pop_front();
    switch (r.outcome) {
      case cmd::GATEWAY_OUTCOME_SUCCEEDED:
        if (m.definite) return m.answer;
        if (!m.has_request) return Answer(cmd::GATEWAY_OUTCOME_UNKNOWN, {});
        return Charge(m, r.amount);
      case cmd::GATEWAY_OUTCOME_NOT_FOUND:
        m.sealed = true;
        return Answer(cmd::GATEWAY_OUTCOME_NOT_FOUND, {});
      case cmd::GATEWAY_OUTCOME_FAILED: {
        connectors::GatewayAnswer a = Answer(r.outcome, r.error);
        Record(m, a);
        return a;
      }
      default:
        return Answer(r.outcome, r.error);
    }
  }

  const std::string& processor_id() const { return processor_id_; }

  // Every Execute, in call order.
  std::vector<connectors::GatewayRequest> Calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<std::string> CallKeys() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> keys;
    for (const auto& c : calls_) keys.push_back(c.idempotency_key);
    return keys;
  }
  int CallCount(const std::string& key) const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& c : calls_) n += c.idempotency_key == key ? 1 : 0;
    return n;
  }
  // Every Retrieve's key, in call order.
  std::vector<std::string> Retrieves() const {
    std::lock_guard lock(mu_);
    return retrieves_;
  }
  // The money this processor moved, in order.
  std::vector<connectors::LedgerEntry> Ledger() const {
    std::lock_guard lock(mu_);
    return ledger_;
  }

 private:
  struct Memory {
    connectors::GatewayRequest request;
    bool has_request = false;
    bool definite = false;
    bool sealed = false;
    connectors::GatewayAnswer answer;
  };

  static bool IsDecided(::payments::types::v1::ErrorCode code) {
    namespace ty = ::payments::types::v1;
    return code == ty::ERROR_CODE_DECLINED || code == ty::ERROR_CODE_HARD_DECLINE ||
           code == ty::ERROR_CODE_INVALID_CARD || code == ty::ERROR_CODE_UNKNOWN;
  }

  static connectors::GatewayAnswer Answer(::payments::commands::v1::GatewayOutcome outcome,
                                          ::payments::types::v1::ErrorCode code) {
    connectors::GatewayAnswer a;
    a.outcome = outcome;
    a.error_code = code;
    return a;
  }

  static void Record(Memory& m, const connectors::GatewayAnswer& a) {
    m.definite = true;
    m.answer = a;
  }

  // Requires mu_.
  Reply NextReply(const std::string& key) {
    auto it = key_script_.find(key);
    if (it != key_script_.end() && !it->second.empty()) {
      const Reply r = it->second.front();
      if (it->second.size() > 1) it->second.pop_front();
      return r;
    }
    if (!queue_.empty()) {
      const Reply r = queue_.front();
      queue_.pop_front();
      return r;
    }
    return default_;
  }

  // Moves the money of m.request and records the success. Requires mu_.
  connectors::GatewayAnswer Charge(Memory& m, int64_t amount) {
    const connectors::GatewayRequest& rq = m.request;
    const int64_t moved = amount < 0 ? rq.amount_minor : std::min(amount, rq.amount_minor);
    connectors::GatewayAnswer a = Answer(::payments::commands::v1::GATEWAY_OUTCOME_SUCCEEDED,
                                         ::payments::types::v1::ERROR_CODE_UNSPECIFIED);
    a.amount_processed_minor = moved;
    a.processor_reference = processor_id_ + "_ref_" + std::to_string(ledger_.size() + 1);
    Record(m, a);
    connectors::LedgerEntry e;
    e.seq = ledger_.size() + 1;
    e.kind = rq.kind;
    e.idempotency_key = rq.idempotency_key;
    e.processor_id = processor_id_;
    e.payment_id = rq.payment_id;
    e.step_index = rq.step_index;
    e.amount_minor = moved;
    e.currency = rq.currency;
    e.processor_reference = a.processor_reference;
    e.target_reference = rq.target_reference;
    ledger_.push_back(std::move(e));
    return a;
  }

  const std::string processor_id_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<Reply>> key_script_;
  std::map<std::string, std::deque<Reply>> retrieve_script_;
  std::deque<Reply> queue_;
  Reply default_;
  std::map<std::string, Memory> memory_;
  std::vector<connectors::GatewayRequest> calls_;
  std::vector<std::string> retrieves_;
  std::vector<connectors::LedgerEntry> ledger_;
};

}  // namespace payorch::testing::e2e
