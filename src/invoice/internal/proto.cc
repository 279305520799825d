// Message <-> plain struct conversions (internal/proto.h).
#include "invoice/internal/proto.h"

namespace payorch::invoice::internal {

std::vector<Line> ToLines(const Repeated<inv::LineItem>& items) {
  std::vector<Line> lines;
  lines.reserve(static_cast<size_t>(items.size()));
  for (const inv::LineItem& item : items) {
    lines.push_back({item.quantity(), item.unit_price_minor(), item.tax_rate_bps()});
  }
  return lines;
}

Date ToDate(const inv::CalendarDate& date) { return {date.year(), date.month(), date.day()}; }

void WriteDate(const Date& date, inv::CalendarDate* out) {
  out->set_year(date.year);
  out->set_month(date.month);
  out->set_day(date.day);
}

Plan ToPlan(const inv::InstallmentPlan& plan) {
  Plan p;
  p.count = plan.count();
  for (const inv::CalendarDate& d : plan.due_dates()) p.due_dates.push_back(ToDate(d));
  p.weights.assign(plan.weights().begin(), plan.weights().end());
  return p;
}

void WritePlan(const Plan& plan, inv::InstallmentPlan* out) {
  out->set_count(plan.count);
  for (const Date& d : plan.due_dates) WriteDate(d, out->add_due_dates());
  for (uint32_t w : plan.weights) out->add_weights(w);
}

void WritePricedLines(const Repeated<inv::LineItem>& items, const Pricing& pricing,
                      Repeated<inv::PricedLineItem>* out) {
  for (int i = 0; i < items.size(); ++i) {
    inv::PricedLineItem* line = out->Add();
    *line->mutable_item() = items[i];
    line->set_net_minor(pricing.lines[static_cast<size_t>(i)].net_minor);
    line->set_tax_minor(pricing.lines[static_cast<size_t>(i)].tax_minor);
  }
}

void WriteTotals(std::string_view currency, const Columns& totals, inv::InvoiceTotals* out) {
  out->set_currency(std::string(currency));
  out->set_subtotal_minor(totals.principal_minor);
  out->set_tax_minor(totals.tax_minor);
  out->set_service_fee_minor(totals.fee_minor);
  out->set_total_minor(totals.total_minor());
}

void WriteSchedule(const std::vector<ScheduledInstallment>& rows, Repeated<inv::Installment>* out) {
  for (const ScheduledInstallment& row : rows) {
    inv::Installment* i = out->Add();
    i->set_number(row.number);
    if (row.due_date) WriteDate(*row.due_date, i->mutable_due_date());
    i->set_principal_minor(row.columns.principal_minor);
    i->set_tax_minor(row.columns.tax_minor);
    i->set_service_fee_minor(row.columns.fee_minor);
    i->set_total_minor(row.columns.total_minor());
  }
}

std::vector<InvoiceLine> ReadLines(const Repeated<inv::PricedLineItem>& lines) {
  std::vector<InvoiceLine> out;
  out.reserve(static_cast<size_t>(lines.size()));
  for (const inv::PricedLineItem& l : lines) {
    out.push_back({l.item().product_id(), l.item().description(), l.item().quantity(),
                   l.item().unit_price_minor(), l.item().tax_rate_bps(), l.net_minor(),
                   l.tax_minor()});
  }
  return out;
}

Columns ReadTotals(const inv::InvoiceTotals& totals) {
  return {totals.subtotal_minor(), totals.tax_minor(), totals.service_fee_minor()};
}

std::vector<InstallmentState> ReadSchedule(const Repeated<inv::Installment>& rows) {
  std::vector<InstallmentState> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (const inv::Installment& i : rows) {
    InstallmentState s;
    s.row.number = i.number();
    if (i.has_due_date()) s.row.due_date = ToDate(i.due_date());
    s.row.columns = {i.principal_minor(), i.tax_minor(), i.service_fee_minor()};
    out.push_back(s);
  }
  return out;
}

}  // namespace payorch::invoice::internal
