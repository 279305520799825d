// InlineString<N>: a string that keeps up to N bytes inside the object and only longer
// values on the heap. PaymentState holds operation keys, references and hashes in it, so
// folding an event into a state copies bytes instead of allocating (a payment's keys are
// "<payment_id>:s0:a1" and the like: 42 bytes for derived payment ids).
//
//   InlineString<60> key;
//   key = op.idempotency_key();           // copies; allocates only beyond 60 bytes
//   if (key == incoming) ...              // compares with anything string_view-like
//   std::string_view v = key;             // implicit view
//
// A value type: copies are deep. Not for strings that grow by appending.
#pragma once

#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <string_view>

namespace payorch::command::internal {

template <size_t N>
class InlineString {
  static_assert(N >= 8 && N < (uint32_t{1} << 31), "inline capacity out of range");

 public:
  InlineString() = default;
  InlineString(std::string_view s) { assign(s); }  // NOLINT(google-explicit-constructor)
  InlineString(const InlineString& other) { assign(other.view()); }
  InlineString(InlineString&& other) noexcept { Steal(other); }
  InlineString& operator=(const InlineString& other) {
    if (this != &other) assign(other.view());
    return *this;
  }
  InlineString& operator=(InlineString&& other) noexcept {
    if (this != &other) {
      Release();
      Steal(other);
    }
    return *this;
  }
  InlineString& operator=(std::string_view s) {
    assign(s);
    return *this;
  }
  ~InlineString() { Release(); }

  void assign(std::string_view s) {
    if (s.size() <= N) {
      // `s` may point into this object's own heap buffer: copy before releasing it.
      char* old = on_heap() ? u_.heap : nullptr;
      std::memmove(u_.inline_bytes, s.data(), s.size());
      size_ = static_cast<uint32_t>(s.size());
      delete[] old;
      return;
    }
    char* fresh = new char[s.size()];
    std::memcpy(fresh, s.data(), s.size());
    Release();
    u_.heap = fresh;
    size_ = static_cast<uint32_t>(s.size());
  }
  void clear() {
    Release();
    size_ = 0;
  }

  const char* data() const { return on_heap() ? u_.heap : u_.inline_bytes; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data(), size_}; }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  std::string str() const { return std::string(view()); }

  friend bool operator==(const InlineString& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const InlineString& a, const InlineString& b) {
    return a.view() == b.view();
  }
  friend std::ostream& operator<<(std::ostream& os, const InlineString& s) {
    return os << s.view();
  }

 private:
  bool on_heap() const { return size_ > N; }
  void Release() {
    if (on_heap()) delete[] u_.heap;
    size_ = 0;
  }
  void Steal(InlineString& other) {
    size_ = other.size_;
    if (other.on_heap()) {
      u_.heap = other.u_.heap;
    } else {
      std::memcpy(u_.inline_bytes, other.u_.inline_bytes, other.size_);
    }
    other.size_ = 0;
  }

  union {
    char inline_bytes[N];
    char* heap;
  } u_;
  uint32_t size_ = 0;
};

}  // namespace payorch::command::internal
