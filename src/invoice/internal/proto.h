// Conversions between the invoice contract's messages and schedule.h's plain structs,
// shared by decide and evolve. Not part of the public API.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "google/protobuf/repeated_ptr_field.h"
#include "invoice/schedule.h"
#include "invoice/state.h"
#include "payments/invoices/v1/invoices.pb.h"

namespace payorch::invoice::internal {

template <typename T>
using Repeated = ::google::protobuf::RepeatedPtrField<T>;

std::vector<Line> ToLines(const Repeated<inv::LineItem>& items);
Date ToDate(const inv::CalendarDate& date);
void WriteDate(const Date& date, inv::CalendarDate* out);
Plan ToPlan(const inv::InstallmentPlan& plan);
void WritePlan(const Plan& plan, inv::InstallmentPlan* out);

// items[i] with pricing.lines[i].
void WritePricedLines(const Repeated<inv::LineItem>& items, const Pricing& pricing,
                      Repeated<inv::PricedLineItem>* out);
void WriteTotals(std::string_view currency, const Columns& totals, inv::InvoiceTotals* out);
void WriteSchedule(const std::vector<ScheduledInstallment>& rows, Repeated<inv::Installment>* out);

std::vector<InvoiceLine> ReadLines(const Repeated<inv::PricedLineItem>& lines);
Columns ReadTotals(const inv::InvoiceTotals& totals);
std::vector<InstallmentState> ReadSchedule(const Repeated<inv::Installment>& rows);

}  // namespace payorch::invoice::internal
