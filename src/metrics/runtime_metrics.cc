#include "metrics/runtime_metrics.h"

#include <array>
#include <charconv>
#include <string>

#include "http/server.h"
#include "payments/types/v1/types.pb.h"

namespace payorch::metrics {

namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;

std::string_view ShortEnumName(std::string_view full, std::string_view prefix) {
  if (full.substr(0, prefix.size()) == prefix) full.remove_prefix(prefix.size());
  return full.empty() ? std::string_view("UNSPECIFIED") : full;
}

namespace {

// Started steps awaiting their answer, per writer: direct-mapped, so a step whose slot a
// later one took has no step_to_answer sample (the counts themselves are exact).
constexpr size_t kTableSize = 1 << 14;

uint64_t Hash(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h | 1;  // 0 marks an empty entry
}

std::string_view MethodName(types::PaymentMethod m) {
  return ShortEnumName(types::PaymentMethod_Name(m), "PAYMENT_METHOD_");
}

std::string_view ErrorName(types::ErrorCode c) {
  if (c == types::ERROR_CODE_UNSPECIFIED) return "NONE";
  return ShortEnumName(types::ErrorCode_Name(c), "ERROR_CODE_");
}

}  // namespace

void LagMetrics::OnLag(std::string_view group, int32_t partition, int64_t lag) {
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, partition);
  lag_->Set({group, std::string_view(buf, ec == std::errc() ? end - buf : 0)}, lag);
}

struct EventObserver::Tables {
  struct Step {
    uint64_t hash = 0;
    int64_t started_ms = 0;
  };
  std::array<Step, kTableSize> steps{};
};

EventObserver::EventObserver(RuntimeMetrics* metrics) : metrics_(metrics) {}
EventObserver::~EventObserver() = default;

void EventObserver::OnPublished(const std::vector<ev::EventEnvelope>& events, int64_t decided_at_ms,
                                int64_t now_ms, const PaymentFacts& payment) {
  if (metrics_ == nullptr || events.empty()) return;
  if (!tables_) tables_ = std::make_unique<Tables>();
  RuntimeMetrics& m = *metrics_;
  m.decision_to_published.ObserveMillis(now_ms - decided_at_ms);
  for (const ev::EventEnvelope& e : events) {
    switch (e.event_case()) {
      case ev::EventEnvelope::kStepStarted: {
        const uint64_t h = Hash(e.step_started().op().idempotency_key());
        tables_->steps[h % kTableSize] = {h, decided_at_ms};
        break;
      }
      case ev::EventEnvelope::kStepSucceeded:
      case ev::EventEnvelope::kStepFailed:
      case ev::EventEnvelope::kPaymentProcessing: {
        const ev::GatewayOperation& op = e.has_step_succeeded() ? e.step_succeeded().op()
                                         : e.has_step_failed()  ? e.step_failed().op()
                                                                : e.payment_processing().op();
        std::string_view outcome = "succeeded";
        types::ErrorCode code = types::ERROR_CODE_UNSPECIFIED;
        if (e.has_step_failed()) {
          outcome = "failed";
          code = e.step_failed().result().error_code();
          if (e.step_failed().will_retry()) m.retries.Add();
        } else if (e.has_payment_processing()) {
          outcome = "unknown";
          code = types::ERROR_CODE_TIMEOUT;
        }
        m.steps.Add({op.processor_id(), MethodName(op.method()), outcome, ErrorName(code)});
        const uint64_t h = Hash(op.idempotency_key());
        auto& s = tables_->steps[h % kTableSize];
        if (s.hash == h) {
          m.step_to_answer.ObserveMillis(e.occurred_at_ms() - s.started_ms);
          s.hash = 0;
        }
        break;
      }
      case ev::EventEnvelope::kPaymentCompleted:
      case ev::EventEnvelope::kPaymentFailed:
      case ev::EventEnvelope::kPaymentCanceled: {
        std::string_view outcome = "canceled";
        types::ErrorCode code = types::ERROR_CODE_UNSPECIFIED;
        if (e.has_payment_completed()) {
          outcome = e.payment_completed().status() == ev::PAYMENT_STATUS_REQUIRES_CAPTURE
                        ? "authorized"
                        : "succeeded";
        } else if (e.has_payment_failed()) {
          outcome = "failed";
          code = e.payment_failed().result().final_error();
        }
        m.payments.Add({outcome, MethodName(payment.method), ErrorName(code)});
        if (payment.created_at_ms > 0)
          m.create_to_final.ObserveMillis(now_ms - payment.created_at_ms);
        break;
      }
      case ev::EventEnvelope::kCommandRejected:
        m.rejected.Add({ShortEnumName(ev::RejectReason_Name(e.command_rejected().reason()),
                                      "REJECT_REASON_")});
        break;
      case ev::EventEnvelope::kCommandDeduplicated:
        m.deduplicated.Add();
        break;
      default:
        break;
    }
  }
}

std::function<void(const http::RequestRecord&)> HttpRecorder(RuntimeMetrics* m) {
  return [m](const http::RequestRecord& r) {
    m->http_requests.Add({r.server, r.route, std::to_string(r.status)});
    m->http_request.ObserveMicros({r.server, r.route}, r.duration.count());
  };
}

}  // namespace payorch::metrics
