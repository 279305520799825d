#include "metrics/log_format.h"

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>

#include <cctype>
#include <ctime>

#include "common/pan.h"

namespace payorch::metrics {

namespace {

thread_local LogContext t_context;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char* kHex = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xf]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void AppendField(std::string& out, const char* name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":";
  AppendJsonString(out, value);
}

void AppendField(std::string& out, const char* name, int64_t value) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

// "[p3, epoch 7] ...", "[p3] ..." or, from the invoice and order writers, "[payorch.orders.events
// p3, epoch 7] ...": partition and epoch from the runtime's line prefix.
void ParsePrefix(std::string_view msg, int64_t* partition, int64_t* epoch) {
  const size_t close = msg.find(']');
  if (msg.empty() || msg[0] != '[' || close == std::string_view::npos) return;
  size_t i = 1;
  if (msg.size() < 3 || msg[1] != 'p' || !IsDigit(msg[2])) {  // a topic name first
    i = msg.find(' ', i) + 1;
    if (i == 0 || i >= close || msg[i] != 'p') return;
  }
  if (i + 1 >= close || !IsDigit(msg[i + 1])) return;
  ++i;
  int64_t p = 0;
  while (i < msg.size() && IsDigit(msg[i])) p = p * 10 + (msg[i++] - '0');
  *partition = p;
  constexpr std::string_view kEpoch = ", epoch ";
  if (msg.substr(i, kEpoch.size()) == kEpoch) {
    i += kEpoch.size();
    int64_t e = 0;
    bool any = false;
    while (i < msg.size() && IsDigit(msg[i])) {
      e = e * 10 + (msg[i++] - '0');
      any = true;
    }
    if (any) *epoch = e;
  }
}

std::string_view FindPaymentId(std::string_view msg) {
  for (size_t at = msg.find("pay_"); at != std::string_view::npos; at = msg.find("pay_", at + 1)) {
    if (at + 36 > msg.size()) break;
    bool hex = true;
    for (size_t i = at + 4; i < at + 36 && hex; ++i) hex = std::isxdigit(msg[i]) != 0;
    if (hex) return msg.substr(at, 36);
  }
  return {};
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string text(msg.payload.data(), msg.payload.size());
    RedactPans(text.data(), text.size());
    std::string out;
    out.reserve(text.size() + 160);
    out += "{\"ts\":\"";
    const auto since = msg.time.time_since_epoch();
    const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(since).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char when[40];
    const size_t n = std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    out.append(when, n);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
    out += frac;
    out += "\"";
    const auto level = spdlog::level::to_string_view(msg.level);
    AppendField(out, "level", std::string_view(level.data(), level.size()));
    AppendField(out, "logger", std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    AppendField(out, "msg", text);
    const LogContext& c = t_context;
    int64_t partition = c.partition;
    int64_t epoch = c.epoch;
    if (partition < 0) ParsePrefix(text, &partition, &epoch);
    std::string_view payment = c.payment_id;
    if (payment.empty()) payment = FindPaymentId(text);
    if (!payment.empty()) AppendField(out, "payment_id", payment);
    if (!c.merchant_id.empty()) AppendField(out, "merchant_id", c.merchant_id);
    if (partition >= 0) AppendField(out, "partition", partition);
    if (epoch >= 0) AppendField(out, "epoch", epoch);
    if (c.step >= 0) AppendField(out, "step", static_cast<int64_t>(c.step));
    if (!c.correlation_id.empty()) {
      std::string corr(c.correlation_id);
      RedactPans(corr.data(), corr.size());
      AppendField(out, "correlation_id", corr);
    }
    out += "}\n";
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

class RedactingTextFormatter final : public spdlog::formatter {
 public:
  RedactingTextFormatter() : inner_(std::make_unique<spdlog::pattern_formatter>()) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const size_t start = dest.size();
    inner_->format(msg, dest);
    RedactPans(dest.data() + start, dest.size() - start);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<RedactingTextFormatter>();
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
};

}  // namespace

bool ParseLogFormat(std::string_view text, LogFormat* out) {
  if (text == "text") {
    *out = LogFormat::kText;
  } else if (text == "json") {
    *out = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format) {
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>();
  return std::make_unique<RedactingTextFormatter>();
}

int RedactPans(char* data, size_t size) {
  const std::string_view text(data, size);
  int redacted = 0;
  for (auto pan = FindPan(text); pan; pan = FindPan(text, pan->end)) {
    // Every digit but the last four.
    size_t keep = 4;
    for (size_t k = pan->end; k-- > pan->begin;) {
      if (!IsDigit(data[k])) continue;
      if (keep > 0) {
        --keep;
      } else {
        data[k] = '*';
      }
    }
    ++redacted;
  }
  return redacted;
}

std::string RedactPans(std::string_view text) {
  std::string out(text);
  RedactPans(out.data(), out.size());
  return out;
}

LogScope::LogScope(const LogContext& context) : saved_(t_context) { t_context = context; }
LogScope::~LogScope() { t_context = saved_; }

}  // namespace payorch::metrics
