#include "metrics/probes.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <thread>

namespace payorch::metrics {

void Histogram::ObserveMicros(int64_t micros) {
  if (micros < 0) micros = 0;
  size_t i = 0;
  while (i < kBoundsMicros.size() && micros > kBoundsMicros[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(micros), std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  uint64_t running = 0;
  for (size_t i = 0; i < kBoundsMicros.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running + buckets_[kBoundsMicros.size()].load(std::memory_order_relaxed);
  s.sum_seconds = static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
  return s;
}

double Histogram::QuantileUpperMs(const Snapshot& s, double q) {
  if (s.count == 0) return 0;
  const double rank = q * static_cast<double>(s.count);
  for (size_t i = 0; i < kBoundsMicros.size(); ++i) {
    if (static_cast<double>(s.cumulative[i]) >= rank) {
      return static_cast<double>(kBoundsMicros[i]) / 1000.0;
    }
  }
  return std::numeric_limits<double>::infinity();
}

// state: 0 empty, 1 being written by the thread that claimed it, 2 ready (values immutable).
struct LabeledValues::Slot {
  std::atomic<int> state{0};
  uint64_t hash = 0;
  std::array<std::array<char, kMaxValueBytes>, kMaxLabels> values{};
  std::array<uint8_t, kMaxLabels> lengths{};
  std::atomic<int64_t> value{0};
};

namespace {

std::string_view Truncated(std::string_view v) {
  return v.substr(0, std::min(v.size(), LabeledValues::kMaxValueBytes));
}

uint64_t HashOf(std::initializer_list<std::string_view> values) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (std::string_view v : values) {
    for (char c : Truncated(v)) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

LabeledValues::LabeledValues(std::initializer_list<const char*> label_names)
    : names_(label_names.begin(), label_names.end()), slots_(new Slot[kSlots]) {}

LabeledValues::~LabeledValues() = default;

std::atomic<int64_t>& LabeledValues::Find(std::initializer_list<std::string_view> values) {
  const uint64_t h = HashOf(values);
  auto same = [&](const Slot& s) {
    if (s.hash != h) return false;
    size_t i = 0;
    for (std::string_view v : values) {
      std::string_view t = Truncated(v);
      if (std::string_view(s.values[i].data(), s.lengths[i]) != t) return false;
      ++i;
    }
    return true;
  };
  for (size_t probe = 0; probe < kSlots; ++probe) {
    Slot& s = slots_[(h + probe) % kSlots];
    int st = s.state.load(std::memory_order_acquire);
    if (st == 0) {
      int expected = 0;
      if (s.state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        s.hash = h;
        size_t i = 0;
        for (std::string_view v : values) {
          if (i >= kMaxLabels) break;
          std::string_view t = Truncated(v);
          std::memcpy(s.values[i].data(), t.data(), t.size());
          s.lengths[i] = static_cast<uint8_t>(t.size());
          ++i;
        }
        s.state.store(2, std::memory_order_release);
        return s.value;
      }
      st = expected;
    }
    while (st == 1) {  // another thread is writing this slot's labels: a few instructions
      std::this_thread::yield();
      st = s.state.load(std::memory_order_acquire);
    }
    if (same(s)) return s.value;
  }
  return overflow_;
}

void LabeledValues::Add(std::initializer_list<std::string_view> values, int64_t n) {
  Find(values).fetch_add(n, std::memory_order_relaxed);
}

void LabeledValues::Set(std::initializer_list<std::string_view> values, int64_t v) {
  Find(values).store(v, std::memory_order_relaxed);
}

std::vector<LabeledValues::Row> LabeledValues::Read() const {
  std::vector<Row> rows;
  for (size_t i = 0; i < kSlots; ++i) {
    const Slot& s = slots_[i];
    if (s.state.load(std::memory_order_acquire) != 2) continue;
    Row row;
    for (size_t l = 0; l < names_.size() && l < kMaxLabels; ++l) {
      row.values.emplace_back(s.values[l].data(), s.lengths[l]);
    }
    row.value = s.value.load(std::memory_order_relaxed);
    rows.push_back(std::move(row));
  }
  if (int64_t o = overflow_.load(std::memory_order_relaxed); o != 0) {
    rows.push_back(Row{std::vector<std::string>(names_.size(), "other"), o});
  }
  return rows;
}

LabeledHistograms::LabeledHistograms(std::initializer_list<const char*> label_names)
    : index_(label_names), series_(new Histogram[kMaxSeries + 1]) {}

void LabeledHistograms::ObserveMicros(std::initializer_list<std::string_view> values,
                                      int64_t micros) {
  constexpr auto kOther = static_cast<int64_t>(kMaxSeries + 1);
  std::atomic<int64_t>& slot = index_.Find(values);
  int64_t id = slot.load(std::memory_order_acquire);
  if (id == 0) {
    const int64_t mine = next_.fetch_add(1, std::memory_order_relaxed);
    const int64_t want = mine < static_cast<int64_t>(kMaxSeries) ? mine + 1 : kOther;
    // A lost race leaves `id` holding the winner's series (its own number is not reused).
    if (slot.compare_exchange_strong(id, want, std::memory_order_acq_rel)) id = want;
  }
  series_[id - 1].ObserveMicros(micros);
}

std::vector<LabeledHistograms::Row> LabeledHistograms::Read() const {
  constexpr auto kOther = static_cast<int64_t>(kMaxSeries + 1);
  std::vector<Row> rows;
  for (LabeledValues::Row& r : index_.Read()) {
    if (r.value <= 0 || r.value >= kOther) continue;  // not yet, or counted in "other"
    rows.push_back(Row{std::move(r.values), series_[r.value - 1].Read()});
  }
  if (Histogram::Snapshot other = series_[kMaxSeries].Read(); other.count > 0) {
    rows.push_back(Row{std::vector<std::string>(label_names().size(), "other"), other});
  }
  return rows;
}

}  // namespace payorch::metrics
