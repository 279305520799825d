// Shared test vectors: one message of every type the wire carries (every command and event of
// the payment, invoice and order envelopes, ContractViolation), each field set to a value that is
// not its default, in binary Protobuf and in canonical Protobuf JSON; and payment ids with
// the partition a murmur2 partitioner (as Java clients use) picks for them. Every language's
// interop client decodes and re-encodes them (tests/interop/README.md).
//
//   for (const Vector& v : MakeVectors()) Write(dir + "/" + v.name + ".binpb", v.binary);
//
// Values are derived from field numbers and names, so the vectors change only when the
// schema does; maps hold one entry so the binary encoding is the same in every language.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <string>
#include <vector>

#include "command/hash.h"
#include "log/partitioner.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/contracts/v1/contracts.pb.h"
#include "payments/events/v1/events.pb.h"
#include "payments/invoices/v1/invoices.pb.h"
#include "payments/orders/v1/orders.pb.h"

namespace payorch::interop {

namespace pb = ::google::protobuf;

struct Vector {
  std::string name;    // file stem: "events.payment_created"
  std::string type;    // full message name: "payments.events.v1.EventEnvelope"
  std::string binary;  // binary Protobuf
  std::string json;    // canonical Protobuf JSON (proto3 JSON mapping)
};

// Sets every field of `m` (for a oneof, its first member) to a non-default value.
inline void Fill(pb::Message* m, int depth = 0) {
  const pb::Descriptor* d = m->GetDescriptor();
  const pb::Reflection* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    const auto* oneof = f->containing_oneof();
    if (oneof != nullptr && oneof->field(0) != f) continue;
    const int n = f->is_map() ? 1 : f->is_repeated() ? 2 : 1;
    for (int k = 0; k < n; ++k) {
      const std::string text = f->name() + (k == 0 ? "-v" : "-w");
      const int64_t num = f->number() * 1000 + 7 + k;
      switch (f->cpp_type()) {
#define PAYORCH_SET(CPP, Type, value) \
  case pb::FieldDescriptor::CPP:      \
    if (f->is_repeated())             \
      r->Add##Type(m, f, value);      \
    else                              \
      r->Set##Type(m, f, value);      \
    break;
        PAYORCH_SET(CPPTYPE_INT32, Int32, static_cast<int32_t>(num))
        PAYORCH_SET(CPPTYPE_INT64, Int64, num * 1'000'000'007LL)
        PAYORCH_SET(CPPTYPE_UINT32, UInt32, static_cast<uint32_t>(num))
        PAYORCH_SET(CPPTYPE_UINT64, UInt64, static_cast<uint64_t>(num) * 1'000'000'007ULL)
        PAYORCH_SET(CPPTYPE_DOUBLE, Double, 0.5 + static_cast<double>(num))
        PAYORCH_SET(CPPTYPE_FLOAT, Float, 0.5F + static_cast<float>(num))
        PAYORCH_SET(CPPTYPE_BOOL, Bool, true)
        PAYORCH_SET(
            CPPTYPE_STRING, String,
            f->type() == pb::FieldDescriptor::TYPE_BYTES ? std::string("\x01\xff", 2) + text : text)
#undef PAYORCH_SET
        case pb::FieldDescriptor::CPPTYPE_ENUM: {
          const pb::EnumDescriptor* e = f->enum_type();
          const int v = e->value(std::min(e->value_count() - 1, 1 + k))->number();
          if (f->is_repeated())
            r->AddEnumValue(m, f, v);
          else
            r->SetEnumValue(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
          if (depth >= 5) break;
          pb::Message* child = f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f);
          Fill(child, depth + 1);
          break;
        }
      }
    }
  }
}

inline Vector MakeVector(const std::string& name, const pb::Message& m) {
  Vector v{name, m.GetDescriptor()->full_name(), m.SerializeAsString(), ""};
  pb::util::JsonPrintOptions options;
  options.add_whitespace = true;
  (void)pb::util::MessageToJsonString(m, &v.json, options);
  return v;
}

// An envelope of type `T` for each member of its oneof `oneof_name`: every other field
// filled, and the member filled; plus a minimal one (schema version and an empty member).
template <typename T>
void AddEnvelopes(const std::string& prefix, const std::string& oneof_name,
                  std::vector<Vector>* out) {
  const pb::Descriptor* d = T::descriptor();
  const pb::OneofDescriptor* oneof = d->FindOneofByName(oneof_name);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const pb::FieldDescriptor* member = oneof->field(i);
    T env;
    Fill(&env);
    env.GetReflection()->ClearOneof(&env, oneof);
    Fill(env.GetReflection()->MutableMessage(&env, member));
    out->push_back(MakeVector(prefix + "." + member->name(), env));
  }
  T minimal;
  minimal.GetReflection()->SetUInt32(&minimal, d->FindFieldByName("schema_version"), 1);
  minimal.GetReflection()->MutableMessage(&minimal, oneof->field(0));
  out->push_back(MakeVector(prefix + ".minimal", minimal));
}

inline std::vector<Vector> MakeVectors() {
  std::vector<Vector> out;
  AddEnvelopes<::payments::commands::v1::CommandEnvelope>("commands", "command", &out);
  AddEnvelopes<::payments::events::v1::EventEnvelope>("events", "event", &out);
  AddEnvelopes<::payments::invoices::v1::InvoiceCommandEnvelope>("invoices.commands", "command",
                                                                 &out);
  AddEnvelopes<::payments::invoices::v1::InvoiceEventEnvelope>("invoices.events", "event", &out);
  AddEnvelopes<::payments::orders::v1::OrderCommandEnvelope>("orders.commands", "command", &out);
  AddEnvelopes<::payments::orders::v1::OrderEventEnvelope>("orders.events", "event", &out);
  ::payments::contracts::v1::ContractViolation violation;
  Fill(&violation);
  out.push_back(MakeVector("contracts.violation", violation));
  return out;
}

// The partition a Java client (and payorch's producer) puts the key on: log/partitioner.h.
inline int PartitionOf(const std::string& key, int partitions) {
  return log::PartitionForKey(key, partitions).value();
}

struct PaymentIdVector {
  std::string merchant_id;
  std::string idempotency_key;
  std::string payment_id;
  int partitions = 4;
  int partition = 0;  // PartitionOf(payment_id, partitions)
};

// The payments the interop clients create: merchant m_cobranded, keys "<lang>-<i>".
inline std::vector<PaymentIdVector> MakePaymentIds() {
  std::vector<PaymentIdVector> out;
  for (const char* lang : {"cpp", "java", "python", "js", "go"}) {
    for (int i = 0; i < 16; ++i) {
      PaymentIdVector v{"m_cobranded", std::string(lang) + "-" + std::to_string(i), "", 4, 0};
      v.payment_id = DerivePaymentId(v.merchant_id, v.idempotency_key);
      v.partition = PartitionOf(v.payment_id, v.partitions);
      out.push_back(v);
    }
  }
  return out;
}

}  // namespace payorch::interop
