// A deterministic simulation of one partition of payorch: the single writer, the
// connectors (gateway calls and reconciliation) and a reader (the projections' view),
// around an in-memory commands log and events log, fake gateways and a network, under one
// seeded clock and random source. docs/reliability.md says what it covers and what not.
//
//   World w(seed);
//   for (int i = 0; i < 600 && w.ok(); ++i) w.Step();      // load + faults, checks each step
//   w.Drain();                                              // no new load, no faults
//   w.CheckQuiescent();                                     // money, nothing pending
//   if (!w.ok()) std::cerr << w.failure();                  // names the seed and step
//
// What is real and what is a model:
//   real   decide/evolve (command::DecideAndApply, Evolve), DecodeCommand, the validity
//          rule and command grouping (runtime/validity.cc, compiled in), the connectors'
//          Dispatcher (calls, seals, breakers) and Reconciler (retrieves, expiries,
//          chases), the connectors' resume-point rule (runtime/internal/event_keys.h) and
//          the projections' Projector;
//   model  the writer's loop (restore = fold the log, claim epoch = highest + 1, resume
//          after the last complete command group, publish event by event), the connector's
//          loop (as runtime/connector_loop.cc: at-least-once from its checkpoint, which never
//          passes an unanswered call or an unknown outcome; a re-published copy skipped by
//          (payment, sequence); a call per counted *Started event, calls re-read from history
//          held until caught up and made only if the log has no outcome for them; results
//          appended as commands), the projection's store (a map written one flush at a time)
//          and runner, and a gateway with the idempotency rules of
//          connectors/simulated_gateway.h.
// Faults: writer crashes (all memory lost, restore from the log) at any point including
// mid-group; a crashed writer kept alive as a zombie that appends its outbox late;
// connector crashes (in-flight calls and the reconciler's memory lost, events redelivered
// from the checkpoint); duplicated and delayed deliveries of results; gateway timeouts with or
// without the charge ("charged but lost"); network failures; duplicate, conflicting
// and undecodable upstream commands.
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
#include "connectors/registry.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"

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
  // while faults run, makes the answer UNKNOWN). Off: the model calls the gateway itself
  // and answers what it said, without a seal.
  bool real_dispatcher = true;
  // Share of gateway retrieves left unanswered while faults run: the Dispatcher's seals
  // and the Reconciler's retrieves alike.
  double seal_unanswered = 0.2;
  // The projections: a real projection::Projector over the events log, flushing into an
  // in-memory store, crashed (unflushed work lost, resumed from the stored checkpoint).
  double projection_crash = 0.02;
};

struct CommandRecord {
  std::string key;
  std::string bytes;
  int64_t timestamp_ms = 0;
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
  size_t commands() const { return commands_.size(); }
  size_t events() const { return events_.size(); }
  size_t crashes() const { return crashes_; }
  size_t projection_crashes() const { return projection_crashes_; }
  // Counted events of one kind in the log (e.g. kBreakerTransitioned), for the report.
  size_t CountEvents(ev::EventEnvelope::EventCase kind) const;
  // Payments by final status name, for the report.
  std::map<std::string, int> Outcomes() const;

 private:
  struct Writer;
  struct Connector;
  struct Reader;
  struct Projection;
  class SimGateway;
  struct SimClock final : Clock {
    explicit SimClock(const int64_t* now) : now(now) {}
    int64_t NowMs() const override { return *now; }
    const int64_t* now;
  };
  struct Delivery {
    int64_t due_ms;
    cmd::CommandEnvelope command;
  };
  struct Call {
    int64_t due_ms;
    ev::GatewayOperation op;
    std::string payment_id;
    ev::EventEnvelope event;  // the *Started event, for the Dispatcher
    bool repeat = false;      // re-read after a connector restart (Dispatcher's `repeat`)
    size_t offset = 0;        // of the *Started event in the events log
  };

  // Actors.
  void Upstream();
  void WriterStep(Writer& w);
  void ConnectorStep();
  void Reconcile();
  void Deliver();
  void CrashWriter();
  void CrashConnector();
  std::unique_ptr<Connector> StartConnector(size_t position);
  std::unique_ptr<Writer> StartWriter();

  // The outside world.
  void Append(const cmd::CommandEnvelope& command);
  void AppendRaw(std::string key, std::string bytes);
  std::vector<cmd::CommandEnvelope> MakeCall(const Call& call);
  connectors::GatewayAnswer GatewayExecute(const connectors::GatewayRequest& req);
  connectors::GatewayAnswer GatewayRetrieve(const std::string& key);
  void ProjectStep();
  void CrashProjection();
  void CheckProjection();

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

  command::PlanBuilder plans_;
  std::vector<CommandRecord> commands_;    // the commands log (one partition)
  std::vector<ev::EventEnvelope> events_;  // the events log (same partition)

  std::unique_ptr<Writer> writer_;
  std::vector<std::unique_ptr<Writer>> zombies_;
  std::unique_ptr<Connector> connector_;
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
