// Support for the merchant API tests over real HTTP: a `payorch broker` process, a
// `payorch run --http --merchant-api` process on it, API keys made with `payorch keys`,
// and a webhook receiver that records (and can refuse) deliveries.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/hmac.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "log/partition_reader.h"
#include "projection/cli_support.h"
#include "reliability/process.h"

namespace payorch::api::testing {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Reply {
  int status = 0;  // 0: no answer
  json body;
  httplib::Headers headers;
  std::string raw;
};

class Client {
 public:
  Client(std::string host, int port) : http_(std::move(host), port) {
    http_.set_read_timeout(10, 0);
    http_.set_connection_timeout(5, 0);
  }
  Reply Get(const std::string& path, const std::string& key) {
    return Do("GET", path, key, "", "");
  }
  Reply Post(const std::string& path, const std::string& key, const std::string& idem,
             const json& body) {
    return Do("POST", path, key, idem, body.dump());
  }
  Reply Do(const std::string& method, const std::string& path, const std::string& key,
           const std::string& idem, const std::string& body) {
    httplib::Headers h;
    if (!key.empty()) h.emplace("Authorization", "Bearer " + key);
    if (!idem.empty()) h.emplace("Idempotency-Key", idem);
    httplib::Result res = method == "GET"   ? http_.Get(path.c_str(), h)
                          : method == "PUT" ? http_.Put(path.c_str(), h, body, "application/json")
                          : method == "DELETE"
                              ? http_.Delete(path.c_str(), h)
                              : http_.Post(path.c_str(), h, body, "application/json");
    Reply r;
    if (!res) return r;
    r.status = res->status;
    r.raw = res->body;
    r.headers = res->headers;
    r.body = json::parse(res->body, nullptr, false);
    return r;
  }

 private:
  httplib::Client http_;
};

// Records POSTs to /hook; answers `status` (settable).
class Receiver {
 public:
  struct Delivery {
    std::string event_id;
    std::string signature;
    std::string body;
  };
  Receiver() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      ++attempts_;
      res.status = status_;
      if (status_ == 200)
        got_.push_back({req.get_header_value("Payorch-Event-Id"),
                        req.get_header_value("Payorch-Signature"), req.body});
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  void set_status(int s) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = s;
  }
  int attempts() {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }
  std::vector<Delivery> got() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }
  // Event ids delivered for `payment_id` (de-duplicated).
  std::set<std::string> EventsOf(const std::string& payment_id) {
    std::set<std::string> ids;
    for (const auto& d : got())
      if (d.event_id.rfind(payment_id + "/", 0) == 0) ids.insert(d.event_id);
    return ids;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  int status_ = 200;
  int attempts_ = 0;
  std::vector<Delivery> got_;
};

// Verifies "t=<s>,v1=<hex>" the way a merchant would.
inline bool SignatureValid(const std::string& header, const std::string& secret,
                           const std::string& body) {
  std::smatch m;
  static const std::regex re("t=([0-9]+),v1=([0-9a-f]{64})");
  if (!std::regex_match(header, m, re)) return false;
  const std::string payload = m[1].str() + "." + body;
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &len);
  char hex[65];
  for (unsigned i = 0; i < 32; ++i) std::snprintf(hex + 2 * i, 3, "%02x", mac[i]);
  return m[2].str() == std::string(hex, 64);
}

template <typename F>
bool Eventually(F f, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return f();
}

// A broker and an orchestrator with the merchant API, in `dir`.
class Stack {
 public:
  explicit Stack(std::string name) {
    dir = fs::temp_directory_path() / ("payorch-api-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Stack() {
    run.Kill(SIGKILL);
    broker.Kill(SIGKILL);
    if (!::testing::Test::HasFailure()) fs::remove_all(dir);  // kept for reading a failure
  }
  bool StartBroker() {
    if (!broker.Start({PAYORCH_BINARY, "broker", "--partitions", "2", "--bootstrap-file",
                       (dir / "bootstrap").string()},
                      (dir / "broker.log").string()))
      return false;
    bootstrap =
        payorch::testing::WaitForFileLine((dir / "bootstrap").string(), std::chrono::seconds(20));
    return !bootstrap.empty();
  }
  // Starts `payorch run --http 127.0.0.1:0 --merchant-api` (and `extra` flags); returns the
  // bound port or 0.
  int StartRun(const std::string& api_config, const std::vector<std::string>& extra = {}) {
    std::ofstream(dir / "api.yaml") << api_config;
    const std::string log = (dir / ("run" + std::to_string(++runs) + ".log")).string();
    std::vector<std::string> argv = {PAYORCH_BINARY,
                                     "run",
                                     "--brokers",
                                     bootstrap,
                                     "--data-dir",
                                     (dir / "data").string(),
                                     "--assign",
                                     "all",
                                     "--http",
                                     "127.0.0.1:0",
                                     "--merchant-api",
                                     "--api-config",
                                     (dir / "api.yaml").string(),
                                     "--max-lag",
                                     "-1",
                                     "--log-level",
                                     "warn"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (!run.Start(argv, log)) return 0;
    static const std::regex re("merchant API at http://127\\.0\\.0\\.1:([0-9]+)/");
    int port = 0;
    Eventually(
        [&] {
          std::smatch m;
          const std::string text = payorch::testing::ReadFile(log);
          if (std::regex_search(text, m, re)) port = std::stoi(m[1].str());
          return port != 0;
        },
        std::chrono::seconds(30));
    if (port == 0) return 0;
    // Ready: the writers have restored and claimed their partitions.
    httplib::Client health("127.0.0.1", port);
    const bool ready = Eventually(
        [&] {
          auto res = health.Get("/health/ready");
          return res && res->status == 200;
        },
        std::chrono::seconds(30));
    return ready ? port : 0;
  }
  std::string NewKey(const std::string& merchant) {
    auto out = payorch::projection::testing::Shell(
        std::string(PAYORCH_BINARY) + " keys create --data " + (dir / "data").string() +
        " --merchant " + merchant + " 2>/dev/null");
    return out.exit_code == 0 ? payorch::projection::testing::Trim(out.out) : "";
  }

  // Every record of `kind`'s topic (both partitions of the stack's broker), as read now.
  std::vector<log::Record> ReadTopic(log::TopicKind kind) const {
    log::KafkaOptions kafka;
    kafka.bootstrap_servers = bootstrap;
    std::vector<log::Record> records;
    for (int p = 0; p < 2; ++p) {
      auto reader = log::PartitionReader::Open(kafka, kafka.Topic(kind), PartitionId{p},
                                               log::kOffsetBeginning);
      EXPECT_TRUE(reader.ok()) << reader.status().ToString();
      if (!reader.ok()) continue;
      auto end =
          reader.value()->ReadToEnd([&](const log::Record& r) { records.push_back(r); }, 10'000);
      EXPECT_TRUE(end.ok()) << end.status().ToString();
    }
    return records;
  }

  fs::path dir;
  std::string bootstrap;
  int runs = 0;
  payorch::testing::ChildProcess broker, run;
};

}  // namespace payorch::api::testing
