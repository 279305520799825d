#include "command/state.h"

#include "command/transitions.h"

namespace payorch::command {

bool PaymentState::IsTerminal() const { return IsTerminalStatus(status); }

const PendingOperation* PaymentState::FindPending(std::string_view key) const {
  for (const auto& op : pending) {
    if (op.idempotency_key == key) return &op;
  }
  return nullptr;
}

const AttemptRecord* PaymentState::FindAttempt(std::string_view key) const {
  for (const auto& a : attempts) {
    if (a.operation_key == key) return &a;
  }
  return nullptr;
}

}  // namespace payorch::command
