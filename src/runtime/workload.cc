#include "runtime/workload.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <unordered_map>

#include "command/aggregate.h"
#include "command/status.h"
#include "command/validity.h"
#include "log/consumer.h"
#include "log/producer.h"

namespace payorch::runtime {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace ty = ::payments::types::v1;

namespace {

constexpr command::StatusFacts kWorkloadFacts{.captures_in_flight = false,
                                              .final_capture = true,
                                              .capturable_left = 0,
                                              .voids_in_flight = false,
                                              .every_step_released = true};

using SteadyClock = std::chrono::steady_clock;

double ElapsedMs(SteadyClock::time_point from, SteadyClock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

cmd::CommandEnvelope Create(const std::string& merchant, const std::string& key, int64_t amount,
                            const std::string& currency, ty::PaymentMethod method, bool manual) {
  cmd::CommandEnvelope env;
  env.set_schema_version(1);
  env.set_command_id("cmd-" + key);
  env.set_correlation_id("corr-" + key);
  auto* c = env.mutable_create();
  c->set_merchant_id(merchant);
  c->set_idempotency_key(key);
  c->mutable_amount()->set_amount_minor(amount);
  c->mutable_amount()->set_currency(currency);
  c->set_method(method);
  c->set_confirm(true);
  c->set_capture_mode(manual ? ty::CAPTURE_MODE_MANUAL : ty::CAPTURE_MODE_AUTOMATIC);
  (*c->mutable_metadata())["order_id"] = "order-" + key;
  return env;
}

}  // namespace

std::vector<cmd::CommandEnvelope> MakeCreateCommands(int payments, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pct(0, 99);
  std::vector<cmd::CommandEnvelope> out;
  out.reserve(static_cast<size_t>(payments));
  for (int i = 0; i < payments; ++i) {
    const std::string key = "s" + std::to_string(seed) + "-" + std::to_string(i);
    const int kind = pct(rng);
    const bool manual = pct(rng) < 8;
    if (kind < 35) {
      out.push_back(Create("m_cobranded", key, 500 + static_cast<int64_t>(rng() % 9500), "USD",
                           ty::PAYMENT_METHOD_CARD, manual));
    } else if (kind < 60) {
      out.push_back(Create("m_wallet", key, 1000 + static_cast<int64_t>(rng() % 9000), "eur",
                           ty::PAYMENT_METHOD_APPLE_PAY, manual));
    } else if (kind < 70) {
      out.push_back(Create("m_wallet", key, 100 + static_cast<int64_t>(rng() % 20000), "EUR",
                           ty::PAYMENT_METHOD_CARD, manual));
    } else if (kind < 92) {
      out.push_back(Create("m_flaky", key, 100 + static_cast<int64_t>(rng() % 50000), "USD",
                           ty::PAYMENT_METHOD_CARD, manual));
    } else {
      const bool kwd = pct(rng) < 30;
      out.push_back(Create("m_jpy", key,
                           kwd ? 1 + static_cast<int64_t>(rng() % 900000)
                               : 100 + static_cast<int64_t>(rng() % 90000),
                           kwd ? "KWD" : "JPY", ty::PAYMENT_METHOD_CARD, manual));
    }
  }
  return out;
}

struct Workload::Impl : public log::RebalanceListener {
  struct Track {
    SteadyClock::time_point sent;
    SteadyClock::time_point final_at;
    bool final = false;
    bool processing = false;
    bool manual = false;
    bool wants_refund = false;
    bool capture_sent = false;
    bool capture_done = false;
    bool refund_sent = false;
    bool refund_done = false;
    SteadyClock::time_point capture_sent_at, capture_done_at, refund_sent_at, refund_done_at;
    ev::PaymentStatus status = ev::PAYMENT_STATUS_UNSPECIFIED;
    int64_t amount = 0;
    std::string merchant;          // stamped on its follow-ups (CommandEnvelope.merchant_id)
    bool counted_settled = false;  // as counted in `settled`
    bool refused = false;          // the create was rejected OVERLOADED: never started
  };

  Impl(log::KafkaOptions k, WorkloadOptions o) : kafka(std::move(k)), options(std::move(o)) {
    if (options.observer_group.empty()) {
      options.observer_group = "payorch.observer." + std::to_string(::getpid()) + "." +
                               std::to_string(SteadyClock::now().time_since_epoch().count());
    }
  }

  std::vector<log::PartitionOffset> OnAssigned(const std::vector<PartitionId>& ps) override {
    std::vector<log::PartitionOffset> starts;
    starts.reserve(ps.size());
    for (PartitionId p : ps) starts.push_back({p, log::kOffsetBeginning});
    assigned += static_cast<int>(ps.size());
    return starts;
  }
  void OnRevoked(const std::vector<PartitionId>&, bool) override {}

  bool Settled(const Track& t) const {
    if (!t.final) return false;
    if (t.refused) return true;
    if (t.manual && t.status != ev::PAYMENT_STATUS_FAILED && !t.capture_done) return false;
    if (t.wants_refund && t.refund_sent && !t.refund_done) return false;
    return true;
  }

  void FollowUp(const std::string& id, Track& t, std::vector<cmd::CommandEnvelope>& out) {
    if (t.manual && t.status == ev::PAYMENT_STATUS_REQUIRES_CAPTURE && !t.capture_sent) {
      t.capture_sent = true;
      t.capture_sent_at = SteadyClock::now();
      cmd::CommandEnvelope c;
      c.set_schema_version(1);
      c.set_command_id("capture-" + id);
      c.set_payment_id(id);
      c.set_merchant_id(t.merchant);
      c.mutable_capture()->set_idempotency_key("cap-" + id);
      out.push_back(std::move(c));
    }
    if (t.wants_refund && t.status == ev::PAYMENT_STATUS_SUCCEEDED && !t.refund_sent) {
      t.refund_sent = true;
      t.refund_sent_at = SteadyClock::now();
      cmd::CommandEnvelope c;
      c.set_schema_version(1);
      c.set_command_id("refund-" + id);
      c.set_payment_id(id);
      c.set_merchant_id(t.merchant);
      c.mutable_refund()->set_idempotency_key("ref-" + id);
      c.mutable_refund()->set_amount_minor(std::max<int64_t>(1, t.amount / 3));
      out.push_back(std::move(c));
    }
  }

  void Observe() {
    std::vector<log::Record> batch;
    std::vector<cmd::CommandEnvelope> follow;
    while (!stop.load()) {
      batch.clear();
      // A failed poll is an empty batch here: the loop polls again (the generator's view).
      consumer->PollBatch(5000, 5, &batch).IgnoreError();
      const auto now = SteadyClock::now();
      std::lock_guard lock(mu);
      for (const auto& r : batch) {
        ev::EventEnvelope e;
        if (!e.ParseFromString(r.value)) continue;
        if (filters[r.partition.value()].Observe(e) != command::Verdict::kCounted) continue;
        auto& last = last_seq[e.payment_id()];
        if (!e.payment_id().empty()) {
          if (e.sequence() <= last) continue;  // a re-published duplicate
          last = e.sequence();
        }
        ++events;
        if (e.has_command_rejected()) ++rejected;
        if (e.has_command_deduplicated()) ++deduplicated;
        auto it = tracks.find(e.payment_id());
        if (it == tracks.end()) continue;
        Track& t = it->second;
        // The core's rule for the status after each event (command/status.h). The facts are
        // those of this workload's own traffic: one capture of the whole amount, voids of
        // the whole authorization, so a capture or void answered completes the payment.
        if (const auto to = command::PaymentStatusAfter(t.status, e, kWorkloadFacts)) {
          t.status = *to;
        }
        switch (e.event_case()) {
          case ev::EventEnvelope::kCommandRejected:
            // Refused early (docs/overload.md): nothing started, nothing to wait for.
            if (e.command_rejected().reason() == ev::REJECT_REASON_OVERLOADED &&
                e.command_rejected().command_type() == "create" && !t.final) {
              t.refused = true;
              t.final = true;
              t.final_at = now;
            }
            break;
          case ev::EventEnvelope::kPaymentProcessing:
            if (!t.final) t.processing = true;
            break;
          case ev::EventEnvelope::kPaymentCompleted:
            if (!t.final) {
              t.final = true;
              t.final_at = now;
            }
            break;
          case ev::EventEnvelope::kPaymentFailed:
            if (!t.final) {
              t.final = true;
              t.final_at = now;
            }
            break;
          case ev::EventEnvelope::kPaymentCaptured:
          case ev::EventEnvelope::kCaptureFailed:
            if (!t.capture_done) t.capture_done_at = now;
            t.capture_done = true;
            if (e.has_payment_captured()) ++captures;
            break;
          case ev::EventEnvelope::kRefundSucceeded:
          case ev::EventEnvelope::kRefundFailed:
            if (!t.refund_done) t.refund_done_at = now;
            t.refund_done = true;
            if (e.has_refund_succeeded()) ++refunds;
            break;
          default:
            break;
        }
        FollowUp(e.payment_id(), t, follow);
        // Kept up to date per event (a follow-up can unsettle a payment again), not
        // recounted over every payment per poll: that scan dominated the observer.
        if (const bool now_settled = Settled(t); now_settled != t.counted_settled) {
          t.counted_settled = now_settled;
          settled += now_settled ? 1 : -1;
        }
      }
      for (auto& c : follow) {
        log::OutRecord out{kafka.Topic(log::TopicKind::kCommands),
                           log::kAnyPartition,
                           c.payment_id(),
                           c.SerializeAsString(),
                           {}};
        // A follow-up the producer refuses shows in the summary as not settled.
        follow_producer->Produce(out).IgnoreError();
      }
      follow.clear();
      follow_producer->Poll(0).IgnoreError();  // delivery callbacks only
    }
  }

  log::KafkaOptions kafka;
  WorkloadOptions options;
  std::unique_ptr<log::Consumer> consumer;
  std::unique_ptr<log::Producer> producer;
  std::unique_ptr<log::Producer> follow_producer;
  std::thread observer;
  std::atomic<bool> stop{false};
  mutable std::mutex mu;
  std::unordered_map<std::string, Track> tracks;
  std::unordered_map<std::string, uint64_t> last_seq;
  std::map<int32_t, command::EpochFilter> filters;
  std::atomic<int64_t> settled{0};
  std::atomic<int> assigned{0};
  int64_t events = 0, rejected = 0, deduplicated = 0, captures = 0, refunds = 0;
  SteadyClock::time_point first_sent;
};

Workload::Workload(log::KafkaOptions kafka, WorkloadOptions options)
    : impl_(std::make_unique<Impl>(std::move(kafka), std::move(options))) {}

Workload::~Workload() { Stop(); }

std::string Workload::Start() {
  auto c = log::Consumer::Create(impl_->kafka, impl_->options.observer_group,
                                 impl_->kafka.Topic(log::TopicKind::kEvents), impl_.get());
  if (!c.ok()) return "observer: " + c.status().ToString();
  impl_->consumer = std::move(c.value());
  auto p = log::Producer::Create(impl_->kafka);
  if (!p.ok()) return "upstream producer: " + p.status().ToString();
  impl_->producer = std::move(p.value());
  auto f = log::Producer::Create(impl_->kafka);
  if (!f.ok()) return "follow-up producer: " + f.status().ToString();
  impl_->follow_producer = std::move(f.value());
  impl_->observer = std::thread([this] { impl_->Observe(); });
  return "";
}

std::string Workload::PublishAll(const std::function<void(int64_t)>& progress) {
  Impl& im = *impl_;
  std::vector<cmd::CommandEnvelope> creates =
      MakeCreateCommands(im.options.payments, im.options.seed);
  std::mt19937_64 rng(im.options.seed ^ 0x5eed);
  std::uniform_real_distribution<double> u(0, 1);
  {
    std::lock_guard lock(im.mu);
    for (const auto& c : creates) {
      Impl::Track& t = im.tracks[command::TargetPaymentId(c)];
      t.manual = c.create().capture_mode() == ty::CAPTURE_MODE_MANUAL;
      t.wants_refund = !t.manual && u(rng) < im.options.refund;
      t.amount = c.create().amount().amount_minor();
      t.merchant = c.create().merchant_id();
    }
  }
  std::vector<std::pair<std::string, std::string>> extra;  // key, bytes
  if (im.options.include_bad_input && !creates.empty()) {
    // The same create again (de-duplicated), the same key with another amount
    // (idempotency/mismatch), an unknown merchant, and bytes that are no command.
    extra.emplace_back(command::TargetPaymentId(creates[0]), creates[0].SerializeAsString());
    cmd::CommandEnvelope reuse = creates[0];
    reuse.mutable_create()->mutable_amount()->set_amount_minor(
        reuse.create().amount().amount_minor() + 1);
    extra.emplace_back(command::TargetPaymentId(reuse), reuse.SerializeAsString());
    cmd::CommandEnvelope unknown = creates[0];
    unknown.mutable_create()->set_merchant_id("m_nobody");
    extra.emplace_back(command::TargetPaymentId(unknown), unknown.SerializeAsString());
    extra.emplace_back("garbage", std::string("\xff\xfe not a protobuf"));
  }
  const std::string topic = im.kafka.Topic(log::TopicKind::kCommands);
  im.first_sent = SteadyClock::now();
  const auto start = SteadyClock::now();
  int64_t sent = 0;
  for (const auto& c : creates) {
    // Open loop: at a fixed rate each payment is due at its slot, and its latency counts
    // from that slot, so a stalled pipeline cannot hide its delay (coordinated omission).
    auto sent_at = SteadyClock::now();
    if (im.options.rate > 0) {
      const auto due = start + std::chrono::microseconds(sent * 1'000'000 / im.options.rate);
      // Sleep most of the wait (the generator must not take a core from the pipeline),
      // then poll the last stretch.
      while (SteadyClock::now() + std::chrono::microseconds(300) < due) {
        im.producer->Poll(0).IgnoreError();  // delivery callbacks only
        std::this_thread::sleep_for(due - SteadyClock::now() - std::chrono::microseconds(200));
      }
      while (SteadyClock::now() < due) im.producer->Poll(0).IgnoreError();  // pacing
      sent_at = due;
    }
    const std::string id = command::TargetPaymentId(c);
    {
      std::lock_guard lock(im.mu);
      im.tracks[id].sent = sent_at;
    }
    log::OutRecord out{topic, log::kAnyPartition, id, c.SerializeAsString(), {}};
    if (auto st = im.producer->Produce(out); !st.ok()) return "publish: " + st.ToString();
    ++sent;
    if (progress && sent % 500 == 0) progress(sent);
    if (sent % 256 == 0) im.producer->Poll(0).IgnoreError();  // delivery callbacks only
  }
  for (const auto& [key, bytes] : extra) {
    log::OutRecord out{topic, log::kAnyPartition, key, bytes, {}};
    if (auto st = im.producer->Produce(out); !st.ok()) return "publish: " + st.ToString();
  }
  if (auto st = im.producer->Flush(60'000); !st.ok()) return "publish flush: " + st.ToString();
  if (progress) progress(sent);
  return "";
}

bool Workload::WaitSettled(int timeout_ms, const std::function<void(int64_t)>& progress) {
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (SteadyClock::now() < deadline) {
    const int64_t s = impl_->settled.load();
    if (progress) progress(s);
    if (s >= planned()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool Workload::ready() const { return impl_->assigned.load() > 0; }

int64_t Workload::planned() const {
  std::lock_guard lock(impl_->mu);
  return static_cast<int64_t>(impl_->tracks.size());
}

void Workload::Stop() {
  if (impl_->stop.exchange(true)) return;
  if (impl_->observer.joinable()) impl_->observer.join();
  // Stopping: what is not delivered by now shows in the summary as not settled.
  if (impl_->follow_producer) impl_->follow_producer->Flush(5'000).IgnoreError();
  if (impl_->consumer) impl_->consumer->Close().IgnoreError();
}

namespace {

// The q-quantile of sorted `v` (nearest rank below), 0 when empty.
double Quantile(const std::vector<double>& v, double q) {
  if (v.empty()) return 0.0;
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

FlowLatency FlowOf(std::string name, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  FlowLatency f{std::move(name), static_cast<int64_t>(ms.size())};
  f.p50_ms = Quantile(ms, 0.50);
  f.p90_ms = Quantile(ms, 0.90);
  f.p99_ms = Quantile(ms, 0.99);
  f.max_ms = ms.empty() ? 0 : ms.back();
  return f;
}

}  // namespace

std::string FormatFlows(const WorkloadSummary& summary) {
  std::string out = "flows (ms)\n";
  char line[160];
  std::snprintf(line, sizeof line, "  %-40s %9s %7s %7s %7s %7s\n", "flow", "count", "p50", "p90",
                "p99", "max");
  out += line;
  for (const FlowLatency& f : summary.flows) {
    if (f.count == 0) continue;
    std::snprintf(line, sizeof line, "  %-40s %9lld %7.1f %7.1f %7.1f %7.1f\n", f.name.c_str(),
                  static_cast<long long>(f.count), f.p50_ms, f.p90_ms, f.p99_ms, f.max_ms);
    out += line;
  }
  return out;
}

WorkloadSummary Workload::Summary() const {
  const Impl& im = *impl_;
  std::lock_guard lock(im.mu);
  WorkloadSummary s;
  std::vector<double> latencies;
  latencies.reserve(im.tracks.size());
  std::vector<double> automatic, authorized, captured, refunded, failed;
  SteadyClock::time_point last = im.first_sent;
  for (const auto& [id, t] : im.tracks) {
    ++s.payments;
    ++s.by_status[ev::PaymentStatus_Name(t.status)];
    if (!t.final) {
      ++s.unsettled;
      continue;
    }
    if (t.refused) {
      ++s.refused;
      continue;
    }
    if (t.status == ev::PAYMENT_STATUS_FAILED) {
      ++s.failed;
    } else {
      ++s.completed;
    }
    if (t.processing) ++s.processing_resolved;
    const double create_ms = ElapsedMs(t.sent, t.final_at);
    latencies.push_back(create_ms);
    if (t.status == ev::PAYMENT_STATUS_FAILED && !t.capture_done) {
      failed.push_back(create_ms);
    } else if (t.manual) {
      authorized.push_back(create_ms);
    } else {
      automatic.push_back(create_ms);
    }
    if (t.capture_sent && t.capture_done) {
      captured.push_back(ElapsedMs(t.capture_sent_at, t.capture_done_at));
    }
    if (t.refund_sent && t.refund_done) {
      refunded.push_back(ElapsedMs(t.refund_sent_at, t.refund_done_at));
    }
    last = std::max(last, t.final_at);
  }
  s.captures = im.captures;
  s.refunds = im.refunds;
  s.rejected = im.rejected;
  s.deduplicated = im.deduplicated;
  s.events = im.events;
  s.seconds = ElapsedMs(im.first_sent, last) / 1000.0;
  std::sort(latencies.begin(), latencies.end());
  s.p50_ms = Quantile(latencies, 0.50);
  s.p90_ms = Quantile(latencies, 0.90);
  s.p99_ms = Quantile(latencies, 0.99);
  s.p999_ms = Quantile(latencies, 0.999);
  s.max_ms = latencies.empty() ? 0 : latencies.back();
  s.flows.push_back(FlowOf("automatic capture: create -> succeeded", std::move(automatic)));
  s.flows.push_back(FlowOf("manual: create -> requires_capture", std::move(authorized)));
  s.flows.push_back(FlowOf("manual: capture -> captured", std::move(captured)));
  s.flows.push_back(FlowOf("refund: refund -> refunded", std::move(refunded)));
  s.flows.push_back(FlowOf("failed: create -> failed", std::move(failed)));
  return s;
}

}  // namespace payorch::runtime
