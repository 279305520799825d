#include "http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <regex>
#include <thread>
#include <unordered_map>

#include "common/thread_name.h"
#include "http/internal/core.h"
#include "http/internal/text.h"

namespace payorch::http {

using internal::Core;
using internal::EqualsIgnoreCase;
using internal::WorkerPool;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

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

namespace {
// Loads a server's TLS 1.2+ context from PEM files. "" or a one-line error naming them.
std::string LoadTls(const std::string& cert, const std::string& key, ssl::context* tls) {
  if (cert.empty() || key.empty()) {
    return "TLS needs both a certificate and a key (--tls-cert and --tls-key)";
  }
  for (const std::string* file : {&cert, &key}) {
    if (!std::ifstream(*file))
      return "cannot read TLS " + std::string(file == &cert ? "certificate" : "key") + " '" +
             *file + "'";
  }
  try {
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use);
    tls->use_certificate_chain_file(cert);
    tls->use_private_key_file(key, ssl::context::pem);
  } catch (const std::exception& e) {
    return "cannot load TLS certificate '" + cert + "' and key '" + key + "': " + e.what();
  }
  return "";
}
}  // namespace

std::string CheckTls(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() && key_file.empty()) return "";
  ssl::context tls(ssl::context::tls_server);
  return LoadTls(cert_file, key_file, &tls);
}

std::string_view Scheme(const ServerOptions& o) {
  return o.tls_cert_file.empty() && o.tls_key_file.empty() ? "http" : "https";
}

struct Reply::State {
  SendFn send;
  PostFn post;
  ShapeFn shape;
  std::atomic<bool> sent{false};
  State(SendFn s, PostFn p, ShapeFn sh)
      : send(std::move(s)), post(std::move(p)), shape(std::move(sh)) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (sent.exchange(true)) return;
    try {
      spdlog::error("http: an async handler dropped its reply unanswered");
      Response r = Error(500, "internal", "the server could not answer this request");
      send(shape ? shape(std::move(r)) : std::move(r));
    } catch (...) {  // out of memory: a destructor must not throw, and there is no one to tell
    }
  }
};

Reply::Reply(SendFn send, PostFn post, ShapeFn shape)
    : state_(std::make_shared<State>(std::move(send), std::move(post), std::move(shape))) {}

void Reply::Send(Response response) const {
  if (state_->sent.exchange(true)) return;
  state_->send(std::move(response));
}

void Reply::Post(std::function<void()> task) const {
  if (state_->post) {
    state_->post(std::move(task));
  } else {
    task();
  }
}

Reply Reply::Wrapped(std::function<Response(Response)> wrap) const {
  return Reply(
      [inner = *this, wrap = std::move(wrap)](Response r) { inner.Send(wrap(std::move(r))); },
      [inner = *this](std::function<void()> task) { inner.Post(std::move(task)); }, state_->shape);
}

namespace internal {

namespace {
// Runs a matched route's handler; an exception answers 500 without internals.
void RunHandler(const Core& core, const Route& route, const Request& req, const Reply& reply) {
  try {
    if (route.async_handler) {
      route.async_handler(req, reply);
    } else {
      reply.Send(route.handler(req));
    }
    return;
  } catch (const std::exception& e) {
    spdlog::error("http: handler for {} {} threw: {}", req.method, req.path, e.what());
  } catch (...) {
    spdlog::error("http: handler for {} {} threw a non-exception", req.method, req.path);
  }
  // Ignored if the handler answered before it threw.
  reply.Send(core.Shaped(Error(500, "internal", "the server could not answer this request")));
}
}  // namespace

void Core::RouteRequest(Request req, std::string* route_out, const Reply& reply) const {
  bool path_matched = false;
  for (const auto& route : routes) {
    std::smatch m;
    if (!std::regex_match(req.path, m, route.pattern)) continue;
    path_matched = true;
    if (route.method != req.method) continue;
    if (route_out != nullptr) *route_out = route.pattern_text;
    req.path_params.clear();
    for (std::size_t i = 1; i < m.size(); ++i) req.path_params.push_back(m[i].str());
    if (!route.blocking || !blocking_workers) return RunHandler(*this, route, req, reply);
    // A route that waits: on its own pool, so it can hold none of the workers.
    if (!blocking_workers->TryPost([this, &route, req = std::move(req), reply] {
          RunHandler(*this, route, req, reply);
        })) {
      reply.Send(Shaped(OverloadedResponse()));
    }
    return;
  }
  if (route_out != nullptr) *route_out = "unmatched";
  if (path_matched)
    return reply.Send(
        Shaped(Error(405, "method_not_allowed", req.method + " is not allowed here")));
  reply.Send(Shaped(Error(404, "not_found", "no such endpoint: " + req.path)));
}

Response Core::Dispatch(Request req, std::string* route_out) const {
  auto answer = std::make_shared<std::promise<Response>>();
  std::future<Response> done = answer->get_future();
  RouteRequest(std::move(req), route_out,
               Reply([answer](Response r) { answer->set_value(std::move(r)); }, nullptr,
                     [this](Response r) { return Shaped(std::move(r)); }));
  return done.get();
}

}  // namespace internal

struct Server::Impl {
  Core core;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->core.options = std::move(options);
  impl_->core.logger =
      impl_->core.options.logger ? impl_->core.options.logger : spdlog::default_logger();
}

Server::~Server() { Stop(); }

void Server::Handle(std::string method, std::string path_regex, Handler handler) {
  auto& routes = impl_->core.routes;
  std::regex pattern(path_regex, std::regex::ECMAScript);
  routes.push_back(
      {std::move(method), std::move(path_regex), std::move(pattern), std::move(handler), nullptr});
}

void Server::HandleAsync(std::string method, std::string path_regex, AsyncHandler handler) {
  auto& routes = impl_->core.routes;
  std::regex pattern(path_regex, std::regex::ECMAScript);
  routes.push_back(
      {std::move(method), std::move(path_regex), std::move(pattern), nullptr, std::move(handler)});
}

void Server::HandleBlocking(std::string method, std::string path_regex, Handler handler) {
  Handle(std::move(method), std::move(path_regex), std::move(handler));
  impl_->core.routes.back().blocking = true;
}

Result<int> Server::Start(std::string_view address) {
  Core& c = impl_->core;
  auto addr = ParseAddress(address);
  if (!addr)
    return Result<int>::Failure("bad address '" + std::string(address) + "' (want host:port)");
  if (c.running.exchange(true)) return Result<int>::Failure("server already started");
  auto fail = [&c](const std::string& message) {
    beast::error_code ec;
    c.acceptor.close(ec);
    c.tls.reset();
    c.running = false;
    return Result<int>::Failure(message);
  };
  if (!c.options.tls_cert_file.empty() || !c.options.tls_key_file.empty()) {
    c.tls.emplace(ssl::context::tls_server);
    if (std::string err = LoadTls(c.options.tls_cert_file, c.options.tls_key_file, &*c.tls);
        !err.empty()) {
      return fail(err);
    }
  }
  beast::error_code ec;
  auto ip = asio::ip::make_address(addr->host == "localhost" ? "127.0.0.1" : addr->host, ec);
  if (ec) return fail("cannot listen on " + std::string(address) + " (not an IP address)");
  const tcp::endpoint endpoint(ip, static_cast<unsigned short>(addr->port));
  c.acceptor.open(endpoint.protocol(), ec);
  // SO_REUSEADDR only, never SO_REUSEPORT: a second process binding the same port must fail
  // instead of silently sharing its traffic.
  if (!ec) c.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) c.acceptor.bind(endpoint, ec);
  if (!ec) c.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail("cannot listen on " + std::string(address) +
                " (in use or not a local address: " + ec.message() + ")");
  }
  const int port = c.acceptor.local_endpoint().port();
  c.stopping = false;
  c.workers = std::make_unique<WorkerPool>(c.options.threads, c.options.max_queued, c.options.name);
  if (c.options.blocking_threads > 0) {
    c.blocking_workers = std::make_unique<WorkerPool>(
        c.options.blocking_threads, c.options.max_blocking_queued, "bk-" + c.options.name);
  }
  c.work.emplace(asio::make_work_guard(c.io));
  asio::post(c.acceptor.get_executor(), [&c] { c.DoAccept(); });
  for (int i = 0; i < std::max(1, c.options.io_threads); ++i) {
    c.io_threads.emplace_back([&c] {
      NameThisThread("po-io-" + c.options.name);
      for (;;) {
        try {
          c.io.run();
          return;
        } catch (const std::exception& e) {  // a bug in a completion handler: keep serving
          c.logger->error("http {}: I/O thread caught: {}", c.options.name, e.what());
        }
      }
    });
  }
  return port;
}

void Server::Stop() {
  Core& c = impl_->core;
  if (!c.running.exchange(false)) return;
  c.stopping = true;
  asio::post(c.acceptor.get_executor(), [&c] {
    beast::error_code ec;
    c.acceptor.close(ec);
    c.accept_retry.cancel();
  });
  // Close every connection that is not answering a request; those that are close once
  // their answer is written (stopping turns keep-alive off). The references are taken
  // under sessions_mu and dropped after it: a session's last reference may be one of them,
  // and its destructor takes sessions_mu (Core::Forget).
  std::vector<std::shared_ptr<internal::SessionBase>> open;
  {
    std::lock_guard<std::mutex> lock(c.sessions_mu);
    for (auto& [id, weak] : c.sessions) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
  }
  for (const auto& s : open) asio::post(s->executor(), [s] { s->CloseUnlessBusy(); });
  open.clear();
  {
    std::unique_lock<std::mutex> lock(c.sessions_mu);
    c.sessions_cv.wait(lock, [&c] { return c.sessions.empty(); });
  }
  c.workers->Stop();
  if (c.blocking_workers) c.blocking_workers->Stop();
  c.work.reset();
  c.io.stop();
  for (auto& t : c.io_threads) {
    if (t.joinable()) t.join();
  }
  c.io_threads.clear();
  c.io.restart();
}

void Server::After(std::chrono::milliseconds delay, std::function<void()> task) {
  Core& c = impl_->core;
  if (!c.running.load()) return task();  // no I/O threads, no timer: at once
  auto timer = std::make_shared<asio::steady_timer>(c.io, delay);
  timer->async_wait([timer, task = std::move(task)](beast::error_code) { task(); });
}

Response Server::Dispatch(Request request) const {
  return impl_->core.Dispatch(std::move(request), nullptr);
}

}  // namespace payorch::http
