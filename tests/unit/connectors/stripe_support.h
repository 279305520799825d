// Test support for the HTTP connectors: stripe-mock as a child process on a free loopback
// port, a scriptable fake Stripe on payorch's HTTP server (for what stripe-mock cannot
// answer: card errors, 429/5xx, processing), a black-hole port (connects, never answers)
// and a closed port (refuses), and a recorder of every HTTP call a gateway makes.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/http_client.h"
#include "http/server.h"

extern char** environ;

namespace payorch::connectors::testing {

// Where scripts/deps.sh installs stripe-mock (STRIPE_MOCK_BIN overrides).
inline std::string StripeMockPath() {
  if (const char* env = std::getenv("STRIPE_MOCK_BIN"); env != nullptr && *env != '\0') return env;
  return PAYORCH_STRIPE_MOCK_BIN;
}

// stripe-mock v0.203.0 listening on 127.0.0.1 only (HTTP and HTTPS on kernel-chosen ports),
// with -strict-version-check so a wrong Stripe-Version header is a 400.
class StripeMock {
 public:
  StripeMock() = default;
  StripeMock(const StripeMock&) = delete;
  StripeMock& operator=(const StripeMock&) = delete;
  ~StripeMock() { Stop(); }

  // Starts it and waits (at most 20 s) for its HTTP address. false + why on failure.
  bool Start(const std::string& log_path, std::string* why) {
    const std::string bin = StripeMockPath();
    if (::access(bin.c_str(), X_OK) != 0) {
      *why = "stripe-mock is not installed at " + bin + " (scripts/deps.sh installs it)";
      return false;
    }
    log_path_ = log_path;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, STDIN_FILENO);
    std::vector<std::string> argv = {bin,           "-http-addr",  "127.0.0.1:0",
                                     "-https-addr", "127.0.0.1:0", "-strict-version-check"};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, bin.c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      *why = "could not start " + bin;
      return false;
    }
    const std::string marker = "Listening for HTTP at address: ";
    for (int i = 0; i < 400; ++i) {
      std::ifstream in(log_path);
      std::stringstream text;
      text << in.rdbuf();
      const std::string s = text.str();
      if (const size_t at = s.find(marker); at != std::string::npos) {
        const size_t end = s.find('\n', at);
        if (end != std::string::npos) {
          url_ = "http://" + s.substr(at + marker.size(), end - at - marker.size());
          return true;
        }
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        *why = "stripe-mock exited: " + s;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    *why = "stripe-mock printed no HTTP address within 20 s";
    Stop();
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  const std::string& url() const { return url_; }
  std::string Log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  pid_t pid_ = -1;
  std::string url_;
  std::string log_path_;
};

// A listening socket that never accepts: connections complete (the kernel's backlog) and
// requests are sent, but no answer ever comes.
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len);
    ::listen(fd_, 64);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~BlackHole() { ::close(fd_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A loopback port nobody listens on (bound, then closed): connections are refused.
inline std::string ClosedPortUrl() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
}

// Every HTTP call a gateway made and what came back (HttpClientOptions::on_result).
class CallLog {
 public:
  struct Entry {
    HttpCall call;
    HttpResult result;
  };
  std::function<void(const HttpCall&, const HttpResult&)> Observer() {
    return [this](const HttpCall& c, const HttpResult& r) {
      std::lock_guard lock(mu_);
      entries_.push_back({c, r});
    };
  }
  std::vector<Entry> entries() const {
    std::lock_guard lock(mu_);
    return entries_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

inline std::optional<std::string> HeaderOf(const HttpCall& call, const std::string& name) {
  for (const auto& [n, v] : call.headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

// A fake Stripe on payorch's HTTP server: records every request and answers with
// `answer(request)` (default: 500).
class FakeStripe {
 public:
  using Answer = std::function<http::Response(const http::Request&)>;

  explicit FakeStripe(Answer answer) : answer_(std::move(answer)) {
    for (const char* method : {"GET", "POST"}) {
      server_.Handle(method, "/.*", [this](const http::Request& r) {
        Answer answer;
        {
          std::lock_guard lock(mu_);
          requests_.push_back(r);
          answer = answer_;
        }
        return answer(r);
      });
    }
    port_ = *server_.Start("127.0.0.1:0");
  }
  ~FakeStripe() { server_.Stop(); }

  void SetAnswer(Answer answer) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
  }
  std::vector<http::Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  mutable std::mutex mu_;
  Answer answer_;
  std::vector<http::Request> requests_;
  http::Server server_{http::ServerOptions{.threads = 4}};
  int port_ = 0;
};

inline http::Response JsonAnswer(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace payorch::connectors::testing
