#include "iso20022/pain001.h"

#include <libxml/tree.h>

#include <cstdio>
#include <optional>
#include <unordered_set>

#include "command/money.h"
#include "iso20022/internal/text.h"
#include "iso20022/internal/xml.h"

namespace payorch::iso20022 {
namespace {

using internal::IsBic;
using internal::IsIban;
using internal::IsText;

constexpr size_t kMaxDecimalDigits = 18;  // DecimalNumber and amounts: totalDigits 18
constexpr int kMaxFractionDigits = 5;     // amounts: fractionDigits 5

Status Invalid(const std::string& field, std::string_view rule) {
  return Error(ErrorCode::kInvalidInput, "pain.001: " + field + ": " + std::string(rule));
}

std::string Index(std::string_view base, size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

// An exact sum of decimal amounts of any exponents, as ISO 20022 defines CtrlSum: the total
// of the amounts irrespective of currency. Amounts are at most 10^15 minor units with an
// exponent of at most 5 and there are at most kMaxTransactionsPerMessage of them, so the
// scaled total stays below 10^24 and fits 128 bits.
class DecimalSum {
 public:
  void Add(int64_t minor, int exponent) {
    while (scale_ < exponent) {
      scaled_ *= 10;
      ++scale_;
    }
    unsigned __int128 v = static_cast<unsigned __int128>(minor);
    for (int e = exponent; e < scale_; ++e) v *= 10;
    scaled_ += v;
  }
  // "1100.00"; nullopt when it has more than kMaxDecimalDigits digits.
  std::optional<std::string> Format() const {
    std::string digits;
    unsigned __int128 v = scaled_;
    do {
      digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
      v /= 10;
    } while (v != 0);
    if (digits.size() <= static_cast<size_t>(scale_)) {
      digits.insert(0, static_cast<size_t>(scale_) - digits.size() + 1, '0');
    }
    const size_t significant = digits.find_first_not_of('0') == std::string::npos
                                   ? 1
                                   : digits.size() - digits.find_first_not_of('0');
    if (significant > kMaxDecimalDigits) return std::nullopt;
    if (scale_ > 0) digits.insert(digits.size() - static_cast<size_t>(scale_), 1, '.');
    return digits;
  }

 private:
  unsigned __int128 scaled_ = 0;
  int scale_ = 0;
};

std::optional<std::string> FormatDate(const std::chrono::year_month_day& d) {
  if (!d.ok() || static_cast<int>(d.year()) < 1 || static_cast<int>(d.year()) > 9999) {
    return std::nullopt;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return std::string(buf);
}

std::optional<std::string> FormatDateTimeUtc(int64_t ms) {
  using namespace std::chrono;
  if (ms < 0) return std::nullopt;
  const sys_time<milliseconds> tp{milliseconds{ms}};
  const auto day = floor<days>(tp);
  const auto date = FormatDate(year_month_day{day});
  if (!date) return std::nullopt;
  const hh_mm_ss<milliseconds> t{tp - day};
  char buf[24];
  std::snprintf(buf, sizeof buf, "T%02d:%02d:%02d.%03dZ", static_cast<int>(t.hours().count()),
                static_cast<int>(t.minutes().count()), static_cast<int>(t.seconds().count()),
                static_cast<int>(t.subseconds().count()));
  return *date + buf;
}

// The texts the writer needs beyond the input: formatted amounts, sums and dates.
struct Derived {
  std::string creation_time;
  std::string total;
  size_t transactions = 0;
  struct Info {
    std::string date;
    std::string total;
    std::vector<std::string> amounts;
  };
  std::vector<Info> infos;
};

Status CheckText(const std::string& field, std::string_view value, size_t min, size_t max) {
  if (IsText(value, min, max)) return Status();
  return Invalid(field, "must be " + std::to_string(min) + " to " + std::to_string(max) +
                            " characters of valid UTF-8 that XML allows");
}

Status CheckTransfer(const std::string& f, const CreditTransfer& t,
                     std::unordered_set<std::string>* e2e_ids, std::string* amount_text,
                     DecimalSum* info_sum, DecimalSum* total) {
  if (Status s = CheckText(f + ".end_to_end_id", t.end_to_end_id, 1, 35); !s.ok()) return s;
  if (!e2e_ids->insert(t.end_to_end_id).second) {
    return Invalid(f + ".end_to_end_id", "repeats an earlier end-to-end id of the message");
  }
  const CurrencyInfo* currency = FindCurrency(t.amount.currency);
  if (currency == nullptr || currency->exponent > kMaxFractionDigits) {
    return Invalid(f + ".amount.currency", "is not an ISO 4217 code payorch knows");
  }
  if (t.amount.minor <= 0 || t.amount.minor > kMaxAmountMinor) {
    return Invalid(f + ".amount.minor", "must be > 0 and <= 10^15 minor units");
  }
  if (const int64_t step = SettlementStepMinor(*currency); t.amount.minor % step != 0) {
    return Invalid(f + ".amount.minor", std::string(currency->code) + " must be a multiple of " +
                                            std::to_string(step) + " minor units (whole rupiah)");
  }
  if (Status s = CheckText(f + ".creditor_name", t.creditor_name, 1, 140); !s.ok()) return s;
  if (!IsIban(t.creditor_iban)) {
    return Invalid(f + ".creditor_iban", "is not a valid IBAN (format or check digits)");
  }
  if (!t.creditor_bic.empty() && !IsBic(t.creditor_bic)) {
    return Invalid(f + ".creditor_bic", "is not a BIC (8 or 11 characters)");
  }
  if (Status s = CheckText(f + ".remittance_info", t.remittance_info, 0, 140); !s.ok()) return s;
  *amount_text = FormatMinor(t.amount.minor, *currency);
  info_sum->Add(t.amount.minor, currency->exponent);
  total->Add(t.amount.minor, currency->exponent);
  return Status();
}

StatusOr<Derived> Check(const CreditTransferInitiation& m) {
  Derived d;
  if (Status s = CheckText("message_id", m.message_id, 1, 35); !s.ok()) return s;
  auto created = FormatDateTimeUtc(m.creation_time_ms);
  if (!created) return Invalid("creation_time_ms", "must be a time from 1970 to 9999");
  d.creation_time = *created;
  if (Status s = CheckText("initiating_party_name", m.initiating_party_name, 1, 140); !s.ok()) {
    return s;
  }
  if (m.payment_infos.empty()) return Invalid("payment_infos", "must not be empty");
  std::unordered_set<std::string> info_ids;
  std::unordered_set<std::string> e2e_ids;
  DecimalSum total;
  for (size_t i = 0; i < m.payment_infos.size(); ++i) {
    const PaymentInfo& p = m.payment_infos[i];
    const std::string f = Index("payment_infos", i);
    if (Status s = CheckText(f + ".payment_info_id", p.payment_info_id, 1, 35); !s.ok()) {
      return s;
    }
    if (!info_ids.insert(p.payment_info_id).second) {
      return Invalid(f + ".payment_info_id", "repeats an earlier payment info id");
    }
    Derived::Info info;
    auto date = FormatDate(p.requested_execution_date);
    if (!date) return Invalid(f + ".requested_execution_date", "is not a date of years 1-9999");
    info.date = *date;
    if (Status s = CheckText(f + ".debtor_name", p.debtor_name, 1, 140); !s.ok()) {
      return s;
    }
    if (!IsIban(p.debtor_iban)) {
      return Invalid(f + ".debtor_iban", "is not a valid IBAN (format or check digits)");
    }
    if (!IsBic(p.debtor_bic))
      return Invalid(f + ".debtor_bic", "is not a BIC (8 or 11 characters)");
    if (p.transactions.empty()) return Invalid(f + ".transactions", "must not be empty");
    d.transactions += p.transactions.size();
    if (d.transactions > kMaxTransactionsPerMessage) {
      return Invalid(f + ".transactions", "the message has more than " +
                                              std::to_string(kMaxTransactionsPerMessage) +
                                              " transactions");
    }
    DecimalSum info_sum;
    info.amounts.resize(p.transactions.size());
    for (size_t k = 0; k < p.transactions.size(); ++k) {
      Status s = CheckTransfer(Index(f + ".transactions", k), p.transactions[k], &e2e_ids,
                               &info.amounts[k], &info_sum, &total);
      if (!s.ok()) return s;
    }
    auto sum = info_sum.Format();
    if (!sum) return Invalid(f, "the control sum has more than 18 digits");
    info.total = *sum;
    d.infos.push_back(std::move(info));
  }
  auto sum = total.Format();
  if (!sum) return Invalid("payment_infos", "the control sum has more than 18 digits");
  d.total = *sum;
  return d;
}

// Builds the tree; every text was checked, so libxml2 only escapes it.
class Builder {
 public:
  explicit Builder(xmlNs* ns) : ns_(ns) {}
  xmlNode* Node(xmlNode* parent, const char* name) {
    return xmlNewChild(parent, ns_, BAD_CAST name, nullptr);
  }
  xmlNode* Text(xmlNode* parent, const char* name, const std::string& text) {
    return xmlNewTextChild(parent, ns_, BAD_CAST name, BAD_CAST text.c_str());
  }
  void Party(xmlNode* parent, const char* name, const std::string& party_name) {
    Text(Node(parent, name), "Nm", party_name);
  }
  void Iban(xmlNode* parent, const char* name, const std::string& iban) {
    Text(Node(Node(parent, name), "Id"), "IBAN", iban);
  }
  void Bic(xmlNode* parent, const char* name, const std::string& bic) {
    Text(Node(Node(parent, name), "FinInstnId"), "BICFI", bic);
  }

 private:
  xmlNs* ns_;
};

}  // namespace

StatusOr<std::string> WritePain001(const CreditTransferInitiation& m) {
  StatusOr<Derived> checked = Check(m);
  if (!checked.ok()) return checked.status();
  const Derived& d = checked.value();
  internal::EnsureLibxml();

  internal::DocPtr doc(xmlNewDoc(BAD_CAST "1.0"));
  xmlNode* root = xmlNewNode(nullptr, BAD_CAST "Document");
  xmlDocSetRootElement(doc.get(), root);
  const std::string ns_href(kPain001Namespace);
  xmlNs* ns = xmlNewNs(root, BAD_CAST ns_href.c_str(), nullptr);
  xmlSetNs(root, ns);
  Builder b(ns);

  xmlNode* initn = b.Node(root, "CstmrCdtTrfInitn");
  xmlNode* hdr = b.Node(initn, "GrpHdr");
  b.Text(hdr, "MsgId", m.message_id);
  b.Text(hdr, "CreDtTm", d.creation_time);
  b.Text(hdr, "NbOfTxs", std::to_string(d.transactions));
  b.Text(hdr, "CtrlSum", d.total);
  b.Party(hdr, "InitgPty", m.initiating_party_name);

  for (size_t i = 0; i < m.payment_infos.size(); ++i) {
    const PaymentInfo& p = m.payment_infos[i];
    const Derived::Info& info = d.infos[i];
    xmlNode* pmt = b.Node(initn, "PmtInf");
    b.Text(pmt, "PmtInfId", p.payment_info_id);
    b.Text(pmt, "PmtMtd", "TRF");
    b.Text(pmt, "NbOfTxs", std::to_string(p.transactions.size()));
    b.Text(pmt, "CtrlSum", info.total);
    b.Text(b.Node(pmt, "ReqdExctnDt"), "Dt", info.date);
    b.Party(pmt, "Dbtr", p.debtor_name);
    b.Iban(pmt, "DbtrAcct", p.debtor_iban);
    b.Bic(pmt, "DbtrAgt", p.debtor_bic);
    for (size_t k = 0; k < p.transactions.size(); ++k) {
      const CreditTransfer& t = p.transactions[k];
      xmlNode* tx = b.Node(pmt, "CdtTrfTxInf");
      b.Text(b.Node(tx, "PmtId"), "EndToEndId", t.end_to_end_id);
      xmlNode* amt = b.Text(b.Node(tx, "Amt"), "InstdAmt", info.amounts[k]);
      xmlNewProp(amt, BAD_CAST "Ccy", BAD_CAST t.amount.currency.c_str());
      if (!t.creditor_bic.empty()) b.Bic(tx, "CdtrAgt", t.creditor_bic);
      b.Party(tx, "Cdtr", t.creditor_name);
      b.Iban(tx, "CdtrAcct", t.creditor_iban);
      if (!t.remittance_info.empty()) b.Text(b.Node(tx, "RmtInf"), "Ustrd", t.remittance_info);
    }
  }

  xmlChar* mem = nullptr;
  int size = 0;
  xmlDocDumpFormatMemoryEnc(doc.get(), &mem, &size, "UTF-8", 1);
  if (mem == nullptr) {
    return Error(ErrorCode::kInvalidInput, "pain.001: libxml2 could not serialise the document");
  }
  std::string out(reinterpret_cast<const char*>(mem), static_cast<size_t>(size));
  xmlFree(mem);
  return out;
}

}  // namespace payorch::iso20022
