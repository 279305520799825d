#include "simulation/world.h"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <sstream>
#include <utility>

#include "api/internal/answers.h"
#include "command/parser.h"
#include "outbox/event_outbox.h"
#include "projection/internal/keys.h"
#include "projection/projector.h"
#include "runtime/command_intake.h"
#include "support/command_harness.h"
#include "support/map_view_source.h"

namespace payorch::simulation {

namespace ty = ::payments::types::v1;

namespace {

// True when the writer sends the record to the dead-letter topic instead of deciding it.
// Whether the writer decides a record (runtime/command_intake.h): else it only goes to the
// dead-letter topic and no events of it are expected.
bool Decided(const log::Record& r) {
  cmd::CommandEnvelope e;
  return runtime::TakeCommand(r.key, r.value, 0, 1, &e).decide;
}

constexpr char kConnectorCheckpoint[] = "connectors";  // ConnectorLoop's checkpoint name

// The seed merchants, with circuit breakers, so the Dispatcher's breakers take part.
::payments::config::v1::OrchestratorConfig SimConfig() {
  auto config = testing::SeedConfig();
  for (auto& merchant : *config.mutable_merchants()) {
    auto* breaker = merchant.mutable_circuit_breaker();
    breaker->set_failure_threshold(3);
    breaker->set_open_ms(2'000);
    breaker->set_half_open_probes(1);
  }
  return config;
}

cmd::CommandEnvelope Envelope(const std::string& pid, std::string command_id) {
  cmd::CommandEnvelope e;
  e.set_schema_version(command::kSchemaVersion);
  e.set_payment_id(pid);
  e.set_command_id(std::move(command_id));
  return e;
}

}  // namespace

// One writer process: the production PartitionWriter with its own producer and outbox over
// the memory log, and a store that outlives it (its machine's disk). A crash loses the
// writer and whatever its producer had not settled.
struct World::WriterProcess {
  runtime::EventStore* store = nullptr;
  std::unique_ptr<log::Producer> producer;
  std::unique_ptr<outbox::EventOutbox> outbox;
  runtime::WriterProbe probe;
  std::unique_ptr<runtime::PartitionWriter> writer;
  int64_t cursor = 0;    // next command offset to hand it
  int zombie_steps = 0;  // a crashed writer's remaining steps
};

// The connectors' process, as ConnectorLoop holds it: the tracker with its reconciler, a
// reader of the events partition, and calls handed to processors, not yet made (memory only).
struct World::Connector {
  uint64_t generation = 0;
  std::unique_ptr<connectors::Reconciler> reconciler;
  std::unique_ptr<runtime::ConnectorTracker> tracker;
  std::unique_ptr<log::PartitionReader> reader;
  std::vector<Call> calls;
};

// The projections' view: the log folded with the validity rule, checked as it goes.
struct World::Reader {
  size_t position = 0;
  command::EpochFilter filter;
  command::CommandGroups groups;
  std::map<std::string, command::PaymentState> states;
  std::map<std::string, int64_t> voided;  // payment -> sum of PaymentVoided op amounts
  int64_t last_offset = -1;
};

// The projections: a real Projector (memory, lost in a crash) over a store that keeps
// what was flushed (one flush = one atomic write, as ProjectionRunner's WriteBatch).
struct World::Projection {
  Projection() { Start(); }
  void Start() {  // after a crash: resume from the stored checkpoint
    projector = std::make_unique<projection::Projector>(&source);
    projection::Checkpoint c;
    if (auto it = store.find(projection::internal::CheckpointKey(0)); it != store.end()) {
      c = projection::DecodeCheckpoint(it->second).value_or(c);
    }
    projector->Resume(0, c);
    position = static_cast<size_t>(c.next_offset);
  }
  void Flush() { source.Apply(projector->Flush()); }
  testing::MapViewSource source;  // the projection's store
  std::map<std::string, std::string>& store = source.data;
  std::unique_ptr<projection::Projector> projector;
  size_t position = 0;  // next events offset to observe
  // The core's states folded over the same events as the projector (the validity rule and
  // complete groups, as the projector applies them), for the API's answer rule.
  struct Fold {
    command::EpochFilter filter;
    command::CommandGroups groups;
    std::map<std::string, command::PaymentState> states;
    size_t position = 0;
  };
  Fold fold;
};

World::World(uint64_t seed, Options options)
    : seed_(seed),
      o_(options),
      rng_(seed),
      plans_(SimConfig()),
      kafka_([] {
        log::KafkaOptions k;
        k.partitions = 1;
        return k;
      }()),
      log_(kafka_) {
  testing::MakeBreachesFatal();
  logger_ =
      std::make_shared<spdlog::logger>("sim", std::make_shared<spdlog::sinks::null_sink_mt>());
  log_.SetTime(now_ms_);
  reader_ = std::make_unique<Reader>();
  projection_ = std::make_unique<Projection>();
  gateway_adapter_ = std::make_shared<SimGateway>(this);
  registry_ = std::make_unique<connectors::GatewayRegistry>(
      connectors::GatewayRegistryOptions{.ledger_dir = "", .default_spec = "", .sleep = {}});
  registry_->breakers().Configure(SimConfig());
  dispatcher_ = std::make_unique<connectors::Dispatcher>(*registry_, &clock_);
  connector_ = StartConnector();
  writer_ = StartWriter();
}

World::~World() = default;

void World::Trace(std::string line) {
  if (std::getenv("SIM_TRACE") != nullptr) std::cerr << "t" << step_ << " " << line << "\n";
  trace_.push_back("t" + std::to_string(step_) + " " + std::move(line));
  if (trace_.size() > 40) trace_.pop_front();
}

void World::Fail(const std::string& what) {
  if (!failure_.empty()) return;
  std::ostringstream out;
  out << "SEED=" << seed_ << " step " << step_ << ": " << what << "\nlast actions:\n";
  for (const auto& t : trace_) out << "  " << t << "\n";
  out << "replay: SEED=" << seed_ << " build/tests/simulation/simulation_test\n";
  failure_ = out.str();
}

// ---------------------------------------------------------------------------------------
// The outside world: logs, network, gateway.

const std::vector<log::Record>& World::CommandLog() const {
  return log_.Records(kafka_.Topic(log::TopicKind::kCommands), PartitionId{0});
}

const std::vector<log::Record>& World::EventLog() const {
  return log_.Records(kafka_.Topic(log::TopicKind::kEvents), PartitionId{0});
}

// Another process's producer (upstream, the connectors' network): appended at once.
void World::AppendRaw(std::string key, std::string bytes) {
  log_.Append({kafka_.Topic(log::TopicKind::kCommands),
               PartitionId{0},
               std::move(key),
               std::move(bytes),
               {}},
              now_ms_);
}

void World::Append(const cmd::CommandEnvelope& command) {
  std::string bytes;
  command.SerializeToString(&bytes);
  AppendRaw(command::TargetPaymentId(command), std::move(bytes));
}

connectors::GatewayAnswer World::GatewayExecute(const connectors::GatewayRequest& req) {
  const std::string& key = req.idempotency_key;
  connectors::GatewayAnswer a;
  std::uniform_real_distribution<double> u(0, 1);
  auto answer = [&](const GatewayRecord& rec) {
    a.outcome = rec.succeeded ? cmd::GATEWAY_OUTCOME_SUCCEEDED : cmd::GATEWAY_OUTCOME_FAILED;
    a.amount_processed_minor = rec.succeeded ? rec.amount : 0;
    a.error_code = static_cast<ty::ErrorCode>(rec.error_code);
    a.processor_reference = "ref_" + key;
  };
  auto unknown = [&] {
    a.outcome = cmd::GATEWAY_OUTCOME_UNKNOWN;
    a.error_code = ty::ERROR_CODE_TIMEOUT;
  };
  if (sealed_.count(key) != 0) {
    a.outcome = cmd::GATEWAY_OUTCOME_FAILED;
    a.error_code = ty::ERROR_CODE_UNKNOWN;
    Trace("gateway " + key + ": sealed, FAILED");
    return a;
  }
  if (auto it = gateway_.find(key); it != gateway_.end()) {
    if (u(rng_) < 0.05) {
      unknown();
    } else {
      answer(it->second);
    }
    Trace("gateway " + key + ": replayed record");
    return a;
  }
  const bool auth = req.kind == ev::OPERATION_KIND_AUTHORIZE || req.kind == ev::OPERATION_KIND_SALE;
  GatewayRecord rec{req.kind, req.payment_id, req.amount_minor, true, 0};
  const double f = u(rng_);
  std::string fate;
  const bool is_void = req.kind == ev::OPERATION_KIND_VOID;
  if (is_void && voided_targets_.count(req.target_reference) != 0) {
    fate = "void of an authorization already voided: declined";
    rec.succeeded = false;
    rec.error_code = ty::ERROR_CODE_DECLINED;
    gateway_[key] = rec;
    answer(rec);
  } else if (f < (auth ? 0.65 : 0.80)) {
    fate = "succeeded";
    gateway_[key] = rec;
    answer(rec);
  } else if (auth && f < 0.75) {
    fate = "declined";
    rec.succeeded = false;
    rec.error_code = ty::ERROR_CODE_DECLINED;
    gateway_[key] = rec;
    answer(rec);
  } else if (f < (auth ? 0.82 : 0.87)) {
    fate = "charged_answer_lost";
    gateway_[key] = rec;
    unknown();
  } else if (f < (auth ? 0.88 : 0.93)) {
    fate = "timeout_not_charged";
    unknown();
  } else {
    const bool network = !auth || f < 0.94;
    fate = network ? "network_failure" : "processor_unavailable";
    rec.succeeded = false;
    rec.error_code =
        network ? ty::ERROR_CODE_NETWORK_FAILURE : ty::ERROR_CODE_PROCESSOR_UNAVAILABLE;
    if (!o_.unrecorded_failures) gateway_[key] = rec;  // a later try answers the same
    answer(rec);
  }
  // An authorization is released once, by the first void that executed.
  if (is_void && rec.succeeded && gateway_.count(key) != 0) {
    voided_targets_.insert(req.target_reference);
  }
  Trace("gateway " + key + " " + ev::OperationKind_Name(req.kind) + " " +
        std::to_string(rec.amount) + ": " + fate);
  return a;
}

connectors::GatewayAnswer World::GatewayRetrieve(const std::string& key) {
  connectors::GatewayAnswer a;
  std::uniform_real_distribution<double> u(0, 1);
  if (faults_ && u(rng_) < o_.seal_unanswered) {
    a.outcome = cmd::GATEWAY_OUTCOME_UNKNOWN;
    a.error_code = ty::ERROR_CODE_TIMEOUT;
    Trace("retrieve " + key + ": no answer");
    return a;
  }
  if (auto it = gateway_.find(key); it != gateway_.end()) {
    const GatewayRecord& rec = it->second;
    a.outcome = rec.succeeded ? cmd::GATEWAY_OUTCOME_SUCCEEDED : cmd::GATEWAY_OUTCOME_FAILED;
    a.amount_processed_minor = rec.succeeded ? rec.amount : 0;
    a.error_code = static_cast<ty::ErrorCode>(rec.error_code);
    a.processor_reference = "ref_" + key;
    Trace("retrieve " + key + ": " + (rec.succeeded ? "SUCCEEDED" : "FAILED"));
  } else {
    sealed_.insert(key);
    a.outcome = cmd::GATEWAY_OUTCOME_NOT_FOUND;
    Trace("retrieve " + key + ": NOT_FOUND (sealed)");
  }
  return a;
}

// The processors as the real Dispatcher sees them.
class World::SimGateway final : public connectors::Gateway {
 public:
  explicit SimGateway(World* world) : world_(world) {}
  connectors::GatewayAnswer Execute(const connectors::GatewayRequest& req) override {
    return world_->GatewayExecute(req);
  }
  connectors::GatewayAnswer Retrieve(std::string_view key) override {
    return world_->GatewayRetrieve(std::string(key));
  }

 private:
  World* world_;
};

void World::EnsureRegistered(const std::string& processor) {
  if (registry_->Find(processor) == nullptr) {
    if (Status s = registry_->Register(processor, gateway_adapter_); !s.ok()) {
      Fail("registering processor " + processor + ": " + s.ToString());
    }
  }
}

// One due call: through the real Dispatcher, or (real_dispatcher off) the world's own
// call, which answers what the gateway said without sealing anything.
std::vector<cmd::CommandEnvelope> World::MakeCall(const runtime::ConnectorTracker::Call& call) {
  const ev::GatewayOperation& op = *connectors::Dispatcher::OperationOf(call.event);
  EnsureRegistered(op.processor_id());
  if (o_.real_dispatcher) return dispatcher_->HandleAll(call.event, call.repeat);
  connectors::GatewayRequest req;
  req.kind = op.kind();
  req.idempotency_key = op.idempotency_key();
  req.processor_id = op.processor_id();
  req.amount_minor = op.amount().amount_minor();
  req.target_reference = op.target_reference();
  req.payment_id = call.event.payment_id();
  const connectors::GatewayAnswer a = GatewayExecute(req);
  cmd::CommandEnvelope e = Envelope(call.event.payment_id(), "gw/" + req.idempotency_key + "/call");
  auto* r = e.mutable_gateway_result();
  r->set_operation_key(req.idempotency_key);
  r->set_processor_id(req.processor_id);
  r->set_source("call");
  r->set_outcome(a.outcome);
  r->set_amount_processed_minor(a.amount_processed_minor);
  r->set_error_code(a.error_code);
  r->set_processor_reference(a.processor_reference);
  return {e};
}

// Due results enter the commands log, in due order. The last result of a call, delivered
// for the connector process that made it, is "answered" for its tracker (ConnectorLoop's
// delivery callback).
void World::Deliver() {
  if (log_.down()) return;
  std::stable_sort(network_.begin(), network_.end(),
                   [](const Delivery& a, const Delivery& b) { return a.due_ms < b.due_ms; });
  size_t n = 0;
  while (n < network_.size() && network_[n].due_ms <= now_ms_) {
    const Delivery& d = network_[n];
    Append(d.command);
    if (d.answers >= 0 && d.sender == connector_->generation) {
      connector_->tracker->Answered(0, d.answers);
    }
    ++n;
  }
  if (n > 0) Trace("deliver " + std::to_string(n) + " result(s)");
  network_.erase(network_.begin(), network_.begin() + static_cast<std::ptrdiff_t>(n));
}

// ---------------------------------------------------------------------------------------
// Upstream: creates, follow-ups, duplicates, conflicts and junk.

void World::Upstream() {
  std::uniform_real_distribution<double> u(0, 1);
  const double r = u(rng_);
  if (r < o_.upstream_junk) {
    if (u(rng_) < 0.5) {
      AppendRaw("junk", std::string("\xff\xff\xff\x0f", 4));
    } else {
      cmd::CommandEnvelope e = Envelope("", "junk");
      e.set_schema_version(7);
      e.mutable_confirm();
      AppendRaw("", e.SerializeAsString());  // no key: dead letter
    }
    Trace("upstream junk");
    return;
  }
  if (!sent_.empty() && r < 0.12) {
    const std::string& bytes = sent_[rng_() % sent_.size()];
    cmd::CommandEnvelope e;
    (void)e.ParseFromString(bytes);
    Append(e);
    Trace("upstream duplicate of " + std::string(command::CommandTypeName(e)));
    return;
  }
  cmd::CommandEnvelope e;
  if (created_ < o_.payments && (payment_ids_.empty() || r < 0.45)) {
    const int n = created_++;
    const double m = u(rng_);
    const std::string_view merchant = m < 0.75  ? testing::kSeedMerchant
                                      : m < 0.9 ? testing::kLimitedMerchant
                                                : testing::kCappedMerchant;
    const double k = u(rng_);
    const auto method = k < 0.6    ? ty::PAYMENT_METHOD_CARD
                        : k < 0.85 ? ty::PAYMENT_METHOD_APPLE_PAY
                                   : ty::PAYMENT_METHOD_GOOGLE_PAY;
    testing::CreateOptions opts;
    opts.manual_capture = u(rng_) < 0.3;
    opts.confirm = u(rng_) < 0.8;
    const int64_t amount = 100 + static_cast<int64_t>(rng_() % 20'000);
    e = testing::Create(merchant, "o" + std::to_string(n), amount, u(rng_) < 0.9 ? "USD" : "eur",
                        method, opts);
    e.set_command_id("up/create/" + std::to_string(n));
    payment_ids_.push_back(command::TargetPaymentId(e));
    if (u(rng_) < 0.05) {  // the same key again with another amount: a conflict
      cmd::CommandEnvelope conflict = e;
      conflict.mutable_create()->mutable_amount()->set_amount_minor(amount + 1);
      Append(e);
      e = conflict;
    }
  } else if (!payment_ids_.empty()) {
    const std::string& pid = payment_ids_[rng_() % payment_ids_.size()];
    const int which = static_cast<int>(rng_() % 6);
    const int64_t amount = static_cast<int64_t>(rng_() % 3) == 0 ? 0 : 1 + rng_() % 8'000;
    const std::string key = std::to_string(rng_() % 3);
    switch (which) {
      case 0:
        e = testing::Confirm(pid);
        break;
      case 1:
        e = testing::Capture(pid, amount, "cap-" + key, u(rng_) < 0.3);
        break;
      case 2:
      case 3:
        e = testing::Refund(pid, std::max<int64_t>(amount, 1), "ref-" + key);
        break;
      case 4:
        e = testing::Void(pid);
        break;
      default:
        e = testing::Cancel(pid);
        break;
    }
    e.set_command_id("up/" + std::to_string(CommandLog().size()));
  } else {
    return;
  }
  Append(e);
  sent_.push_back(CommandLog().back().value);
  Trace("upstream " + std::string(command::CommandTypeName(e)) + " " + e.payment_id());
}

// ---------------------------------------------------------------------------------------
// The writer: production's PartitionWriter, driven as runtime/orchestrator.cc's writer loop
// drives it (Start, Handle each command in offset order, poll the producer, Persist), with
// the loop's rounds cut into steps.

std::unique_ptr<World::WriterProcess> World::StartWriter() {
  auto w = std::make_unique<WriterProcess>();
  // The machine: the crashed writer's store (a restart in place) when no zombie holds it,
  // else a fresh one (another machine: restore from the log alone).
  std::uniform_real_distribution<double> u(0, 1);
  bool reuse = last_store_ != nullptr && u(rng_) < 0.6;
  for (const auto& z : zombies_) reuse &= z->store != last_store_;
  if (!reuse) {
    stores_.push_back(std::make_unique<runtime::MemoryEventStore>());
    last_store_ = stores_.back().get();
  }
  w->store = last_store_;
  w->producer = log_.NewProducer();
  w->outbox =
      std::make_unique<outbox::EventOutbox>(*w->producer, kafka_.Topic(log::TopicKind::kEvents));
  const std::string id = "sim-" + std::to_string(++writers_started_);
  runtime::WriterDeps deps{&kafka_, &log_, w->producer.get(), w->outbox.get(), w->store,
                           &plans_, id,    logger_,           &w->probe,       &cache_};
  w->writer = std::make_unique<runtime::PartitionWriter>(0, deps);
  const std::variant<int64_t, std::string> start = w->writer->Start();
  if (const auto* err = std::get_if<std::string>(&start)) {
    Trace("writer " + id + " cannot start: " + *err);
    return nullptr;
  }
  w->cursor = std::get<int64_t>(start);
  Trace("writer " + id + " claims epoch " + std::to_string(w->writer->epoch()) +
        (reuse ? " on its store" : " on a fresh store") + ", resumes at command " +
        std::to_string(w->cursor));
  return w;
}

// Up to `commands` commands decided; then, at random, the producer polled (its records
// settle: the events enter the log, or a fault refuses them) and the store persisted.
void World::WriterStep(WriterProcess& w, int commands) {
  runtime::PartitionWriter& writer = *w.writer;
  const std::vector<log::Record>& log = CommandLog();
  std::string err;
  for (int i = 0; i < commands && err.empty() && !writer.fenced() &&
                  w.cursor < static_cast<int64_t>(log.size());
       ++i) {
    err = writer.Handle(log[static_cast<size_t>(w.cursor++)]);
  }
  std::uniform_real_distribution<double> u(0, 1);
  if (err.empty() && (!faults_ || u(rng_) < 0.7)) {
    w.producer->Poll(0).IgnoreError();  // delivery failures reach the writer's callbacks
  }
  if (err.empty() && (!faults_ || u(rng_) < 0.5)) err = writer.Persist();
  if (err.empty()) err = writer.failure();
  if (!err.empty()) {
    Trace("writer e" + std::to_string(writer.epoch()) + " fails: " + err);
    ++writer_failures_;
    if (&w == writer_.get()) CrashWriter(/*zombie=*/false);
  }
}

void World::CrashWriter(bool may_linger) {
  if (!writer_) return;
  ++crashes_;
  std::uniform_real_distribution<double> u(0, 1);
  const std::string epoch = std::to_string(writer_->writer->epoch());
  if (may_linger && u(rng_) < o_.zombie) {
    writer_->zombie_steps = 1 + static_cast<int>(rng_() % 8);
    Trace("writer e" + epoch + " crashes, lives on as a zombie");
    zombies_.push_back(std::move(writer_));
  } else {
    Trace("writer e" + epoch + " crashes (" + std::to_string(writer_->producer->InFlight()) +
          " records unsettled, lost)");
    writer_.reset();
  }
}

// Produce faults for the writers' next settled records, and the log going down.
void World::LogFaults() {
  std::uniform_real_distribution<double> u(0, 1);
  if (down_steps_ > 0 && --down_steps_ == 0) {
    log_.SetDown(false);
    Trace("log up");
  }
  if (u(rng_) < o_.log_down && !log_.down()) {
    down_steps_ = 1 + static_cast<int>(rng_() % 6);
    log_.SetDown(true);
    Trace("log down for " + std::to_string(down_steps_) + " steps");
  }
  if (u(rng_) < o_.produce_fault) {
    static constexpr log::ProduceFault kFaults[] = {
        log::ProduceFault::kRefused, log::ProduceFault::kInDoubtWritten,
        log::ProduceFault::kInDoubtLost, log::ProduceFault::kDuplicated};
    const log::ProduceFault f = kFaults[rng_() % 4];
    log_.PushProduceFaults({f});
    Trace("next produce: fault " + std::to_string(static_cast<int>(f)));
  }
}

// ---------------------------------------------------------------------------------------
// Connectors and reconciliation: ConnectorLoop's shell, with production's tracker,
// dispatcher and reconciler inside.

std::unique_ptr<World::Connector> World::StartConnector() {
  auto c = std::make_unique<Connector>();
  c->generation = ++connector_generation_;
  c->reconciler = std::make_unique<connectors::Reconciler>(*registry_, clock_);
  c->tracker = std::make_unique<runtime::ConnectorTracker>(*c->reconciler);
  const runtime::PartitionMeta saved = connector_store_.LoadCheckpoint(kConnectorCheckpoint, 0);
  const log::Watermarks marks{Offset{0}, Offset{static_cast<int64_t>(EventLog().size())}};
  const int64_t start = c->tracker->Assign(0, saved, marks);
  auto reader =
      log_.OpenReader(kafka_.Topic(log::TopicKind::kEvents), PartitionId{0}, Offset{start});
  if (!reader.ok()) Fail("connector reader: " + reader.status().ToString());
  c->reader = std::move(reader.value());
  Trace("connector " + std::to_string(c->generation) + " resumes at event " +
        std::to_string(start) + " of " + std::to_string(marks.high.value()));
  return c;
}

void World::SaveConnectorCheckpoint() {
  if (auto meta = connector_->tracker->Checkpoint(0)) {
    if (Status s = connector_store_.SaveCheckpoint(kConnectorCheckpoint, 0, *meta); !s.ok()) {
      Fail("connector checkpoint: " + s.ToString());
    }
  }
}

void World::ConnectorStep() {
  Connector& c = *connector_;
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<log::Record> batch;
  if (c.reader->Poll(8, 0, &batch).ok()) {
    for (const log::Record& r : batch) {
      runtime::ConnectorTracker::Observation seen;
      for (auto& call : c.tracker->Observe(r, now_ms_, &seen)) {
        const std::string& processor =
            connectors::Dispatcher::OperationOf(call.event)->processor_id();
        if (!slow_processor_) {
          slow_processor_ = u(rng_) < o_.slow_processor ? processor : std::string();
        }
        const bool slow = processor == *slow_processor_;
        const auto backlog = static_cast<size_t>(
            std::count_if(c.calls.begin(), c.calls.end(), [&](const Call& queued) {
              return connectors::Dispatcher::OperationOf(queued.call.event)->processor_id() ==
                     processor;
            }));
        if (slow && backlog >= o_.processor_capacity && c.tracker->Sheddable(call)) {
          ++saturated_;
          Trace("connector: " + processor + " saturated, charge of " + call.event.payment_id() +
                " skipped");
          network_.push_back(
              {now_ms_ + 10, dispatcher_->Saturated(call.event), c.generation, call.offset});
          continue;
        }
        const int64_t delay =
            slow ? 800 + static_cast<int64_t>(rng_() % 3'000) : static_cast<int64_t>(rng_() % 300);
        c.calls.push_back({now_ms_ + delay, std::move(call)});
      }
    }
  }
  auto due = std::stable_partition(c.calls.begin(), c.calls.end(),
                                   [&](const Call& call) { return call.due_ms > now_ms_; });
  std::vector<Call> ready(std::make_move_iterator(due), std::make_move_iterator(c.calls.end()));
  c.calls.erase(due, c.calls.end());
  for (const Call& call : ready) {
    std::vector<cmd::CommandEnvelope> results = MakeCall(call.call);
    if (results.empty()) {
      c.tracker->Answered(0, call.call.offset);
      continue;
    }
    const int64_t at = now_ms_ + static_cast<int64_t>(rng_() % 400);
    const bool twice = faults_ && u(rng_) < o_.duplicate_delivery;
    const int64_t again = now_ms_ + static_cast<int64_t>(rng_() % 2'000);
    for (size_t i = 0; i < results.size(); ++i) {  // in the order produced
      const cmd::CommandEnvelope& result = results[i];
      if (result.has_breaker_transition()) {
        Trace("breaker of " + result.breaker_transition().processor_id() + " goes " +
              cmd::BreakerState_Name(result.breaker_transition().to()));
      }
      const int64_t answers = i + 1 == results.size() ? call.call.offset : -1;
      network_.push_back({at, result, c.generation, answers});
      if (twice) network_.push_back({std::max(at, again), result, c.generation, -1});
    }
  }
  if (!faults_ || u(rng_) < 0.3) SaveConnectorCheckpoint();  // ConnectorLoop: every 250 ms
}

// A crash loses the process's memory: calls not made, the reconciler's ops, and (half the
// time) the answers its producer had not sent yet. It resumes at its last saved checkpoint.
void World::CrashConnector() {
  ++crashes_;
  std::uniform_real_distribution<double> u(0, 1);
  size_t lost = 0;
  if (u(rng_) < 0.5) {
    const uint64_t gen = connector_->generation;
    const auto kept = std::remove_if(network_.begin(), network_.end(),
                                     [gen](const Delivery& d) { return d.sender == gen; });
    lost = static_cast<size_t>(network_.end() - kept);
    network_.erase(kept, network_.end());
  }
  Trace("connector crashes (" + std::to_string(connector_->calls.size()) + " calls and " +
        std::to_string(lost) + " unsent answers lost)");
  connector_ = StartConnector();
}

// The reconciler as ConnectorLoop drives it: due retrieves (all admitted: the simulation
// has no bulkheads), their answers, then the expiries.
void World::Reconcile() {
  connectors::Reconciler& rec = *connector_->reconciler;
  std::vector<cmd::CommandEnvelope> out;
  for (const connectors::RetrieveTask& task :
       rec.TakeDue([](const connectors::RetrieveTask&) { return true; })) {
    EnsureRegistered(task.processor_id);
    std::optional<connectors::GatewayAnswer> answer;
    if (connectors::Gateway* g = registry_->Find(task.processor_id)) answer = g->Retrieve(task.key);
    for (auto& c : rec.OnRetrieved(task, answer)) out.push_back(std::move(c));
  }
  for (auto& c : rec.Expiries()) out.push_back(std::move(c));
  for (cmd::CommandEnvelope& c : out) {
    Trace("reconciler: " + std::string(c.has_expire() ? "expires " : "answers ") +
          (c.has_expire() ? c.expire().operation_key() : c.gateway_result().operation_key()));
    network_.push_back({now_ms_ + 10, std::move(c), connector_->generation, -1});
  }
}

// ---------------------------------------------------------------------------------------
// The reader and the checks.

void World::ReadNewEvents() {
  const std::vector<log::Record>& log = EventLog();
  while (events_.size() < log.size()) {
    ev::EventEnvelope& e = events_.emplace_back();
    if (!e.ParseFromString(log[events_.size() - 1].value)) {
      return Fail("undecodable record at events offset " + std::to_string(events_.size() - 1));
    }
  }
  Reader& r = *reader_;
  while (r.position < events_.size() && ok()) {
    const ev::EventEnvelope& e = events_[r.position++];
    const command::Verdict v = r.filter.Observe(e);
    if (v == command::Verdict::kClaim) r.groups.DropPartial();
    if (v != command::Verdict::kCounted) continue;
    if (auto group = r.groups.Add(e)) CheckGroup(*group);
  }
}

void World::CheckGroup(const std::vector<ev::EventEnvelope>& group) {
  Reader& r = *reader_;
  const int64_t offset = group.front().causation().offset();
  if (offset <= r.last_offset) return Fail("command " + std::to_string(offset) + " decided twice");
  for (int64_t o = r.last_offset + 1; o < offset; ++o) {
    if (Decided(CommandLog()[static_cast<size_t>(o)])) {
      return Fail("command " + std::to_string(o) + " was skipped: no events for it");
    }
  }
  r.last_offset = offset;
  if (group.size() != std::max<uint32_t>(group.front().causation().count(), 1)) {
    return Fail("incomplete group released for command " + std::to_string(offset));
  }
  for (const auto& e : group) {
    if (e.payment_id().empty()) continue;
    command::PaymentState& s = r.states[e.payment_id()];
    if (s.payment_id.empty()) s.payment_id = e.payment_id();
    if (e.sequence() != s.sequence + 1) {
      return Fail("payment " + e.payment_id() + ": sequence " + std::to_string(e.sequence()) +
                  " follows " + std::to_string(s.sequence));
    }
    const bool was_terminal = s.IsTerminal();
    const ev::PaymentStatus before = s.status;
    command::Evolve(s, e);
    if (s.sequence != e.sequence()) return Fail("Evolve did not take sequence of " + e.event_id());
    if (was_terminal && s.status != before) {
      return Fail("payment " + e.payment_id() + ": terminal " + ev::PaymentStatus_Name(before) +
                  " regressed to " + ev::PaymentStatus_Name(s.status));
    }
    if (s.processed > s.amount || s.captured > s.processed || s.refunded > s.captured ||
        s.processed < 0 || s.refunded < 0) {
      return Fail("payment " + e.payment_id() + ": money out of bounds after " +
                  command::EventTypeName(e) + ": amount " + std::to_string(s.amount) +
                  " processed " + std::to_string(s.processed) + " captured " +
                  std::to_string(s.captured) + " refunded " + std::to_string(s.refunded));
    }
    if (e.has_payment_voided() && !e.payment_voided().compensation()) {
      r.voided[e.payment_id()] += e.payment_voided().op().amount().amount_minor();
    }
    if (const char* dump = std::getenv("SIM_DUMP"); dump != nullptr && e.payment_id() == dump) {
      std::cerr << "t" << step_ << " " << e.sequence() << " " << command::EventTypeName(e) << " "
                << e.ShortDebugString().substr(0, 400) << "\n";
    }
  }
}

// ---------------------------------------------------------------------------------------
// Scheduling.

void World::Step() {
  if (!ok()) return;
  ++step_;
  now_ms_ += faults_ || load_ ? 5 + static_cast<int64_t>(rng_() % 95) : 200;
  log_.SetTime(now_ms_);
  std::uniform_real_distribution<double> u(0, 1);
  if (faults_) LogFaults();
  if (faults_ && u(rng_) < o_.writer_crash) CrashWriter();
  if (faults_ && u(rng_) < o_.connector_crash) CrashConnector();
  if (!writer_ && (!faults_ || u(rng_) < 0.3)) writer_ = StartWriter();

  const double a = u(rng_);
  if (a < 0.40) {
    if (writer_) WriterStep(*writer_, 1 + static_cast<int>(rng_() % 4));
  } else if (a < 0.60) {
    ConnectorStep();
  } else if (a < 0.75) {
    Deliver();
  } else if (a < 0.90) {
    if (load_ && !log_.down()) Upstream();
  } else if (a < 0.95) {
    Reconcile();
  } else if (!zombies_.empty()) {
    // A crashed writer that did not notice: it decides and publishes under its old epoch
    // until the log fences it (its gap check finds the newer claim).
    WriterProcess& z = *zombies_.front();
    WriterStep(z, 1 + static_cast<int>(rng_() % 3));
    Trace("zombie e" + std::to_string(z.writer->epoch()) + " stepped" +
          (z.writer->fenced() ? ", fenced" : ""));
    if (z.writer->fenced()) ++zombies_fenced_;
    if (--z.zombie_steps <= 0 || z.writer->fenced() || !z.writer->failure().empty()) {
      zombies_.erase(zombies_.begin());
    }
  }
  ReadNewEvents();
  if (u(rng_) < 0.3) ProjectStep();
}

// ---------------------------------------------------------------------------------------
// The projections.

void World::ProjectStep() {
  Projection& p = *projection_;
  const size_t n = rng_() % 24;
  for (size_t i = 0; i < n && p.position < events_.size(); ++i, ++p.position) {
    p.projector->Observe(0, static_cast<int64_t>(p.position), events_[p.position]);
  }
  std::uniform_real_distribution<double> u(0, 1);
  if (faults_ && u(rng_) < o_.projection_crash) return CrashProjection();
  p.Flush();
  CheckAnswers();
}

// The merchant API answers a payment command once api::internal::Settled(view) holds for
// the projection's view. At every flush between two groups, a view the rule calls settled has
// no operation in flight in the core's state at the same point (a final answer is never
// early), and the view's status is the core's: the projector applies a command's events
// together, as the core counts them, so a group cut short by a writer's crash (which the
// core never counts; the next writer decides the command again) never shows (finding 12).
void World::CheckAnswers() {
  Projection& p = *projection_;
  Projection::Fold& f = p.fold;
  if (f.position > p.position) f = Projection::Fold{};  // the projection went back: refold
  for (; f.position < p.position; ++f.position) {
    const ev::EventEnvelope& e = events_[f.position];
    const command::Verdict v = f.filter.Observe(e);
    if (v == command::Verdict::kClaim) f.groups.DropPartial();
    if (v != command::Verdict::kCounted) continue;
    auto group = f.groups.Add(e);
    if (!group) continue;
    for (const auto& g : *group) {
      if (g.payment_id().empty()) continue;
      command::PaymentState& s = f.states[g.payment_id()];
      if (s.payment_id.empty()) s.payment_id = g.payment_id();
      if (g.sequence() > s.sequence) command::Evolve(s, g);
    }
  }
  // Both apply whole groups; compared between groups.
  if (f.groups.mid_group()) return;
  for (const auto& [pid, s] : f.states) {
    if (!s.exists) continue;
    const auto it = p.store.find(projection::internal::PaymentKey(pid));
    ::payments::projection::v1::PaymentView view;
    if (it == p.store.end() || !view.ParseFromString(it->second)) continue;
    const bool api_final = api::internal::Settled(view);
    if (api_final && !s.pending.empty()) {
      std::string log;  // every record of the payment up to here, counted or not
      for (size_t o = 0; o < p.position; ++o) {
        const ev::EventEnvelope& e = events_[o];
        if (e.payment_id() != pid) continue;
        log += "\n  @" + std::to_string(o) + " e" + std::to_string(e.epoch()) + " #" +
               std::to_string(e.sequence()) + " " + command::EventTypeName(e) + " cmd " +
               std::to_string(e.causation().offset()) + " " +
               std::to_string(e.causation().index()) + "/" + std::to_string(e.causation().count());
      }
      return Fail("the API's answer rule says " + pid + " is " +
                  (api_final ? "settled" : "not settled") + " (view " +
                  ev::PaymentStatus_Name(view.status()) + ") but the core has " +
                  std::to_string(s.pending.size()) + " operation(s) pending (" +
                  ev::PaymentStatus_Name(s.status) + ") at events offset " +
                  std::to_string(p.position) + log);
    }
    if (view.status() != s.status) {
      return Fail("between groups the view of " + pid + " says " +
                  ev::PaymentStatus_Name(view.status()) + " but the core " +
                  ev::PaymentStatus_Name(s.status) + " at events offset " +
                  std::to_string(p.position));
    }
  }
}

void World::CrashProjection() {
  ++projection_crashes_;
  Projection& p = *projection_;
  const size_t lost = p.position;
  p.Start();
  Trace("projection crashes at event " + std::to_string(lost) + ", resumes at " +
        std::to_string(p.position));
}

// At the end: the projection, crashed and resumed along the way, holds exactly what a
// rebuild from the whole log holds, and its payment views agree with the reader's states.
void World::CheckProjection() {
  Projection& p = *projection_;
  for (; p.position < events_.size(); ++p.position) {
    p.projector->Observe(0, static_cast<int64_t>(p.position), events_[p.position]);
  }
  p.Flush();
  Projection rebuilt;
  rebuilt.projector->AssumeEmptySource();
  for (size_t i = 0; i < events_.size(); ++i) {
    rebuilt.projector->Observe(0, static_cast<int64_t>(i), events_[i]);
  }
  rebuilt.Flush();
  auto views = [](const std::map<std::string, std::string>& store) {
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : store) {
      if (key.rfind(projection::internal::kCheckpointPrefix, 0) != 0) out.emplace(key, value);
    }
    return out;
  };
  const auto live = views(p.store);
  const auto fresh = views(rebuilt.store);
  if (live != fresh) {
    for (const auto& [key, value] : fresh) {
      const auto it = live.find(key);
      if (it == live.end() || it->second != value) {
        return Fail("projection after " + std::to_string(projection_crashes_) +
                    " crashes differs from a rebuild at key " + key);
      }
    }
    return Fail("projection holds keys a rebuild does not");
  }
  for (const auto& [pid, s] : reader_->states) {
    if (!s.exists) continue;
    const auto it = live.find(projection::internal::PaymentKey(pid));
    ::payments::projection::v1::PaymentView view;
    if (it == live.end() || !view.ParseFromString(it->second)) {
      return Fail("no payment view for " + pid);
    }
    if (!api::internal::Settled(view)) {
      return Fail("the API's answer rule says " + pid + " is not settled at rest (view " +
                  ev::PaymentStatus_Name(view.status()) + ")");
    }
    if (view.status() != s.status || view.captured_minor() != s.captured ||
        view.refunded_minor() != s.refunded) {
      return Fail("payment view of " + pid + " (" + ev::PaymentStatus_Name(view.status()) +
                  ", captured " + std::to_string(view.captured_minor()) + ", refunded " +
                  std::to_string(view.refunded_minor()) + ") differs from the log (" +
                  ev::PaymentStatus_Name(s.status) + ", " + std::to_string(s.captured) + ", " +
                  std::to_string(s.refunded) + ")");
    }
  }
}

void World::Drain() {
  faults_ = false;
  load_ = false;
  zombies_.clear();
  down_steps_ = 0;
  log_.SetDown(false);
  log_.ClearProduceFaults();
  for (int i = 0; i < 5'000 && ok(); ++i) {
    ++step_;
    now_ms_ += 200;
    log_.SetTime(now_ms_);
    if (!writer_) writer_ = StartWriter();
    if (!writer_) return Fail("no writer starts without faults");
    WriterStep(*writer_, std::numeric_limits<int>::max());
    if (!writer_) continue;  // it failed: a new one next round
    ReadNewEvents();
    ConnectorStep();
    Deliver();
    if (i % 5 == 0) Reconcile();
    ReadNewEvents();
    bool pending = false;
    for (const auto& [pid, s] : reader_->states) pending |= !s.pending.empty();
    if (!pending && network_.empty() && connector_->calls.empty() &&
        connector_->reader->position().value() == static_cast<int64_t>(EventLog().size()) &&
        writer_->cursor == static_cast<int64_t>(CommandLog().size()) &&
        writer_->producer->InFlight() == 0) {
      return;
    }
  }
  std::string stuck;
  for (const auto& [pid, s] : reader_->states) {
    if (!s.pending.empty()) stuck += " " + pid + "(" + ev::PaymentStatus_Name(s.status) + ")";
  }
  Fail("not quiescent after draining; pending:" + stuck);
}

void World::CheckQuiescent() {
  if (!ok()) return;
  // Every command decided: the reader has seen a group for every decodable command.
  for (size_t o = static_cast<size_t>(reader_->last_offset + 1); o < CommandLog().size(); ++o) {
    if (Decided(CommandLog()[o])) return Fail("command " + std::to_string(o) + " undecided");
  }
  // Gateway money equals the log's.
  struct Money {
    int64_t authorized = 0, voided = 0, captured = 0, refunded = 0;
  };
  std::map<std::string, Money> gw;
  for (const auto& [key, rec] : gateway_) {
    if (!rec.succeeded) continue;
    Money& m = gw[rec.payment_id];
    switch (rec.kind) {
      case ev::OPERATION_KIND_AUTHORIZE:
        m.authorized += rec.amount;
        break;
      case ev::OPERATION_KIND_SALE:
        m.authorized += rec.amount;
        m.captured += rec.amount;
        break;
      case ev::OPERATION_KIND_CAPTURE:
        m.captured += rec.amount;
        break;
      case ev::OPERATION_KIND_VOID:
        m.voided += rec.amount;
        break;
      case ev::OPERATION_KIND_REFUND:
        m.refunded += rec.amount;
        break;
      default:
        break;
    }
  }
  for (const auto& [pid, m] : gw) {
    const auto it = reader_->states.find(pid);
    if (it == reader_->states.end()) return Fail("gateway moved money for unknown " + pid);
    const command::PaymentState& s = it->second;
    const int64_t kept = m.authorized - m.voided;
    if (kept > s.amount) {
      return Fail("double charge: " + pid + " keeps " + std::to_string(kept) + " of " +
                  std::to_string(s.amount));
    }
    const int64_t log_kept = s.processed - s.reversed - reader_->voided[pid];
    if (kept != log_kept || m.refunded != s.refunded) {
      return Fail("gateway and log disagree on " + pid + ": gateway authorized " +
                  std::to_string(m.authorized) + " voided " + std::to_string(m.voided) +
                  " captured " + std::to_string(m.captured) + " refunded " +
                  std::to_string(m.refunded) + "; log processed " + std::to_string(s.processed) +
                  " reversed " + std::to_string(s.reversed) + " captured " +
                  std::to_string(s.captured) + " refunded " + std::to_string(s.refunded) +
                  " status " + ev::PaymentStatus_Name(s.status));
    }
  }
  CheckProjection();
  if (!ok()) return;
  // A writer on a fresh machine restores from the log alone, claims, and finds nothing left
  // to decide.
  writer_.reset();
  last_store_ = nullptr;
  writer_ = StartWriter();
  if (!writer_) return Fail("a writer on a fresh store cannot start");
  if (writer_->cursor != static_cast<int64_t>(CommandLog().size())) {
    return Fail("a writer restored from the log alone resumes at command " +
                std::to_string(writer_->cursor) + " of " + std::to_string(CommandLog().size()));
  }
}

size_t World::CountEvents(ev::EventEnvelope::EventCase kind) const {
  return static_cast<size_t>(std::count_if(events_.begin(), events_.end(),
                                           [&](const auto& e) { return e.event_case() == kind; }));
}

std::map<std::string, int> World::Outcomes() const {
  std::map<std::string, int> out;
  for (const auto& [pid, s] : reader_->states) {
    if (s.exists) ++out[ev::PaymentStatus_Name(s.status)];
  }
  return out;
}

}  // namespace payorch::simulation
