// A small harness for the order core's tests: builds commands, decides them against one
// order's state, and keeps the events. Breaches of the core's invariants are fatal.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "command/invariants.h"
#include "order/order.h"

namespace payorch::order::testing {

namespace ord = ::payments::orders::v1;
using Events = std::vector<ord::OrderEventEnvelope>;

inline void MakeBreachesFatal() {
  command::SetBreachHandler(+[](std::string_view what) {
    std::fprintf(stderr, "invariant breach: %.*s\n", static_cast<int>(what.size()), what.data());
    std::abort();
  });
}

inline ord::OrderLineItem Item(std::string product, int64_t quantity, int64_t unit_price_minor,
                               uint32_t tax_rate_bps = 0) {
  ord::OrderLineItem item;
  item.set_product_id(std::move(product));
  item.set_description("a thing");
  item.set_quantity(quantity);
  item.set_unit_price_minor(unit_price_minor);
  item.set_tax_rate_bps(tax_rate_bps);
  return item;
}

inline ord::OrderCommandEnvelope Envelope(std::string_view order_id = "ord_1") {
  ord::OrderCommandEnvelope c;
  c.set_schema_version(1);
  c.set_command_id("cmd-1");
  c.set_correlation_id("corr-1");
  c.set_order_id(std::string(order_id));
  return c;
}

inline ord::OrderCommandEnvelope Create(std::string_view currency,
                                        std::vector<ord::OrderLineItem> items,
                                        std::string_view merchant = "m_1",
                                        std::string_view order_id = "ord_1") {
  ord::OrderCommandEnvelope c = Envelope(order_id);
  ord::CreateOrder* create = c.mutable_create();
  create->set_merchant_id(std::string(merchant));
  create->set_currency(std::string(currency));
  create->set_customer_reference("cust-7");
  for (auto& item : items) *create->add_line_items() = std::move(item);
  return c;
}

inline ord::OrderCommandEnvelope Link(std::string_view payment_id, int64_t amount_minor,
                                      std::string_view currency = "USD") {
  ord::OrderCommandEnvelope c = Envelope();
  c.mutable_link_payment()->set_payment_id(std::string(payment_id));
  c.mutable_link_payment()->mutable_amount()->set_amount_minor(amount_minor);
  c.mutable_link_payment()->mutable_amount()->set_currency(std::string(currency));
  return c;
}

inline ord::OrderCommandEnvelope Fact(std::string_view payment_id, uint64_t payment_sequence,
                                      ord::PaymentFactKind kind, int64_t amount_minor = 0) {
  ord::OrderCommandEnvelope c = Envelope();
  ord::RecordPaymentFact* f = c.mutable_payment_fact();
  f->set_payment_id(std::string(payment_id));
  f->set_payment_sequence(payment_sequence);
  f->set_kind(kind);
  f->set_amount_minor(amount_minor);
  return c;
}

inline ord::OrderCommandEnvelope Cancel(std::string_view reason = "customer asked") {
  ord::OrderCommandEnvelope c = Envelope();
  c.mutable_cancel()->set_reason(std::string(reason));
  return c;
}

// One order, decided command after command. Offsets grow by 1 and time by 10 ms a command.
class OrderHarness {
 public:
  explicit OrderHarness(uint64_t epoch = 3) : ctx_{epoch} { MakeBreachesFatal(); }

  // Decides `command`, applies its events, checks they fold to the same state, and returns
  // the one event.
  const ord::OrderEventEnvelope& Send(const ord::OrderCommandEnvelope& command) {
    OrderCommandRecord record{&command, "orders.commands", 2, offset_++, now_ms_};
    now_ms_ += 10;
    const Events decided = Decide(state_, record, ctx_);
    last_.clear();
    DecideAndApply(state_, record, ctx_, last_);
    EXPECT_EQ(last_.size(), 1u);
    EXPECT_EQ(decided.size(), last_.size());
    for (size_t i = 0; i < decided.size() && i < last_.size(); ++i) {
      EXPECT_EQ(decided[i].SerializeAsString(), last_[i].SerializeAsString());
    }
    all_.insert(all_.end(), last_.begin(), last_.end());
    OrderState folded;
    for (const auto& e : all_) Evolve(folded, e);
    EXPECT_EQ(folded, state_);
    return last_.back();
  }

  const OrderState& state() const { return state_; }
  const Events& all() const { return all_; }
  int64_t next_offset() const { return offset_; }

 private:
  OrderDecideContext ctx_;
  OrderState state_;
  Events last_;
  Events all_;
  int64_t offset_ = 100;
  int64_t now_ms_ = 1'700'000'000'000;
};

}  // namespace payorch::order::testing
