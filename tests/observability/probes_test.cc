#include "metrics/probes.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace payorch::metrics {
namespace {

TEST(Histogram, CountsEachObservationInTheFirstBucketAtOrAboveIt) {
  Histogram h;
  h.ObserveMicros(500);     // exactly the first bound
  h.ObserveMicros(501);     // next bucket (1 ms)
  h.ObserveMillis(3);       // 5 ms bucket
  h.ObserveMillis(90'000);  // above every bound: +Inf only
  h.ObserveMicros(-7);      // clamped to 0
  const Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.cumulative[0], 2u);  // 500 us and the clamped one
  EXPECT_EQ(s.cumulative[1], 3u);
  EXPECT_EQ(s.cumulative[3], 4u);
  EXPECT_EQ(s.cumulative.back(), 4u);
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum_seconds, (500 + 501 + 3'000 + 90'000'000) / 1e6);
}

TEST(LabeledValues, AddsPerLabelSetAndSetsGauges) {
  LabeledValues v({"processor", "outcome"});
  v.Add({"acme", "succeeded"});
  v.Add({"acme", "succeeded"}, 2);
  v.Add({"acme", "failed"});
  v.Set({"zeta", "failed"}, 42);
  v.Set({"zeta", "failed"}, 7);
  std::map<std::string, int64_t> got;
  for (const auto& row : v.Read()) got[row.values[0] + "/" + row.values[1]] = row.value;
  EXPECT_EQ(got, (std::map<std::string, int64_t>{
                     {"acme/succeeded", 3}, {"acme/failed", 1}, {"zeta/failed", 7}}));
}

TEST(LabeledValues, TruncatesLongValuesAndCountsOverflowAsOther) {
  LabeledValues v({"id"});
  const std::string long_value(200, 'x');
  v.Add({long_value});
  v.Add({long_value});
  for (size_t i = 0; i < LabeledValues::kSlots + 5; ++i) v.Add({"k" + std::to_string(i)});
  int64_t overflow = -1;
  int64_t truncated = -1;
  for (const auto& row : v.Read()) {
    if (row.values[0] == "other") overflow = row.value;
    if (row.values[0] == std::string(LabeledValues::kMaxValueBytes, 'x')) truncated = row.value;
  }
  EXPECT_EQ(truncated, 2);
  EXPECT_EQ(overflow, 6);  // kSlots - 1 new sets fit; the 6 others overflow
}

TEST(LabeledValues, ConcurrentWritersLoseNoCount) {
  LabeledValues v({"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&v] {
      for (int i = 0; i < 10'000; ++i) v.Add({i % 2 == 0 ? "even" : "odd"});
    });
  }
  for (auto& t : threads) t.join();
  int64_t total = 0;
  for (const auto& row : v.Read()) total += row.value;
  EXPECT_EQ(total, 40'000);
  EXPECT_EQ(v.Read().size(), 2u);
}

TEST(LabeledHistograms, KeepsOneHistogramPerLabelSetAndTheRestAsOther) {
  LabeledHistograms h({"server", "route"});
  h.ObserveMicros({"api", "/v1/payments"}, 300);
  h.ObserveMicros({"api", "/v1/payments"}, 40'000);
  h.ObserveMicros({"webhooks", "/v1/webhooks/x"}, 2'000);
  std::map<std::string, Histogram::Snapshot> got;
  for (const auto& row : h.Read()) got[row.values[0] + row.values[1]] = row.snapshot;
  ASSERT_EQ(got.size(), 2u);
  const Histogram::Snapshot& api = got["api/v1/payments"];
  EXPECT_EQ(api.count, 2u);
  EXPECT_EQ(api.cumulative[0], 1u);  // 300 us <= 0.5 ms
  EXPECT_EQ(api.cumulative[5], 1u);  // 40 ms > 25 ms
  EXPECT_EQ(api.cumulative[6], 2u);  // <= 50 ms
  EXPECT_DOUBLE_EQ(api.sum_seconds, 0.0403);
  EXPECT_EQ(got["webhooks/v1/webhooks/x"].count, 1u);

  for (size_t i = 0; i < LabeledHistograms::kMaxSeries + 3; ++i) {
    h.ObserveMicros({"api", "r" + std::to_string(i)}, 1);
  }
  size_t series = 0;
  uint64_t other = 0;
  for (const auto& row : h.Read()) {
    if (row.values[0] == "other") {
      other = row.snapshot.count;
    } else {
      ++series;
    }
  }
  EXPECT_EQ(series, LabeledHistograms::kMaxSeries);
  EXPECT_EQ(other, 5u);  // 2 series existed: kMaxSeries - 2 new ones fit, 5 did not
}

TEST(LabeledHistograms, ConcurrentObserversLoseNoCount) {
  LabeledHistograms h({"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < 10'000; ++i) h.ObserveMicros({i % 2 == 0 ? "even" : "odd"}, i);
    });
  }
  for (auto& t : threads) t.join();
  uint64_t total = 0;
  for (const auto& row : h.Read()) total += row.snapshot.count;
  EXPECT_EQ(total, 40'000u);
  EXPECT_EQ(h.Read().size(), 2u);
}

}  // namespace
}  // namespace payorch::metrics
