// payorch::http: the one HTTP server every payorch endpoint is served from (query API,
// /metrics, health, gateway simulator, webhooks). It wraps cpp-httplib (Debian's
// libcpp-httplib-dev) behind plain request/response values, so handlers are ordinary
// functions that tests and fuzzers can call without a socket.
//
//   http::Server server({.threads = 4});
//   server.Handle("GET", R"(/v1/payments/([^/]+))", [&](const http::Request& req) {
//     return http::Json(200, ViewOf(req.path_params[0]));
//   });
//   auto port = server.Start("127.0.0.1:8080");   // ":0" picks a free port
//   if (!port) { /* port.error() names the problem */ }
//   ...
//   server.Stop();   // returns when in-flight requests have been answered
//
// Routes are ECMAScript regular expressions matched against the whole path; capture
// groups become path_params. An unmatched path is a 404 JSON error; a matched path with
// another method is a 405. A handler that throws becomes a 500 whose body names no
// internals (the exception text is logged).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace payorch::http {

struct Request {
  std::string method;                    // "GET", "POST", ...
  std::string path;                      // without the query string
  std::vector<std::string> path_params;  // the route's capture groups, in order
  std::multimap<std::string, std::string> query;
  std::multimap<std::string, std::string> headers;  // names as received
  std::string body;
  std::string remote_addr;

  // First value of a query parameter, if present.
  [[nodiscard]] std::optional<std::string> Query(std::string_view name) const;
  // First value of a header, matched case-insensitively.
  [[nodiscard]] std::optional<std::string> Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Handler = std::function<Response(const Request&)>;

// A JSON response.
[[nodiscard]] Response Json(int status, const nlohmann::json& body);
// The JSON error shape of every payorch endpoint:
//   {"error": {"status": 404, "code": "not_found", "message": "...", "details": {...}}}
[[nodiscard]] Response Error(int status, std::string_view code, std::string_view message,
                             const nlohmann::json& details = nullptr);

struct ServerOptions {
  int threads = 4;                       // worker threads answering requests
  std::size_t max_body_bytes = 1 << 20;  // larger bodies get 413
  int read_timeout_ms = 5000;
  int write_timeout_ms = 5000;
};

// A "host:port" address; port 0 asks the kernel for a free one. Returns nullopt when the
// text is not host:port with a port in 0..65535.
struct Address {
  std::string host;
  int port = 0;
};
[[nodiscard]] std::optional<Address> ParseAddress(std::string_view text);

template <typename T>
class Result;  // below

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  // stops the server if running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a route. Call before Start.
  void Handle(std::string method, std::string path_regex, Handler handler);

  // Binds `address` ("host:port") and serves on a background thread. Returns the bound
  // port, or an error message naming the problem (bad address, port in use).
  [[nodiscard]] Result<int> Start(std::string_view address);

  // Stops accepting, answers in-flight requests, joins the thread. Idempotent.
  void Stop();

  // Runs one request through the routes as the socket path would (for tests and fuzzers).
  [[nodiscard]] Response Dispatch(Request request) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A value or an error message; small on purpose (the server's only fallible call).
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  static Result Failure(const std::string& message) {
    Result r;
    r.error_ = message;
    return r;
  }
  explicit operator bool() const { return value_.has_value(); }
  const T& operator*() const { return *value_; }
  const std::string& error() const { return error_; }

 private:
  Result() = default;
  std::optional<T> value_;
  std::string error_;
};

}  // namespace payorch::http
