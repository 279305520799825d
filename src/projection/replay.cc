#include "projection/replay.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "command/aggregate.h"
#include "projection/internal/time.h"

namespace payorch::projection {

namespace {

namespace ev = ::payments::events::v1;
namespace gp = ::google::protobuf;

std::string ToJsonText(const gp::Message& m) {
  gp::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  std::string out;
  // Deliberately unchecked: it fails only for an invalid message, and these were parsed.
  (void)gp::util::MessageToJsonString(m, &out, o);
  return out;
}

// The message inside the envelope's oneof, or nullptr.
const gp::Message* Payload(const ev::EventEnvelope& e) {
  const gp::OneofDescriptor* oneof = ev::EventEnvelope::descriptor()->FindOneofByName("event");
  const gp::FieldDescriptor* f = e.GetReflection()->GetOneofFieldDescriptor(e, oneof);
  if (f == nullptr) return nullptr;
  return &e.GetReflection()->GetMessage(e, f);
}

// Summary columns picked out of the payload by field name.
struct Summary {
  std::string amount_minor, currency, processor_id, idempotency_key, error_code, detail;
};

void Collect(const gp::Message& m, Summary* s) {
  const gp::Descriptor* d = m.GetDescriptor();
  const gp::Reflection* r = m.GetReflection();
  auto str = [&](const char* name) -> std::string {
    const gp::FieldDescriptor* f = d->FindFieldByName(name);
    if (f == nullptr || f->type() != gp::FieldDescriptor::TYPE_STRING || f->is_repeated()) {
      return "";
    }
    return r->GetString(m, f);
  };
  auto sub = [&](const char* name) -> const gp::Message* {
    const gp::FieldDescriptor* f = d->FindFieldByName(name);
    if (f == nullptr || f->cpp_type() != gp::FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated() ||
        !r->HasField(m, f)) {
      return nullptr;
    }
    return &r->GetMessage(m, f);
  };
  if (const gp::Message* op = sub("op")) {
    const auto& g = static_cast<const ev::GatewayOperation&>(*op);
    s->amount_minor = std::to_string(g.amount().amount_minor());
    s->currency = g.amount().currency();
    s->processor_id = g.processor_id();
    s->idempotency_key = g.idempotency_key();
  }
  if (const gp::Message* amount = sub("amount")) {
    const auto& money = static_cast<const ::payments::types::v1::Money&>(*amount);
    s->amount_minor = std::to_string(money.amount_minor());
    s->currency = money.currency();
  }
  if (std::string key = str("idempotency_key"); !key.empty()) s->idempotency_key = key;
  if (const gp::Message* result = sub("result")) {
    const gp::FieldDescriptor* f = result->GetDescriptor()->FindFieldByName("error_code");
    if (f == nullptr) f = result->GetDescriptor()->FindFieldByName("final_error");
    if (f != nullptr && f->type() == gp::FieldDescriptor::TYPE_ENUM) {
      const int v = result->GetReflection()->GetEnumValue(*result, f);
      if (v != 0) s->error_code = f->enum_type()->FindValueByNumber(v)->name();
    }
  }
  s->detail = str("reason");
  if (s->detail.empty()) s->detail = str("detail");
}

}  // namespace

std::string ReplayFilter::SetTypes(std::string_view list) {
  event_cases.clear();
  const gp::OneofDescriptor* oneof = ev::EventEnvelope::descriptor()->FindOneofByName("event");
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t comma = std::min(list.find(',', pos), list.size());
    const std::string name(list.substr(pos, comma - pos));
    pos = comma + 1;
    if (name.empty()) continue;
    bool found = false;
    for (int i = 0; i < oneof->field_count(); ++i) {
      const gp::FieldDescriptor* f = oneof->field(i);
      if (f->name() == name || f->message_type()->name() == name) {
        event_cases.insert(f->number());
        found = true;
      }
    }
    if (!found) return "unknown event type '" + name + "' (e.g. PaymentCreated or step_failed)";
  }
  return "";
}

bool ReplayFilter::Matches(const ev::EventEnvelope& e) const {
  if (!merchants.empty() && merchants.count(e.merchant_id()) == 0) return false;
  if (!payments.empty() && payments.count(e.payment_id()) == 0) return false;
  if (!event_cases.empty() && event_cases.count(static_cast<int>(e.event_case())) == 0) {
    return false;
  }
  return e.occurred_at_ms() >= from_ms && e.occurred_at_ms() < to_ms;
}

bool EventDeduper::Counts(int32_t partition, const ev::EventEnvelope& e) {
  if (filters_[partition].Observe(e) != command::Verdict::kCounted) return false;
  if (e.payment_id().empty() || e.sequence() == 0) return true;
  uint64_t& last = last_sequence_[e.payment_id()];
  if (e.sequence() <= last) return false;
  last = e.sequence();
  return true;
}

std::string CsvField(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string CsvHeader() {
  return "partition,offset,occurred_at,event_id,type,payment_id,merchant_id,sequence,epoch,"
         "amount_minor,currency,processor_id,idempotency_key,error_code,detail,payload\r\n";
}

std::string CsvRow(int32_t partition, int64_t offset, const ev::EventEnvelope& e) {
  Summary s;
  std::string payload;
  if (const gp::Message* m = Payload(e)) {
    Collect(*m, &s);
    payload = ToJsonText(*m);
  }
  const std::string fields[] = {std::to_string(partition),
                                std::to_string(offset),
                                internal::UtcTimestamp(e.occurred_at_ms()),
                                e.event_id(),
                                command::EventTypeName(e),
                                e.payment_id(),
                                e.merchant_id(),
                                std::to_string(e.sequence()),
                                std::to_string(e.epoch()),
                                s.amount_minor,
                                s.currency,
                                s.processor_id,
                                s.idempotency_key,
                                s.error_code,
                                s.detail,
                                payload};
  std::string row;
  for (const std::string& f : fields) {
    if (!row.empty()) row.push_back(',');
    row += CsvField(f);
  }
  row += "\r\n";
  return row;
}

std::string JsonLine(int32_t partition, int64_t offset, const ev::EventEnvelope& e) {
  nlohmann::ordered_json line;
  line["partition"] = partition;
  line["offset"] = offset;
  line["type"] = command::EventTypeName(e);
  line["event"] = nlohmann::ordered_json::parse(ToJsonText(e), nullptr, false);
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace payorch::projection
