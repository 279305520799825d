#include "api/internal/webhook_feeder.h"

#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "api/internal/events.h"
#include "api/internal/objects.h"
#include "command/hash.h"
#include "command/status.h"
#include "command/validity.h"
#include "common/thread_name.h"
#include "log/admin.h"
#include "log/consumer.h"
#include "log/shared_reader.h"
#include "projection/internal/keys.h"
#include "projection/projector.h"

namespace payorch::api::internal {

namespace ev = ::payments::events::v1;

std::optional<std::string> WebhookType(const ev::EventEnvelope& e) {
  switch (e.event_case()) {
    case ev::EventEnvelope::kPaymentCreated:
      return "payment.created";
    case ev::EventEnvelope::kPaymentConfirmed:
      return "payment.confirmed";
    case ev::EventEnvelope::kPaymentProcessing:
      return "payment.processing";
    case ev::EventEnvelope::kPaymentCompleted:
      return e.payment_completed().status() == ev::PAYMENT_STATUS_REQUIRES_CAPTURE
                 ? "payment.requires_capture"
                 : "payment.succeeded";
    case ev::EventEnvelope::kPaymentFailed:
      return "payment.failed";
    case ev::EventEnvelope::kPaymentCaptured:
      return "payment.captured";
    case ev::EventEnvelope::kCaptureFailed:
      return "payment.capture_failed";
    case ev::EventEnvelope::kPaymentVoided:
      if (e.payment_voided().compensation()) return std::nullopt;
      return "payment.voided";
    case ev::EventEnvelope::kVoidFailed:
      return "payment.void_failed";
    case ev::EventEnvelope::kRefundSucceeded:
      return "refund.succeeded";
    case ev::EventEnvelope::kRefundFailed:
      return "refund.failed";
    case ev::EventEnvelope::kPaymentCanceled:
      return "payment.canceled";
    case ev::EventEnvelope::kProcessingExpired:
      return "payment.expired";
    // A refused command changes nothing: the merchant has its answer (the API's 4xx), and
    // a webhook per refusal would flood the endpoint (issue 20 item 5).
    case ev::EventEnvelope::kCommandRejected:
    default:
      return std::nullopt;
  }
}

std::optional<std::string> WebhookTypeAfter(const ev::EventEnvelope& e, ev::PaymentStatus after) {
  if (e.has_payment_voided() && !command::VoidsPayment(e, after)) return std::nullopt;
  return WebhookType(e);
}

const std::vector<std::string>& WebhookTypes() {
  static const std::vector<std::string> kTypes = {
      "payment.created",   "payment.confirmed",   "payment.processing", "payment.requires_capture",
      "payment.succeeded", "payment.failed",      "payment.captured",   "payment.capture_failed",
      "payment.voided",    "payment.void_failed", "refund.succeeded",   "refund.failed",
      "payment.canceled",  "payment.expired"};
  return kTypes;
}

outbox::WebhookOutboxOptions OutboxOptions(const ApiConfig& config, std::string dir,
                                           const Clock* clock) {
  outbox::WebhookOutboxOptions o;
  o.dir = std::move(dir);
  o.endpoints = [endpoints = config.webhooks](
                    const std::string& m) -> std::optional<outbox::WebhookEndpoint> {
    auto it = endpoints.find(m);
    if (it == endpoints.end()) return std::nullopt;
    return it->second;
  };
  o.retry = config.retry;
  o.clock = clock;
  return o;
}

outbox::WebhookDelivery DeliveryOf(const ev::EventEnvelope& e, const std::string& type,
                                   const nlohmann::json& object) {
  return DeliveryOfJson(e, type, object.dump());
}

outbox::WebhookDelivery DeliveryOfJson(const ev::EventEnvelope& e, const std::string& type,
                                       std::string_view object_json) {
  // The body as nlohmann::json would dump it (keys sorted), written directly.
  std::string body;
  body.reserve(256 + object_json.size());
  body.append("{\"created\":").append(std::to_string(e.occurred_at_ms() / 1000));
  body.append(",\"data\":{\"object\":").append(object_json);
  body.append("},\"event_id\":");
  AppendJsonString(&body, e.event_id());
  body.append(",\"id\":");
  AppendJsonString(&body, e.event_id());
  body.append(",\"merchant_id\":");
  AppendJsonString(&body, e.merchant_id());
  body.append(",\"object\":\"event\",\"occurred_at_ms\":");
  body.append(std::to_string(e.occurred_at_ms()));
  body.append(",\"payment_id\":");
  AppendJsonString(&body, e.payment_id());
  body.append(",\"type\":");
  AppendJsonString(&body, type);
  body.push_back('}');
  outbox::WebhookDelivery d;
  d.id = "wh_" + StableHash128(e.event_id());
  d.merchant_id = e.merchant_id();
  d.event_id = e.event_id();
  d.body = std::move(body);
  return d;
}

namespace {
// The feeder's read model, in the outbox's database: the store's records under kModel,
// and this batch's records (not written yet) in `pending`.
constexpr char kModel[] = "pj/";
// Views the model keeps in memory (the rest are read back from the outbox's database).
constexpr size_t kModelCachedViews = 10'000;
class ModelSource : public projection::ViewSource {
 public:
  ModelSource(const outbox::WebhookOutbox* outbox,
              const std::map<std::string, std::string>* pending)
      : outbox_(outbox), pending_(pending) {}
  std::optional<std::string> Get(const std::string& key) const override {
    if (auto it = pending_->find(key); it != pending_->end()) return it->second;
    return outbox_->GetMeta(kModel + key);
  }

 private:
  const outbox::WebhookOutbox* outbox_;
  const std::map<std::string, std::string>* pending_;
};

// The event's payment as the model has it now (nullopt: no view).
std::optional<::payments::projection::v1::PaymentView> ViewAt(const ev::EventEnvelope& e,
                                                              const ModelSource& model) {
  const auto bytes = model.Get(projection::internal::PaymentKey(e.payment_id()));
  ::payments::projection::v1::PaymentView v;
  if (!bytes || !v.ParseFromString(*bytes)) return std::nullopt;
  return v;
}

// data.object of a visible event, as JSON text: the payment (or the refund) in `view`.
std::string ObjectAt(const ev::EventEnvelope& e,
                     const std::optional<::payments::projection::v1::PaymentView>& view,
                     const std::function<nlohmann::json(const std::string&)>& metadata) {
  if (!view) return "null";
  const ::payments::projection::v1::PaymentView& v = *view;
  std::string refund_id;
  if (e.has_refund_succeeded()) refund_id = e.refund_succeeded().refund_id();
  if (e.has_refund_failed()) refund_id = e.refund_failed().refund_id();
  if (!refund_id.empty()) {
    nlohmann::json r = Refund(v, refund_id);
    if (!r.is_null()) return r.dump();
  }
  const nlohmann::json meta = metadata ? metadata(e.payment_id()) : nlohmann::json(nullptr);
  return PaymentIntentJson(v, meta.is_object() ? meta.dump() : "");
}

struct Position {
  int64_t next = -1;  // -1: from the beginning
  uint64_t epoch = 0;
  uint64_t highest = 0;
};
std::string MetaKey(int32_t p) { return "events/" + std::to_string(p); }
std::string EncodePos(const Position& p) {
  return nlohmann::json{{"next", p.next}, {"epoch", p.epoch}, {"highest", p.highest}}.dump();
}

}  // namespace

WebhookFeeder::WebhookFeeder(log::KafkaOptions kafka, outbox::WebhookOutbox* outbox,
                             std::function<bool(const std::string&)> has_endpoint,
                             std::function<nlohmann::json(const std::string&)> metadata,
                             const Clock* clock, int64_t events_retention_ms,
                             log::SharedReader* shared)
    : kafka_(std::move(kafka)),
      shared_(shared),
      outbox_(outbox),
      has_endpoint_(std::move(has_endpoint)),
      metadata_(std::move(metadata)),
      own_clock_(clock == nullptr ? std::make_unique<SystemClock>() : nullptr),
      clock_(clock == nullptr ? own_clock_.get() : clock),
      events_retention_ms_(events_retention_ms) {}

WebhookFeeder::~WebhookFeeder() { Stop(); }

std::string WebhookFeeder::Start() {
  const std::string topic = kafka_.Topic(log::TopicKind::kEvents);
  auto admin = log::Admin::Create(kafka_);
  if (!admin.ok()) return "webhook feeder: " + admin.status().ToString();
  auto count = admin.value()->PartitionCount(topic);
  if (!count.ok()) return "webhook feeder: " + count.status().ToString();
  std::map<int32_t, Position> positions;
  std::map<int32_t, command::EpochFilter> filters;
  std::vector<log::PartitionOffset> starts;
  for (int32_t p = 0; p < count.value(); ++p) {
    Position pos;
    if (auto meta = outbox_->GetMeta(MetaKey(p))) {
      auto j = nlohmann::json::parse(*meta, nullptr, false);
      if (j.is_object()) {
        pos.next = j.value("next", int64_t{-1});
        pos.epoch = j.value("epoch", uint64_t{0});
        pos.highest = j.value("highest", uint64_t{0});
      }
    }
    positions[p] = pos;
    filters[p].Restore(pos.epoch, pos.highest);
    starts.push_back({PartitionId{p}, pos.next < 0 ? log::kOffsetBeginning : Offset{pos.next}});
  }
  // The model resumes where the deliveries do; a fresh outbox builds it from the start.
  auto pending = std::make_unique<std::map<std::string, std::string>>();
  auto source = std::make_unique<ModelSource>(outbox_, pending.get());
  projection::ProjectorOptions model_options;
  model_options.max_cached_views = kModelCachedViews;
  // Event by event: a delivery's object is the payment right after its event, and the
  // model resumes from the deliveries' own positions (which may fall inside a group).
  model_options.whole_groups = false;
  auto model = std::make_unique<projection::Projector>(source.get(), model_options);
  bool fresh = true;
  for (const auto& [p, pos] : positions) {
    fresh = fresh && pos.next < 0;
    model->Resume(p, {.next_offset = std::max<int64_t>(pos.next, 0),
                      .epoch = pos.epoch,
                      .highest_seen = pos.highest});
  }
  if (fresh) model->AssumeEmptySource();
  // Detachable: a feeder that falls behind (its outbox's RocksDB slow) must not hold up the
  // projection, and so the API's answers, that share the reader; it then reads on its own.
  auto consumer =
      log::ReadFrom(shared_, kafka_, "payorch.webhooks", topic, starts, /*detachable=*/true);
  if (!consumer.ok()) return "webhook feeder: " + consumer.status().ToString();
  thread_ = std::thread([this, topic, positions = std::move(positions),
                         filters = std::move(filters), c = std::move(consumer.value()),
                         pending = std::move(pending), source = std::move(source),
                         model = std::move(model)]() mutable {
    NameThisThread("po-feeder");
    // Only the views are kept: they are all the model reads back (a snapshot, or a view
    // evicted from its cache). The projection's other records (merchant index,
    // idempotency records, daily totals, its own checkpoints) would be written and never
    // read: the feeder resumes the model from its own positions.
    const auto flush = [&] {
      for (auto& m : model->Flush())
        if (m.key.starts_with(projection::internal::kPaymentPrefix))
          (*pending)[m.key] = std::move(m.value);
    };
    std::vector<log::Record> batch;
    ev::EventEnvelope e;
    EventRetention retention(outbox_, clock_, events_retention_ms_);
    bool detached = false;  // the shared reader dropped this subscription
    while (!stop_) {
      batch.clear();
      log::LogStatus s = detached ? Status::Ok() : c->PollBatch(2'000, 50, &batch);
      if (s.code() == StatusCode::kResourceExhausted) detached = true;  // by the shared reader
      if (detached) {  // reads on its own from where it is
        std::vector<log::PartitionOffset> from;
        for (const auto& [p, pos] : positions) {
          from.push_back({PartitionId{p}, pos.next < 0 ? log::kOffsetBeginning : Offset{pos.next}});
        }
        auto own = log::ReadFrom(nullptr, kafka_, "payorch.webhooks", topic, from);
        if (own.ok()) {
          spdlog::warn("webhook feeder: fell behind the shared events reader; reads on its own");
          c = std::move(own).value();
          detached = false;
          continue;
        }
        s = own.status();
      }
      if (!s.ok()) {
        spdlog::warn("webhook feeder: {}", s.ToString());
        // Back off before the next try; Stop() ends the wait.
        std::unique_lock lock(stop_mu_);
        stop_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_.load(); });
        continue;
      }
      if (const int n = retention.MaybeSweep(); n > 0)
        spdlog::info("webhook feeder: {} expired events deleted", n);
      else if (n < 0)
        spdlog::warn("webhook feeder: the expired events sweep failed; retried in a minute");
      if (batch.empty()) continue;
      std::vector<outbox::WebhookDelivery> deliveries;
      MetaEntries meta;  // event records, then the model's records and checkpoints
      std::map<int32_t, bool> touched;
      for (const log::Record& r : batch) {
        const int32_t p = r.partition.value();
        Position& pos = positions[p];
        pos.next = r.offset.value() + 1;
        touched[p] = true;
        // Decoded once, for the model and here (an undecodable record is the model's to
        // count).
        if (!e.ParseFromString(r.value)) {
          model->Observe(p, r.offset.value(), r.value);
          continue;
        }
        model->Observe(p, r.offset.value(), e);
        command::EpochFilter& f = filters[p];
        const command::Verdict v = f.Observe(e);
        pos.epoch = f.epoch();
        pos.highest = f.highest_seen();
        if (v != command::Verdict::kCounted || e.merchant_id().empty()) continue;
        if (!WebhookType(e)) continue;
        flush();  // the object as of this event
        const auto view = ViewAt(e, *source);
        // Without a view (a log that starts after the payment's creation) the event's
        // own type stands.
        auto type = view ? WebhookTypeAfter(e, view->status()) : WebhookType(e);
        if (!type) continue;
        outbox::WebhookDelivery d = DeliveryOfJson(e, *type, ObjectAt(e, view, metadata_));
        if (!retention.Expired(e.occurred_at_ms())) AppendEventRecord(e, d.body, &meta);
        if (has_endpoint_(e.merchant_id())) deliveries.push_back(std::move(d));
      }
      flush();
      meta.reserve(meta.size() + touched.size() + pending->size());
      for (auto& [k, v] : *pending) meta.emplace_back(kModel + k, std::move(v));
      pending->clear();
      for (const auto& [p, _] : touched) meta.emplace_back(MetaKey(p), EncodePos(positions[p]));
      if (Status st = outbox_->Enqueue(deliveries, meta); !st.ok()) {
        // Fatal for durability: stop feeding.
        spdlog::error("webhook feeder: {}", st.ToString());
        break;
      }
    }
    c.reset();
  });
  return "";
}

void WebhookFeeder::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace payorch::api::internal
