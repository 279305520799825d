#include "runtime/command_intake.h"

#include "command/aggregate.h"
#include "command/parser.h"
#include "log/partitioner.h"

namespace payorch::runtime {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;

namespace {

std::pair<ev::RejectReason, std::string> NoPaymentReason(const cmd::CommandEnvelope& e) {
  if (e.schema_version() != command::kSchemaVersion) {
    return {ev::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED,
            "schema_version " + std::to_string(e.schema_version()) + " is not supported"};
  }
  if (e.command_case() == cmd::CommandEnvelope::COMMAND_NOT_SET)
    return {ev::REJECT_REASON_COMMAND_MISSING, "the envelope has no command"};
  if (e.has_create() && command::Trim(e.create().merchant_id()).empty())
    return {ev::REJECT_REASON_MERCHANT_MISSING, "a create without merchant_id names no payment"};
  if (e.has_create() && command::Trim(e.create().idempotency_key()).empty()) {
    return {ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING,
            "a create without idempotency_key names no payment"};
  }
  return {ev::REJECT_REASON_PAYMENT_ID_MISMATCH, "record key is not the command's payment_id"};
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
    const auto [reason, text] = NoPaymentReason(*envelope);
    in.dead_letter = text;
    in.reason = reason;
    return in;
  }
  if (target != key) {
    in.dead_letter = "record key is not the command's payment_id";
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
