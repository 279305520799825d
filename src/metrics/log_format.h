// Log lines: JSON lines or text, both with card numbers redacted. A thread's current
// payment context (LogScope) adds payment_id, merchant_id, partition, epoch, step and
// correlation id to JSON lines; messages that start "[p3, epoch 7]" give partition and
// epoch too, and a "pay_<32 hex>" in the message gives payment_id.
//
//   logger->set_formatter(metrics::MakeLogFormatter(metrics::LogFormat::kJson));
//   {
//     metrics::LogScope scope({.payment_id = id, .partition = 3, .epoch = 7});
//     logger->warn("card 4111 1111 1111 1111 declined");
//     // {"ts":"...","level":"warn","logger":"payorch","msg":"card **** **** **** 1111
//     //  declined","payment_id":"...","partition":3,"epoch":7}
//   }
//
// Redaction: any run of 13 to 19 digits, optionally grouped by single spaces or dashes,
// that passes the Luhn check keeps its last four digits; the others become '*'.
// LogScope is cheap (a few stores to a thread_local); the strings it names must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class formatter;
}

namespace payorch::metrics {

enum class LogFormat { kText, kJson };

// "text" or "json"; false otherwise.
[[nodiscard]] bool ParseLogFormat(std::string_view text, LogFormat* out);

[[nodiscard]] std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// Masks every card number (common/pan.h, FindPan) in place but its last four digits (the
// length does not change). Returns how many.
int RedactPans(char* data, size_t size);
[[nodiscard]] std::string RedactPans(std::string_view text);

struct LogContext {
  std::string_view payment_id;
  std::string_view merchant_id;
  std::string_view correlation_id;
  int32_t partition = -1;
  int64_t epoch = -1;
  int32_t step = -1;
};

// Sets this thread's log context for its lifetime, restoring the previous one after.
class LogScope {
 public:
  explicit LogScope(const LogContext& context);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  LogContext saved_;
};

}  // namespace payorch::metrics
