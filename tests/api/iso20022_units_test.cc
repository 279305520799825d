// The ISO 20022 wiring of the merchant API without a log (api/internal/iso20022_api.h): the
// pain.001 built from invoice data is XSD-valid, reports become the right commands, a
// report is applied once per MsgId, and hostile or misaddressed XML is refused with the
// documented JSON error and a 4xx.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "api/internal/iso20022_api.h"
#include "api/iso20022_support.h"
#include "iso20022/schema.h"

namespace payorch::api::internal {
namespace {

namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;
namespace iso = ::payorch::iso20022;
using json = nlohmann::json;
using testing::Pain002;

constexpr char kPayment1[] = "pay_0123456789abcdef0123456789abcdef";
constexpr char kPayment2[] = "pay_fedcba9876543210fedcba9876543210";

::payments::config::v1::BankAccount Creditor() {
  ::payments::config::v1::BankAccount a;
  a.set_name("Acme Trading GmbH");
  a.set_iban("DE89370400440532013000");
  a.set_bic("COBADEFFXXX");
  return a;
}

Debtor TheDebtor() { return {"Globex SA", "FR1420041010050500013M02606", "BNPAFRPPXXX"}; }

invoice::InvoiceState Invoice() {
  invoice::InvoiceState inv;
  inv.invoice_id = "inv_6f1c0e0b5d3a4e2f9a8b7c6d5e4f3a2b";
  inv.merchant_id = "m_bank";
  inv.currency = "EUR";
  inv.sequence = 4;
  return inv;
}

ExportRecord Exported() {
  std::vector<ExportedTransfer> transfers = {
      {"0123456789abcdef0123456789abcdef", kPayment1, "pay_1:s0:a1", "bank", 110000, "EUR"},
      {"fedcba9876543210fedcba9876543210", kPayment2, "pay_2:s0:a1", "bank", 99999, "EUR"}};
  StatusOr<ExportRecord> r =
      BuildExport("m_bank", Invoice(), Creditor(), TheDebtor(), transfers, 1'796'000'000'000);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.value();
}

TEST(Iso20022Wiring, EndToEndIdIsThePaymentIdWithinThirtyFiveCharacters) {
  EXPECT_EQ(EndToEndIdOf(kPayment1), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(EndToEndIdOf("p_short"), "p_short");
  EXPECT_EQ(EndToEndIdOf(std::string(36, 'x')), std::nullopt);
  EXPECT_EQ(EndToEndIdOf(""), std::nullopt);
}

TEST(Iso20022Wiring, MessageIdIsDeterministicPerInvoiceVersionAndDebtor) {
  const std::string a = InitiationMessageId("m", "inv_1", "DE89370400440532013000", 4);
  EXPECT_EQ(a, InitiationMessageId("m", "inv_1", "DE89370400440532013000", 4));
  EXPECT_NE(a, InitiationMessageId("m", "inv_1", "DE89370400440532013000", 5));
  EXPECT_NE(a, InitiationMessageId("m", "inv_2", "DE89370400440532013000", 4));
  EXPECT_NE(a, InitiationMessageId("m", "inv_1", "FR1420041010050500013M02606", 4));
  EXPECT_LE(InitiationMessageId("m", "inv_1", "x", UINT64_MAX).size(), 35u);
}

TEST(Iso20022Wiring, ThePain001BuiltFromInvoiceDataIsValidAgainstTheXsd) {
  const ExportRecord r = Exported();
  StatusOr<iso::XsdSchema> xsd = iso::XsdSchema::Load(testing::Pain001Xsd());
  ASSERT_TRUE(xsd.ok()) << xsd.status().ToString();
  EXPECT_TRUE(xsd.value().Validate(r.xml).ok()) << xsd.value().Validate(r.xml).ToString();
  EXPECT_NE(r.xml.find("<EndToEndId>0123456789abcdef0123456789abcdef</EndToEndId>"),
            std::string::npos);
  EXPECT_NE(r.xml.find("<InstdAmt Ccy=\"EUR\">1100.00</InstdAmt>"), std::string::npos);
  EXPECT_NE(r.xml.find("<NbOfTxs>2</NbOfTxs>"), std::string::npos);
  EXPECT_NE(r.xml.find("<CtrlSum>2099.99</CtrlSum>"), std::string::npos);
  EXPECT_NE(r.xml.find("<ReqdExctnDt>"), std::string::npos);
  EXPECT_NE(r.xml.find("<IBAN>DE89370400440532013000</IBAN>"), std::string::npos);
}

TEST(Iso20022Wiring, ABadCreditorAccountIsRefusedNamingTheField) {
  auto bad = Creditor();
  bad.set_iban("DE00370400440532013000");
  StatusOr<ExportRecord> r =
      BuildExport("m_bank", Invoice(), bad, TheDebtor(), Exported().transfers, 1'796'000'000'000);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("creditor_iban"), std::string::npos) << r.status().message();
}

TEST(Iso20022Wiring, EveryReportThisSuiteSendsIsValidAgainstThePain002Xsd) {
  StatusOr<iso::XsdSchema> xsd = iso::XsdSchema::Load(testing::Pain002Xsd());
  ASSERT_TRUE(xsd.ok()) << xsd.status().ToString();
  const ExportRecord r = Exported();
  const std::string pmtinf = r.message.payment_infos[0].payment_info_id;
  for (const std::string& doc :
       {Pain002("B-1", r.message.message_id, pmtinf,
                {{r.transfers[0].end_to_end_id, "ACSC", "", ""}}),
        Pain002("B-2", r.message.message_id, pmtinf,
                {{r.transfers[1].end_to_end_id, "RJCT", "AC04", "Account closed"}}),
        Pain002("B-3", r.message.message_id, pmtinf,
                {{r.transfers[0].end_to_end_id, "PDNG", "", ""}})}) {
    EXPECT_TRUE(xsd.value().Validate(doc).ok()) << xsd.value().Validate(doc).ToString();
  }
}

TEST(Iso20022Wiring, AcceptedSucceedsRejectedDeclinesAndPendingSendsNothing) {
  const ExportRecord r = Exported();
  std::vector<iso::TransactionOutcome> outcomes(3);
  outcomes[0].end_to_end_id = r.transfers[0].end_to_end_id;
  outcomes[0].outcome = iso::Outcome::kAccepted;
  outcomes[1].end_to_end_id = r.transfers[1].end_to_end_id;
  outcomes[1].outcome = iso::Outcome::kRejected;
  outcomes[2].end_to_end_id = r.transfers[0].end_to_end_id;
  outcomes[2].outcome = iso::Outcome::kPending;
  const auto commands = OutcomeCommands(r, "BANK-7", outcomes);
  ASSERT_EQ(commands.size(), 2u);
  const cmd::CommandEnvelope& ok = commands[0];
  EXPECT_EQ(ok.payment_id(), kPayment1);
  EXPECT_EQ(ok.merchant_id(), "m_bank");
  EXPECT_EQ(ok.command_id(), "iso20022/m_bank/BANK-7/" + r.transfers[0].end_to_end_id);
  EXPECT_EQ(ok.gateway_result().operation_key(), "pay_1:s0:a1");
  EXPECT_EQ(ok.gateway_result().outcome(), cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(ok.gateway_result().amount_processed_minor(), 110000);
  EXPECT_EQ(ok.gateway_result().source(), "iso20022");
  const cmd::CommandEnvelope& no = commands[1];
  EXPECT_EQ(no.payment_id(), kPayment2);
  EXPECT_EQ(no.gateway_result().outcome(), cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(no.gateway_result().error_code(), types::ERROR_CODE_DECLINED);
}

class Iso20022Ingest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("payorch-iso-units-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    api_ = std::make_unique<Iso20022Api>(Iso20022Deps{&options_, nullptr, nullptr, nullptr});
    ASSERT_EQ(api_->Open(dir_.string()), "");
  }
  void TearDown() override {
    api_.reset();
    std::filesystem::remove_all(dir_);
  }
  http::Response Post(const std::string& body, const std::string& type = "application/xml") {
    http::Request req;
    req.method = "POST";
    req.path = "/v1/iso20022/pain002";
    req.headers.emplace("Content-Type", type);
    req.body = body;
    return api_->Ingest(req, Principal{"key_1", "m_bank"});
  }
  static json Error(const http::Response& r) { return json::parse(r.body)["error"]; }
  static std::string Fixture(const std::string& name) {
    return testing::ReadAll(std::string(PAYORCH_ISO20022_TESTDATA_DIR) + "/" + name);
  }

  std::filesystem::path dir_;
  MerchantApiOptions options_;
  std::unique_ptr<Iso20022Api> api_;
};

TEST_F(Iso20022Ingest, AReportIsAppliedOncePerMessageId) {
  const ExportRecord r = Exported();
  ASSERT_TRUE(api_->Remember(r).ok());
  // Pending only: nothing to append (no appender is needed), and the answer is kept.
  const std::string doc =
      Pain002("BANK-STS-9", r.message.message_id, r.message.payment_infos[0].payment_info_id,
              {{r.transfers[0].end_to_end_id, "PDNG", "", ""}});
  http::Response first = Post(doc);
  ASSERT_EQ(first.status, 200) << first.body;
  json a = json::parse(first.body);
  EXPECT_EQ(a["duplicate"], false);
  ASSERT_EQ(a["transactions"].size(), 2u);
  EXPECT_EQ(a["transactions"][0]["outcome"], "pending");
  EXPECT_EQ(a["transactions"][0]["payment_intent"], kPayment1);
  EXPECT_EQ(a["transactions"][1]["status"], nullptr) << "not named: pending without a level";
  http::Response again = Post(doc);
  ASSERT_EQ(again.status, 200);
  json b = json::parse(again.body);
  EXPECT_EQ(b["duplicate"], true);
  b["duplicate"] = false;
  EXPECT_EQ(a, b) << "a repeat answers the first result";
}

TEST_F(Iso20022Ingest, HostileOrMisaddressedXmlIsRefusedWithAClearError) {
  struct Case {
    std::string body;
    int status;
    std::string code;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {Fixture("hostile_xxe_file.xml"), 400, "invalid_pain002", "doctype_refused"},
      {Fixture("hostile_billion_laughs.xml"), 400, "invalid_pain002", "doctype_refused"},
      {Fixture("hostile_external_dtd.xml"), 400, "invalid_pain002", "doctype_refused"},
      {Fixture("hostile_wrong_namespace.xml"), 400, "invalid_pain002", "wrong_namespace"},
      {Fixture("hostile_malformed.xml"), 400, "invalid_pain002", "malformed"},
      {std::string(iso::kMaxPain002Bytes + 1, ' '), 413, "payload_too_large", "too_large"},
  };
  for (const Case& c : cases) {
    http::Response r = Post(c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    const json e = Error(r);
    EXPECT_EQ(e["status"], c.status);
    EXPECT_EQ(e["code"], c.code) << r.body;
    EXPECT_EQ(e["details"]["reason"], c.reason) << r.body;
    EXPECT_FALSE(e["message"].get<std::string>().empty());
  }
  EXPECT_EQ(Post(Fixture("pain002_accepted.xml"), "application/json").status, 415);
  EXPECT_EQ(Error(Post("<x/>", "text/plain"))["code"], "unsupported_media_type");
  EXPECT_EQ(Post(Fixture("pain002_accepted.xml"), "application/xml; charset=utf-8").status, 404)
      << "well-formed, but payorch exported no such pain.001";
}

TEST_F(Iso20022Ingest, AReportNamingATransactionPayorchDidNotSendIsRefused) {
  const ExportRecord r = Exported();
  ASSERT_TRUE(api_->Remember(r).ok());
  http::Response res =
      Post(Pain002("BANK-STS-10", r.message.message_id, r.message.payment_infos[0].payment_info_id,
                   {{"not-ours", "ACSC", "", ""}}));
  EXPECT_EQ(res.status, 422) << res.body;
  EXPECT_EQ(Error(res)["code"], "report_mismatch");
}

}  // namespace
}  // namespace payorch::api::internal
