// Properties of the writer and the resolver over random messages: every pain.001 written
// is valid against the XSD, its amounts read back to the input, its control sums equal the
// exact sum; and every answer the bank can give resolves each transaction from its most
// specific level. RC_PARAMS overrides the defaults (200 cases, fixed seed).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "command/money.h"
#include "iso20022/pain002.h"
#include "iso20022_test_support.h"

namespace payorch::iso20022 {
namespace {

using testing::Select;

const bool kDefaultParams = [] {
  setenv("RC_PARAMS", "max_success=200 seed=20261205", /*overwrite=*/0);
  return true;
}();

// Exponents 0, 2, 3 and 4; IDR for the whole-rupiah rule.
const std::vector<std::string> kCurrencies = {"EUR", "USD", "JPY", "IDR", "MYR", "KWD", "UYW"};

// Text of 1..max characters mixing ASCII, characters XML must escape, and multi-byte UTF-8.
rc::Gen<std::string> GenText(int max_chars) {
  return rc::gen::exec([max_chars] {
    static const std::vector<std::string> pieces = {
        "a", "Z", "7", " ", "&", "<", ">", "\"", "'", "é", "ß", "株", "€", "\xF0\x9F\x92\xB6"};
    const int n = *rc::gen::inRange(1, max_chars + 1);
    std::string s;
    for (int i = 0; i < n; ++i) s += *rc::gen::elementOf(pieces);
    return s;
  });
}

rc::Gen<Amount> GenAmount() {
  return rc::gen::exec([] {
    Amount a;
    a.currency = *rc::gen::elementOf(kCurrencies);
    const int64_t magnitude = *rc::gen::elementOf(
        std::vector<int64_t>{100, 10'000, 1'000'000'000, 1'000'000'000'000'000 / 100});
    a.minor = *rc::gen::inRange<int64_t>(1, magnitude + 1);
    if (a.currency == "IDR") a.minor *= 100;
    return a;
  });
}

rc::Gen<CreditTransferInitiation> GenMessage() {
  return rc::gen::exec([] {
    CreditTransferInitiation m = testing::SampleInitiation();
    m.initiating_party_name = *GenText(140);
    m.payment_infos.resize(static_cast<size_t>(*rc::gen::inRange(1, 4)), m.payment_infos[0]);
    int n = 0;
    for (size_t i = 0; i < m.payment_infos.size(); ++i) {
      PaymentInfo& p = m.payment_infos[i];
      p.payment_info_id = "PI-" + std::to_string(i);
      p.debtor_name = *GenText(140);
      p.transactions.resize(static_cast<size_t>(*rc::gen::inRange(1, 16)));
      for (CreditTransfer& t : p.transactions) {
        t.end_to_end_id = "E2E-" + std::to_string(n++);
        t.amount = *GenAmount();
        t.creditor_name = *GenText(140);
        t.creditor_iban = "GB82WEST12345698765432";
        t.creditor_bic = *rc::gen::elementOf(std::vector<std::string>{"", "ABNANL2A"});
        t.remittance_info = *rc::gen::element(std::string(), *GenText(140));
      }
    }
    return m;
  });
}

// "1651235.565" -> 165123556500 (scale 5), exactly.
__int128 AtScale5(const std::string& decimal) {
  __int128 v = 0;
  int fraction = -1;
  for (char c : decimal) {
    if (c == '.') {
      fraction = 0;
      continue;
    }
    v = v * 10 + (c - '0');
    if (fraction >= 0) ++fraction;
  }
  for (int f = fraction < 0 ? 0 : fraction; f < 5; ++f) v *= 10;
  return v;
}

__int128 SumAtScale5(const std::vector<const CreditTransfer*>& txs) {
  __int128 sum = 0;
  for (const CreditTransfer* t : txs) {
    __int128 v = t->amount.minor;
    for (int e = FindCurrency(t->amount.currency)->exponent; e < 5; ++e) v *= 10;
    sum += v;
  }
  return sum;
}

RC_GTEST_PROP(Pain001Property, EveryMessageIsXsdValidWithExactAmountsAndSums, ()) {
  const CreditTransferInitiation m = *GenMessage();
  StatusOr<std::string> xml = WritePain001(m);
  RC_ASSERT(xml.ok());
  Status valid = testing::Schema(testing::Pain001Xsd()).Validate(xml.value());
  if (!valid.ok()) RC_FAIL(valid.message());

  std::vector<const CreditTransfer*> all;
  const auto info_sums = Select(xml.value(), "//p:PmtInf/p:CtrlSum");
  RC_ASSERT(info_sums.size() == m.payment_infos.size());
  for (size_t i = 0; i < m.payment_infos.size(); ++i) {
    std::vector<const CreditTransfer*> info;
    for (const CreditTransfer& t : m.payment_infos[i].transactions) info.push_back(&t);
    RC_ASSERT(AtScale5(info_sums[i]) == SumAtScale5(info));
    all.insert(all.end(), info.begin(), info.end());
  }
  RC_ASSERT(AtScale5(Select(xml.value(), "//p:GrpHdr/p:CtrlSum").at(0)) == SumAtScale5(all));
  RC_ASSERT(Select(xml.value(), "//p:GrpHdr/p:NbOfTxs").at(0) == std::to_string(all.size()));

  const auto amounts = Select(xml.value(), "//p:InstdAmt");
  const auto names = Select(xml.value(), "//p:Cdtr/p:Nm");
  RC_ASSERT(amounts.size() == all.size());
  for (size_t k = 0; k < all.size(); ++k) {
    const CurrencyInfo* c = FindCurrency(all[k]->amount.currency);
    __int128 minor = AtScale5(amounts[k]);
    for (int e = c->exponent; e < 5; ++e) minor /= 10;
    RC_ASSERT(minor == all[k]->amount.minor);
    RC_ASSERT(names[k] == all[k]->creditor_name);  // escaped on the way out, intact back
  }
}

RC_GTEST_PROP(Pain002Property, EachTransactionTakesItsMostSpecificStatus, ()) {
  const CreditTransferInitiation m = *GenMessage();
  StatusOr<std::string> pain001 = WritePain001(m);
  RC_ASSERT(pain001.ok());
  const std::vector<std::string> codes = {"", "ACSC", "ACSP", "RJCT", "PDNG", "ACTC", "XXXX"};
  testing::BankAnswer answer;
  answer.group_status = *rc::gen::elementOf(codes);
  for (const PaymentInfo& p : m.payment_infos) {
    answer.info_status.push_back(*rc::gen::elementOf(codes));
    for (size_t k = 0; k < p.transactions.size(); ++k) {
      const std::string status = *rc::gen::elementOf(codes);
      answer.tx.push_back({status, status == "RJCT" ? "AC04" : ""});
    }
  }
  const std::string xml = testing::AnswerFromBank(pain001.value(), answer);
  Status valid = testing::Schema(testing::Pain002Xsd()).Validate(xml);
  if (!valid.ok()) RC_FAIL(valid.message());
  StatusOr<PaymentStatusReport> report = ParsePain002(xml);
  RC_ASSERT(report.ok());
  auto outcomes = ResolveOutcomes(report.value(), m);
  RC_ASSERT(outcomes.ok());
  RC_ASSERT(outcomes.value().size() == answer.tx.size());
  size_t k = 0;
  for (size_t i = 0; i < m.payment_infos.size(); ++i) {
    for (size_t j = 0; j < m.payment_infos[i].transactions.size(); ++j, ++k) {
      const TransactionOutcome& o = outcomes.value()[k];
      RC_ASSERT(o.end_to_end_id == m.payment_infos[i].transactions[j].end_to_end_id);
      std::string expected = answer.tx[k].status;
      if (expected.empty()) expected = answer.info_status[i];
      if (expected.empty()) expected = answer.group_status;
      RC_ASSERT(o.status == expected);
      RC_ASSERT(o.outcome == (expected.empty() ? Outcome::kPending : OutcomeOfStatus(expected)));
      if (o.outcome == Outcome::kRejected && o.level == StatusLevel::kTransaction) {
        RC_ASSERT(o.reasons.size() == 1u);
        RC_ASSERT(o.reasons[0].code == "AC04");
      }
    }
  }
}

}  // namespace
}  // namespace payorch::iso20022
