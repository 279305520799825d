#include "http/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <regex>
#include <thread>

namespace payorch::http {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct Route {
  std::string method;
  std::regex pattern;
  Handler handler;
};

}  // namespace

std::optional<std::string> Request::Query(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

Response Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  // Invalid UTF-8 (e.g. from a request path echoed in an error) becomes U+FFFD instead of
  // an exception that would escape the handler.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Error(int status, std::string_view code, std::string_view message,
               const nlohmann::json& details) {
  nlohmann::json err = {{"status", status}, {"code", code}, {"message", message}};
  if (!details.is_null()) err["details"] = details;
  return Json(status, {{"error", err}});
}

std::optional<Address> ParseAddress(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  Address a;
  a.host = std::string(text.substr(0, colon));
  if (a.host.empty()) a.host = "0.0.0.0";
  auto port = text.substr(colon + 1);
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || a.port < 0 ||
      a.port > 65535) {
    return std::nullopt;
  }
  return a;
}

struct Server::Impl {
  ServerOptions options;
  std::vector<Route> routes;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> running{false};

  void Serve(const httplib::Request& in, httplib::Response& out) const {
    Request req;
    req.method = in.method;
    req.path = in.path;
    req.body = in.body;
    req.remote_addr = in.remote_addr;
    for (const auto& [k, v] : in.params) req.query.emplace(k, v);
    for (const auto& [k, v] : in.headers) req.headers.emplace(k, v);
    Response resp = Dispatch(std::move(req));
    out.status = resp.status;
    for (const auto& [k, v] : resp.headers) out.set_header(k, v);
    out.set_content(resp.body, resp.content_type);
  }

  Response Dispatch(Request req) const {
    bool path_matched = false;
    for (const auto& route : routes) {
      std::smatch m;
      if (!std::regex_match(req.path, m, route.pattern)) continue;
      path_matched = true;
      if (route.method != req.method) continue;
      req.path_params.clear();
      for (std::size_t i = 1; i < m.size(); ++i) req.path_params.push_back(m[i].str());
      try {
        return route.handler(req);
      } catch (const std::exception& e) {
        spdlog::error("http: handler for {} {} threw: {}", req.method, req.path, e.what());
        return Error(500, "internal", "the server could not answer this request");
      }
    }
    if (path_matched) return Error(405, "method_not_allowed", req.method + " is not allowed here");
    return Error(404, "not_found", "no such endpoint: " + req.path);
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  auto& s = impl_->server;
  int threads = std::max(1, options.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second
  // process bind the same port and silently share its traffic instead of failing.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  // Headers and body go out in two writes: without TCP_NODELAY, Nagle holds the second
  // until the client's delayed ACK (~40 ms per request). httplib's keep-alive limit of 5
  // requests per connection stays: a kept-alive connection holds a worker thread, so with
  // more clients than threads a longer limit starves the waiting connections.
  s.set_tcp_nodelay(true);
  s.set_payload_max_length(options.max_body_bytes);
  s.set_read_timeout(options.read_timeout_ms / 1000, (options.read_timeout_ms % 1000) * 1000);
  s.set_write_timeout(options.write_timeout_ms / 1000, (options.write_timeout_ms % 1000) * 1000);
  auto serve = [impl = impl_.get()](const httplib::Request& in, httplib::Response& out) {
    impl->Serve(in, out);
  };
  // One catch-all per method: routing (and its 404/405 answers) is ours, not httplib's.
  s.Get(".*", serve);
  s.Post(".*", serve);
  s.Put(".*", serve);
  s.Delete(".*", serve);
  s.Patch(".*", serve);
  s.set_error_handler([](const httplib::Request&, httplib::Response& out) {
    if (out.status == 413) {
      Response r = Error(413, "payload_too_large", "the request body is too large");
      out.set_content(r.body, r.content_type);
    }
  });
}

Server::~Server() { Stop(); }

void Server::Handle(std::string method, std::string path_regex, Handler handler) {
  impl_->routes.push_back(
      {std::move(method), std::regex(path_regex, std::regex::ECMAScript), std::move(handler)});
}

Result<int> Server::Start(std::string_view address) {
  auto addr = ParseAddress(address);
  if (!addr)
    return Result<int>::Failure("bad address '" + std::string(address) + "' (want host:port)");
  if (impl_->running.exchange(true)) return Result<int>::Failure("server already started");
  int port = addr->port;
  if (port == 0) {
    port = impl_->server.bind_to_any_port(addr->host);
  } else if (!impl_->server.bind_to_port(addr->host, port)) {
    port = -1;
  }
  if (port < 0) {
    impl_->running = false;
    return Result<int>::Failure("cannot listen on " + std::string(address) +
                                " (in use or not a local address)");
  }
  impl_->thread = std::thread([impl = impl_.get()] { impl->server.listen_after_bind(); });
  // httplib's stop() does nothing before its accept loop runs; wait for the loop, so that a
  // Stop() right after Start() cannot leave the thread listening forever.
  while (!impl_->server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port;
}

void Server::Stop() {
  if (!impl_->running.exchange(false)) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Response Server::Dispatch(Request request) const { return impl_->Dispatch(std::move(request)); }

}  // namespace payorch::http
