// `payorch api` as its own process next to `payorch run` (no HTTP there): the same API,
// with its own projection; bad flags exit 2 with a one-line message.
#include <fstream>

#include "api/e2e_support.h"

namespace payorch::api::testing {
namespace {

TEST(StandaloneApi, ServesPaymentsNextToTheOrchestrator) {
  Stack stack("standalone");
  ASSERT_TRUE(stack.StartBroker());
  ASSERT_TRUE(
      stack.run.Start({PAYORCH_BINARY, "run", "--brokers", stack.bootstrap, "--data-dir",
                       (stack.dir / "run").string(), "--assign", "all", "--log-level", "warn"},
                      (stack.dir / "run.log").string()));
  // The operator's admin API: keys only for the merchant configuration's merchants (the
  // built-in ones by default).
  const std::string admin_token = "adm_standalone_0123456789abcdef0123456789";
  ::setenv("PAYORCH_STANDALONE_ADMIN", admin_token.c_str(), 1);
  const std::string api_config = (stack.dir / "api.yaml").string();
  { std::ofstream(api_config) << "admin_token_env: PAYORCH_STANDALONE_ADMIN\n"; }
  payorch::testing::ChildProcess api;
  ASSERT_TRUE(
      api.Start({PAYORCH_BINARY, "api", "--brokers", stack.bootstrap, "--data",
                 (stack.dir / "data").string(), "--http", "127.0.0.1:0", "--http-file",
                 (stack.dir / "http").string(), "--api-config", api_config, "--log-level", "warn"},
                (stack.dir / "api.log").string()));
  const std::string addr =
      payorch::testing::WaitForFileLine((stack.dir / "http").string(), std::chrono::seconds(20));
  ASSERT_FALSE(addr.empty()) << payorch::testing::ReadFile((stack.dir / "api.log").string());
  const std::string key = stack.NewKey("m_wallet");  // keys live in --data
  ASSERT_FALSE(key.empty());
  Client c("127.0.0.1", std::stoi(addr.substr(addr.rfind(':') + 1)));
  // The writers may still be claiming their partitions: a 202 is repeated with the same
  // Idempotency-Key until the payment has settled.
  const json body = {
      {"amount", 900}, {"currency", "USD"}, {"payment_method", "card"}, {"confirm", true}};
  Reply r;
  Eventually(
      [&] {
        r = c.Post("/v1/payments", key, "standalone-1", body);
        return r.status != 202;
      },
      std::chrono::seconds(20));
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["status"], "succeeded");
  EXPECT_EQ(c.Get("/v1/payments/" + r.body["id"].get<std::string>(), key).status, 200);
  Reply created = c.Post("/v1/admin/api-keys", admin_token, "", {{"merchant", "m_jpy"}});
  EXPECT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(c.Post("/v1/admin/api-keys", admin_token, "", {{"merchant", "m_nobody"}}).status, 422);
  const int status = api.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(StandaloneApi, BadFlagsExit2WithOneLine) {
  const std::string bin = PAYORCH_BINARY;
  for (const std::string& args :
       {std::string(" api --data /tmp/x"), std::string(" api --brokers 127.0.0.1:1"),
        std::string(" api --brokers 127.0.0.1:1 --data /tmp/x --http nowhere"),
        std::string(" api --brokers 127.0.0.1:1 --data /tmp/x --config /nonexistent.yaml"),
        std::string(" keys create --data /tmp/x"), std::string(" keys launch --data /tmp/x"),
        std::string(" keys revoke --data /tmp/x --merchant m")}) {
    auto out = payorch::projection::testing::Shell(bin + args + " 2>&1");
    EXPECT_EQ(out.exit_code, 2) << args;
    EXPECT_EQ(std::count(out.out.begin(), out.out.end(), '\n'), 1) << args << ": " << out.out;
  }
}

}  // namespace
}  // namespace payorch::api::testing
