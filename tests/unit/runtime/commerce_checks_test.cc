// The checker's order and invoice rules (runtime/internal/commerce_checks.h): a clean log
// has no violation, and each rule has a log that breaks it and is reported with its ids.
// The logs are decided by the real cores under epoch 1; broken ones are edited copies.
#include "runtime/internal/commerce_checks.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "runtime/checker.h"
#include "unit/invoice/invoice_harness.h"
#include "unit/order/order_harness.h"

namespace payorch::runtime {
namespace {

namespace ev = ::payments::events::v1;
namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;
using internal::CommerceChecks;

constexpr char kOrderCommands[] = "payorch.orders.commands";
constexpr char kInvoiceCommands[] = "payorch.invoices.commands";

template <class Envelope>
log::Record Rec(const std::string& topic, int64_t offset, const Envelope& value,
                const std::string& key = "") {
  log::Record r;
  r.topic = topic;
  r.partition = PartitionId{0};
  r.offset = Offset{offset};
  r.timestamp_ms = 1'000 + offset;
  r.key = key;
  r.value = value.SerializeAsString();
  return r;
}

// Partition 0 of an aggregate's commands and events topics: every command decided by the
// core (Traits::Decide) under epoch 1, after the writer's claim.
template <class Command, class Event, class State>
class AggregateLog {
 public:
  using DecideFn = void (*)(State&, const Command&, int64_t offset, std::vector<Event>&);
  AggregateLog(std::string commands_topic, DecideFn decide)
      : topic_(std::move(commands_topic)), decide_(decide) {
    Event claim;
    claim.set_epoch(1);
    claim.mutable_writer_claimed()->set_epoch(1);
    events.push_back(claim);
  }
  // Decides `c` for the aggregate `id`; returns its events.
  std::vector<Event> Send(const std::string& id, const Command& c) {
    const int64_t offset = static_cast<int64_t>(commands.size());
    commands.push_back(Rec(topic_, offset, c, id));
    std::vector<Event> out;
    decide_(states[id], c, offset, out);
    events.insert(events.end(), out.begin(), out.end());
    return out;
  }
  // A command appended, not decided.
  int64_t Append(const std::string& id, const Command& c) {
    const int64_t offset = static_cast<int64_t>(commands.size());
    commands.push_back(Rec(topic_, offset, c, id));
    return offset;
  }
  std::vector<log::Record> EventRecords() const {
    std::vector<log::Record> out;
    for (size_t i = 0; i < events.size(); ++i) {
      out.push_back(Rec(topic_ + ".events", static_cast<int64_t>(i), events[i]));
    }
    return out;
  }

  std::vector<log::Record> commands;
  std::vector<Event> events;  // editable before EventRecords()
  std::map<std::string, State> states;

 private:
  std::string topic_;
  DecideFn decide_;
};

using OrderLog =
    AggregateLog<ord::OrderCommandEnvelope, ord::OrderEventEnvelope, order::OrderState>;
using InvoiceLog =
    AggregateLog<inv::InvoiceCommandEnvelope, inv::InvoiceEventEnvelope, invoice::InvoiceState>;

void DecideOrder(order::OrderState& s, const ord::OrderCommandEnvelope& c, int64_t offset,
                 std::vector<ord::OrderEventEnvelope>& out) {
  order::DecideAndApply(s, {&c, kOrderCommands, 0, offset, 1'000 + offset}, {1}, out);
}
void DecideInvoice(invoice::InvoiceState& s, const inv::InvoiceCommandEnvelope& c, int64_t offset,
                   std::vector<inv::InvoiceEventEnvelope>& out) {
  invoice::DecideAndApply(s, {&c, kInvoiceCommands, 0, offset, 1'000 + offset}, {1}, out);
}

ord::OrderCommandEnvelope ForOrder(ord::OrderCommandEnvelope c, const std::string& id) {
  c.set_order_id(id);
  return c;
}
inv::InvoiceCommandEnvelope ForInvoice(inv::InvoiceCommandEnvelope c, const std::string& id) {
  c.set_schema_version(1);
  c.set_command_id("cmd/" + id + "/" + std::to_string(c.ByteSizeLong()));
  c.set_invoice_id(id);
  c.set_merchant_id("m_1");
  return c;
}

command::PaymentState Payment(ev::PaymentStatus status, int64_t captured) {
  command::PaymentState p;
  p.exists = true;
  p.status = status;
  p.captured = captured;
  return p;
}

class CommerceChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The checker must never fold an event the tables lack (that would be a breach).
    order::testing::MakeBreachesFatal();
  }

  // ord_1 paid in full by pay_o1; inv_1 (two installments) paid by pay_i1 and pay_i2.
  void BuildPaidLogs() {
    orders.Send("ord_1", ForOrder(order::testing::Create(
                                      "USD", {order::testing::Item("sku", 2, 1'000, 1'000)}),
                                  "ord_1"));
    order_total = orders.states["ord_1"].total_minor;
    orders.Send("ord_1", ForOrder(order::testing::Link("pay_o1", order_total), "ord_1"));
    orders.Send("ord_1", ForOrder(order::testing::Fact("pay_o1", 4, ord::PAYMENT_FACT_KIND_CAPTURED,
                                                       order_total),
                                  "ord_1"));
    payments["pay_o1"] = Payment(ev::PAYMENT_STATUS_SUCCEEDED, order_total);

    namespace it = invoice::testing;
    invoices.Send("inv_1", ForInvoice(it::WithPlan(it::Create("USD", {it::Item(1, 10'000, 0)}),
                                                   it::MonthlyPlan(2)),
                                      "inv_1"));
    for (uint32_t n = 1; n <= 2; ++n) {
      const std::string pid = "pay_i" + std::to_string(n);
      const int64_t amount = invoices.states["inv_1"].installments[n - 1].outstanding_minor();
      invoices.Send("inv_1", ForInvoice(it::Link(pid, n, amount, "USD"), "inv_1"));
      invoices.Send("inv_1", ForInvoice(it::Succeeded(pid, amount, "USD"), "inv_1"));
      payments[pid] = Payment(ev::PAYMENT_STATUS_SUCCEEDED, amount);
    }
    ASSERT_EQ(orders.states["ord_1"].status, ord::ORDER_STATUS_PAID);
    ASSERT_EQ(invoices.states["inv_1"].status, inv::INVOICE_STATUS_PAID);
  }

  CheckReport Check(bool require_drained = true) {
    CommerceChecks checks;
    for (const auto& r : orders.commands) checks.AddOrderCommand(r);
    for (const auto& r : orders.EventRecords()) checks.AddOrderEvent(r);
    for (const auto& r : invoices.commands) checks.AddInvoiceCommand(r);
    for (const auto& r : invoices.EventRecords()) checks.AddInvoiceEvent(r);
    for (const auto& r : dead_letters) checks.AddDeadLetter(r);
    CheckReport report;
    checks.Finish(
        [&](const std::string& id) -> const command::PaymentState* {
          auto it = payments.find(id);
          return it == payments.end() ? nullptr : &it->second;
        },
        require_drained, &report);
    report.violations = checks.TakeViolations();
    return report;
  }

  // Whether a violation contains every one of `parts`.
  static bool Reported(const CheckReport& report, std::vector<std::string> parts) {
    for (const auto& v : report.violations) {
      bool all = true;
      for (const auto& p : parts) all = all && v.find(p) != std::string::npos;
      if (all) return true;
    }
    return false;
  }
  static std::string All(const CheckReport& report) {
    std::string out;
    for (const auto& v : report.violations) out += v + "\n";
    return out;
  }

  OrderLog orders{kOrderCommands, &DecideOrder};
  InvoiceLog invoices{kInvoiceCommands, &DecideInvoice};
  std::map<std::string, command::PaymentState> payments;
  std::vector<log::Record> dead_letters;
  int64_t order_total = 0;
};

TEST_F(CommerceChecksTest, PaidOrderAndInvoiceHaveNoViolationAndAreCountedByStatus) {
  BuildPaidLogs();
  const CheckReport report = Check();
  EXPECT_TRUE(report.violations.empty()) << All(report);
  EXPECT_EQ(report.order_log.commands, 3);
  EXPECT_EQ(report.order_log.claims, 1);
  EXPECT_EQ(report.order_log.aggregates, 1);
  EXPECT_EQ(report.order_log.by_status.at("paid"), 1);
  EXPECT_EQ(report.invoice_log.aggregates, 1);
  EXPECT_EQ(report.invoice_log.by_status.at("PAID"), 1);
}

TEST_F(CommerceChecksTest, CommandWithoutEventsIsLostUnlessDeadLetteredOrTrailing) {
  BuildPaidLogs();
  // A command in the middle with no event: lost even when the log may be undrained.
  orders.Append("ord_2", ForOrder(order::testing::Cancel(), "ord_2"));
  orders.Send("ord_3", ForOrder(order::testing::Cancel(), "ord_3"));  // decided: rejected
  EXPECT_TRUE(Reported(Check(false), {"order command p0 offset 3", "lost"})) << All(Check(false));

  // On the dead-letter topic: decided, no events expected.
  log::Record dlq;
  dlq.topic = "payorch.deadletter";
  dlq.headers = {{"payorch.source.topic", kOrderCommands},
                 {"payorch.source.partition", "0"},
                 {"payorch.source.offset", "3"}};
  dead_letters.push_back(dlq);
  CheckReport report = Check(false);
  EXPECT_TRUE(report.violations.empty()) << All(report);
  EXPECT_EQ(report.order_log.dead_lettered, 1);

  // A trailing undecided command: counted, a violation only when the log must be drained.
  const int64_t trailing = invoices.Append("inv_1", ForInvoice(invoice::testing::Close(), "inv_1"));
  report = Check(false);
  EXPECT_TRUE(report.violations.empty()) << All(report);
  EXPECT_EQ(report.invoice_log.undecided, 1);
  EXPECT_TRUE(
      Reported(Check(true), {"invoice command p0 offset " + std::to_string(trailing), "lost"}));
}

TEST_F(CommerceChecksTest, CommandMissingPartOfItsEventGroupIsReported) {
  BuildPaidLogs();
  // The last invoice command (pay_i2 succeeded) decided several events; drop its last one.
  ASSERT_GT(invoices.events.back().causation().count(), 1u);
  const int64_t offset = invoices.events.back().causation().offset();
  invoices.events.pop_back();
  EXPECT_TRUE(
      Reported(Check(false), {"invoice command p0 offset " + std::to_string(offset), "events"}))
      << All(Check(false));
}

TEST_F(CommerceChecksTest, RepublishedSequenceMustBeIdentical) {
  BuildPaidLogs();
  // A new writer (epoch 2) re-publishes the order's last event: identical, a duplicate.
  ord::OrderEventEnvelope claim;
  claim.set_epoch(2);
  claim.mutable_writer_claimed()->set_epoch(2);
  ord::OrderEventEnvelope again = orders.events.back();
  again.set_epoch(2);
  orders.events.push_back(claim);
  orders.events.push_back(again);
  CheckReport report = Check();
  EXPECT_TRUE(report.violations.empty()) << All(report);
  EXPECT_EQ(report.order_log.duplicates, 1);

  orders.events.back().mutable_order_paid()->set_captured_minor(1);
  EXPECT_TRUE(Reported(Check(), {"order ord_1 sequence 3", "different content"}));
}

TEST_F(CommerceChecksTest, SequenceGapIsReported) {
  BuildPaidLogs();
  // Invoice inv_1's second event goes missing (and its command with it).
  for (auto it = invoices.events.begin(); it != invoices.events.end(); ++it) {
    if (it->invoice_id() == "inv_1" && it->sequence() == 2) {
      invoices.events.erase(it);
      break;
    }
  }
  EXPECT_TRUE(Reported(Check(false), {"invoice inv_1: sequence gap, expected 2 got 3"}))
      << All(Check(false));
}

TEST_F(CommerceChecksTest, OrderEventWithoutAnEdgeIsReportedNotFolded) {
  // OrderPaid straight after OrderCreated: AWAITING_PAYMENT has no capture edge.
  orders.Send(
      "ord_1",
      ForOrder(order::testing::Create("USD", {order::testing::Item("sku", 1, 500, 0)}), "ord_1"));
  ord::OrderEventEnvelope paid = orders.events.back();
  paid.set_sequence(2);
  paid.set_event_id("ord_1/2");
  paid.mutable_order_paid()->set_payment_id("pay_x");
  paid.mutable_order_paid()->set_captured_minor(500);
  orders.Append("ord_1", ForOrder(order::testing::Cancel(), "ord_1"));
  paid.mutable_causation()->set_offset(1);
  orders.events.push_back(paid);
  EXPECT_TRUE(Reported(Check(false), {"order ord_1", "ord_1/2", "no edge", "awaiting_payment"}))
      << All(Check(false));
}

TEST_F(CommerceChecksTest, InvoiceEventWithoutAnEdgeIsReported) {
  BuildPaidLogs();
  // InvoiceCanceled after PAID: the table has no PAID -> CANCELED.
  inv::InvoiceEventEnvelope canceled = invoices.events.back();
  const uint64_t seq = invoices.states["inv_1"].sequence + 1;
  canceled.set_sequence(seq);
  canceled.set_event_id("inv_1/" + std::to_string(seq));
  canceled.mutable_causation()->set_offset(
      invoices.Append("inv_1", ForInvoice(invoice::testing::Cancel(), "inv_1")));
  canceled.mutable_causation()->set_index(0);
  canceled.mutable_causation()->set_count(1);
  canceled.mutable_invoice_canceled()->set_reason("late");
  invoices.events.push_back(canceled);
  EXPECT_TRUE(Reported(Check(false), {"invoice inv_1", "no edge", "PAID -> CANCELED"}))
      << All(Check(false));
}

TEST_F(CommerceChecksTest, OrderCapturedMustMatchItsPayment) {
  BuildPaidLogs();
  // The payments log captured less than the order records: always a violation.
  payments["pay_o1"].captured = order_total - 1;
  EXPECT_TRUE(Reported(Check(false), {"order ord_1", "records more than", "pay_o1"}));
  // More than the order records: the saga may be behind, unless everything is drained.
  payments["pay_o1"].captured = order_total + 1;
  EXPECT_TRUE(Check(false).violations.empty()) << All(Check(false));
  EXPECT_TRUE(Reported(Check(true), {"order ord_1", "differs", "pay_o1", "drained"}));
}

TEST_F(CommerceChecksTest, PaidOrderWhosePaymentDidNotSucceedIsReported) {
  BuildPaidLogs();
  payments["pay_o1"].status = ev::PAYMENT_STATUS_VOIDED;
  EXPECT_TRUE(Reported(Check(false), {"order ord_1", "is paid", "pay_o1 (voided"}))
      << All(Check(false));
}

TEST_F(CommerceChecksTest, OrderLeftPendingOnAFinalPaymentIsReportedWhenDrained) {
  orders.Send(
      "ord_1",
      ForOrder(order::testing::Create("USD", {order::testing::Item("sku", 1, 700, 0)}), "ord_1"));
  orders.Send("ord_1", ForOrder(order::testing::Link("pay_o1", 700), "ord_1"));
  payments["pay_o1"] = Payment(ev::PAYMENT_STATUS_FAILED, 0);
  EXPECT_TRUE(Check(false).violations.empty()) << All(Check(false));
  EXPECT_TRUE(Reported(Check(true), {"order ord_1", "payment_pending", "pay_o1 (failed"}));
  payments["pay_o1"].status = ev::PAYMENT_STATUS_PROCESSING;  // not final: still waiting
  EXPECT_TRUE(Check(true).violations.empty()) << All(Check(true));
}

TEST_F(CommerceChecksTest, InvoiceAppliedMustMatchItsPaymentsCaptured) {
  BuildPaidLogs();
  payments["pay_i2"].captured -= 1;
  EXPECT_TRUE(Reported(Check(false), {"invoice inv_1", "more than captured"}));
  payments["pay_i2"].captured += 2;
  EXPECT_TRUE(Check(false).violations.empty()) << All(Check(false));
  const CheckReport drained = Check(true);
  EXPECT_TRUE(Reported(drained, {"invoice inv_1", "applied", "drained"})) << All(drained);
  EXPECT_TRUE(Reported(drained, {"invoice inv_1", "pay_i2", "is final but the invoice recorded"}));
}

TEST_F(CommerceChecksTest, InstallmentPaidAboveItsTotalIsReported) {
  BuildPaidLogs();
  for (auto& e : invoices.events) {
    if (e.has_payment_applied() && e.payment_applied().installment() == 1) {
      e.mutable_payment_applied()->set_applied_minor(e.payment_applied().applied_minor() + 5);
    }
  }
  payments["pay_i1"].captured += 5;  // keep the totals rule quiet
  EXPECT_TRUE(Reported(Check(false), {"invoice inv_1", "installment 1 paid", "above its total"}))
      << All(Check(false));
}

TEST_F(CommerceChecksTest, PaidInvoiceWithAnInstallmentUnpaidIsReported) {
  BuildPaidLogs();
  for (auto it = invoices.events.begin(); it != invoices.events.end();) {
    it = it->has_installment_paid() && it->installment_paid().installment() == 2
             ? invoices.events.erase(it)
             : std::next(it);
  }
  const CheckReport report = Check(false);
  EXPECT_TRUE(Reported(report, {"invoice inv_1 (PAID) has an installment not paid"}))
      << All(report);
}

TEST_F(CommerceChecksTest, InvoicePaymentFinalButUnrecordedIsReportedWhenDrained) {
  namespace it = invoice::testing;
  invoices.Send("inv_1", ForInvoice(it::WithPlan(it::Create("USD", {it::Item(1, 10'000, 0)}),
                                                 it::MonthlyPlan(2)),
                                    "inv_1"));
  const int64_t amount = invoices.states["inv_1"].installments[0].outstanding_minor();
  invoices.Send("inv_1", ForInvoice(it::Link("pay_i1", 1, amount, "USD"), "inv_1"));
  payments["pay_i1"] = Payment(ev::PAYMENT_STATUS_CANCELED, 0);
  EXPECT_TRUE(Check(false).violations.empty()) << All(Check(false));
  EXPECT_TRUE(Reported(Check(true), {"invoice inv_1", "pay_i1 (canceled", "did not release"}));
  invoices.Send("inv_1", ForInvoice(it::Failed("pay_i1"), "inv_1"));  // the saga's command
  EXPECT_TRUE(Check(true).violations.empty()) << All(Check(true));
}

// Through the Checker: commerce violations land in the one report, and Print shows the
// orders and invoices by status.
TEST_F(CommerceChecksTest, CheckerReportsAndPrintsOrdersAndInvoices) {
  BuildPaidLogs();
  Checker checker({.require_drained = true});
  for (const auto& r : orders.commands) checker.AddOrderCommand(r);
  for (const auto& r : orders.EventRecords()) checker.AddOrderEvent(r);
  for (const auto& r : invoices.commands) checker.AddInvoiceCommand(r);
  for (const auto& r : invoices.EventRecords()) checker.AddInvoiceEvent(r);
  const CheckReport report = checker.Finish();  // no payments log: nothing captured
  EXPECT_TRUE(Reported(report, {"order ord_1", "pay_o1 is not in the payments log"}));
  EXPECT_TRUE(Reported(report, {"invoice inv_1", "more than captured"}));
  char* text = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  report.Print(out);
  std::fclose(out);
  const std::string printed(text, size);
  std::free(text);
  EXPECT_NE(printed.find("orders: 3 commands"), std::string::npos) << printed;
  EXPECT_NE(printed.find("1 orders by status: paid=1"), std::string::npos) << printed;
  EXPECT_NE(printed.find("1 invoices by status: PAID=1"), std::string::npos) << printed;
}

}  // namespace
}  // namespace payorch::runtime
