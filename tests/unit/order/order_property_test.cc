// Properties of the order core over random command sequences:
//  - DecideAndApply leaves the state equal to folding its events, and Decide gives the
//    same bytes;
//  - one event per command, sequences gap-free from 1, ids "<order_id>/<sequence>";
//  - totals exact: every line is PriceLine's, subtotal + tax = total, within bounds;
//    captured <= total and refunded <= captured;
//  - the status moves only along the table's edges, and every edge is taken.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "command/money.h"
#include "order/order.h"
#include "order_harness.h"

namespace payorch::order {
namespace {

using namespace payorch::order::testing;  // NOLINT(google-build-using-namespace)

// A command in symbols, resolved against the order as the sequence runs, so that most
// commands are ones the order might accept.
struct Step {
  int kind = 0;           // 0 create, 1 link, 2 fact, 3 cancel
  int payment = 0;        // 0 the current or last payment, 1 a new one, 2 one never linked
  int fact = 1;           // PaymentFactKind 1..6, 0 for none
  int amount = 0;         // see AmountFor
  bool repeat = false;    // reuse the payment's last sequence
  int currency = 0;       // create: IDR, MYR, USD; link: 0 the order's, 1 another
  size_t line_count = 1;  // create: the first lines of `lines`
  std::vector<std::array<int64_t, 3>> lines;  // quantity, unit price in steps, tax bps
};

rc::Gen<std::array<int64_t, 3>> GenLine() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::inRange<int64_t>(1, 20), rc::gen::inRange<int64_t>(1, 5000),
                     rc::gen::inRange<int64_t>(0, 2500)),
      [](const std::tuple<int64_t, int64_t, int64_t>& t) {
        return std::array<int64_t, 3>{std::get<0>(t), std::get<1>(t), std::get<2>(t)};
      });
}

rc::Gen<Step> GenStep() {
  // At rapidcheck's nominal size, so that choices are uniform in every run (gen::element
  // and gen::inRange lean to their first values at small sizes).
  return rc::gen::resize(
      100,
      rc::gen::build<Step>(
          rc::gen::set(&Step::kind,
                       rc::gen::weightedElement<int>({{1, 0}, {4, 1}, {12, 2}, {1, 3}})),
          rc::gen::set(&Step::payment, rc::gen::weightedElement<int>({{8, 0}, {3, 1}, {1, 2}})),
          rc::gen::set(&Step::fact, rc::gen::element(0, 1, 2, 3, 4, 5, 6)),
          rc::gen::set(&Step::amount, rc::gen::element(0, 1, 2, 3, 4, 5, 6, 7)),
          rc::gen::set(&Step::repeat, rc::gen::weightedElement<bool>({{1, true}, {4, false}})),
          rc::gen::set(&Step::currency, rc::gen::element(0, 1, 2)),
          rc::gen::set(&Step::line_count, rc::gen::element<size_t>(1, 2, 3, 4, 5)),
          rc::gen::set(&Step::lines,
                       rc::gen::container<std::vector<std::array<int64_t, 3>>>(5, GenLine()))));
}

int64_t AmountFor(int choice, const OrderState& s) {
  switch (choice) {
    case 0:
      return s.total_minor;
    case 1:
      return s.total_minor / 2;
    case 2:
      return s.captured_minor + (s.total_minor - s.captured_minor + 1) / 2;
    case 3:
      return s.refunded_minor + (s.captured_minor - s.refunded_minor + 1) / 2;
    case 4:
      return s.captured_minor;
    case 5:
      return 0;
    case 6:
      return s.total_minor + 1;
    default:
      return s.refunded_minor + 1;
  }
}

// The edges taken by any run of the property, for the coverage check below.
std::map<std::tuple<int, int, int>, int>& TakenEdges() {
  static auto* taken = new std::map<std::tuple<int, int, int>, int>();
  return *taken;
}

class Driver {
 public:
  void Run(const Step& step) {
    ord::OrderCommandEnvelope command = Resolve(step);
    const OrderState before = h_.state();
    const ord::OrderEventEnvelope e = h_.Send(command);  // checks Decide == DecideAndApply
    const OrderState& after = h_.state();                //   and state == fold(events)

    // Sequences and ids.
    if (e.sequence() == 0) {
      RC_ASSERT(e.has_command_rejected());
      RC_ASSERT(!before.Exists());
      RC_ASSERT(e.event_id().rfind("cmd/", 0) == 0);
    } else {
      RC_ASSERT(e.sequence() == before.sequence + 1);
      RC_ASSERT(e.event_id() == "ord_1/" + std::to_string(e.sequence()));
    }
    RC_ASSERT(e.causation().count() == 1u);

    // Status only along the table.
    const auto trigger = TriggerOf(e);
    if (!trigger) {
      RC_ASSERT(after.status == before.status);
      RC_ASSERT(e.has_command_rejected() || e.has_command_deduplicated());
    } else {
      RC_ASSERT(IsOrderEdge(before.status, after.status, *trigger));
      ++TakenEdges()[{before.status, after.status, static_cast<int>(*trigger)}];
    }
    if (e.has_command_rejected() || e.has_command_deduplicated()) {
      OrderState expected = before;
      expected.sequence = after.sequence;
      RC_ASSERT(after == expected);
    }
    Evolve(folded_, e);
    RC_ASSERT(folded_ == after);  // DecideAndApply == fold of the events
    CheckTotals(after);
  }

 private:
  ord::OrderCommandEnvelope Resolve(const Step& step) {
    const OrderState& s = h_.state();
    static constexpr std::array<const char*, 3> kCurrencies = {"IDR", "MYR", "USD"};
    switch (step.kind) {
      case 0: {
        if (s.Exists() && step.repeat) return last_create_;
        const char* currency = kCurrencies[static_cast<size_t>(step.currency)];
        const int64_t unit = SettlementStepMinor(*FindCurrency(currency));
        std::vector<ord::OrderLineItem> items;
        for (size_t i = 0; i < step.line_count && i < step.lines.size(); ++i) {
          const auto& l = step.lines[i];
          items.push_back(Item("p" + std::to_string(items.size()), l[0], l[1] * unit,
                               static_cast<uint32_t>(l[2])));
        }
        last_create_ = Create(currency, std::move(items));
        return last_create_;
      }
      case 1: {
        const std::string id = PaymentFor(step.payment, /*linking=*/true);
        const std::string currency =
            step.currency == 1 ? std::string("MYR") == s.currency ? "USD" : "MYR" : s.currency;
        return Link(id, step.amount >= 6 ? s.total_minor - 1 : s.total_minor,
                    currency.empty() ? "USD" : currency);
      }
      case 2: {
        const std::string id = PaymentFor(step.payment, /*linking=*/false);
        uint64_t& seq = sequences_[id];
        if (!step.repeat || seq == 0) ++seq;
        return Fact(id, seq, static_cast<ord::PaymentFactKind>(step.fact),
                    AmountFor(step.amount, s));
      }
      default:
        return Cancel();
    }
  }

  std::string PaymentFor(int choice, bool linking) {
    const OrderState& s = h_.state();
    if (choice == 2) return "pay_never";
    if (choice == 1 && linking) return "pay_" + std::to_string(++payments_);
    if (!s.payment_id.empty()) return s.payment_id;
    if (!s.payments.empty()) return s.payments.back().payment_id;
    return "pay_" + std::to_string(++payments_);
  }

  static void CheckTotals(const OrderState& s) {
    if (!s.Exists()) return;
    int64_t subtotal = 0;
    int64_t tax = 0;
    const int64_t unit = SettlementStepMinor(*FindCurrency(s.currency));
    for (const OrderLine& line : s.lines) {
      const auto priced = PriceLine(line.quantity, line.unit_price_minor, line.tax_rate_bps, unit);
      RC_ASSERT(priced.has_value());
      RC_ASSERT(priced->net_minor == line.net_minor);
      RC_ASSERT(priced->tax_minor == line.tax_minor);
      RC_ASSERT(line.tax_minor % unit == 0);
      subtotal += line.net_minor;
      tax += line.tax_minor;
    }
    RC_ASSERT(s.subtotal_minor == subtotal);
    RC_ASSERT(s.tax_minor == tax);
    RC_ASSERT(s.total_minor == subtotal + tax);
    RC_ASSERT(s.total_minor <= kMaxAmountMinor);
    RC_ASSERT(s.captured_minor <= s.total_minor);
    RC_ASSERT(s.refunded_minor <= s.captured_minor);
    RC_ASSERT((s.status == ord::ORDER_STATUS_REFUNDED) ==
              (s.refunded_minor > 0 && s.refunded_minor >= s.captured_minor));
  }

  OrderHarness h_;
  OrderState folded_;
  ord::OrderCommandEnvelope last_create_;
  std::map<std::string, uint64_t> sequences_;
  int payments_ = 0;
};

// Orders driven by one case of the property: rapidcheck runs 100 cases.
constexpr int kOrdersPerCase = 40;

TEST(OrderProperty, CommandSequencesKeepEveryInvariantAndTakeEveryEdge) {
  MakeBreachesFatal();
  const bool ok = rc::check("random command sequences", [] {
    for (int order = 0; order < kOrdersPerCase; ++order) {
      // Every sequence starts with a create (most are valid), so that the order exists.
      std::vector<Step> steps = *rc::gen::container<std::vector<Step>>(GenStep());
      Step create = *GenStep();
      create.kind = 0;
      steps.insert(steps.begin(), create);
      Driver driver;
      for (const Step& step : steps) driver.Run(step);
    }
  });
  EXPECT_TRUE(ok);
  for (const OrderEdge& edge : kOrderEdges) {
    const int taken = TakenEdges()[{edge.from, edge.to, static_cast<int>(edge.trigger)}];
    std::printf("%6d %s -%s-> %s\n", taken, OrderStatusName(edge.from), TriggerName(edge.trigger),
                OrderStatusName(edge.to));
    EXPECT_GT(taken, 0) << "never taken: " << OrderStatusName(edge.from) << " -"
                        << TriggerName(edge.trigger) << "-> " << OrderStatusName(edge.to);
  }
}

// Any envelope at all, against an order in any status: one event, and a refusal or repeat
// changes nothing but the sequence (the harness checks Decide == DecideAndApply and the
// fold).
// Valid UTF-8 only, as a parsed proto3 command holds: some of it multi-byte, so that cuts at
// a length limit land inside characters.
rc::Gen<std::string> GenText() {
  const auto pieces = rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
      "a", "Z", "0", "-", " ", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80"));
  return rc::gen::oneOf(rc::gen::element<std::string>("", "ord_1", "m_1", "pay_1", "USD", "IDR",
                                                      "usd", std::string(300, 'x')),
                        rc::gen::map(pieces,
                                     [](const std::vector<std::string>& parts) {
                                       std::string out;
                                       for (const auto& p : parts) out += p;
                                       return out;
                                     }),
                        rc::gen::map(rc::gen::inRange(40, 90), [](int n) {
                          std::string out;
                          for (int i = 0; i < n; ++i) out += "\xe6\x97\xa5";  // 3 bytes each
                          return out;
                        }));
}

rc::Gen<int64_t> GenAmount() {
  return rc::gen::oneOf(rc::gen::element<int64_t>(INT64_MIN, -1, 0, 1, 100, 4938, kMaxAmountMinor,
                                                  kMaxAmountMinor + 1, INT64_MAX),
                        rc::gen::arbitrary<int64_t>());
}

ord::OrderCommandEnvelope GenHostileCommand() {
  ord::OrderCommandEnvelope c;
  c.set_schema_version(*rc::gen::element<uint32_t>(1, 1, 1, 0, 2));
  c.set_command_id(*GenText());
  c.set_correlation_id(*GenText());
  c.set_order_id(*rc::gen::element<std::string>("ord_1", "ord_1", "", std::string(65, 'o')));
  c.set_merchant_id(*rc::gen::element<std::string>("", "", "m_1", "m_2"));
  switch (*rc::gen::inRange(0, 5)) {
    case 0: {
      ord::CreateOrder* create = c.mutable_create();
      create->set_merchant_id(*rc::gen::element<std::string>("m_1", "", "m_2"));
      create->set_currency(*GenText());
      create->set_customer_reference(*GenText());
      const int lines = *rc::gen::element(0, 1, 2, 101);
      for (int i = 0; i < lines; ++i) {
        ord::OrderLineItem* item = create->add_line_items();
        item->set_product_id(*GenText());
        item->set_quantity(*GenAmount());
        item->set_unit_price_minor(*GenAmount());
        item->set_tax_rate_bps(*rc::gen::element<uint32_t>(0, 1100, 10000, 10001, UINT32_MAX));
      }
      break;
    }
    case 1:
      c.mutable_link_payment()->set_payment_id(*GenText());
      c.mutable_link_payment()->mutable_amount()->set_amount_minor(*GenAmount());
      c.mutable_link_payment()->mutable_amount()->set_currency(*GenText());
      break;
    case 2: {
      ord::RecordPaymentFact* f = c.mutable_payment_fact();
      f->set_payment_id(*rc::gen::element<std::string>("pay_1", "pay_2", ""));
      f->set_payment_sequence(*rc::gen::arbitrary<uint64_t>());
      f->set_kind(static_cast<ord::PaymentFactKind>(*rc::gen::inRange(0, 9)));
      f->set_amount_minor(*GenAmount());
      f->set_detail(*GenText());
      break;
    }
    case 3:
      c.mutable_cancel()->set_reason(*GenText());
      break;
    default:
      break;  // no command
  }
  return c;
}

TEST(OrderProperty, AnyEnvelopeYieldsOneEventAndRefusalsChangeNothing) {
  MakeBreachesFatal();
  const bool ok = rc::check("hostile envelopes", [] {
    OrderHarness h;
    // A prefix that takes the order somewhere, then anything.
    h.Send(Create("USD", {Item("sku-1", 2, 1999, 1100), Item("sku-2", 1, 500)}));
    const int prefix = *rc::gen::inRange(0, 4);
    if (prefix >= 1) h.Send(Link("pay_1", 4938));
    if (prefix >= 2) h.Send(Fact("pay_1", 3, ord::PAYMENT_FACT_KIND_AUTHORIZED, 4938));
    if (prefix >= 3) h.Send(Fact("pay_1", 4, ord::PAYMENT_FACT_KIND_CAPTURED, 4938));
    const int commands = *rc::gen::inRange(1, 20);
    for (int i = 0; i < commands; ++i) {
      const OrderState before = h.state();
      const ord::OrderEventEnvelope e = h.Send(GenHostileCommand());
      RC_ASSERT(e.event_case() != ord::OrderEventEnvelope::EVENT_NOT_SET);
      RC_ASSERT(e.causation().command_id().size() <= kMaxCommandIdLength);
      RC_ASSERT(e.correlation_id().size() <= kMaxCommandIdLength);
      RC_ASSERT(e.command_rejected().detail().size() <= kMaxTextLength);
      if (e.has_command_rejected() || e.has_command_deduplicated()) {
        OrderState expected = before;
        expected.sequence = h.state().sequence;
        RC_ASSERT(h.state() == expected);
      }
    }
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace payorch::order
