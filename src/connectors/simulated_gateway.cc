#include "connectors/simulated_gateway.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_map>
#include <utility>

#include "connectors/internal/hash.h"
#include "connectors/internal/journal.h"
#include "connectors/internal/target_book.h"

namespace payorch::connectors {

namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;

namespace internal {

struct GatewayState {
  // What an unrecorded key has been tried with, and how often.
  struct Try {
    uint32_t count = 0;
    OperationKind kind;
    int64_t amount_minor;
    std::string currency;
  };

  std::unique_ptr<Journal> journal;
  std::unordered_map<std::string, Record> records;  // by idempotency key
  std::unordered_map<std::string, Try> tries;
  std::unordered_map<std::string, uint32_t> retrieves;
  TargetBook targets;
  std::vector<LedgerEntry> ledger;

  void Apply(Record record) {
    if (records.count(record.key) != 0) return;  // the first record under a key stands
    tries.erase(record.key);
    retrieves.erase(record.key);
    if (record.moved_money()) {
      ledger.push_back(record.ToLedgerEntry(ledger.size() + 1));
      targets.Apply(ledger.back(), record.payment_id);
    }
    std::string key = record.key;
    records.emplace(std::move(key), std::move(record));
  }

  // Appends to the journal (if any), then applies. False if it could not be made durable.
  bool Commit(Record record) {
    if (journal != nullptr && !journal->Append(record)) return false;
    Apply(std::move(record));
    return true;
  }
};

}  // namespace internal

namespace {

using internal::Record;

GatewayAnswer Answer(GatewayOutcome outcome, ErrorCode code) {
  GatewayAnswer a;
  a.outcome = outcome;
  a.error_code = code;
  return a;
}

GatewayAnswer Failed(ErrorCode code) { return Answer(cmd::GATEWAY_OUTCOME_FAILED, code); }

GatewayAnswer Unknown() { return Answer(cmd::GATEWAY_OUTCOME_UNKNOWN, types::ERROR_CODE_TIMEOUT); }

GatewayAnswer AnswerOf(const Record& r) {
  GatewayAnswer a = Answer(r.outcome, r.error_code);
  a.amount_processed_minor = r.processed_minor;
  a.processor_reference = r.processor_reference;
  return a;
}

bool Conflicts(OperationKind kind, int64_t amount, const std::string& currency,
               const GatewayRequest& req) {
  return kind != req.kind || amount != req.amount_minor || currency != req.currency;
}

std::string ReferenceFor(std::string_view processor_id, std::string_view key) {
  uint64_t h = internal::Fnv1a64(processor_id);
  h = internal::Fnv1a64(std::string_view("\0", 1), h);
  h = internal::Mix64(internal::Fnv1a64(key, h));
  return std::string(processor_id.empty() ? "sim" : processor_id) + "_" + internal::Hex64(h);
}

Record RecordFor(const GatewayRequest& req, const std::string& processor_id) {
  Record r;
  r.key = req.idempotency_key;
  r.kind = req.kind;
  r.payment_id = req.payment_id;
  r.step_index = req.step_index;
  r.processor_id = processor_id;
  r.method = req.method;
  r.requested_minor = req.amount_minor;
  r.currency = req.currency;
  r.target_reference = req.target_reference;
  return r;
}

bool InUnit(double p) { return std::isfinite(p) && p >= 0 && p <= 1; }

}  // namespace

const char* FateName(Fate fate) {
  switch (fate) {
    case Fate::kSucceeded:
      return "succeeded";
    case Fate::kDeclined:
      return "declined";
    case Fate::kHardDeclined:
      return "hard_declined";
    case Fate::kInvalidCard:
      return "invalid_card";
    case Fate::kTimeoutNotCharged:
      return "timeout_not_charged";
    case Fate::kChargedAnswerLost:
      return "charged_answer_lost";
    case Fate::kNetworkFailure:
      return "network_failure";
    case Fate::kProcessorUnavailable:
      return "processor_unavailable";
  }
  return "?";
}

Fate FateOf(const FlakyRates& rates, uint64_t seed, std::string_view key, uint32_t try_index,
            bool is_charge) {
  const double u = internal::UnitDraw(seed, "fate", key, try_index);
  const std::pair<double, Fate> bands[] = {
      {rates.decline, Fate::kDeclined},
      {rates.hard_decline, Fate::kHardDeclined},
      {rates.invalid_card, Fate::kInvalidCard},
      {rates.timeout, Fate::kTimeoutNotCharged},
      {rates.lost, Fate::kChargedAnswerLost},
      {rates.network, Fate::kNetworkFailure},
      {rates.unavailable, Fate::kProcessorUnavailable},
  };
  double edge = 0;
  for (const auto& [p, fate] : bands) {
    edge += p;
    if (u < edge) {
      const bool decline =
          fate == Fate::kDeclined || fate == Fate::kHardDeclined || fate == Fate::kInvalidCard;
      return decline && !is_charge ? Fate::kSucceeded : fate;
    }
  }
  return Fate::kSucceeded;
}

SimulatedGateway::SimulatedGateway(SimulatedGatewayOptions options)
    : options_(std::move(options)), state_(std::make_unique<internal::GatewayState>()) {
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
}

SimulatedGateway::~SimulatedGateway() = default;

StatusOr<std::unique_ptr<SimulatedGateway>> SimulatedGateway::Open(
    SimulatedGatewayOptions options) {
  const FlakyRates& r = options.rates;
  const double rates[] = {r.decline, r.hard_decline, r.invalid_card, r.timeout,
                          r.lost,    r.network,      r.unavailable};
  double sum = 0;
  for (double p : rates) {
    if (!InUnit(p)) return InvalidArgumentError("gateway rates must be within [0, 1]");
    sum += p;
  }
  if (sum > 1 + 1e-9) return InvalidArgumentError("gateway rates sum to more than 1");
  if (!InUnit(options.retrieve_unknown)) {
    return InvalidArgumentError("gateway retrieve_unknown must be within [0, 1]");
  }
  if (options.max_per_operation < 0)
    return InvalidArgumentError("gateway max must not be negative");

  std::unique_ptr<SimulatedGateway> gateway(new SimulatedGateway(std::move(options)));
  const std::string& path = gateway->options_.ledger_path;
  if (!path.empty()) {
    auto records = internal::ReadJournal(path, /*repair=*/true);
    if (!records.ok()) return records.status();
    for (Record& record : records.value()) gateway->state_->Apply(std::move(record));
    auto journal = internal::Journal::Open(path);
    if (!journal.ok()) return journal.status();
    gateway->state_->journal = std::move(journal.value());
  }
  return gateway;
}

GatewayAnswer SimulatedGateway::Execute(const GatewayRequest& req) {
  GatewayAnswer answer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    answer = [&]() -> GatewayAnswer {
      internal::GatewayState& st = *state_;
      if (req.idempotency_key.empty() || req.amount_minor < 0 ||
          req.kind == ::payments::events::v1::OPERATION_KIND_UNSPECIFIED) {
        return Failed(types::ERROR_CODE_UNKNOWN);  // a request no processor accepts
      }
      if (auto it = st.records.find(req.idempotency_key); it != st.records.end()) {
        const Record& r = it->second;
        // Sealed: nothing happened and nothing will. Retryable, like the failure (a 5xx or a
        // connection never made) that led to the seal; a new attempt uses a new key.
        if (r.outcome == cmd::GATEWAY_OUTCOME_NOT_FOUND) {
          return Failed(types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
        }
        if (Conflicts(r.kind, r.requested_minor, r.currency, req)) {
          return Failed(types::ERROR_CODE_UNKNOWN);
        }
        return AnswerOf(r);
      }
      auto [t, fresh] = st.tries.try_emplace(
          req.idempotency_key,
          internal::GatewayState::Try{0, req.kind, req.amount_minor, req.currency});
      if (!fresh && Conflicts(t->second.kind, t->second.amount_minor, t->second.currency, req)) {
        return Failed(types::ERROR_CODE_UNKNOWN);
      }
      const uint32_t try_index = t->second.count++;
      const bool is_charge = internal::IsCharge(req.kind);
      const Fate fate =
          (is_charge || options_.faults_on_all_kinds)
              ? FateOf(options_.rates, options_.seed, req.idempotency_key, try_index, is_charge)
              : Fate::kSucceeded;

      Record record = RecordFor(req, options_.processor_id);
      record.processor_reference = ReferenceFor(options_.processor_id, req.idempotency_key);
      record.latency_ms = options_.latency_ms;
      switch (fate) {
        case Fate::kTimeoutNotCharged:
          return Unknown();
        case Fate::kNetworkFailure:
          return Failed(types::ERROR_CODE_NETWORK_FAILURE);
        case Fate::kProcessorUnavailable:
          return Failed(types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
        case Fate::kDeclined:
        case Fate::kHardDeclined:
        case Fate::kInvalidCard:
          record.outcome = cmd::GATEWAY_OUTCOME_FAILED;
          record.error_code = fate == Fate::kDeclined       ? types::ERROR_CODE_DECLINED
                              : fate == Fate::kHardDeclined ? types::ERROR_CODE_HARD_DECLINE
                                                            : types::ERROR_CODE_INVALID_CARD;
          break;
        case Fate::kSucceeded:
        case Fate::kChargedAnswerLost: {
          int64_t amount = req.amount_minor;
          if (is_charge && options_.max_per_operation > 0) {
            amount = std::min(amount, options_.max_per_operation);
          }
          if (req.kind == ::payments::events::v1::OPERATION_KIND_VOID && amount == 0) {
            if (const auto* charge = st.targets.Resolve(req.target_reference)) {
              amount = charge->amount;  // a void releases the whole authorization
            }
          }
          std::string refusal;
          if (options_.strict_targets) {
            refusal = st.targets.Check(req.kind, req.target_reference, amount);
          }
          if (!refusal.empty()) {
            record.outcome = cmd::GATEWAY_OUTCOME_FAILED;
            record.error_code = types::ERROR_CODE_UNKNOWN;
          } else {
            record.outcome = cmd::GATEWAY_OUTCOME_SUCCEEDED;
            record.processed_minor = amount;
          }
          break;
        }
      }
      GatewayAnswer recorded = AnswerOf(record);
      if (!st.Commit(std::move(record))) {
        // Could not make it durable: nothing happened, as after a 5xx.
        return Failed(types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
      }
      if (fate == Fate::kChargedAnswerLost) return Unknown();
      return recorded;
    }();
  }
  uint32_t latency = options_.latency_ms;
  if (req.timeout_ms > 0 && latency > req.timeout_ms) {
    // The caller gives up at its timeout; the operation went ahead as its fate said.
    answer = Unknown();
    latency = req.timeout_ms;
  }
  if (latency > 0) options_.sleep(std::chrono::milliseconds(latency));
  answer.latency_ms = answer.outcome == cmd::GATEWAY_OUTCOME_UNKNOWN && req.timeout_ms > 0
                          ? req.timeout_ms
                          : latency;
  return answer;
}

GatewayAnswer SimulatedGateway::Retrieve(std::string_view key_view) {
  const std::string key(key_view);
  GatewayAnswer answer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    answer = [&]() -> GatewayAnswer {
      internal::GatewayState& st = *state_;
      if (auto it = st.records.find(key); it != st.records.end()) return AnswerOf(it->second);
      if (options_.retrieve_unknown > 0) {
        const uint32_t index = st.retrieves[key]++;
        if (internal::UnitDraw(options_.seed, "retrieve", key, index) < options_.retrieve_unknown) {
          return Unknown();
        }
      }
      // Nothing under the key: seal it, so it stays "never happened".
      Record seal;
      seal.key = key;
      seal.processor_id = options_.processor_id;
      if (auto t = st.tries.find(key); t != st.tries.end()) {
        seal.kind = t->second.kind;
        seal.requested_minor = t->second.amount_minor;
        seal.currency = t->second.currency;
      }
      seal.outcome = cmd::GATEWAY_OUTCOME_NOT_FOUND;
      if (!st.Commit(std::move(seal))) return Unknown();
      return Answer(cmd::GATEWAY_OUTCOME_NOT_FOUND, types::ERROR_CODE_UNSPECIFIED);
    }();
  }
  if (options_.latency_ms > 0) options_.sleep(std::chrono::milliseconds(options_.latency_ms));
  answer.latency_ms = options_.latency_ms;
  return answer;
}

bool SimulatedGateway::Sealed(std::string_view key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->records.find(std::string(key));
  return it != state_->records.end() && it->second.outcome == cmd::GATEWAY_OUTCOME_NOT_FOUND;
}

std::vector<LedgerEntry> SimulatedGateway::Ledger() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_->ledger;
}

}  // namespace payorch::connectors
