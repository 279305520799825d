// The invoice aggregate (invoice/invoice.h): a full paid-in-installments flow, then one
// test per rule: refusals, repeats, headers, the single-payment invoice.
#include "invoice/invoice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "command/invariants.h"
#include "invoice_harness.h"

namespace payorch::invoice {
namespace {

using testing::Cancel;
using testing::Close;
using testing::Command;
using testing::Create;
using ::testing::ElementsAre;
using testing::Event;
using testing::Failed;
using testing::InvoiceHarness;
using testing::Item;
using testing::Link;
using testing::MonthlyPlan;
using testing::Names;
using testing::Revise;
using testing::Succeeded;
using testing::Supplementary;
using testing::WithPlan;

// docs/invoices.md's worked example: IDR 4,869,600 minor in three installments of
// 1,623,100, 1,623,100 and 1,623,400.
Command WorkedExample() {
  return WithPlan(Create("IDR", {Item(3, 1'250'000, 1100), Item(1, 99'900, 1100)}, 500'000, 250),
                  MonthlyPlan(3));
}

InvoiceState Fold(const std::vector<Event>& events) {
  InvoiceState s;
  for (const Event& e : events) Evolve(s, e);
  return s;
}

TEST(InvoiceFlowTest, PaidInInstallmentsWithARetrySupplementaryAndOverpayment) {
  InvoiceHarness h;
  auto created = h.Send(WorkedExample());
  ASSERT_THAT(Names(created), ElementsAre("InvoiceCreated"));
  const inv::InvoiceCreated& c = created[0].invoice_created();
  EXPECT_EQ(c.totals().total_minor(), 4'869'600);
  ASSERT_EQ(c.installments_size(), 3);
  EXPECT_EQ(c.installments(0).total_minor(), 1'623'100);
  EXPECT_EQ(c.installments(1).total_minor(), 1'623'100);
  EXPECT_EQ(c.installments(2).total_minor(), 1'623'400);
  EXPECT_EQ(c.installments(2).due_date().month(), 3u);
  EXPECT_EQ(h.state().status, inv::INVOICE_STATUS_OPEN);

  // Installment 2 waits for 1. The first link freezes the line items.
  EXPECT_EQ(h.Rejection(Link("pay_1", 2, 1'623'100, "IDR")),
            inv::REJECT_REASON_INSTALLMENT_OUT_OF_ORDER);
  EXPECT_THAT(Names(h.Send(Link("pay_1", 1, 1'623'100, "IDR"))), ElementsAre("PaymentLinked"));
  EXPECT_THAT(Names(h.Send(Link("pay_1", 1, 1'623'100, "IDR"))),
              ElementsAre("CommandDeduplicated"));
  EXPECT_EQ(h.Rejection(Revise({Item(1, 100, 0)})), inv::REJECT_REASON_LINE_ITEMS_FROZEN);
  EXPECT_EQ(h.Rejection(Cancel()), inv::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  EXPECT_EQ(h.Rejection(Link("pay_2", 1, 1'623'100, "IDR")), inv::REJECT_REASON_PAYMENT_IN_FLIGHT);

  // Declined: the installment is released and paid by a retry.
  auto released = h.Send(Failed("pay_1"));
  ASSERT_THAT(Names(released), ElementsAre("PaymentReleased"));
  EXPECT_EQ(released[0].payment_released().installment(), 1u);
  EXPECT_THAT(Names(h.Send(Failed("pay_1"))), ElementsAre("CommandDeduplicated"));
  EXPECT_EQ(h.Rejection(Link("pay_1", 1, 1'623'100, "IDR")),
            inv::REJECT_REASON_PAYMENT_ALREADY_LINKED);
  EXPECT_EQ(h.Rejection(Link("pay_2", 1, 1'623'100, "USD")), inv::REJECT_REASON_CURRENCY_MISMATCH);
  EXPECT_EQ(h.Rejection(Link("pay_2", 1, 1'623'150, "IDR")), inv::REJECT_REASON_AMOUNT_PRECISION);
  ASSERT_THAT(Names(h.Send(Link("pay_2", 1, 1'623'100, "IDR"))), ElementsAre("PaymentLinked"));

  // Captures arrive as running totals: only the difference is applied.
  auto part = h.Send(Succeeded("pay_2", 1'000'000, "IDR"));
  ASSERT_THAT(Names(part), ElementsAre("PaymentApplied"));
  EXPECT_EQ(part[0].payment_applied().applied_minor(), 1'000'000);
  EXPECT_EQ(part[0].payment_applied().outstanding_minor(), 623'100);
  EXPECT_EQ(h.state().status, inv::INVOICE_STATUS_PARTIALLY_PAID);
  EXPECT_THAT(Names(h.Send(Succeeded("pay_2", 1'000'000, "IDR"))),
              ElementsAre("CommandDeduplicated"));
  EXPECT_EQ(h.Rejection(Succeeded("pay_2", 900'000, "IDR")), inv::REJECT_REASON_PAYMENT_FACT_STALE);
  auto rest = h.Send(Succeeded("pay_2", 1'623'100, "IDR"));
  ASSERT_THAT(Names(rest), ElementsAre("PaymentApplied", "InstallmentPaid"));
  EXPECT_EQ(rest[0].payment_applied().applied_minor(), 623'100);
  EXPECT_EQ(rest[1].installment_paid().payment_id(), "pay_2");
  EXPECT_EQ(h.Rejection(Failed("pay_2")), inv::REJECT_REASON_PAYMENT_ALREADY_SETTLED);
  EXPECT_EQ(h.Rejection(Link("pay_9", 1, 1'623'100, "IDR")),
            inv::REJECT_REASON_INSTALLMENT_ALREADY_PAID);

  // A change after payment started: a supplementary invoice, same currency and fee rule.
  auto supp = h.Send(Supplementary("inv_1-s1", {Item(1, 200'000, 1100)}));
  ASSERT_THAT(Names(supp), ElementsAre("SupplementaryIssued"));
  const inv::InvoiceTotals& st = supp[0].supplementary_issued().totals();
  EXPECT_EQ(st.currency(), "IDR");
  EXPECT_EQ(st.subtotal_minor(), 200'000);
  EXPECT_EQ(st.tax_minor(), 22'000);
  EXPECT_EQ(st.service_fee_minor(), 505'000);
  EXPECT_EQ(st.total_minor(), 727'000);
  EXPECT_THAT(Names(h.Send(Supplementary("inv_1-s1", {Item(1, 200'000, 1100)}))),
              ElementsAre("CommandDeduplicated"));
  EXPECT_EQ(h.Rejection(Supplementary("inv_1-s1", {Item(2, 200'000, 1100)})),
            inv::REJECT_REASON_SUPPLEMENTARY_EXISTS);
  EXPECT_EQ(h.state().total_minor(), 4'869'600);  // this invoice's totals do not change

  // Installment 2 captured beyond its total: the excess is recorded, never applied to 3.
  ASSERT_THAT(Names(h.Send(Link("pay_3", 2, 1'623'100, "IDR"))), ElementsAre("PaymentLinked"));
  auto over = h.Send(Succeeded("pay_3", 1'700'000, "IDR"));
  ASSERT_THAT(Names(over), ElementsAre("PaymentApplied", "InstallmentPaid", "InvoiceOverpaid"));
  EXPECT_EQ(over[0].payment_applied().applied_minor(), 1'623'100);
  EXPECT_EQ(over[2].invoice_overpaid().amount_minor(), 76'900);
  EXPECT_EQ(over[2].invoice_overpaid().total_overpaid_minor(), 76'900);
  EXPECT_EQ(over[2].invoice_overpaid().captured_total_minor(), 1'700'000);
  EXPECT_EQ(h.state().installments[2].paid_minor, 0);
  EXPECT_EQ(h.Rejection(Close()), inv::REJECT_REASON_TRANSITION_NOT_ALLOWED);

  ASSERT_THAT(Names(h.Send(Link("pay_4", 3, 1'623'400, "IDR"))), ElementsAre("PaymentLinked"));
  auto last = h.Send(Succeeded("pay_4", 1'623'400, "IDR"));
  ASSERT_THAT(Names(last), ElementsAre("PaymentApplied", "InstallmentPaid", "InvoicePaid"));
  EXPECT_EQ(last[2].invoice_paid().paid_minor(), 4'869'600);
  EXPECT_EQ(h.state().status, inv::INVOICE_STATUS_PAID);
  EXPECT_EQ(h.state().overpaid_minor, 76'900);
  EXPECT_EQ(h.Rejection(Link("pay_5", 3, 100, "IDR")), inv::REJECT_REASON_TRANSITION_NOT_ALLOWED);

  EXPECT_THAT(Names(h.Send(Close())), ElementsAre("InvoiceClosed"));
  EXPECT_THAT(Names(h.Send(Close())), ElementsAre("CommandDeduplicated"));
  EXPECT_EQ(h.state().status, inv::INVOICE_STATUS_CLOSED);

  // Every event of the invoice: gap-free sequence, deterministic ids; the fold is the state.
  uint64_t seq = 0;
  for (const Event& e : h.log()) {
    ASSERT_EQ(e.sequence(), ++seq);
    EXPECT_EQ(e.event_id(), "inv_1/" + std::to_string(seq));
    EXPECT_EQ(e.invoice_id(), "inv_1");
    EXPECT_EQ(e.merchant_id(), "m_1");
    EXPECT_EQ(e.epoch(), 3u);
  }
  EXPECT_EQ(Fold(h.log()), h.state());
}

TEST(InvoiceHeaderTest, CausationAndTimeComeFromTheCommandRecord) {
  InvoiceHarness h;
  h.Send(WithPlan(Create("USD", {Item(1, 1'000, 0)}), MonthlyPlan(2)));
  h.Send(Link("pay_1", 1, 500, "USD"));
  auto events = h.Send(Succeeded("pay_1", 500, "USD"));
  ASSERT_EQ(events.size(), 2u);
  for (uint32_t i = 0; i < 2; ++i) {
    const Event& e = events[i];
    EXPECT_EQ(e.schema_version(), 1u);
    EXPECT_EQ(e.causation().topic(), "invoice-commands");
    EXPECT_EQ(e.causation().partition(), 0);
    EXPECT_EQ(e.causation().offset(), 102);
    EXPECT_EQ(e.causation().command_id(), "cmd-102");
    EXPECT_EQ(e.causation().index(), i);
    EXPECT_EQ(e.causation().count(), 2u);
    EXPECT_EQ(e.correlation_id(), "corr-1");
    EXPECT_EQ(e.occurred_at_ms(), 1'800'000'000'102);
  }
}

TEST(InvoiceHeaderTest, ACommandForNoInvoiceIsRejectedOutsideAnyInvoice) {
  InvoiceHarness h;
  auto events = h.Send(Link("pay_1", 1, 100, "USD"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].command_rejected().reason(), inv::REJECT_REASON_INVOICE_UNKNOWN);
  EXPECT_EQ(events[0].event_id(), "cmd/0/100/0");
  EXPECT_EQ(events[0].sequence(), 0u);
  EXPECT_EQ(events[0].invoice_id(), "");
  EXPECT_EQ(events[0].command_rejected().command_type(), "link_payment");
  EXPECT_EQ(h.state(), InvoiceState{});
}

TEST(InvoiceCreateTest, RefusalsCarryTheirReason) {
  struct Case {
    const char* name;
    Command command;
    inv::RejectReason reason;
  };
  auto no_merchant = Create("USD", {Item(1, 100, 0)});
  no_merchant.mutable_create()->clear_merchant_id();
  auto other_sender = Create("USD", {Item(1, 100, 0)});
  other_sender.set_merchant_id("m_2");
  auto bad_due = Create("USD", {Item(1, 100, 0)});
  *bad_due.mutable_create()->mutable_due_date() = testing::Day(2027, 2, 30);
  auto long_text = Create("USD", {Item(1, 100, 0)});
  long_text.mutable_create()->set_customer_reference(std::string(kMaxTextLength + 1, 'x'));
  auto bad_dates = WithPlan(Create("USD", {Item(1, 100, 0)}), MonthlyPlan(2));
  *bad_dates.mutable_create()->mutable_installment_plan()->mutable_due_dates(1) =
      testing::Day(2026, 12, 31);
  const Case cases[] = {
      {"euro", Create("EUR", {Item(1, 100, 0)}), inv::REJECT_REASON_CURRENCY_NOT_ACCEPTED},
      {"no lines", Create("USD", {}), inv::REJECT_REASON_LINE_ITEMS_MISSING},
      {"half rupiah", Create("IDR", {Item(1, 150, 0)}), inv::REJECT_REASON_AMOUNT_PRECISION},
      {"no merchant", no_merchant, inv::REJECT_REASON_MERCHANT_MISSING},
      {"other sender", other_sender, inv::REJECT_REASON_MERCHANT_MISMATCH},
      {"bad due date", bad_due, inv::REJECT_REASON_DUE_DATE_INVALID},
      {"long reference", long_text, inv::REJECT_REASON_FIELD_TOO_LONG},
      {"one installment", WithPlan(Create("USD", {Item(1, 100, 0)}), MonthlyPlan(1)),
       inv::REJECT_REASON_INSTALLMENT_COUNT_OUT_OF_RANGE},
      {"dates back", bad_dates, inv::REJECT_REASON_DUE_DATE_INVALID},
      {"weights", WithPlan(Create("USD", {Item(1, 100, 0)}), MonthlyPlan(2, {1, 0})),
       inv::REJECT_REASON_INSTALLMENT_WEIGHT_INVALID},
      {"too small", WithPlan(Create("USD", {Item(1, 2, 0)}), MonthlyPlan(3)),
       inv::REJECT_REASON_INSTALLMENT_TOO_SMALL},
  };
  for (const Case& c : cases) {
    InvoiceHarness h;
    auto events = h.Send(c.command);
    ASSERT_EQ(events.size(), 1u) << c.name;
    EXPECT_EQ(events[0].command_rejected().reason(), c.reason) << c.name;
    EXPECT_EQ(events[0].sequence(), 0u) << c.name;
    EXPECT_FALSE(h.state().Exists()) << c.name;
  }
}

TEST(InvoiceCreateTest, EnvelopeChecks) {
  InvoiceHarness h;
  Command c = Create("USD", {Item(1, 100, 0)});
  c.set_invoice_id("");
  c.set_schema_version(1);
  InvoiceCommandRecord rec{&c, "t", 0, 1, 5};
  EXPECT_EQ(Decide({}, rec, {}).at(0).command_rejected().reason(),
            inv::REJECT_REASON_INVOICE_ID_MISSING);
  c.set_invoice_id("inv_1");
  c.set_schema_version(2);
  EXPECT_EQ(Decide({}, rec, {}).at(0).command_rejected().reason(),
            inv::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED);
  Command empty;
  empty.set_schema_version(1);
  empty.set_invoice_id("inv_1");
  rec.command = &empty;
  EXPECT_EQ(Decide({}, rec, {}).at(0).command_rejected().reason(),
            inv::REJECT_REASON_COMMAND_MISSING);
}

TEST(InvoiceCreateTest, ARepeatIsDeduplicatedAndAnotherRequestRefused) {
  InvoiceHarness h;
  h.Send(Create("USD", {Item(1, 100, 0)}));
  EXPECT_THAT(Names(h.Send(Create("USD", {Item(1, 100, 0)}))), ElementsAre("CommandDeduplicated"));
  EXPECT_EQ(h.Rejection(Create("USD", {Item(2, 100, 0)})), inv::REJECT_REASON_INVOICE_EXISTS);
  Command other = Link("pay_1", 1, 100, "USD");
  other.set_merchant_id("m_2");
  EXPECT_EQ(h.Rejection(other), inv::REJECT_REASON_MERCHANT_MISMATCH);
}

TEST(InvoiceReviseTest, BeforeAnyLinkRevisesAndReschedules) {
  InvoiceHarness h;
  h.Send(WithPlan(Create("MYR", {Item(1, 1'000, 600)}, 100, 100), MonthlyPlan(2, {1, 3})));
  EXPECT_EQ(h.Rejection(Supplementary("inv_1-s1", {Item(1, 100, 0)})),
            inv::REJECT_REASON_LINE_ITEMS_NOT_FROZEN);
  auto revised = h.Send(Revise({Item(2, 1'000, 600)}));
  ASSERT_THAT(Names(revised), ElementsAre("LineItemsRevised"));
  const inv::LineItemsRevised& r = revised[0].line_items_revised();
  EXPECT_EQ(r.totals().subtotal_minor(), 2'000);
  EXPECT_EQ(r.totals().tax_minor(), 120);
  EXPECT_EQ(r.totals().service_fee_minor(), 120);  // 100 + 1% of 2,000
  ASSERT_EQ(r.installments_size(), 2);
  EXPECT_EQ(r.installments(0).total_minor(), 500 + 30 + 30);
  EXPECT_EQ(r.installments(1).total_minor(), 1'500 + 90 + 90);
  EXPECT_EQ(h.state().installments[1].row.columns.principal_minor, 1'500);
  EXPECT_EQ(h.Rejection(Revise({Item(0, 1'000, 600)})), inv::REJECT_REASON_QUANTITY_OUT_OF_RANGE);
}

TEST(InvoiceCancelTest, CancelOnlyBeforeAnyLink) {
  InvoiceHarness h;
  h.Send(Create("USD", {Item(1, 100, 0)}));
  EXPECT_EQ(h.Rejection(Close()), inv::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  EXPECT_THAT(Names(h.Send(Cancel())), ElementsAre("InvoiceCanceled"));
  EXPECT_THAT(Names(h.Send(Cancel())), ElementsAre("CommandDeduplicated"));
  EXPECT_EQ(h.state().status, inv::INVOICE_STATUS_CANCELED);
  EXPECT_EQ(h.Rejection(Link("pay_1", 1, 100, "USD")), inv::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  EXPECT_EQ(h.Rejection(Revise({Item(1, 100, 0)})), inv::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST(InvoicePaymentTest, OneCaptureOfASinglePaymentInvoicePaysIt) {
  InvoiceHarness h;
  h.Send(Create("USD", {Item(2, 1'999, 825)}, 30, 290));
  const int64_t total = h.state().total_minor();
  EXPECT_EQ(h.state().installments.size(), 1u);
  EXPECT_EQ(h.Rejection(Link("pay_1", 2, total, "USD")), inv::REJECT_REASON_INSTALLMENT_UNKNOWN);
  EXPECT_EQ(h.Rejection(Link("", 1, total, "USD")), inv::REJECT_REASON_PAYMENT_ID_MISSING);
  EXPECT_EQ(h.Rejection(Link("pay_1", 1, 0, "USD")), inv::REJECT_REASON_AMOUNT_NOT_POSITIVE);
  h.Send(Link("pay_1", 1, total, "USD"));
  EXPECT_EQ(h.Rejection(Succeeded("pay_x", total, "USD")), inv::REJECT_REASON_PAYMENT_NOT_LINKED);
  EXPECT_EQ(h.Rejection(Succeeded("pay_1", total, "MYR")), inv::REJECT_REASON_CURRENCY_MISMATCH);
  EXPECT_THAT(Names(h.Send(Succeeded("pay_1", total, "USD"))),
              ElementsAre("PaymentApplied", "InstallmentPaid", "InvoicePaid"));
  EXPECT_EQ(h.state().status, inv::INVOICE_STATUS_PAID);
  EXPECT_EQ(h.state().paid_minor, total);
}

TEST(InvoicePaymentTest, ACaptureOfAReleasedPaymentIsOverpaymentOnly) {
  InvoiceHarness h;
  h.Send(WithPlan(Create("USD", {Item(1, 1'000, 0)}), MonthlyPlan(2)));
  h.Send(Link("pay_1", 1, 500, "USD"));
  h.Send(Failed("pay_1", "canceled"));
  auto late = h.Send(Succeeded("pay_1", 500, "USD"));
  ASSERT_THAT(Names(late), ElementsAre("InvoiceOverpaid"));
  EXPECT_EQ(late[0].invoice_overpaid().amount_minor(), 500);
  EXPECT_EQ(h.state().paid_minor, 0);
  EXPECT_EQ(h.state().status, inv::INVOICE_STATUS_OPEN);
}

TEST(InvoicePaymentTest, ASmallerPaymentCapturedInFullLetsAnotherPayTheRest) {
  InvoiceHarness h;
  h.Send(WithPlan(Create("USD", {Item(1, 1'000, 0)}), MonthlyPlan(2)));
  h.Send(Link("pay_1", 1, 300, "USD"));
  EXPECT_THAT(Names(h.Send(Succeeded("pay_1", 300, "USD"))), ElementsAre("PaymentApplied"));
  EXPECT_THAT(Names(h.Send(Link("pay_2", 1, 200, "USD"))), ElementsAre("PaymentLinked"));
  EXPECT_THAT(Names(h.Send(Succeeded("pay_2", 200, "USD"))),
              ElementsAre("PaymentApplied", "InstallmentPaid"));
}

// The supplementary invoice's own CreateInvoice (SupplementaryCreate): priced as its
// SupplementaryIssued (same currency, lines and fee rule, fixed part included), one
// payment, linked back to the original; sent again it is a repeat.
TEST(InvoiceSupplementaryTest, TheSupplementarysCreateIsPricedAsItsIssue) {
  InvoiceHarness h;
  Command create =
      WithPlan(Create("IDR", {Item(3, 1'250'000, 1100)}, 500'000, 250), MonthlyPlan(3));
  create.mutable_create()->set_customer_reference("cust-9");
  h.Send(create);
  h.Send(Link("pay_1", 1, 100'000, "IDR"));
  Command issue = Supplementary("inv_1-s1", {Item(2, 99'900, 1100), Item(1, 50'000, 0)});
  auto issued = h.Send(issue);
  ASSERT_THAT(Names(issued), ElementsAre("SupplementaryIssued"));

  InvoiceHarness sup("inv_1-s1");
  Command c;
  *c.mutable_create() = SupplementaryCreate(h.state(), issue.issue_supplementary());
  auto created = sup.Send(c);
  ASSERT_THAT(Names(created), ElementsAre("InvoiceCreated"));
  const inv::InvoiceTotals& want = issued[0].supplementary_issued().totals();
  const inv::InvoiceTotals& got = created[0].invoice_created().totals();
  EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString())
      << got.ShortDebugString() << " vs " << want.ShortDebugString();
  EXPECT_EQ(sup.state().supplements_invoice_id, "inv_1");
  EXPECT_EQ(sup.state().merchant_id, "m_1");
  EXPECT_EQ(sup.state().customer_reference, "cust-9");
  EXPECT_EQ(sup.state().fee, h.state().fee);
  ASSERT_EQ(sup.state().installments.size(), 1u);
  EXPECT_EQ(sup.state().installments[0].total_minor(), want.total_minor());
  EXPECT_THAT(Names(sup.Send(c)), ElementsAre("CommandDeduplicated"));
  Command again;
  *again.mutable_create() = SupplementaryCreate(h.state(), issue.issue_supplementary());
  EXPECT_EQ(again.SerializeAsString(), c.SerializeAsString()) << "deterministic";
}

TEST(InvoiceEvolveTest, AnEventWithoutAnEdgeIsABreachAndKeepsTheStatus) {
  InvoiceHarness h;
  h.Send(Create("USD", {Item(1, 100, 0)}));
  command::SetBreachHandler(nullptr);
  const int64_t before = command::BreachCount();
  InvoiceState s = h.state();
  Event closed;
  closed.set_invoice_id("inv_1");
  closed.set_sequence(s.sequence + 1);
  closed.mutable_invoice_closed()->set_reason("too early");
  Evolve(s, closed);
  EXPECT_EQ(command::BreachCount(), before + 1);
  EXPECT_EQ(s.status, inv::INVOICE_STATUS_OPEN);
  EXPECT_EQ(s.close_reason, "");
  EXPECT_EQ(s.sequence, h.state().sequence + 1);
  // Events of another invoice and rejections outside any invoice change nothing.
  InvoiceState t = h.state();
  closed.set_invoice_id("inv_2");
  Evolve(t, closed);
  closed.set_invoice_id("inv_1");
  closed.set_sequence(0);
  Evolve(t, closed);
  EXPECT_EQ(t, h.state());
  testing::MakeBreachesFatal();
}

TEST(InvoiceDecideTest, DecideLeavesTheStateAlone) {
  InvoiceHarness h;
  h.Send(Create("USD", {Item(1, 100, 0)}));
  Command c = Link("pay_1", 1, 100, "USD");
  c.set_schema_version(1);
  c.set_invoice_id("inv_1");
  InvoiceCommandRecord rec{&c, "t", 1, 7, 9};
  const InvoiceState before = h.state();
  auto a = Decide(h.state(), rec, {5});
  auto b = Decide(h.state(), rec, {5});
  EXPECT_EQ(h.state(), before);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString());
  }
}

}  // namespace
}  // namespace payorch::invoice
