// `payorch api` as its own process next to `payorch run` (no HTTP there): the same API,
// with its own projection; bad flags exit 2 with a one-line message.
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <regex>

#include "api/e2e_support.h"
#include "connectors/webhooks.h"

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
  ASSERT_TRUE(api.Start(
      {PAYORCH_BINARY, "api", "--brokers", stack.bootstrap, "--data", (stack.dir / "data").string(),
       "--http", "127.0.0.1:0", "--http-file", (stack.dir / "http").string(), "--api-config",
       api_config, "--metrics", "127.0.0.1:0", "--log-level", "warn"},
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
  // --metrics: /health/ready (broker, projection) and the API's HTTP metrics by route.
  std::smatch metrics_at;
  const std::string api_log = payorch::testing::ReadFile((stack.dir / "api.log").string());
  ASSERT_TRUE(std::regex_search(api_log, metrics_at,
                                std::regex("metrics at http://127\\.0\\.0\\.1:([0-9]+)/metrics")))
      << api_log;
  httplib::Client metrics("127.0.0.1", std::stoi(metrics_at[1].str()));
  auto ready = metrics.Get("/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  const json checks = json::parse(ready->body, nullptr, false)["checks"];
  EXPECT_TRUE(checks.contains("broker") && checks.contains("projection")) << ready->body;
  auto scraped = metrics.Get("/metrics");
  ASSERT_TRUE(scraped);
  EXPECT_NE(scraped->body.find(R"(payorch_http_request_seconds_count{server="api",route=)"),
            std::string::npos);
  EXPECT_NE(scraped->body.find(R"(payorch_http_requests_total{server="api",route=)"),
            std::string::npos);
  const int status = api.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// --tls-cert/--tls-key: the merchant API and the webhook listener of `payorch run`, and
// `gateway-sim`, speak HTTPS (a self-signed certificate from the openssl command; skipped
// without it); plain HTTP to them gets no answer; bad TLS flags exit 2 with one line.
TEST(StandaloneApi, TlsFlagsServeHttps) {
  Stack stack("tls");
  const std::string cert = (stack.dir / "cert.pem").string();
  const std::string key_file = (stack.dir / "key.pem").string();
  if (std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                   "-keyout " +
                   key_file + " -out " + cert + " >/dev/null 2>&1")
                      .c_str()) != 0) {
    GTEST_SKIP() << "no openssl command to make a certificate";
  }
  const auto port_in = [](const std::string& text, const std::string& what) {
    std::smatch m;
    if (!std::regex_search(text, m, std::regex(what + " at https://127\\.0\\.0\\.1:([0-9]+)")))
      return 0;
    return std::stoi(m[1].str());
  };
  ASSERT_TRUE(stack.StartBroker());
  ::setenv("PAYORCH_TLS_TEST_SECRET", "whsec_tls_test", 1);
  const std::string log = (stack.dir / "run.log").string();
  ASSERT_TRUE(stack.run.Start({PAYORCH_BINARY,
                               "run",
                               "--brokers",
                               stack.bootstrap,
                               "--data-dir",
                               (stack.dir / "data").string(),
                               "--assign",
                               "all",
                               "--http",
                               "127.0.0.1:0",
                               "--merchant-api",
                               "--webhooks",
                               "127.0.0.1:0",
                               "--webhook-secrets",
                               "stripe=PAYORCH_TLS_TEST_SECRET",
                               "--tls-cert",
                               cert,
                               "--tls-key",
                               key_file,
                               "--metrics",
                               "127.0.0.1:0",
                               "--log-level",
                               "warn"},
                              log));
  int api_port = 0;
  int hooks_port = 0;
  Eventually(
      [&] {
        const std::string text = payorch::testing::ReadFile(log);
        api_port = port_in(text, "merchant API");
        hooks_port = port_in(text, "webhooks");
        return api_port != 0 && hooks_port != 0;
      },
      std::chrono::seconds(30));
  ASSERT_NE(api_port, 0) << payorch::testing::ReadFile(log);
  ASSERT_NE(hooks_port, 0) << payorch::testing::ReadFile(log);
  const std::string key = stack.NewKey("m_wallet");
  ASSERT_FALSE(key.empty());
  httplib::SSLClient api("127.0.0.1", api_port);
  api.enable_server_certificate_verification(false);
  api.set_read_timeout(10, 0);
  auto listed = api.Get("/v1/payments", {{"Authorization", "Bearer " + key}});
  ASSERT_TRUE(listed) << httplib::to_string(listed.error());
  EXPECT_EQ(listed->status, 200) << listed->body;
  // An unsigned gateway notification is refused with the JSON error shape, over TLS.
  httplib::SSLClient hooks("127.0.0.1", hooks_port);
  hooks.enable_server_certificate_verification(false);
  auto refused = hooks.Post("/v1/webhooks/stripe", "{}", "application/json");
  ASSERT_TRUE(refused) << httplib::to_string(refused.error());
  EXPECT_GE(refused->status, 400);
  EXPECT_TRUE(json::parse(refused->body, nullptr, false).contains("error")) << refused->body;
  // A signed one is appended to the log (through the webhook appender: no worker waits for
  // the acknowledgement) and answered 200; its repeat is a duplicate.
  const std::string event =
      R"({"id":"evt_tls_1","type":"operation.succeeded","data":{"idempotency_key":"k1",)"
      R"("id":"ch_1","amount":100,"metadata":{"payment_id":"p_tls_1"}}})";
  const httplib::Headers signed_headers = {
      {"Payorch-Signature", connectors::SignWebhook("whsec_tls_test", std::time(nullptr), event)}};
  for (const bool duplicate : {false, true}) {
    auto accepted = hooks.Post("/v1/webhooks/stripe", signed_headers, event, "application/json");
    ASSERT_TRUE(accepted) << httplib::to_string(accepted.error());
    EXPECT_EQ(accepted->status, 200) << accepted->body;
    EXPECT_EQ(json::parse(accepted->body, nullptr, false).value("duplicate", !duplicate), duplicate)
        << accepted->body;
  }
  // Both servers' requests are in the HTTP metrics (plain HTTP: /metrics is not TLS), their
  // latency by server and route.
  std::smatch metrics_at;
  const std::string run_text = payorch::testing::ReadFile(log);
  ASSERT_TRUE(std::regex_search(run_text, metrics_at,
                                std::regex("metrics at http://127\\.0\\.0\\.1:([0-9]+)")));
  httplib::Client scraper("127.0.0.1", std::stoi(metrics_at[1].str()));
  auto scraped = scraper.Get("/metrics");
  ASSERT_TRUE(scraped);
  for (const std::string& series :
       {std::string(R"(payorch_http_request_seconds_count{server="api",route=)"),
        std::string(R"(payorch_http_request_seconds_count{server="webhooks",route=)"),
        std::string(R"(payorch_http_requests_total{server="webhooks",route=)")}) {
    EXPECT_NE(scraped->body.find(series), std::string::npos) << series;
  }
  httplib::Client plain("127.0.0.1", api_port);
  plain.set_read_timeout(2, 0);
  auto no_tls = plain.Get("/v1/payments", {{"Authorization", "Bearer " + key}});
  EXPECT_TRUE(!no_tls || no_tls->status != 200);

  payorch::testing::ChildProcess sim;
  const std::string sim_log = (stack.dir / "sim.log").string();
  ASSERT_TRUE(sim.Start({PAYORCH_BINARY, "gateway-sim", "--listen", "127.0.0.1:0", "--tls-cert",
                         cert, "--tls-key", key_file},
                        sim_log));
  int sim_port = 0;
  Eventually(
      [&] {
        sim_port = port_in(payorch::testing::ReadFile(sim_log), "gateway-sim stripe");
        return sim_port != 0;
      },
      std::chrono::seconds(10));
  ASSERT_NE(sim_port, 0) << payorch::testing::ReadFile(sim_log);
  httplib::SSLClient gateway("127.0.0.1", sim_port);
  gateway.enable_server_certificate_verification(false);
  auto audit = gateway.Get("/v1/audit");
  ASSERT_TRUE(audit) << httplib::to_string(audit.error());
  EXPECT_EQ(audit->status, 200);

  const std::string bin = PAYORCH_BINARY;
  for (const std::string& args :
       {" run --tls-cert " + cert, " gateway-sim --tls-key " + key_file,
        " gateway-sim --tls-cert /nonexistent.pem --tls-key " + key_file,
        " run --http 127.0.0.1:0 --tls-cert " + cert + " --tls-key " + cert}) {
    auto out = payorch::projection::testing::Shell(bin + args + " 2>&1");
    EXPECT_EQ(out.exit_code, 2) << args;
    EXPECT_EQ(std::count(out.out.begin(), out.out.end(), '\n'), 1) << args << ": " << out.out;
    EXPECT_NE(out.out.find("TLS"), std::string::npos) << args << ": " << out.out;
  }
}

TEST(StandaloneApi, BadFlagsExit2WithOneLine) {
  const std::string bin = PAYORCH_BINARY;
  for (const std::string& args :
       {std::string(" api --data /tmp/x"), std::string(" api --brokers 127.0.0.1:1"),
        std::string(" api --brokers 127.0.0.1:1 --data /tmp/x --http nowhere"),
        std::string(" api --brokers 127.0.0.1:1 --data /tmp/x --metrics nowhere"),
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
