// The HTTP server's shared state (Core), its worker pool and the connection interface:
// internal to src/http. server.cc owns the public API, session.cc the connections.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/thread_name.h"
#include "http/server.h"

namespace payorch::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Route {
  std::string method;
  std::string pattern_text;
  std::regex pattern;
  Handler handler;  // one of the two
  AsyncHandler async_handler;
  bool blocking = false;  // HandleBlocking: runs on blocking_workers when there are any
};

// Handlers run here: `threads` workers and a queue of at most `max_queued` tasks. Post
// refuses (returns false) when the queue is full instead of growing it.
class WorkerPool {
 public:
  // `name` names the threads ("po-wk-<name>").
  WorkerPool(int threads, std::size_t max_queued, const std::string& name = "http")
      : max_queued_(max_queued) {
    for (int i = 0; i < std::max(1, threads); ++i) {
      threads_.emplace_back([this, name] {
        NameThisThread("po-wk-" + name);
        Run();
      });
    }
  }
  ~WorkerPool() { Stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  [[nodiscard]] bool TryPost(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || queue_.size() >= max_queued_) return false;
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }

  // For the continuation of a request already admitted (an async handler's Reply::Post):
  // never refused, so bounded by the requests in flight, not by max_queued. Once the pool
  // is stopping it runs `task` on the caller.
  void PostAlways(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_) {
        queue_.push_back(std::move(task));
        task = nullptr;
      }
    }
    if (task) {
      task();
      return;
    }
    cv_.notify_one();
  }

  // Runs what is queued, then joins.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  const std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// The answer of every "no room now" bound (worker queue, requests in flight, blocking
// queue): 503 overloaded with Retry-After: 1.
inline Response OverloadedResponse() {
  Response r = Error(503, "overloaded", "the server is busy; retry later");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

class SessionBase;

// Everything a running server shares with its connections.

struct Core {
  ServerOptions options;
  std::vector<Route> routes;
  std::shared_ptr<spdlog::logger> logger;
  std::atomic<bool> running{false};
  std::atomic<bool> stopping{false};

  // Open connections. Declared before io so that handlers destroyed with io (holding the
  // last references to sessions) still find them.
  std::mutex sessions_mu;
  std::condition_variable sessions_cv;
  std::unordered_map<uint64_t, std::weak_ptr<SessionBase>> sessions;
  uint64_t next_session = 0;
  std::size_t open_counted = 0;  // sessions within max_connections (not refusals)
  std::size_t refusing = 0;      // connections being answered 503 too_many_connections

  const uint64_t id_prefix = std::random_device{}();
  std::atomic<uint64_t> id_counter{0};
  std::atomic<std::size_t> in_flight{0};  // requests read and not yet answered

  std::unique_ptr<WorkerPool> workers;
  std::unique_ptr<WorkerPool> blocking_workers;  // HandleBlocking routes (blocking_threads)
  std::optional<ssl::context> tls;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{asio::make_strand(io)};
  asio::steady_timer accept_retry{acceptor.get_executor()};
  std::vector<std::thread> io_threads;

  // Routes one request: its answer goes to `reply` (at once for a plain handler). Sets
  // *route_out (if given) to the matched route before any handler runs.
  void RouteRequest(Request req, std::string* route_out, const Reply& reply) const;
  // RouteRequest(), waiting for the answer (tests and fuzzers; Post runs on the replying thread).
  Response Dispatch(Request req, std::string* route_out) const;

  // An error the server answers itself, in the port's shape (ServerOptions::shape_error).
  Response Shaped(Response r) const {
    return options.shape_error ? options.shape_error(std::move(r)) : r;
  }

  std::string NewRequestId() {
    const uint64_t n = id_counter.fetch_add(1, std::memory_order_relaxed);
    return fmt::format("{:08x}{:08x}", static_cast<uint32_t>(id_prefix), static_cast<uint32_t>(n));
  }

  void Record(const RequestRecord& r) const {
    const double ms = static_cast<double>(r.duration.count()) / 1000.0;
    const std::string_view path = r.path.substr(0, 200);
    logger->log(options.access_log_info ? spdlog::level::info : spdlog::level::debug,
                "http {} {} {} {} {}B {:.2f}ms rid={}", r.server, r.method.empty() ? "-" : r.method,
                path.empty() ? "-" : path, r.status, r.response_bytes, ms, r.request_id);
    if (options.on_request) options.on_request(r);
  }

  void DoAccept();
  void OnAccepted(tcp::socket socket);
  // sessions_mu held. Every session reference it takes goes into *held, which the caller
  // drops after unlocking (a last reference's destructor takes sessions_mu).
  bool EvictIdleLocked(std::vector<std::shared_ptr<SessionBase>>* held);
  void Forget(uint64_t id, bool was_counted);
};

// One connection. Every member is touched on the connection's strand only, except
// `idle_` (read by eviction) and the ids.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  virtual void Start() = 0;
  // Posted by eviction and by Stop: close unless a request is being answered.
  virtual void CloseUnlessBusy() = 0;
  virtual asio::any_io_executor executor() = 0;
  std::atomic<bool> idle_{false};
};

}  // namespace payorch::http::internal
