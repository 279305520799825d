// The invoice aggregate (issue 21, seed 003): decide(state, command) -> events;
// evolve(state, event) -> state. An invoice owns its priced line items, its service fee
// and its installment schedule, and counts the payments linked to its installments.
//
// Pure and deterministic, like the payment core (src/command): no I/O, no clock (time is
// the command record's timestamp), no logging, no threads. Every command yields at least
// one event; a refusal is a CommandRejected event with a reason, a repeat that changes
// nothing a CommandDeduplicated event. Evolve never fails. Rules: docs/invoices.md.
//
//   invoice::InvoiceState state;                     // from a cache or a fold
//   std::vector<inv::InvoiceEventEnvelope> events;
//   invoice::DecideAndApply(state, record, ctx, events);  // state == fold(old, events)
//
// Identifiers: event id "<invoice_id>/<sequence>", sequence gap-free from 1; a rejection
// of a command whose invoice does not exist is "cmd/<partition>/<offset>/<index>" with
// sequence 0 and no invoice_id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "invoice/schedule.h"
#include "invoice/state.h"
#include "invoice/transitions.h"
#include "payments/invoices/v1/invoices.pb.h"

namespace payorch::invoice {

inline constexpr uint32_t kSchemaVersion = 1;
// Limits beside schedule.h's (docs/invoices.md, limits).
inline constexpr size_t kMaxIdLength = 64;     // invoice_id, merchant_id, payment_id, product_id
inline constexpr size_t kMaxTextLength = 255;  // description, references, reasons
inline constexpr size_t kMaxCommandIdLength = 128;    // command_id, correlation_id
inline constexpr size_t kMaxPaymentsPerInvoice = 64;  // linked over its life
inline constexpr size_t kMaxSupplementaries = 32;
// The CreatePayment metadata keys naming the invoice a payment pays and its installment
// (the saga follows such payments: runtime/saga.h). Not "invoice_id", which merchants use
// for their own references.
inline constexpr char kPaymentLinkKey[] = "payorch_invoice";
inline constexpr char kInstallmentKey[] = "payorch_installment";

// Where a command was read from. Its timestamp is the only clock decide sees.
struct InvoiceCommandRecord {
  const inv::InvoiceCommandEnvelope* command = nullptr;
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
};

struct InvoiceDecideContext {
  uint64_t epoch = 0;  // stamped on every event
};

// The pure form: the events for `record` given `state` (at least one).
[[nodiscard]] std::vector<inv::InvoiceEventEnvelope> Decide(const InvoiceState& state,
                                                            const InvoiceCommandRecord& record,
                                                            const InvoiceDecideContext& ctx);

// Decide(), appending to `out` and applying each event to `state`.
void DecideAndApply(InvoiceState& state, const InvoiceCommandRecord& record,
                    const InvoiceDecideContext& ctx, std::vector<inv::InvoiceEventEnvelope>& out);

// Applies one event. Never fails: events of another invoice and events of sequence 0
// (rejections outside an invoice) are ignored; an event asking for a status transition
// the table lacks leaves the status as it was and is reported as a breach
// (command::ReportBreach).
void Evolve(InvoiceState& state, const inv::InvoiceEventEnvelope& event);

// Short name of the command's type: "create", "revise_line_items", "link_payment",
// "payment_succeeded", "payment_failed", "issue_supplementary", "close", "cancel", "empty".
const char* CommandTypeName(const inv::InvoiceCommandEnvelope& command);

// The CreateInvoice of the supplementary invoice that `issue` (decided on `original`, a
// SupplementaryIssued or its repeat) names: its line items in the original's currency with
// the original's service fee and customer reference, one payment (no plan, no due date),
// supplements_invoice_id the original's id. Sent under issue.supplementary_invoice_id, it
// is priced exactly as SupplementaryIssued's totals, and the same inputs give the same
// request hash, so sending it again is a repeat (docs/invoices.md, IssueSupplementary).
[[nodiscard]] inv::CreateInvoice SupplementaryCreate(const InvoiceState& original,
                                                     const inv::IssueSupplementary& issue);

// Request hashes (32 hex digits, command/hash.h): equal for equal requests.
std::string CreateRequestHash(const inv::CreateInvoice& create);
std::string SupplementaryRequestHash(const inv::IssueSupplementary& issue);

}  // namespace payorch::invoice
