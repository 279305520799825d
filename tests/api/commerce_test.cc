// Issue 21 items 2 and 3 over HTTP, end to end against `payorch run --merchant-api` on a
// `payorch broker`: invoices with installments (out-of-order payment refused, the first
// installment paid and linked), a checkout (order and payment created, linked), a checkout
// whose payment is refused, a restart, and the paid states the saga (runtime/saga.h) brings.
#include "api/e2e_support.h"
#include "command/hash.h"

namespace payorch::api::testing {
namespace {

class CommerceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new Stack("commerce");
    ASSERT_TRUE(stack_->StartBroker());
    port_ = stack_->StartRun("wait_ms: 5000\nappend_timeout_ms: 2000\n");
    ASSERT_NE(port_, 0) << payorch::testing::ReadFile((stack_->dir / "run1.log").string());
    key_ = stack_->NewKey("m_wallet");
    other_key_ = stack_->NewKey("m_cobranded");
  }
  static void TearDownTestSuite() { delete stack_; }
  void SetUp() override {
    ASSERT_NE(port_, 0);
    ASSERT_FALSE(key_.empty());
  }
  static Client client() { return Client("127.0.0.1", port_); }

  static json ThreeInstallmentsInUsd() {
    return {
        {"currency", "USD"},
        {"line_items",
         {{{"product_id", "sku-1"},
           {"description", "Course"},
           {"quantity", 2},
           {"unit_price", 1500},
           {"tax_rate_bps", 1000}}}},
        {"installments", {{"count", 3}, {"due_dates", {"2027-01-31", "2027-02-28", "2027-03-31"}}}},
        {"customer_reference", "cust-7"}};
  }
  static json Checkout() {
    return {{"currency", "USD"},
            {"line_items",
             {{{"product_id", "mug"}, {"quantity", 2}, {"unit_price", 900}, {"tax_rate_bps", 0}},
              {{"product_id", "tea"}, {"quantity", 1}, {"unit_price", 200}}}},
            {"payment_method", "card"}};
  }

  static Stack* stack_;
  static int port_;
  static std::string key_;
  static std::string other_key_;
};

Stack* CommerceTest::stack_ = nullptr;
int CommerceTest::port_ = 0;
std::string CommerceTest::key_;
std::string CommerceTest::other_key_;

TEST_F(CommerceTest, AnInstallmentIsPaidOnlyAfterTheOnesBeforeIt) {
  Client c = client();
  Reply created = c.Post("/v1/invoices", key_, "inv-1", ThreeInstallmentsInUsd());
  ASSERT_EQ(created.status, 201) << created.raw;
  const json& invoice = created.body;
  const std::string id = invoice["id"];
  EXPECT_EQ(invoice["object"], "invoice");
  EXPECT_EQ(invoice["status"], "open");
  EXPECT_EQ(invoice["total"], 3300);
  ASSERT_EQ(invoice["installments"].size(), 3u);
  EXPECT_EQ(invoice["installments"][0]["total"], 1100);
  EXPECT_EQ(invoice["installments"][1]["due_date"], "2027-02-28");

  // The same request under the same key is the same invoice; another merchant sees none.
  Reply again = c.Post("/v1/invoices", key_, "inv-1", ThreeInstallmentsInUsd());
  EXPECT_EQ(again.status, 201) << again.raw;
  EXPECT_EQ(again.body["id"], id);
  EXPECT_EQ(c.Get("/v1/invoices/" + id, other_key_).status, 404);

  // Installment 2 before 1: refused by the invoice, and no payment is created.
  Reply early = c.Post("/v1/invoices/" + id + "/payments", key_, "inv-1-pay-2",
                       {{"installment", 2}, {"payment_method", "card"}});
  ASSERT_EQ(early.status, 409) << early.raw;
  EXPECT_EQ(early.body["error"]["code"], "installment_out_of_order");
  EXPECT_EQ(early.body["error"]["details"]["command_type"], "link_payment");

  Reply paid = c.Post("/v1/invoices/" + id + "/payments", key_, "inv-1-pay-1",
                      {{"installment", 1}, {"payment_method", "card"}});
  ASSERT_EQ(paid.status, 201) << paid.raw;
  const std::string payment_id = paid.body["payment"]["id"];
  EXPECT_EQ(paid.body["payment"]["amount"], 1100);
  EXPECT_EQ(paid.body["payment"]["metadata"]["payorch_invoice"], id);
  Reply replay = c.Post("/v1/invoices/" + id + "/payments", key_, "inv-1-pay-1",
                        {{"installment", 1}, {"payment_method", "card"}});
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.raw, paid.raw) << "the same key replays the same answer";

  Reply got = c.Get("/v1/invoices/" + id, key_);
  ASSERT_EQ(got.status, 200) << got.raw;
  ASSERT_EQ(got.body["payments"].size(), 1u) << got.raw;
  EXPECT_EQ(got.body["payments"][0]["payment_id"], payment_id);
  EXPECT_EQ(got.body["payments"][0]["installment"], 1);
  EXPECT_EQ(got.body["payments"][0]["amount"], 1100);
  EXPECT_EQ(c.Get("/v1/payments/" + payment_id, key_).status, 200);

  // Linked: the invoice can no longer be canceled.
  Reply cancel = c.Post("/v1/invoices/" + id + "/cancel", key_, "", {{"reason", "changed"}});
  EXPECT_EQ(cancel.status, 409) << cancel.raw;
  EXPECT_EQ(cancel.body["error"]["code"], "transition_not_allowed");
}

TEST_F(CommerceTest, ARefusedInvoiceAnswersWhyWithTheDocumentedShape) {
  Client c = client();
  json bad = ThreeInstallmentsInUsd();
  bad["currency"] = "EUR";
  Reply r = c.Post("/v1/invoices", key_, "", bad);
  ASSERT_EQ(r.status, 422) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "currency_not_accepted");
  EXPECT_EQ(r.body["error"]["type"], "invalid_request_error");
  Reply shape = c.Post("/v1/invoices", key_, "", {{"currency", "USD"}, {"line_items", 3}});
  ASSERT_EQ(shape.status, 422) << shape.raw;
  EXPECT_EQ(shape.body["error"]["code"], "validation_failed");
  EXPECT_EQ(c.Get("/v1/invoices/inv_nope", key_).status, 404);
  EXPECT_EQ(c.Get("/v1/orders/ord_nope", key_).status, 404);
  EXPECT_EQ(c.Post("/v1/checkout", key_, "", Checkout()).status, 400) << "a key is required";
}

TEST_F(CommerceTest, ACheckoutCreatesTheOrderAndItsLinkedPayment) {
  Client c = client();
  Reply r = c.Post("/v1/checkout", key_, "co-1", Checkout());
  ASSERT_TRUE(r.status == 201 || r.status == 202) << r.raw;
  const json& order = r.body["order"];
  const std::string order_id = order["id"];
  EXPECT_EQ(order["object"], "order");
  EXPECT_EQ(order["total"], 2000);
  EXPECT_EQ(r.body["payment"]["amount"], 2000);
  EXPECT_EQ(r.body["payment"]["metadata"]["payorch_order"], order_id);
  EXPECT_EQ(order["payment_id"], r.body["payment"]["id"]);

  Reply got = c.Get("/v1/orders/" + order_id, key_);
  ASSERT_EQ(got.status, 200) << got.raw;
  const std::string status = got.body["status"];
  EXPECT_TRUE(status == "payment_pending" || status == "authorized" || status == "paid") << status;
  EXPECT_EQ(got.body["line_items"].size(), 2u);
  EXPECT_EQ(got.body["payment_id"], r.body["payment"]["id"]);
  EXPECT_EQ(c.Get("/v1/orders/" + order_id, other_key_).status, 404);

  if (r.status == 201) {
    Reply replay = c.Post("/v1/checkout", key_, "co-1", Checkout());
    EXPECT_EQ(replay.status, 201);
    EXPECT_EQ(replay.raw, r.raw) << "the same key replays the same answer";
  }
  json other = Checkout();
  other["currency"] = "MYR";
  EXPECT_EQ(c.Post("/v1/checkout", key_, "co-1", other).status, 409) << "the key is taken";
}

// A payment refused before it exists (here: more than any of m_cobranded's processors takes)
// never reaches the saga, so the checkout releases the order's link itself.
TEST_F(CommerceTest, ACheckoutWhosePaymentIsRefusedLeavesTheOrderAwaitingPayment) {
  Client c = client();
  json body = Checkout();
  body["line_items"] = {{{"product_id", "sofa"}, {"quantity", 1}, {"unit_price", 5'000'000}}};
  Reply r = c.Post("/v1/checkout", other_key_, "co-refused", body);
  ASSERT_TRUE(r.status == 400 || r.status == 422) << r.raw;
  const std::string order_id = "ord_" + StableHasher().Add("m_cobranded").Add("co-refused").Hex();
  EXPECT_EQ(r.body["error"]["details"]["order"], order_id) << "the refusal names the order";
  json order;
  EXPECT_TRUE(Eventually(
      [&] {
        order = c.Get("/v1/orders/" + order_id, other_key_).body;
        return order.value("status", "") == "awaiting_payment";
      },
      std::chrono::seconds(10)))
      << order.dump() << " after " << r.raw;
  // Awaiting payment again, it can be canceled; a canceled order takes no payment.
  Reply canceled = c.Post("/v1/orders/" + order_id + "/cancel", other_key_, "co-refused-cancel",
                          {{"reason", "customer left"}});
  ASSERT_EQ(canceled.status, 200) << canceled.raw;
  EXPECT_EQ(canceled.body["status"], "canceled");
  EXPECT_EQ(canceled.body["cancel_reason"], "customer left");
  EXPECT_EQ(c.Post("/v1/orders/" + order_id + "/cancel", key_, "co-other-merchant",
                   {{"reason", "not mine"}})
                .status,
            404)
      << "another merchant's order";
}

// It restarts `payorch run`. The views are the API's own store
// (api/commerce), read again from its checkpoints: nothing lost, nothing counted twice.
TEST_F(CommerceTest, InvoicesAndOrdersSurviveARestart) {
  Client c = client();
  Reply inv = c.Post("/v1/invoices", key_, "inv-restart", ThreeInstallmentsInUsd());
  ASSERT_EQ(inv.status, 201) << inv.raw;
  const std::string id = inv.body["id"];
  Reply paid = c.Post("/v1/invoices/" + id + "/payments", key_, "inv-restart-1",
                      {{"installment", 1}, {"payment_method", "card"}});
  ASSERT_EQ(paid.status, 201) << paid.raw;
  Reply co = c.Post("/v1/checkout", key_, "co-restart", Checkout());
  ASSERT_TRUE(co.status == 201 || co.status == 202) << co.raw;
  const std::string order_id = co.body["order"]["id"];
  // Once the saga has recorded both payments, nothing changes them any more.
  Reply before;
  Reply order_before;
  ASSERT_TRUE(Eventually(
      [&] {
        before = c.Get("/v1/invoices/" + id, key_);
        order_before = c.Get("/v1/orders/" + order_id, key_);
        return before.body.value("status", "") == "partially_paid" &&
               order_before.body.value("status", "") == "paid";
      },
      std::chrono::seconds(10)))
      << before.raw << order_before.raw;

  stack_->run.Kill(SIGKILL);
  port_ = stack_->StartRun("wait_ms: 5000\nappend_timeout_ms: 2000\n");
  ASSERT_NE(port_, 0);
  Client again = client();
  const Reply after = again.Get("/v1/invoices/" + id, key_);
  ASSERT_EQ(after.status, 200) << after.raw;
  EXPECT_EQ(after.body, before.body);
  EXPECT_EQ(after.body["payments"].size(), 1u);
  const Reply order_after = again.Get("/v1/orders/" + order_id, key_);
  ASSERT_EQ(order_after.status, 200) << order_after.raw;
  EXPECT_EQ(order_after.body, order_before.body);
  // The same key after the restart: the stored answer.
  Reply replay = again.Post("/v1/invoices/" + id + "/payments", key_, "inv-restart-1",
                            {{"installment", 1}, {"payment_method", "card"}});
  EXPECT_EQ(replay.raw, paid.raw);
}

// The saga (src/runtime/saga.h) records the payments' facts: the order is paid, the
// invoice's first installment too, and the second can then be paid.
TEST_F(CommerceTest, ThePaymentsFactsAdvanceTheOrderAndTheInvoice) {
  Client c = client();
  Reply r = c.Post("/v1/checkout", key_, "co-paid", Checkout());
  ASSERT_TRUE(r.status == 201 || r.status == 202) << r.raw;
  const std::string order_id = r.body["order"]["id"];
  json order;
  const bool advanced = Eventually(
      [&] {
        order = c.Get("/v1/orders/" + order_id, key_).body;
        return order.is_object() && order.value("status", "") != "payment_pending";
      },
      std::chrono::seconds(10));
  ASSERT_TRUE(advanced) << "the order never left payment_pending: " << order.dump();
  EXPECT_EQ(order["status"], "paid");
  EXPECT_EQ(order["amount_captured"], 2000);
  Reply refused = c.Post("/v1/orders/" + order_id + "/cancel", key_, "co-paid-cancel",
                         {{"reason", "too late"}});
  EXPECT_EQ(refused.status, 409) << "a paid order is refunded through its payment: " << refused.raw;

  Reply inv = c.Post("/v1/invoices", key_, "inv-paid", ThreeInstallmentsInUsd());
  ASSERT_EQ(inv.status, 201) << inv.raw;
  const std::string id = inv.body["id"];
  Reply paid = c.Post("/v1/invoices/" + id + "/payments", key_, "inv-paid-1",
                      {{"installment", 1}, {"payment_method", "card"}});
  ASSERT_EQ(paid.status, 201) << paid.raw;
  json invoice;
  EXPECT_TRUE(Eventually(
      [&] {
        invoice = c.Get("/v1/invoices/" + id, key_).body;
        return invoice.is_object() && invoice.value("status", "") == "partially_paid";
      },
      std::chrono::seconds(10)))
      << invoice.dump();
  EXPECT_EQ(invoice["installments"][0]["paid"], true);
  EXPECT_EQ(invoice["amount_paid"], 1100);
  Reply second = c.Post("/v1/invoices/" + id + "/payments", key_, "inv-paid-2",
                        {{"installment", 2}, {"payment_method", "card"}});
  EXPECT_EQ(second.status, 201) << second.raw;
}

}  // namespace
}  // namespace payorch::api::testing
