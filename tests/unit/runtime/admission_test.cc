// Admission: when payorch refuses new payments, and when it takes them again.
#include "runtime/admission.h"

#include "gtest/gtest.h"

namespace payorch::runtime {
namespace {

struct Case {
  const char* name;
  bool overloaded;  // before
  ConnectorLoad load;
  bool expected;
};

TEST(Admission, RuleWithHysteresis) {
  const AdmissionLimits limits{.max_queued = 100, .max_unknown = 50, .recover_ratio = 0.8};
  const Case cases[] = {
      {"idle", false, {0, 0, false, false}, false},
      {"busy but under every limit", false, {99, 49, false, false}, false},
      {"too many unknown outcomes", false, {0, 50, false, false}, true},
      {"too much queued", false, {100, 0, false, false}, true},
      {"connectors paused", false, {0, 0, true, false}, true},
      {"every processor saturated", false, {5, 0, false, true}, true},
      {"still above the recovery mark", true, {0, 45, false, false}, true},
      {"below the recovery mark", true, {79, 39, false, false}, false},
      {"still saturated", true, {0, 0, false, true}, true},
      {"still paused", true, {0, 0, true, false}, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NextOverloaded(c.overloaded, c.load, limits), c.expected) << c.name;
  }
}

TEST(Admission, NoUnknownLimitWhenZero) {
  const AdmissionLimits limits{.max_queued = 100, .max_unknown = 0};
  EXPECT_FALSE(NextOverloaded(false, {0, 1'000'000, false, false}, limits));
}

TEST(Admission, ReportSaysWhenTheStateChanges) {
  Admission admission({.max_queued = 10, .max_unknown = 10});
  EXPECT_FALSE(admission.Report({.queued = 1}));
  EXPECT_FALSE(admission.overloaded());
  EXPECT_TRUE(admission.Report({.unknown = 10}));
  EXPECT_TRUE(admission.overloaded());
  EXPECT_FALSE(admission.Report({.unknown = 9}));  // above 8: still overloaded
  EXPECT_TRUE(admission.Report({.unknown = 7}));
  EXPECT_FALSE(admission.overloaded());
}

}  // namespace
}  // namespace payorch::runtime
