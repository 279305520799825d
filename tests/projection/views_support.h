// Test support for the projection tests: events built by hand, and an in-memory store
// that a Projector reads from and its flushes are applied to.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "payments/events/v1/events.pb.h"
#include "projection/projector.h"

namespace payorch::projection::testing {

namespace ev = ::payments::events::v1;
namespace ty = ::payments::types::v1;

// 2024-03-05T10:00:00Z
inline constexpr int64_t kT0 = 1'709'632'800'000;

class MapStore : public ViewSource {
 public:
  std::optional<std::string> Get(const std::string& key) const override {
    auto it = data.find(key);
    if (it == data.end()) return std::nullopt;
    return it->second;
  }
  void Apply(const std::vector<Mutation>& mutations) {
    for (const auto& m : mutations) data[m.key] = m.value;
  }
  std::map<std::string, std::string> data;
};

// Builds the events of a partition with offsets, as a writer would publish them.
class Log {
 public:
  explicit Log(std::string merchant = "m_shop") : merchant_(std::move(merchant)) {}

  ev::EventEnvelope& Claim(uint64_t epoch) {
    ev::EventEnvelope& e = records_.emplace_back();
    e.set_event_id("claim/0/" + std::to_string(epoch));
    e.set_epoch(epoch);
    e.mutable_writer_claimed()->set_epoch(epoch);
    return e;
  }
  // The next event of `payment` (sequence counted per payment) under `epoch`.
  ev::EventEnvelope& Next(const std::string& payment, uint64_t epoch, int64_t at_ms = kT0) {
    ev::EventEnvelope& e = records_.emplace_back();
    const uint64_t seq = ++sequence_[payment];
    e.set_payment_id(payment);
    e.set_sequence(seq);
    e.set_epoch(epoch);
    e.set_event_id(payment + "/" + std::to_string(seq));
    e.set_merchant_id(merchant_);
    e.set_occurred_at_ms(at_ms);
    return e;
  }
  // A copy of record `index` (a re-publication), with another epoch.
  void Republish(size_t index, uint64_t epoch) {
    ev::EventEnvelope copy = records_.at(index);
    copy.set_epoch(epoch);
    records_.push_back(std::move(copy));
  }

  void Created(const std::string& p, int64_t amount, const std::string& key, uint64_t epoch,
               int64_t at_ms = kT0, ty::CaptureMode mode = ty::CAPTURE_MODE_AUTOMATIC) {
    auto* c = Next(p, epoch, at_ms).mutable_payment_created();
    c->mutable_amount()->set_amount_minor(amount);
    c->mutable_amount()->set_currency("USD");
    c->set_method(ty::PAYMENT_METHOD_CARD);
    c->set_capture_mode(mode);
    c->set_idempotency_key(key);
    c->set_request_hash("h-" + key);
    auto* issue = c->add_issues();
    issue->set_field("currency");
    issue->set_code("currency/normalized_case");
  }
  static ev::GatewayOperation Op(const std::string& p, ev::OperationKind kind, int step,
                                 int attempt, const std::string& processor, int64_t amount) {
    ev::GatewayOperation op;
    op.set_kind(kind);
    op.set_idempotency_key(p + ":s" + std::to_string(step) + ":a" + std::to_string(attempt));
    op.set_processor_id(processor);
    op.set_method(ty::PAYMENT_METHOD_CARD);
    op.mutable_amount()->set_amount_minor(amount);
    op.mutable_amount()->set_currency("USD");
    op.set_step_index(step);
    op.set_attempt(attempt);
    return op;
  }
  void Started(const std::string& p, const ev::GatewayOperation& op, uint64_t epoch,
               int64_t at = kT0) {
    *Next(p, epoch, at).mutable_step_started()->mutable_op() = op;
  }
  void Succeeded(const std::string& p, const ev::GatewayOperation& op, uint64_t epoch,
                 int64_t at = kT0) {
    auto* s = Next(p, epoch, at).mutable_step_succeeded();
    *s->mutable_op() = op;
    s->mutable_result()->set_success(true);
    s->mutable_result()->set_amount_processed_minor(op.amount().amount_minor());
    s->mutable_result()->set_latency_ms(42);
    s->set_processor_reference("ref-" + op.idempotency_key());
  }
  void Failed(const std::string& p, const ev::GatewayOperation& op, ty::ErrorCode code,
              uint64_t epoch, int64_t at = kT0) {
    auto* f = Next(p, epoch, at).mutable_step_failed();
    *f->mutable_op() = op;
    f->mutable_result()->set_error_code(code);
    f->mutable_result()->set_latency_ms(7);
  }
  void Completed(const std::string& p, ev::PaymentStatus status, uint64_t epoch, int64_t at = kT0) {
    Next(p, epoch, at).mutable_payment_completed()->set_status(status);
  }

  // Feeds records [from, to) (offset = index, on `partition`) to `projector`.
  void FeedTo(Projector& projector, size_t from = 0, size_t to = SIZE_MAX,
              int32_t partition = 0) const {
    for (size_t i = from; i < records_.size() && i < to; ++i) {
      projector.Observe(partition, static_cast<int64_t>(i), records_[i].SerializeAsString());
    }
  }
  size_t size() const { return records_.size(); }
  ev::EventEnvelope& last() { return records_.back(); }
  const ev::EventEnvelope& record(size_t i) const { return records_.at(i); }

 private:
  std::string merchant_;
  std::vector<ev::EventEnvelope> records_;
  std::map<std::string, uint64_t> sequence_;
};

// A sale that succeeds on the second attempt after a decline.
inline void SaleWithRetry(Log& log, const std::string& p, const std::string& key, uint64_t epoch,
                          int64_t at = kT0) {
  log.Created(p, 2500, key, epoch, at);
  auto a1 = Log::Op(p, ev::OPERATION_KIND_SALE, 0, 1, "psp_a", 2500);
  auto a2 = Log::Op(p, ev::OPERATION_KIND_SALE, 0, 2, "psp_a", 2500);
  log.Started(p, a1, epoch, at);
  log.Failed(p, a1, ty::ERROR_CODE_NETWORK_FAILURE, epoch, at + 10);
  log.Started(p, a2, epoch, at + 20);
  log.Succeeded(p, a2, epoch, at + 30);
  log.Completed(p, ev::PAYMENT_STATUS_SUCCEEDED, epoch, at + 30);
}

}  // namespace payorch::projection::testing
