// The invoice and order routes' parts without a broker: the one table from the cores'
// reject reasons to HTTP statuses, the request bodies as commands, the objects, and the
// follower's store (epoch filter, whole command groups, checkpoints, waiting by command id).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "api/internal/aggregates.h"
#include "api/internal/commerce_json.h"
#include "invoice/invoice.h"
#include "order/order.h"

namespace payorch::api::internal {
namespace {

namespace fs = std::filesystem;
namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;
using json = nlohmann::json;

std::string Name(std::string n) { return n.rfind("REJECT_REASON_", 0) == 0 ? n.substr(14) : n; }

TEST(ReasonStatus, EveryReasonOfBothCoresMapsToNotFoundConflictOrValidation) {
  struct Row {
    const char* reason;
    int status;
  };
  const Row pinned[] = {
      {"INVOICE_UNKNOWN", 404},          {"ORDER_UNKNOWN", 404},
      {"MERCHANT_MISMATCH", 404},        {"INSTALLMENT_OUT_OF_ORDER", 409},
      {"PAYMENT_IN_FLIGHT", 409},        {"TRANSITION_NOT_ALLOWED", 409},
      {"INVOICE_EXISTS", 409},           {"ORDER_EXISTS", 409},
      {"INSTALLMENT_ALREADY_PAID", 409}, {"LINE_ITEMS_FROZEN", 409},
      {"CURRENCY_NOT_ACCEPTED", 422},    {"QUANTITY_OUT_OF_RANGE", 422},
      {"AMOUNT_PRECISION", 422},         {"DUE_DATE_INVALID", 422},
      {"INSTALLMENT_UNKNOWN", 422},      {"INSTALLMENT_COUNT_OUT_OF_RANGE", 422},
  };
  for (const Row& r : pinned) EXPECT_EQ(StatusForReason(r.reason), r.status) << r.reason;
  for (int i = inv::RejectReason_MIN; i <= inv::RejectReason_MAX; ++i) {
    if (!inv::RejectReason_IsValid(i)) continue;
    const int s = StatusForReason(Name(inv::RejectReason_Name(static_cast<inv::RejectReason>(i))));
    EXPECT_TRUE(s == 404 || s == 409 || s == 422) << i;
  }
  for (int i = ord::RejectReason_MIN; i <= ord::RejectReason_MAX; ++i) {
    if (!ord::RejectReason_IsValid(i)) continue;
    const int s = StatusForReason(Name(ord::RejectReason_Name(static_cast<ord::RejectReason>(i))));
    EXPECT_TRUE(s == 404 || s == 409 || s == 422) << i;
  }
}

TEST(ReasonStatus, ARejectionIsTheDocumentedErrorWithItsReason) {
  AggregateDecision d;
  d.decided = true;
  d.rejection = "INSTALLMENT_OUT_OF_ORDER";
  d.detail = "installment 1 is not paid";
  d.command_type = "link_payment";
  http::Response r = AggregateRejection(d);
  EXPECT_EQ(r.status, 409);
  const json body = json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "installment_out_of_order");
  EXPECT_EQ(body["error"]["message"], "installment 1 is not paid");
  EXPECT_EQ(body["error"]["details"]["reason"], "installment_out_of_order");
  EXPECT_EQ(body["error"]["details"]["command_type"], "link_payment");
}

TEST(CommerceJson, ACheckoutBodyIsACreateOrderAndThePaymentMethod) {
  const json body = {{"currency", "USD"},
                     {"line_items",
                      {{{"product_id", "p"},
                        {"description", "d"},
                        {"quantity", 3},
                        {"unit_price", 250},
                        {"tax_rate_bps", 1100}}}},
                     {"customer_reference", "c-1"},
                     {"payment_method", "apple_pay"},
                     {"capture_method", "manual"}};
  ord::CreateOrder create;
  CheckoutPayment pay;
  ASSERT_FALSE(ParseCheckout(body, "m_1", &create, &pay));
  EXPECT_EQ(create.merchant_id(), "m_1");
  EXPECT_EQ(create.currency(), "USD");
  ASSERT_EQ(create.line_items_size(), 1);
  EXPECT_EQ(create.line_items(0).quantity(), 3);
  EXPECT_EQ(create.line_items(0).unit_price_minor(), 250);
  EXPECT_EQ(create.line_items(0).tax_rate_bps(), 1100u);
  EXPECT_EQ(create.customer_reference(), "c-1");
  EXPECT_EQ(pay.payment_method, "apple_pay");
  EXPECT_EQ(pay.capture_method, "manual");
}

TEST(CommerceJson, EveryBadFieldIsNamedAt422) {
  const json body = {{"currency", 5},
                     {"line_items", {{{"quantity", "x"}, {"unit_price", 10}, {"color", "red"}}}},
                     {"payment_method", "cash"},
                     {"extra", 1}};
  ord::CreateOrder create;
  CheckoutPayment pay;
  auto refused = ParseCheckout(body, "m_1", &create, &pay);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 422) << refused->body;
  const json answer = json::parse(refused->body);
  std::set<std::string> fields;
  for (const json& f : answer["error"]["details"]["fields"])
    fields.insert(f["field"].get<std::string>());
  EXPECT_EQ(fields, (std::set<std::string>{"currency", "line_items[0].quantity",
                                           "line_items[0].color", "payment_method", "extra"}));
}

// A line's quantity and unit price start at 1 (the core's CheckLine): the edge names the
// range it checks, not a wider one the core would then refuse.
TEST(CommerceJson, AZeroQuantityOrPriceIsRefusedWithTheRangeThatHolds) {
  const json body = {{"currency", "IDR"}, {"line_items", {{{"quantity", 0}, {"unit_price", 0}}}}};
  inv::CreateInvoice c;
  auto refused = ParseCreateInvoice(body, "m_1", &c);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 422) << refused->body;
  const json answer = json::parse(refused->body);
  std::map<std::string, std::string> messages;
  for (const json& f : answer["error"]["details"]["fields"])
    messages[f["field"].get<std::string>()] = f["message"].get<std::string>();
  EXPECT_EQ(messages["line_items[0].quantity"], "an integer from 1 to 1000000");
  EXPECT_EQ(messages["line_items[0].unit_price"].rfind("an integer from 1 to ", 0), 0u)
      << messages["line_items[0].unit_price"];
}

TEST(CommerceJson, AnInvoiceBodyCarriesFeePlanAndDates) {
  const json body = {
      {"currency", "IDR"},
      {"line_items", {{{"quantity", 1}, {"unit_price", 100000}}}},
      {"service_fee", {{"fixed", 500000}, {"rate_bps", 250}}},
      {"installments",
       {{"count", 2}, {"due_dates", {"2027-01-31", "2027-02-28"}}, {"weights", {1, 3}}}},
      {"customer_reference", "r"}};
  inv::CreateInvoice c;
  ASSERT_FALSE(ParseCreateInvoice(body, "m_1", &c));
  EXPECT_EQ(c.service_fee().fixed_minor(), 500000);
  EXPECT_EQ(c.service_fee().rate_bps(), 250u);
  EXPECT_EQ(c.installment_plan().count(), 2u);
  ASSERT_EQ(c.installment_plan().due_dates_size(), 2);
  EXPECT_EQ(c.installment_plan().due_dates(1).month(), 2u);
  EXPECT_EQ(c.installment_plan().weights(1), 3u);
  EXPECT_FALSE(ParseDate("2027-1-31"));
  EXPECT_FALSE(ParseDate("2027-01-31x"));
  ASSERT_TRUE(ParseDate("2027-12-01"));
  json bad = body;
  bad["installments"]["due_dates"] = {"tomorrow"};
  EXPECT_EQ(ParseCreateInvoice(bad, "m_1", &c)->status, 422);
}

// Events as the invoice writer would decide them, through the pure core.
std::vector<inv::InvoiceEventEnvelope> Decide(invoice::InvoiceState& s,
                                              const inv::InvoiceCommandEnvelope& c, int64_t offset,
                                              uint64_t epoch) {
  std::vector<inv::InvoiceEventEnvelope> out;
  invoice::InvoiceCommandRecord rec{&c, "payorch.invoice-commands", 0, offset, 1'700'000'000'000};
  invoice::DecideAndApply(s, rec, invoice::InvoiceDecideContext{epoch}, out);
  return out;
}

inv::InvoiceCommandEnvelope CreateCommand(const std::string& id, const std::string& command_id) {
  inv::InvoiceCommandEnvelope c;
  c.set_schema_version(1);
  c.set_command_id(command_id);
  c.set_invoice_id(id);
  auto* create = c.mutable_create();
  create->set_merchant_id("m_1");
  create->set_currency("USD");
  auto* line = create->add_line_items();
  line->set_quantity(2);
  line->set_unit_price_minor(1500);
  line->set_tax_rate_bps(1000);
  return c;
}

inv::InvoiceEventEnvelope Claim(uint64_t epoch) {
  inv::InvoiceEventEnvelope e;
  e.set_schema_version(1);
  e.set_epoch(epoch);
  e.mutable_writer_claimed()->set_epoch(epoch);
  return e;
}

fs::path TempDir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("payorch-commerce-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

TEST(AggregateFollower, FoldsCountedEventsKeepsThemAcrossReopenAndWakesTheWaiter) {
  const fs::path dir = TempDir("fold");
  invoice::InvoiceState truth;
  const auto created = Decide(truth, CreateCommand("inv_1", "cmd-1"), 7, 1);
  {
    AggregateFollower f({}, dir.string());
    ASSERT_EQ(f.Open(), "");
    int64_t offset = 0;
    ASSERT_TRUE(f.Apply(AggregateKind::kInvoice, 0, offset++, Claim(1).SerializeAsString()).ok());
    // A fenced writer's event (epoch 0) counts for nothing.
    inv::InvoiceEventEnvelope zombie = created.front();
    zombie.set_epoch(0);
    ASSERT_TRUE(f.Apply(AggregateKind::kInvoice, 0, offset++, zombie.SerializeAsString()).ok());
    EXPECT_FALSE(f.Invoice("inv_1"));
    auto w = f.Expect("cmd-1");
    std::thread feeder([&] {
      for (const auto& e : created)
        f.Apply(AggregateKind::kInvoice, 0, offset++, e.SerializeAsString()).IgnoreError();
    });
    const AggregateDecision d =
        f.Wait(w, std::chrono::steady_clock::now() + std::chrono::seconds(5));
    feeder.join();
    EXPECT_TRUE(d.decided);
    EXPECT_FALSE(d.rejected());
    ASSERT_TRUE(f.Invoice("inv_1"));
    EXPECT_EQ(*f.Invoice("inv_1"), truth);
    // A repeat of the create with another request: rejected, and the waiter hears why.
    inv::InvoiceCommandEnvelope other = CreateCommand("inv_1", "cmd-2");
    other.mutable_create()->set_currency("MYR");
    auto w2 = f.Expect("cmd-2");
    for (const auto& e : Decide(truth, other, 9, 1))
      ASSERT_TRUE(f.Apply(AggregateKind::kInvoice, 0, offset++, e.SerializeAsString()).ok());
    const AggregateDecision d2 = f.Wait(w2, std::chrono::steady_clock::now());
    EXPECT_EQ(d2.rejection, "INVOICE_EXISTS");
    EXPECT_EQ(StatusForReason(d2.rejection), 409);
  }
  AggregateFollower reopened({}, dir.string());
  ASSERT_EQ(reopened.Open(), "");
  ASSERT_TRUE(reopened.Invoice("inv_1"));
  EXPECT_EQ(*reopened.Invoice("inv_1"), truth);
  EXPECT_EQ(InvoiceObject(truth)["total"], 3300);
  fs::remove_all(dir);
}

// The financial report's invoice columns: a paid installment counts its schedule row's tax
// and service fee on the day it was paid; money beyond it counts as overpaid.
TEST(AggregateFollower, InvoiceTotalsCountPaidInstallmentsOnTheirDay) {
  const fs::path dir = TempDir("totals");
  invoice::InvoiceState truth;
  inv::InvoiceCommandEnvelope create = CreateCommand("inv_t", "cmd-c");
  create.mutable_create()->mutable_service_fee()->set_fixed_minor(100);
  auto* plan = create.mutable_create()->mutable_installment_plan();
  plan->set_count(2);
  for (uint32_t month : {1u, 2u}) {
    auto* d = plan->add_due_dates();
    d->set_year(2027);
    d->set_month(month);
    d->set_day(1);
  }
  std::vector<inv::InvoiceEventEnvelope> events = Decide(truth, create, 1, 1);
  ASSERT_TRUE(truth.Exists());
  ASSERT_EQ(truth.installments.size(), 2u);
  const invoice::Columns first = truth.installments[0].row.columns;
  inv::InvoiceCommandEnvelope link;
  link.set_schema_version(1);
  link.set_command_id("cmd-l");
  link.set_invoice_id("inv_t");
  link.mutable_link_payment()->set_payment_id("pay_1");
  link.mutable_link_payment()->set_installment(1);
  link.mutable_link_payment()->mutable_amount()->set_amount_minor(first.total_minor());
  link.mutable_link_payment()->mutable_amount()->set_currency("USD");
  for (auto& e : Decide(truth, link, 2, 1)) events.push_back(e);
  inv::InvoiceCommandEnvelope paid;
  paid.set_schema_version(1);
  paid.set_command_id("cmd-p");
  paid.set_invoice_id("inv_t");
  paid.mutable_payment_succeeded()->set_payment_id("pay_1");
  paid.mutable_payment_succeeded()->mutable_captured()->set_amount_minor(first.total_minor() + 50);
  paid.mutable_payment_succeeded()->mutable_captured()->set_currency("USD");
  for (auto& e : Decide(truth, paid, 3, 1)) events.push_back(e);
  ASSERT_TRUE(truth.installments[0].paid);

  AggregateFollower f({}, dir.string());
  ASSERT_EQ(f.Open(), "");
  int64_t offset = 0;
  ASSERT_TRUE(f.Apply(AggregateKind::kInvoice, 0, offset++, Claim(1).SerializeAsString()).ok());
  for (const auto& e : events)
    ASSERT_TRUE(f.Apply(AggregateKind::kInvoice, 0, offset++, e.SerializeAsString()).ok());
  // 1'700'000'000'000 ms (the records' time) is 2023-11-14 UTC.
  const auto totals = f.InvoiceTotals("m_1", "2023-11-14", "2023-11-14");
  ASSERT_EQ(totals.count("USD"), 1u);
  const InvoiceMoney& m = totals.at("USD");
  EXPECT_EQ(m.taxes, first.tax_minor);
  EXPECT_EQ(m.service_fees, first.fee_minor);
  EXPECT_EQ(m.principal, first.principal_minor);
  EXPECT_EQ(m.installments_paid, 1);
  EXPECT_EQ(m.overpaid, 50);
  EXPECT_TRUE(f.InvoiceTotals("m_1", "2023-11-15", "2023-12-31").empty());
  EXPECT_TRUE(f.InvoiceTotals("m_2", "2023-11-14", "2023-11-14").empty());
  fs::remove_all(dir);
}

TEST(AggregateFollower, AnUnknownIdAndAnotherKindAreNotFound) {
  const fs::path dir = TempDir("unknown");
  AggregateFollower f({}, dir.string());
  ASSERT_EQ(f.Open(), "");
  EXPECT_FALSE(f.Invoice("inv_none"));
  EXPECT_FALSE(f.Order("inv_none"));
  const AggregateDecision d = f.Wait(f.Expect("never"), std::chrono::steady_clock::now());
  EXPECT_FALSE(d.decided);
  fs::remove_all(dir);
}

TEST(CommerceJson, AnOrderObjectShowsStatusLinesTotalsAndPayment) {
  order::OrderState s;
  s.order_id = "ord_1";
  s.merchant_id = "m_1";
  s.currency = "USD";
  s.status = ord::ORDER_STATUS_PAYMENT_PENDING;
  s.lines.push_back({"p", "d", 2, 900, 0, 1800, 0});
  s.subtotal_minor = 1800;
  s.total_minor = 1800;
  s.payment_id = "pay_1";
  s.payments.push_back({"pay_1", 1800});
  const json o = OrderObject(s);
  EXPECT_EQ(o["status"], "payment_pending");
  EXPECT_EQ(o["line_items"][0]["net"], 1800);
  EXPECT_EQ(o["total"], 1800);
  EXPECT_EQ(o["payment_id"], "pay_1");
  EXPECT_EQ(o["amount_captured"], 0);
  EXPECT_TRUE(o["cancel_reason"].is_null());
}

}  // namespace
}  // namespace payorch::api::internal
