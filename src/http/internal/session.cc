// One connection (Session, plain or TLS) and the Core's accept, eviction and bookkeeping:
// the bounds of docs/http.md are enforced here.
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

#include "http/internal/core.h"
#include "http/internal/text.h"

namespace payorch::http::internal {
namespace {
std::string_view SV(beast::string_view s) { return {s.data(), s.size()}; }
}  // namespace

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
        [self = Self()](beast::error_code ec, std::size_t n) { self->OnHeader(ec, n); });
  }

  // `header_bytes`: what the parser consumed for the request line and the header fields.
  void OnHeader(beast::error_code ec, std::size_t header_bytes) {
    if (ec) return OnReadError(ec);
    // Beast's header_limit only refuses a header whose unparsed rest is over the limit
    // when it is parsed (it counts from each parse call, not from the request line), so a
    // header that arrives in one read can pass it by a read's worth: measured here, whole.
    if (header_bytes > Options().max_header_bytes) return RefuseHeaderTooLarge();
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

  void RefuseHeaderTooLarge() {
    Refuse(431, "headers_too_large",
           "the request line and headers exceed " + std::to_string(Options().max_header_bytes) +
               " bytes");
  }

  void OnReadError(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (timed_out_) {
      return Refuse(408, "request_timeout",
                    "the request was not complete within " +
                        std::to_string(Options().read_timeout_ms) + " ms");
    }
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      return RefuseHeaderTooLarge();
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
    // Admitted while fewer than max_in_flight requests are unanswered; the count drops when
    // the answer reaches this connection's strand.
    if (impl_->in_flight.fetch_add(1) >= Options().max_in_flight) {
      impl_->in_flight.fetch_sub(1);
      return Overloaded();
    }
    // The Reply is made when a worker takes the request: a refused task answers nothing.
    auto task = [self = Self(), req = std::move(req)]() mutable {
      Core* core = self->impl_;
      auto route = std::make_shared<std::string>();
      Reply reply(
          [self, route](Response r) {
            asio::post(self->stream_.get_executor(), [self, route, r = std::move(r)]() mutable {
              self->impl_->in_flight.fetch_sub(1);
              self->route_ = std::move(*route);
              self->Write(std::move(r), false);
            });
          },
          [core](std::function<void()> t) { core->workers->PostAlways(std::move(t)); },
          [core](Response r) { return core->Shaped(std::move(r)); });
      core->RouteRequest(std::move(req), route.get(), reply);
    };
    if (!impl_->workers->TryPost(std::move(task))) {
      impl_->in_flight.fetch_sub(1);
      Overloaded();
    }
  }

  // 503 overloaded for a complete request the server has no room for; the connection stays.
  void Overloaded() {
    route_ = "refused";
    Write(impl_->Shaped(OverloadedResponse()), false);
  }

  // Answers a request that was not (fully) read, then closes.
  void Refuse(int status, std::string_view code, const std::string& message,
              bool retry_after = false) {
    route_ = "refused";
    if (request_id_.empty()) request_id_ = impl_->NewRequestId();
    keep_alive_ = false;
    version_ = 11;
    Response r = impl_->Shaped(Error(status, code, message));
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

bool Core::EvictIdleLocked(std::vector<std::shared_ptr<SessionBase>>* held) {
  for (auto& [id, weak] : sessions) {
    auto s = weak.lock();
    if (!s) continue;
    // `s` may be the session's last reference, and its destructor takes sessions_mu
    // (Forget): the caller drops it after unlocking.
    held->push_back(s);
    if (!s->idle_.exchange(false)) continue;
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
    std::vector<std::shared_ptr<SessionBase>> held;  // dropped after the lock (Evict...)
    std::lock_guard<std::mutex> lock(sessions_mu);
    if (open_counted >= options.max_connections && !EvictIdleLocked(&held)) {
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

}  // namespace payorch::http::internal
