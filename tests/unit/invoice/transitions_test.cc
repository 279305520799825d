// The invoice status table (invoice/transitions.h), every pair.
#include "invoice/transitions.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace payorch::invoice {
namespace {

constexpr inv::InvoiceStatus kAll[] = {
    inv::INVOICE_STATUS_UNSPECIFIED, inv::INVOICE_STATUS_OPEN,   inv::INVOICE_STATUS_PARTIALLY_PAID,
    inv::INVOICE_STATUS_PAID,        inv::INVOICE_STATUS_CLOSED, inv::INVOICE_STATUS_CANCELED,
};

TEST(InvoiceTransitionsTest, EveryPairAgainstTheTable) {
  const std::set<std::pair<int, int>> allowed = {
      {inv::INVOICE_STATUS_UNSPECIFIED, inv::INVOICE_STATUS_OPEN},
      {inv::INVOICE_STATUS_OPEN, inv::INVOICE_STATUS_PARTIALLY_PAID},
      {inv::INVOICE_STATUS_OPEN, inv::INVOICE_STATUS_CANCELED},
      {inv::INVOICE_STATUS_PARTIALLY_PAID, inv::INVOICE_STATUS_PAID},
      {inv::INVOICE_STATUS_PAID, inv::INVOICE_STATUS_CLOSED},
  };
  for (auto from : kAll) {
    for (auto to : kAll) {
      EXPECT_EQ(IsInvoiceEdge(from, to), allowed.count({from, to}) == 1)
          << InvoiceStatusName(from) << " -> " << InvoiceStatusName(to);
    }
  }
}

TEST(InvoiceTransitionsTest, ClosedAndCanceledAreTerminal) {
  for (auto s : kAll) {
    EXPECT_EQ(IsTerminalInvoiceStatus(s),
              s == inv::INVOICE_STATUS_CLOSED || s == inv::INVOICE_STATUS_CANCELED)
        << InvoiceStatusName(s);
  }
}

TEST(InvoiceTransitionsTest, StatusAfterEachEvent) {
  inv::InvoiceEventEnvelope e;
  e.mutable_invoice_created();
  EXPECT_EQ(StatusAfter(inv::INVOICE_STATUS_UNSPECIFIED, e), inv::INVOICE_STATUS_OPEN);
  e.mutable_payment_applied();
  EXPECT_EQ(StatusAfter(inv::INVOICE_STATUS_OPEN, e), inv::INVOICE_STATUS_PARTIALLY_PAID);
  EXPECT_EQ(StatusAfter(inv::INVOICE_STATUS_PARTIALLY_PAID, e), std::nullopt);
  e.mutable_invoice_paid();
  EXPECT_EQ(StatusAfter(inv::INVOICE_STATUS_PARTIALLY_PAID, e), inv::INVOICE_STATUS_PAID);
  e.mutable_invoice_closed();
  EXPECT_EQ(StatusAfter(inv::INVOICE_STATUS_PAID, e), inv::INVOICE_STATUS_CLOSED);
  e.mutable_invoice_canceled();
  EXPECT_EQ(StatusAfter(inv::INVOICE_STATUS_OPEN, e), inv::INVOICE_STATUS_CANCELED);
  e.mutable_payment_linked();
  EXPECT_EQ(StatusAfter(inv::INVOICE_STATUS_OPEN, e), std::nullopt);
  e.mutable_installment_paid();
  EXPECT_EQ(StatusAfter(inv::INVOICE_STATUS_OPEN, e), std::nullopt);
  e.mutable_invoice_overpaid();
  EXPECT_EQ(StatusAfter(inv::INVOICE_STATUS_PAID, e), std::nullopt);
}

}  // namespace
}  // namespace payorch::invoice
