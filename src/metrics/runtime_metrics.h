// RuntimeMetrics: every figure payorch exposes on /metrics, as plain probes (probes.h) the
// runtime counts through. EventObserver derives most of them from the events the writer
// has just seen delivered, so the instrumentation of the payment flow lives in one place.
//
//   metrics::RuntimeMetrics m;                       // one per process
//   metrics::EventObserver observer(&m);             // one per partition writer
//   // in the writer's delivery callback, for each delivered command group:
//   observer.OnPublished(group.events, decided_at_ms, WallMs());
//   m.dead_letters.Add();                            // direct probes where no event exists
//
// Thread safety: RuntimeMetrics may be used from any thread; an EventObserver belongs to
// one thread (its writer's). Neither allocates on the counting path (EventObserver's
// tables are allocated once, on first use).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "log/options.h"
#include "metrics/probes.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::http {
struct RequestRecord;
}

namespace payorch::metrics {

// Consumer lag into a LabeledValues{"group", "partition"} (set KafkaOptions::lag_probe).
class LagMetrics final : public log::ConsumerLagProbe {
 public:
  explicit LagMetrics(LabeledValues* lag) : lag_(lag) {}
  void OnLag(std::string_view group, int32_t partition, int64_t lag) override;

 private:
  LabeledValues* lag_;
};

struct RuntimeMetrics {
  // Latencies (seconds).
  Histogram command_to_decision;    // command record appended -> writer decided it
  Histogram decision_to_published;  // writer decided -> its events acknowledged by the log
  Histogram step_to_answer;         // StepStarted decided -> gateway answer appended
  Histogram create_to_final;        // create command appended -> final event acknowledged
  Histogram restore;  // a writer taking a partition: store snapshot + log tail fold + claim
  Histogram connector_poll_gap;  // between two polls of the connectors' loop
  // The connectors' hops of a gateway operation (issue 18's trace):
  Histogram event_to_connector;  // *Started event appended (record time) -> connector read it
  Histogram bulkhead_wait;       // handed to the processor's bulkhead -> a worker started it
  Histogram gateway_call;        // the gateway call itself (with a sealing retrieve, if any)
  Histogram result_to_ack;       // answer handed to the producer -> the log acknowledged it
  Histogram money_held;  // a failed payment's charge found -> its compensating void succeeded

  // Counters.
  Counter commands;         // command records handled by writers
  Counter events;           // events decided
  Counter restored_events;  // events folded while restoring partitions
  LabeledValues payments{"outcome", "method", "error_code"};            // final outcomes
  LabeledValues steps{"processor", "method", "outcome", "error_code"};  // gateway answers
  Counter retries;                          // failed attempts that will be retried
  LabeledValues gateway_answers{"source"};  // answers by source: call, reconcile, webhook
  LabeledValues rejected{"reason"};         // CommandRejected by reason
  LabeledValues violations{"contract"};     // ContractViolation records published
  Counter fenced_writes;                    // writers that found a newer claim and stopped
  Counter dead_letters;                     // records sent to the dead-letter topic
  Counter deduplicated;                     // CommandDeduplicated events
  Counter
      invariant_breaches;  // the core's invariant breaches while deciding (command/invariants.h)

  // HTTP answers (http::RequestRecord, through HttpRecorder): counts by server, route (its
  // regex, "unmatched" or "refused") and status; latency from first byte read to answer
  // written, by server and route.
  LabeledValues http_requests{"server", "route", "status"};
  LabeledHistograms http_request{"server", "route"};
  // The projection's events since the process started, by what the projector did with
  // them (applied, duplicate, fenced, claim, other, undecodable, illegal_transition; set
  // by the app from projection::ProjectorStats). Its lag is consumer_lag{group=
  // "payorch.projection"}.
  LabeledValues projection_events{"verdict"};
  // The invoice and order writers (runtime/aggregate_writer.h), by aggregate ("invoice",
  // "order"): command records decided and events decided.
  LabeledValues aggregate_commands{"aggregate"};
  LabeledValues aggregate_events{"aggregate"};

  // Gauges.
  Gauge outbox_depth;               // event groups handed to the log and not yet acknowledged
  Gauge processing_payments;        // payments in processing (outcome unknown) since start
  Gauge writer_partitions;          // partitions this process writes
  Gauge connector_poll_gap_max_us;  // largest gap between two polls, since start
  Gauge connector_paused;           // 1 while the connectors stop reading (too much queued)
  Gauge overloaded;                 // 1 while new payments are refused (runtime/admission.h)
  LabeledValues connector_queued{"processor"};             // bulkhead tasks waiting
  LabeledValues connector_in_flight{"processor"};          // bulkhead tasks running
  LabeledValues connector_retrieve_window{"processor"};    // retrieves allowed in flight
  LabeledValues connector_refused{"processor", "reason"};  // new charges skipped, counter
  Gauge money_held_payments;        // failed payments whose charge is found and not yet voided
  Gauge money_held_oldest_seconds;  // the oldest of them: since its charge was found (whole s)
  LabeledValues consumer_lag{"group", "partition"};  // high watermark - next offset
  LagMetrics lag_probe{&consumer_lag};               // for KafkaOptions::lag_probe
};

// An enum value's name without its prefix: ("ERROR_CODE_TIMEOUT", "ERROR_CODE_") -> "TIMEOUT".
[[nodiscard]] std::string_view ShortEnumName(std::string_view full, std::string_view prefix);

// What the writer knows of the payment the events are about, from its state after them:
// the method and creation time a final event is counted and timed by. Default: none
// (events of no payment, such as a dead-lettered command's rejection).
struct PaymentFacts {
  ::payments::types::v1::PaymentMethod method = ::payments::types::v1::PAYMENT_METHOD_UNSPECIFIED;
  int64_t created_at_ms = 0;  // 0: unknown, no create -> final sample
};

class EventObserver {
 public:
  explicit EventObserver(RuntimeMetrics* metrics);
  ~EventObserver();
  EventObserver(const EventObserver&) = delete;
  EventObserver& operator=(const EventObserver&) = delete;

  // The events of one command, decided at `decided_at_ms` and acknowledged by the log at
  // `now_ms` (wall clock, milliseconds since the Unix epoch).
  void OnPublished(const std::vector<::payments::events::v1::EventEnvelope>& events,
                   int64_t decided_at_ms, int64_t now_ms, const PaymentFacts& payment = {});

 private:
  struct Tables;
  RuntimeMetrics* metrics_;
  std::unique_ptr<Tables> tables_;
};

// An http::ServerOptions::on_request that counts each answer in `m`'s http_requests (by
// server, route and status) and its time in http_request (by server and route).
[[nodiscard]] std::function<void(const http::RequestRecord&)> HttpRecorder(RuntimeMetrics* m);

}  // namespace payorch::metrics
