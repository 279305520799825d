// Fuzz target: the command path of one partition, bytes to events. The input is a
// sequence of records, each a 2-byte little-endian length then that many bytes (a short
// tail is one last record). Each record goes through the admission path a writer uses,
// DecodeCommand -> CheckEnvelope -> DecideAndApply, against per-payment states kept across
// records (so a create followed by a capture reaches deep states). To let short inputs
// reach an existing payment, a payment_id of "$0" addresses the payment the target creates
// first (m_cobranded, "order-0", pending authorization), and an operation_key of "$k"
// names that payment's pending operation.
//
// Checked: decide() never crashes and yields at least one event per command; every event
// serialises and re-parses; no PaymentCreated keeps a Luhn-valid card number in metadata
// or customer_reference.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "command/aggregate.h"
#include "command/parser.h"
#include "command/plan_builder.h"
#include "config/config.h"

namespace {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
using payorch::command::PaymentState;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

struct Partition {
  payorch::command::PlanBuilder plans{payorch::config::DefaultConfig()};
  std::map<std::string, PaymentState> states;
  PaymentState orphan;
  int64_t offset = 0;
  std::string primed;  // the payment "$0" stands for
  std::vector<ev::EventEnvelope> events;

  void Decide(const cmd::CommandEnvelope& e) {
    const std::string target = payorch::command::TargetPaymentId(e);
    PaymentState& s = target.empty() ? orphan : states[target];
    if (target.empty()) {
      orphan = PaymentState{};
    } else if (s.payment_id.empty()) {
      s.payment_id = target;
    }
    payorch::command::CommandRecord rec{&e, "payorch.commands", 0, offset++,
                                        1'700'000'000'000 + offset * 10};
    events.clear();
    payorch::command::DecideAndApply(s, rec, {&plans, 1}, events);
    Check(!events.empty(), "a command yielded no event");
    for (const auto& event : events) {
      std::string bytes;
      Check(event.SerializeToString(&bytes), "event does not serialise");
      ev::EventEnvelope back;
      Check(back.ParseFromString(bytes), "event does not re-parse");
      if (event.has_payment_created()) {
        const auto& pc = event.payment_created();
        Check(!payorch::command::LooksLikePan(pc.customer_reference()), "PAN in reference");
        for (const auto& [k, v] : pc.metadata()) {
          Check(!payorch::command::LooksLikePan(k) && !payorch::command::LooksLikePan(v),
                "PAN in metadata");
        }
      }
    }
  }

  std::string PendingKey() const {
    auto it = states.find(primed);
    if (it == states.end()) return "";
    for (const auto& op : it->second.pending) return op.idempotency_key.str();
    return "";
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Partition p;
  {
    cmd::CommandEnvelope create;
    create.set_schema_version(1);
    auto* c = create.mutable_create();
    c->set_merchant_id("m_cobranded");
    c->set_idempotency_key("order-0");
    c->mutable_amount()->set_amount_minor(2'500);
    c->mutable_amount()->set_currency("USD");
    c->set_confirm(true);
    p.primed = payorch::command::TargetPaymentId(create);
    p.Decide(create);
  }
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int records = 0; !in.empty() && records < 64; ++records) {
    size_t n = in.size();
    if (in.size() >= 2) {
      n = static_cast<unsigned char>(in[0]) |
          (static_cast<size_t>(static_cast<unsigned char>(in[1])) << 8);
      in.remove_prefix(2);
      if (n > in.size()) n = in.size();
    }
    const std::string_view record = in.substr(0, n);
    in.remove_prefix(n);
    cmd::CommandEnvelope e;
    if (payorch::command::DecodeCommand(record, &e)) continue;  // dead-lettered
    if (e.payment_id() == "$0") e.set_payment_id(p.primed);
    if (e.has_gateway_result() && e.gateway_result().operation_key() == "$k") {
      e.mutable_gateway_result()->set_operation_key(p.PendingKey());
    }
    if (e.has_expire() && e.expire().operation_key() == "$k") {
      e.mutable_expire()->set_operation_key(p.PendingKey());
    }
    if (payorch::command::CheckEnvelope(e)) continue;  // rejected before decide()
    p.Decide(e);
  }
  return 0;
}
