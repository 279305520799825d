// The pain.001.001.09 writer: every document it writes is valid against the official XSD;
// control sums and amounts are exact; every bad field is refused by name.
#include "iso20022/pain001.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "command/money.h"
#include "iso20022_test_support.h"

namespace payorch::iso20022 {
namespace {

using testing::Pain001Xsd;
using testing::SampleInitiation;
using testing::Schema;
using testing::Select;

std::string WriteValid(const CreditTransferInitiation& m) {
  StatusOr<std::string> xml = WritePain001(m);
  EXPECT_TRUE(xml.ok()) << xml.status().message();
  if (!xml.ok()) return "";
  Status valid = Schema(Pain001Xsd()).Validate(xml.value());
  EXPECT_TRUE(valid.ok()) << valid.message() << "\n" << xml.value();
  return xml.value();
}

TEST(Pain001Xsd, TheOfficialSchemaIsInstalled) {
  EXPECT_TRUE(std::filesystem::exists(Pain001Xsd())) << Pain001Xsd();
  StatusOr<XsdSchema> schema = XsdSchema::Load(Pain001Xsd());
  EXPECT_TRUE(schema.ok()) << schema.status().message();
}

TEST(Pain001Xsd, ASchemaThatIsMissingIsAnErrorNotACrash) {
  StatusOr<XsdSchema> schema = XsdSchema::Load(testing::XsdDir() + "/no-such.xsd");
  ASSERT_FALSE(schema.ok());
  EXPECT_EQ(ErrorCodeOf(schema.status()), ErrorCode::kSchemaUnavailable);
  EXPECT_EQ(schema.status().code(), StatusCode::kFailedPrecondition);
}

TEST(Pain001Writer, OneTransactionIsValidAndCarriesEveryField) {
  CreditTransferInitiation m = SampleInitiation();
  m.payment_infos.resize(1);
  m.payment_infos[0].transactions.resize(1);
  const std::string xml = WriteValid(m);
  EXPECT_EQ(Select(xml, "/p:Document/p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId"),
            std::vector<std::string>{"PAYORCH-INV-0001"});
  EXPECT_EQ(Select(xml, "//p:GrpHdr/p:CreDtTm"),
            std::vector<std::string>{"2026-12-05T11:18:49.123Z"});
  EXPECT_EQ(Select(xml, "//p:GrpHdr/p:NbOfTxs"), std::vector<std::string>{"1"});
  EXPECT_EQ(Select(xml, "//p:GrpHdr/p:CtrlSum"), std::vector<std::string>{"1234.56"});
  EXPECT_EQ(Select(xml, "//p:GrpHdr/p:InitgPty/p:Nm"),
            std::vector<std::string>{"Acme Trading GmbH"});
  EXPECT_EQ(Select(xml, "//p:PmtInf/p:PmtMtd"), std::vector<std::string>{"TRF"});
  EXPECT_EQ(Select(xml, "//p:PmtInf/p:ReqdExctnDt/p:Dt"), std::vector<std::string>{"2026-12-07"});
  EXPECT_EQ(Select(xml, "//p:DbtrAcct/p:Id/p:IBAN"),
            std::vector<std::string>{"DE89370400440532013000"});
  EXPECT_EQ(Select(xml, "//p:DbtrAgt/p:FinInstnId/p:BICFI"),
            std::vector<std::string>{"COBADEFFXXX"});
  EXPECT_EQ(Select(xml, "//p:CdtTrfTxInf/p:PmtId/p:EndToEndId"),
            std::vector<std::string>{"E2E-INV-0001-1"});
  EXPECT_EQ(Select(xml, "//p:CdtTrfTxInf/p:Amt/p:InstdAmt"), std::vector<std::string>{"1234.56"});
  EXPECT_EQ(Select(xml, "//p:InstdAmt/@Ccy"), std::vector<std::string>{"EUR"});
  EXPECT_EQ(Select(xml, "//p:CdtrAgt/p:FinInstnId/p:BICFI"),
            std::vector<std::string>{"BNPAFRPPXXX"});
  EXPECT_EQ(Select(xml, "//p:Cdtr/p:Nm"), std::vector<std::string>{"Globex SA"});
  EXPECT_EQ(Select(xml, "//p:CdtrAcct/p:Id/p:IBAN"),
            std::vector<std::string>{"FR1420041010050500013M02606"});
  EXPECT_EQ(Select(xml, "//p:RmtInf/p:Ustrd"),
            std::vector<std::string>{"Invoice INV-0001 installment 1/3"});
}

TEST(Pain001Writer, OptionalCreditorAgentAndRemittanceAreLeftOutWhenEmpty) {
  CreditTransferInitiation m = SampleInitiation();
  m.payment_infos.resize(1);
  m.payment_infos[0].transactions = {m.payment_infos[0].transactions[1]};  // JPY, no BIC/text
  const std::string xml = WriteValid(m);
  EXPECT_TRUE(Select(xml, "//p:CdtrAgt").empty());
  EXPECT_TRUE(Select(xml, "//p:RmtInf").empty());
  EXPECT_EQ(Select(xml, "//p:InstdAmt"), std::vector<std::string>{"150000"});
}

TEST(Pain001Writer, SeveralCurrenciesUseTheirExponentsAndTheControlSumIsExact) {
  const std::string xml = WriteValid(SampleInitiation());
  // EUR 2 decimals, JPY none, IDR 2 (whole rupiah), KWD 3.
  EXPECT_EQ(Select(xml, "//p:InstdAmt"),
            (std::vector<std::string>{"1234.56", "150000", "1500000.00", "1.005"}));
  EXPECT_EQ(Select(xml, "//p:InstdAmt/@Ccy"),
            (std::vector<std::string>{"EUR", "JPY", "IDR", "KWD"}));
  EXPECT_EQ(Select(xml, "//p:PmtInf/p:NbOfTxs"), (std::vector<std::string>{"2", "2"}));
  EXPECT_EQ(Select(xml, "//p:PmtInf/p:CtrlSum"),
            (std::vector<std::string>{"151234.56", "1500001.005"}));
  EXPECT_EQ(Select(xml, "//p:GrpHdr/p:NbOfTxs"), std::vector<std::string>{"4"});
  EXPECT_EQ(Select(xml, "//p:GrpHdr/p:CtrlSum"), std::vector<std::string>{"1651235.565"});
}

TEST(Pain001Writer, ManyTransactionsCountAndSumExactly) {
  CreditTransferInitiation m = SampleInitiation();
  m.payment_infos.push_back(m.payment_infos[0]);
  int64_t total_minor = 0;
  size_t n = 0;
  for (size_t i = 0; i < m.payment_infos.size(); ++i) {
    PaymentInfo& p = m.payment_infos[i];
    p.payment_info_id = "PMTINF-" + std::to_string(i);
    p.transactions.clear();
    for (size_t k = 0; k < 100 + i * 50; ++k, ++n) {
      // Large amounts whose sum a double could not hold to the cent.
      const int64_t minor = 99'999'999'999'999 - static_cast<int64_t>(n) * 7;
      total_minor += minor;
      p.transactions.push_back({"E2E-" + std::to_string(n),
                                {minor, "EUR"},
                                "Creditor " + std::to_string(n),
                                "DE89370400440532013000",
                                "",
                                ""});
    }
  }
  const std::string xml = WriteValid(m);
  EXPECT_EQ(Select(xml, "//p:GrpHdr/p:NbOfTxs"), std::vector<std::string>{std::to_string(n)});
  EXPECT_EQ(Select(xml, "//p:CdtTrfTxInf").size(), n);
  EXPECT_EQ(Select(xml, "//p:GrpHdr/p:CtrlSum"),
            std::vector<std::string>{FormatMinor(total_minor, *FindCurrency("EUR"))});
}

TEST(Pain001Writer, TextIsEscapedAndCountedInCharactersNotBytes) {
  CreditTransferInitiation m = SampleInitiation();
  m.payment_infos.resize(1);
  m.payment_infos[0].transactions.resize(1);
  CreditTransfer& t = m.payment_infos[0].transactions[0];
  t.creditor_name = "Müller & Söhne <GmbH> \"Ä\"";
  t.remittance_info.clear();
  for (int i = 0; i < 140; ++i) t.remittance_info += "é";  // 140 characters, 280 bytes
  m.message_id = std::string(35, 'M');                     // the longest Max35Text
  m.payment_infos[0].debtor_name = "株式会社テスト";
  const std::string xml = WriteValid(m);
  EXPECT_EQ(Select(xml, "//p:Cdtr/p:Nm"), std::vector<std::string>{t.creditor_name});
  EXPECT_EQ(Select(xml, "//p:RmtInf/p:Ustrd"), std::vector<std::string>{t.remittance_info});
  EXPECT_EQ(Select(xml, "//p:Dbtr/p:Nm"), std::vector<std::string>{"株式会社テスト"});
  EXPECT_EQ(xml.find("<GmbH>"), std::string::npos);
}

struct BadInput {
  const char* name;
  std::function<void(CreditTransferInitiation&)> change;
  const char* field;  // must appear in the message
};

CreditTransfer& First(CreditTransferInitiation& m) { return m.payment_infos[0].transactions[0]; }

const std::vector<BadInput>& BadInputs() {
  using namespace std::chrono;
  static const std::vector<BadInput> cases = {
      {"empty message id", [](auto& m) { m.message_id = ""; }, "message_id"},
      {"message id of 36", [](auto& m) { m.message_id = std::string(36, 'x'); }, "message_id"},
      {"negative creation time", [](auto& m) { m.creation_time_ms = -1; }, "creation_time_ms"},
      {"invalid utf-8", [](auto& m) { m.initiating_party_name = "A\xC3"; },
       "initiating_party_name"},
      {"control character", [](auto& m) { m.initiating_party_name = "A\x01"; },
       "initiating_party_name"},
      {"no payment infos", [](auto& m) { m.payment_infos.clear(); }, "payment_infos"},
      {"repeated payment info id",
       [](auto& m) { m.payment_infos[1].payment_info_id = m.payment_infos[0].payment_info_id; },
       "payment_infos[1].payment_info_id"},
      {"no such date",
       [](auto& m) { m.payment_infos[0].requested_execution_date = 2026y / February / 30d; },
       "payment_infos[0].requested_execution_date"},
      {"bad debtor iban check digits",
       [](auto& m) { m.payment_infos[0].debtor_iban = "DE89370400440532013001"; },
       "payment_infos[0].debtor_iban"},
      {"debtor bic missing", [](auto& m) { m.payment_infos[0].debtor_bic = ""; },
       "payment_infos[0].debtor_bic"},
      {"bic in lower case", [](auto& m) { First(m).creditor_bic = "bnpafrppxxx"; },
       "payment_infos[0].transactions[0].creditor_bic"},
      {"no transactions", [](auto& m) { m.payment_infos[1].transactions.clear(); },
       "payment_infos[1].transactions"},
      {"zero amount", [](auto& m) { First(m).amount.minor = 0; },
       "payment_infos[0].transactions[0].amount.minor"},
      {"negative amount", [](auto& m) { First(m).amount.minor = -100; },
       "payment_infos[0].transactions[0].amount.minor"},
      {"amount over 10^15", [](auto& m) { First(m).amount.minor = kMaxAmountMinor + 1; },
       "payment_infos[0].transactions[0].amount.minor"},
      {"unknown currency", [](auto& m) { First(m).amount.currency = "XYZ"; },
       "payment_infos[0].transactions[0].amount.currency"},
      {"currency in lower case", [](auto& m) { First(m).amount.currency = "eur"; },
       "payment_infos[0].transactions[0].amount.currency"},
      {"IDR not whole rupiah",
       [](auto& m) { m.payment_infos[1].transactions[0].amount.minor = 150'000'050; },
       "payment_infos[1].transactions[0].amount.minor"},
      {"repeated end-to-end id",
       [](auto& m) { m.payment_infos[1].transactions[1].end_to_end_id = First(m).end_to_end_id; },
       "payment_infos[1].transactions[1].end_to_end_id"},
      {"creditor name empty", [](auto& m) { First(m).creditor_name = ""; },
       "payment_infos[0].transactions[0].creditor_name"},
      {"remittance of 141", [](auto& m) { First(m).remittance_info = std::string(141, 'r'); },
       "payment_infos[0].transactions[0].remittance_info"},
      {"remittance of 141 two-byte characters",
       [](auto& m) {
         First(m).remittance_info.clear();
         for (int i = 0; i < 141; ++i) First(m).remittance_info += "é";
       },
       "payment_infos[0].transactions[0].remittance_info"},
      {"too many transactions",
       [](auto& m) {
         auto& txs = m.payment_infos[1].transactions;
         for (size_t i = 0; txs.size() < kMaxTransactionsPerMessage; ++i) {
           CreditTransfer t = txs[0];
           t.end_to_end_id = "MANY-" + std::to_string(i);
           txs.push_back(t);
         }
       },
       "payment_infos[1].transactions"},
  };
  return cases;
}

TEST(Pain001Writer, EveryBadFieldIsRefusedByName) {
  for (const BadInput& c : BadInputs()) {
    SCOPED_TRACE(c.name);
    CreditTransferInitiation m = SampleInitiation();
    c.change(m);
    StatusOr<std::string> xml = WritePain001(m);
    ASSERT_FALSE(xml.ok());
    EXPECT_EQ(ErrorCodeOf(xml.status()), ErrorCode::kInvalidInput);
    EXPECT_NE(xml.status().message().find(std::string(c.field) + ":"), std::string::npos)
        << xml.status().message();
  }
}

TEST(Pain001Writer, TheLargestMessageIsStillValid) {
  CreditTransferInitiation m = SampleInitiation();
  auto& txs = m.payment_infos[1].transactions;
  for (size_t i = 0;
       m.payment_infos[0].transactions.size() + txs.size() < kMaxTransactionsPerMessage; ++i) {
    CreditTransfer t = txs[0];
    t.end_to_end_id = "MANY-" + std::to_string(i);
    txs.push_back(t);
  }
  const std::string xml = WriteValid(m);
  EXPECT_EQ(Select(xml, "//p:GrpHdr/p:NbOfTxs"),
            std::vector<std::string>{std::to_string(kMaxTransactionsPerMessage)});
}

// The largest document the writer can produce (10,000 payment infos of one transaction,
// every text at its maximum and made of '&', written as "&amp;") is still under the
// validation limit and valid.
TEST(Pain001Writer, TheWorstCaseSizeFitsTheValidationLimit) {
  CreditTransferInitiation m = SampleInitiation();
  const std::string amps(140, '&');
  m.message_id = amps.substr(0, 35);
  m.initiating_party_name = amps;
  PaymentInfo info = m.payment_infos[0];
  m.payment_infos.clear();
  for (size_t i = 0; i < kMaxTransactionsPerMessage; ++i) {
    const std::string id = std::to_string(i) + amps.substr(0, 35 - std::to_string(i).size());
    info.payment_info_id = id;
    info.debtor_name = amps;
    info.transactions = {
        {id, {999'999'999, "KWD"}, amps, "FR1420041010050500013M02606", "BNPAFRPPXXX", amps}};
    m.payment_infos.push_back(info);
  }
  StatusOr<std::string> xml = WritePain001(m);
  ASSERT_TRUE(xml.ok()) << xml.status().message();
  EXPECT_LT(xml.value().size(), kMaxValidatedBytes);
  Status valid = Schema(Pain001Xsd()).Validate(xml.value());
  EXPECT_TRUE(valid.ok()) << valid.message();
}

}  // namespace
}  // namespace payorch::iso20022
