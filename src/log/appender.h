// Appender: one producer on a thread of its own, for threads that must not wait on the
// log (HTTP handlers). AppendAsync() queues a record and reports the log's acknowledgement
// to a callback; Append() waits for it, bounded.
//
// - Records are produced in the order they were queued; one producer, so records with
//   the same key keep their order.
// - Not bounded here: each caller bounds what it queues (the HTTP servers' max_in_flight
//   bounds the requests waiting on an acknowledgement).
// - A callback runs once, on the appender's thread: keep it short. Stop() flushes for up
//   to 2 s; callbacks of records not settled by then never run.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "log/options.h"
#include "log/record.h"

namespace payorch::log {

class Appender {
 public:
  // `thread_name` names its thread (at most 15 characters).
  explicit Appender(KafkaOptions kafka, std::string thread_name = "po-appender");
  ~Appender();
  [[nodiscard]] std::string Start();
  void Stop();
  // "" once the log acknowledged the record; otherwise why not (timeout included: the
  // record may then still be written later).
  [[nodiscard]] std::string Append(OutRecord record, int64_t timeout_ms);
  // Queues `record`; `done` runs once, on the appender's thread, with "" when the log
  // acknowledged it, else why not (never run if the appender stops first).
  void AppendAsync(OutRecord record, std::function<void(const std::string& error)> done);

 private:
  struct Pending;
  KafkaOptions kafka_;
  std::string thread_name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Pending>> queue_;
  std::atomic<bool> stop_{false};
  std::string start_error_;
  std::thread thread_;
};

}  // namespace payorch::log
