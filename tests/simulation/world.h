// A deterministic simulation of one partition of payorch: the production single writer,
// the connectors' bookkeeping, dispatcher and reconciler, and the projections, over an
// in-memory log and in-memory stores, with fake processors and a network, under one seeded
// clock and random source. docs/reliability.md says what it covers and what not.
//
//   World w(seed);
//   for (int i = 0; i < 700 && w.ok(); ++i) w.Step();      // load + faults, checks each step
//   w.Drain();                                              // no new load, no faults
//   w.CheckQuiescent();                                     // money, nothing pending
//   if (!w.ok()) std::cerr << w.failure();                  // names the seed and step
//
// What runs is production code; the world around it is the simulation's:
//   production  runtime::PartitionWriter (restore from its store and the log, claim, gap
//               check, decide, outbox, persist, eviction: max_cached_payments is small here),
//               outbox::EventOutbox, runtime::MemoryEventStore (the EventStore contract
//               suite covers it beside RocksDB), log::MemoryLog (the log seam, with its fault
//               hooks), runtime::ConnectorTracker (the connectors' resume point, catch-up
//               holds, de-duplication, checkpoints), connectors::Dispatcher (calls, seals,
//               breakers) and Reconciler (retrieves, expiries, chases) as ConnectorLoop drives
//               them, projection::Projector, and the core (decide/evolve, the validity rule).
//   world       upstream services (creates, follow-ups, duplicates, conflicts, junk), the
//               processors (the idempotency rules of connectors/simulated_gateway.h: charged
//               but answer lost, timeouts, unrecorded network failures), the network between
//               the connectors and the commands log (delays, duplicates), the scheduling of
//               the loops (ConnectorLoop's and the writer loop's threads become steps), and
//               the projection store (a map written one flush at a time).
// Faults: writer crashes at any point (its producer's queue lost; restarted on the same store
// or a fresh one), a crashed writer kept alive as a zombie that goes on deciding and
// publishing until the log fences it, in-doubt produces (written or not, the writer told
// "abortable"), duplicated produces, the log down for a while, connector crashes (in-flight
// calls, unsent answers and the reconciler's memory lost; resumed from the last saved
// checkpoint), duplicated and delayed results, gateway timeouts with or without the charge,
// network failures, projection crashes, and duplicate, conflicting and undecodable commands.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "command/aggregate.h"
#include "command/plan_builder.h"
#include "command/state.h"
#include "command/validity.h"
#include "common/clock.h"
#include "connectors/dispatcher.h"
#include "connectors/gateway.h"
#include "connectors/reconciler.h"
#include "connectors/registry.h"
#include "log/memory_log.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"
#include "runtime/connector_tracker.h"
#include "runtime/state_store.h"
#include "runtime/writer.h"

namespace spdlog {
class logger;
}

namespace payorch::simulation {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;

struct Options {
  int payments = 25;           // upstream creates over the run
  double writer_crash = 0.02;  // per step
  double zombie = 0.3;         // a crashed writer keeps running for a while
  double connector_crash = 0.02;
  double duplicate_delivery = 0.1;
  double upstream_junk = 0.03;  // undecodable or malformed records
  // The gateway records nothing for a network failure or an unavailable processor, so a
  // later call under the same key is a fresh try (connectors/simulated_gateway.h). Off:
  // such a failure is recorded and answered again, like a decline.
  bool unrecorded_failures = true;
  // The connector calls through the real connectors::Dispatcher, which seals the key of
  // such a failure before answering it (a retrieve that finds nothing seals the key; a
  // record found is answered instead; an unanswered retrieve, seal_unanswered of them
  // while faults run, makes the answer UNKNOWN). Off: the world calls the gateway itself
  // and answers what it said, without a seal.
  bool real_dispatcher = true;
  // Share of gateway retrieves left unanswered while faults run: the Dispatcher's seals
  // and the Reconciler's retrieves alike.
  double seal_unanswered = 0.2;
  // Per step: the writer's next settled record is in doubt (written or not), duplicated or
  // refused (log::ProduceFault); the log goes down for a few steps.
  double produce_fault = 0.02;
  double log_down = 0.005;
  // The overload scenario: in this share of runs the first processor called is slow (its
  // calls take 0.8-3.8 s) and takes at most `processor_capacity` calls at a time; a new
  // charge beyond that is answered as skipped (Dispatcher::Saturated), as ConnectorLoop does
  // when a bulkhead is saturated, and the plan's fallback takes the payment.
  double slow_processor = 0.5;
  size_t processor_capacity = 3;
  // The projections: a real projection::Projector over the events log, flushing into an
  // in-memory store, crashed (unflushed work lost, resumed from the stored checkpoint).
  double projection_crash = 0.02;
};

// What the gateway remembers under an idempotency key (simulated_gateway.h's rules).
struct GatewayRecord {
  ev::OperationKind kind = ev::OPERATION_KIND_UNSPECIFIED;
  std::string payment_id;
  int64_t amount = 0;
  bool succeeded = false;
  int error_code = 0;
};

class World {
 public:
  explicit World(uint64_t seed, Options options = {});
  ~World();

  void Step();   // one scheduled action, then every check
  void Drain();  // runs without load and faults until quiescent (or a step cap)
  void CheckQuiescent();

  bool ok() const { return failure_.empty(); }
  const std::string& failure() const { return failure_; }
  uint64_t steps() const { return step_; }
  size_t commands() const { return CommandLog().size(); }
  size_t events() const { return EventLog().size(); }
  size_t crashes() const { return crashes_; }
  size_t projection_crashes() const { return projection_crashes_; }
  // Zombie writers the log fenced (their gap check found a newer claim), and writers that
  // failed on a produce fault or the log being down.
  size_t zombies_fenced() const { return zombies_fenced_; }
  size_t writer_failures() const { return writer_failures_; }
  size_t saturated() const { return saturated_; }
  // Counted events of one kind in the log (e.g. kBreakerTransitioned), for the report.
  size_t CountEvents(ev::EventEnvelope::EventCase kind) const;
  // Payments by final status name, for the report.
  std::map<std::string, int> Outcomes() const;

 private:
  struct WriterProcess;
  struct Connector;
  struct Reader;
  struct Projection;
  class SimGateway;
  struct SimClock final : Clock {
    explicit SimClock(const int64_t* now) : now(now) {}
    int64_t NowMs() const override { return *now; }
    const int64_t* now;
  };
  // Commands on their way from a connector to the commands log.
  struct Delivery {
    int64_t due_ms;
    cmd::CommandEnvelope command;
    uint64_t sender = 0;   // the connector process that sent it
    int64_t answers = -1;  // the events offset whose call this answers last, else -1
  };
  struct Call {
    int64_t due_ms;
    runtime::ConnectorTracker::Call call;
  };

  // Actors.
  void Upstream();
  void WriterStep(WriterProcess& w, int commands);
  void ConnectorStep();
  void Reconcile();
  void Deliver();
  void CrashWriter(bool may_linger = true);
  void CrashConnector();
  void SaveConnectorCheckpoint();
  std::unique_ptr<Connector> StartConnector();
  std::unique_ptr<WriterProcess> StartWriter();
  void LogFaults();

  // The outside world.
  void Append(const cmd::CommandEnvelope& command);
  void AppendRaw(std::string key, std::string bytes);
  const std::vector<log::Record>& CommandLog() const;
  const std::vector<log::Record>& EventLog() const;
  std::vector<cmd::CommandEnvelope> MakeCall(const runtime::ConnectorTracker::Call& call);
  connectors::GatewayAnswer GatewayExecute(const connectors::GatewayRequest& req);
  connectors::GatewayAnswer GatewayRetrieve(const std::string& key);
  void EnsureRegistered(const std::string& processor);
  void ProjectStep();
  void CrashProjection();
  void CheckProjection();
  void CheckAnswers();

  // Checks.
  void Fail(const std::string& what);
  void ReadNewEvents();
  void CheckGroup(const std::vector<ev::EventEnvelope>& group);
  void Trace(std::string line);

  uint64_t seed_;
  Options o_;
  std::mt19937_64 rng_;
  int64_t now_ms_ = 1'700'000'000'000;
  uint64_t step_ = 0;
  bool faults_ = true;
  bool load_ = true;
  std::string failure_;
  std::deque<std::string> trace_;
  size_t crashes_ = 0;
  size_t projection_crashes_ = 0;
  size_t zombies_fenced_ = 0;
  size_t writer_failures_ = 0;
  size_t saturated_ = 0;
  std::optional<std::string> slow_processor_;  // chosen at the first call

  command::PlanBuilder plans_;
  // Small, so eviction happens: a writer keeps at most 8 payment states.
  runtime::CacheBudget cache_{8};
  log::KafkaOptions kafka_;  // topic names; one partition
  log::MemoryLog log_;
  std::vector<ev::EventEnvelope> events_;  // the events log, parsed (EventLog()'s records)
  int down_steps_ = 0;                     // the log is down for this many more steps

  // Writer processes: the live one and zombies; each holds a store of stores_.
  std::vector<std::unique_ptr<runtime::MemoryEventStore>> stores_;
  std::unique_ptr<WriterProcess> writer_;
  std::vector<std::unique_ptr<WriterProcess>> zombies_;
  runtime::EventStore* last_store_ = nullptr;  // the crashed writer's: a restart may reuse it
  std::shared_ptr<spdlog::logger> logger_;
  uint64_t writers_started_ = 0;

  runtime::MemoryEventStore connector_store_;  // the connectors' checkpoints: survive crashes
  std::unique_ptr<Connector> connector_;
  uint64_t connector_generation_ = 0;
  std::unique_ptr<Reader> reader_;
  std::unique_ptr<Projection> projection_;
  SimClock clock_{&now_ms_};
  std::shared_ptr<SimGateway> gateway_adapter_;
  std::unique_ptr<connectors::GatewayRegistry> registry_;
  std::unique_ptr<connectors::Dispatcher> dispatcher_;
  std::vector<Delivery> network_;  // results on their way to the commands log
  std::map<std::string, GatewayRecord> gateway_;
  std::set<std::string> sealed_;          // retrieved as NOT_FOUND: never executes later
  std::set<std::string> voided_targets_;  // a processor voids an authorization once

  // Upstream's memory, to send follow-up, duplicate and conflicting commands.
  int created_ = 0;
  std::vector<std::string> payment_ids_;
  std::vector<std::string> sent_;  // bytes of upstream commands, for duplicates
};

}  // namespace payorch::simulation
