// SmallVector<T, N>: a vector that keeps up to N elements inside the object and moves to
// the heap only when it grows beyond that. PaymentState's per-payment lists (plan steps,
// ledger, attempts, pending operations) hold one or two elements almost always, so a
// payment's state is built without a heap allocation per list.
//
//   SmallVector<PendingOperation, 1> pending;
//   pending.emplace_back();        // inline
//   pending.erase(pending.begin());
//
// The subset of std::vector the core uses: iteration, indexing, emplace/push_back, erase,
// assign(n, value), reserve, clear; deep copies; moves steal a heap buffer. Not for types
// whose address must survive a move of the container; emplace_back's arguments must not
// refer to the vector's own elements.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace payorch::command::internal {

template <typename T, size_t N>
class SmallVector {
  static_assert(N > 0, "use std::vector for no inline capacity");
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "over-aligned element type");

 public:
  using value_type = T;
  using size_type = size_t;
  using reference = T&;
  using const_reference = const T&;
  using iterator = T*;
  using const_iterator = const T*;

  SmallVector() = default;
  SmallVector(const SmallVector& other) { CopyFrom(other); }
  SmallVector(SmallVector&& other) noexcept { MoveFrom(other); }
  SmallVector& operator=(const SmallVector& other) {
    if (this != &other) {
      clear();
      CopyFrom(other);
    }
    return *this;
  }
  SmallVector& operator=(SmallVector&& other) noexcept {
    if (this != &other) {
      clear();
      FreeHeap();
      MoveFrom(other);
    }
    return *this;
  }
  ~SmallVector() {
    clear();
    FreeHeap();
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  iterator begin() { return data_; }
  iterator end() { return data_ + size_; }
  const_iterator begin() const { return data_; }
  const_iterator end() const { return data_ + size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T& front() { return data_[0]; }
  const T& front() const { return data_[0]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }

  void reserve(size_t n) {
    if (n > capacity_) Grow(n);
  }

  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity_) Grow(std::max<size_t>(2 * capacity_, N));
    T* slot = new (data_ + size_) T(std::forward<Args>(args)...);
    ++size_;
    return *slot;
  }
  void push_back(const T& v) { emplace_back(v); }
  void push_back(T&& v) { emplace_back(std::move(v)); }

  iterator erase(const_iterator pos) {
    T* p = data_ + (pos - data_);
    std::move(p + 1, end(), p);
    data_[size_ - 1].~T();
    --size_;
    return p;
  }

  void clear() {
    std::destroy(begin(), end());
    size_ = 0;
  }

  void assign(size_t n, const T& value) {
    clear();
    reserve(n);
    for (size_t i = 0; i < n; ++i) new (data_ + i) T(value);
    size_ = n;
  }

 private:
  T* inline_data() { return reinterpret_cast<T*>(inline_); }
  bool on_heap() const { return data_ != reinterpret_cast<const T*>(inline_); }

  void Grow(size_t n) {
    T* fresh = static_cast<T*>(::operator new(n * sizeof(T)));
    std::uninitialized_move(begin(), end(), fresh);
    std::destroy(begin(), end());
    FreeHeap();
    data_ = fresh;
    capacity_ = n;
  }
  void FreeHeap() {
    if (on_heap()) {
      ::operator delete(data_);
      data_ = inline_data();
      capacity_ = N;
    }
  }
  // Requires: empty, inline storage.
  void CopyFrom(const SmallVector& other) {
    reserve(other.size_);
    std::uninitialized_copy(other.begin(), other.end(), data_);
    size_ = other.size_;
  }
  // Requires: empty, inline storage. Leaves `other` empty.
  void MoveFrom(SmallVector& other) {
    if (other.on_heap()) {
      data_ = other.data_;
      capacity_ = other.capacity_;
      size_ = other.size_;
      other.data_ = other.inline_data();
      other.capacity_ = N;
      other.size_ = 0;
      return;
    }
    std::uninitialized_move(other.begin(), other.end(), data_);
    size_ = other.size_;
    other.clear();
  }

  T* data_ = inline_data();
  uint32_t size_ = 0;
  uint32_t capacity_ = N;
  alignas(T) unsigned char inline_[N * sizeof(T)];
};

}  // namespace payorch::command::internal
