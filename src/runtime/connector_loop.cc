#include "runtime/connector_loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "connectors/bulkhead.h"
#include "connectors/dispatcher.h"
#include "connectors/reconciler.h"
#include "log/consumer.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "metrics/runtime_metrics.h"
#include "runtime/connector_tracker.h"

namespace payorch::runtime {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;

namespace {

constexpr char kCheckpointName[] = "connectors";
constexpr int64_t kCheckpointEveryMs = 250;
constexpr int64_t kTickEveryMs = 20;

using Job = ConnectorTracker::Call;

struct Answer {
  int32_t partition = 0;
  int64_t offset = 0;
  // Breaker transitions, then the result (empty: the event starts no operation).
  std::vector<cmd::CommandEnvelope> commands;
};

struct Retrieved {
  connectors::RetrieveTask task;
  std::optional<connectors::GatewayAnswer> answer;  // nullopt: no gateway
};

using Lane = connectors::Bulkhead::Lane;
using Steady = std::chrono::steady_clock;

int64_t Micros(Steady::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

// The shell around ConnectorTracker (runtime/connector_tracker.h): the consumer, the
// bulkheads, the producer and the checkpoints.
struct ConnectorLoop::Impl : public log::RebalanceListener {
  explicit Impl(ConnectorOptions o)
      : options(std::move(o)),
        dispatcher(*options.gateways, options.clock),
        reconciler(*options.gateways, *options.clock),
        tracker(reconciler),
        bulkhead({.concurrency = options.threads, .queue_limit = options.queue_limit}) {}

  std::vector<log::PartitionOffset> OnAssigned(const std::vector<PartitionId>& ps) override {
    std::vector<log::PartitionOffset> starts;
    for (PartitionId p : ps) {
      const PartitionMeta saved = options.store->LoadCheckpoint(kCheckpointName, p.value());
      std::optional<log::Watermarks> marks;
      auto reader =
          log::PartitionReader::Open(options.kafka, events_topic, p, log::kOffsetBeginning);
      if (reader.ok()) {
        if (auto m = reader.value()->QueryWatermarks(); m.ok()) marks = m.value();
      }
      const int64_t start = tracker.Assign(p.value(), saved, marks);
      starts.push_back({p, Offset{start}});
      options.logger->info("[p{}] connectors resume at events offset {} (epoch {})", p.value(),
                           start, tracker.Checkpoint(p.value())->epoch);
    }
    if (options.probe != nullptr)
      options.probe->partitions = static_cast<int>(tracker.partitions());
    paused = false;  // a new assignment starts unpaused; the loop pauses it again if needed
    return starts;
  }

  void OnRevoked(const std::vector<PartitionId>& ps, bool lost) override {
    for (PartitionId p : ps) {
      if (!lost) SaveCheckpoint(p.value());
      const size_t dropped = tracker.Revoke(p.value());
      if (dropped > 0) {
        options.logger->info("[p{}] revoked: reconciler dropped {} unsettled ops", p.value(),
                             dropped);
      }
    }
    if (options.probe != nullptr)
      options.probe->partitions = static_cast<int>(tracker.partitions());
  }

  void SaveCheckpoint(int32_t p) {
    const std::optional<PartitionMeta> meta = tracker.Checkpoint(p);
    if (!meta) return;
    // A checkpoint not saved costs a longer re-read after a restart, nothing else.
    if (Status s = options.store->SaveCheckpoint(kCheckpointName, p, *meta); !s.ok()) {
      options.logger->warn("[p{}] connectors checkpoint not saved: {}", p, s.ToString());
    }
  }

  void OnRecord(const log::Record& r) {
    ConnectorTracker::Observation seen;
    std::vector<Job> calls = tracker.Observe(r, options.clock->NowMs(), &seen);
    if (options.metrics != nullptr) {
      // A hold that ended in the history re-read at assignment was observed by the owner
      // that read it live; the tracker reports live ones only.
      if (seen.hold_ended_ms) options.metrics->money_held.ObserveMillis(*seen.hold_ended_ms);
      if (seen.started_timestamp_ms) {
        options.metrics->event_to_connector.ObserveMillis(
            std::max<int64_t>(0, options.clock->NowMs() - *seen.started_timestamp_ms));
      }
    }
    for (Job& job : calls) Dispatch(std::move(job));
  }

  // Hands a call to its processor's bulkhead, or answers a new charge the processor has no
  // room for as skipped (the plan's fallback takes it). Never waits.
  void Dispatch(Job job) {
    if (options.probe != nullptr) {
      ++options.probe->dispatched;
      ++options.probe->backlog;
    }
    const ev::GatewayOperation& op = *connectors::Dispatcher::OperationOf(job.event);
    const std::string processor = op.processor_id();  // a copy: `job` moves below
    Lane lane = Lane::kFollowUp;
    if (connectors::Dispatcher::IsCharge(op)) lane = Lane::kCharge;
    if (job.event.has_void_started() && job.event.void_started().compensation()) {
      lane = Lane::kUrgent;  // money held for a payment that cannot keep it
    }
    if (tracker.Sheddable(job) && bulkhead.Saturated(processor, op.timeout_ms())) {
      if (options.probe != nullptr) ++options.probe->saturated;
      if (options.metrics != nullptr)
        options.metrics->connector_refused.Add({processor, "saturated"});
      Answer answer{job.partition, job.offset, {dispatcher.Saturated(job.event)}};
      std::lock_guard lock(mu);
      answers.push_back(std::move(answer));
      return;
    }
    bulkhead.Submit(processor, lane, [this, job = std::move(job), queued = Steady::now()] {
      const Steady::time_point start = Steady::now();
      Answer answer{job.partition, job.offset, dispatcher.HandleAll(job.event, job.repeat)};
      if (options.metrics != nullptr) {
        options.metrics->bulkhead_wait.ObserveMicros(Micros(start - queued));
        options.metrics->gateway_call.ObserveMicros(Micros(Steady::now() - start));
      }
      std::lock_guard lock(mu);
      answers.push_back(std::move(answer));
    });
  }

  // Calls for the *Started events this process's writers handed over (acknowledged by the
  // log, counting: runtime/started_handoff.h), made before the consumer reads them. Left
  // to the log: a partition this loop does not own, is re-reading, or reads in another
  // epoch; an offset already read; anything while reading is paused; a new charge for a
  // saturated processor (the shedding rule needs what the reader has not seen yet).
  void TakeHanded() {
    if (options.handoff == nullptr) return;
    for (StartedHandoff::Item& item : options.handoff->Take()) {
      if (paused || !tracker.MayTake(item)) continue;
      const ev::GatewayOperation& op = *connectors::Dispatcher::OperationOf(item.event);
      if (connectors::Dispatcher::IsCharge(op) &&
          bulkhead.Saturated(op.processor_id(), op.timeout_ms())) {
        continue;
      }
      if (options.probe != nullptr) ++options.probe->handed;
      Dispatch(tracker.Take(std::move(item)));
    }
  }

  // Due retrieves go to their processors' bulkheads while those have room.
  void TakeRetrieves() {
    const auto has_room = [this](const connectors::RetrieveTask& task) {
      return bulkhead.LoadOf(task.processor_id).queued < options.queue_limit;
    };
    for (connectors::RetrieveTask& task : reconciler.TakeDue(has_room)) {
      const std::string processor = task.processor_id;
      const Lane lane = task.urgent ? Lane::kUrgent : Lane::kFollowUp;
      bulkhead.Submit(processor, lane, [this, task = std::move(task)] {
        Retrieved r{task, std::nullopt};
        if (connectors::Gateway* gateway = options.gateways->Find(task.processor_id)) {
          r.answer = gateway->Retrieve(task.key);
        }
        std::lock_guard lock(mu);
        retrieved.push_back(std::move(r));
      });
    }
  }

  // Stops reading while too much waits in the bulkheads; polling goes on (membership).
  void Throttle() {
    const size_t queued = bulkhead.queued();
    const bool want = paused ? queued > options.max_queued / 2 : queued > options.max_queued;
    if (want == paused) return;
    for (int32_t part : tracker.owned()) {
      auto st = want ? consumer->Pause(PartitionId{part}) : consumer->Resume(PartitionId{part});
      if (!st.ok()) options.logger->warn("[p{}] connectors pause/resume: {}", part, st.ToString());
    }
    paused = want;
    options.logger->info("connectors {} reading: {} gateway tasks queued",
                         want ? "pause" : "resume", queued);
    if (options.metrics != nullptr) options.metrics->connector_paused.Set(want ? 1 : 0);
  }

  // Tells the admission (runtime/admission.h) how loaded the gateway path is.
  void ReportLoad() {
    if (options.admission == nullptr) return;
    const bool all_saturated = connectors::EveryProcessorSaturated(
        bulkhead.Loads(), options.gateways->ProcessorIds(), bulkhead.options());
    const ConnectorLoad load{bulkhead.queued(), reconciler.tracked(), paused, all_saturated};
    if (!options.admission->Report(load)) return;
    const bool over = options.admission->overloaded();
    if (over) {
      options.logger->warn(
          "overloaded: new payments are refused (queued {}, outcomes unknown {}, paused {}, "
          "every processor saturated {})",
          load.queued, load.unknown, load.paused, load.all_saturated);
    } else {
      options.logger->info("recovered: new payments are taken again (queued {}, unknown {})",
                           load.queued, load.unknown);
    }
    if (options.metrics != nullptr) options.metrics->overloaded.Set(over ? 1 : 0);
  }

  void Publish(const std::chrono::steady_clock::duration& gap_max) {
    const int64_t gap_ms = std::chrono::duration_cast<std::chrono::milliseconds>(gap_max).count();
    if (options.probe != nullptr) options.probe->poll_gap_max_ms = gap_ms;
    if (options.metrics == nullptr) return;
    metrics::RuntimeMetrics& m = *options.metrics;
    m.connector_poll_gap_max_us.Set(
        std::chrono::duration_cast<std::chrono::microseconds>(gap_max).count());
    for (const auto& [processor, load] : bulkhead.Loads()) {
      m.connector_queued.Set({processor}, static_cast<int64_t>(load.queued));
      m.connector_in_flight.Set({processor}, load.in_flight);
      m.connector_retrieve_window.Set({processor}, reconciler.WindowOf(processor));
    }
    const int64_t count = static_cast<int64_t>(tracker.money_held());
    const int64_t oldest = tracker.OldestHoldMs(options.clock->NowMs());
    m.money_held_payments.Set(count);
    m.money_held_oldest_seconds.Set(oldest / 1000);
  }

  void Produce(const cmd::CommandEnvelope& c, const std::function<void()>& on_delivered) {
    log::OutRecord out{
        commands_topic, log::kAnyPartition, c.payment_id(), c.SerializeAsString(), {}};
    auto st =
        producer->Produce(out, [this, on_delivered, sent = Steady::now()](const log::Delivery& d) {
          if (!d.status.ok()) {
            options.logger->warn("connector result not delivered: {}", d.status.ToString());
            failure = "connector result not delivered: " + d.status.ToString();
            return;
          }
          if (options.metrics != nullptr) {
            options.metrics->result_to_ack.ObserveMicros(Micros(Steady::now() - sent));
          }
          if (on_delivered) on_delivered();
        });
    if (!st.ok()) failure = "connector produce: " + st.ToString();
  }

  std::string Run(const std::atomic<bool>& stop) {
    events_topic = options.kafka.Topic(log::TopicKind::kEvents);
    commands_topic = options.kafka.Topic(log::TopicKind::kCommands);
    auto p = log::Producer::Create(options.kafka);
    if (!p.ok()) return "connector producer: " + p.status().ToString();
    producer = std::move(p.value());
    auto c = log::Consumer::CreateMember(options.kafka, options.group, events_topic,
                                         options.static_partitions, this);
    if (!c.ok()) return "connector consumer: " + c.status().ToString();
    consumer = std::move(c.value());

    std::vector<log::Record> batch;
    int64_t last_tick = 0;
    int64_t last_checkpoint = 0;
    Steady::time_point last_poll{};
    Steady::duration gap_max{};
    while (!stop.load() && failure.empty()) {
      batch.clear();
      const Steady::time_point poll_at = Steady::now();
      if (last_poll != Steady::time_point{}) {
        const Steady::duration gap = poll_at - last_poll;
        gap_max = std::max(gap_max, gap);
        if (options.metrics != nullptr) {
          options.metrics->connector_poll_gap.ObserveMicros(
              std::chrono::duration_cast<std::chrono::microseconds>(gap).count());
        }
      }
      last_poll = poll_at;
      auto st = consumer->PollBatch(2000, 2, &batch);
      if (log::IsFatal(st)) {
        failure = "connector poll: " + st.ToString();
        break;
      }
      for (const auto& r : batch) OnRecord(r);
      TakeHanded();
      PublishAnswers();
      const int64_t now = options.clock->NowMs();
      if (now - last_tick >= kTickEveryMs) {
        last_tick = now;
        TakeRetrieves();
        for (const auto& command : reconciler.Expiries()) {
          if (options.probe != nullptr) ++options.probe->reconciler_commands;
          Produce(command, nullptr);
        }
        ReportLoad();
      }
      Throttle();
      producer->Poll(0).IgnoreError();  // delivery callbacks; failures are counted there
      if (now - last_checkpoint >= kCheckpointEveryMs) {
        last_checkpoint = now;
        for (int32_t part : tracker.owned()) SaveCheckpoint(part);
        Publish(gap_max);
      }
    }
    // Queued calls are dropped (their events stay unanswered in the log, behind the resume
    // point); the answers of calls in flight are still appended.
    bulkhead.Stop();
    PublishAnswers();
    // Answers not delivered by now stay unanswered in the log: chased after a restart.
    producer->Flush(5'000).IgnoreError();
    for (int32_t part : tracker.owned()) SaveCheckpoint(part);
    consumer->Close().IgnoreError();  // checkpoints are ours, not the group's
    return failure;
  }

  // Appends what the bulkheads handed back: call answers, then retrieve results.
  void PublishAnswers() {
    std::vector<Answer> ready;
    std::vector<Retrieved> found;
    {
      std::lock_guard lock(mu);
      ready.swap(answers);
      found.swap(retrieved);
    }
    for (auto& a : ready) {
      const int32_t part = a.partition;
      const int64_t offset = a.offset;
      auto settle = [this, part, offset] {
        tracker.Answered(part, offset);
        if (options.probe != nullptr) --options.probe->backlog;
      };
      if (!a.commands.empty()) {
        if (options.probe != nullptr) ++options.probe->results;
        // Same key, same producer: the transitions land before the result.
        for (size_t i = 0; i + 1 < a.commands.size(); ++i) Produce(a.commands[i], nullptr);
        Produce(a.commands.back(), settle);
      } else {
        settle();
      }
    }
    for (Retrieved& r : found) {
      for (const auto& command : reconciler.OnRetrieved(r.task, r.answer)) {
        if (options.probe != nullptr) ++options.probe->reconciler_commands;
        Produce(command, nullptr);
      }
    }
  }

  ConnectorOptions options;
  connectors::Dispatcher dispatcher;
  connectors::Reconciler reconciler;
  std::string events_topic;
  std::string commands_topic;
  std::unique_ptr<log::Producer> producer;
  std::unique_ptr<log::Consumer> consumer;
  ConnectorTracker tracker;
  bool paused = false;
  std::mutex mu;  // guards answers and retrieved, filled by the bulkheads' workers
  std::vector<Answer> answers;
  std::vector<Retrieved> retrieved;
  std::string failure;
  // Last: its workers use the members above, so it stops (is destroyed) first.
  connectors::Bulkhead bulkhead;
};

ConnectorLoop::ConnectorLoop(ConnectorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
ConnectorLoop::~ConnectorLoop() = default;

std::string ConnectorLoop::Run(const std::atomic<bool>& stop) { return impl_->Run(stop); }

}  // namespace payorch::runtime
