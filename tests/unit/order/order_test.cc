// The order core, as a specification: checkout flows, repeats, refusals, identifiers, the
// transition table, and the saga's mapping from payment events.
#include "order/order.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "command/money.h"
#include "order_harness.h"

namespace payorch::order {
namespace {

using namespace payorch::order::testing;  // NOLINT(google-build-using-namespace)
namespace ev = ::payments::events::v1;

// USD: 2 x 19.99 at 11% (net 39.98, tax 4.3978 -> 4.40) and 1 x 5.00 untaxed.
ord::OrderCommandEnvelope UsdOrder() {
  return Create("USD", {Item("sku-1", 2, 1999, 1100), Item("sku-2", 1, 500)});
}
constexpr int64_t kUsdTotal = 3998 + 440 + 500;

OrderHarness CreatedUsdOrder() {
  OrderHarness h;
  EXPECT_TRUE(h.Send(UsdOrder()).has_order_created());
  return h;
}

ord::RejectReason RejectionOf(const ord::OrderEventEnvelope& e) {
  EXPECT_TRUE(e.has_command_rejected()) << e.ShortDebugString();
  return e.command_rejected().reason();
}

TEST(OrderCheckout, CreateLinkAuthorizeCaptureThenRefundPartlyAndFully) {
  OrderHarness h = CreatedUsdOrder();
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_AWAITING_PAYMENT);
  EXPECT_EQ(h.state().subtotal_minor, 4498);
  EXPECT_EQ(h.state().tax_minor, 440);
  EXPECT_EQ(h.state().total_minor, kUsdTotal);
  ASSERT_EQ(h.state().lines.size(), 2u);
  EXPECT_EQ(h.state().lines[0].net_minor, 3998);
  EXPECT_EQ(h.state().lines[0].tax_minor, 440);

  const auto& linked = h.Send(Link("pay_1", kUsdTotal));
  ASSERT_TRUE(linked.has_payment_linked());
  EXPECT_EQ(linked.payment_linked().amount_minor(), kUsdTotal);
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_PAYMENT_PENDING);

  const auto& authorized = h.Send(Fact("pay_1", 5, ord::PAYMENT_FACT_KIND_AUTHORIZED, kUsdTotal));
  ASSERT_TRUE(authorized.has_order_authorized());
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_AUTHORIZED);

  const auto& paid = h.Send(Fact("pay_1", 8, ord::PAYMENT_FACT_KIND_CAPTURED, kUsdTotal));
  ASSERT_TRUE(paid.has_order_paid());
  EXPECT_EQ(paid.order_paid().captured_minor(), kUsdTotal);
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_PAID);

  const auto& partial = h.Send(Fact("pay_1", 10, ord::PAYMENT_FACT_KIND_REFUNDED, 1000));
  ASSERT_TRUE(partial.has_order_refunded());
  EXPECT_FALSE(partial.order_refunded().full());
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_PARTIALLY_REFUNDED);

  const auto& full = h.Send(Fact("pay_1", 12, ord::PAYMENT_FACT_KIND_REFUNDED, kUsdTotal));
  ASSERT_TRUE(full.has_order_refunded());
  EXPECT_TRUE(full.order_refunded().full());
  EXPECT_EQ(full.order_refunded().refunded_minor(), kUsdTotal);
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_REFUNDED);
  EXPECT_TRUE(IsTerminalOrderStatus(h.state().status));
}

TEST(OrderCheckout, AutomaticCapturePaysStraightFromPending) {
  OrderHarness h = CreatedUsdOrder();
  h.Send(Link("pay_1", kUsdTotal));
  EXPECT_TRUE(
      h.Send(Fact("pay_1", 6, ord::PAYMENT_FACT_KIND_CAPTURED, kUsdTotal)).has_order_paid());
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_PAID);
}

TEST(OrderCheckout, AFailedPaymentReleasesTheOrderForASecondPayment) {
  OrderHarness h = CreatedUsdOrder();
  h.Send(Link("pay_1", kUsdTotal));
  const auto& released = h.Send(Fact("pay_1", 7, ord::PAYMENT_FACT_KIND_FAILED));
  ASSERT_TRUE(released.has_payment_released());
  EXPECT_EQ(released.payment_released().kind(), ord::PAYMENT_FACT_KIND_FAILED);
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_AWAITING_PAYMENT);
  EXPECT_TRUE(h.state().payment_id.empty());

  // A late fact of the released payment is a repeat; the old link too.
  EXPECT_TRUE(h.Send(Fact("pay_1", 7, ord::PAYMENT_FACT_KIND_FAILED)).has_command_deduplicated());
  EXPECT_TRUE(h.Send(Link("pay_1", kUsdTotal)).has_command_deduplicated());
  // Any other outcome of a released payment is an anomaly, refused where it shows.
  EXPECT_EQ(RejectionOf(h.Send(Fact("pay_1", 8, ord::PAYMENT_FACT_KIND_CAPTURED, kUsdTotal))),
            ord::REJECT_REASON_PAYMENT_NOT_LINKED);

  EXPECT_TRUE(h.Send(Link("pay_2", kUsdTotal)).has_payment_linked());
  EXPECT_TRUE(
      h.Send(Fact("pay_2", 9, ord::PAYMENT_FACT_KIND_CAPTURED, kUsdTotal)).has_order_paid());
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_PAID);
  EXPECT_EQ(h.state().payment_id, "pay_2");
  ASSERT_EQ(h.state().payments.size(), 2u);
}

TEST(OrderCheckout, ACanceledPaymentReleasesTheOrderToo) {
  OrderHarness h = CreatedUsdOrder();
  h.Send(Link("pay_1", kUsdTotal));
  EXPECT_TRUE(h.Send(Fact("pay_1", 3, ord::PAYMENT_FACT_KIND_CANCELED)).has_payment_released());
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_AWAITING_PAYMENT);
}

TEST(OrderCheckout, AVoidOfTheAuthorizationCancelsTheOrder) {
  OrderHarness h = CreatedUsdOrder();
  h.Send(Link("pay_1", kUsdTotal));
  h.Send(Fact("pay_1", 5, ord::PAYMENT_FACT_KIND_AUTHORIZED, kUsdTotal));
  ord::OrderCommandEnvelope voided = Fact("pay_1", 9, ord::PAYMENT_FACT_KIND_VOIDED);
  voided.mutable_payment_fact()->set_detail("merchant void");
  const auto& canceled = h.Send(voided);
  ASSERT_TRUE(canceled.has_order_canceled());
  EXPECT_EQ(canceled.order_canceled().payment_id(), "pay_1");
  EXPECT_EQ(canceled.order_canceled().reason(), "merchant void");
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_CANCELED);
  EXPECT_TRUE(h.Send(voided).has_command_deduplicated());
  EXPECT_TRUE(h.Send(Cancel()).has_command_deduplicated());
}

TEST(OrderRepeats, EveryRepeatedCommandIsDeduplicated) {
  OrderHarness h = CreatedUsdOrder();
  EXPECT_EQ(h.Send(UsdOrder()).command_deduplicated().command_type(), "create");
  h.Send(Link("pay_1", kUsdTotal));
  EXPECT_EQ(h.Send(Link("pay_1", kUsdTotal)).command_deduplicated().command_type(), "link_payment");
  h.Send(Fact("pay_1", 5, ord::PAYMENT_FACT_KIND_AUTHORIZED, kUsdTotal));
  EXPECT_TRUE(h.Send(Fact("pay_1", 5, ord::PAYMENT_FACT_KIND_AUTHORIZED, kUsdTotal))
                  .has_command_deduplicated());
  h.Send(Fact("pay_1", 8, ord::PAYMENT_FACT_KIND_CAPTURED, 2000));
  h.Send(Fact("pay_1", 9, ord::PAYMENT_FACT_KIND_CAPTURED, kUsdTotal));
  // An older capture total, redelivered after a newer one.
  EXPECT_TRUE(
      h.Send(Fact("pay_1", 8, ord::PAYMENT_FACT_KIND_CAPTURED, 2000)).has_command_deduplicated());
  EXPECT_TRUE(h.Send(Fact("pay_1", 5, ord::PAYMENT_FACT_KIND_AUTHORIZED, kUsdTotal))
                  .has_command_deduplicated());
  h.Send(Fact("pay_1", 11, ord::PAYMENT_FACT_KIND_REFUNDED, 100));
  EXPECT_TRUE(
      h.Send(Fact("pay_1", 11, ord::PAYMENT_FACT_KIND_REFUNDED, 100)).has_command_deduplicated());
  EXPECT_EQ(h.state().captured_minor, kUsdTotal);
  EXPECT_EQ(h.state().refunded_minor, 100);
}

TEST(OrderRepeats, TheSameOrderIdWithAnotherRequestIsOrderExists) {
  OrderHarness h = CreatedUsdOrder();
  EXPECT_EQ(RejectionOf(h.Send(Create("USD", {Item("sku-1", 3, 1999, 1100)}))),
            ord::REJECT_REASON_ORDER_EXISTS);
  EXPECT_EQ(CreateRequestHash(UsdOrder().create()), h.state().request_hash);
}

struct CreateCase {
  const char* name;
  ord::OrderCommandEnvelope command;
  ord::RejectReason reason;
};

TEST(OrderCreate, RefusalsCarryTheirOwnReason) {
  std::vector<ord::OrderLineItem> too_many(kMaxLineItems + 1, Item("x", 1, 100));
  auto mismatched = UsdOrder();
  mismatched.set_merchant_id("m_2");
  auto long_product = Create("USD", {Item(std::string(65, 'p'), 1, 100)});
  auto old_schema = UsdOrder();
  old_schema.set_schema_version(2);
  auto no_order = UsdOrder();
  no_order.clear_order_id();
  const std::vector<CreateCase> cases = {
      {"euro", Create("EUR", {Item("x", 1, 100)}), ord::REJECT_REASON_CURRENCY_NOT_ACCEPTED},
      {"lower case", Create("usd", {Item("x", 1, 100)}), ord::REJECT_REASON_CURRENCY_NOT_ACCEPTED},
      {"no lines", Create("USD", {}), ord::REJECT_REASON_LINE_ITEMS_MISSING},
      {"101 lines", Create("USD", too_many), ord::REJECT_REASON_TOO_MANY_LINE_ITEMS},
      {"quantity 0", Create("USD", {Item("x", 0, 100)}), ord::REJECT_REASON_QUANTITY_OUT_OF_RANGE},
      {"quantity over", Create("USD", {Item("x", kMaxLineQuantity + 1, 100)}),
       ord::REJECT_REASON_QUANTITY_OUT_OF_RANGE},
      {"free", Create("USD", {Item("x", 1, 0)}), ord::REJECT_REASON_AMOUNT_NOT_POSITIVE},
      {"tax over 100%", Create("USD", {Item("x", 1, 100, 10001)}),
       ord::REJECT_REASON_TAX_RATE_OUT_OF_RANGE},
      {"half rupiah", Create("IDR", {Item("x", 1, 150)}), ord::REJECT_REASON_AMOUNT_PRECISION},
      {"line too large", Create("USD", {Item("x", 1'000'000, 2'000'000'000'000)}),
       ord::REJECT_REASON_AMOUNT_TOO_LARGE},
      {"order too large",
       Create("USD", {Item("x", 1, 600'000'000'000'000), Item("y", 1, 600'000'000'000'000)}),
       ord::REJECT_REASON_AMOUNT_TOO_LARGE},
      {"tax pushes over", Create("USD", {Item("x", 1, 999'999'999'999'000, 100)}),
       ord::REJECT_REASON_AMOUNT_TOO_LARGE},
      {"no merchant", Create("USD", {Item("x", 1, 100)}, ""), ord::REJECT_REASON_MERCHANT_MISSING},
      {"envelope merchant differs", mismatched, ord::REJECT_REASON_MERCHANT_MISMATCH},
      {"long product id", long_product, ord::REJECT_REASON_FIELD_TOO_LONG},
      {"schema 2", old_schema, ord::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED},
      {"no order id", no_order, ord::REJECT_REASON_ORDER_ID_MISSING},
      {"no command", Envelope(), ord::REJECT_REASON_COMMAND_MISSING},
  };
  for (const CreateCase& c : cases) {
    OrderHarness h;
    const auto& e = h.Send(c.command);
    EXPECT_EQ(RejectionOf(e), c.reason) << c.name;
    EXPECT_EQ(e.sequence(), 0u) << c.name;
    EXPECT_FALSE(h.state().Exists()) << c.name;
  }
}

TEST(OrderCreate, TotalsArePricedByPriceLineToTheSettlementStep) {
  OrderHarness h;
  // IDR: whole rupiah. 3 x 1,500.00 at 10.5%: tax 472.50 rupiah -> 473.00.
  ASSERT_TRUE(h.Send(Create("IDR", {Item("x", 3, 150'000, 1050), Item("y", 1, 1'000'000, 1100)}))
                  .has_order_created());
  const auto expected_x = PriceLine(3, 150'000, 1050, 100);
  const auto expected_y = PriceLine(1, 1'000'000, 1100, 100);
  ASSERT_TRUE(expected_x && expected_y);
  EXPECT_EQ(h.state().lines[0].tax_minor, 47'300);
  EXPECT_EQ(h.state().lines[0].tax_minor, expected_x->tax_minor);
  EXPECT_EQ(h.state().subtotal_minor, expected_x->net_minor + expected_y->net_minor);
  EXPECT_EQ(h.state().tax_minor, expected_x->tax_minor + expected_y->tax_minor);
  EXPECT_EQ(h.state().total_minor, h.state().subtotal_minor + h.state().tax_minor);
  EXPECT_EQ(h.state().total_minor % 100, 0);
  EXPECT_EQ(h.state().currency, "IDR");
}

TEST(OrderCreate, OneHundredLinesIsTheLimit) {
  OrderHarness h;
  std::vector<ord::OrderLineItem> items(kMaxLineItems, Item("x", 1, 100));
  EXPECT_TRUE(h.Send(Create("MYR", items)).has_order_created());
  EXPECT_EQ(h.state().total_minor, 100 * static_cast<int64_t>(kMaxLineItems));
}

TEST(OrderLink, OnlyTheOrderTotalInTheOrderCurrencyWhileAwaitingPayment) {
  OrderHarness h = CreatedUsdOrder();
  EXPECT_EQ(RejectionOf(h.Send(Link("pay_1", kUsdTotal, "MYR"))),
            ord::REJECT_REASON_CURRENCY_MISMATCH);
  EXPECT_EQ(RejectionOf(h.Send(Link("pay_1", kUsdTotal - 1))), ord::REJECT_REASON_AMOUNT_MISMATCH);
  EXPECT_EQ(RejectionOf(h.Send(Link("", kUsdTotal))), ord::REJECT_REASON_PAYMENT_ID_MISSING);
  EXPECT_TRUE(h.Send(Link("pay_1", kUsdTotal)).has_payment_linked());
  EXPECT_EQ(RejectionOf(h.Send(Link("pay_2", kUsdTotal))),
            ord::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  EXPECT_EQ(RejectionOf(h.Send(Link("pay_1", 5))), ord::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST(OrderLink, AnOrderLinksAtMostTenPayments) {
  OrderHarness h = CreatedUsdOrder();
  for (size_t i = 0; i < kMaxPaymentsPerOrder; ++i) {
    const std::string id = "pay_" + std::to_string(i);
    ASSERT_TRUE(h.Send(Link(id, kUsdTotal)).has_payment_linked());
    ASSERT_TRUE(h.Send(Fact(id, 4, ord::PAYMENT_FACT_KIND_FAILED)).has_payment_released());
  }
  EXPECT_EQ(RejectionOf(h.Send(Link("pay_x", kUsdTotal))),
            ord::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST(OrderFacts, RefusalsOfFacts) {
  OrderHarness h = CreatedUsdOrder();
  EXPECT_EQ(RejectionOf(h.Send(Fact("pay_9", 1, ord::PAYMENT_FACT_KIND_CAPTURED, kUsdTotal))),
            ord::REJECT_REASON_PAYMENT_NOT_LINKED);
  h.Send(Link("pay_1", kUsdTotal));
  EXPECT_EQ(RejectionOf(h.Send(Fact("pay_1", 2, ord::PAYMENT_FACT_KIND_UNSPECIFIED))),
            ord::REJECT_REASON_FACT_KIND_MISSING);
  EXPECT_EQ(RejectionOf(h.Send(Fact("", 2, ord::PAYMENT_FACT_KIND_FAILED))),
            ord::REJECT_REASON_PAYMENT_ID_MISSING);
  EXPECT_EQ(RejectionOf(h.Send(Fact("pay_1", 2, ord::PAYMENT_FACT_KIND_REFUNDED, 10))),
            ord::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  EXPECT_EQ(RejectionOf(h.Send(Fact("pay_1", 2, ord::PAYMENT_FACT_KIND_VOIDED))),
            ord::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  EXPECT_EQ(RejectionOf(h.Send(Fact("pay_1", 2, ord::PAYMENT_FACT_KIND_CAPTURED, kUsdTotal + 1))),
            ord::REJECT_REASON_AMOUNT_MISMATCH);
  EXPECT_EQ(RejectionOf(h.Send(Fact("pay_1", 2, ord::PAYMENT_FACT_KIND_CAPTURED, 0))),
            ord::REJECT_REASON_AMOUNT_NOT_POSITIVE);
  h.Send(Fact("pay_1", 3, ord::PAYMENT_FACT_KIND_CAPTURED, kUsdTotal));
  // Captured money is not released by a failure: refunds go through the payment.
  EXPECT_EQ(RejectionOf(h.Send(Fact("pay_1", 4, ord::PAYMENT_FACT_KIND_FAILED))),
            ord::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  EXPECT_EQ(h.state().status, ord::ORDER_STATUS_PAID);
}

TEST(OrderCancel, OnlyWhileAwaitingPayment) {
  {
    OrderHarness h = CreatedUsdOrder();
    const auto& e = h.Send(Cancel("out of stock"));
    ASSERT_TRUE(e.has_order_canceled());
    EXPECT_TRUE(e.order_canceled().payment_id().empty());
    EXPECT_EQ(h.state().status, ord::ORDER_STATUS_CANCELED);
    EXPECT_EQ(h.state().cancel_reason, "out of stock");
    EXPECT_EQ(RejectionOf(h.Send(Link("pay_1", kUsdTotal))),
              ord::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  }
  {
    OrderHarness h = CreatedUsdOrder();
    h.Send(Link("pay_1", kUsdTotal));
    EXPECT_EQ(RejectionOf(h.Send(Cancel())), ord::REJECT_REASON_TRANSITION_NOT_ALLOWED);
    h.Send(Fact("pay_1", 3, ord::PAYMENT_FACT_KIND_CAPTURED, kUsdTotal));
    const auto& refused = h.Send(Cancel());
    EXPECT_EQ(RejectionOf(refused), ord::REJECT_REASON_TRANSITION_NOT_ALLOWED);
    EXPECT_NE(refused.command_rejected().detail().find("refund"), std::string::npos);
  }
}

TEST(OrderEnvelope, UnknownOrdersAndOtherMerchantsAreRefused) {
  OrderHarness h;
  const auto& unknown = h.Send(Link("pay_1", 100));
  EXPECT_EQ(RejectionOf(unknown), ord::REJECT_REASON_ORDER_UNKNOWN);
  EXPECT_EQ(unknown.event_id(), "cmd/2/100/0");
  EXPECT_EQ(unknown.order_id(), "ord_1");
  h.Send(UsdOrder());
  auto other = Cancel();
  other.set_merchant_id("m_2");
  EXPECT_EQ(RejectionOf(h.Send(other)), ord::REJECT_REASON_MERCHANT_MISMATCH);
  other.set_merchant_id("m_1");
  EXPECT_TRUE(h.Send(other).has_order_canceled());
}

TEST(OrderEnvelope, HeadersAreDeterministic) {
  OrderHarness h(7);
  h.Send(Link("pay_0", 1));  // refused: no order, no sequence
  h.Send(UsdOrder());
  h.Send(Link("pay_1", 1));  // refused: a sequence of the order
  h.Send(Link("pay_1", kUsdTotal));
  ASSERT_EQ(h.all().size(), 4u);
  for (size_t i = 1; i < h.all().size(); ++i) {
    const auto& e = h.all()[i];
    EXPECT_EQ(e.sequence(), i);
    EXPECT_EQ(e.event_id(), "ord_1/" + std::to_string(i));
    EXPECT_EQ(e.epoch(), 7u);
    EXPECT_EQ(e.schema_version(), 1u);
    EXPECT_EQ(e.merchant_id(), "m_1");
    EXPECT_EQ(e.correlation_id(), "corr-1");
    EXPECT_EQ(e.occurred_at_ms(), 1'700'000'000'000 + 10 * static_cast<int64_t>(i));
    EXPECT_EQ(e.causation().topic(), "orders.commands");
    EXPECT_EQ(e.causation().partition(), 2);
    EXPECT_EQ(e.causation().offset(), 100 + static_cast<int64_t>(i));
    EXPECT_EQ(e.causation().command_id(), "cmd-1");
    EXPECT_EQ(e.causation().index(), 0u);
    EXPECT_EQ(e.causation().count(), 1u);
  }
  EXPECT_EQ(h.state().sequence, 3u);
}

TEST(OrderTransitions, EachStatusAndTriggerLeadsToOneStatus) {
  std::set<std::pair<int, int>> seen;
  for (const OrderEdge& edge : kOrderEdges) {
    EXPECT_TRUE(seen.emplace(edge.from, static_cast<int>(edge.trigger)).second)
        << OrderStatusName(edge.from) << " " << TriggerName(edge.trigger);
    EXPECT_EQ(NextStatus(edge.from, edge.trigger), edge.to);
    EXPECT_TRUE(IsOrderEdge(edge.from, edge.to, edge.trigger));
    EXPECT_FALSE(IsTerminalOrderStatus(edge.from));
  }
  EXPECT_TRUE(IsTerminalOrderStatus(ord::ORDER_STATUS_REFUNDED));
  EXPECT_TRUE(IsTerminalOrderStatus(ord::ORDER_STATUS_CANCELED));
  EXPECT_FALSE(NextStatus(ord::ORDER_STATUS_PAYMENT_PENDING, OrderTrigger::kCancel));
  EXPECT_FALSE(NextStatus(ord::ORDER_STATUS_AUTHORIZED, OrderTrigger::kRelease));
}

TEST(OrderTransitions, AnEventOffTheTableIsABreachAndChangesOnlyTheSequence) {
  static int breaches = 0;
  command::SetBreachHandler(+[](std::string_view) { ++breaches; });
  OrderState s;
  s.order_id = "ord_1";
  s.status = ord::ORDER_STATUS_AWAITING_PAYMENT;
  s.sequence = 1;
  ord::OrderEventEnvelope e;
  e.set_order_id("ord_1");
  e.set_sequence(2);
  e.mutable_order_paid()->set_captured_minor(5);
  OrderState expected = s;
  expected.sequence = 2;
  Evolve(s, e);
  EXPECT_EQ(breaches, 1);
  EXPECT_EQ(s, expected);
  command::SetBreachHandler(nullptr);
}

TEST(OrderTransitions, TheReadmeShowsTheTable) {
  std::ifstream in(PAYORCH_ORDER_README);
  ASSERT_TRUE(in) << PAYORCH_ORDER_README;
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string diagram = OrderLifecycleDiagram();
  EXPECT_NE(readme.find("```mermaid\n" + diagram + "```"), std::string::npos)
      << "src/order/README.md should show:\n```mermaid\n"
      << diagram << "```";
}

ev::EventEnvelope PaymentEvent(uint64_t sequence) {
  ev::EventEnvelope e;
  e.set_payment_id("pay_1");
  e.set_sequence(sequence);
  return e;
}

TEST(PaymentFactOf, MapsTheOutcomesOfAPayment) {
  auto completed = PaymentEvent(6);
  completed.mutable_payment_completed()->set_status(ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  completed.mutable_payment_completed()->mutable_result()->set_total_processed_minor(4938);
  auto fact = PaymentFactOf(completed, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  ASSERT_TRUE(fact);
  EXPECT_EQ(fact->kind(), ord::PAYMENT_FACT_KIND_AUTHORIZED);
  EXPECT_EQ(fact->amount_minor(), 4938);
  EXPECT_EQ(fact->payment_id(), "pay_1");
  EXPECT_EQ(fact->payment_sequence(), 6u);

  completed.mutable_payment_completed()->set_status(ev::PAYMENT_STATUS_SUCCEEDED);
  fact = PaymentFactOf(completed, ev::PAYMENT_STATUS_SUCCEEDED);
  ASSERT_TRUE(fact);
  EXPECT_EQ(fact->kind(), ord::PAYMENT_FACT_KIND_CAPTURED);
  EXPECT_EQ(fact->amount_minor(), 4938);

  auto captured = PaymentEvent(8);
  captured.mutable_payment_captured()->set_total_captured_minor(3000);
  captured.mutable_payment_captured()->mutable_op()->mutable_amount()->set_amount_minor(1000);
  fact = PaymentFactOf(captured, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  ASSERT_TRUE(fact);
  EXPECT_EQ(fact->kind(), ord::PAYMENT_FACT_KIND_CAPTURED);
  EXPECT_EQ(fact->amount_minor(), 3000);  // the running total, not the part

  auto refunded = PaymentEvent(9);
  refunded.mutable_refund_succeeded()->set_total_refunded_minor(700);
  fact = PaymentFactOf(refunded, ev::PAYMENT_STATUS_SUCCEEDED);
  ASSERT_TRUE(fact);
  EXPECT_EQ(fact->kind(), ord::PAYMENT_FACT_KIND_REFUNDED);
  EXPECT_EQ(fact->amount_minor(), 700);

  auto failed = PaymentEvent(4);
  failed.mutable_payment_failed()->set_reason("declined");
  fact = PaymentFactOf(failed, ev::PAYMENT_STATUS_FAILED);
  ASSERT_TRUE(fact);
  EXPECT_EQ(fact->kind(), ord::PAYMENT_FACT_KIND_FAILED);
  EXPECT_EQ(fact->detail(), "declined");

  auto canceled = PaymentEvent(3);
  canceled.mutable_payment_canceled()->set_reason("abandoned");
  fact = PaymentFactOf(canceled, ev::PAYMENT_STATUS_CANCELED);
  ASSERT_TRUE(fact);
  EXPECT_EQ(fact->kind(), ord::PAYMENT_FACT_KIND_CANCELED);

  auto voided = PaymentEvent(10);
  voided.mutable_payment_voided()->set_reason("merchant");
  fact = PaymentFactOf(voided, ev::PAYMENT_STATUS_VOIDED);
  ASSERT_TRUE(fact);
  EXPECT_EQ(fact->kind(), ord::PAYMENT_FACT_KIND_VOIDED);
}

TEST(PaymentFactOf, IgnoresWhatIsNoOutcome) {
  auto compensation = PaymentEvent(10);
  compensation.mutable_payment_voided()->set_compensation(true);
  EXPECT_FALSE(PaymentFactOf(compensation, ev::PAYMENT_STATUS_AUTHORIZING));
  auto one_step_of_two = PaymentEvent(10);
  one_step_of_two.mutable_payment_voided()->set_reason("merchant");
  EXPECT_FALSE(PaymentFactOf(one_step_of_two, ev::PAYMENT_STATUS_REQUIRES_CAPTURE));
  auto started = PaymentEvent(2);
  started.mutable_step_started();
  EXPECT_FALSE(PaymentFactOf(started, ev::PAYMENT_STATUS_AUTHORIZING));
  auto refund_failed = PaymentEvent(2);
  refund_failed.mutable_refund_failed();
  EXPECT_FALSE(PaymentFactOf(refund_failed, ev::PAYMENT_STATUS_SUCCEEDED));
  auto orphan = PaymentEvent(0);
  orphan.mutable_payment_failed();
  EXPECT_FALSE(PaymentFactOf(orphan, ev::PAYMENT_STATUS_FAILED));
}

TEST(PaymentFactOf, FactsOfAPaymentDriveItsOrder) {
  OrderHarness h = CreatedUsdOrder();
  h.Send(Link("pay_1", kUsdTotal));
  auto completed = PaymentEvent(6);
  completed.mutable_payment_completed()->set_status(ev::PAYMENT_STATUS_SUCCEEDED);
  completed.mutable_payment_completed()->mutable_result()->set_total_processed_minor(kUsdTotal);
  const auto fact = PaymentFactOf(completed, ev::PAYMENT_STATUS_SUCCEEDED);
  ASSERT_TRUE(fact);
  auto command = Envelope();
  *command.mutable_payment_fact() = *fact;
  EXPECT_TRUE(h.Send(command).has_order_paid());
  EXPECT_TRUE(h.Send(command).has_command_deduplicated());
}

}  // namespace
}  // namespace payorch::order
