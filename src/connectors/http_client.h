// HttpClient: the one libcurl transport of the HTTP connectors (HttpGateway, StripeGateway).
// It sends one request and says what the transport did; what an answer *means* is each
// adapter's own mapping (MapHttpAnswer, MapStripeAnswer), never decided here.
//
// Contract:
//  - Perform() never throws. Its Transport tells whether an answer arrived (kAnswered, with
//    status and body), the request never reached the peer (kNotSent: resolve/connect/TLS
//    handshake failed), or the outcome is open (kTimedOut, kBrokenAfterSend).
//  - The call's timeout is min(options.timeout_ms, call.timeout_ms) (0 = the option's);
//    the connect timeout is min(options.connect_timeout_ms, that).
//  - Bodies are bounded (1 MiB); a larger answer is a broken transfer (kBrokenAfterSend).
//  - The bearer token is sent as `Authorization: Bearer` and is never logged or put in a
//    message.
//
//   HttpClient client({.base_url = "http://127.0.0.1:8099", .bearer_token = token});
//   HttpResult r = client.Perform({.post = true, .path = "/v1/refunds", .body = form,
//                                  .content_type = "application/x-www-form-urlencoded",
//                                  .headers = {{"Idempotency-Key", key}}});
//
// Thread-safe: each call takes a curl handle from a small pool (connections are reused).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace payorch::connectors {

// What the transport did.
enum class Transport {
  kAnswered,         // an HTTP response arrived
  kNotSent,          // could not connect / resolve: the request never reached the processor
  kTimedOut,         // no complete answer within the timeout
  kBrokenAfterSend,  // connection lost after sending: the outcome is unknown
};

struct HttpCall;
struct HttpResult;

struct HttpClientOptions {
  std::string base_url;  // "http://127.0.0.1:8099", no trailing slash
  uint32_t timeout_ms = 2000;
  uint32_t connect_timeout_ms = 500;
  std::string bearer_token{};  // secret; "" = none
  std::string client_cert_path{};
  std::string client_key_path{};
  std::string ca_path{};
  // Called after every call, on the calling thread (probes, tests); keep it short. The
  // call never holds the bearer token.
  std::function<void(const HttpCall&, const HttpResult&)> on_result{};
};

struct HttpCall {
  bool post = false;   // POST with `body`, else GET
  std::string path{};  // appended to base_url, already escaped (may carry a query)
  std::string body{};
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers{};  // extra request headers
  uint32_t timeout_ms = 0;                                     // 0 = options.timeout_ms
};

struct HttpResult {
  Transport transport = Transport::kNotSent;
  int status = 0;  // when kAnswered
  std::string body;
  uint32_t latency_ms = 0;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  [[nodiscard]] HttpResult Perform(const HttpCall& call);
  const HttpClientOptions& options() const { return options_; }

 private:
  void* TakeHandle();
  void GiveHandle(void* handle);

  HttpClientOptions options_;
  std::mutex mu_;
  std::vector<void*> handles_;  // CURL*, guarded by mu_
};

// RFC 3986 percent-encoding of everything but unreserved characters (libcurl's
// curl_easy_escape): the encoding of a form field name or value, or of a path segment.
[[nodiscard]] std::string PercentEncode(std::string_view text);

// application/x-www-form-urlencoded body from (name, value) pairs, in the given order.
// Names keep '[' and ']' literal (Stripe's nested parameters, e.g. metadata[payment_id]).
[[nodiscard]] std::string FormEncode(
    const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace payorch::connectors
