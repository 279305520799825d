// Contract tests for the serialized commands and domain events: one sample of every command
// and event type, with schema_version set, survives binary and Protobuf-JSON round trips
// unchanged. The coverage checks walk the `command` and `event` oneofs, so adding a type to
// either without a sample here fails the build's tests.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "payments/commands/v1/commands.pb.h"
#include "payments/config/v1/config.pb.h"
#include "payments/contracts/v1/contracts.pb.h"
#include "payments/events/v1/events.pb.h"
#include "payments/invoices/v1/invoices.pb.h"
#include "payments/orders/v1/orders.pb.h"
#include "payments/plan/v1/plan.pb.h"
#include "payments/result/v1/result.pb.h"

namespace {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr uint32_t kSchemaVersion = 1;

// ---------------------------------------------------------------------------------------
// Samples

types::Money Usd(int64_t minor) {
  types::Money m;
  m.set_amount_minor(minor);
  m.set_currency("USD");
  return m;
}

cmd::CommandEnvelope Command(std::function<void(cmd::CommandEnvelope*)> fill) {
  cmd::CommandEnvelope e;
  e.set_schema_version(kSchemaVersion);
  e.set_command_id("cmd-1");
  e.set_correlation_id("corr-1");
  e.set_payment_id("pay_1");
  fill(&e);
  return e;
}

// Keyed by the oneof field name ("create", "capture", ...).
std::map<std::string, cmd::CommandEnvelope> CommandSamples() {
  std::map<std::string, cmd::CommandEnvelope> s;
  s["create"] = Command([](auto* e) {
    auto* c = e->mutable_create();
    c->set_merchant_id("m_cobranded");
    *c->mutable_amount() = Usd(15000);
    c->set_method(types::PAYMENT_METHOD_CARD);
    c->set_idempotency_key("idem-1");
    (*c->mutable_metadata())["order_id"] = "o-42";
    c->set_capture_mode(types::CAPTURE_MODE_MANUAL);
    c->set_customer_reference("cust-7");
    c->set_confirm(true);
  });
  s["confirm"] =
      Command([](auto* e) { e->mutable_confirm()->set_method(types::PAYMENT_METHOD_GOOGLE_PAY); });
  s["capture"] = Command([](auto* e) {
    e->mutable_capture()->set_amount_minor(5000);
    e->mutable_capture()->set_idempotency_key("cap-1");
    e->mutable_capture()->set_final_capture(true);
  });
  s["void"] = Command([](auto* e) { e->mutable_void_()->set_reason("customer request"); });
  s["refund"] = Command([](auto* e) {
    e->mutable_refund()->set_amount_minor(2500);
    e->mutable_refund()->set_idempotency_key("ref-1");
    e->mutable_refund()->set_reason("damaged");
  });
  s["cancel"] = Command([](auto* e) { e->mutable_cancel()->set_reason("abandoned"); });
  s["gateway_result"] = Command([](auto* e) {
    auto* r = e->mutable_gateway_result();
    r->set_operation_key("pay_1:s0:a1");
    r->set_outcome(cmd::GATEWAY_OUTCOME_FAILED);
    r->set_amount_processed_minor(0);
    r->set_error_code(types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
    r->set_processor_reference("ch_123");
    r->set_latency_ms(87);
    r->set_processor_id("stripe");
    r->set_source("call");
  });
  s["expire"] = Command([](auto* e) { e->mutable_expire()->set_operation_key("pay_1:s0:a1"); });
  s["breaker_transition"] = Command([](auto* e) {
    auto* t = e->mutable_breaker_transition();
    t->set_processor_id("stripe");
    t->set_merchant_id("m_1");
    t->set_from(cmd::BREAKER_STATE_CLOSED);
    t->set_to(cmd::BREAKER_STATE_OPEN);
    t->set_at_ms(1'700'000'000'000);
    t->set_consecutive_failures(5);
  });
  return s;
}

ev::GatewayOperation Op(ev::OperationKind kind) {
  ev::GatewayOperation op;
  op.set_kind(kind);
  op.set_idempotency_key("pay_1:s1:a2");
  op.set_processor_id("stripe");
  op.set_method(types::PAYMENT_METHOD_CARD);
  *op.mutable_amount() = Usd(5000);
  op.set_step_index(1);
  op.set_attempt(2);
  op.set_timeout_ms(2000);
  op.set_target_reference("auth_9");
  op.set_parent_id("cap-1");
  return op;
}

payments::result::v1::Result StepResult(bool success) {
  payments::result::v1::Result r;
  r.set_schema_version(kSchemaVersion);
  r.set_success(success);
  r.set_processor_id("stripe");
  r.set_error_code(success ? types::ERROR_CODE_UNSPECIFIED : types::ERROR_CODE_DECLINED);
  r.set_amount_processed_minor(success ? 5000 : 0);
  r.set_latency_ms(120);
  r.set_retryable(!success);
  r.set_step_index(1);
  r.set_attempt(2);
  return r;
}

payments::result::v1::CompositeResult Composite(bool success) {
  payments::result::v1::CompositeResult c;
  c.set_schema_version(kSchemaVersion);
  c.set_success(success);
  c.set_total_processed_minor(success ? 15000 : 5000);
  c.set_remaining_minor(success ? 0 : 10000);
  *c.add_steps() = StepResult(true);
  *c.add_steps() = StepResult(success);
  c.set_final_error(success ? types::ERROR_CODE_UNSPECIFIED : types::ERROR_CODE_DECLINED);
  c.set_currency("USD");
  return c;
}

ev::EventEnvelope Event(std::function<void(ev::EventEnvelope*)> fill) {
  ev::EventEnvelope e;
  e.set_schema_version(kSchemaVersion);
  e.set_event_id("pay_1/3");
  e.set_payment_id("pay_1");
  e.set_sequence(3);
  e.set_epoch(2);
  e.mutable_causation()->set_topic("payorch.commands");
  e.mutable_causation()->set_partition(5);
  e.mutable_causation()->set_offset(1234);
  e.mutable_causation()->set_command_id("cmd-1");
  e.set_correlation_id("corr-1");
  e.set_occurred_at_ms(1'700'000'000'123);
  e.set_merchant_id("m_cobranded");
  fill(&e);
  return e;
}

ev::ValidationIssue Issue() {
  ev::ValidationIssue i;
  i.set_field("amount.currency");
  i.set_code("currency/normalized_case");
  i.set_detail("usd -> USD");
  return i;
}

// Keyed by the oneof field name ("payment_created", ...).
std::map<std::string, ev::EventEnvelope> EventSamples() {
  std::map<std::string, ev::EventEnvelope> s;
  s["payment_created"] = Event([](auto* e) {
    auto* c = e->mutable_payment_created();
    *c->mutable_amount() = Usd(15000);
    c->set_method(types::PAYMENT_METHOD_APPLE_PAY);
    c->set_capture_mode(types::CAPTURE_MODE_AUTOMATIC);
    c->set_idempotency_key("idem-1");
    c->set_customer_reference("cust-7");
    (*c->mutable_metadata())["order_id"] = "o-42";
    c->set_request_hash("9f86d081884c7d65");
    *c->add_issues() = Issue();
  });
  s["plan_built"] = Event([](auto* e) {
    auto* plan = e->mutable_plan_built()->mutable_plan();
    plan->set_schema_version(kSchemaVersion);
    *plan->mutable_total() = Usd(15000);
    auto* step = plan->add_steps();
    step->set_method(types::PAYMENT_METHOD_APPLE_PAY);
    step->set_processor_id("applepay");
    step->set_max_amount_minor(5000);
    step->set_role(payments::plan::v1::STEP_ROLE_PRIMARY);
    step = plan->add_steps();
    step->set_method(types::PAYMENT_METHOD_CARD);
    step->set_processor_id("adyen");
    step->set_role(payments::plan::v1::STEP_ROLE_SPLIT);
    plan->set_max_retries_per_step(2);
    plan->set_attempt_timeout_ms(2000);
    plan->set_processing_deadline_ms(30000);
    e->mutable_plan_built()->set_method(types::PAYMENT_METHOD_APPLE_PAY);
    e->mutable_plan_built()->set_first_step(1);  // a retry: step 0 was an earlier plan
    plan->set_profile("apple_pay");
  });
  s["step_started"] = Event(
      [](auto* e) { *e->mutable_step_started()->mutable_op() = Op(ev::OPERATION_KIND_SALE); });
  s["step_succeeded"] = Event([](auto* e) {
    *e->mutable_step_succeeded()->mutable_op() = Op(ev::OPERATION_KIND_SALE);
    *e->mutable_step_succeeded()->mutable_result() = StepResult(true);
    e->mutable_step_succeeded()->set_processor_reference("ch_123");
  });
  s["step_failed"] = Event([](auto* e) {
    *e->mutable_step_failed()->mutable_op() = Op(ev::OPERATION_KIND_AUTHORIZE);
    *e->mutable_step_failed()->mutable_result() = StepResult(false);
    e->mutable_step_failed()->set_will_retry(true);
  });
  s["payment_processing"] = Event([](auto* e) {
    *e->mutable_payment_processing()->mutable_op() = Op(ev::OPERATION_KIND_SALE);
    e->mutable_payment_processing()->set_deadline_at_ms(1'700'000'030'123);
  });
  s["payment_completed"] = Event([](auto* e) {
    *e->mutable_payment_completed()->mutable_result() = Composite(true);
    e->mutable_payment_completed()->set_status(ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  });
  s["payment_failed"] = Event([](auto* e) {
    *e->mutable_payment_failed()->mutable_result() = Composite(false);
    e->mutable_payment_failed()->set_reason("all steps declined");
  });
  s["capture_started"] = Event([](auto* e) {
    e->mutable_capture_started()->set_capture_id("cap-1");
    *e->mutable_capture_started()->mutable_op() = Op(ev::OPERATION_KIND_CAPTURE);
  });
  s["payment_captured"] = Event([](auto* e) {
    e->mutable_payment_captured()->set_capture_id("cap-1");
    *e->mutable_payment_captured()->mutable_op() = Op(ev::OPERATION_KIND_CAPTURE);
    e->mutable_payment_captured()->set_total_captured_minor(5000);
  });
  s["capture_failed"] = Event([](auto* e) {
    e->mutable_capture_failed()->set_capture_id("cap-1");
    *e->mutable_capture_failed()->mutable_op() = Op(ev::OPERATION_KIND_CAPTURE);
    *e->mutable_capture_failed()->mutable_result() = StepResult(false);
  });
  s["void_started"] = Event([](auto* e) {
    *e->mutable_void_started()->mutable_op() = Op(ev::OPERATION_KIND_VOID);
    e->mutable_void_started()->set_reason("plan failed");
    e->mutable_void_started()->set_compensation(true);
  });
  s["payment_voided"] = Event([](auto* e) {
    e->mutable_payment_voided()->set_reason("plan failed");
    *e->mutable_payment_voided()->mutable_op() = Op(ev::OPERATION_KIND_VOID);
    e->mutable_payment_voided()->set_compensation(true);
  });
  s["void_failed"] = Event([](auto* e) {
    *e->mutable_void_failed()->mutable_op() = Op(ev::OPERATION_KIND_VOID);
    *e->mutable_void_failed()->mutable_result() = StepResult(false);
  });
  s["refund_started"] = Event([](auto* e) {
    e->mutable_refund_started()->set_refund_id("ref-1");
    *e->mutable_refund_started()->mutable_op() = Op(ev::OPERATION_KIND_REFUND);
  });
  s["refund_succeeded"] = Event([](auto* e) {
    e->mutable_refund_succeeded()->set_refund_id("ref-1");
    *e->mutable_refund_succeeded()->mutable_op() = Op(ev::OPERATION_KIND_REFUND);
    e->mutable_refund_succeeded()->set_total_refunded_minor(2500);
  });
  s["refund_failed"] = Event([](auto* e) {
    e->mutable_refund_failed()->set_refund_id("ref-1");
    *e->mutable_refund_failed()->mutable_op() = Op(ev::OPERATION_KIND_REFUND);
    *e->mutable_refund_failed()->mutable_result() = StepResult(false);
  });
  s["payment_canceled"] =
      Event([](auto* e) { e->mutable_payment_canceled()->set_reason("abandoned"); });
  s["command_rejected"] = Event([](auto* e) {
    auto* r = e->mutable_command_rejected();
    r->set_reason(ev::REJECT_REASON_PLAN_COVERAGE);
    r->set_contract_id("plan/coverage");
    r->set_detail("steps cover 10000 of 15000");
    *r->add_issues() = Issue();
    r->set_command_type("create");
  });
  s["command_deduplicated"] = Event([](auto* e) {
    e->mutable_command_deduplicated()->set_command_type("capture");
    e->mutable_command_deduplicated()->set_original_id("cap-1");
  });
  s["processing_expired"] = Event([](auto* e) {
    *e->mutable_processing_expired()->mutable_op() = Op(ev::OPERATION_KIND_SALE);
  });
  s["payment_confirmed"] = Event([](auto* e) { e->mutable_payment_confirmed(); });
  s["breaker_transitioned"] = Event([](auto* e) {
    auto* t = e->mutable_breaker_transitioned()->mutable_transition();
    t->set_processor_id("stripe");
    t->set_merchant_id("m_1");
    t->set_from(cmd::BREAKER_STATE_OPEN);
    t->set_to(cmd::BREAKER_STATE_HALF_OPEN);
    t->set_at_ms(1'700'000'030'000);
    t->set_consecutive_failures(5);
  });
  s["writer_claimed"] = Event([](auto* e) {
    e->set_event_id("claim/5/2");
    e->clear_payment_id();
    e->set_sequence(0);
    e->mutable_writer_claimed()->set_epoch(2);
    e->mutable_writer_claimed()->set_writer_id("payorch-0");
    e->mutable_writer_claimed()->set_partition(5);
  });
  return s;
}

// ---------------------------------------------------------------------------------------
// Round-trip helpers

std::string Differences(const Message& a, const Message& b) {
  std::string report;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&report);
  return d.Compare(a, b) ? "" : report;
}

// Serialises `m` to binary and to JSON (both field-name styles) and parses each back;
// returns the differences found, "" if none.
std::string RoundTripDifferences(const Message& m) {
  std::string out;
  std::string wire;
  if (!m.SerializeToString(&wire)) return "binary: serialise failed";
  std::unique_ptr<Message> back(m.New());
  if (!back->ParseFromString(wire)) return "binary: parse failed";
  if (auto d = Differences(m, *back); !d.empty()) out += "binary: " + d;

  for (bool proto_names : {false, true}) {
    google::protobuf::util::JsonPrintOptions print;
    print.preserve_proto_field_names = proto_names;
    std::string json;
    auto st = google::protobuf::util::MessageToJsonString(m, &json, print);
    if (!st.ok()) return "json: print failed: " + std::string(st.message());
    std::unique_ptr<Message> from_json(m.New());
    st = google::protobuf::util::JsonStringToMessage(json, from_json.get());
    if (!st.ok()) return "json: parse failed: " + std::string(st.message()) + " in " + json;
    if (auto d = Differences(m, *from_json); !d.empty()) out += "json: " + d;
  }
  return out;
}

// The payload set in `envelope`'s oneof `oneof_name`, or nullptr.
const Message* Payload(const Message& envelope, const std::string& oneof_name) {
  const auto* oneof = envelope.GetDescriptor()->FindOneofByName(oneof_name);
  const auto* field = envelope.GetReflection()->GetOneofFieldDescriptor(envelope, oneof);
  return field ? &envelope.GetReflection()->GetMessage(envelope, field) : nullptr;
}

// A sample is meaningful if its payload sets something (or its type has no fields).
bool PayloadIsPopulated(const Message& payload) {
  std::vector<const FieldDescriptor*> set;
  payload.GetReflection()->ListFields(payload, &set);
  return !set.empty() || payload.GetDescriptor()->field_count() == 0;
}

// Checks one oneof: every member has a sample that selects it, with schema_version set.
template <typename Envelope>
void ExpectEveryOneofMemberHasASample(const std::map<std::string, Envelope>& samples,
                                      const std::string& oneof_name) {
  const auto* oneof = Envelope::descriptor()->FindOneofByName(oneof_name);
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const FieldDescriptor* member = oneof->field(i);
    SCOPED_TRACE(member->name());
    auto it = samples.find(member->name());
    ASSERT_NE(it, samples.end()) << "no contract sample for " << Envelope::descriptor()->name()
                                 << "." << member->name() << ": add one to this file";
    const Envelope& sample = it->second;
    EXPECT_EQ(sample.schema_version(), kSchemaVersion);
    const FieldDescriptor* chosen = sample.GetReflection()->GetOneofFieldDescriptor(sample, oneof);
    ASSERT_EQ(chosen, member) << "the sample sets a different member";
    EXPECT_TRUE(PayloadIsPopulated(*Payload(sample, oneof_name))) << "empty payload";
  }
  EXPECT_EQ(samples.size(), static_cast<size_t>(oneof->field_count()))
      << "a sample names a member that is not in the oneof";
}

// Sets every field of `m` (recursively, every repeated field to two elements) to a
// non-default value derived from `seed`, choosing the last member of each oneof.
void FillEveryField(Message* m, int seed, int depth = 0) {
  const auto* r = m->GetReflection();
  const Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    int v = seed * 31 + i + 1;
    int copies = f->is_repeated() ? 2 : 1;
    for (int k = 0; k < copies; ++k, ++v) {
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          f->is_repeated() ? r->AddInt32(m, f, -v) : r->SetInt32(m, f, -v);
          break;
        case FieldDescriptor::CPPTYPE_INT64: {
          int64_t big = (int64_t{1} << 53) + v;  // beyond double precision: JSON must keep it
          f->is_repeated() ? r->AddInt64(m, f, big) : r->SetInt64(m, f, big);
          break;
        }
        case FieldDescriptor::CPPTYPE_UINT32:
          f->is_repeated() ? r->AddUInt32(m, f, 4'000'000'000u + v)
                           : r->SetUInt32(m, f, 4'000'000'000u + v);
          break;
        case FieldDescriptor::CPPTYPE_UINT64: {
          uint64_t big = (uint64_t{1} << 63) + v;
          f->is_repeated() ? r->AddUInt64(m, f, big) : r->SetUInt64(m, f, big);
          break;
        }
        case FieldDescriptor::CPPTYPE_DOUBLE:
          f->is_repeated() ? r->AddDouble(m, f, v + 0.5) : r->SetDouble(m, f, v + 0.5);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          f->is_repeated() ? r->AddFloat(m, f, v + 0.5f) : r->SetFloat(m, f, v + 0.5f);
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          f->is_repeated() ? r->AddBool(m, f, true) : r->SetBool(m, f, true);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* e = f->enum_type();
          const auto* value = e->value(1 + v % (e->value_count() - 1));
          f->is_repeated() ? r->AddEnum(m, f, value) : r->SetEnum(m, f, value);
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
          std::string s = f->type() == FieldDescriptor::TYPE_BYTES
                              ? std::string("\x00\xff\x01", 3) + std::to_string(v)
                              : "v" + std::to_string(v) + " \xc3\xa9\"\\/";
          f->is_repeated() ? r->AddString(m, f, s) : r->SetString(m, f, s);
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth < 6) {
            Message* child = f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f);
            FillEveryField(child, v, depth + 1);
          }
          break;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Specification

TEST(ContractCoverage, EveryCommandTypeHasASample) {
  ExpectEveryOneofMemberHasASample(CommandSamples(), "command");
}

TEST(ContractCoverage, EveryEventTypeHasASample) {
  ExpectEveryOneofMemberHasASample(EventSamples(), "event");
}

TEST(ContractRoundTrip, EveryCommandSurvivesBinaryAndJson) {
  for (const auto& [name, sample] : CommandSamples()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(RoundTripDifferences(sample), "");
  }
}

TEST(ContractRoundTrip, EveryEventSurvivesBinaryAndJson) {
  for (const auto& [name, sample] : EventSamples()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(RoundTripDifferences(sample), "");
  }
}

// Stronger than the hand-written samples: every field of every command and event type,
// set to an awkward non-default value (64-bit beyond double precision, UTF-8 and escapes).
// The invoice and order envelopes (issue 21) are checked this way only.
TEST(ContractRoundTrip, EveryFieldOfEveryMemberSurvivesBinaryAndJson) {
  for (const Descriptor* envelope :
       {cmd::CommandEnvelope::descriptor(), ev::EventEnvelope::descriptor(),
        payments::invoices::v1::InvoiceCommandEnvelope::descriptor(),
        payments::invoices::v1::InvoiceEventEnvelope::descriptor(),
        payments::orders::v1::OrderCommandEnvelope::descriptor(),
        payments::orders::v1::OrderEventEnvelope::descriptor()}) {
    const auto* oneof = envelope->oneof_decl(0);
    for (int i = 0; i < oneof->field_count(); ++i) {
      SCOPED_TRACE(oneof->field(i)->full_name());
      std::unique_ptr<Message> m(
          google::protobuf::MessageFactory::generated_factory()->GetPrototype(envelope)->New());
      FillEveryField(m.get(), i);  // sets the last oneof member; choose ours now
      m->GetReflection()->ClearOneof(m.get(), oneof);
      FillEveryField(m->GetReflection()->MutableMessage(m.get(), oneof->field(i)), i, 1);
      EXPECT_EQ(RoundTripDifferences(*m), "");
    }
  }
}

// The other payloads that travel or are stored on their own carry schema_version too.
TEST(ContractRoundTrip, OtherVersionedPayloadsSurviveBinaryAndJson) {
  payments::contracts::v1::ContractViolation violation;
  violation.set_schema_version(kSchemaVersion);
  violation.set_contract_id("plan/coverage");
  violation.set_payment_id("pay_1");
  violation.set_merchant_id("m_wallet");
  violation.set_detail("steps cover 5000 of 15000");
  violation.set_occurred_at_ms(1'700'000'000'123);
  violation.set_source("writer");
  violation.set_partition(3);
  violation.set_offset(99);

  payments::config::v1::OrchestratorConfig config;
  config.set_schema_version(kSchemaVersion);
  auto* merchant = config.add_merchants();
  merchant->set_merchant_id("m_jpy");
  merchant->add_currencies("JPY");
  merchant->set_deadline_policy(payments::config::v1::DEADLINE_POLICY_FAIL);
  auto* step = merchant->add_profiles()->add_steps();
  step->set_processor_id("stripe");
  step->set_role(payments::plan::v1::STEP_ROLE_PRIMARY);

  const Message* payloads[] = {&violation, &config};
  for (const Message* m : payloads) {
    SCOPED_TRACE(m->GetDescriptor()->full_name());
    EXPECT_EQ(RoundTripDifferences(*m), "");
  }
}

TEST(ContractShape, EveryTopLevelPayloadStartsWithSchemaVersion) {
  for (const Descriptor* d :
       {cmd::CommandEnvelope::descriptor(), ev::EventEnvelope::descriptor(),
        payments::contracts::v1::ContractViolation::descriptor(),
        payments::config::v1::OrchestratorConfig::descriptor(),
        payments::plan::v1::PaymentPlan::descriptor(), payments::result::v1::Result::descriptor(),
        payments::result::v1::CompositeResult::descriptor(),
        payments::invoices::v1::InvoiceCommandEnvelope::descriptor(),
        payments::invoices::v1::InvoiceEventEnvelope::descriptor(),
        payments::orders::v1::OrderCommandEnvelope::descriptor(),
        payments::orders::v1::OrderEventEnvelope::descriptor()}) {
    SCOPED_TRACE(d->full_name());
    const FieldDescriptor* f = d->FindFieldByNumber(1);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->name(), "schema_version");
    EXPECT_EQ(f->type(), FieldDescriptor::TYPE_UINT32);
  }
}

}  // namespace
