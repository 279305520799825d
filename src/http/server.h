// payorch::http: the one HTTP server every payorch endpoint is served from (query API,
// merchant API, /metrics, health, gateway simulator, webhooks). It is built on Boost.Beast
// and Boost.Asio (Debian's libboost-dev, header-only) behind plain request/response values,
// so handlers are ordinary functions that tests and fuzzers can call without a socket.
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
//
// Threads: accepting, reading and writing are asynchronous on `io_threads` Asio threads;
// a handler runs only for a complete request, on one of `threads` workers fed by a queue
// of at most `max_queued` requests. A slow or silent client therefore holds a connection
// slot and a little memory, never a worker. Handlers may run concurrently with each other.
// A handler that waits on something slow (e.g. the log's decision) is registered with
// HandleAsync and answers through a Reply, so it holds no worker while it waits.
//
// Bounds, each with its answer (docs/http.md); every error is the JSON error shape and
// every response carries a `Request-Id`:
//   request line + headers > max_header_bytes ............ 431 headers_too_large, close
//   more than max_header_count header fields ............... 431 too_many_headers, close
//   body > max_body_bytes (Content-Length or chunked) ...... 413 payload_too_large, close
//   Content-Encoding other than identity, or a
//   Transfer-Encoding other than chunked .................. 415 unsupported_encoding, close
//   request not complete read_timeout_ms after its first
//   byte (slowloris) ...................................... 408 request_timeout, close
//   malformed request ...................................... 400 bad_request, close
//   no request byte for idle_timeout_ms (new or kept-alive
//   connection) ............................................ close, no answer
//   response not written within write_timeout_ms ........... close
//   max_connections open: the oldest idle connection is closed to make room; if none is
//   idle the new connection gets 503 too_many_connections (Retry-After) and is closed
//   max_queued complete requests waiting for a worker ...... 503 overloaded, Retry-After
//   max_in_flight requests read and not yet answered ....... 503 overloaded, Retry-After
//   max_blocking_queued waiting for a blocking worker ...... 503 overloaded, Retry-After
// Header values are passed to handlers exactly as received (never URL-decoded); the path
// and query parameters are percent-decoded.
#pragma once

#include <chrono>
#include <cstddef>
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

namespace spdlog {
class logger;
}

namespace payorch::http {

struct Request {
  std::string method;                    // "GET", "POST", ...
  std::string path;                      // without the query string
  std::vector<std::string> path_params;  // the route's capture groups, in order
  std::multimap<std::string, std::string> query;
  std::multimap<std::string, std::string> headers;  // names as received
  std::string body;
  std::string remote_addr;
  std::string request_id;  // also sent back as the `Request-Id` response header

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

// The answer to a request handled by an AsyncHandler: the handler returns at once and the
// answer is sent later, from any thread, so no worker waits for a slow peer (e.g. the log's
// decision). Copies share one answer: the first Send wins, later ones are ignored; if the
// last copy is destroyed unsent, the request gets a 500 (a bug never leaves a client
// waiting). Post runs work on one of the server's workers, e.g. to build the answer off the
// thread that learnt it is ready.
class Reply {
 public:
  using SendFn = std::function<void(Response)>;
  using PostFn = std::function<void(std::function<void()>)>;
  using ShapeFn = std::function<Response(Response)>;
  // `send` delivers the answer; `post` runs a task on a worker (null: on the caller);
  // `shape` (optional) gives the 500 of a dropped reply the port's error shape
  // (ServerOptions::shape_error).
  Reply(SendFn send, PostFn post, ShapeFn shape = nullptr);
  void Send(Response response) const;
  void Post(std::function<void()> task) const;
  // A reply that passes each answer through `wrap` before this one sends it (e.g. to add
  // headers); Post and the dropped reply's shape are this reply's.
  [[nodiscard]] Reply Wrapped(std::function<Response(Response)> wrap) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};
using AsyncHandler = std::function<void(const Request&, Reply)>;

// A JSON response.
[[nodiscard]] Response Json(int status, const nlohmann::json& body);
// The JSON error shape of every payorch endpoint:
//   {"error": {"status": 404, "code": "not_found", "message": "...", "details": {...}}}
[[nodiscard]] Response Error(int status, std::string_view code, std::string_view message,
                             const nlohmann::json& details = nullptr);

// One answered (or refused) request, as the access log and ServerOptions::on_request
// see it. Views are valid during the call only.
struct RequestRecord {
  std::string_view server;  // ServerOptions::name
  std::string_view method;  // "" when refused before the request line was read
  std::string_view path;    // percent-decoded, without the query string
  std::string_view route;   // the matched route's regex, "unmatched" or "refused"
  int status = 0;
  std::size_t request_bytes = 0;          // body bytes read
  std::size_t response_bytes = 0;         // body bytes written
  std::chrono::microseconds duration{0};  // first request byte -> response written
  std::string_view request_id;
};

struct ServerOptions {
  int threads = 4;                       // workers running handlers (complete requests)
  std::size_t max_body_bytes = 1 << 20;  // body, also the sum of chunks: 413
  int read_timeout_ms = 5000;   // whole request from its first byte (slowloris): 408, close
  int write_timeout_ms = 5000;  // whole response: close
  std::size_t max_header_bytes = 16 << 10;  // request line + header fields: 431
  std::size_t max_header_count = 100;       // header fields: 431
  int idle_timeout_ms = 15000;              // no request byte on a connection: close
  std::size_t max_connections = 1024;       // open connections; beyond: evict idle or 503
  std::size_t max_queued = 256;             // complete requests waiting for a worker: 503
  std::size_t max_in_flight = 1024;      // requests read and not yet answered (queued, running or
                                         // awaiting an async reply): beyond, 503 overloaded
  int blocking_threads = 0;              // the HandleBlocking routes' own workers (0: on `threads`)
  std::size_t max_blocking_queued = 64;  // their requests waiting for one: 503 overloaded
  int io_threads = 1;                    // Asio threads accepting, reading, writing
  std::string name = "http";             // names this server in access logs and records
  // TLS (OpenSSL via asio::ssl) when both are set: PEM certificate chain and private key.
  // Every connection then speaks TLS 1.2+; Start fails if either file cannot be loaded.
  std::string tls_cert_file{};
  std::string tls_key_file{};
  // The access log: one line per request through this logger (default: spdlog's default
  // logger), at debug level unless access_log_info.
  std::shared_ptr<spdlog::logger> logger{};
  bool access_log_info = false;
  // Called once per answered or refused request, on an I/O thread: keep it short and
  // non-blocking (count into probes). Used for HTTP metrics by route and status.
  std::function<void(const RequestRecord&)> on_request{};
  // Applied to every error the server answers itself (404, 405, 503 overloaded and
  // too_many_connections, 400, 408, 413, 415, 431, and 500 for a handler that threw): a port
  // whose own errors carry more than {status, code, message} (the merchant API's type and
  // param) sets it, so that all of its answers have one shape. Called on an I/O or worker
  // thread; keep it a pure function of the response.
  std::function<Response(Response)> shape_error{};
};

// A "host:port" address; port 0 asks the kernel for a free one. Returns nullopt when the
// text is not host:port with a port in 0..65535.
struct Address {
  std::string host;
  int port = 0;
};
[[nodiscard]] std::optional<Address> ParseAddress(std::string_view text);

// "" when neither file is given (plain HTTP) or both load as a PEM certificate chain and
// private key; otherwise a one-line error naming the missing one or the files. Start
// checks the same; commands call this first to refuse bad flags before starting anything.
[[nodiscard]] std::string CheckTls(const std::string& cert_file, const std::string& key_file);
// "https" for a server with TLS files set, else "http" (for the addresses commands print).
[[nodiscard]] std::string_view Scheme(const ServerOptions& o);

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
  // Registers a route answered through a Reply (see Reply). Call before Start.
  void HandleAsync(std::string method, std::string path_regex, AsyncHandler handler);
  // Registers a route whose handler waits on something slow and cannot answer through a
  // Reply: it runs on its own `blocking_threads` pool (when > 0), so however many of these
  // wait, they hold none of the workers the other routes need. Call before Start.
  void HandleBlocking(std::string method, std::string path_regex, Handler handler);

  // Binds `address` ("host:port") and serves on background threads. Returns the bound
  // port, or an error message naming the problem (bad address, port in use, TLS files).
  [[nodiscard]] Result<int> Start(std::string_view address);

  // Stops accepting, closes connections that are not waiting for a handler, answers the
  // requests already read (running or queued), then joins the threads. Idempotent.
  void Stop();

  // Runs `task` on an I/O thread once `delay` has passed (an Asio timer: no thread waits),
  // e.g. to send a Reply later. Keep it short. Before Start (or after Stop) there is no
  // timer: it runs `task` at once, on the caller (Dispatch in tests).
  void After(std::chrono::milliseconds delay, std::function<void()> task);

  // Runs one request through the routes as the socket path would (for tests and fuzzers);
  // for an async route, waits for its Reply (Post runs on the replying thread).
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
