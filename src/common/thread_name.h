// Names the calling thread, as `top -H`, `ps -L`, perf and gdb show it. Linux keeps 15
// bytes of a name; longer names are cut there. Every long-lived payorch thread is named
// "po-<role>" (docs/observability.md, "Threads", lists them).
#pragma once

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace payorch {

inline void NameThisThread(std::string_view name) {
  char buf[16];
  const size_t n = std::min(name.size(), sizeof(buf) - 1);
  std::memcpy(buf, name.data(), n);
  buf[n] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace payorch
