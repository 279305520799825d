#include "runtime/connector_loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "command/invariants.h"
#include "command/validity.h"
#include "connectors/bulkhead.h"
#include "connectors/charge_admission.h"
#include "connectors/dispatcher.h"
#include "connectors/held_money.h"
#include "connectors/reconciler.h"
#include "log/consumer.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "metrics/runtime_metrics.h"
#include "runtime/internal/event_keys.h"
#include "runtime/internal/recent_sequences.h"
#include "runtime/internal/resume_point.h"

namespace payorch::runtime {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;

using internal::ChasedKey;
using internal::IsStarted;
using internal::SettledKey;
using internal::StartedKey;

namespace {

constexpr char kCheckpointName[] = "connectors";
constexpr int64_t kCheckpointEveryMs = 250;
constexpr int64_t kTickEveryMs = 20;
// The connectors' de-duplication memory (RecentSequences), a limit for the whole loop:
// shared evenly by the assigned partitions, at least kMinRememberedPerPartition each
// (~100 bytes an entry: ~3.5 MB with up to 64 partitions). Re-published copies follow
// their original within seconds, so 512 recent payments per partition are plenty; the
// limit is reached in under 3 minutes at 200 payments/s, after which memory stays flat.
constexpr size_t kMaxRememberedPayments = 32'768;
constexpr size_t kMinRememberedPerPartition = 512;

size_t RememberedPerPartition(size_t partitions) {
  return std::max(kMinRememberedPerPartition,
                  kMaxRememberedPayments / std::max<size_t>(1, partitions));
}

struct Job {
  int32_t partition = 0;
  int64_t offset = 0;
  ev::EventEnvelope event;
  bool repeat = false;  // from history: a call under its key may have been made before
};

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

struct PartitionTrack {
  command::EpochFilter filter;
  // Read position, unanswered calls and chased ops: where a restart resumes.
  internal::ResumePoint resume;
  // Per recent payment, for de-duplication; its capacity is set on assignment.
  internal::RecentSequences last_sequence{kMinRememberedPerPartition};
  // Events below this offset were in the log when the partition was assigned. Calls they
  // start are held until the log up to it has been read, and only those still without an
  // answer in the log are made: re-reading history after a restart or a move must not
  // call again for an operation whose outcome is already decided (a gateway that kept no
  // record of a failed try would take a repeat as a new request).
  int64_t catch_up_end = 0;
  std::map<int64_t, Job> held;  // offset -> call, in log order
  // The reconciler neither retrieves nor expires this partition's ops until the catch-up:
  // the history ahead may settle them (an expiry there would fail a paid payment's twin).
  bool reconciler_held = false;
  std::unordered_map<std::string, int64_t> held_by_key;
  // Failed payments' charges found and not yet voided (money at risk).
  connectors::HeldMoney held_money;
  // Which new charges may be shed when their processor is saturated (see Dispatch).
  connectors::ChargeAdmission charges;
  // Offsets beyond next_offset whose call a writer's hand-off already started: the read
  // of the record does everything else, but not the call.
  std::set<int64_t> handed;
};

}  // namespace

struct ConnectorLoop::Impl : public log::RebalanceListener {
  explicit Impl(ConnectorOptions o)
      : options(std::move(o)),
        dispatcher(*options.gateways, options.clock),
        reconciler(*options.gateways, *options.clock),
        bulkhead({.concurrency = options.threads, .queue_limit = options.queue_limit}) {}

  std::vector<log::PartitionOffset> OnAssigned(const std::vector<PartitionId>& ps) override {
    std::vector<log::PartitionOffset> starts;
    for (PartitionId p : ps) {
      PartitionMeta cp = options.store->LoadCheckpoint(kCheckpointName, p.value());
      // A checkpoint past the end belongs to another log (e.g. a new embedded broker).
      auto reader =
          log::PartitionReader::Open(options.kafka, events_topic, p, log::kOffsetBeginning);
      bool marks_known = false;
      int64_t high_mark = 0;
      if (reader.ok()) {
        auto marks = reader.value()->QueryWatermarks();
        if (marks.ok()) {
          marks_known = true;
          high_mark = marks.value().high.value();
        }
        if (marks.ok() && (cp.next_events_offset > marks.value().high.value() ||
                           cp.next_events_offset < marks.value().low.value())) {
          cp = PartitionMeta{};
          cp.next_events_offset = marks.value().low.value();
        }
      }
      PartitionTrack& t = tracks[p.value()];
      t = PartitionTrack{};
      t.filter.Restore(cp.epoch, cp.highest_epoch_seen);
      t.resume = internal::ResumePoint(cp);
      if (marks_known) t.catch_up_end = high_mark;
      // What the reconciler knew of this partition from an earlier assignment is stale.
      reconciler.Forget(p.value());
      if (t.resume.next_offset() < t.catch_up_end) {
        reconciler.Hold(p.value());
        t.reconciler_held = true;
      }
      starts.push_back({p, Offset{cp.next_events_offset}});
      options.logger->info("[p{}] connectors resume at events offset {} (epoch {})", p.value(),
                           cp.next_events_offset, cp.epoch);
    }
    for (auto& [part, track] : tracks) {
      track.last_sequence.set_capacity(RememberedPerPartition(tracks.size()));
    }
    if (options.probe != nullptr) options.probe->partitions = static_cast<int>(tracks.size());
    paused = false;  // a new assignment starts unpaused; the loop pauses it again if needed
    return starts;
  }

  void OnRevoked(const std::vector<PartitionId>& ps, bool lost) override {
    for (PartitionId p : ps) {
      if (!lost) SaveCheckpoint(p.value());
      tracks.erase(p.value());
      // Its next owner chases its unknown outcomes; retrieving them here too would only
      // load the processor and append answers twice.
      const size_t dropped = reconciler.Forget(p.value());
      if (dropped > 0) {
        options.logger->info("[p{}] revoked: reconciler dropped {} unsettled ops", p.value(),
                             dropped);
      }
    }
    for (auto& [part, track] : tracks) {
      track.last_sequence.set_capacity(RememberedPerPartition(tracks.size()));
    }
    if (options.probe != nullptr) options.probe->partitions = static_cast<int>(tracks.size());
  }

  void SaveCheckpoint(int32_t p) {
    auto it = tracks.find(p);
    if (it == tracks.end()) return;
    const PartitionMeta meta = it->second.resume.Checkpoint();
    // A checkpoint not saved costs a longer re-read after a restart, nothing else.
    if (Status s = options.store->SaveCheckpoint(kCheckpointName, p, meta); !s.ok()) {
      options.logger->warn("[p{}] connectors checkpoint not saved: {}", p, s.ToString());
    }
  }

  void OnRecord(const log::Record& r) {
    auto it = tracks.find(r.partition.value());
    if (it == tracks.end()) return;
    PartitionTrack& t = it->second;
    Observe(r, t);
    if (t.resume.next_offset() < t.catch_up_end) return;
    if (t.reconciler_held) {
      reconciler.Release(r.partition.value());
      t.reconciler_held = false;
    }
    if (!t.held.empty()) {
      // Caught up: what is still held has no answer in the log; call for it now.
      for (auto& [offset, job] : t.held) Dispatch(std::move(job));
      t.held.clear();
      t.held_by_key.clear();
    }
  }

  void Observe(const log::Record& r, PartitionTrack& t) {
    t.resume.Consumed(r.offset.value());
    ev::EventEnvelope e;
    if (!e.ParseFromString(r.value)) return;
    const command::Verdict verdict = t.filter.Observe(e);
    if (verdict != command::Verdict::kCounted && t.handed.erase(r.offset.value()) > 0) {
      // The writer handed it over as counting (runtime/started_handoff.h): a broken rule.
      command::ReportBreach("connectors: a handed-off call's event does not count, offset " +
                            std::to_string(r.offset.value()));
    }
    if (verdict == command::Verdict::kClaim) {
      t.resume.Claim(r.offset.value(), t.filter.epoch(), t.filter.highest_seen());
      return;
    }
    if (verdict != command::Verdict::kCounted) return;
    if (!e.payment_id().empty()) {
      // A re-published copy (a retried batch, a re-decided command) is not a new decision:
      // no second gateway call. The memory only saves calls; correctness does not depend
      // on it (gateways de-duplicate by key), so it keeps recent payments only.
      if (!t.last_sequence.Advance(e.payment_id(), e.sequence())) return;
    }
    reconciler.OnEvent(e, r.partition.value());
    t.charges.OnEvent(e);
    if (auto held_ms = t.held_money.OnEvent(e, options.clock->NowMs())) {
      // A hold that ended in the history re-read at assignment was observed by the owner
      // that read it live (a takeover would count it twice); one that ended while no live
      // owner read it is missing from the histogram. The log is the reference.
      if (options.metrics != nullptr && r.offset.value() >= t.catch_up_end) {
        options.metrics->money_held.ObserveMillis(*held_ms);
      }
    }
    // An unknown outcome, or a breaker's skip, is the reconciler's to resolve, not a call to
    // repeat; the resume point keeps it until the log settles it.
    if (std::string key = ChasedKey(e); !key.empty()) {
      t.resume.Chased(key, r.offset.value());
      DropHeld(t, key);
    }
    if (std::string key = SettledKey(e); !key.empty()) {
      t.resume.Settled(key);
      DropHeld(t, key);
    }
    if (IsStarted(e) && t.handed.erase(r.offset.value()) > 0) return;  // its call started
    if (IsStarted(e)) {
      if (options.metrics != nullptr && r.timestamp_ms > 0) {
        options.metrics->event_to_connector.ObserveMillis(
            std::max<int64_t>(0, options.clock->NowMs() - r.timestamp_ms));
      }
      t.resume.CallStarted(r.offset.value());
      if (r.offset.value() < t.catch_up_end) {
        t.held_by_key[StartedKey(e)] = r.offset.value();
        t.held.emplace(r.offset.value(),
                       Job{r.partition.value(), r.offset.value(), std::move(e), /*repeat=*/true});
      } else {
        Dispatch(Job{r.partition.value(), r.offset.value(), std::move(e)});
      }
    }
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
    if (lane == Lane::kCharge && !job.repeat && MayShed(job) &&
        bulkhead.Saturated(processor, op.timeout_ms())) {
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
      auto it = tracks.find(item.partition);
      if (it == tracks.end() || paused) continue;
      PartitionTrack& t = it->second;
      if (item.offset < t.resume.next_offset() || t.resume.next_offset() < t.catch_up_end ||
          t.filter.epoch() != item.epoch || t.handed.count(item.offset) > 0) {
        continue;
      }
      const ev::GatewayOperation& op = *connectors::Dispatcher::OperationOf(item.event);
      if (connectors::Dispatcher::IsCharge(op) &&
          bulkhead.Saturated(op.processor_id(), op.timeout_ms())) {
        continue;
      }
      t.handed.insert(item.offset);
      t.resume.CallStarted(item.offset);
      if (options.probe != nullptr) ++options.probe->handed;
      Dispatch(Job{item.partition, item.offset, std::move(item.event)});
    }
  }

  // A charge whose payment already has a step charged is committed work: queued like a
  // follow-up, not shed (connectors/charge_admission.h).
  bool MayShed(const Job& job) const {
    auto it = tracks.find(job.partition);
    return it == tracks.end() || it->second.charges.MayShed(job.event);
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
    for (auto& [part, track] : tracks) {
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
    bool any_work = false;
    bool all_saturated = true;
    for (const auto& [processor, load] : bulkhead.Loads()) {
      if (load.queued == 0 && load.in_flight == 0) continue;
      any_work = true;
      if (!connectors::IsSaturated(load, bulkhead.options(), 0)) all_saturated = false;
    }
    const ConnectorLoad load{bulkhead.queued(), reconciler.tracked(), paused,
                             any_work && all_saturated};
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
    const int64_t now = options.clock->NowMs();
    int64_t count = 0;
    int64_t oldest = 0;
    for (const auto& [part, track] : tracks) {
      count += static_cast<int64_t>(track.held_money.count());
      if (track.held_money.count() > 0) {
        oldest = std::max(oldest, track.held_money.OldestAgeMs(now));
      }
    }
    m.money_held_payments.Set(count);
    m.money_held_oldest_seconds.Set(oldest / 1000);
  }

  // A held call whose outcome the log already has is not made.
  static void DropHeld(PartitionTrack& t, const std::string& key) {
    auto k = t.held_by_key.find(key);
    if (k == t.held_by_key.end()) return;
    t.held.erase(k->second);
    t.resume.CallAnswered(k->second);
    t.held_by_key.erase(k);
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
    if (!p.ok()) return "connector producer: " + p.error().ToString();
    producer = std::move(p.value());
    auto c = log::Consumer::CreateMember(options.kafka, options.group, events_topic,
                                         options.static_partitions, this);
    if (!c.ok()) return "connector consumer: " + c.error().ToString();
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
      if (!st.ok() && st.error().cls == log::ErrorClass::kFatal) {
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
        for (auto& [part, track] : tracks) SaveCheckpoint(part);
        Publish(gap_max);
      }
    }
    // Queued calls are dropped (their events stay unanswered in the log, behind the resume
    // point); the answers of calls in flight are still appended.
    bulkhead.Stop();
    PublishAnswers();
    // Answers not delivered by now stay unanswered in the log: chased after a restart.
    producer->Flush(5'000).IgnoreError();
    for (auto& [part, track] : tracks) SaveCheckpoint(part);
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
        auto it = tracks.find(part);
        if (it != tracks.end()) it->second.resume.CallAnswered(offset);
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
  std::map<int32_t, PartitionTrack> tracks;
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
