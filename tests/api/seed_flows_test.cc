// Issue 21 item 8: the seeds' flows end to end over HTTP, against `payorch run
// --merchant-api` on a `payorch broker`, the saga (runtime/saga.h) bringing the payments'
// facts to the invoice and the order.
//
//   seed 003  an invoice in 3 installments (USD, taxed lines, a service fee) paid one by one;
//             the second's first payment declines and a retry pays it; a supplementary
//             invoice for extra lines, created and paid; the last installment overpaid.
//   seed 004  a checkout with manual capture: authorized, captured (paid), refunded in part
//             (partially_refunded) and in full (refunded).
//
// Declines are deterministic by routing: cards decline at every processor
// (`flaky:decline=1` for Adyen and Stripe), Apple Pay is a mock processor that accepts.
// m_wallet's card plan is Adyen then Stripe, its Apple Pay plan Apple Pay up to 50.00 (the
// built-in configuration, src/config/README.md), so every amount here stays under 5000.
#include "api/e2e_support.h"

namespace payorch::api::testing {
namespace {

class SeedFlowsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new Stack("seed-flows");
    ASSERT_TRUE(stack_->StartBroker());
    port_ = stack_->StartRun("wait_ms: 5000\nappend_timeout_ms: 2000\n",
                             {"--gateways", "adyen=flaky:decline=1;stripe=flaky:decline=1;*=mock"});
    ASSERT_NE(port_, 0) << payorch::testing::ReadFile((stack_->dir / "run1.log").string());
    key_ = stack_->NewKey("m_wallet");
    cobranded_key_ = stack_->NewKey("m_cobranded");
  }
  static void TearDownTestSuite() { delete stack_; }
  void SetUp() override {
    ASSERT_NE(port_, 0);
    ASSERT_FALSE(key_.empty());
  }
  static Client client() { return Client("127.0.0.1", port_); }

  // GET `path` until `done` holds for its body (10 s at most); the last body.
  template <class Pred>
  static json Await(Client& c, const std::string& key, const std::string& path, Pred done) {
    json body;
    const bool ok = Eventually(
        [&] {
          body = c.Get(path, key).body;
          return body.is_object() && done(body);
        },
        std::chrono::seconds(10));
    EXPECT_TRUE(ok) << path << " never reached the expected state: " << body.dump();
    return body;
  }
  static json AwaitStatus(Client& c, const std::string& key, const std::string& path,
                          const std::string& status) {
    return Await(c, key, path, [&](const json& b) { return b.value("status", "") == status; });
  }

  // Each column of the schedule sums to the invoice's, and each row to its total.
  static void ExpectColumnsSum(const json& invoice) {
    int64_t principal = 0, tax = 0, fee = 0, total = 0;
    for (const json& i : invoice["installments"]) {
      EXPECT_EQ(
          i["principal"].get<int64_t>() + i["tax"].get<int64_t>() + i["service_fee"].get<int64_t>(),
          i["total"].get<int64_t>())
          << i.dump();
      principal += i["principal"].get<int64_t>();
      tax += i["tax"].get<int64_t>();
      fee += i["service_fee"].get<int64_t>();
      total += i["total"].get<int64_t>();
    }
    EXPECT_EQ(principal, invoice["subtotal"]);
    EXPECT_EQ(tax, invoice["tax"]);
    EXPECT_EQ(fee, invoice["service_fee_amount"]);
    EXPECT_EQ(total, invoice["total"]);
  }

  static Stack* stack_;
  static int port_;
  static std::string key_;
  static std::string cobranded_key_;
};

Stack* SeedFlowsTest::stack_ = nullptr;
int SeedFlowsTest::port_ = 0;
std::string SeedFlowsTest::key_;
std::string SeedFlowsTest::cobranded_key_;

bool Settled(const Reply& r) { return r.status == 201 || r.status == 202; }

TEST_F(SeedFlowsTest, Seed003AnInvoiceInInstallmentsWithADeclineASupplementaryAndAnOverpayment) {
  Client c = client();
  // USD: 2 x 15.00 at 10% (net 3000, tax 300) and 1 x 9.99 at 6% (net 999, tax 59.94 -> 60);
  // service fee 1.50 + 2.5% of 3999 (99.975 -> 100) = 250; total 4609 in three
  // installments: principal 1333 x 3, tax 120 x 3, fee 83, 83, 84 (the last absorbs).
  const json create = {
      {"currency", "USD"},
      {"customer_reference", "cust-003"},
      {"line_items",
       {{{"product_id", "course"},
         {"description", "Course"},
         {"quantity", 2},
         {"unit_price", 1500},
         {"tax_rate_bps", 1000}},
        {{"product_id", "book"}, {"quantity", 1}, {"unit_price", 999}, {"tax_rate_bps", 600}}}},
      {"service_fee", {{"fixed", 150}, {"rate_bps", 250}}},
      {"installments", {{"count", 3}, {"due_dates", {"2027-01-31", "2027-02-28", "2027-03-31"}}}}};
  Reply created = c.Post("/v1/invoices", key_, "s3-invoice", create);
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string id = created.body["id"];
  const std::string path = "/v1/invoices/" + id;
  EXPECT_EQ(created.body["subtotal"], 3999);
  EXPECT_EQ(created.body["tax"], 360);
  EXPECT_EQ(created.body["service_fee_amount"], 250);
  EXPECT_EQ(created.body["total"], 4609);
  ASSERT_EQ(created.body["installments"].size(), 3u);
  EXPECT_EQ(created.body["installments"][0]["total"], 1536);
  EXPECT_EQ(created.body["installments"][1]["total"], 1536);
  EXPECT_EQ(created.body["installments"][2]["total"], 1537);
  EXPECT_EQ(created.body["installments"][2]["service_fee"], 84);
  ExpectColumnsSum(created.body);

  // Installment 1, by Apple Pay.
  Reply first = c.Post(path + "/payments", key_, "s3-i1",
                       {{"installment", 1}, {"payment_method", "apple_pay"}});
  ASSERT_TRUE(Settled(first)) << first.raw;
  EXPECT_EQ(first.body["payment"]["amount"], 1536);
  EXPECT_EQ(first.body["payment"]["metadata"]["payorch_invoice"], id);
  EXPECT_EQ(first.body["payment"]["metadata"]["payorch_installment"], "1");
  json inv = AwaitStatus(c, key_, path, "partially_paid");
  EXPECT_EQ(inv["installments"][0]["paid"], true);
  EXPECT_EQ(inv["amount_paid"], 1536);

  // Installment 2: the card declines (402, the invoice beside the card error); the saga
  // releases the payment, and a retry by Apple Pay pays it.
  Reply declined = c.Post(path + "/payments", key_, "s3-i2-card",
                          {{"installment", 2}, {"payment_method", "card"}});
  ASSERT_EQ(declined.status, 402) << declined.raw;
  EXPECT_EQ(declined.body["error"]["code"], "card_declined");
  EXPECT_EQ(declined.body["error"]["invoice"]["id"], id);
  const std::string declined_id = declined.body["error"]["payment_intent"]["id"];
  inv = Await(c, key_, path, [&](const json& b) {
    for (const json& p : b["payments"])
      if (p["payment_id"] == declined_id) return p["released"].get<bool>();
    return false;
  });
  EXPECT_EQ(inv["status"], "partially_paid");
  EXPECT_EQ(inv["installments"][1]["amount_paid"], 0);
  Reply retried = c.Post(path + "/payments", key_, "s3-i2-apple",
                         {{"installment", 2}, {"payment_method", "apple_pay"}});
  ASSERT_TRUE(Settled(retried)) << retried.raw;
  EXPECT_NE(retried.body["payment"]["id"], declined_id);
  EXPECT_EQ(retried.body["payment"]["amount"], 1536);
  inv = Await(c, key_, path, [](const json& b) { return b["installments"][1]["paid"] == true; });
  EXPECT_EQ(inv["amount_paid"], 3072);
  EXPECT_EQ(inv["status"], "partially_paid");

  // A supplementary invoice for an extra line: issued on this invoice and created as an
  // invoice of its own (one payment, same currency and fee rule): 1 x 5.00 at 10% (tax 50),
  // fee 1.50 + 2.5% of 500 (12.5 -> 13) = 163; total 713.
  const json extra = {
      {"line_items",
       {{{"product_id", "extra"}, {"quantity", 1}, {"unit_price", 500}, {"tax_rate_bps", 1000}}}},
      {"reason", "an extra session"}};
  Reply sup = c.Post(path + "/supplementary", key_, "s3-sup", extra);
  ASSERT_EQ(sup.status, 201) << sup.raw;
  const json& supplementary = sup.body["supplementary_invoice"];
  const std::string sup_id = supplementary["id"];
  EXPECT_EQ(sup.body["invoice"]["id"], id);
  EXPECT_EQ(sup.body["invoice"]["supplementary_invoices"], json::array({sup_id}));
  EXPECT_EQ(sup.body["invoice"]["total"], 4609) << "the original's totals do not change";
  EXPECT_EQ(supplementary["status"], "open");
  EXPECT_EQ(supplementary["supplements_invoice_id"], id);
  EXPECT_EQ(supplementary["currency"], "USD");
  EXPECT_EQ(supplementary["customer_reference"], "cust-003");
  EXPECT_EQ(supplementary["subtotal"], 500);
  EXPECT_EQ(supplementary["tax"], 50);
  EXPECT_EQ(supplementary["service_fee_amount"], 163);
  EXPECT_EQ(supplementary["total"], 713);
  ASSERT_EQ(supplementary["installments"].size(), 1u);
  ExpectColumnsSum(supplementary);
  // The same request again completes nothing new: the same two invoices.
  Reply again = c.Post(path + "/supplementary", key_, "s3-sup", extra);
  ASSERT_EQ(again.status, 201) << again.raw;
  EXPECT_EQ(again.body["supplementary_invoice"]["id"], sup_id);
  EXPECT_EQ(again.body["invoice"]["supplementary_invoices"].size(), 1u);
  EXPECT_EQ(c.Get("/v1/invoices/" + sup_id, cobranded_key_).status, 404);

  Reply sup_paid = c.Post("/v1/invoices/" + sup_id + "/payments", key_, "s3-sup-pay",
                          {{"installment", 1}, {"payment_method", "apple_pay"}});
  ASSERT_TRUE(Settled(sup_paid)) << sup_paid.raw;
  json sup_now = AwaitStatus(c, key_, "/v1/invoices/" + sup_id, "paid");
  EXPECT_EQ(sup_now["amount_paid"], 713);
  EXPECT_EQ(sup_now["amount_overpaid"], 0);

  // Installment 3 paid with 1.00 more than it needs: the invoice is paid, the excess
  // recorded as overpaid and applied to nothing.
  Reply over = c.Post(path + "/payments", key_, "s3-i3-over",
                      {{"installment", 3}, {"payment_method", "apple_pay"}, {"amount", 1637}});
  ASSERT_TRUE(Settled(over)) << over.raw;
  EXPECT_EQ(over.body["payment"]["amount"], 1637);
  inv = Await(c, key_, path, [](const json& b) {
    return b.value("status", "") == "paid" && b.value("amount_overpaid", 0) > 0;
  });
  EXPECT_EQ(inv["status"], "paid");
  EXPECT_EQ(inv["amount_paid"], 4609);
  EXPECT_EQ(inv["amount_overpaid"], 100);
  for (const json& i : inv["installments"]) {
    EXPECT_EQ(i["paid"], true) << i.dump();
    EXPECT_EQ(i["amount_paid"], i["total"]) << i.dump();
    EXPECT_EQ(i["outstanding"], 0) << i.dump();
  }
  ExpectColumnsSum(inv);
  ASSERT_EQ(inv["payments"].size(), 4u);
  EXPECT_EQ(inv["payments"][3]["captured"], 1637);
  EXPECT_EQ(inv["payments"][3]["applied"], 1537);
  // Nothing more can be linked to a paid invoice.
  Reply late = c.Post(path + "/payments", key_, "s3-late",
                      {{"installment", 3}, {"payment_method", "apple_pay"}, {"amount", 100}});
  EXPECT_EQ(late.status, 409) << late.raw;
}

TEST_F(SeedFlowsTest, Seed004AManualCaptureCheckoutIsAuthorizedPaidAndRefunded) {
  Client c = client();
  const json checkout = {
      {"currency", "USD"},
      {"line_items",
       {{{"product_id", "mug"}, {"quantity", 2}, {"unit_price", 900}, {"tax_rate_bps", 1000}},
        {{"product_id", "tea"}, {"quantity", 1}, {"unit_price", 200}}}},
      {"payment_method", "apple_pay"},
      {"capture_method", "manual"}};
  Reply r = c.Post("/v1/checkout", key_, "s4-checkout", checkout);
  ASSERT_TRUE(Settled(r)) << r.raw;
  const std::string order_id = r.body["order"]["id"];
  const std::string payment_id = r.body["payment"]["id"];
  const std::string path = "/v1/orders/" + order_id;
  EXPECT_EQ(r.body["order"]["total"], 2180);  // 1800 + 180 tax + 200
  EXPECT_EQ(r.body["payment"]["metadata"]["payorch_order"], order_id);
  json order = AwaitStatus(c, key_, path, "authorized");
  EXPECT_EQ(order["amount_authorized"], 2180);
  EXPECT_EQ(order["amount_captured"], 0);

  Reply captured =
      c.Post("/v1/payments/" + payment_id + "/capture", key_, "s4-capture", json::object());
  ASSERT_EQ(captured.status, 200) << captured.raw;
  EXPECT_EQ(captured.body["status"], "succeeded");
  order = AwaitStatus(c, key_, path, "paid");
  EXPECT_EQ(order["amount_captured"], 2180);

  Reply part =
      c.Post("/v1/refunds", key_, "s4-refund-1", {{"payment_intent", payment_id}, {"amount", 500}});
  ASSERT_EQ(part.status, 200) << part.raw;
  EXPECT_EQ(part.body["amount"], 500);
  order = AwaitStatus(c, key_, path, "partially_refunded");
  EXPECT_EQ(order["amount_refunded"], 500);

  Reply rest = c.Post("/v1/refunds", key_, "s4-refund-2", {{"payment_intent", payment_id}});
  ASSERT_EQ(rest.status, 200) << rest.raw;
  EXPECT_EQ(rest.body["amount"], 1680);
  order = AwaitStatus(c, key_, path, "refunded");
  EXPECT_EQ(order["amount_refunded"], 2180);
  EXPECT_EQ(order["amount_captured"], 2180);
}

// A payment POST /v1/payments refuses before it exists (more than m_cobranded's card plan
// covers) never reaches the saga: the route releases the installment itself, so it can be
// paid at once.
TEST_F(SeedFlowsTest, AnInvoicePaymentRefusedBeforeItExistsReleasesItsInstallment) {
  ASSERT_FALSE(cobranded_key_.empty());
  Client c = client();
  const json create = {
      {"currency", "USD"},
      {"line_items", {{{"product_id", "kit"}, {"quantity", 1}, {"unit_price", 3000}}}},
      {"installments", {{"count", 2}, {"due_dates", {"2027-01-31", "2027-02-28"}}}}};
  Reply created = c.Post("/v1/invoices", cobranded_key_, "refused-invoice", create);
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string path = "/v1/invoices/" + created.body["id"].get<std::string>();
  Reply refused = c.Post(path + "/payments", cobranded_key_, "refused-pay",
                         {{"installment", 1}, {"payment_method", "card"}, {"amount", 20000}});
  ASSERT_TRUE(refused.status == 400 || refused.status == 422) << refused.raw;
  json inv = c.Get(path, cobranded_key_).body;
  ASSERT_EQ(inv["payments"].size(), 1u) << inv.dump();
  EXPECT_EQ(inv["payments"][0]["released"], true) << inv.dump();
  EXPECT_EQ(inv["payments"][0]["pending"], false);
  Reply replay = c.Post(path + "/payments", cobranded_key_, "refused-pay",
                        {{"installment", 1}, {"payment_method", "card"}, {"amount", 20000}});
  EXPECT_EQ(replay.status, refused.status);
  EXPECT_EQ(replay.raw, refused.raw);

  Reply paid = c.Post(path + "/payments", cobranded_key_, "refused-then-paid",
                      {{"installment", 1}, {"payment_method", "card"}});
  ASSERT_TRUE(Settled(paid)) << paid.raw;
  inv = Await(c, cobranded_key_, path,
              [](const json& b) { return b["installments"][0]["paid"] == true; });
  EXPECT_EQ(inv["status"], "partially_paid");
}

}  // namespace
}  // namespace payorch::api::testing
