// The invoice status transition table: every edge {from, to} in one list, in the manner of
// librdkafka's rd_kafka_txn_state_transition_is_valid(). decide asks IsInvoiceEdge before
// it decides a status-changing event (no edge: REJECT_REASON_TRANSITION_NOT_ALLOWED);
// Evolve asks it again for every such event and reports a breach when there is no edge.
//
//   none ─InvoiceCreated─► OPEN ─PaymentApplied─► PARTIALLY_PAID ─InvoicePaid─► PAID
//                           │                                                    │
//                    InvoiceCanceled                                      InvoiceClosed
//                           ▼                                                    ▼
//                        CANCELED                                              CLOSED
//
// Every other event leaves the status as it is (a PaymentApplied once PARTIALLY_PAID too).
// An invoice paid by one capture passes through PARTIALLY_PAID within the command's events.
#pragma once

#include <array>
#include <optional>

#include "payments/invoices/v1/invoices.pb.h"

namespace payorch::invoice {

namespace inv = ::payments::invoices::v1;

struct InvoiceEdge {
  inv::InvoiceStatus from;
  inv::InvoiceStatus to;
};

inline constexpr std::array<InvoiceEdge, 5> kInvoiceEdges = {{
    {inv::INVOICE_STATUS_UNSPECIFIED, inv::INVOICE_STATUS_OPEN},
    {inv::INVOICE_STATUS_OPEN, inv::INVOICE_STATUS_PARTIALLY_PAID},
    {inv::INVOICE_STATUS_OPEN, inv::INVOICE_STATUS_CANCELED},
    {inv::INVOICE_STATUS_PARTIALLY_PAID, inv::INVOICE_STATUS_PAID},
    {inv::INVOICE_STATUS_PAID, inv::INVOICE_STATUS_CLOSED},
}};

// Whether {from, to} is an edge of the table.
[[nodiscard]] bool IsInvoiceEdge(inv::InvoiceStatus from, inv::InvoiceStatus to);

// CLOSED and CANCELED: no edge leaves them.
[[nodiscard]] bool IsTerminalInvoiceStatus(inv::InvoiceStatus status);

// The status `event` moves an invoice in status `from` to; std::nullopt when the event
// leaves the status as it is. Whether the move is allowed is IsInvoiceEdge's question.
[[nodiscard]] std::optional<inv::InvoiceStatus> StatusAfter(inv::InvoiceStatus from,
                                                            const inv::InvoiceEventEnvelope& event);

const char* InvoiceStatusName(inv::InvoiceStatus status);

}  // namespace payorch::invoice
