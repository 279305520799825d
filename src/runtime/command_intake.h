// What the writer does with one command record before deciding it: the one rule for which
// records go to the dead-letter topic (with which reason) and which are decided. Pure: the
// writer (writer.cc) and the simulation (tests/simulation) both call it.
//
//   cmd::CommandEnvelope envelope;
//   const Intake in = TakeCommand(record.key, record.value, partition, partitions, &envelope);
//   if (!in.dead_letter.empty()) DeadLetter(record, in.dead_letter, in.reason);
//   if (in.decide) Decide(envelope);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::runtime {

struct Intake {
  // Not empty: the record goes to the dead-letter topic with this text (the stable
  // payorch.reason header) and `reason`.
  std::string dead_letter;
  ::payments::events::v1::RejectReason reason = ::payments::events::v1::REJECT_REASON_UNSPECIFIED;
  // The payment the command names (its payment_id, or derived for a create), "" if none:
  // what a dead letter's violation is keyed by.
  std::string payment_id;
  // Whether the command is decided; then the record's key is the command's payment id
  // (never empty). A record with no payment to belong to (undecodable, no key, naming no
  // payment, a key that is not its payment, on another partition than its key's) is not;
  // one naming none gets its envelope's fault as `reason` (schema, no command, a create
  // without merchant or key). A command of an unsupported schema or with no command that
  // names its payment is both dead-lettered and decided (its rejection, and its violation,
  // come from decide()).
  bool decide = false;
};

// `partitions`: the commands topic's partition count, 0 when unknown (the partition check
// is then skipped). `envelope` receives the decoded command.
Intake TakeCommand(std::string_view key, std::string_view value, int32_t partition,
                   int32_t partitions, ::payments::commands::v1::CommandEnvelope* envelope);

}  // namespace payorch::runtime
