// What each charge (authorize/sale) has become: captured, refunded, voided. Shared by the
// simulated gateway's strict target checks and by the ledger audit.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "connectors/ledger.h"

namespace payorch::connectors::internal {

struct Charge {
  std::string payment_id;
  uint32_t step_index = 0;
  std::string key;
  OperationKind kind = ::payments::events::v1::OPERATION_KIND_UNSPECIFIED;
  int64_t amount = 0;  // authorized or sold
  int64_t captured = 0;
  int64_t refunded = 0;
  bool voided = false;

  bool is_sale() const { return kind == ::payments::events::v1::OPERATION_KIND_SALE; }
  // Money actually taken from the customer (refundable).
  int64_t taken() const { return is_sale() ? amount : captured; }
  // Still holds or keeps the customer's money.
  bool standing() const {
    if (voided) return false;
    if (is_sale()) return refunded < amount;
    return captured == 0 || refunded < captured;
  }
};

inline bool IsCharge(OperationKind kind) {
  return kind == ::payments::events::v1::OPERATION_KIND_AUTHORIZE ||
         kind == ::payments::events::v1::OPERATION_KIND_SALE;
}

class TargetBook {
 public:
  // The charge a reference names: a charge's own reference, or a capture's (which names
  // its authorization). nullptr if unknown.
  Charge* Resolve(const std::string& reference) {
    const std::string* charge_ref = ChargeReference(reference);
    return charge_ref == nullptr ? nullptr : &charges_.find(*charge_ref)->second;
  }

  // "" if `kind` of `amount` against `target` is acceptable, else why not.
  std::string Check(OperationKind kind, const std::string& target, int64_t amount) {
    if (IsCharge(kind)) return "";
    Charge* charge = Resolve(target);
    if (charge == nullptr) return "unknown target reference '" + target + "'";
    if (charge->voided) return "target '" + target + "' is voided";
    switch (kind) {
      case ::payments::events::v1::OPERATION_KIND_CAPTURE:
        if (charge->is_sale()) return "target '" + target + "' is a sale";
        if (charge->captured + amount > charge->amount) return "capture exceeds authorized";
        return "";
      case ::payments::events::v1::OPERATION_KIND_REFUND:
        if (charge->refunded + amount > charge->taken()) return "refund exceeds captured";
        return "";
      default:
        return "";
    }
  }

  // Applies a money movement; returns the charge it acted on (nullptr: unknown target).
  Charge* Apply(const LedgerEntry& e, const std::string& payment_id) {
    if (IsCharge(e.kind)) {
      Charge& c = charges_[e.processor_reference];
      c.payment_id = payment_id;
      c.step_index = e.step_index;
      c.key = e.idempotency_key;
      c.kind = e.kind;
      c.amount = e.amount_minor;
      return &c;
    }
    const std::string* charge_ref = ChargeReference(e.target_reference);
    if (charge_ref == nullptr) return nullptr;
    Charge* c = &charges_.find(*charge_ref)->second;
    switch (e.kind) {
      case ::payments::events::v1::OPERATION_KIND_CAPTURE:
        c->captured += e.amount_minor;
        capture_to_charge_[e.processor_reference] = *charge_ref;
        break;
      case ::payments::events::v1::OPERATION_KIND_VOID:
        c->voided = true;
        break;
      case ::payments::events::v1::OPERATION_KIND_REFUND:
        c->refunded += e.amount_minor;
        break;
      default:
        break;
    }
    return c;
  }

  const std::unordered_map<std::string, Charge>& charges() const { return charges_; }

 private:
  const std::string* ChargeReference(const std::string& reference) const {
    auto it = charges_.find(reference);
    if (it != charges_.end()) return &it->first;
    auto cap = capture_to_charge_.find(reference);
    return cap == capture_to_charge_.end() ? nullptr : &cap->second;
  }

  std::unordered_map<std::string, Charge> charges_;  // by processor reference
  std::unordered_map<std::string, std::string> capture_to_charge_;
};

}  // namespace payorch::connectors::internal
