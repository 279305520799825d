// ProgressBar: a one-line progress bar on a terminal; silent when the stream is piped.
//
//   ProgressBar bar(stderr);
//   bar.Update("sent", 500, 10'000);
//   bar.Done();
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

namespace payorch::cli {

class ProgressBar {
 public:
  explicit ProgressBar(FILE* out) : out_(out), tty_(::isatty(::fileno(out)) != 0) {}

  void Update(const std::string& label, int64_t done, int64_t total) {
    if (!tty_ || total <= 0) return;
    const int width = 40;
    const int filled = static_cast<int>(width * std::min(done, total) / total);
    std::fprintf(out_, "\r%-8s [%s%s] %lld/%lld", label.c_str(), std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total));
    std::fflush(out_);
    dirty_ = true;
  }

  void Done() {
    if (tty_ && dirty_) std::fputc('\n', out_);
    dirty_ = false;
  }

 private:
  FILE* out_;
  bool tty_;
  bool dirty_ = false;
};

}  // namespace payorch::cli
