// Round trip: payorch writes a pain.001, a bank answers it with a pain.002 built from the
// written XML (not from the struct), both are valid against the official XSDs, and parsing
// the answer resolves every transaction that was sent.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "iso20022_test_support.h"

namespace payorch::iso20022 {
namespace {

using testing::Select;

using testing::AnswerFromBank;
using testing::BankAnswer;
using testing::TxAnswer;

TEST(Iso20022RoundTrip, WriteAnswerParseResolve) {
  const CreditTransferInitiation sent = testing::SampleInitiation();
  StatusOr<std::string> pain001 = WritePain001(sent);
  ASSERT_TRUE(pain001.ok()) << pain001.status().message();
  Status valid001 = testing::Schema(testing::Pain001Xsd()).Validate(pain001.value());
  ASSERT_TRUE(valid001.ok()) << valid001.message();

  const std::vector<TxAnswer> answers = {{"ACSC", ""}, {"RJCT", "AC01"}, {"PDNG", ""}, {"", ""}};
  const std::string pain002 = AnswerFromBank(pain001.value(), {"PART", {"ACSP", "ACSP"}, answers});
  Status valid002 = testing::Schema(testing::Pain002Xsd()).Validate(pain002);
  ASSERT_TRUE(valid002.ok()) << valid002.message() << "\n" << pain002;

  StatusOr<PaymentStatusReport> report = ParsePain002(pain002);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report.value().original_message_id, sent.message_id);
  auto outcomes = ResolveOutcomes(report.value(), sent);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().message();
  const auto& o = outcomes.value();
  ASSERT_EQ(o.size(), 4u);
  size_t k = 0;
  for (const PaymentInfo& p : sent.payment_infos) {
    for (const CreditTransfer& t : p.transactions) {
      SCOPED_TRACE(t.end_to_end_id);
      EXPECT_EQ(o[k].end_to_end_id, t.end_to_end_id);
      EXPECT_EQ(o[k].payment_info_id, p.payment_info_id);
      const std::string expected = answers[k].status.empty() ? "ACSP" : answers[k].status;
      EXPECT_EQ(o[k].status, expected);
      EXPECT_EQ(o[k].outcome, OutcomeOfStatus(expected));
      ++k;
    }
  }
  EXPECT_EQ(o[1].outcome, Outcome::kRejected);
  EXPECT_EQ(o[1].reasons.at(0).code, "AC01");
  EXPECT_EQ(o[3].level, StatusLevel::kPaymentInfo);
}

TEST(Iso20022RoundTrip, ManyTransactionsInSeveralCurrencies) {
  CreditTransferInitiation sent = testing::SampleInitiation();
  const char* currencies[] = {"EUR", "USD", "JPY", "IDR", "MYR", "KWD"};
  std::vector<TxAnswer> answers;
  size_t n = 0;
  for (PaymentInfo& p : sent.payment_infos) {
    p.transactions.clear();
    for (int k = 0; k < 60; ++k, ++n) {
      const std::string ccy = currencies[n % 6];
      const int64_t minor = ccy == "IDR" ? 100 * static_cast<int64_t>(n + 1) * 1000
                                         : static_cast<int64_t>(n + 1) * 101;
      p.transactions.push_back({"RT-" + std::to_string(n),
                                {minor, ccy},
                                "Creditor",
                                "BE68539007547034",
                                "",
                                "Invoice RT " + std::to_string(n)});
      answers.push_back(
          {n % 3 == 0 ? "ACSC" : (n % 3 == 1 ? "RJCT" : ""), n % 3 == 1 ? "AM04" : ""});
    }
  }
  StatusOr<std::string> pain001 = WritePain001(sent);
  ASSERT_TRUE(pain001.ok()) << pain001.status().message();
  ASSERT_TRUE(testing::Schema(testing::Pain001Xsd()).Validate(pain001.value()).ok());
  const std::string pain002 = AnswerFromBank(pain001.value(), {"PART", {"PDNG", "PDNG"}, answers});
  ASSERT_TRUE(testing::Schema(testing::Pain002Xsd()).Validate(pain002).ok());
  StatusOr<PaymentStatusReport> report = ParsePain002(pain002);
  ASSERT_TRUE(report.ok()) << report.status().message();
  auto outcomes = ResolveOutcomes(report.value(), sent);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().message();
  ASSERT_EQ(outcomes.value().size(), n);
  for (size_t i = 0; i < n; ++i) {
    const Outcome expected = i % 3 == 0   ? Outcome::kAccepted
                             : i % 3 == 1 ? Outcome::kRejected
                                          : Outcome::kPending;
    EXPECT_EQ(outcomes.value()[i].outcome, expected) << i;
  }
}

}  // namespace
}  // namespace payorch::iso20022
