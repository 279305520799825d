// Properties of the invoice core. The schedule: for random line items, tax rates, fees,
// 2 to 12 installments (weighted or not) in IDR, MYR and USD, every column sums exactly,
// no share is negative, each non-last share is its proportional share rounded down to the
// settlement step (the last absorbs the rounding), rupiah amounts are whole rupiah. The
// aggregate: over random command sequences, deciding then applying equals folding the
// events, every command yields events, sequences are gap-free and money is never applied
// beyond an installment.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "invoice/invoice.h"
#include "invoice_harness.h"

namespace payorch::invoice {
namespace {

using testing::Command;
using testing::Event;

const std::vector<std::string> kCurrencies = {"IDR", "MYR", "USD"};

rc::Gen<uint32_t> TaxRate() {
  return rc::gen::oneOf(
      rc::gen::elementOf(std::vector<uint32_t>{0, 500, 600, 825, 1000, 1100, 10'000}),
      rc::gen::inRange<uint32_t>(0, kMaxRateBps + 1));
}

// Line items whose amounts are multiples of `step`, some tiny, some large.
std::vector<Line> GenLines(int64_t step) {
  const auto n = *rc::gen::inRange<size_t>(1, 21);
  std::vector<Line> lines;
  for (size_t i = 0; i < n; ++i) {
    const int64_t units = *rc::gen::oneOf(rc::gen::inRange<int64_t>(1, 10),
                                          rc::gen::inRange<int64_t>(1, 100'000'000));
    lines.push_back({*rc::gen::inRange<int64_t>(1, 1'000), units * step, *TaxRate()});
  }
  return lines;
}

// a * w / sum rounded down to step, checked without ProportionalShare: the share s is a
// multiple of step with s * sum <= a * w < (s + step) * sum.
void CheckShare(int64_t share, int64_t column, uint32_t w, uint64_t sum, int64_t step) {
  RC_ASSERT(share >= 0);
  RC_ASSERT(share % step == 0);
  const __int128 exact = static_cast<__int128>(column) * w;
  RC_ASSERT(static_cast<__int128>(share) * sum <= exact);
  RC_ASSERT(exact < static_cast<__int128>(share + step) * sum);
}

RC_GTEST_PROP(InvoiceScheduleProperty, ColumnsSumExactlyAndTheLastAbsorbsTheRounding, ()) {
  const std::string currency = *rc::gen::elementOf(kCurrencies);
  const int64_t step = currency == "IDR" ? 100 : 1;
  const std::vector<Line> lines = GenLines(step);
  const Fee fee{step * *rc::gen::inRange<int64_t>(0, 10'000),
                *rc::gen::inRange<uint32_t>(0, 1'001)};
  Pricing p;
  const auto refused = PriceLines(lines, currency, fee, &p);
  RC_ASSERT(!refused);
  RC_ASSERT(p.step_minor == step);
  int64_t subtotal = 0, tax = 0;
  for (const PricedLine& l : p.lines) {
    RC_ASSERT(l.tax_minor % step == 0);
    subtotal += l.net_minor;
    tax += l.tax_minor;
  }
  RC_ASSERT(p.totals.principal_minor == subtotal);
  RC_ASSERT(p.totals.tax_minor == tax);
  RC_ASSERT(p.totals.fee_minor == ServiceFeeMinor(subtotal, fee, step));
  RC_ASSERT(p.totals.fee_minor % step == 0);

  const auto count = *rc::gen::inRange<uint32_t>(kMinInstallments, kMaxInstallments + 1);
  std::vector<uint32_t> weights(count, 1);
  if (*rc::gen::arbitrary<bool>()) {
    for (uint32_t& w : weights) w = *rc::gen::inRange<uint32_t>(1, kMaxInstallmentWeight + 1);
  }
  const uint64_t sum = std::accumulate(weights.begin(), weights.end(), uint64_t{0});
  std::vector<Columns> rows;
  const auto distributed = Distribute(p.totals, weights, step, &rows);
  RC_CLASSIFY(distributed.has_value(), "too small");
  if (distributed) {
    RC_ASSERT(distributed->reason == inv::REJECT_REASON_INSTALLMENT_TOO_SMALL);
    return;
  }
  RC_ASSERT(rows.size() == count);
  Columns summed;
  for (uint32_t i = 0; i < count; ++i) {
    const Columns& r = rows[i];
    if (i + 1 < count) {
      CheckShare(r.principal_minor, p.totals.principal_minor, weights[i], sum, step);
      CheckShare(r.tax_minor, p.totals.tax_minor, weights[i], sum, step);
      CheckShare(r.fee_minor, p.totals.fee_minor, weights[i], sum, step);
    }
    RC_ASSERT(r.principal_minor >= 0 && r.tax_minor >= 0 && r.fee_minor >= 0);
    RC_ASSERT(r.total_minor() > 0);
    RC_ASSERT(r.principal_minor % step == 0 && r.tax_minor % step == 0 && r.fee_minor % step == 0);
    summed.principal_minor += r.principal_minor;
    summed.tax_minor += r.tax_minor;
    summed.fee_minor += r.fee_minor;
  }
  RC_ASSERT(summed == p.totals);
}

RC_GTEST_PROP(InvoiceScheduleProperty, TooSmallOnlyWhenSomeInstallmentWouldBeZero, ()) {
  const std::string currency = *rc::gen::elementOf(kCurrencies);
  const int64_t step = currency == "IDR" ? 100 : 1;
  const Columns totals{step * *rc::gen::inRange<int64_t>(0, 40),
                       step * *rc::gen::inRange<int64_t>(0, 40),
                       step * *rc::gen::inRange<int64_t>(0, 40)};
  const auto count = *rc::gen::inRange<uint32_t>(kMinInstallments, kMaxInstallments + 1);
  std::vector<uint32_t> weights(count);
  for (uint32_t& w : weights) w = *rc::gen::inRange<uint32_t>(1, 20);
  const uint64_t sum = std::accumulate(weights.begin(), weights.end(), uint64_t{0});
  bool some_zero = false;
  int64_t given = 0;
  for (uint32_t i = 0; i + 1 < count; ++i) {
    const int64_t t = ProportionalShare(totals.principal_minor, weights[i], sum, step) +
                      ProportionalShare(totals.tax_minor, weights[i], sum, step) +
                      ProportionalShare(totals.fee_minor, weights[i], sum, step);
    some_zero = some_zero || t == 0;
    given += t;
  }
  some_zero = some_zero || totals.total_minor() - given == 0;
  std::vector<Columns> rows;
  const auto refused = Distribute(totals, weights, step, &rows);
  RC_ASSERT(static_cast<bool>(refused) == some_zero);
}

// One random command for the invoice as it stands: mostly ones that make progress.
Command GenCommand(const InvoiceState& s, int64_t step) {
  using namespace testing;  // NOLINT: the builders
  const std::string cur = s.Exists() ? s.currency : *rc::gen::elementOf(kCurrencies);
  // Mostly a payment already linked (facts) or a new one (links); sometimes any.
  std::string pay = "pay_" + std::to_string(*rc::gen::inRange(0, 8));
  if (!s.payments.empty() && *rc::gen::inRange(0, 4) != 0) {
    pay = s.payments[*rc::gen::inRange<size_t>(0, s.payments.size())].payment_id;
  }
  const auto inst = *rc::gen::inRange<uint32_t>(0, 5);
  auto item = [&] {
    return Item(*rc::gen::inRange<int64_t>(1, 5), step * *rc::gen::inRange<int64_t>(1, 2'000),
                *TaxRate());
  };
  const LinkedPayment* p = s.FindPayment(pay);
  const int kind = !s.Exists() && *rc::gen::inRange(0, 5) != 0 ? 0 : *rc::gen::inRange(0, 10);
  switch (kind) {
    case 0: {
      Command c = Create(cur, {item(), item()}, step * *rc::gen::inRange<int64_t>(0, 50),
                         *rc::gen::inRange<uint32_t>(0, 500));
      const auto count = *rc::gen::inRange<uint32_t>(1, 6);
      if (count > 1) {
        std::vector<uint32_t> weights;
        if (*rc::gen::arbitrary<bool>()) weights = {1, 2, 3, 4, 5};
        weights.resize(weights.empty() ? 0 : count);
        c = WithPlan(std::move(c), MonthlyPlan(count, weights));
      }
      return c;
    }
    case 1:
      return Revise({item()});
    case 2:
    case 3: {
      // Link the next installment for what it needs (sometimes less, sometimes nonsense).
      uint32_t next = 1;
      while (next <= s.installments.size() && s.installments[next - 1].paid) ++next;
      const int64_t need =
          next <= s.installments.size() ? s.installments[next - 1].outstanding_minor() : step;
      const int64_t amount = *rc::gen::elementOf(
          std::vector<int64_t>{need, need, need > step ? need - step : need, step * 3});
      const std::string fresh = "pay_" + std::to_string(s.payments.size());
      return Link(*rc::gen::element(fresh, fresh, pay), *rc::gen::element(next, next, inst), amount,
                  cur);
    }
    case 4:
    case 5:
    case 6: {
      const int64_t before = p != nullptr ? p->captured_minor : 0;
      const int64_t amount = p != nullptr ? p->amount_minor : step;
      const int64_t captured = *rc::gen::elementOf(std::vector<int64_t>{
          amount, amount, before, before + step, amount + step * 7, before - step});
      return Succeeded(pay, captured, cur);
    }
    case 7:
      return Failed(pay);
    case 8:
      return Supplementary("sup_" + std::to_string(inst), {item()});
    default:
      return *rc::gen::element(0, 1) == 0 ? Close() : Cancel();
  }
}

RC_GTEST_PROP(InvoiceAggregateProperty, DecideThenEvolveEqualsFoldingTheEvents, ()) {
  testing::MakeBreachesFatal();
  InvoiceState state;
  std::vector<Event> log;
  const auto steps = *rc::gen::inRange(1, 60);
  for (int i = 0; i < steps; ++i) {
    const int64_t step = state.Exists() ? (state.currency == "IDR" ? 100 : 1) : 100;
    Command c = GenCommand(state, step);
    c.set_schema_version(kSchemaVersion);
    c.set_invoice_id("inv_p");
    c.set_command_id("c" + std::to_string(i));
    const InvoiceCommandRecord rec{&c, "invoice-commands", 2, i, 1'000 * i};
    const InvoiceState before = state;
    const auto decided = Decide(state, rec, {7});
    RC_ASSERT(state == before);
    std::vector<Event> out;
    DecideAndApply(state, rec, {7}, out);
    RC_ASSERT(!out.empty());
    RC_ASSERT(out.size() == decided.size());
    for (size_t k = 0; k < out.size(); ++k) {
      RC_ASSERT(out[k].SerializeAsString() == decided[k].SerializeAsString());
      RC_ASSERT(out[k].causation().index() == k);
      RC_ASSERT(out[k].causation().count() == out.size());
    }
    log.insert(log.end(), out.begin(), out.end());

    InvoiceState folded;
    for (const Event& e : log) Evolve(folded, e);
    RC_ASSERT(folded == state);

    uint64_t seq = 0;
    for (const Event& e : log) {
      if (e.sequence() == 0) continue;
      RC_ASSERT(e.sequence() == ++seq);
      RC_ASSERT(e.event_id() == "inv_p/" + std::to_string(seq));
    }
    RC_ASSERT(state.sequence == seq);

    // Money: never beyond an installment; paid in order; PAID exactly when all are.
    int64_t paid = 0;
    bool earlier_paid = true;
    for (const InstallmentState& inst : state.installments) {
      RC_ASSERT(inst.paid_minor >= 0 && inst.paid_minor <= inst.total_minor());
      RC_ASSERT(inst.paid == (inst.paid_minor == inst.total_minor()));
      if (inst.paid_minor > 0) RC_ASSERT(earlier_paid);
      earlier_paid = earlier_paid && inst.paid;
      paid += inst.paid_minor;
    }
    RC_ASSERT(paid == state.paid_minor);
    RC_ASSERT(state.overpaid_minor >= 0);
    const bool done =
        state.status == inv::INVOICE_STATUS_PAID || state.status == inv::INVOICE_STATUS_CLOSED;
    RC_ASSERT(done == (state.Exists() && state.AllPaid()));
    int64_t captured = 0;
    for (const LinkedPayment& lp : state.payments) captured += lp.captured_minor;
    RC_ASSERT(captured == state.paid_minor + state.overpaid_minor);
  }
  RC_CLASSIFY(state.AllPaid(), "paid");
  RC_CLASSIFY(state.overpaid_minor > 0, "overpaid");
  RC_CLASSIFY(state.paid_minor > 0 && !state.AllPaid(), "partly paid");
  RC_CLASSIFY(std::any_of(state.payments.begin(), state.payments.end(),
                          [](const LinkedPayment& lp) { return lp.released; }),
              "released");
  RC_CLASSIFY(!state.supplementaries.empty(), "supplementary");
}

// Commands with arbitrary numbers (negative, huge, out of every range) and odd strings,
// against an invoice with a plan: every one yields events, nothing breaks an invariant of
// the fold, no arithmetic overflows (the build runs UBSan in make sanitize).
RC_GTEST_PROP(InvoiceAggregateProperty, HostileCommandsAlwaysYieldEvents, ()) {
  testing::MakeBreachesFatal();
  testing::InvoiceHarness h("inv_h");
  h.Send(testing::WithPlan(testing::Create("IDR", {testing::Item(1, 1'000'000, 1100)}),
                           testing::MonthlyPlan(3)));
  auto num = [] {
    return *rc::gen::oneOf(rc::gen::arbitrary<int64_t>(),
                           rc::gen::elementOf(std::vector<int64_t>{
                               0, -1, 1, 100, kMaxAmountMinor, kMaxAmountMinor + 1, INT64_MAX,
                               INT64_MIN, kMaxLineQuantity, kMaxLineQuantity + 1}));
  };
  auto text = [] {
    return *rc::gen::oneOf(rc::gen::elementOf(std::vector<std::string>{"", "pay_0", "pay_1", "IDR",
                                                                       "USD", "idr", "inv_h"}),
                           rc::gen::map(rc::gen::inRange<size_t>(0, 300),
                                        [](size_t n) { return std::string(n, 'x'); }));
  };
  auto item = [&] { return testing::Item(num(), num(), *rc::gen::arbitrary<uint32_t>(), text()); };
  const auto steps = *rc::gen::inRange(1, 30);
  for (int i = 0; i < steps; ++i) {
    Command c;
    switch (*rc::gen::inRange(0, 8)) {
      case 0:
        c = testing::Create(text(), {item()}, num(), *rc::gen::arbitrary<uint32_t>());
        if (*rc::gen::arbitrary<bool>()) {
          auto* plan = c.mutable_create()->mutable_installment_plan();
          plan->set_count(*rc::gen::arbitrary<uint32_t>());
          *plan->add_due_dates() =
              testing::Day(*rc::gen::arbitrary<int32_t>(), *rc::gen::arbitrary<uint32_t>(),
                           *rc::gen::arbitrary<uint32_t>());
          plan->add_weights(*rc::gen::arbitrary<uint32_t>());
        }
        break;
      case 1:
        c = testing::Revise({item()});
        break;
      case 2:
        c = testing::Link(text(), *rc::gen::arbitrary<uint32_t>(), num(), text());
        break;
      case 3:
        c = testing::Link("pay_" + std::to_string(i), *rc::gen::inRange<uint32_t>(1, 4),
                          100 * *rc::gen::inRange<int64_t>(1, 20'000), "IDR");
        break;
      case 4:
        c = testing::Succeeded(text(), num(), text());
        break;
      case 5:
        c = testing::Failed(text(), text());
        break;
      case 6:
        c = testing::Supplementary(text(), {item()});
        break;
      default:
        c = *rc::gen::arbitrary<bool>() ? testing::Close() : testing::Cancel();
        break;
    }
    if (*rc::gen::inRange(0, 10) == 0) c.set_merchant_id(text());
    if (*rc::gen::inRange(0, 10) == 0) c.set_command_id(text());
    RC_ASSERT(!h.Send(std::move(c)).empty());
  }
  InvoiceState folded;
  for (const Event& e : h.log()) Evolve(folded, e);
  RC_ASSERT(folded == h.state());
  RC_ASSERT(h.state().paid_minor <= h.state().total_minor());
}

}  // namespace
}  // namespace payorch::invoice
