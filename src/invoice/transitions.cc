// The invoice status table (transitions.h).
#include "invoice/transitions.h"

namespace payorch::invoice {

bool IsInvoiceEdge(inv::InvoiceStatus from, inv::InvoiceStatus to) {
  for (const InvoiceEdge& edge : kInvoiceEdges) {
    if (edge.from == from && edge.to == to) return true;
  }
  return false;
}

bool IsTerminalInvoiceStatus(inv::InvoiceStatus status) {
  for (const InvoiceEdge& edge : kInvoiceEdges) {
    if (edge.from == status) return false;
  }
  return status != inv::INVOICE_STATUS_UNSPECIFIED;
}

std::optional<inv::InvoiceStatus> StatusAfter(inv::InvoiceStatus from,
                                              const inv::InvoiceEventEnvelope& event) {
  switch (event.event_case()) {
    case inv::InvoiceEventEnvelope::kInvoiceCreated:
      return inv::INVOICE_STATUS_OPEN;
    case inv::InvoiceEventEnvelope::kPaymentApplied:
      if (from == inv::INVOICE_STATUS_OPEN) return inv::INVOICE_STATUS_PARTIALLY_PAID;
      return std::nullopt;
    case inv::InvoiceEventEnvelope::kInvoicePaid:
      return inv::INVOICE_STATUS_PAID;
    case inv::InvoiceEventEnvelope::kInvoiceClosed:
      return inv::INVOICE_STATUS_CLOSED;
    case inv::InvoiceEventEnvelope::kInvoiceCanceled:
      return inv::INVOICE_STATUS_CANCELED;
    default:
      return std::nullopt;
  }
}

const char* InvoiceStatusName(inv::InvoiceStatus status) {
  switch (status) {
    case inv::INVOICE_STATUS_UNSPECIFIED:
      return "UNSPECIFIED";
    case inv::INVOICE_STATUS_OPEN:
      return "OPEN";
    case inv::INVOICE_STATUS_PARTIALLY_PAID:
      return "PARTIALLY_PAID";
    case inv::INVOICE_STATUS_PAID:
      return "PAID";
    case inv::INVOICE_STATUS_CLOSED:
      return "CLOSED";
    case inv::INVOICE_STATUS_CANCELED:
      return "CANCELED";
    default:
      return "UNKNOWN";
  }
}

}  // namespace payorch::invoice
