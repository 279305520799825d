// Hostile inputs: what each gets. One row per attack on the command record (oversized,
// negative, overflowing, unknown enum values, wrong schema_version, invalid UTF-8, card
// numbers in free text, ...), with its verdict, checked twice:
//
//   the admission path spelled out: DecodeCommand -> CheckEnvelope -> decide();
//   the writer's path: DecodeCommand (dead letter), then decide(), which runs CheckEnvelope
//   itself, so a refusal is a CommandRejected event of the payment.
//
// Verdicts: "deadletter:<REASON>" (never reaches decide), "rejected:<REASON>" (a
// CommandRejected event), "accepted" (plus the ValidationIssue codes of PaymentCreated,
// "accepted[code,...]"), "dedup". Every row also checks, for whatever events decide()
// produced: at least one event, each event re-parses (valid UTF-8), no event holds a card
// number in any form, and no event is larger than the record's limit.
// The same table is in docs/reliability.md; keep them together.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "command/aggregate.h"
#include "command/parser.h"
#include "support/command_harness.h"

namespace payorch::command {
namespace {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace ty = ::payments::types::v1;
using testing::CommandHarness;
using testing::kSeedMerchant;

constexpr std::string_view kPan = "4111111111111111";  // Luhn-valid test Visa
constexpr std::string_view kPanSpaced = "4111 1111 1111 1111";

// A harness holding two payments of m_seed: `authorized` (manual capture, requires capture)
// and `pending` (an authorization attempt in flight, key `pending_key`).
struct Fixture {
  CommandHarness h;
  std::string authorized = CommandHarness::PaymentIdFor(kSeedMerchant, "order-a");
  std::string pending = CommandHarness::PaymentIdFor(kSeedMerchant, "order-b");
  std::string pending_key;

  Fixture() {
    testing::CreateOptions manual;
    manual.manual_capture = true;
    (void)h.Send(
        testing::Create(kSeedMerchant, "order-a", 5'000, "USD", ty::PAYMENT_METHOD_CARD, manual));
    (void)h.Send(testing::Succeeded(authorized, h.PendingAttemptKey(authorized)));
    (void)h.Send(testing::Create(kSeedMerchant, "order-b", 5'000, "USD", ty::PAYMENT_METHOD_CARD));
    pending_key = h.PendingAttemptKey(pending);
  }
};

std::string Bytes(const cmd::CommandEnvelope& e) {
  std::string out;
  e.SerializeToString(&out);  // proto3 serialises invalid UTF-8 as given (and logs it)
  return out;
}

cmd::CommandEnvelope ValidCreate() {
  return testing::Create(kSeedMerchant, "order-h", 1'000, "USD", ty::PAYMENT_METHOD_CARD);
}

std::string CreateWith(const std::function<void(cmd::CreatePayment&)>& change) {
  cmd::CommandEnvelope e = ValidCreate();
  change(*e.mutable_create());
  return Bytes(e);
}

std::string EnvelopeWith(const std::function<void(cmd::CommandEnvelope&)>& change) {
  cmd::CommandEnvelope e = ValidCreate();
  change(e);
  return Bytes(e);
}

std::string ReasonName(ev::RejectReason r) {
  std::string name = ev::RejectReason_Name(r);
  constexpr std::string_view kPrefix = "REJECT_REASON_";
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

std::string Verdict(const testing::Events& events) {
  for (const auto& e : events) {
    if (e.has_command_rejected()) return "rejected:" + ReasonName(e.command_rejected().reason());
  }
  for (const auto& e : events) {
    if (e.has_payment_created()) {
      std::string codes;
      for (const auto& i : e.payment_created().issues()) {
        codes += (codes.empty() ? "" : ",") + i.code();
      }
      return codes.empty() ? "accepted" : "accepted[" + codes + "]";
    }
  }
  if (!events.empty() && events.front().has_command_deduplicated()) return "dedup";
  return "accepted";
}

bool HoldsPan(const std::string& bytes) {
  return bytes.find(kPan) != std::string::npos || bytes.find(kPanSpaced) != std::string::npos;
}

// Checks that hold for any input, whatever the verdict.
void CheckEvents(const testing::Events& events, bool checked_envelope) {
  ASSERT_FALSE(events.empty()) << "every decoded command yields at least one event";
  for (const auto& e : events) {
    const std::string bytes = testing::DeterministicBytes(e);
    ev::EventEnvelope back;
    EXPECT_TRUE(back.ParseFromString(bytes)) << "event does not re-parse (UTF-8?)";
    EXPECT_FALSE(HoldsPan(bytes)) << "a card number reached an event: " << e.ShortDebugString();
    if (checked_envelope) {
      EXPECT_LE(bytes.size(), 4096u) << "event blown up by the input";
    }
  }
}

// The admission path: DecodeCommand -> CheckEnvelope -> decide().
std::string Admit(Fixture& f, const std::string& record) {
  cmd::CommandEnvelope e;
  if (auto r = DecodeCommand(record, &e)) {
    EXPECT_FALSE(HoldsPan(r->detail));
    return "deadletter:" + ReasonName(r->reason);
  }
  if (auto r = CheckEnvelope(e)) {
    EXPECT_FALSE(HoldsPan(r->detail));
    return "rejected:" + ReasonName(r->reason);
  }
  const auto& events = f.h.Send(e);
  CheckEvents(events, true);
  return Verdict(events);
}

// The writer's path: DecodeCommand, then decide() (which checks the envelope itself).
std::string WriterPath(Fixture& f, const std::string& record) {
  cmd::CommandEnvelope e;
  if (auto r = DecodeCommand(record, &e)) return "deadletter:" + ReasonName(r->reason);
  const auto& events = f.h.Send(e);
  CheckEvents(events, true);
  return Verdict(events);
}

struct Case {
  using Record = std::function<std::string(const Fixture&)>;
  Case(const char* n, Record r, std::string w)
      : name(n), record(std::move(r)), want(std::move(w)) {}
  const char* name;
  Record record;
  std::string want;
};

std::string Text(size_t n, char c = 'x') { return std::string(n, c); }

std::vector<Case> Cases() {
  using F = const Fixture&;
  return {
      // Record level.
      {"well_formed_create_is_accepted", [](F) { return Bytes(ValidCreate()); }, "accepted"},
      {"record_over_64_KiB_is_dead_lettered_unread",
       [](F) { return EnvelopeWith([](auto& e) { e.set_correlation_id(Text(70'000)); }); },
       "deadletter:RECORD_TOO_LARGE"},
      {"truncated_record_is_undecodable",
       [](F) {
         std::string b = Bytes(ValidCreate());
         return b.substr(0, b.size() - 3);
       },
       "deadletter:UNDECODABLE"},
      {"random_bytes_are_undecodable", [](F) { return std::string("\xff\xff\xff\xff\x0f", 5); },
       "deadletter:UNDECODABLE"},
      {"length_prefix_beyond_the_record_is_undecodable",
       [](F) { return std::string("\x52\xff\xff\xff\xff\x07", 6); }, "deadletter:UNDECODABLE"},
      {"invalid_utf8_in_merchant_id_is_undecodable",
       [](F) { return CreateWith([](auto& c) { c.set_merchant_id("m_\xc3\x28"); }); },
       "deadletter:UNDECODABLE"},
      {"invalid_utf8_in_metadata_value_is_undecodable",
       [](F) {
         return CreateWith([](auto& c) { (*c.mutable_metadata())["order_id"] = "\xed\xa0\x80"; });
       },
       "deadletter:UNDECODABLE"},
      {"empty_record_has_schema_version_0", [](F) { return std::string(); },
       "rejected:SCHEMA_VERSION_UNSUPPORTED"},
      // Envelope.
      {"schema_version_2_is_refused",
       [](F) { return EnvelopeWith([](auto& e) { e.set_schema_version(2); }); },
       "rejected:SCHEMA_VERSION_UNSUPPORTED"},
      {"schema_version_max_uint32_is_refused",
       [](F) { return EnvelopeWith([](auto& e) { e.set_schema_version(0xFFFFFFFFu); }); },
       "rejected:SCHEMA_VERSION_UNSUPPORTED"},
      {"envelope_without_command_is_refused",
       [](F) { return EnvelopeWith([](auto& e) { e.clear_create(); }); },
       "rejected:COMMAND_MISSING"},
      {"unknown_command_field_reads_as_no_command",
       [](F) {
         cmd::CommandEnvelope e;
         e.set_schema_version(1);
         return Bytes(e) + std::string("\xfa\x06\x00", 3);  // field 111, empty bytes
       },
       "rejected:COMMAND_MISSING"},
      {"command_id_over_128_bytes_is_refused",
       [](F) { return EnvelopeWith([](auto& e) { e.set_command_id(Text(129)); }); },
       "rejected:FIELD_TOO_LONG"},
      {"correlation_id_over_128_bytes_is_refused",
       [](F) { return EnvelopeWith([](auto& e) { e.set_correlation_id(Text(10'000)); }); },
       "rejected:FIELD_TOO_LONG"},
      {"payment_id_over_64_bytes_is_refused",
       [](F) {
         cmd::CommandEnvelope e = testing::Confirm(Text(65, 'p'));
         return Bytes(e);
       },
       "rejected:FIELD_TOO_LONG"},
      {"payment_id_not_derived_from_the_create_is_refused",
       [](F) { return EnvelopeWith([](auto& e) { e.set_payment_id("pay_forged"); }); },
       "rejected:PAYMENT_ID_MISMATCH"},
      {"command_for_an_unknown_payment_is_refused",
       [](F) { return Bytes(testing::Confirm("pay_nobody")); }, "rejected:PAYMENT_UNKNOWN"},
      // CreatePayment strings.
      {"whitespace_only_merchant_is_missing",
       [](F) { return CreateWith([](auto& c) { c.set_merchant_id(" \t "); }); },
       "rejected:MERCHANT_MISSING"},
      {"merchant_id_with_nul_is_an_unknown_merchant",
       [](F) { return CreateWith([](auto& c) { c.set_merchant_id(std::string("m_\0seed", 7)); }); },
       "rejected:MERCHANT_UNKNOWN"},
      {"merchant_id_over_64_bytes_is_refused",
       [](F) { return CreateWith([](auto& c) { c.set_merchant_id(Text(65)); }); },
       "rejected:FIELD_TOO_LONG"},
      {"idempotency_key_over_255_bytes_is_refused",
       [](F) { return CreateWith([](auto& c) { c.set_idempotency_key(Text(256)); }); },
       "rejected:FIELD_TOO_LONG"},
      {"customer_reference_over_255_bytes_is_refused",
       [](F) { return CreateWith([](auto& c) { c.set_customer_reference(Text(256)); }); },
       "rejected:FIELD_TOO_LONG"},
      {"currency_of_four_letters_is_unknown",
       [](F) { return CreateWith([](auto& c) { c.mutable_amount()->set_currency("USDX"); }); },
       "rejected:CURRENCY_UNKNOWN"},
      {"card_number_as_currency_is_not_echoed",
       [](F) {
         return CreateWith([](auto& c) { c.mutable_amount()->set_currency(std::string(kPan)); });
       },
       "rejected:CURRENCY_UNKNOWN"},
      // Numbers.
      {"zero_amount_is_refused",
       [](F) { return CreateWith([](auto& c) { c.mutable_amount()->set_amount_minor(0); }); },
       "rejected:AMOUNT_NOT_POSITIVE"},
      {"negative_amount_is_refused",
       [](F) { return CreateWith([](auto& c) { c.mutable_amount()->set_amount_minor(-1); }); },
       "rejected:AMOUNT_NOT_POSITIVE"},
      {"int64_min_amount_is_refused",
       [](F) {
         return CreateWith([](auto& c) {
           c.mutable_amount()->set_amount_minor(std::numeric_limits<int64_t>::min());
         });
       },
       "rejected:AMOUNT_NOT_POSITIVE"},
      {"int64_max_amount_is_too_large",
       [](F) {
         return CreateWith([](auto& c) {
           c.mutable_amount()->set_amount_minor(std::numeric_limits<int64_t>::max());
         });
       },
       "rejected:AMOUNT_TOO_LARGE"},
      // Enums.
      {"unknown_method_value_is_refused",
       [](F) {
         return CreateWith([](auto& c) { c.set_method(static_cast<ty::PaymentMethod>(999)); });
       },
       "rejected:METHOD_MISSING"},
      {"negative_method_value_is_refused",
       [](F) {
         return CreateWith([](auto& c) { c.set_method(static_cast<ty::PaymentMethod>(-1)); });
       },
       "rejected:METHOD_MISSING"},
      {"unspecified_method_defaults_to_card",
       [](F) { return CreateWith([](auto& c) { c.set_method(ty::PAYMENT_METHOD_UNSPECIFIED); }); },
       "accepted[method/defaulted]"},
      {"unknown_capture_mode_is_refused",
       [](F) {
         return CreateWith([](auto& c) { c.set_capture_mode(static_cast<ty::CaptureMode>(7)); });
       },
       "rejected:TRANSITION_NOT_ALLOWED"},
      // Metadata.
      {"fifty_one_metadata_entries_are_refused",
       [](F) {
         return CreateWith([](auto& c) {
           for (int i = 0; i < 51; ++i) (*c.mutable_metadata())["k" + std::to_string(i)] = "v";
         });
       },
       "rejected:FIELD_TOO_LONG"},
      {"metadata_key_over_40_bytes_is_refused",
       [](F) { return CreateWith([](auto& c) { (*c.mutable_metadata())[Text(41)] = "v"; }); },
       "rejected:FIELD_TOO_LONG"},
      {"metadata_value_over_500_bytes_is_refused",
       [](F) {
         return CreateWith([](auto& c) { (*c.mutable_metadata())["order_id"] = Text(501); });
       },
       "rejected:FIELD_TOO_LONG"},
      {"empty_metadata_key_is_refused",
       [](F) { return CreateWith([](auto& c) { (*c.mutable_metadata())[" "] = "v"; }); },
       "rejected:FIELD_TOO_LONG"},
      {"card_number_in_metadata_value_is_redacted",
       [](F) {
         return CreateWith(
             [](auto& c) { (*c.mutable_metadata())["description"] = "card " + std::string(kPan); });
       },
       "accepted[metadata/pan_redacted]"},
      {"spaced_card_number_in_metadata_value_is_redacted",
       [](F) {
         return CreateWith(
             [](auto& c) { (*c.mutable_metadata())["order_id"] = std::string(kPanSpaced); });
       },
       "accepted[metadata/pan_redacted]"},
      {"card_number_as_metadata_key_is_redacted",
       [](F) {
         return CreateWith([](auto& c) { (*c.mutable_metadata())[std::string(kPan)] = "x"; });
       },
       "accepted[metadata/pan_redacted,metadata/unknown_key]"},
      {"card_number_in_a_too_long_metadata_key_is_not_echoed",
       [](F) {
         return CreateWith(
             [](auto& c) { (*c.mutable_metadata())[std::string(kPan) + Text(30)] = "x"; });
       },
       "rejected:FIELD_TOO_LONG"},
      {"card_number_as_customer_reference_is_redacted",
       [](F) {
         return CreateWith([](auto& c) { c.set_customer_reference(std::string(kPanSpaced)); });
       },
       "accepted[customer_reference/pan_redacted]"},
      {"sixteen_digits_failing_luhn_are_kept",
       [](F) {
         return CreateWith(
             [](auto& c) { (*c.mutable_metadata())["order_id"] = "4111111111111112"; });
       },
       "accepted"},
      // Other commands.
      {"negative_capture_is_refused",
       [](F f) { return Bytes(testing::Capture(f.authorized, -5, "cap-1")); },
       "rejected:AMOUNT_NOT_POSITIVE"},
      {"int64_max_capture_exceeds_the_authorized",
       [](F f) {
         return Bytes(testing::Capture(f.authorized, std::numeric_limits<int64_t>::max(), "cap-1"));
       },
       "rejected:CAPTURE_EXCEEDS_AUTHORIZED"},
      {"capture_key_over_255_bytes_is_refused",
       [](F f) { return Bytes(testing::Capture(f.authorized, 10, Text(256))); },
       "rejected:FIELD_TOO_LONG"},
      {"negative_refund_is_refused",
       [](F f) { return Bytes(testing::Refund(f.authorized, -1, "ref-1")); },
       "rejected:AMOUNT_NOT_POSITIVE"},
      {"void_reason_of_10_KB_is_truncated",
       [](F f) { return Bytes(testing::Void(f.authorized, Text(10'000))); }, "accepted"},
      {"gateway_outcome_out_of_range_is_refused",
       [](F f) {
         cmd::CommandEnvelope e = testing::Succeeded(f.pending, f.pending_key);
         e.mutable_gateway_result()->set_outcome(static_cast<cmd::GatewayOutcome>(99));
         return Bytes(e);
       },
       "rejected:OUTCOME_MISSING"},
      {"gateway_negative_amount_is_refused",
       [](F f) { return Bytes(testing::Succeeded(f.pending, f.pending_key, -100)); },
       "rejected:AMOUNT_NOT_POSITIVE"},
      {"gateway_reference_of_10_KB_is_refused",
       [](F f) {
         cmd::CommandEnvelope e = testing::Succeeded(f.pending, f.pending_key);
         e.mutable_gateway_result()->set_processor_reference(Text(10'000));
         return Bytes(e);
       },
       "rejected:FIELD_TOO_LONG"},
      {"gateway_operation_key_of_10_KB_is_refused",
       [](F f) { return Bytes(testing::Succeeded(f.pending, Text(10'000))); },
       "rejected:FIELD_TOO_LONG"},
      {"gateway_result_for_an_unknown_operation_is_refused",
       [](F f) { return Bytes(testing::Succeeded(f.pending, "pay_x:s0:a1")); },
       "rejected:OPERATION_UNKNOWN"},
      {"expire_of_an_attempt_not_processing_is_refused",
       [](F f) { return Bytes(testing::Expire(f.pending, f.pending_key)); },
       "rejected:OPERATION_NOT_PENDING"},
  };
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class HostileInputTest : public ::testing::TestWithParam<Case> {};

TEST_P(HostileInputTest, GetsItsDocumentedVerdict) {
  const Case& c = GetParam();
  Fixture admitted;
  Fixture writer;
  const std::string record = c.record(admitted);
  EXPECT_EQ(Admit(admitted, record), c.want);
  EXPECT_EQ(WriterPath(writer, record), c.want);
}

INSTANTIATE_TEST_SUITE_P(Table, HostileInputTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(HostileInputTest, RedactedPanNeverReachesTheStoredMetadata) {
  Fixture f;
  cmd::CommandEnvelope e = ValidCreate();
  (*e.mutable_create()->mutable_metadata())["description"] = "pay " + std::string(kPanSpaced);
  (*e.mutable_create()->mutable_metadata())[std::string(kPan)] = "k";
  const auto& events = f.h.Send(e);
  const ev::EventEnvelope* created = testing::OnlyOf(events, ev::EventEnvelope::kPaymentCreated);
  ASSERT_NE(created, nullptr);
  for (const auto& [k, v] : created->payment_created().metadata()) {
    EXPECT_FALSE(LooksLikePan(k)) << k;
    EXPECT_FALSE(LooksLikePan(v)) << v;
  }
  EXPECT_EQ(created->payment_created().metadata().at("description"), "[REDACTED_PAN]");
}

TEST(HostileInputTest, RecordAtTheLimitIsReadAndOneByteMoreIsNot) {
  cmd::CommandEnvelope e = ValidCreate();
  const size_t base = Bytes(e).size();
  // correlation_id is field 3: tag + a 3-byte length prefix around 64 KiB.
  e.set_correlation_id(Text(kMaxRecordBytes - base - 4));
  ASSERT_EQ(Bytes(e).size(), kMaxRecordBytes);
  cmd::CommandEnvelope out;
  EXPECT_FALSE(DecodeCommand(Bytes(e), &out).has_value());
  e.set_correlation_id(Text(kMaxRecordBytes - base - 3));
  auto r = DecodeCommand(Bytes(e), &out);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, ev::REJECT_REASON_RECORD_TOO_LARGE);
}

}  // namespace
}  // namespace payorch::command
