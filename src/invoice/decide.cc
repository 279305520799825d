// Decide: the envelope's checks, the event header, and one handler per command. Each
// decided event is applied to a working copy of the state at once, so later checks of the
// same command see it (a PaymentApplied before the InstallmentPaid it leads to).
#include <algorithm>
#include <string>

#include "command/hash.h"
#include "command/parser.h"
#include "invoice/internal/proto.h"
#include "invoice/invoice.h"

namespace payorch::invoice {
namespace {

using command::CutUtf8;

using Event = inv::InvoiceEventEnvelope;

// An id copied into a header, cut to kMaxCommandIdLength on a UTF-8 boundary.
std::string_view BoundedId(std::string_view id) { return CutUtf8(id, kMaxCommandIdLength); }

std::optional<Refusal> TooLong(std::string_view what, std::string_view value, size_t limit) {
  if (value.size() <= limit) return std::nullopt;
  return Refusal{inv::REJECT_REASON_FIELD_TOO_LONG,
                 std::string(what) + " exceeds " + std::to_string(limit) + " bytes"};
}

std::optional<Refusal> CheckLineTexts(const internal::Repeated<inv::LineItem>& items) {
  for (const inv::LineItem& item : items) {
    if (auto r = TooLong("line product_id", item.product_id(), kMaxIdLength)) return r;
    if (auto r = TooLong("line description", item.description(), kMaxTextLength)) return r;
  }
  return std::nullopt;
}

void AddLines(StableHasher& h, const internal::Repeated<inv::LineItem>& items) {
  h.Add(static_cast<int64_t>(items.size()));
  for (const inv::LineItem& item : items) {
    h.Add(item.product_id()).Add(item.description()).Add(item.quantity());
    h.Add(item.unit_price_minor()).Add(static_cast<int64_t>(item.tax_rate_bps()));
  }
}

void AddDate(StableHasher& h, const inv::CalendarDate& d) {
  h.Add(static_cast<int64_t>(d.year()))
      .Add(static_cast<int64_t>(d.month()))
      .Add(static_cast<int64_t>(d.day()));
}

class Decider {
 public:
  Decider(const InvoiceState& state, const InvoiceCommandRecord& rec,
          const InvoiceDecideContext& ctx)
      : s_(state), rec_(rec), env_(*rec.command), ctx_(ctx) {
    // A state of another invoice is no state for this one.
    if (s_.Exists() && s_.invoice_id != env_.invoice_id()) s_ = InvoiceState{};
  }

  std::vector<Event> Run() {
    Dispatch();
    const auto count = static_cast<uint32_t>(out_.size());
    for (uint32_t i = 0; i < count; ++i) {
      out_[i].mutable_causation()->set_index(i);
      out_[i].mutable_causation()->set_count(count);
    }
    return std::move(out_);
  }

 private:
  // The envelope's checks, then the command's handler.
  void Dispatch() {
    if (env_.command_case() == inv::InvoiceCommandEnvelope::kCreate &&
        env_.create().merchant_id().size() <= kMaxIdLength) {
      merchant_for_orphan_ = env_.create().merchant_id();
    }
    if (env_.schema_version() != kSchemaVersion) {
      return Reject(inv::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED, "schema_version must be 1");
    }
    if (env_.command_case() == inv::InvoiceCommandEnvelope::COMMAND_NOT_SET) {
      return Reject(inv::REJECT_REASON_COMMAND_MISSING, "no command");
    }
    if (auto r = TooLong("command_id", env_.command_id(), kMaxCommandIdLength)) return Reject(*r);
    if (auto r = TooLong("correlation_id", env_.correlation_id(), kMaxCommandIdLength)) {
      return Reject(*r);
    }
    if (env_.invoice_id().empty()) {
      return Reject(inv::REJECT_REASON_INVOICE_ID_MISSING, "invoice_id is required");
    }
    if (auto r = TooLong("invoice_id", env_.invoice_id(), kMaxIdLength)) return Reject(*r);
    if (auto r = TooLong("merchant_id", env_.merchant_id(), kMaxIdLength)) return Reject(*r);
    if (env_.command_case() == inv::InvoiceCommandEnvelope::kCreate) {
      return OnCreate(env_.create());
    }
    if (!s_.Exists()) {
      return Reject(inv::REJECT_REASON_INVOICE_UNKNOWN, "no invoice " + env_.invoice_id());
    }
    if (!env_.merchant_id().empty() && env_.merchant_id() != s_.merchant_id) {
      return Reject(inv::REJECT_REASON_MERCHANT_MISMATCH, "the invoice has another merchant");
    }
    switch (env_.command_case()) {
      case inv::InvoiceCommandEnvelope::kReviseLineItems:
        return OnRevise(env_.revise_line_items());
      case inv::InvoiceCommandEnvelope::kLinkPayment:
        return OnLink(env_.link_payment());
      case inv::InvoiceCommandEnvelope::kPaymentSucceeded:
        return OnSucceeded(env_.payment_succeeded());
      case inv::InvoiceCommandEnvelope::kPaymentFailed:
        return OnFailed(env_.payment_failed());
      case inv::InvoiceCommandEnvelope::kIssueSupplementary:
        return OnSupplementary(env_.issue_supplementary());
      case inv::InvoiceCommandEnvelope::kClose:
        return OnClose(env_.close());
      case inv::InvoiceCommandEnvelope::kCancel:
        return OnCancel(env_.cancel());
      default:
        return Reject(inv::REJECT_REASON_COMMAND_MISSING, "unknown command");
    }
  }

  // Every header field. `creates`: the event is the invoice's InvoiceCreated.
  Event& Begin(bool creates = false) {
    Event& e = out_.emplace_back();
    e.set_schema_version(kSchemaVersion);
    e.set_epoch(ctx_.epoch);
    e.set_correlation_id(std::string(BoundedId(env_.correlation_id())));
    e.set_occurred_at_ms(rec_.timestamp_ms);
    payments::events::v1::Causation* c = e.mutable_causation();
    c->set_topic(std::string(rec_.topic));
    c->set_partition(rec_.partition);
    c->set_offset(rec_.offset);
    c->set_command_id(std::string(BoundedId(env_.command_id())));
    if (s_.Exists() || creates) {
      const uint64_t seq = s_.sequence + 1;
      e.set_invoice_id(env_.invoice_id());
      e.set_sequence(seq);
      e.set_event_id(env_.invoice_id() + "/" + std::to_string(seq));
      e.set_merchant_id(s_.Exists() ? s_.merchant_id : std::string(merchant_for_orphan_));
    } else {
      e.set_event_id("cmd/" + std::to_string(rec_.partition) + "/" + std::to_string(rec_.offset) +
                     "/" + std::to_string(out_.size() - 1));
      e.set_sequence(0);
      e.set_merchant_id(std::string(merchant_for_orphan_));
    }
    return e;
  }

  // The event is decided: the working copy follows it.
  void Commit(const Event& e) { Evolve(s_, e); }

  void Reject(inv::RejectReason reason, std::string detail) {
    Event& e = Begin();
    auto* r = e.mutable_command_rejected();
    r->set_reason(reason);
    r->set_detail(std::move(detail));
    r->set_command_type(CommandTypeName(env_));
    Commit(e);
  }
  void Reject(const Refusal& refusal) { Reject(refusal.reason, refusal.detail); }

  void Deduplicated() {
    Event& e = Begin();
    e.mutable_command_deduplicated()->set_command_type(CommandTypeName(env_));
    Commit(e);
  }

  void NotAllowed(std::string_view what) {
    Reject(inv::REJECT_REASON_TRANSITION_NOT_ALLOWED,
           std::string(what) + " not allowed in status " + InvoiceStatusName(s_.status));
  }

  void OnCreate(const inv::CreateInvoice& c) {
    if (c.merchant_id().empty()) {
      return Reject(inv::REJECT_REASON_MERCHANT_MISSING, "merchant_id is required");
    }
    if (auto r = TooLong("merchant_id", c.merchant_id(), kMaxIdLength)) return Reject(*r);
    if (!env_.merchant_id().empty() && env_.merchant_id() != c.merchant_id()) {
      return Reject(inv::REJECT_REASON_MERCHANT_MISMATCH, "sender acts for another merchant");
    }
    if (auto r = TooLong("customer_reference", c.customer_reference(), kMaxTextLength)) {
      return Reject(*r);
    }
    if (auto r = TooLong("supplements_invoice_id", c.supplements_invoice_id(), kMaxIdLength)) {
      return Reject(*r);
    }
    if (auto r = CheckLineTexts(c.line_items())) return Reject(*r);
    std::string hash = CreateRequestHash(c);
    if (s_.Exists()) {
      if (s_.request_hash == hash) return Deduplicated();
      return Reject(inv::REJECT_REASON_INVOICE_EXISTS, "invoice_id used by another request");
    }
    Pricing pricing;
    const Fee fee{c.service_fee().fixed_minor(), c.service_fee().rate_bps()};
    if (auto r = PriceLines(internal::ToLines(c.line_items()), c.currency(), fee, &pricing)) {
      return Reject(*r);
    }
    std::optional<Plan> plan;
    std::optional<Date> due;
    if (c.has_installment_plan()) {
      plan = internal::ToPlan(c.installment_plan());
      if (auto r = CheckPlan(*plan)) return Reject(*r);
    } else if (c.has_due_date()) {
      due = internal::ToDate(c.due_date());
      if (!IsValidDate(*due)) {
        return Reject(inv::REJECT_REASON_DUE_DATE_INVALID, "due_date is not a calendar date");
      }
    }
    std::vector<ScheduledInstallment> rows;
    if (auto r = BuildSchedule(pricing, plan, due, &rows)) return Reject(*r);

    Event& e = Begin(/*creates=*/true);
    auto* created = e.mutable_invoice_created();
    created->set_currency(c.currency());
    internal::WritePricedLines(c.line_items(), pricing, created->mutable_line_items());
    created->mutable_service_fee()->set_fixed_minor(fee.fixed_minor);
    created->mutable_service_fee()->set_rate_bps(fee.rate_bps);
    internal::WriteTotals(c.currency(), pricing.totals, created->mutable_totals());
    internal::WriteSchedule(rows, created->mutable_installments());
    if (plan) internal::WritePlan(*plan, created->mutable_installment_plan());
    if (due) internal::WriteDate(*due, created->mutable_due_date());
    created->set_customer_reference(c.customer_reference());
    created->set_supplements_invoice_id(c.supplements_invoice_id());
    created->set_request_hash(std::move(hash));
    Commit(e);
  }

  void OnRevise(const inv::ReviseLineItems& r) {
    if (s_.Frozen()) {
      return Reject(inv::REJECT_REASON_LINE_ITEMS_FROZEN,
                    "a payment is linked: issue a supplementary invoice instead");
    }
    if (s_.status != inv::INVOICE_STATUS_OPEN) return NotAllowed("revising line items");
    if (auto refused = CheckLineTexts(r.line_items())) return Reject(*refused);
    Pricing pricing;
    if (auto refused =
            PriceLines(internal::ToLines(r.line_items()), s_.currency, s_.fee, &pricing)) {
      return Reject(*refused);
    }
    std::vector<ScheduledInstallment> rows;
    if (auto refused = BuildSchedule(pricing, s_.plan, s_.due_date, &rows)) {
      return Reject(*refused);
    }
    Event& e = Begin();
    auto* revised = e.mutable_line_items_revised();
    internal::WritePricedLines(r.line_items(), pricing, revised->mutable_line_items());
    internal::WriteTotals(s_.currency, pricing.totals, revised->mutable_totals());
    internal::WriteSchedule(rows, revised->mutable_installments());
    Commit(e);
  }

  // A payment's money: the invoice's currency, positive, bounded, a settlement multiple.
  std::optional<Refusal> CheckMoney(const payments::types::v1::Money& money, bool allow_zero) {
    if (money.currency() != s_.currency) {
      return Refusal{inv::REJECT_REASON_CURRENCY_MISMATCH,
                     "payment in '" + money.currency() + "', invoice in " + s_.currency};
    }
    if (money.amount_minor() < 0 || (money.amount_minor() == 0 && !allow_zero)) {
      return Refusal{inv::REJECT_REASON_AMOUNT_NOT_POSITIVE, "amount must be positive"};
    }
    if (money.amount_minor() > kMaxAmountMinor) {
      return Refusal{inv::REJECT_REASON_AMOUNT_TOO_LARGE, "amount exceeds 10^15 minor units"};
    }
    const int64_t step = SettlementStepMinor(*FindCurrency(s_.currency));
    if (money.amount_minor() % step != 0) {
      return Refusal{inv::REJECT_REASON_AMOUNT_PRECISION,
                     "amount must be a multiple of " + std::to_string(step)};
    }
    return std::nullopt;
  }

  std::optional<Refusal> CheckPaymentId(std::string_view id) {
    if (id.empty()) return Refusal{inv::REJECT_REASON_PAYMENT_ID_MISSING, "payment_id is required"};
    return TooLong("payment_id", id, kMaxIdLength);
  }

  void OnLink(const inv::LinkPayment& l) {
    if (auto r = CheckPaymentId(l.payment_id())) return Reject(*r);
    if (const LinkedPayment* p = s_.FindPayment(l.payment_id())) {
      if (!p->released && p->installment == l.installment() &&
          p->amount_minor == l.amount().amount_minor() && l.amount().currency() == s_.currency) {
        return Deduplicated();
      }
      return Reject(inv::REJECT_REASON_PAYMENT_ALREADY_LINKED, "payment linked before");
    }
    if (s_.status != inv::INVOICE_STATUS_OPEN && s_.status != inv::INVOICE_STATUS_PARTIALLY_PAID) {
      return NotAllowed("linking a payment");
    }
    const uint32_t n = l.installment();
    if (n < 1 || n > s_.installments.size()) {
      return Reject(inv::REJECT_REASON_INSTALLMENT_UNKNOWN, "no installment " + std::to_string(n));
    }
    if (s_.installments[n - 1].paid) {
      return Reject(inv::REJECT_REASON_INSTALLMENT_ALREADY_PAID,
                    "installment " + std::to_string(n) + " is paid");
    }
    for (uint32_t i = 1; i < n; ++i) {
      if (!s_.installments[i - 1].paid) {
        return Reject(inv::REJECT_REASON_INSTALLMENT_OUT_OF_ORDER,
                      "installment " + std::to_string(i) + " is not paid yet");
      }
    }
    if (const LinkedPayment* pending = s_.PendingPaymentOf(n)) {
      return Reject(inv::REJECT_REASON_PAYMENT_IN_FLIGHT,
                    "payment " + pending->payment_id + " of the installment is pending");
    }
    if (auto r = CheckMoney(l.amount(), /*allow_zero=*/false)) return Reject(*r);
    if (s_.payments.size() >= kMaxPaymentsPerInvoice) {
      return NotAllowed("a payment beyond " + std::to_string(kMaxPaymentsPerInvoice));
    }
    Event& e = Begin();
    auto* linked = e.mutable_payment_linked();
    linked->set_payment_id(l.payment_id());
    linked->set_installment(n);
    linked->set_amount_minor(l.amount().amount_minor());
    Commit(e);
  }

  void OnSucceeded(const inv::RecordPaymentSucceeded& f) {
    if (auto r = CheckPaymentId(f.payment_id())) return Reject(*r);
    const LinkedPayment* p = s_.FindPayment(f.payment_id());
    if (p == nullptr) {
      return Reject(inv::REJECT_REASON_PAYMENT_NOT_LINKED, "payment " + f.payment_id());
    }
    if (auto r = CheckMoney(f.captured(), /*allow_zero=*/true)) return Reject(*r);
    const int64_t captured = f.captured().amount_minor();
    if (captured < p->captured_minor) {
      return Reject(inv::REJECT_REASON_PAYMENT_FACT_STALE,
                    "captured total below one already recorded");
    }
    if (captured == p->captured_minor) return Deduplicated();
    const std::string payment_id = p->payment_id;
    const uint32_t n = p->installment;
    int64_t excess = captured - p->captured_minor;
    const InstallmentState& inst = s_.installments[n - 1];
    if (!p->released && !inst.paid) {
      const int64_t applied = std::min(excess, inst.outstanding_minor());
      excess -= applied;
      Event& e = Begin();
      auto* a = e.mutable_payment_applied();
      a->set_payment_id(payment_id);
      a->set_installment(n);
      a->set_applied_minor(applied);
      a->set_outstanding_minor(inst.outstanding_minor() - applied);
      a->set_captured_total_minor(captured);
      Commit(e);
      if (s_.installments[n - 1].outstanding_minor() == 0) {
        Event& paid = Begin();
        paid.mutable_installment_paid()->set_installment(n);
        paid.mutable_installment_paid()->set_payment_id(payment_id);
        Commit(paid);
        if (s_.AllPaid()) {
          Event& all = Begin();
          all.mutable_invoice_paid()->set_paid_minor(s_.paid_minor);
          Commit(all);
        }
      }
    }
    if (excess > 0) {
      Event& e = Begin();
      auto* o = e.mutable_invoice_overpaid();
      o->set_payment_id(payment_id);
      o->set_amount_minor(excess);
      o->set_total_overpaid_minor(s_.overpaid_minor + excess);
      o->set_captured_total_minor(captured);
      Commit(e);
    }
  }

  void OnFailed(const inv::RecordPaymentFailed& f) {
    if (auto r = CheckPaymentId(f.payment_id())) return Reject(*r);
    if (auto r = TooLong("reason", f.reason(), kMaxTextLength)) return Reject(*r);
    const LinkedPayment* p = s_.FindPayment(f.payment_id());
    if (p == nullptr) {
      return Reject(inv::REJECT_REASON_PAYMENT_NOT_LINKED, "payment " + f.payment_id());
    }
    if (p->released) return Deduplicated();
    if (p->captured_minor > 0) {
      return Reject(inv::REJECT_REASON_PAYMENT_ALREADY_SETTLED, "the payment captured money");
    }
    Event& e = Begin();
    auto* r = e.mutable_payment_released();
    r->set_payment_id(f.payment_id());
    r->set_installment(p->installment);
    r->set_reason(f.reason());
    Commit(e);
  }

  void OnSupplementary(const inv::IssueSupplementary& i) {
    if (i.supplementary_invoice_id().empty()) {
      return Reject(inv::REJECT_REASON_SUPPLEMENTARY_ID_MISSING,
                    "supplementary_invoice_id is required");
    }
    if (auto r = TooLong("supplementary_invoice_id", i.supplementary_invoice_id(), kMaxIdLength)) {
      return Reject(*r);
    }
    if (auto r = TooLong("reason", i.reason(), kMaxTextLength)) return Reject(*r);
    if (auto r = CheckLineTexts(i.line_items())) return Reject(*r);
    std::string hash = SupplementaryRequestHash(i);
    for (const SupplementaryRecord& rec : s_.supplementaries) {
      if (rec.supplementary_invoice_id != i.supplementary_invoice_id()) continue;
      if (rec.request_hash == hash) return Deduplicated();
      return Reject(inv::REJECT_REASON_SUPPLEMENTARY_EXISTS, "id used with other line items");
    }
    if (i.supplementary_invoice_id() == s_.invoice_id) {
      return Reject(inv::REJECT_REASON_SUPPLEMENTARY_EXISTS, "id is this invoice's");
    }
    if (!s_.Frozen()) {
      return Reject(inv::REJECT_REASON_LINE_ITEMS_NOT_FROZEN,
                    "no payment is linked: revise the line items instead");
    }
    if (IsTerminalInvoiceStatus(s_.status)) return NotAllowed("a supplementary invoice");
    if (s_.supplementaries.size() >= kMaxSupplementaries) {
      return NotAllowed("a supplementary beyond " + std::to_string(kMaxSupplementaries));
    }
    Pricing pricing;
    if (auto r = PriceLines(internal::ToLines(i.line_items()), s_.currency, s_.fee, &pricing)) {
      return Reject(*r);
    }
    Event& e = Begin();
    auto* issued = e.mutable_supplementary_issued();
    issued->set_supplementary_invoice_id(i.supplementary_invoice_id());
    internal::WritePricedLines(i.line_items(), pricing, issued->mutable_line_items());
    internal::WriteTotals(s_.currency, pricing.totals, issued->mutable_totals());
    issued->set_reason(i.reason());
    issued->set_request_hash(std::move(hash));
    Commit(e);
  }

  void OnClose(const inv::CloseInvoice& c) {
    if (auto r = TooLong("reason", c.reason(), kMaxTextLength)) return Reject(*r);
    if (s_.status == inv::INVOICE_STATUS_CLOSED) return Deduplicated();
    if (!IsInvoiceEdge(s_.status, inv::INVOICE_STATUS_CLOSED)) return NotAllowed("closing");
    Event& e = Begin();
    e.mutable_invoice_closed()->set_reason(c.reason());
    Commit(e);
  }

  void OnCancel(const inv::CancelInvoice& c) {
    if (auto r = TooLong("reason", c.reason(), kMaxTextLength)) return Reject(*r);
    if (s_.status == inv::INVOICE_STATUS_CANCELED) return Deduplicated();
    if (s_.Frozen()) {
      return Reject(inv::REJECT_REASON_TRANSITION_NOT_ALLOWED,
                    "a payment was linked: the invoice can no longer be canceled");
    }
    if (!IsInvoiceEdge(s_.status, inv::INVOICE_STATUS_CANCELED)) return NotAllowed("canceling");
    Event& e = Begin();
    e.mutable_invoice_canceled()->set_reason(c.reason());
    Commit(e);
  }

  InvoiceState s_;  // the working copy: the state after the events decided so far
  const InvoiceCommandRecord& rec_;
  const inv::InvoiceCommandEnvelope& env_;
  const InvoiceDecideContext& ctx_;
  std::vector<Event> out_;
  std::string_view merchant_for_orphan_;
};

}  // namespace

std::vector<inv::InvoiceEventEnvelope> Decide(const InvoiceState& state,
                                              const InvoiceCommandRecord& record,
                                              const InvoiceDecideContext& ctx) {
  return Decider(state, record, ctx).Run();
}

void DecideAndApply(InvoiceState& state, const InvoiceCommandRecord& record,
                    const InvoiceDecideContext& ctx, std::vector<inv::InvoiceEventEnvelope>& out) {
  for (inv::InvoiceEventEnvelope& e : Decide(state, record, ctx)) {
    Evolve(state, e);
    out.push_back(std::move(e));
  }
}

const char* CommandTypeName(const inv::InvoiceCommandEnvelope& command) {
  switch (command.command_case()) {
    case inv::InvoiceCommandEnvelope::kCreate:
      return "create";
    case inv::InvoiceCommandEnvelope::kReviseLineItems:
      return "revise_line_items";
    case inv::InvoiceCommandEnvelope::kLinkPayment:
      return "link_payment";
    case inv::InvoiceCommandEnvelope::kPaymentSucceeded:
      return "payment_succeeded";
    case inv::InvoiceCommandEnvelope::kPaymentFailed:
      return "payment_failed";
    case inv::InvoiceCommandEnvelope::kIssueSupplementary:
      return "issue_supplementary";
    case inv::InvoiceCommandEnvelope::kClose:
      return "close";
    case inv::InvoiceCommandEnvelope::kCancel:
      return "cancel";
    default:
      return "empty";
  }
}

std::string CreateRequestHash(const inv::CreateInvoice& c) {
  StableHasher h;
  h.Add("invoice/create").Add(c.merchant_id()).Add(c.currency());
  AddLines(h, c.line_items());
  h.Add(c.service_fee().fixed_minor()).Add(static_cast<int64_t>(c.service_fee().rate_bps()));
  h.Add(static_cast<int64_t>(c.has_installment_plan()));
  if (c.has_installment_plan()) {
    const inv::InstallmentPlan& p = c.installment_plan();
    h.Add(static_cast<int64_t>(p.count())).Add(static_cast<int64_t>(p.due_dates_size()));
    for (const inv::CalendarDate& d : p.due_dates()) AddDate(h, d);
    h.Add(static_cast<int64_t>(p.weights_size()));
    for (uint32_t w : p.weights()) h.Add(static_cast<int64_t>(w));
  }
  h.Add(static_cast<int64_t>(c.has_due_date()));
  if (c.has_due_date()) AddDate(h, c.due_date());
  h.Add(c.customer_reference()).Add(c.supplements_invoice_id());
  return h.Hex();
}

inv::CreateInvoice SupplementaryCreate(const InvoiceState& original,
                                       const inv::IssueSupplementary& issue) {
  inv::CreateInvoice c;
  c.set_merchant_id(original.merchant_id);
  c.set_currency(original.currency);
  *c.mutable_line_items() = issue.line_items();
  c.mutable_service_fee()->set_fixed_minor(original.fee.fixed_minor);
  c.mutable_service_fee()->set_rate_bps(original.fee.rate_bps);
  c.set_customer_reference(original.customer_reference);
  c.set_supplements_invoice_id(original.invoice_id);
  return c;
}

std::string SupplementaryRequestHash(const inv::IssueSupplementary& i) {
  StableHasher h;
  h.Add("invoice/supplementary").Add(i.supplementary_invoice_id());
  AddLines(h, i.line_items());
  return h.Hex();
}

}  // namespace payorch::invoice
