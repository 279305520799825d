// The pain.002.001.12 parser: every fixture it reads is valid against the official XSD;
// statuses map to accepted / rejected (with reasons) / pending; the outcome of every
// transaction of the answered pain.001 is resolved from the most specific level.
#include "iso20022/pain002.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "iso20022_test_support.h"

namespace payorch::iso20022 {
namespace {

using testing::Fixture;
using testing::Pain002Xsd;
using testing::SampleInitiation;
using testing::Schema;

// Every pain.002 fixture the parser reads.
const std::vector<std::string> kFixtures = {"pain002_accepted.xml", "pain002_rejected.xml",
                                            "pain002_pending.xml", "pain002_mixed.xml"};

PaymentStatusReport ParseValidFixture(const std::string& name) {
  const std::string xml = Fixture(name);
  Status valid = Schema(Pain002Xsd()).Validate(xml);
  EXPECT_TRUE(valid.ok()) << name << ": " << valid.message();
  StatusOr<PaymentStatusReport> report = ParsePain002(xml);
  EXPECT_TRUE(report.ok()) << name << ": " << report.status().message();
  return report.ok() ? report.value() : PaymentStatusReport{};
}

std::vector<TransactionOutcome> Resolve(const std::string& name) {
  StatusOr<std::vector<TransactionOutcome>> outcomes =
      ResolveOutcomes(ParseValidFixture(name), SampleInitiation());
  EXPECT_TRUE(outcomes.ok()) << outcomes.status().message();
  return outcomes.ok() ? outcomes.value() : std::vector<TransactionOutcome>{};
}

TEST(Pain002Xsd, TheOfficialSchemaIsInstalled) {
  EXPECT_TRUE(std::filesystem::exists(Pain002Xsd())) << Pain002Xsd();
  StatusOr<XsdSchema> schema = XsdSchema::Load(Pain002Xsd());
  EXPECT_TRUE(schema.ok()) << schema.status().message();
}

TEST(Pain002Fixtures, EveryFixtureIsValidAgainstTheXsdAndParses) {
  for (const std::string& name : kFixtures) ParseValidFixture(name);
}

TEST(Pain002Fixtures, NoFixtureEscapesValidation) {
  for (const auto& entry : std::filesystem::directory_iterator(testing::TestdataDir())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("pain002_", 0) != 0) continue;
    EXPECT_NE(std::find(kFixtures.begin(), kFixtures.end(), name), kFixtures.end())
        << name << " is a pain.002 fixture missing from kFixtures";
  }
}

TEST(Pain002Fixtures, TheXsdCatchesAFixtureBrokenOnPurpose) {
  std::string xml = Fixture("pain002_accepted.xml");
  const std::string from = "<TxSts>ACSC</TxSts>";
  xml.replace(xml.find(from), from.size(), "<TxSts>ACSCX</TxSts>");  // 5 characters
  Status valid = Schema(Pain002Xsd()).Validate(xml);
  ASSERT_FALSE(valid.ok());
  EXPECT_EQ(ErrorCodeOf(valid), ErrorCode::kSchemaInvalid);
  EXPECT_NE(valid.message().find("TxSts"), std::string::npos) << valid.message();
}

TEST(Pain002Parser, ReadsTheHeaderAndEveryLevel) {
  PaymentStatusReport r = ParseValidFixture("pain002_mixed.xml");
  EXPECT_EQ(r.message_id, "BANK-STS-0004");
  EXPECT_EQ(r.creation_time, "2026-12-07T10:15:00.250Z");
  EXPECT_EQ(r.original_message_id, "PAYORCH-INV-0001");
  EXPECT_EQ(r.original_message_name_id, "pain.001.001.09");
  EXPECT_EQ(r.group_status, "PART");
  ASSERT_EQ(r.payment_infos.size(), 2u);
  EXPECT_EQ(r.payment_infos[0].original_payment_info_id, "PMTINF-EUR");
  EXPECT_EQ(r.payment_infos[0].status, "PART");
  ASSERT_EQ(r.payment_infos[0].transactions.size(), 2u);
  const TransactionStatus& rejected = r.payment_infos[0].transactions[1];
  EXPECT_EQ(rejected.original_end_to_end_id, "E2E-INV-0001-2");
  EXPECT_EQ(rejected.status, "RJCT");
  ASSERT_EQ(rejected.reasons.size(), 1u);
  EXPECT_EQ(rejected.reasons[0].code, "AC04");
  EXPECT_EQ(rejected.reasons[0].additional_info,
            std::vector<std::string>{"Creditor account closed"});
  EXPECT_EQ(r.payment_infos[1].status, "ACSP");
}

TEST(Pain002Outcomes, AcceptedAtEveryLevel) {
  auto o = Resolve("pain002_accepted.xml");
  ASSERT_EQ(o.size(), 4u);
  for (const TransactionOutcome& t : o) {
    EXPECT_EQ(t.outcome, Outcome::kAccepted) << t.end_to_end_id;
    EXPECT_EQ(t.level, StatusLevel::kTransaction) << t.end_to_end_id;
  }
  EXPECT_EQ(o[2].status, "ACCC");
  EXPECT_EQ(o[3].status, "ACSP");
}

TEST(Pain002Outcomes, AGroupRejectionRejectsEveryTransactionWithItsReason) {
  auto o = Resolve("pain002_rejected.xml");
  ASSERT_EQ(o.size(), 4u);
  for (const TransactionOutcome& t : o) {
    EXPECT_EQ(t.outcome, Outcome::kRejected) << t.end_to_end_id;
    EXPECT_EQ(t.level, StatusLevel::kGroup);
    ASSERT_EQ(t.reasons.size(), 1u);
    EXPECT_EQ(t.reasons[0].code, "AM04");
    EXPECT_EQ(t.reasons[0].additional_info.size(), 2u);
  }
  EXPECT_EQ(o[0].end_to_end_id, "E2E-INV-0001-1");
  EXPECT_EQ(o[3].payment_info_id, "PMTINF-MIX");
}

TEST(Pain002Outcomes, StepsBeforeAcceptanceArePending) {
  auto o = Resolve("pain002_pending.xml");
  ASSERT_EQ(o.size(), 4u);
  EXPECT_EQ(o[0].status, "PDNG");
  EXPECT_EQ(o[0].reasons.at(0).proprietary, "COMPLIANCE-REVIEW");
  EXPECT_EQ(o[1].status, "ACCP");
  EXPECT_EQ(o[2].status, "ACTC");  // not named: the group's status
  EXPECT_EQ(o[2].level, StatusLevel::kGroup);
  EXPECT_EQ(o[3].status, "BLCK");
  for (const TransactionOutcome& t : o) EXPECT_EQ(t.outcome, Outcome::kPending) << t.status;
}

TEST(Pain002Outcomes, MixedReportsResolveEachTransactionFromItsMostSpecificLevel) {
  auto o = Resolve("pain002_mixed.xml");
  ASSERT_EQ(o.size(), 4u);
  EXPECT_EQ(o[0].outcome, Outcome::kAccepted);
  EXPECT_EQ(o[1].outcome, Outcome::kRejected);
  EXPECT_EQ(o[1].reasons.at(0).code, "AC04");
  EXPECT_EQ(o[2].outcome, Outcome::kPending);
  EXPECT_EQ(o[3].outcome, Outcome::kAccepted);  // not named: PMTINF-MIX is ACSP
  EXPECT_EQ(o[3].level, StatusLevel::kPaymentInfo);
  EXPECT_EQ(o[3].status, "ACSP");
}

TEST(Pain002Outcomes, NoStatusAtAnyLevelIsPending) {
  PaymentStatusReport r = ParseValidFixture("pain002_mixed.xml");
  r.group_status.clear();
  r.payment_infos.clear();
  auto o = ResolveOutcomes(r, SampleInitiation());
  ASSERT_TRUE(o.ok());
  for (const TransactionOutcome& t : o.value()) {
    EXPECT_EQ(t.outcome, Outcome::kPending);
    EXPECT_EQ(t.level, StatusLevel::kNone);
  }
}

TEST(Pain002Outcomes, TheStatusTable) {
  for (const char* s : {"ACSP", "ACSC", "ACCC", "ACWC", "ACWP", "ACPD", "ACIS"}) {
    EXPECT_EQ(OutcomeOfStatus(s), Outcome::kAccepted) << s;
  }
  for (const char* s : {"RJCT", "CANC"}) EXPECT_EQ(OutcomeOfStatus(s), Outcome::kRejected) << s;
  for (const char* s : {"ACTC", "ACCP", "ACFC", "RCVD", "PDNG", "PART", "PATC", "BLCK", "PRES",
                        "XXXX", "", "rjct"}) {
    EXPECT_EQ(OutcomeOfStatus(s), Outcome::kPending) << s;
  }
}

TEST(Pain002Outcomes, AReportForAnotherMessageIsRefused) {
  CreditTransferInitiation other = SampleInitiation();
  other.message_id = "PAYORCH-INV-0002";
  auto o = ResolveOutcomes(ParseValidFixture("pain002_mixed.xml"), other);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(ErrorCodeOf(o.status()), ErrorCode::kInvalidContent);
  EXPECT_NE(o.status().message().find("PAYORCH-INV-0002"), std::string::npos);
}

TEST(Pain002Outcomes, UnknownOrRepeatedIdsAreRefused) {
  struct Case {
    const char* name;
    void (*change)(PaymentStatusReport&);
    const char* expect;
  };
  const Case cases[] = {
      {"unknown payment info",
       [](PaymentStatusReport& r) { r.payment_infos[0].original_payment_info_id = "PMTINF-X"; },
       "PMTINF-X"},
      {"unknown end-to-end id",
       [](PaymentStatusReport& r) {
         r.payment_infos[0].transactions[0].original_end_to_end_id = "E2E-X";
       },
       "E2E-X"},
      {"end-to-end id under another payment info",
       [](PaymentStatusReport& r) {
         r.payment_infos[1].transactions[0].original_end_to_end_id = "E2E-INV-0001-1";
       },
       "E2E-INV-0001-1"},
      {"transaction named twice",
       [](PaymentStatusReport& r) {
         r.payment_infos[0].transactions.push_back(r.payment_infos[0].transactions[0]);
       },
       "twice"},
      {"payment info named twice",
       [](PaymentStatusReport& r) { r.payment_infos[1] = r.payment_infos[0]; }, "twice"},
      {"not an answer to a pain.001",
       [](PaymentStatusReport& r) { r.original_message_name_id = "pacs.008.001.08"; }, "pacs.008"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PaymentStatusReport r = ParseValidFixture("pain002_mixed.xml");
    c.change(r);
    auto o = ResolveOutcomes(r, SampleInitiation());
    ASSERT_FALSE(o.ok());
    EXPECT_EQ(ErrorCodeOf(o.status()), ErrorCode::kInvalidContent);
    EXPECT_NE(o.status().message().find(c.expect), std::string::npos) << o.status().message();
  }
}

TEST(Pain002Parser, MissingOrOverlongRequiredElementsAreNamed) {
  struct Case {
    std::string from, to, path;
  };
  const std::vector<Case> cases = {
      {"<MsgId>BANK-STS-0004</MsgId>", "", "CstmrPmtStsRpt/GrpHdr/MsgId: is missing"},
      {"<MsgId>BANK-STS-0004</MsgId>", "<MsgId>" + std::string(36, 'M') + "</MsgId>",
       "CstmrPmtStsRpt/GrpHdr/MsgId: must be 1 to 35"},
      {"<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>", "",
       "OrgnlGrpInfAndSts/OrgnlMsgNmId: is missing"},
      {"<OrgnlEndToEndId>E2E-INV-0001-3</OrgnlEndToEndId>", "",
       "OrgnlPmtInfAndSts[2]/TxInfAndSts[1]/OrgnlEndToEndId: is missing"},
      {"<TxSts>RJCT</TxSts>", "<TxSts>RJCT</TxSts><TxSts>ACSC</TxSts>",
       "TxInfAndSts[2]/TxSts: appears more than once"},
      {"<Cd>AC04</Cd>", "<Cd>AC04</Cd><Prtry>X</Prtry>", "Rsn: must hold exactly one"},
      {"<TxSts>PDNG</TxSts>", "<TxSts><Cd>PDNG</Cd></TxSts>", "TxSts: must hold text"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    std::string xml = Fixture("pain002_mixed.xml");
    ASSERT_NE(xml.find(c.from), std::string::npos);
    xml.replace(xml.find(c.from), c.from.size(), c.to);
    StatusOr<PaymentStatusReport> r = ParsePain002(xml);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(ErrorCodeOf(r.status()), ErrorCode::kInvalidContent);
    EXPECT_NE(r.status().message().find(c.path), std::string::npos) << r.status().message();
  }
}

// The header promises thread safety: one shared XsdSchema and the parser, used from four
// threads at once, give every thread the single-threaded answers.
TEST(Pain002Parser, ConcurrentParsesAndValidationsGiveTheSameAnswers) {
  const XsdSchema& xsd = Schema(Pain002Xsd());
  std::vector<std::string> docs;
  std::vector<size_t> expected_txs;
  for (const std::string& name : kFixtures) {
    docs.push_back(Fixture(name));
    StatusOr<PaymentStatusReport> r = ParsePain002(docs.back());
    ASSERT_TRUE(r.ok()) << name;
    size_t n = 0;
    for (const auto& info : r.value().payment_infos) n += info.transactions.size();
    expected_txs.push_back(n);
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (size_t d = 0; d < docs.size(); ++d) {
          StatusOr<PaymentStatusReport> r = ParsePain002(docs[d]);
          size_t n = 0;
          if (r.ok()) {
            for (const auto& info : r.value().payment_infos) n += info.transactions.size();
          }
          if (!r.ok() || n != expected_txs[d] || !xsd.Validate(docs[d]).ok()) ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace payorch::iso20022
