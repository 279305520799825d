// The only file of payorch that includes prometheus-cpp.
#include "metrics/prometheus.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <sstream>
#include <utility>
#include <vector>

#include "http/server.h"

namespace payorch::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = "payorch_" + std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void AddCounter(std::vector<MetricFamily>& out, std::string name, std::string help,
                const Counter& c) {
  MetricFamily f = Family(std::move(name), std::move(help), MetricType::Counter);
  ClientMetric cm;
  cm.counter.value = static_cast<double>(c.value());
  f.metric.push_back(std::move(cm));
  out.push_back(std::move(f));
}

// `scale` turns the gauge's integer into the exported unit (1e-6: microseconds to seconds).
void AddGauge(std::vector<MetricFamily>& out, std::string name, std::string help, const Gauge& g,
              double scale = 1) {
  MetricFamily f = Family(std::move(name), std::move(help), MetricType::Gauge);
  ClientMetric cm;
  cm.gauge.value = static_cast<double>(g.value()) * scale;
  f.metric.push_back(std::move(cm));
  out.push_back(std::move(f));
}

void AddLabeled(std::vector<MetricFamily>& out, std::string name, std::string help,
                const LabeledValues& v, MetricType type) {
  MetricFamily f = Family(std::move(name), std::move(help), type);
  for (const auto& row : v.Read()) {
    ClientMetric cm;
    for (size_t i = 0; i < row.values.size(); ++i) {
      cm.label.push_back({v.label_names()[i], row.values[i]});
    }
    if (type == MetricType::Counter) {
      cm.counter.value = static_cast<double>(row.value);
    } else {
      cm.gauge.value = static_cast<double>(row.value);
    }
    f.metric.push_back(std::move(cm));
  }
  out.push_back(std::move(f));
}

ClientMetric HistogramMetric(const Histogram::Snapshot& s) {
  ClientMetric cm;
  cm.histogram.sample_count = s.count;
  cm.histogram.sample_sum = s.sum_seconds;
  for (size_t i = 0; i < Histogram::kBoundsMicros.size(); ++i) {
    cm.histogram.bucket.push_back(
        {s.cumulative[i], static_cast<double>(Histogram::kBoundsMicros[i]) / 1e6});
  }
  cm.histogram.bucket.push_back({s.count, std::numeric_limits<double>::infinity()});
  return cm;
}

void AddHistogram(std::vector<MetricFamily>& out, std::string name, std::string help,
                  const Histogram& h) {
  MetricFamily f = Family(std::move(name), std::move(help), MetricType::Histogram);
  f.metric.push_back(HistogramMetric(h.Read()));
  out.push_back(std::move(f));
}

void AddLabeledHistogram(std::vector<MetricFamily>& out, std::string name, std::string help,
                         const LabeledHistograms& h) {
  MetricFamily f = Family(std::move(name), std::move(help), MetricType::Histogram);
  for (const auto& row : h.Read()) {
    ClientMetric cm = HistogramMetric(row.snapshot);
    for (size_t i = 0; i < row.values.size(); ++i) {
      cm.label.push_back({h.label_names()[i], row.values[i]});
    }
    f.metric.push_back(std::move(cm));
  }
  out.push_back(std::move(f));
}

}  // namespace

std::string RenderPrometheusText(const RuntimeMetrics& m) {
  std::vector<MetricFamily> f;
  AddHistogram(f, "command_to_decision_seconds",
               "From a command record's append to the writer's decision.", m.command_to_decision);
  AddHistogram(f, "decision_to_published_seconds",
               "From the writer's decision to the log acknowledging its events.",
               m.decision_to_published);
  AddHistogram(f, "step_started_to_gateway_answer_seconds",
               "From a StepStarted decision to the gateway's answer appended to the log.",
               m.step_to_answer);
  AddHistogram(f, "create_to_final_event_seconds",
               "From the create command's append to the payment's final event acknowledged.",
               m.create_to_final);
  AddLabeledHistogram(f, "http_request_seconds",
                      "HTTP requests by server and route (its regex): from the first request byte "
                      "read to the answer written.",
                      m.http_request);
  AddLabeled(f, "http_requests_total", "HTTP answers by server, route (its regex) and status.",
             m.http_requests, MetricType::Counter);
  AddLabeled(f, "projection_events_total",
             "Events the projection read, by what it did with them (applied, duplicate, ...).",
             m.projection_events, MetricType::Counter);
  AddLabeled(f, "aggregate_commands_total",
             "Command records decided by the invoice and order writers, by aggregate.",
             m.aggregate_commands, MetricType::Counter);
  AddLabeled(f, "aggregate_events_total",
             "Events decided by the invoice and order writers, by aggregate.", m.aggregate_events,
             MetricType::Counter);
  AddHistogram(f, "restore_seconds",
               "A writer taking a partition: its store's snapshot, the events log's tail folded, "
               "the claim appended and read back.",
               m.restore);
  AddHistogram(f, "connector_poll_gap_seconds",
               "Time between two polls of the connectors' loop (it never waits on a processor).",
               m.connector_poll_gap);
  AddHistogram(f, "event_to_connector_seconds",
               "From a *Started event's append (record time) to the connector reading it.",
               m.event_to_connector);
  AddHistogram(f, "bulkhead_wait_seconds",
               "From a gateway task handed to its processor's bulkhead to a worker starting it.",
               m.bulkhead_wait);
  AddHistogram(f, "gateway_call_seconds",
               "A gateway call, with its sealing retrieve if one was needed.", m.gateway_call);
  AddHistogram(f, "result_to_ack_seconds",
               "From a gateway answer handed to the producer to the log acknowledging it.",
               m.result_to_ack);
  AddHistogram(f, "money_held_seconds",
               "From a failed payment's charge being found to its compensating void succeeding.",
               m.money_held);
  AddCounter(f, "commands_total", "Command records handled by the writers.", m.commands);
  AddCounter(f, "events_total", "Events decided by the writers.", m.events);
  AddCounter(f, "restored_events_total", "Events folded while restoring partitions.",
             m.restored_events);
  AddLabeled(f, "payments_total", "Payments that reached a final event, by outcome.", m.payments,
             MetricType::Counter);
  AddLabeled(f, "gateway_steps_total", "Gateway answers to step attempts.", m.steps,
             MetricType::Counter);
  AddCounter(f, "retries_total", "Failed attempts that will be retried.", m.retries);
  AddLabeled(f, "gateway_answers_total",
             "Gateway answers recorded, by source (call, reconcile, webhook).", m.gateway_answers,
             MetricType::Counter);
  AddLabeled(f, "rejected_commands_total", "Commands rejected, by reason.", m.rejected,
             MetricType::Counter);
  AddLabeled(f, "contract_violations_total", "ContractViolation records, by contract id.",
             m.violations, MetricType::Counter);
  AddCounter(f, "fenced_writes_total", "Writers fenced by a newer claim.", m.fenced_writes);
  AddCounter(f, "dead_letters_total", "Records sent to the dead-letter topic.", m.dead_letters);
  AddCounter(f, "deduplicated_commands_total", "Commands recognised as repeats.", m.deduplicated);
  AddCounter(f, "invariant_breaches_total",
             "Invariant breaches of the payment core while deciding (an illegal status "
             "transition); any is a bug.",
             m.invariant_breaches);
  AddGauge(f, "outbox_depth", "Event groups handed to the log and not yet acknowledged.",
           m.outbox_depth);
  AddGauge(f, "processing_payments",
           "Payments in processing (gateway outcome unknown), as seen since this process "
           "started.",
           m.processing_payments);
  AddGauge(f, "writer_partitions", "Partitions this process writes.", m.writer_partitions);
  AddGauge(f, "connector_poll_gap_max_seconds",
           "Largest time between two polls of the connectors' loop since start.",
           m.connector_poll_gap_max_us, 1e-6);
  AddGauge(f, "connector_paused",
           "1 while the connectors stop reading the log because too much work is queued.",
           m.connector_paused);
  AddGauge(f, "overloaded",
           "1 while payorch refuses new payments (docs/overload.md): rejected 'overloaded' on "
           "the log, 503 at the merchant API.",
           m.overloaded);
  AddLabeled(f, "connector_queued_tasks", "Gateway tasks waiting in a processor's bulkhead.",
             m.connector_queued, MetricType::Gauge);
  AddLabeled(f, "connector_in_flight_tasks", "Gateway tasks running in a processor's bulkhead.",
             m.connector_in_flight, MetricType::Gauge);
  AddLabeled(f, "connector_retrieve_window",
             "Retrieves allowed in flight per processor (adapts to its latency and errors).",
             m.connector_retrieve_window, MetricType::Gauge);
  AddLabeled(f, "connector_refused_total",
             "New charges not sent because the processor was saturated, by reason.",
             m.connector_refused, MetricType::Counter);
  AddGauge(f, "money_held_payments",
           "Failed payments whose charge was found and is not voided yet.", m.money_held_payments);
  AddGauge(f, "money_held_oldest_seconds",
           "Age of the oldest failed payment's charge not voided yet, since it was found.",
           m.money_held_oldest_seconds);
  AddLabeled(f, "consumer_lag_records", "Records behind the high watermark, per partition.",
             m.consumer_lag, MetricType::Gauge);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, f);
  return out.str();
}

void RegisterMetricsRoutes(http::Server& server, const RuntimeMetrics& m,
                           std::function<void()> before_scrape) {
  server.Handle("GET", "/metrics",
                [&m, before_scrape = std::move(before_scrape)](const http::Request&) {
                  if (before_scrape) before_scrape();
                  http::Response r;
                  r.status = 200;
                  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                  r.body = RenderPrometheusText(m);
                  return r;
                });
}

}  // namespace payorch::metrics
