#include "metrics/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace payorch::metrics {
namespace {

struct RedactionCase {
  const char* name;
  const char* in;
  const char* out;
};

TEST(RedactPans, MasksLuhnValidCardNumbersAndNothingElse) {
  const RedactionCase cases[] = {
      {"visa, plain", "card 4111111111111111 ok", "card ************1111 ok"},
      {"grouped by spaces", "4111 1111 1111 1111", "**** **** **** 1111"},
      {"grouped by dashes", "pan=5500-0000-0000-0004;", "pan=****-****-****-0004;"},
      {"amex, 15 digits", "378282246310005", "***********0005"},
      {"19 digits", "6011000990139424000", "6011000990139424000"},  // not Luhn-valid
      {"after another number", "order 12 4111 1111 1111 1111", "order 12 **** **** **** 1111"},
      {"two cards", "4111111111111111,4012888888881881", "************1111,************1881"},
      {"Luhn-invalid", "4111111111111112", "4111111111111112"},
      {"too short", "411111111111", "411111111111"},
      {"too long (20 digits)", "41111111111111111113", "41111111111111111113"},
      {"amounts and offsets", "offset 123456 amount 2500", "offset 123456 amount 2500"},
      {"no digits", "hello", "hello"},
      {"empty", "", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(RedactPans(c.in), c.out) << c.name;
}

std::string LogOneLine(LogFormat format, const std::function<void(spdlog::logger&)>& fn) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("payorch", sink);
  logger.set_formatter(MakeLogFormatter(format));
  fn(logger);
  return out.str();
}

TEST(JsonLogs, CarryThePaymentContextOfTheThread) {
  const std::string payment = "pay_0123456789abcdef0123456789abcdef";
  const std::string line = LogOneLine(LogFormat::kJson, [&](spdlog::logger& l) {
    LogScope scope({.payment_id = payment,
                    .merchant_id = "m_1",
                    .correlation_id = "corr-9",
                    .partition = 3,
                    .epoch = 7,
                    .step = 1});
    l.warn("declined \"card\" 4111 1111 1111 1111");
  });
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["logger"], "payorch");
  EXPECT_EQ(j["msg"], "declined \"card\" **** **** **** 1111");
  EXPECT_EQ(j["payment_id"], payment);
  EXPECT_EQ(j["merchant_id"], "m_1");
  EXPECT_EQ(j["correlation_id"], "corr-9");
  EXPECT_EQ(j["partition"], 3);
  EXPECT_EQ(j["epoch"], 7);
  EXPECT_EQ(j["step"], 1);
  EXPECT_TRUE(j.contains("ts"));
  EXPECT_EQ(line.back(), '\n');
}

TEST(JsonLogs, TakePartitionEpochAndPaymentFromTheMessageWithoutAScope) {
  const std::string line = LogOneLine(LogFormat::kJson, [](spdlog::logger& l) {
    l.info("[p5, epoch 12] payment pay_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa resolved");
  });
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["partition"], 5);
  EXPECT_EQ(j["epoch"], 12);
  EXPECT_EQ(j["payment_id"], "pay_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  EXPECT_FALSE(j.contains("merchant_id"));
  // The invoice and order writers name their topic first.
  const auto k = nlohmann::json::parse(LogOneLine(LogFormat::kJson, [](spdlog::logger& l) {
    l.info("[payorch.orders.events p3, epoch 2] writer w claimed the partition");
  }));
  EXPECT_EQ(k["partition"], 3);
  EXPECT_EQ(k["epoch"], 2);
  for (const char* other : {"[pending] work", "[a b] c", "[payorch.x pz] y", "[p] z"}) {
    const auto o = nlohmann::json::parse(
        LogOneLine(LogFormat::kJson, [&](spdlog::logger& l) { l.info("{}", other); }));
    EXPECT_FALSE(o.contains("partition")) << other;
  }
}

TEST(JsonLogs, ScopeEndsWithItsBlock) {
  const std::string line = LogOneLine(LogFormat::kJson, [](spdlog::logger& l) {
    LogContext context;
    context.payment_id = "pay_x";
    context.partition = 1;
    { LogScope scope(context); }
    l.info("control characters \t and \x01");
  });
  const auto j = nlohmann::json::parse(line);  // escapes are valid JSON
  EXPECT_FALSE(j.contains("payment_id"));
  EXPECT_FALSE(j.contains("partition"));
  EXPECT_EQ(j["msg"], "control characters \t and \x01");
}

TEST(TextLogs, AreRedactedToo) {
  const std::string line = LogOneLine(
      LogFormat::kText, [](spdlog::logger& l) { l.error("pan 5500000000000004 in a log"); });
  EXPECT_NE(line.find("************0004"), std::string::npos) << line;
  EXPECT_EQ(line.find("5500000000000004"), std::string::npos) << line;
}

TEST(ParseLogFormat, AcceptsTextAndJsonOnly) {
  LogFormat f = LogFormat::kText;
  EXPECT_TRUE(ParseLogFormat("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_TRUE(ParseLogFormat("text", &f));
  EXPECT_EQ(f, LogFormat::kText);
  EXPECT_FALSE(ParseLogFormat("xml", &f));
}

}  // namespace
}  // namespace payorch::metrics
