// Probe primitives: counters, gauges, latency histograms and labelled values that hot code
// counts through with relaxed atomics. No locks, no allocation after construction, no
// Prometheus types: only src/metrics/prometheus.cc turns them into the exposition format.
//
//   metrics::Counter dead_letters;
//   dead_letters.Add();
//   metrics::Histogram latency;
//   latency.ObserveMicros(1'250);                       // 1.25 ms
//   metrics::LabeledValues steps({"processor", "outcome"});
//   steps.Add({"acme", "succeeded"});                   // find-or-insert, lock-free
//
// Thread safety: every method may be called from any thread. A LabeledValues holds at most
// kSlots label sets; further sets are counted under the values "other".
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace payorch::metrics {

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Latency in seconds, fixed buckets from 0.5 ms to 60 s.
class Histogram {
 public:
  static constexpr std::array<int64_t, 16> kBoundsMicros = {
      500,     1'000,   2'500,     5'000,     10'000,    25'000,     50'000,     100'000,
      250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000};

  void ObserveMicros(int64_t micros);
  void ObserveMillis(int64_t millis) { ObserveMicros(millis * 1000); }

  struct Snapshot {
    std::array<uint64_t, kBoundsMicros.size()> cumulative{};  // count <= bound
    uint64_t count = 0;
    double sum_seconds = 0;
  };
  Snapshot Read() const;
  // The upper bound (ms) of the bucket holding quantile q (0..1) of a snapshot; +inf past
  // the last bound, 0 for an empty snapshot. Coarse by design: it locates a tail.
  [[nodiscard]] static double QuantileUpperMs(const Snapshot& s, double q);

 private:
  std::array<std::atomic<uint64_t>, kBoundsMicros.size() + 1> buckets_{};  // last: +Inf
  std::atomic<uint64_t> sum_micros_{0};
};

// A family of values keyed by up to kMaxLabels label values, e.g. payments by
// (outcome, method). Values are counters (Add) or gauges (Set).
class LabeledValues {
 public:
  static constexpr size_t kMaxLabels = 4;
  static constexpr size_t kSlots = 512;
  static constexpr size_t kMaxValueBytes = 47;  // longer label values are truncated

  LabeledValues(
      std::initializer_list<const char*> label_names);  // NOLINT(google-explicit-constructor)
  ~LabeledValues();
  LabeledValues(const LabeledValues&) = delete;
  LabeledValues& operator=(const LabeledValues&) = delete;

  // `values` must have as many entries as there are label names.
  void Add(std::initializer_list<std::string_view> values, int64_t n = 1);
  void Set(std::initializer_list<std::string_view> values, int64_t v);

  const std::vector<std::string>& label_names() const { return names_; }

  struct Row {
    std::vector<std::string> values;
    int64_t value = 0;
  };
  // Every label set seen so far (a scrape; allocates).
  std::vector<Row> Read() const;

 private:
  struct Slot;
  friend class LabeledHistograms;  // keys its series by a LabeledValues' slots
  std::atomic<int64_t>& Find(std::initializer_list<std::string_view> values);

  std::vector<std::string> names_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<int64_t> overflow_{0};
};

// Histograms keyed by label values, e.g. HTTP latency by (server, route). At most
// kMaxSeries label sets get a histogram of their own; observations of any later one go
// to one series whose labels all read "other". Observing takes no lock.
class LabeledHistograms {
 public:
  static constexpr size_t kMaxSeries = 128;

  LabeledHistograms(
      std::initializer_list<const char*> label_names);  // NOLINT(google-explicit-constructor)

  // `values` must have as many entries as there are label names.
  void ObserveMicros(std::initializer_list<std::string_view> values, int64_t micros);

  const std::vector<std::string>& label_names() const { return index_.label_names(); }

  struct Row {
    std::vector<std::string> values;
    Histogram::Snapshot snapshot;
  };
  // Every series observed so far (a scrape; allocates).
  std::vector<Row> Read() const;

 private:
  LabeledValues index_;  // label values -> 1 + the index of their series (0: not yet)
  std::atomic<int64_t> next_{0};
  std::unique_ptr<Histogram[]> series_;  // kMaxSeries, then the "other" series
};

}  // namespace payorch::metrics
