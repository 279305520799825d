// The merchant API's ISO 20022 routes (internal; docs/iso20022.md, "Wiring"):
//
//   GET  /v1/invoices/{id}/payment-initiation?debtor_name=&debtor_iban=&debtor_bic=
//        a pain.001.001.09 of the invoice's bank-transfer payments waiting for the bank
//   POST /v1/iso20022/pain002   (Content-Type application/xml)
//        a pain.002.001.12 status report: one RecordGatewayResult per resolved transaction
//
// Every exported pain.001 is kept in RocksDB (DATA_DIR/api/iso20022) under (merchant,
// MsgId), so a report resolves against it after a restart, and the same export is answered
// with the same bytes. A report is applied once per (merchant, GrpHdr/MsgId): its answer is
// kept and a repeat answers it again ("duplicate": true) without appending anything. The
// command ids are deterministic ("iso20022/<merchant>/<MsgId>/<EndToEndId>"), so a repeat
// that got past the record (an append failed half-way) is de-duplicated by the writer.
// A repeat whose bytes differ from the first (a hash is kept) and a report reversing a
// transaction's accepted or rejected outcome are not applied and are appended to the
// contracts topic as violations (iso20022/report_changed, iso20022/outcome_reversed).
//
// Thread-safe: reports are applied one at a time (one mutex), exports in parallel.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/config.h"
#include "api/internal/aggregates.h"
#include "api/internal/auth.h"
#include "api/internal/log_bridge.h"
#include "api/merchant_api.h"
#include "common/clock.h"
#include "common/status.h"
#include "http/server.h"
#include "iso20022/pain001.h"
#include "iso20022/pain002.h"
#include "log/appender.h"
#include "log/options.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/config/v1/config.pb.h"
#include "payments/projection/v1/views.pb.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace payorch::api::internal {

// One bank-transfer payment of an exported pain.001, as stored.
struct ExportedTransfer {
  std::string end_to_end_id;
  std::string payment_id;
  std::string operation_key;  // the attempt waiting for the bank (its StepStarted key)
  std::string processor_id;
  int64_t amount_minor = 0;
  std::string currency;
};

struct ExportRecord {
  std::string merchant_id;
  std::string invoice_id;
  iso20022::CreditTransferInitiation message;
  std::vector<ExportedTransfer> transfers;  // in the message's order
  std::string xml;
};

// EndToEndId of a payment (at most 35 characters): "pay_" + 32 hex is written without its
// prefix; any other id of at most 35 characters as it is; longer: nullopt.
std::optional<std::string> EndToEndIdOf(const std::string& payment_id);

// The pain.001 message id of an invoice's export: deterministic per (merchant, invoice,
// debtor IBAN, invoice sequence), 35 characters at most.
std::string InitiationMessageId(const std::string& merchant, const std::string& invoice_id,
                                const std::string& debtor_iban, uint64_t invoice_sequence);

// The bank-transfer payments of an invoice that wait for the bank: linked, not released,
// paid by PAYMENT_METHOD_BANK_TRANSFER, in processing with an unknown step attempt.
std::vector<ExportedTransfer> PendingBankTransfers(
    const invoice::InvoiceState& invoice,
    const std::function<std::optional<::payments::projection::v1::PaymentView>(const std::string&)>&
        view);

struct Debtor {
  std::string name, iban, bic;
};

// The pain.001 of `transfers` (one payment information, one transaction per payment),
// written and ready to store, or kInvalidInput naming the field (WritePain001).
StatusOr<ExportRecord> BuildExport(const std::string& merchant, const invoice::InvoiceState& inv,
                                   const ::payments::config::v1::BankAccount& creditor,
                                   const Debtor& debtor, std::vector<ExportedTransfer> transfers,
                                   int64_t now_ms);

// One RecordGatewayResult command per decided transaction of `outcomes`: accepted ->
// SUCCEEDED for the exported amount; rejected -> FAILED ERROR_CODE_DECLINED; pending ->
// none.
std::vector<::payments::commands::v1::CommandEnvelope> OutcomeCommands(
    const ExportRecord& exported, const std::string& report_message_id,
    const std::vector<iso20022::TransactionOutcome>& outcomes);

// Everything must outlive the routes. options->find_merchant gives the creditor account
// (unset or null: exports answer 409 no_creditor_account).
struct Iso20022Deps {
  const MerchantApiOptions* options = nullptr;
  log::Appender* appender = nullptr;
  AggregateFollower* invoices = nullptr;
  EventFollower* payments = nullptr;  // the newest payment views
};

struct Iso20022Route {
  std::string method;
  std::string path;     // the OpenAPI path template
  std::string pattern;  // the server's route regex
  AuthedHandler handler;
};

class Iso20022Api {
 public:
  explicit Iso20022Api(Iso20022Deps deps);
  ~Iso20022Api();
  // Opens the store in `dir`. "" or why not.
  [[nodiscard]] std::string Open(const std::string& dir);

  static std::vector<Iso20022Route> RouteSpecs();  // handlers empty
  std::vector<Iso20022Route> Routes();

  http::Response Export(const http::Request& req, const Principal& who);
  http::Response Ingest(const http::Request& req, const Principal& who);

  // Keeps an export under (merchant, MsgId) so reports resolve against it (Export does it).
  [[nodiscard]] Status Remember(const ExportRecord& exported);
  // Appends a ContractViolation (source "iso20022") to the contracts topic, and logs it.
  void RecordViolation(std::string_view contract_id, const std::string& merchant_id,
                       const std::string& payment_id, const std::string& detail);

 private:
  std::optional<ExportRecord> LoadExport(const std::string& merchant, const std::string& id);
  // The store's one kind of write: the batch at once, synced.
  Status Write(rocksdb::WriteBatch* batch);

  Iso20022Deps d_;
  std::unique_ptr<rocksdb::DB> db_;
  std::mutex ingest_mu_;
};

}  // namespace payorch::api::internal
