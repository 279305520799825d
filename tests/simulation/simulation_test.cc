// Deterministic simulation (world.h): many seeds, each a run of load and faults checked
// after every step, then a drain and the end-of-run checks. A failure prints its seed and
// the last actions; SEED=n replays exactly that run (SEEDS=n runs seeds 1..n instead of
// the default; FIRST_SEED moves the start).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "simulation/world.h"

namespace payorch::simulation {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::strtoull(v, nullptr, 10);
}

constexpr int kStepsPerRun = 700;

// One seeded run; returns the failure text, empty when every check held.
std::string RunSeed(uint64_t seed) {
  World w(seed);
  for (int i = 0; i < kStepsPerRun && w.ok(); ++i) w.Step();
  w.Drain();
  w.CheckQuiescent();
  return w.failure();
}

TEST(SimulationTest, EveryGuaranteeHoldsUnderCrashesAndLostAnswers) {
  const uint64_t single = EnvOr("SEED", 0);
  const uint64_t first = single != 0 ? single : EnvOr("FIRST_SEED", 1);
  const uint64_t count = single != 0 ? 1 : EnvOr("SEEDS", 1000);
  uint64_t failed = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    const std::string failure = RunSeed(seed);
    if (!failure.empty()) {
      ADD_FAILURE() << failure;
      if (++failed >= 3) break;
    }
  }
  std::cout << count << " seeds from " << first << ", " << failed << " failed\n";
}

// Finding 1 of docs/reliability.md, and why the connectors seal: a network failure or a
// 5xx records nothing under the key, so a call of the same key repeated later (a
// connector restart, two connectors during a rebalance) is a fresh try that can charge or
// refund after the core took the failure as final. A late SUCCEEDED of an attempt is
// reversed by the core, but a late UNKNOWN, or any late answer of a capture or refund,
// is not: the money the gateway moved is missing from the log. The default run calls
// through the real connectors::Dispatcher, which seals; this test has the world call the
// gateway itself, without a seal, and expects the simulation to find the gap, so it shows
// the checks can see it.
TEST(SimulationTest, WithoutTheSealAnUnrecordedFailureIsNotFinal) {
  Options gap;
  gap.real_dispatcher = false;
  int found = 0;
  for (uint64_t seed = 1; seed <= 60 && found == 0; ++seed) {
    World w(seed, gap);
    for (int i = 0; i < kStepsPerRun && w.ok(); ++i) w.Step();
    w.Drain();
    w.CheckQuiescent();
    const std::string first_line = w.failure().substr(0, w.failure().find('\n'));
    if (first_line.find("gateway and log disagree") != std::string::npos ||
        first_line.find("double charge") != std::string::npos) {
      ++found;
      std::cout << first_line << "\n";
    }
  }
  EXPECT_GT(found, 0) << "no seed found the money gap the seal closes";
}

TEST(SimulationTest, ASeedReplaysExactly) {
  World a(42);
  World b(42);
  for (int i = 0; i < kStepsPerRun; ++i) {
    a.Step();
    b.Step();
  }
  EXPECT_EQ(a.commands(), b.commands());
  EXPECT_EQ(a.events(), b.events());
  EXPECT_EQ(a.crashes(), b.crashes());
  EXPECT_EQ(a.Outcomes(), b.Outcomes());
}

TEST(SimulationTest, FaultsAreActuallyInjected) {
  size_t crashes = 0;
  size_t projection_crashes = 0;
  size_t breaker_transitions = 0;
  size_t zombies_fenced = 0;
  size_t writer_failures = 0;
  size_t saturated = 0;
  std::map<std::string, int> outcomes;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    World w(seed);
    for (int i = 0; i < kStepsPerRun && w.ok(); ++i) w.Step();
    w.Drain();
    crashes += w.crashes();
    projection_crashes += w.projection_crashes();
    zombies_fenced += w.zombies_fenced();
    writer_failures += w.writer_failures();
    saturated += w.saturated();
    breaker_transitions += w.CountEvents(ev::EventEnvelope::kBreakerTransitioned);
    for (const auto& [status, n] : w.Outcomes()) outcomes[status] += n;
  }
  EXPECT_GT(crashes, 200u);
  EXPECT_GT(projection_crashes, 50u);
  EXPECT_GT(breaker_transitions, 0u);
  EXPECT_GT(zombies_fenced, 0u);
  EXPECT_GT(writer_failures, 0u);
  EXPECT_GT(saturated, 0u);
  std::cout << crashes << " crashes, " << projection_crashes << " projection crashes, "
            << breaker_transitions << " breaker transitions, " << zombies_fenced
            << " zombies fenced, " << writer_failures << " writers failed on the log, " << saturated
            << " charges skipped by a saturated processor\n";
  EXPECT_GT(outcomes["PAYMENT_STATUS_SUCCEEDED"], 0);
  EXPECT_GT(outcomes["PAYMENT_STATUS_FAILED"], 0);
  for (const auto& [status, n] : outcomes) std::cout << status << ": " << n << "\n";
}

}  // namespace
}  // namespace payorch::simulation
