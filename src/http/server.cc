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
#include <mutex>
#include <random>
#include <regex>
#include <thread>
#include <unordered_map>

namespace payorch::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view SV(beast::string_view s) { return {s.data(), s.size()}; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes (and '+' as a space in query text); a malformed escape is kept as is.
std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

void ParseQuery(std::string_view text, std::multimap<std::string, std::string>* out) {
  while (!text.empty()) {
    const auto amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
      out->emplace(PercentDecode(pair, true), "");
    } else {
      out->emplace(PercentDecode(pair.substr(0, eq), true),
                   PercentDecode(pair.substr(eq + 1), true));
    }
  }
}

// A client's request id is echoed when it is 1..64 characters of [A-Za-z0-9._:-].
bool SaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

struct Route {
  std::string method;
  std::string pattern_text;
  std::regex pattern;
  Handler handler;
};

// Handlers run here: `threads` workers and a queue of at most `max_queued` tasks. Post
// refuses (returns false) when the queue is full instead of growing it.
class WorkerPool {
 public:
  WorkerPool(int threads, std::size_t max_queued) : max_queued_(max_queued) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
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

  std::unique_ptr<WorkerPool> workers;
  std::optional<ssl::context> tls;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{asio::make_strand(io)};
  asio::steady_timer accept_retry{acceptor.get_executor()};
  std::vector<std::thread> io_threads;

  Response Dispatch(Request req, std::string* route_out) const {
    bool path_matched = false;
    for (const auto& route : routes) {
      std::smatch m;
      if (!std::regex_match(req.path, m, route.pattern)) continue;
      path_matched = true;
      if (route.method != req.method) continue;
      if (route_out != nullptr) *route_out = route.pattern_text;
      req.path_params.clear();
      for (std::size_t i = 1; i < m.size(); ++i) req.path_params.push_back(m[i].str());
      try {
        return route.handler(req);
      } catch (const std::exception& e) {
        spdlog::error("http: handler for {} {} threw: {}", req.method, req.path, e.what());
      } catch (...) {
        spdlog::error("http: handler for {} {} threw a non-exception", req.method, req.path);
      }
      return Error(500, "internal", "the server could not answer this request");
    }
    if (route_out != nullptr) *route_out = "unmatched";
    if (path_matched) return Error(405, "method_not_allowed", req.method + " is not allowed here");
    return Error(404, "not_found", "no such endpoint: " + req.path);
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
  bool EvictIdleLocked();
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

template <typename Stream>
class Session final : public SessionBase {
 public:
  template <typename... Args>
  Session(Core* impl, uint64_t id, bool counted, bool refuse, std::string remote,
          Args&&... stream_args)
      : impl_(impl),
        id_(id),
        counted_(counted),
        refuse_(refuse),
        remote_(std::move(remote)),
        stream_(std::forward<Args>(stream_args)...),
        timer_(stream_.get_executor()),
        buffer_(impl->options.max_header_bytes + kReadChunk) {}

  ~Session() override { impl_->Forget(id_, counted_); }

  void Start() override {
    if (refuse_) {
      StartedNow();
      return Refuse(503, "too_many_connections",
                    "the server has too many open connections; retry later", true);
    }
    if constexpr (kTls) {
      phase_ = Phase::kHandshake;
      ArmTimer(impl_->options.read_timeout_ms);
      stream_.async_handshake(ssl::stream_base::server, [self = Self()](beast::error_code ec) {
        if (ec) return self->Close();
        self->ReadNext();
      });
    } else {
      ReadNext();
    }
  }

  asio::any_io_executor executor() override { return stream_.get_executor(); }

  void CloseUnlessBusy() override {
    if (phase_ == Phase::kHandling || phase_ == Phase::kWriting || phase_ == Phase::kClosed) {
      return;
    }
    Close();
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;
  static constexpr std::size_t kReadChunk = 8192;
  static constexpr std::size_t kLingerBytes = 1 << 20;
  static constexpr int kLingerMs = 1000;

  enum class Phase { kHandshake, kIdle, kHeader, kBody, kHandling, kWriting, kLinger, kClosed };

  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  tcp::socket& Socket() { return beast::get_lowest_layer(stream_); }
  const ServerOptions& Options() const { return impl_->options; }

  void ArmTimer(int ms) {
    const uint64_t gen = ++timer_gen_;
    timer_.expires_after(std::chrono::milliseconds(std::max(1, ms)));
    timer_.async_wait([self = Self(), gen](beast::error_code ec) {
      if (ec || gen != self->timer_gen_) return;
      self->OnTimeout();
    });
  }

  void OnTimeout() {
    switch (phase_) {
      case Phase::kHeader:
      case Phase::kBody: {
        // Cancel the read; its handler answers 408.
        timed_out_ = true;
        beast::error_code ec;
        Socket().cancel(ec);
        return;
      }
      case Phase::kHandling:
        return;
      default:
        Close();
    }
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    idle_ = false;
    ++timer_gen_;
    timer_.cancel();
    beast::error_code ec;
    Socket().shutdown(tcp::socket::shutdown_both, ec);
    Socket().close(ec);
  }

  void StartedNow() {
    started_ = Clock::now();
    request_id_.clear();
    method_.clear();
    path_.clear();
    request_bytes_ = 0;
  }

  void ReadNext() {
    if (impl_->stopping.load() || phase_ == Phase::kClosed) return Close();
    parser_.emplace();
    parser_->header_limit(
        static_cast<uint32_t>(std::min<std::size_t>(Options().max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<uint64_t>(Options().max_body_bytes));
    timed_out_ = false;
    if (buffer_.size() > 0) return OnFirstBytes();
    phase_ = Phase::kIdle;
    idle_ = true;
    ArmTimer(Options().idle_timeout_ms);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = Self()](beast::error_code ec, std::size_t n) {
                              self->buffer_.commit(n);
                              if (ec || n == 0 || self->phase_ != Phase::kIdle) {
                                return self->Close();
                              }
                              self->OnFirstBytes();
                            });
  }

  void OnFirstBytes() {
    idle_ = false;
    StartedNow();
    phase_ = Phase::kHeader;
    ArmTimer(Options().read_timeout_ms);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = Self()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto& h = parser_->get();
    method_ = std::string(h.method_string());
    path_ = std::string(h.target().substr(0, h.target().find('?')));
    const auto count = static_cast<std::size_t>(std::distance(h.begin(), h.end()));
    if (count > Options().max_header_count) {
      return Refuse(431, "too_many_headers",
                    "more than " + std::to_string(Options().max_header_count) + " header fields");
    }
    if (auto it = h.find(bhttp::field::content_encoding);
        it != h.end() && !EqualsIgnoreCase(Trim(SV(it->value())), "identity")) {
      return Refuse(415, "unsupported_encoding",
                    "request bodies must not be compressed (Content-Encoding: identity only)");
    }
    if (auto it = h.find(bhttp::field::transfer_encoding);
        it != h.end() && !EqualsIgnoreCase(Trim(SV(it->value())), "chunked")) {
      return Refuse(415, "unsupported_encoding",
                    "the only Transfer-Encoding accepted on a request is chunked");
    }
    if (parser_->is_done()) return Handle();
    phase_ = Phase::kBody;
    if (auto it = h.find(bhttp::field::expect);
        it != h.end() && EqualsIgnoreCase(Trim(SV(it->value())), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = Self()](beast::error_code wec, std::size_t) {
                          if (wec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = Self()](beast::error_code ec, std::size_t) {
                        if (ec) return self->OnReadError(ec);
                        self->Handle();
                      });
  }

  void OnReadError(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (timed_out_) {
      return Refuse(408, "request_timeout",
                    "the request was not complete within " +
                        std::to_string(Options().read_timeout_ms) + " ms");
    }
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      return Refuse(431, "headers_too_large",
                    "the request line and headers exceed " +
                        std::to_string(Options().max_header_bytes) + " bytes");
    }
    if (ec == bhttp::error::body_limit) {
      return Refuse(
          413, "payload_too_large",
          "the request body exceeds " + std::to_string(Options().max_body_bytes) + " bytes");
    }
    if (ec.category() ==
            bhttp::make_error_code(bhttp::error::end_of_stream).category() &&  // a parse error
        ec != bhttp::error::end_of_stream &&
        ec != bhttp::error::partial_message) {
      return Refuse(400, "bad_request", "the request is not valid HTTP/1.1");
    }
    Close();  // the peer went away
  }

  // A complete request: to a worker, or 503 at once when the workers' queue is full.
  void Handle() {
    phase_ = Phase::kHandling;
    ++timer_gen_;
    timer_.cancel();
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    Request req;
    req.method = std::string(msg.method_string());
    const std::string_view target = SV(msg.target());
    const auto q = target.find('?');
    req.path = PercentDecode(target.substr(0, q), false);
    if (q != std::string_view::npos) ParseQuery(target.substr(q + 1), &req.query);
    for (const auto& f : msg)
      req.headers.emplace(std::string(f.name_string()), std::string(f.value()));
    req.body = std::move(msg.body());
    req.remote_addr = remote_;
    if (auto rid = req.Header("Request-Id"); rid && SaneRequestId(*rid)) {
      req.request_id = *rid;
    } else if (auto xrid = req.Header("X-Request-Id"); xrid && SaneRequestId(*xrid)) {
      req.request_id = *xrid;
    } else {
      req.request_id = impl_->NewRequestId();
    }
    request_id_ = req.request_id;
    path_ = req.path;
    request_bytes_ = req.body.size();
    auto task = [self = Self(), req = std::move(req)]() mutable {
      auto route = std::make_shared<std::string>();
      auto resp = std::make_shared<Response>(self->impl_->Dispatch(std::move(req), route.get()));
      asio::post(self->stream_.get_executor(), [self, resp, route] {
        self->route_ = std::move(*route);
        self->Write(std::move(*resp), false);
      });
    };
    if (!impl_->workers->TryPost(std::move(task))) {
      route_ = "refused";
      Response r = Error(503, "overloaded", "the server is busy; retry later");
      r.headers.emplace_back("Retry-After", "1");
      Write(std::move(r), false);
    }
  }

  // Answers a request that was not (fully) read, then closes.
  void Refuse(int status, std::string_view code, const std::string& message,
              bool retry_after = false) {
    route_ = "refused";
    if (request_id_.empty()) request_id_ = impl_->NewRequestId();
    keep_alive_ = false;
    version_ = 11;
    Response r = Error(status, code, message);
    if (retry_after) r.headers.emplace_back("Retry-After", "1");
    Write(std::move(r), true);
  }

  void Write(Response r, bool linger) {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kWriting;
    res_ = {};
    res_.version(version_);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(bhttp::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res_.insert(k, v);
    res_.set("Request-Id", request_id_);
    res_.body() = std::move(r.body);
    res_.keep_alive(keep_alive_ && !linger && !impl_->stopping.load());
    res_.prepare_payload();
    status_ = r.status;
    ArmTimer(Options().write_timeout_ms);
    bhttp::async_write(stream_, res_, [self = Self(), linger](beast::error_code ec, std::size_t) {
      self->OnWritten(ec, linger);
    });
  }

  void OnWritten(beast::error_code ec, bool linger) {
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
    RequestRecord rec;
    rec.server = Options().name;
    rec.method = method_;
    rec.path = path_;
    rec.route = route_;
    rec.status = status_;
    rec.request_bytes = request_bytes_;
    rec.response_bytes = res_.body().size();
    rec.duration = elapsed;
    rec.request_id = request_id_;
    impl_->Record(rec);
    if (ec) return Close();
    if (linger) return Linger();
    if (!res_.keep_alive()) return Close();
    route_.clear();
    ReadNext();
  }

  // After answering a request that was not fully read: stop sending, read and drop what
  // the client is still sending (at most kLingerBytes for kLingerMs), then close, so the
  // client reads the answer instead of a reset.
  void Linger() {
    beast::error_code ec;
    Socket().shutdown(tcp::socket::shutdown_send, ec);
    phase_ = Phase::kLinger;
    lingered_ = 0;
    ArmTimer(std::min(kLingerMs, Options().read_timeout_ms));
    Drain();
  }

  void Drain() {
    Socket().async_read_some(
        asio::buffer(drain_), [self = Self()](beast::error_code ec, std::size_t n) {
          self->lingered_ += n;
          if (ec || self->phase_ != Phase::kLinger || self->lingered_ >= kLingerBytes) {
            return self->Close();
          }
          self->Drain();
        });
  }

  Core* impl_;
  const uint64_t id_;
  const bool counted_;
  const bool refuse_;
  const std::string remote_;
  Stream stream_;
  asio::steady_timer timer_;
  uint64_t timer_gen_ = 0;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  Phase phase_ = Phase::kIdle;
  bool timed_out_ = false;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  Clock::time_point started_ = Clock::now();
  std::string request_id_;
  std::string method_;
  std::string path_;
  std::string route_;
  int status_ = 0;
  std::size_t request_bytes_ = 0;
  std::size_t lingered_ = 0;
  std::array<char, 4096> drain_{};
};

void Core::DoAccept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      OnAccepted(std::move(socket));
      return DoAccept();
    }
    // Out of file descriptors or a transient error: log and retry shortly, never spin.
    logger->warn("http {}: accept failed: {}", options.name, ec.message());
    accept_retry.expires_after(std::chrono::milliseconds(50));
    accept_retry.async_wait([this](beast::error_code wec) {
      if (!wec && acceptor.is_open()) DoAccept();
    });
  });
}

bool Core::EvictIdleLocked() {
  for (auto& [id, weak] : sessions) {
    auto s = weak.lock();
    if (!s || !s->idle_.exchange(false)) continue;
    // Closed on its own strand; until then the count is one over the limit.
    asio::post(s->executor(), [s] { s->CloseUnlessBusy(); });
    return true;
  }
  return false;
}

void Core::OnAccepted(tcp::socket socket) {
  beast::error_code ec;
  if (stopping.load()) {
    socket.close(ec);
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  auto remote = socket.remote_endpoint(ec);
  std::string remote_addr = ec ? "" : remote.address().to_string();
  uint64_t id = 0;
  bool counted = true;
  bool refuse = false;
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    if (open_counted >= options.max_connections && !EvictIdleLocked()) {
      counted = false;
      refuse = true;
      // The refusals themselves are bounded: past 64 at once, close without an answer.
      if (refusing >= 64) {
        socket.close(ec);
        return;
      }
    }
    id = ++next_session;
    if (counted) {
      ++open_counted;
    } else {
      ++refusing;
    }
  }
  std::shared_ptr<SessionBase> session;
  if (tls) {
    session = std::make_shared<Session<ssl::stream<tcp::socket>>>(
        this, id, counted, refuse, std::move(remote_addr), std::move(socket), *tls);
  } else {
    session = std::make_shared<Session<tcp::socket>>(this, id, counted, refuse,
                                                     std::move(remote_addr), std::move(socket));
  }
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    sessions.emplace(id, session);
  }
  // Start on the session's own strand.
  asio::dispatch(session->executor(), [session] { session->Start(); });
}

void Core::Forget(uint64_t id, bool was_counted) {
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    sessions.erase(id);
    if (was_counted) {
      --open_counted;
    } else {
      --refusing;
    }
  }
  sessions_cv.notify_all();
}

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
      {std::move(method), std::move(path_regex), std::move(pattern), std::move(handler)});
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
    try {
      c.tls.emplace(ssl::context::tls_server);
      c.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
      c.tls->use_certificate_chain_file(c.options.tls_cert_file);
      c.tls->use_private_key_file(c.options.tls_key_file, ssl::context::pem);
    } catch (const std::exception& e) {
      return fail("cannot load TLS certificate '" + c.options.tls_cert_file + "' and key '" +
                  c.options.tls_key_file + "': " + e.what());
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
  c.workers = std::make_unique<WorkerPool>(c.options.threads, c.options.max_queued);
  c.work.emplace(asio::make_work_guard(c.io));
  asio::post(c.acceptor.get_executor(), [&c] { c.DoAccept(); });
  for (int i = 0; i < std::max(1, c.options.io_threads); ++i) {
    c.io_threads.emplace_back([&c] {
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
  // their answer is written (stopping turns keep-alive off).
  {
    std::unique_lock<std::mutex> lock(c.sessions_mu);
    for (auto& [id, weak] : c.sessions) {
      if (auto s = weak.lock()) asio::post(s->executor(), [s] { s->CloseUnlessBusy(); });
    }
    c.sessions_cv.wait(lock, [&c] { return c.sessions.empty(); });
  }
  c.workers->Stop();
  c.work.reset();
  c.io.stop();
  for (auto& t : c.io_threads) {
    if (t.joinable()) t.join();
  }
  c.io_threads.clear();
  c.io.restart();
}

Response Server::Dispatch(Request request) const {
  return impl_->core.Dispatch(std::move(request), nullptr);
}

}  // namespace payorch::http
