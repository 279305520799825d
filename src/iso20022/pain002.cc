#include "iso20022/pain002.h"

#include <array>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "iso20022/internal/text.h"
#include "iso20022/internal/xml.h"

namespace payorch::iso20022 {
namespace {

using internal::Children;

constexpr std::string_view kWhat = "pain.002";

// An ISO status code and the outcome it decides (not payorch::StatusCode).
struct DecisiveStatus {
  std::string_view code;
  Outcome outcome;
};

// ExternalPaymentTransactionStatus1Code values that decide a payment; any other code is
// pending. Accepted means the bank took the transfer for execution or settled it;
// ACTC (technically valid), ACCP (customer profile checked) and ACFC (funds checked) are
// steps before that, which a bank may still follow with RJCT.
constexpr std::array kDecisive = std::to_array<DecisiveStatus>({
    {"ACSP", Outcome::kAccepted},  // accepted settlement in process
    {"ACSC", Outcome::kAccepted},  // accepted settlement completed (debtor side)
    {"ACCC", Outcome::kAccepted},  // accepted settlement completed (creditor account)
    {"ACWC", Outcome::kAccepted},  // accepted with change (e.g. execution date)
    {"ACWP", Outcome::kAccepted},  // accepted without posting
    {"ACPD", Outcome::kAccepted},  // accepted clearing processed
    {"ACIS", Outcome::kAccepted},  // accepted and cheque issued
    {"RJCT", Outcome::kRejected},  // rejected
    {"CANC", Outcome::kRejected},  // cancelled
});

// Reads one report, naming the element path in every error.
class Reader {
 public:
  Status Bad(const std::string& path, std::string_view problem) const {
    return Error(ErrorCode::kInvalidContent,
                 std::string(kWhat) + ": " + path + ": " + std::string(problem));
  }

  // The single child `name` of `parent`: nullptr and ok when absent and optional.
  Status One(const xmlNode* parent, const std::string& path, std::string_view name, bool required,
             const xmlNode** out) const {
    auto found = Children(parent, kPain002Namespace, name);
    *out = found.empty() ? nullptr : found.front();
    const std::string at = path + "/" + std::string(name);
    if (found.size() > 1) return Bad(at, "appears more than once");
    if (found.empty() && required) return Bad(at, "is missing");
    return Status();
  }

  // The text of the single leaf child `name`, of min..max characters; empty when absent
  // and optional.
  Status Text(const xmlNode* parent, const std::string& path, std::string_view name, bool required,
              size_t max_chars, std::string* out) const {
    out->clear();
    const xmlNode* node = nullptr;
    if (Status s = One(parent, path, name, required, &node); !s.ok() || node == nullptr) return s;
    const std::string at = path + "/" + std::string(name);
    if (!internal::LeafText(node, out)) return Bad(at, "must hold text, not elements");
    if (!internal::IsText(*out, 1, max_chars)) {
      return Bad(at, "must be 1 to " + std::to_string(max_chars) + " characters");
    }
    return Status();
  }

  Status Reasons(const xmlNode* parent, const std::string& path,
                 std::vector<StatusReason>* out) const {
    auto nodes = Children(parent, kPain002Namespace, "StsRsnInf");
    for (size_t i = 0; i < nodes.size(); ++i) {
      const std::string at = path + "/StsRsnInf[" + std::to_string(i + 1) + "]";
      StatusReason reason;
      const xmlNode* rsn = nullptr;
      if (Status s = One(nodes[i], at, "Rsn", false, &rsn); !s.ok()) return s;
      if (rsn != nullptr) {
        if (Status s = Text(rsn, at + "/Rsn", "Cd", false, 4, &reason.code); !s.ok()) return s;
        if (Status s = Text(rsn, at + "/Rsn", "Prtry", false, 35, &reason.proprietary); !s.ok()) {
          return s;
        }
        if (reason.code.empty() == reason.proprietary.empty()) {
          return Bad(at + "/Rsn", "must hold exactly one of Cd and Prtry");
        }
      }
      auto infos = Children(nodes[i], kPain002Namespace, "AddtlInf");
      for (size_t k = 0; k < infos.size(); ++k) {
        std::string text;
        const std::string info_at = at + "/AddtlInf[" + std::to_string(k + 1) + "]";
        if (!internal::LeafText(infos[k], &text) || !internal::IsText(text, 1, 105)) {
          return Bad(info_at, "must be 1 to 105 characters");
        }
        reason.additional_info.push_back(std::move(text));
      }
      out->push_back(std::move(reason));
    }
    return Status();
  }

  Status Transaction(const xmlNode* node, const std::string& at, TransactionStatus* tx) const {
    if (Status s = Text(node, at, "OrgnlEndToEndId", true, 35, &tx->original_end_to_end_id);
        !s.ok()) {
      return s;
    }
    if (Status s = Text(node, at, "TxSts", false, 4, &tx->status); !s.ok()) return s;
    return Reasons(node, at, &tx->reasons);
  }

  Status PaymentInfo(const xmlNode* node, const std::string& at, PaymentInfoStatus* info) const {
    if (Status s = Text(node, at, "OrgnlPmtInfId", true, 35, &info->original_payment_info_id);
        !s.ok()) {
      return s;
    }
    if (Status s = Text(node, at, "PmtInfSts", false, 4, &info->status); !s.ok()) return s;
    if (Status s = Reasons(node, at, &info->reasons); !s.ok()) return s;
    auto txs = Children(node, kPain002Namespace, "TxInfAndSts");
    info->transactions.resize(txs.size());
    for (size_t i = 0; i < txs.size(); ++i) {
      const std::string tx_at = at + "/TxInfAndSts[" + std::to_string(i + 1) + "]";
      if (Status s = Transaction(txs[i], tx_at, &info->transactions[i]); !s.ok()) return s;
    }
    return Status();
  }

  Status Report(const xmlNode* root, PaymentStatusReport* r) const {
    const xmlNode* rpt = nullptr;
    if (Status s = One(root, "Document", "CstmrPmtStsRpt", true, &rpt); !s.ok()) return s;
    const std::string at = "CstmrPmtStsRpt";
    const xmlNode* hdr = nullptr;
    if (Status s = One(rpt, at, "GrpHdr", true, &hdr); !s.ok()) return s;
    if (Status s = Text(hdr, at + "/GrpHdr", "MsgId", true, 35, &r->message_id); !s.ok()) return s;
    if (Status s = Text(hdr, at + "/GrpHdr", "CreDtTm", true, 64, &r->creation_time); !s.ok()) {
      return s;
    }
    const xmlNode* grp = nullptr;
    if (Status s = One(rpt, at, "OrgnlGrpInfAndSts", true, &grp); !s.ok()) return s;
    const std::string grp_at = at + "/OrgnlGrpInfAndSts";
    if (Status s = Text(grp, grp_at, "OrgnlMsgId", true, 35, &r->original_message_id); !s.ok()) {
      return s;
    }
    if (Status s = Text(grp, grp_at, "OrgnlMsgNmId", true, 35, &r->original_message_name_id);
        !s.ok()) {
      return s;
    }
    if (Status s = Text(grp, grp_at, "GrpSts", false, 4, &r->group_status); !s.ok()) return s;
    if (Status s = Reasons(grp, grp_at, &r->group_reasons); !s.ok()) return s;
    auto infos = Children(rpt, kPain002Namespace, "OrgnlPmtInfAndSts");
    r->payment_infos.resize(infos.size());
    for (size_t i = 0; i < infos.size(); ++i) {
      const std::string info_at = at + "/OrgnlPmtInfAndSts[" + std::to_string(i + 1) + "]";
      if (Status s = PaymentInfo(infos[i], info_at, &r->payment_infos[i]); !s.ok()) return s;
    }
    return Status();
  }
};

Status Mismatch(std::string problem) {
  return Error(ErrorCode::kInvalidContent, std::string(kWhat) + ": " + std::move(problem));
}

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAccepted:
      return "accepted";
    case Outcome::kRejected:
      return "rejected";
    case Outcome::kPending:
      return "pending";
  }
  return "pending";
}

Outcome OutcomeOfStatus(std::string_view iso_status) {
  for (const DecisiveStatus& s : kDecisive) {
    if (s.code == iso_status) return s.outcome;
  }
  return Outcome::kPending;
}

StatusOr<PaymentStatusReport> ParsePain002(std::string_view xml) {
  auto doc = internal::ParseUntrusted(xml, kMaxPain002Bytes, kWhat);
  if (!doc.ok()) return doc.status();
  if (Status s = internal::CheckRoot(*doc.value(), kPain002Namespace, kWhat); !s.ok()) {
    return s;
  }
  PaymentStatusReport report;
  if (Status s = Reader().Report(xmlDocGetRootElement(doc.value().get()), &report); !s.ok()) {
    return s;
  }
  return report;
}

StatusOr<std::vector<TransactionOutcome>> ResolveOutcomes(
    const PaymentStatusReport& report, const CreditTransferInitiation& original) {
  if (report.original_message_id != original.message_id) {
    return Mismatch("answers message " + report.original_message_id + ", not " +
                    original.message_id);
  }
  if (report.original_message_name_id.rfind("pain.001.", 0) != 0) {
    return Mismatch("answers a " + report.original_message_name_id + ", not a pain.001");
  }
  // The original's transactions: end-to-end id -> payment info id.
  std::unordered_map<std::string_view, std::string_view> owner;
  std::unordered_set<std::string_view> original_infos;
  for (const PaymentInfo& p : original.payment_infos) {
    original_infos.insert(p.payment_info_id);
    for (const CreditTransfer& t : p.transactions)
      owner.emplace(t.end_to_end_id, p.payment_info_id);
  }
  std::unordered_map<std::string_view, const PaymentInfoStatus*> infos;
  std::unordered_map<std::string_view, const TransactionStatus*> txs;
  for (const PaymentInfoStatus& info : report.payment_infos) {
    const std::string& id = info.original_payment_info_id;
    if (!original_infos.contains(id))
      return Mismatch("names payment info " + id + ", which the original has not");
    if (!infos.emplace(id, &info).second) return Mismatch("names payment info " + id + " twice");
    for (const TransactionStatus& tx : info.transactions) {
      const std::string& e2e = tx.original_end_to_end_id;
      auto it = owner.find(e2e);
      if (it == owner.end() || it->second != id) {
        return Mismatch("names end-to-end id " + e2e + ", which payment info " + id +
                        " of the original has not");
      }
      if (!txs.emplace(e2e, &tx).second) return Mismatch("names end-to-end id " + e2e + " twice");
    }
  }
  std::vector<TransactionOutcome> out;
  for (const PaymentInfo& p : original.payment_infos) {
    auto info_it = infos.find(p.payment_info_id);
    const PaymentInfoStatus* info = info_it == infos.end() ? nullptr : info_it->second;
    for (const CreditTransfer& t : p.transactions) {
      TransactionOutcome o;
      o.end_to_end_id = t.end_to_end_id;
      o.payment_info_id = p.payment_info_id;
      auto tx_it = txs.find(t.end_to_end_id);
      const TransactionStatus* tx = tx_it == txs.end() ? nullptr : tx_it->second;
      if (tx != nullptr && !tx->status.empty()) {
        o.level = StatusLevel::kTransaction, o.status = tx->status, o.reasons = tx->reasons;
      } else if (info != nullptr && !info->status.empty()) {
        o.level = StatusLevel::kPaymentInfo, o.status = info->status, o.reasons = info->reasons;
      } else if (!report.group_status.empty()) {
        o.level = StatusLevel::kGroup, o.status = report.group_status;
        o.reasons = report.group_reasons;
      }
      o.outcome = o.level == StatusLevel::kNone ? Outcome::kPending : OutcomeOfStatus(o.status);
      out.push_back(std::move(o));
    }
  }
  return out;
}

}  // namespace payorch::iso20022
