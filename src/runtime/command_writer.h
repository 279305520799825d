// CommandWriter: what a writer loop (runtime/orchestrator.cc) drives for one partition of
// an aggregate's commands topic: the payments' PartitionWriter (runtime/writer.h) and the
// invoice and order writers (runtime/aggregate_writer.h). The loop restores and claims
// with Start(), hands it every command record of its partition in offset order, polls the
// producer, and calls Persist() once per round.
//
// Not thread-safe: owned by its loop's thread.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "log/record.h"

namespace payorch::runtime {

class CommandWriter {
 public:
  virtual ~CommandWriter() = default;

  // Restores and claims the partition. Returns the commands offset to resume from, or a
  // one-line error.
  [[nodiscard]] virtual std::variant<int64_t, std::string> Start() = 0;

  // Decides one command record of this partition. Returns "" or an error that makes the
  // writer unusable (restart it).
  [[nodiscard]] virtual std::string Handle(const log::Record& record) = 0;

  // Writes the groups delivered so far to the store and evicts settled aggregates.
  [[nodiscard]] virtual std::string Persist() = 0;

  // A newer writer claimed the partition: this one decides nothing more.
  virtual bool fenced() const = 0;
  // The partition was revoked. The writer is kept until the producer has reported every
  // record it published (those reports call back into it); until then they only settle
  // its own bookkeeping: nothing is handed off or decided.
  virtual void Retire() {}
  // No delivery report can still call back into this writer: it may be destroyed.
  virtual bool Quiescent() const = 0;
  // All commands before this offset have their events persisted.
  virtual int64_t persisted_command_offset() const = 0;
};

}  // namespace payorch::runtime
