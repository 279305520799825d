#include "api/internal/iso20022_api.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "command/hash.h"
#include "common/rocksdb_status.h"
#include "iso20022/result.h"
#include "metrics/contracts.h"

namespace payorch::api::internal {

namespace cmd = ::payments::commands::v1;
namespace cfg = ::payments::config::v1;
namespace ev = ::payments::events::v1;
namespace pv = ::payments::projection::v1;
namespace types = ::payments::types::v1;
namespace iso = ::payorch::iso20022;
using json = nlohmann::json;

namespace {

constexpr size_t kMaxEndToEndId = 35;
constexpr int64_t kAppendTimeoutFloorMs = 1000;

json ToJson(const ExportRecord& r) {
  json t = json::array();
  for (const ExportedTransfer& x : r.transfers) {
    t.push_back({{"e2e", x.end_to_end_id},
                 {"payment_id", x.payment_id},
                 {"operation_key", x.operation_key},
                 {"processor_id", x.processor_id},
                 {"amount", x.amount_minor},
                 {"currency", x.currency}});
  }
  return {{"merchant_id", r.merchant_id},
          {"invoice_id", r.invoice_id},
          {"message_id", r.message.message_id},
          {"payment_info_id", r.message.payment_infos.at(0).payment_info_id},
          {"transfers", t},
          {"xml", r.xml}};
}

std::optional<ExportRecord> FromJson(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    ExportRecord r;
    r.merchant_id = j.at("merchant_id").get<std::string>();
    r.invoice_id = j.at("invoice_id").get<std::string>();
    r.xml = j.at("xml").get<std::string>();
    r.message.message_id = j.at("message_id").get<std::string>();
    iso::PaymentInfo info;
    info.payment_info_id = j.at("payment_info_id").get<std::string>();
    for (const json& t : j.at("transfers")) {
      ExportedTransfer x{t.at("e2e").get<std::string>(),
                         t.at("payment_id").get<std::string>(),
                         t.at("operation_key").get<std::string>(),
                         t.at("processor_id").get<std::string>(),
                         t.at("amount").get<int64_t>(),
                         t.at("currency").get<std::string>()};
      iso::CreditTransfer ct;
      ct.end_to_end_id = x.end_to_end_id;
      ct.amount = {.minor = x.amount_minor, .currency = x.currency};
      info.transactions.push_back(std::move(ct));
      r.transfers.push_back(std::move(x));
    }
    r.message.payment_infos.push_back(std::move(info));
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

json ReasonsJson(const std::vector<iso::StatusReason>& reasons) {
  json out = json::array();
  for (const iso::StatusReason& r : reasons) {
    out.push_back({{"code", r.code.empty() ? json(nullptr) : json(r.code)},
                   {"proprietary", r.proprietary.empty() ? json(nullptr) : json(r.proprietary)},
                   {"additional_info", r.additional_info}});
  }
  return out;
}

// The HTTP answer to a refused document: 413 over the size limit, 400 otherwise, with the
// library's ErrorCode name as the error code (doctype_refused, wrong_namespace, ...).
http::Response Refused(const Status& s) {
  const iso::ErrorCode code = iso::ErrorCodeOf(s);
  std::string name(iso::ErrorCodeName(code));
  const int status = code == iso::ErrorCode::kTooLarge ? 413 : 400;
  return http::Error(status, status == 413 ? "payload_too_large" : "invalid_pain002", s.message(),
                     {{"reason", name}});
}

bool IsXml(const std::optional<std::string>& content_type) {
  if (!content_type) return false;
  std::string t = content_type->substr(0, content_type->find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t == "application/xml" || t == "text/xml";
}

std::string ExportKey(const std::string& merchant, const std::string& message_id) {
  return "x/" + merchant + "/" + message_id;
}
std::string ReportKey(const std::string& merchant, const std::string& message_id) {
  return "r/" + merchant + "/" + message_id;
}
// The hash of a report's bytes, kept next to its answer (rule 1: a resend that differs).
std::string ReportHashKey(const std::string& merchant, const std::string& message_id) {
  return "h/" + merchant + "/" + message_id;
}
// The terminal outcome ("accepted", "rejected") a report applied to a transaction (rule 3).
std::string OutcomeKey(const std::string& merchant, const std::string& end_to_end_id) {
  return "o/" + merchant + "/" + end_to_end_id;
}

}  // namespace

std::optional<std::string> EndToEndIdOf(const std::string& payment_id) {
  if (payment_id.size() == 36 && payment_id.rfind("pay_", 0) == 0) return payment_id.substr(4);
  if (payment_id.empty() || payment_id.size() > kMaxEndToEndId) return std::nullopt;
  return payment_id;
}

std::string InitiationMessageId(const std::string& merchant, const std::string& invoice_id,
                                const std::string& debtor_iban, uint64_t invoice_sequence) {
  const std::string hex = StableHasher().Add(merchant).Add(invoice_id).Add(debtor_iban).Hex();
  return "PO" + hex.substr(0, 12) + "-" + std::to_string(invoice_sequence);  // <= 35
}

std::vector<ExportedTransfer> PendingBankTransfers(
    const invoice::InvoiceState& invoice,
    const std::function<std::optional<pv::PaymentView>(const std::string&)>& view) {
  std::vector<ExportedTransfer> out;
  for (const invoice::LinkedPayment& p : invoice.payments) {
    if (p.released || !invoice.IsPending(p)) continue;
    const std::optional<pv::PaymentView> v = view(p.payment_id);
    if (!v || v->method() != types::PAYMENT_METHOD_BANK_TRANSFER ||
        v->status() != ev::PAYMENT_STATUS_PROCESSING) {
      continue;
    }
    const auto e2e = EndToEndIdOf(p.payment_id);
    if (!e2e) continue;
    for (int i = v->attempts_size() - 1; i >= 0; --i) {
      const pv::Attempt& a = v->attempts(i);
      if (a.kind() != ev::OPERATION_KIND_SALE || a.outcome() != pv::ATTEMPT_OUTCOME_UNKNOWN) {
        continue;
      }
      out.push_back({*e2e, p.payment_id, a.idempotency_key(), a.processor_id(),
                     a.amount_requested_minor(), v->currency()});
      break;
    }
  }
  return out;
}

StatusOr<ExportRecord> BuildExport(const std::string& merchant, const invoice::InvoiceState& inv,
                                   const cfg::BankAccount& creditor, const Debtor& debtor,
                                   std::vector<ExportedTransfer> transfers, int64_t now_ms) {
  ExportRecord r;
  r.merchant_id = merchant;
  r.invoice_id = inv.invoice_id;
  r.message.message_id = InitiationMessageId(merchant, inv.invoice_id, debtor.iban, inv.sequence);
  r.message.creation_time_ms = now_ms;
  r.message.initiating_party_name = debtor.name;
  iso::PaymentInfo info;
  info.payment_info_id = r.message.message_id + "-1";
  namespace chr = std::chrono;
  info.requested_execution_date = chr::year_month_day(
      chr::floor<chr::days>(chr::sys_time<chr::milliseconds>(chr::milliseconds(now_ms))));
  info.debtor_name = debtor.name;
  info.debtor_iban = debtor.iban;
  info.debtor_bic = debtor.bic;
  for (const ExportedTransfer& t : transfers) {
    std::string remittance = "Invoice " + inv.invoice_id;
    if (remittance.size() > 140) remittance.resize(140);
    info.transactions.push_back({.end_to_end_id = t.end_to_end_id,
                                 .amount = {.minor = t.amount_minor, .currency = t.currency},
                                 .creditor_name = creditor.name(),
                                 .creditor_iban = creditor.iban(),
                                 .creditor_bic = creditor.bic(),
                                 .remittance_info = remittance});
  }
  r.message.payment_infos.push_back(std::move(info));
  StatusOr<std::string> xml = iso::WritePain001(r.message);
  if (!xml.ok()) return xml.status();
  r.xml = std::move(xml.value());
  r.transfers = std::move(transfers);
  return r;
}

std::vector<cmd::CommandEnvelope> OutcomeCommands(
    const ExportRecord& exported, const std::string& report_message_id,
    const std::vector<iso::TransactionOutcome>& outcomes) {
  std::vector<cmd::CommandEnvelope> out;
  for (const iso::TransactionOutcome& o : outcomes) {
    if (o.outcome == iso::Outcome::kPending) continue;
    const ExportedTransfer* t = nullptr;
    for (const ExportedTransfer& x : exported.transfers) {
      if (x.end_to_end_id == o.end_to_end_id) t = &x;
    }
    if (t == nullptr) continue;  // ResolveOutcomes answers only the message's transactions
    cmd::CommandEnvelope c;
    c.set_schema_version(1);
    c.set_command_id("iso20022/" + exported.merchant_id + "/" + report_message_id + "/" +
                     o.end_to_end_id);
    c.set_payment_id(t->payment_id);
    c.set_merchant_id(exported.merchant_id);
    c.set_correlation_id("iso20022/" + report_message_id);
    auto* r = c.mutable_gateway_result();
    r->set_operation_key(t->operation_key);
    r->set_processor_id(t->processor_id);
    r->set_source("iso20022");
    if (o.outcome == iso::Outcome::kAccepted) {
      r->set_outcome(cmd::GATEWAY_OUTCOME_SUCCEEDED);
      r->set_amount_processed_minor(t->amount_minor);
      r->set_processor_reference(report_message_id);
    } else {
      r->set_outcome(cmd::GATEWAY_OUTCOME_FAILED);
      r->set_error_code(types::ERROR_CODE_DECLINED);
    }
    out.push_back(std::move(c));
  }
  return out;
}

Iso20022Api::Iso20022Api(Iso20022Deps deps) : d_(deps) {}
Iso20022Api::~Iso20022Api() = default;

std::string Iso20022Api::Open(const std::string& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  if (auto s = rocksdb::DB::Open(o, dir, &db); !s.ok()) {
    return FromRocksDb(s, "iso20022 store " + dir).ToString();
  }
  db_.reset(db);
  return "";
}

std::vector<Iso20022Route> Iso20022Api::RouteSpecs() {
  return {{"GET", "/v1/invoices/{id}/payment-initiation", "/v1/invoices/([^/]+)/payment-initiation",
           nullptr},
          {"POST", "/v1/iso20022/pain002", "/v1/iso20022/pain002", nullptr}};
}

std::vector<Iso20022Route> Iso20022Api::Routes() {
  std::vector<Iso20022Route> routes = RouteSpecs();
  routes[0].handler = [this](const http::Request& r, const Principal& w) { return Export(r, w); };
  routes[1].handler = [this](const http::Request& r, const Principal& w) { return Ingest(r, w); };
  return routes;
}

Status Iso20022Api::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions sync;
  sync.sync = true;
  return FromRocksDb(db_->Write(sync, batch), "iso20022 store write");
}

void Iso20022Api::RecordViolation(std::string_view contract_id, const std::string& merchant_id,
                                  const std::string& payment_id, const std::string& detail) {
  spdlog::warn("merchant api: contract {} ({}): {}", contract_id, merchant_id, detail);
  const ::payments::contracts::v1::ContractViolation v = metrics::MakeViolation(
      contract_id, payment_id, merchant_id, detail, "iso20022", d_.options->clock->NowMs());
  const int64_t timeout =
      std::max<int64_t>(kAppendTimeoutFloorMs, d_.options->config.append_timeout_ms);
  const std::string err =
      d_.appender->Append({.topic = d_.options->kafka.Topic(log::TopicKind::kContracts),
                           .key = payment_id.empty() ? merchant_id : payment_id,
                           .value = v.SerializeAsString()},
                          timeout);
  // The warning above is the record of last resort.
  if (!err.empty()) spdlog::error("merchant api: contract violation not appended: {}", err);
}

Status Iso20022Api::Remember(const ExportRecord& exported) {
  rocksdb::WriteBatch batch;
  batch.Put(ExportKey(exported.merchant_id, exported.message.message_id), ToJson(exported).dump());
  return Write(&batch);
}

std::optional<ExportRecord> Iso20022Api::LoadExport(const std::string& merchant,
                                                    const std::string& id) {
  std::string bytes;
  if (!db_->Get({}, ExportKey(merchant, id), &bytes).ok()) return std::nullopt;
  return FromJson(bytes);
}

http::Response Iso20022Api::Export(const http::Request& req, const Principal& who) {
  const std::string& id = req.path_params[0];
  auto inv = d_.invoices->Invoice(id);
  if (!inv || inv->merchant_id != who.merchant_id) {
    return http::Error(404, "invoice_not_found", "no such invoice");
  }
  Debtor debtor;
  for (auto [name, field] :
       {std::pair{"debtor_name", &debtor.name}, std::pair{"debtor_iban", &debtor.iban},
        std::pair{"debtor_bic", &debtor.bic}}) {
    const auto v = req.Query(name);
    if (!v || v->empty()) {
      return http::Error(400, "bad_parameter", std::string(name) + " is required",
                         {{"parameter", name}});
    }
    *field = *v;
  }
  const cfg::MerchantConfig* m =
      d_.options->find_merchant ? d_.options->find_merchant(who.merchant_id) : nullptr;
  if (m == nullptr || !m->has_creditor_account() || m->creditor_account().iban().empty()) {
    return http::Error(409, "no_creditor_account",
                       "the merchant's configuration has no creditor_account for bank transfers");
  }
  const std::string message_id =
      InitiationMessageId(who.merchant_id, id, debtor.iban, inv->sequence);
  http::Response xml_answer;
  xml_answer.content_type = "application/xml";
  if (auto stored = LoadExport(who.merchant_id, message_id)) {
    xml_answer.body = stored->xml;  // the same version of the invoice: the same document
    return xml_answer;
  }
  std::vector<ExportedTransfer> transfers =
      PendingBankTransfers(*inv, [this](const std::string& p) { return d_.payments->Latest(p); });
  if (transfers.empty()) {
    return http::Error(409, "no_bank_transfers",
                       "the invoice has no bank-transfer payment waiting for the bank");
  }
  StatusOr<ExportRecord> built = BuildExport(who.merchant_id, *inv, m->creditor_account(), debtor,
                                             std::move(transfers), d_.options->clock->NowMs());
  if (!built.ok()) return http::Error(422, "invalid_initiation", built.status().message());
  if (Status s = Remember(built.value()); !s.ok()) {
    spdlog::error("merchant api: {}", s.ToString());
    return http::Error(503, "store_unavailable", "the export could not be recorded; retry");
  }
  xml_answer.body = std::move(built.value().xml);
  return xml_answer;
}

http::Response Iso20022Api::Ingest(const http::Request& req, const Principal& who) {
  if (!IsXml(req.Header("Content-Type"))) {
    return http::Error(415, "unsupported_media_type",
                       "a pain.002 is sent as Content-Type application/xml");
  }
  StatusOr<iso::PaymentStatusReport> report = iso::ParsePain002(req.body);
  if (!report.ok()) return Refused(report.status());
  const iso::PaymentStatusReport& rep = report.value();
  std::lock_guard lock(ingest_mu_);
  std::string stored;
  const std::string hash = StableHasher().Add(req.body).Hex();
  if (db_->Get({}, ReportKey(who.merchant_id, rep.message_id), &stored).ok()) {
    json first = json::parse(stored, nullptr, false);
    first["duplicate"] = true;
    std::string first_hash;
    if (db_->Get({}, ReportHashKey(who.merchant_id, rep.message_id), &first_hash).ok() &&
        first_hash != hash) {
      // Rule 1: acknowledged, not applied, and recorded for a person to look at.
      first["differs_from_first"] = true;
      RecordViolation(metrics::contract::kIsoReportChanged, who.merchant_id, "",
                      "pain.002 MsgId " + rep.message_id +
                          " was sent again with other bytes; the first one stands");
    }
    return http::Json(200, first);
  }
  const std::optional<ExportRecord> exported = LoadExport(who.merchant_id, rep.original_message_id);
  if (!exported) {
    return http::Error(404, "initiation_not_found",
                       "no pain.001 with this OrgnlMsgId was exported for this merchant");
  }
  auto outcomes = iso::ResolveOutcomes(rep, exported->message);
  if (!outcomes.ok()) return http::Error(422, "report_mismatch", outcomes.status().message());
  const int64_t timeout =
      std::max<int64_t>(kAppendTimeoutFloorMs, d_.options->config.append_timeout_ms);
  // Rule 3: a transaction once accepted or rejected stays so. A report that says the other
  // is not applied to it, and is recorded as a violation.
  std::vector<iso::TransactionOutcome> applied;
  std::map<std::string, std::string> reversed;  // end-to-end id -> the outcome that stands
  for (const iso::TransactionOutcome& o : outcomes.value()) {
    std::string before;
    if (o.outcome != iso::Outcome::kPending &&
        db_->Get({}, OutcomeKey(who.merchant_id, o.end_to_end_id), &before).ok() &&
        before != iso::OutcomeName(o.outcome)) {
      reversed[o.end_to_end_id] = before;
      continue;
    }
    applied.push_back(o);
  }
  for (const cmd::CommandEnvelope& c : OutcomeCommands(*exported, rep.message_id, applied)) {
    const std::string err =
        d_.appender->Append({.topic = d_.options->kafka.Topic(log::TopicKind::kCommands),
                             .key = c.payment_id(),
                             .value = c.SerializeAsString()},
                            timeout);
    if (!err.empty()) {
      spdlog::warn("merchant api: pain.002 append failed: {}", err);
      return http::Error(503, "log_unavailable",
                         "the report could not be recorded; send it again (it is applied once)");
    }
  }
  // What this report leaves in the store (the outcomes it applied, its hash and its answer),
  // written at once: one synced write, and never an answer without the hash a resend is
  // compared with.
  rocksdb::WriteBatch record;
  json txs = json::array();
  for (const iso::TransactionOutcome& o : outcomes.value()) {
    std::string payment;
    for (const ExportedTransfer& t : exported->transfers) {
      if (t.end_to_end_id == o.end_to_end_id) payment = t.payment_id;
    }
    json tx = {{"end_to_end_id", o.end_to_end_id},
               {"payment_intent", payment},
               {"outcome", std::string(iso::OutcomeName(o.outcome))},
               {"status", o.status.empty() ? json(nullptr) : json(o.status)},
               {"reasons", ReasonsJson(o.reasons)},
               {"applied", reversed.count(o.end_to_end_id) == 0}};
    if (auto it = reversed.find(o.end_to_end_id); it != reversed.end()) {
      tx["violation"] = std::string(metrics::contract::kIsoOutcomeReversed);
      RecordViolation(metrics::contract::kIsoOutcomeReversed, who.merchant_id, payment,
                      "pain.002 MsgId " + rep.message_id + " reports " +
                          std::string(iso::OutcomeName(o.outcome)) + " for end-to-end id " +
                          o.end_to_end_id + ", already " + it->second + "; not applied");
    } else if (o.outcome != iso::Outcome::kPending) {
      record.Put(OutcomeKey(who.merchant_id, o.end_to_end_id), iso::OutcomeName(o.outcome));
    }
    txs.push_back(std::move(tx));
  }
  json answer = {{"object", "payment_status_report"},
                 {"message_id", rep.message_id},
                 {"original_message_id", rep.original_message_id},
                 {"invoice", exported->invoice_id},
                 {"duplicate", false},
                 {"transactions", txs}};
  record.Put(ReportHashKey(who.merchant_id, rep.message_id), hash);
  record.Put(ReportKey(who.merchant_id, rep.message_id), answer.dump());
  if (Status s = Write(&record); !s.ok()) {
    // The commands are on the log and carry deterministic ids: a repeat is harmless.
    spdlog::error("merchant api: {}", s.ToString());
  }
  return http::Json(200, answer);
}

}  // namespace payorch::api::internal
