// decide for the order aggregate: one flat guard list per command, each guard returning
// its own reason; "already exists" and repeats before the limit checks.
#include <string>
#include <string_view>

#include "command/hash.h"
#include "command/money.h"
#include "command/parser.h"
#include "order/order.h"

namespace payorch::order {

namespace {

using command::CutUtf8;

namespace ev = ::payments::events::v1;

bool SameCurrency(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'a' && a[i] <= 'z') ? static_cast<char>(a[i] - 'a' + 'A') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// A refusal: reason and detail.
struct Refusal {
  ord::RejectReason reason;
  std::string detail;
};

class Decider {
 public:
  Decider(const OrderState& state, const OrderCommandRecord& record, const OrderDecideContext& ctx)
      : s_(state), rec_(record), ctx_(ctx) {
    env_ =
        record.command != nullptr ? record.command : &ord::OrderCommandEnvelope::default_instance();
  }

  ord::OrderEventEnvelope Run() {
    if (auto refusal = CheckEnvelope()) return Reject(*refusal);
    switch (env_->command_case()) {
      case ord::OrderCommandEnvelope::kCreate:
        return DecideCreate(env_->create());
      case ord::OrderCommandEnvelope::kLinkPayment:
        return DecideLink(env_->link_payment());
      case ord::OrderCommandEnvelope::kPaymentFact:
        return DecideFact(env_->payment_fact());
      case ord::OrderCommandEnvelope::kCancel:
        return DecideCancel(env_->cancel());
      default:
        return Reject({ord::REJECT_REASON_COMMAND_MISSING, "no command"});
    }
  }

 private:
  // The checks every command passes before it looks at the order.
  std::optional<Refusal> CheckEnvelope() const {
    if (env_->schema_version() != kSchemaVersion) {
      return Refusal{ord::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED,
                     "schema_version " + std::to_string(env_->schema_version())};
    }
    if (env_->command_case() == ord::OrderCommandEnvelope::COMMAND_NOT_SET) {
      return Refusal{ord::REJECT_REASON_COMMAND_MISSING, "no command"};
    }
    if (env_->command_id().size() > kMaxCommandIdLength) {
      return Refusal{ord::REJECT_REASON_FIELD_TOO_LONG, "command_id"};
    }
    if (env_->correlation_id().size() > kMaxCommandIdLength) {
      return Refusal{ord::REJECT_REASON_FIELD_TOO_LONG, "correlation_id"};
    }
    if (env_->order_id().empty()) return Refusal{ord::REJECT_REASON_ORDER_ID_MISSING, ""};
    if (env_->order_id().size() > kMaxIdLength) {
      return Refusal{ord::REJECT_REASON_FIELD_TOO_LONG, "order_id"};
    }
    if (env_->merchant_id().size() > kMaxIdLength) {
      return Refusal{ord::REJECT_REASON_FIELD_TOO_LONG, "merchant_id"};
    }
    if (env_->command_case() == ord::OrderCommandEnvelope::kCreate) return std::nullopt;
    if (!s_.Exists()) return Refusal{ord::REJECT_REASON_ORDER_UNKNOWN, env_->order_id()};
    if (!env_->merchant_id().empty() && env_->merchant_id() != s_.merchant_id) {
      return Refusal{ord::REJECT_REASON_MERCHANT_MISMATCH, "the order's merchant differs"};
    }
    return std::nullopt;
  }

  ord::OrderEventEnvelope DecideCreate(const ord::CreateOrder& c) {
    const std::string hash = CreateRequestHash(c);
    if (s_.Exists()) {
      if (hash == s_.request_hash) return Deduplicated();
      return Reject({ord::REJECT_REASON_ORDER_EXISTS, "another request created the order"});
    }
    if (c.merchant_id().empty()) return Reject({ord::REJECT_REASON_MERCHANT_MISSING, ""});
    if (c.merchant_id().size() > kMaxIdLength) {
      return Reject({ord::REJECT_REASON_FIELD_TOO_LONG, "merchant_id"});
    }
    if (!env_->merchant_id().empty() && env_->merchant_id() != c.merchant_id()) {
      return Reject({ord::REJECT_REASON_MERCHANT_MISMATCH, "envelope and create differ"});
    }
    if (c.customer_reference().size() > kMaxTextLength) {
      return Reject({ord::REJECT_REASON_FIELD_TOO_LONG, "customer_reference"});
    }
    if (LineItemCurrency(c.currency()) == nullptr) {
      return Reject(
          {ord::REJECT_REASON_CURRENCY_NOT_ACCEPTED, std::string(CutUtf8(c.currency(), 8))});
    }
    if (c.line_items_size() == 0) return Reject({ord::REJECT_REASON_LINE_ITEMS_MISSING, ""});
    if (static_cast<size_t>(c.line_items_size()) > kMaxLineItems) {
      return Reject({ord::REJECT_REASON_TOO_MANY_LINE_ITEMS,
                     std::to_string(c.line_items_size()) + " > " + std::to_string(kMaxLineItems)});
    }
    const int64_t step = SettlementStepMinor(*FindCurrency(c.currency()));
    ord::OrderEventEnvelope e = Begin(c.merchant_id());
    ord::OrderCreated* created = e.mutable_order_created();
    int64_t subtotal = 0;
    int64_t tax = 0;
    for (int i = 0; i < c.line_items_size(); ++i) {
      const ord::OrderLineItem& item = c.line_items(i);
      const std::string at = "line_items[" + std::to_string(i) + "]";
      if (item.product_id().size() > kMaxIdLength) {
        return Reject({ord::REJECT_REASON_FIELD_TOO_LONG, at + ".product_id"});
      }
      if (item.description().size() > kMaxTextLength) {
        return Reject({ord::REJECT_REASON_FIELD_TOO_LONG, at + ".description"});
      }
      switch (CheckLine(item.quantity(), item.unit_price_minor(), item.tax_rate_bps(), step)) {
        case LineProblem::kNone:
          break;
        case LineProblem::kQuantityOutOfRange:
          return Reject({ord::REJECT_REASON_QUANTITY_OUT_OF_RANGE, at});
        case LineProblem::kUnitPriceNotPositive:
          return Reject({ord::REJECT_REASON_AMOUNT_NOT_POSITIVE, at});
        case LineProblem::kUnitPriceTooLarge:
          return Reject({ord::REJECT_REASON_AMOUNT_TOO_LARGE, at});
        case LineProblem::kPrecision:
          return Reject({ord::REJECT_REASON_AMOUNT_PRECISION,
                         at + ": a multiple of " + std::to_string(step)});
        case LineProblem::kTaxRateOutOfRange:
          return Reject({ord::REJECT_REASON_TAX_RATE_OUT_OF_RANGE, at});
      }
      const auto priced =
          PriceLine(item.quantity(), item.unit_price_minor(), item.tax_rate_bps(), step);
      if (!priced) return Reject({ord::REJECT_REASON_AMOUNT_TOO_LARGE, at});
      const auto next_subtotal = CheckedAdd(subtotal, priced->net_minor);
      const auto next_tax = CheckedAdd(tax, priced->tax_minor);
      if (!next_subtotal || !next_tax || *next_subtotal > kMaxAmountMinor ||
          *next_tax > kMaxAmountMinor || *next_subtotal + *next_tax > kMaxAmountMinor) {
        return Reject({ord::REJECT_REASON_AMOUNT_TOO_LARGE, "order total"});
      }
      subtotal = *next_subtotal;
      tax = *next_tax;
      ord::PricedOrderLine* line = created->add_line_items();
      *line->mutable_item() = item;
      line->set_net_minor(priced->net_minor);
      line->set_tax_minor(priced->tax_minor);
    }
    ord::OrderTotals* totals = created->mutable_totals();
    totals->set_currency(c.currency());
    totals->set_subtotal_minor(subtotal);
    totals->set_tax_minor(tax);
    totals->set_total_minor(subtotal + tax);
    created->set_customer_reference(c.customer_reference());
    created->set_request_hash(hash);
    return e;
  }

  ord::OrderEventEnvelope DecideLink(const ord::LinkPayment& l) {
    if (l.payment_id().empty()) return Reject({ord::REJECT_REASON_PAYMENT_ID_MISSING, ""});
    if (l.payment_id().size() > kMaxIdLength) {
      return Reject({ord::REJECT_REASON_FIELD_TOO_LONG, "payment_id"});
    }
    if (const PaymentLink* known = s_.FindPayment(l.payment_id())) {
      if (known->amount_minor == l.amount().amount_minor() &&
          SameCurrency(l.amount().currency(), s_.currency)) {
        return Deduplicated();
      }
      return Reject({ord::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                     "the payment was linked before with another amount"});
    }
    if (auto refusal = RequireEdge(OrderTrigger::kLink)) return Reject(*refusal);
    if (s_.payments.size() >= kMaxPaymentsPerOrder) {
      return Reject({ord::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                     "the order linked " + std::to_string(kMaxPaymentsPerOrder) + " payments"});
    }
    if (!SameCurrency(l.amount().currency(), s_.currency)) {
      return Reject({ord::REJECT_REASON_CURRENCY_MISMATCH,
                     std::string(CutUtf8(l.amount().currency(), 8)) + " != " + s_.currency});
    }
    if (l.amount().amount_minor() != s_.total_minor) {
      return Reject(
          {ord::REJECT_REASON_AMOUNT_MISMATCH,
           std::to_string(l.amount().amount_minor()) + " != " + std::to_string(s_.total_minor)});
    }
    ord::OrderEventEnvelope e = Begin(s_.merchant_id);
    ord::OrderPaymentLinked* linked = e.mutable_payment_linked();
    linked->set_payment_id(l.payment_id());
    linked->set_amount_minor(l.amount().amount_minor());
    return e;
  }

  // Facts of one payment arrive in its event order; a fact the order already holds (its
  // total reached, its payment released, its void applied) is a repeat.
  ord::OrderEventEnvelope DecideFact(const ord::RecordPaymentFact& f) {
    if (f.payment_id().empty()) return Reject({ord::REJECT_REASON_PAYMENT_ID_MISSING, ""});
    if (f.payment_id().size() > kMaxIdLength) {
      return Reject({ord::REJECT_REASON_FIELD_TOO_LONG, "payment_id"});
    }
    if (f.kind() == ord::PAYMENT_FACT_KIND_UNSPECIFIED || !ord::PaymentFactKind_IsValid(f.kind())) {
      return Reject({ord::REJECT_REASON_FACT_KIND_MISSING, ""});
    }
    if (f.detail().size() > kMaxTextLength) {
      return Reject({ord::REJECT_REASON_FIELD_TOO_LONG, "detail"});
    }
    if (s_.FindPayment(f.payment_id()) == nullptr) {
      return Reject({ord::REJECT_REASON_PAYMENT_NOT_LINKED, f.payment_id()});
    }
    if (IsRepeat(f)) return Deduplicated();
    if (f.payment_id() != s_.payment_id) {  // released while pending: it has no later outcome
      return Reject({ord::REJECT_REASON_PAYMENT_NOT_LINKED, f.payment_id() + " was released"});
    }
    switch (f.kind()) {
      case ord::PAYMENT_FACT_KIND_AUTHORIZED:
        return DecideAuthorized(f);
      case ord::PAYMENT_FACT_KIND_CAPTURED:
        return DecideCaptured(f);
      case ord::PAYMENT_FACT_KIND_REFUNDED:
        return DecideRefunded(f);
      case ord::PAYMENT_FACT_KIND_FAILED:
      case ord::PAYMENT_FACT_KIND_CANCELED:
        return DecideReleased(f);
      case ord::PAYMENT_FACT_KIND_VOIDED:
        return DecideVoided(f);
      default:
        return Reject({ord::REJECT_REASON_FACT_KIND_MISSING, ""});
    }
  }

  bool IsRepeat(const ord::RecordPaymentFact& f) const {
    if (f.payment_id() != s_.payment_id) {  // released: its failure or cancel again
      return f.kind() == ord::PAYMENT_FACT_KIND_FAILED ||
             f.kind() == ord::PAYMENT_FACT_KIND_CANCELED;
    }
    switch (f.kind()) {
      case ord::PAYMENT_FACT_KIND_AUTHORIZED:
        return s_.authorized_minor > 0 || s_.captured_minor > 0;
      case ord::PAYMENT_FACT_KIND_CAPTURED:
        return s_.captured_minor > 0 && f.amount_minor() <= s_.captured_minor;
      case ord::PAYMENT_FACT_KIND_REFUNDED:
        return s_.refunded_minor > 0 && f.amount_minor() <= s_.refunded_minor;
      case ord::PAYMENT_FACT_KIND_VOIDED:
        return s_.status == ord::ORDER_STATUS_CANCELED;
      default:  // FAILED, CANCELED of the current payment: not applied yet
        return false;
    }
  }

  ord::OrderEventEnvelope DecideAuthorized(const ord::RecordPaymentFact& f) {
    if (auto refusal = RequireEdge(OrderTrigger::kAuthorize)) return Reject(*refusal);
    if (auto refusal = CheckAmount(f.amount_minor(), s_.total_minor)) return Reject(*refusal);
    ord::OrderEventEnvelope e = Begin(s_.merchant_id);
    ord::OrderAuthorized* a = e.mutable_order_authorized();
    a->set_payment_id(f.payment_id());
    a->set_authorized_minor(f.amount_minor());
    return e;
  }

  ord::OrderEventEnvelope DecideCaptured(const ord::RecordPaymentFact& f) {
    if (auto refusal = RequireEdge(OrderTrigger::kCapture)) return Reject(*refusal);
    if (auto refusal = CheckAmount(f.amount_minor(), s_.total_minor)) return Reject(*refusal);
    ord::OrderEventEnvelope e = Begin(s_.merchant_id);
    ord::OrderPaid* p = e.mutable_order_paid();
    p->set_payment_id(f.payment_id());
    p->set_captured_minor(f.amount_minor());
    return e;
  }

  ord::OrderEventEnvelope DecideRefunded(const ord::RecordPaymentFact& f) {
    const bool full = f.amount_minor() >= s_.captured_minor;
    if (auto refusal =
            RequireEdge(full ? OrderTrigger::kRefundFull : OrderTrigger::kRefundPartial)) {
      return Reject(*refusal);
    }
    if (auto refusal = CheckAmount(f.amount_minor(), s_.captured_minor)) return Reject(*refusal);
    ord::OrderEventEnvelope e = Begin(s_.merchant_id);
    ord::OrderRefunded* r = e.mutable_order_refunded();
    r->set_payment_id(f.payment_id());
    r->set_refunded_minor(f.amount_minor());
    r->set_full(full);
    return e;
  }

  ord::OrderEventEnvelope DecideReleased(const ord::RecordPaymentFact& f) {
    if (auto refusal = RequireEdge(OrderTrigger::kRelease)) return Reject(*refusal);
    ord::OrderEventEnvelope e = Begin(s_.merchant_id);
    ord::OrderPaymentReleased* r = e.mutable_payment_released();
    r->set_payment_id(f.payment_id());
    r->set_kind(f.kind());
    r->set_detail(f.detail());
    return e;
  }

  ord::OrderEventEnvelope DecideVoided(const ord::RecordPaymentFact& f) {
    if (auto refusal = RequireEdge(OrderTrigger::kVoid)) return Reject(*refusal);
    ord::OrderEventEnvelope e = Begin(s_.merchant_id);
    ord::OrderCanceled* c = e.mutable_order_canceled();
    c->set_reason(f.detail().empty() ? std::string("payment voided") : f.detail());
    c->set_payment_id(f.payment_id());
    return e;
  }

  ord::OrderEventEnvelope DecideCancel(const ord::CancelOrder& c) {
    if (s_.status == ord::ORDER_STATUS_CANCELED) return Deduplicated();
    if (c.reason().size() > kMaxTextLength) {
      return Reject({ord::REJECT_REASON_FIELD_TOO_LONG, "reason"});
    }
    if (auto refusal = RequireEdge(OrderTrigger::kCancel)) {
      if (s_.status == ord::ORDER_STATUS_PAYMENT_PENDING ||
          s_.status == ord::ORDER_STATUS_AUTHORIZED) {
        refusal->detail += ": cancel or void the payment " + s_.payment_id;
      } else if (s_.status != ord::ORDER_STATUS_REFUNDED) {
        refusal->detail += ": refund through the payment " + s_.payment_id;
      }
      return Reject(*refusal);
    }
    ord::OrderEventEnvelope e = Begin(s_.merchant_id);
    e.mutable_order_canceled()->set_reason(c.reason());
    return e;
  }

  // The guard of every status change: the table has an edge from the order's status.
  std::optional<Refusal> RequireEdge(OrderTrigger trigger) const {
    if (NextStatus(s_.status, trigger)) return std::nullopt;
    return Refusal{ord::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                   std::string(TriggerName(trigger)) + " in " + OrderStatusName(s_.status)};
  }

  static std::optional<Refusal> CheckAmount(int64_t amount, int64_t bound) {
    if (amount <= 0) return Refusal{ord::REJECT_REASON_AMOUNT_NOT_POSITIVE, ""};
    if (amount > bound) {
      return Refusal{ord::REJECT_REASON_AMOUNT_MISMATCH,
                     std::to_string(amount) + " > " + std::to_string(bound)};
    }
    return std::nullopt;
  }

  // An event of this order with every header field set.
  ord::OrderEventEnvelope Begin(std::string_view merchant_id) const {
    ord::OrderEventEnvelope e;
    e.set_schema_version(kSchemaVersion);
    // The order's id once it exists (the caller passes the state of the order the command
    // names; a create names the order it makes).
    const std::string& order_id = s_.Exists() ? s_.order_id : env_->order_id();
    e.set_order_id(order_id);
    e.set_sequence(s_.sequence + 1);
    e.set_event_id(order_id + "/" + std::to_string(s_.sequence + 1));
    e.set_epoch(ctx_.epoch);
    ev::Causation* c = e.mutable_causation();
    c->set_topic(std::string(rec_.topic));
    c->set_partition(rec_.partition);
    c->set_offset(rec_.offset);
    c->set_command_id(std::string(CutUtf8(env_->command_id(), kMaxCommandIdLength)));
    c->set_index(0);
    c->set_count(1);
    e.set_correlation_id(std::string(CutUtf8(env_->correlation_id(), kMaxCommandIdLength)));
    e.set_occurred_at_ms(rec_.timestamp_ms);
    e.set_merchant_id(std::string(merchant_id));
    return e;
  }

  // The merchant of a refusal or repeat: the order's, else the command's.
  std::string_view MerchantOfCommand() const {
    if (s_.Exists()) return s_.merchant_id;
    if (env_->has_create() && env_->create().merchant_id().size() <= kMaxIdLength) {
      return env_->create().merchant_id();
    }
    return CutUtf8(env_->merchant_id(), kMaxIdLength);
  }

  ord::OrderEventEnvelope Reject(const Refusal& refusal) const {
    ord::OrderEventEnvelope e = Begin(MerchantOfCommand());
    if (!s_.Exists()) {  // the order does not exist: an event of no order sequence
      e.set_sequence(0);
      e.set_event_id("cmd/" + std::to_string(rec_.partition) + "/" + std::to_string(rec_.offset) +
                     "/0");
      e.set_order_id(std::string(CutUtf8(env_->order_id(), kMaxIdLength)));
    }
    ord::CommandRejected* r = e.mutable_command_rejected();
    r->set_reason(refusal.reason);
    r->set_detail(std::string(CutUtf8(refusal.detail, kMaxTextLength)));
    r->set_command_type(CommandTypeName(*env_));
    return e;
  }

  ord::OrderEventEnvelope Deduplicated() const {
    ord::OrderEventEnvelope e = Begin(s_.merchant_id);
    e.mutable_command_deduplicated()->set_command_type(CommandTypeName(*env_));
    return e;
  }

  const OrderState& s_;
  const OrderCommandRecord& rec_;
  const OrderDecideContext& ctx_;
  const ord::OrderCommandEnvelope* env_;
};

}  // namespace

std::string CreateRequestHash(const ord::CreateOrder& create) {
  StableHasher h;
  h.Add(create.merchant_id()).Add(create.currency()).Add(create.customer_reference());
  h.Add(static_cast<int64_t>(create.line_items_size()));
  for (const ord::OrderLineItem& item : create.line_items()) {
    h.Add(item.product_id()).Add(item.description()).Add(item.quantity());
    h.Add(item.unit_price_minor()).Add(static_cast<int64_t>(item.tax_rate_bps()));
  }
  return h.Hex();
}

std::vector<ord::OrderEventEnvelope> Decide(const OrderState& state,
                                            const OrderCommandRecord& record,
                                            const OrderDecideContext& ctx) {
  std::vector<ord::OrderEventEnvelope> out;
  out.push_back(Decider(state, record, ctx).Run());
  return out;
}

void DecideAndApply(OrderState& state, const OrderCommandRecord& record,
                    const OrderDecideContext& ctx, std::vector<ord::OrderEventEnvelope>& out) {
  out.push_back(Decider(state, record, ctx).Run());
  Evolve(state, out.back());
}

const char* CommandTypeName(const ord::OrderCommandEnvelope& command) {
  switch (command.command_case()) {
    case ord::OrderCommandEnvelope::kCreate:
      return "create";
    case ord::OrderCommandEnvelope::kLinkPayment:
      return "link_payment";
    case ord::OrderCommandEnvelope::kPaymentFact:
      return "payment_fact";
    case ord::OrderCommandEnvelope::kCancel:
      return "cancel";
    default:
      return "empty";
  }
}

}  // namespace payorch::order
