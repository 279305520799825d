#include "runtime/command_intake.h"

#include "command/aggregate.h"
#include "command/parser.h"
#include "log/partitioner.h"

namespace payorch::runtime {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;

namespace {

constexpr char kKeyMismatch[] = "record key is not the command's payment_id";

// Why a command names no payment: its envelope's own fault as decide() states it (the
// envelope's checks, then a create's fields), or else a follow-up without payment_id.
command::Rejection NoPaymentReason(const cmd::CommandEnvelope& e) {
  if (auto r = command::CheckEnvelope(e)) return *std::move(r);
  if (e.has_create()) {
    if (auto parsed = command::ParseCreate(e.create(), nullptr); !parsed.ok())
      return parsed.rejection();
  }
  return {ev::REJECT_REASON_PAYMENT_ID_MISMATCH, kKeyMismatch, ""};
}

}  // namespace

Intake TakeCommand(std::string_view key, std::string_view value, int32_t partition,
                   int32_t partitions, cmd::CommandEnvelope* envelope) {
  Intake in;
  if (auto refused = command::DecodeCommand(value, envelope)) {
    in.dead_letter = refused->reason == ev::REJECT_REASON_RECORD_TOO_LARGE
                         ? "command record too large (" + refused->detail + ")"
                         : std::string("undecodable command record");
    in.reason = refused->reason;
    return in;
  }
  if (key.empty()) {
    in.dead_letter = "command record has no key";
    in.reason = ev::REJECT_REASON_UNDECODABLE;
    return in;
  }
  in.payment_id = command::TargetPaymentId(*envelope);
  const std::string& target = in.payment_id;
  if (target.empty()) {
    // No payment to belong to: the envelope's own fault says why (the order decide() checks
    // them in), and only a command that names none is a key mismatch.
    command::Rejection why = NoPaymentReason(*envelope);
    in.dead_letter = std::move(why.detail);
    in.reason = why.reason;
    return in;
  }
  if (target != key) {
    in.dead_letter = kKeyMismatch;
    in.reason = ev::REJECT_REASON_PAYMENT_ID_MISMATCH;
    return in;
  }
  if (partitions > 0) {
    const PartitionId home = log::PartitionForKey(key, partitions);
    if (home.value() != partition) {
      // Another partition's writer owns this payment; deciding here would fork it.
      in.dead_letter = "record is on partition " + std::to_string(partition) +
                       " but its key belongs on partition " + std::to_string(home.value()) +
                       " (murmur2 of the key, as Java clients partition)";
      in.reason = ev::REJECT_REASON_WRONG_PARTITION;
      return in;
    }
  }
  in.decide = true;
  if (envelope->schema_version() != command::kSchemaVersion ||
      envelope->command_case() == cmd::CommandEnvelope::COMMAND_NOT_SET) {
    in.dead_letter = "unsupported schema_version or no command";
  }
  return in;
}

}  // namespace payorch::runtime
