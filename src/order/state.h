// OrderState: what the order aggregate knows about one order, folded from its events.
// Plain data, no protobuf inside; only Evolve() (order.h) changes it.
//
//   OrderState s;                         // empty: the order does not exist yet
//   for (const auto& e : events) order::Evolve(s, e);
//   if (s.status == ord::ORDER_STATUS_PAID) ...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command/money.h"
#include "payments/orders/v1/orders.pb.h"

namespace payorch::order {

// One priced line item (OrderCreated's PricedOrderLine).
using OrderLine = ::payorch::PricedLineItem;  // command/money.h, shared

// A payment the order has linked: the current one, or one released before it.
struct PaymentLink {
  std::string payment_id;
  int64_t amount_minor = 0;
  bool operator==(const PaymentLink&) const = default;
};

struct OrderState {
  std::string order_id;  // set by OrderCreated
  std::string merchant_id;
  std::string currency;
  std::string customer_reference;
  std::string request_hash;  // of the CreateOrder, for de-duplication
  ::payments::orders::v1::OrderStatus status = ::payments::orders::v1::ORDER_STATUS_UNSPECIFIED;
  uint64_t sequence = 0;  // of the last event applied; the next event is sequence + 1
  std::vector<OrderLine> lines;
  int64_t subtotal_minor = 0;
  int64_t tax_minor = 0;
  int64_t total_minor = 0;  // subtotal + tax
  // The current payment: linked, and not released. Stays set after a void cancels the
  // order.
  std::string payment_id;
  int64_t authorized_minor = 0;  // of the current payment
  int64_t captured_minor = 0;    // captured total so far
  int64_t refunded_minor = 0;    // refunded total so far
  // Every payment ever linked, oldest first (at most kMaxPaymentsPerOrder).
  std::vector<PaymentLink> payments;
  std::string cancel_reason;

  bool Exists() const { return status != ::payments::orders::v1::ORDER_STATUS_UNSPECIFIED; }
  const PaymentLink* FindPayment(std::string_view id) const {
    for (const PaymentLink& p : payments) {
      if (p.payment_id == id) return &p;
    }
    return nullptr;
  }
  bool operator==(const OrderState&) const = default;
};

}  // namespace payorch::order
