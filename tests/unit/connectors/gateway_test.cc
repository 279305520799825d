// The simulated processors: idempotency, deterministic fates, the ledger, its persistence
// and audit, and the registry's spec parsing.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "connectors/ledger.h"
#include "connectors/registry.h"
#include "connectors/simulated_gateway.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/connectors/test_support.h"

namespace payorch::connectors {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
namespace ev = ::payments::events::v1;
namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;

void NoSleep(std::chrono::milliseconds) {}

std::unique_ptr<SimulatedGateway> Open(SimulatedGatewayOptions o) {
  if (o.processor_id.empty()) o.processor_id = "psp_a";
  if (!o.sleep) o.sleep = NoSleep;
  auto g = SimulatedGateway::Open(std::move(o));
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? std::move(g.value()) : nullptr;
}

std::unique_ptr<SimulatedGateway> OpenFlaky(FlakyRates rates, uint64_t seed = 7) {
  SimulatedGatewayOptions o;
  o.rates = rates;
  o.seed = seed;
  return Open(std::move(o));
}

GatewayRequest Req(ev::OperationKind kind, const std::string& key, int64_t amount = 1000,
                   const std::string& target = "", uint32_t step = 0) {
  GatewayRequest r;
  r.kind = kind;
  r.idempotency_key = key;
  r.processor_id = "psp_a";
  r.method = types::PAYMENT_METHOD_CARD;
  r.amount_minor = amount;
  r.currency = "EUR";
  r.target_reference = target;
  r.timeout_ms = 2000;
  // Captures and refunds ("cap_1:s0") leave it to the audit to derive from the target.
  const bool own_key = kind != ev::OPERATION_KIND_CAPTURE && kind != ev::OPERATION_KIND_REFUND;
  r.payment_id = own_key ? key.substr(0, key.find(':')) : "";
  r.step_index = step;
  return r;
}

GatewayRequest Sale(const std::string& key, int64_t amount = 1000, uint32_t step = 0) {
  return Req(ev::OPERATION_KIND_SALE, key, amount, "", step);
}

void ExpectSameAnswer(const GatewayAnswer& a, const GatewayAnswer& b) {
  EXPECT_EQ(a.outcome, b.outcome);
  EXPECT_EQ(a.amount_processed_minor, b.amount_processed_minor);
  EXPECT_EQ(a.error_code, b.error_code);
  EXPECT_EQ(a.processor_reference, b.processor_reference);
}

std::string TempPath(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("payorch_conn_" + std::to_string(getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// ---------------------------------------------------------------------------------------
// mock

TEST(MockGateway, EveryOperationKindSucceedsWithItsAmountAndAStableReference) {
  auto g = Open({});
  const GatewayAnswer sale = g->Execute(Sale("p1:s0:a1", 1234));
  EXPECT_EQ(sale.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(sale.amount_processed_minor, 1234);
  EXPECT_EQ(sale.error_code, types::ERROR_CODE_UNSPECIFIED);
  EXPECT_THAT(sale.processor_reference, ::testing::StartsWith("psp_a_"));

  const GatewayAnswer auth = g->Execute(Req(ev::OPERATION_KIND_AUTHORIZE, "p2:s0:a1", 500));
  const GatewayAnswer cap =
      g->Execute(Req(ev::OPERATION_KIND_CAPTURE, "cap_1:s0", 500, auth.processor_reference));
  const GatewayAnswer ref =
      g->Execute(Req(ev::OPERATION_KIND_REFUND, "ref_1:s0", 200, auth.processor_reference));
  const GatewayAnswer vd =
      g->Execute(Req(ev::OPERATION_KIND_VOID, "p1:v0", 0, sale.processor_reference));
  for (const GatewayAnswer& a : {auth, cap, ref, vd}) {
    EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  }
  EXPECT_EQ(vd.amount_processed_minor, 1234) << "a void of amount 0 releases the whole charge";
  EXPECT_THAT(g->Ledger(), SizeIs(5));

  // The reference is a function of (processor, key): another instance agrees.
  EXPECT_EQ(Open({})->Execute(Sale("p1:s0:a1", 1234)).processor_reference,
            sale.processor_reference);
}

TEST(MockGateway, MaxPerOperationCapsAuthorizationsAndSalesOnly) {
  struct Case {
    ev::OperationKind kind;
    int64_t requested;
    int64_t processed;
  };
  const Case cases[] = {
      {ev::OPERATION_KIND_SALE, 8000, 5000},      {ev::OPERATION_KIND_SALE, 3000, 3000},
      {ev::OPERATION_KIND_AUTHORIZE, 5001, 5000}, {ev::OPERATION_KIND_CAPTURE, 8000, 8000},
      {ev::OPERATION_KIND_REFUND, 8000, 8000},
  };
  SimulatedGatewayOptions o;
  o.max_per_operation = 5000;
  auto g = Open(o);
  int n = 0;
  for (const Case& c : cases) {
    const GatewayAnswer a = g->Execute(Req(c.kind, "p:s" + std::to_string(n++), c.requested));
    EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
    EXPECT_EQ(a.amount_processed_minor, c.processed) << ev::OperationKind_Name(c.kind);
  }
}

// ---------------------------------------------------------------------------------------
// idempotency

TEST(Idempotency, RepeatedKeyReturnsTheFirstAnswerAndNeverChargesTwice) {
  auto g = Open({});
  const GatewayAnswer first = g->Execute(Sale("p1:s0:a1"));
  for (int i = 0; i < 3; ++i) ExpectSameAnswer(g->Execute(Sale("p1:s0:a1")), first);
  ASSERT_THAT(g->Ledger(), SizeIs(1));
  EXPECT_EQ(g->Ledger()[0].amount_minor, 1000);
  ExpectSameAnswer(g->Retrieve("p1:s0:a1"), first);
}

TEST(Idempotency, ConcurrentRepeatsOfOneKeyChargeOnce) {
  auto g = Open({});
  std::vector<std::thread> threads;
  std::vector<GatewayAnswer> answers(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] { answers[t] = g->Execute(Sale("p1:s0:a1")); });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(g->Ledger(), SizeIs(1));
  for (const auto& a : answers) ExpectSameAnswer(a, answers[0]);
}

TEST(Idempotency, SameKeyWithADifferentRequestIsAConflictAndMovesNoMoney) {
  struct Case {
    const char* name;
    GatewayRequest repeat;
  };
  GatewayRequest other_currency = Sale("p1:s0:a1");
  other_currency.currency = "USD";
  const Case cases[] = {
      {"different amount", Sale("p1:s0:a1", 999)},
      {"different kind", Req(ev::OPERATION_KIND_AUTHORIZE, "p1:s0:a1")},
      {"different currency", other_currency},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto g = Open({});
    const GatewayAnswer first = g->Execute(Sale("p1:s0:a1"));
    const GatewayAnswer conflict = g->Execute(c.repeat);
    EXPECT_EQ(conflict.outcome, cmd::GATEWAY_OUTCOME_FAILED);
    EXPECT_EQ(conflict.error_code, types::ERROR_CODE_UNKNOWN);
    EXPECT_EQ(conflict.amount_processed_minor, 0);
    EXPECT_THAT(g->Ledger(), SizeIs(1));
    ExpectSameAnswer(g->Execute(Sale("p1:s0:a1")), first);  // the first record stands
  }
}

TEST(Idempotency, ConflictIsDetectedOnAKeyWhoseFirstTryRecordedNothing) {
  FlakyRates rates;
  rates.network = 1;
  auto g = OpenFlaky(rates);
  EXPECT_EQ(g->Execute(Sale("p1:s0:a1")).error_code, types::ERROR_CODE_NETWORK_FAILURE);
  const GatewayAnswer conflict = g->Execute(Sale("p1:s0:a1", 5));
  EXPECT_EQ(conflict.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(conflict.error_code, types::ERROR_CODE_UNKNOWN);
}

TEST(Idempotency, RequestsNoProcessorAcceptsAreRefused) {
  auto g = Open({});
  GatewayRequest no_kind = Sale("p1:s0:a1");
  no_kind.kind = ev::OPERATION_KIND_UNSPECIFIED;
  for (const GatewayRequest& r : {Sale(""), Sale("p1:s0:a1", -1), no_kind}) {
    const GatewayAnswer a = g->Execute(r);
    EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_FAILED);
    EXPECT_EQ(a.error_code, types::ERROR_CODE_UNKNOWN);
  }
  EXPECT_THAT(g->Ledger(), SizeIs(0));
}

// ---------------------------------------------------------------------------------------
// flaky fates

// Each fate with probability 1: what Execute, a repeat, Retrieve and the ledger say.
TEST(FlakyGateway, EachFateAnswersAsSpecified) {
  struct Case {
    const char* name;
    double FlakyRates::*rate;
    cmd::GatewayOutcome execute;
    types::ErrorCode code;
    size_t ledger;                 // entries after the first Execute
    cmd::GatewayOutcome retrieve;  // Retrieve after the first Execute
  };
  const Case cases[] = {
      {"decline", &FlakyRates::decline, cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_DECLINED, 0,
       cmd::GATEWAY_OUTCOME_FAILED},
      {"hard_decline", &FlakyRates::hard_decline, cmd::GATEWAY_OUTCOME_FAILED,
       types::ERROR_CODE_HARD_DECLINE, 0, cmd::GATEWAY_OUTCOME_FAILED},
      {"invalid", &FlakyRates::invalid_card, cmd::GATEWAY_OUTCOME_FAILED,
       types::ERROR_CODE_INVALID_CARD, 0, cmd::GATEWAY_OUTCOME_FAILED},
      {"timeout", &FlakyRates::timeout, cmd::GATEWAY_OUTCOME_UNKNOWN, types::ERROR_CODE_TIMEOUT, 0,
       cmd::GATEWAY_OUTCOME_NOT_FOUND},
      {"lost", &FlakyRates::lost, cmd::GATEWAY_OUTCOME_UNKNOWN, types::ERROR_CODE_TIMEOUT, 1,
       cmd::GATEWAY_OUTCOME_SUCCEEDED},
      {"network", &FlakyRates::network, cmd::GATEWAY_OUTCOME_FAILED,
       types::ERROR_CODE_NETWORK_FAILURE, 0, cmd::GATEWAY_OUTCOME_NOT_FOUND},
      {"unavailable", &FlakyRates::unavailable, cmd::GATEWAY_OUTCOME_FAILED,
       types::ERROR_CODE_PROCESSOR_UNAVAILABLE, 0, cmd::GATEWAY_OUTCOME_NOT_FOUND},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FlakyRates rates;
    rates.*c.rate = 1;
    auto g = OpenFlaky(rates);
    const GatewayAnswer a = g->Execute(Sale("p1:s0:a1"));
    EXPECT_EQ(a.outcome, c.execute);
    EXPECT_EQ(a.error_code, c.code);
    EXPECT_THAT(g->Ledger(), SizeIs(c.ledger));
    EXPECT_EQ(g->Retrieve("p1:s0:a1").outcome, c.retrieve);
  }
}

TEST(FlakyGateway, ChargedButAnswerLostIsFoundByRetrieveAndByARepeat) {
  FlakyRates rates;
  rates.lost = 1;
  auto g = OpenFlaky(rates);
  const GatewayAnswer first = g->Execute(Sale("p1:s0:a1", 700));
  EXPECT_EQ(first.outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
  EXPECT_TRUE(first.processor_reference.empty());

  const GatewayAnswer found = g->Retrieve("p1:s0:a1");
  EXPECT_EQ(found.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(found.amount_processed_minor, 700);
  ASSERT_THAT(g->Ledger(), SizeIs(1));
  EXPECT_EQ(found.processor_reference, g->Ledger()[0].processor_reference);

  ExpectSameAnswer(g->Execute(Sale("p1:s0:a1", 700)), found);
  EXPECT_THAT(g->Ledger(), SizeIs(1)) << "a repeat after a lost answer must not charge again";
}

TEST(FlakyGateway, KeyRetrievedAsNotFoundIsSealedAgainstLateRedelivery) {
  FlakyRates rates;
  rates.timeout = 1;
  auto g = OpenFlaky(rates);
  EXPECT_EQ(g->Execute(Sale("p1:s0:a1")).outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
  EXPECT_EQ(g->Retrieve("p1:s0:a1").outcome, cmd::GATEWAY_OUTCOME_NOT_FOUND);
  EXPECT_TRUE(g->Sealed("p1:s0:a1"));
  const GatewayAnswer late = g->Execute(Sale("p1:s0:a1"));
  EXPECT_EQ(late.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  // The seal's meaning: nothing happened and nothing will (retryable under a new key).
  EXPECT_EQ(late.error_code, types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
  EXPECT_EQ(g->Retrieve("p1:s0:a1").outcome, cmd::GATEWAY_OUTCOME_NOT_FOUND);
  EXPECT_THAT(g->Ledger(), SizeIs(0));
}

TEST(FlakyGateway, RepeatAfterTimeoutNotChargedIsAFreshTryUnderTheSameKey) {
  FlakyRates rates;
  rates.timeout = 0.5;
  // A key whose try 0 times out and try 1 succeeds.
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    const std::string k = "p" + std::to_string(i) + ":s0:a1";
    if (FateOf(rates, 7, k, 0, true) == Fate::kTimeoutNotCharged &&
        FateOf(rates, 7, k, 1, true) == Fate::kSucceeded) {
      key = k;
    }
  }
  auto g = OpenFlaky(rates);
  EXPECT_EQ(g->Execute(Sale(key)).outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
  EXPECT_EQ(g->Execute(Sale(key)).outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(g->Execute(Sale(key)).outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_THAT(g->Ledger(), SizeIs(1));
}

TEST(FlakyGateway, DeclinesApplyToChargesOnlyAndOpsChargesSparesTheRest) {
  FlakyRates declines;
  declines.decline = 1;
  auto g = OpenFlaky(declines);
  EXPECT_EQ(g->Execute(Req(ev::OPERATION_KIND_CAPTURE, "cap_1:s0")).outcome,
            cmd::GATEWAY_OUTCOME_SUCCEEDED);

  FlakyRates timeouts;
  timeouts.timeout = 1;
  EXPECT_EQ(OpenFlaky(timeouts)->Execute(Req(ev::OPERATION_KIND_VOID, "p:v0")).outcome,
            cmd::GATEWAY_OUTCOME_UNKNOWN);
  SimulatedGatewayOptions charges_only;
  charges_only.rates = timeouts;
  charges_only.faults_on_all_kinds = false;
  auto spared = Open(charges_only);
  EXPECT_EQ(spared->Execute(Req(ev::OPERATION_KIND_VOID, "p:v0")).outcome,
            cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(spared->Execute(Sale("p:s0:a1")).outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
}

FlakyRates DemoRates() {
  FlakyRates r;
  r.decline = 0.10;
  r.hard_decline = 0.02;
  r.invalid_card = 0.03;
  r.timeout = 0.05;
  r.lost = 0.02;
  r.network = 0.05;
  r.unavailable = 0.05;
  return r;
}

TEST(FlakyGateway, FateIsAPureFunctionOfSeedKeyAndTry) {
  const FlakyRates rates = DemoRates();
  int differ_by_seed = 0, differ_by_try = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "pay_" + std::to_string(i) + ":s0:a1";
    EXPECT_EQ(FateOf(rates, 7, key, 0, true), FateOf(rates, 7, key, 0, true));
    differ_by_seed += FateOf(rates, 7, key, 0, true) != FateOf(rates, 8, key, 0, true);
    differ_by_try += FateOf(rates, 7, key, 0, true) != FateOf(rates, 7, key, 1, true);
  }
  EXPECT_GT(differ_by_seed, 200);
  EXPECT_GT(differ_by_try, 200);
}

TEST(FlakyGateway, AnswersDoNotDependOnCallOrderOrThreads) {
  std::vector<std::string> keys;
  for (int i = 0; i < 400; ++i) keys.push_back("pay_" + std::to_string(i) + ":s0:a1");

  auto in_order = OpenFlaky(DemoRates());
  std::map<std::string, GatewayAnswer> expected;
  for (const auto& k : keys) expected[k] = in_order->Execute(Sale(k));

  auto threaded = OpenFlaky(DemoRates());
  std::vector<std::thread> threads;
  std::vector<std::map<std::string, GatewayAnswer>> got(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = keys.size(); i-- > 0;) {  // reverse order, interleaved
        if (i % 4 == static_cast<size_t>(t)) got[t][keys[i]] = threaded->Execute(Sale(keys[i]));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& part : got) {
    for (const auto& [k, a] : part) {
      SCOPED_TRACE(k);
      ExpectSameAnswer(a, expected[k]);
    }
  }
  EXPECT_EQ(in_order->Ledger().size(), threaded->Ledger().size());
}

TEST(FlakyGateway, FatesMatchConfiguredRatesOver10kKeys) {
  const FlakyRates rates = DemoRates();
  const int n = 10000;
  std::map<Fate, int> counts;
  for (int i = 0; i < n; ++i) {
    ++counts[FateOf(rates, 42, "pay_" + std::to_string(i) + ":s0:a1", 0, true)];
  }
  const std::pair<Fate, double> expected[] = {
      {Fate::kDeclined, rates.decline},
      {Fate::kHardDeclined, rates.hard_decline},
      {Fate::kInvalidCard, rates.invalid_card},
      {Fate::kTimeoutNotCharged, rates.timeout},
      {Fate::kChargedAnswerLost, rates.lost},
      {Fate::kNetworkFailure, rates.network},
      {Fate::kProcessorUnavailable, rates.unavailable},
      {Fate::kSucceeded, 0.68},
  };
  for (const auto& [fate, p] : expected) {
    const double sigma = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(counts[fate], n * p, 4 * sigma) << FateName(fate);
  }
}

TEST(FlakyGateway, LatencyIsSleptAndBeyondTheTimeoutMakesTheAnswerUnknown) {
  std::vector<int64_t> slept;
  SimulatedGatewayOptions o;
  o.latency_ms = 50;
  o.sleep = [&slept](std::chrono::milliseconds d) { slept.push_back(d.count()); };
  auto g = Open(o);
  GatewayRequest fast = Sale("p1:s0:a1");
  fast.timeout_ms = 100;
  EXPECT_EQ(g->Execute(fast).latency_ms, 50u);

  GatewayRequest impatient = Sale("p2:s0:a1");
  impatient.timeout_ms = 20;
  const GatewayAnswer a = g->Execute(impatient);
  EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
  EXPECT_EQ(a.error_code, types::ERROR_CODE_TIMEOUT);
  EXPECT_EQ(a.latency_ms, 20u);
  EXPECT_EQ(g->Retrieve("p2:s0:a1").outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED)
      << "the processor went ahead; only the caller gave up";
  EXPECT_EQ(slept, (std::vector<int64_t>{50, 20, 50}));
}

TEST(FlakyGateway, RetrieveUnknownIsSeededPerKeyAndEventuallyAnswers) {
  SimulatedGatewayOptions o;
  o.retrieve_unknown = 0.5;
  o.rates.timeout = 1;
  auto a = Open(o);
  auto b = Open(o);
  int unknown = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "p" + std::to_string(i) + ":s0:a1";
    a->Execute(Sale(key));
    cmd::GatewayOutcome first = cmd::GATEWAY_OUTCOME_UNKNOWN;
    for (int tries = 0; tries < 60 && first == cmd::GATEWAY_OUTCOME_UNKNOWN; ++tries) {
      first = a->Retrieve(key).outcome;
      unknown += first == cmd::GATEWAY_OUTCOME_UNKNOWN;
    }
    EXPECT_EQ(first, cmd::GATEWAY_OUTCOME_NOT_FOUND);
  }
  EXPECT_GT(unknown, 100);
  // Same seed, same per-key sequence.
  for (int i = 0; i < 20; ++i) {
    SimulatedGatewayOptions o2 = o;
    auto c = Open(o2);
    auto d = Open(o2);
    const std::string key = "q" + std::to_string(i);
    for (int r = 0; r < 3; ++r) EXPECT_EQ(c->Retrieve(key).outcome, d->Retrieve(key).outcome);
  }
}

TEST(FlakyGateway, InvalidOptionsAreRefused) {
  SimulatedGatewayOptions too_much;
  too_much.rates.decline = 0.7;
  too_much.rates.timeout = 0.7;
  EXPECT_FALSE(SimulatedGateway::Open(too_much).ok());
  SimulatedGatewayOptions negative;
  negative.rates.lost = -0.1;
  EXPECT_FALSE(SimulatedGateway::Open(negative).ok());
}

// ---------------------------------------------------------------------------------------
// strict targets

TEST(StrictTargets, CaptureVoidRefundMustActOnAStandingChargeWithinItsAmount) {
  SimulatedGatewayOptions o;
  o.strict_targets = true;
  auto g = Open(o);
  const std::string auth =
      g->Execute(Req(ev::OPERATION_KIND_AUTHORIZE, "p1:s0:a1", 1000)).processor_reference;
  struct Case {
    const char* name;
    GatewayRequest request;
    cmd::GatewayOutcome outcome;
  };
  const Case cases[] = {
      {"capture of an unknown reference", Req(ev::OPERATION_KIND_CAPTURE, "c0:s0", 10, "nope"),
       cmd::GATEWAY_OUTCOME_FAILED},
      {"capture above authorized", Req(ev::OPERATION_KIND_CAPTURE, "c1:s0", 1001, auth),
       cmd::GATEWAY_OUTCOME_FAILED},
      {"capture of part", Req(ev::OPERATION_KIND_CAPTURE, "c2:s0", 600, auth),
       cmd::GATEWAY_OUTCOME_SUCCEEDED},
      {"capture beyond the rest", Req(ev::OPERATION_KIND_CAPTURE, "c3:s0", 401, auth),
       cmd::GATEWAY_OUTCOME_FAILED},
      {"refund above captured", Req(ev::OPERATION_KIND_REFUND, "r1:s0", 601, auth),
       cmd::GATEWAY_OUTCOME_FAILED},
      {"refund within captured", Req(ev::OPERATION_KIND_REFUND, "r2:s0", 600, auth),
       cmd::GATEWAY_OUTCOME_SUCCEEDED},
      {"void", Req(ev::OPERATION_KIND_VOID, "p1:v0", 0, auth), cmd::GATEWAY_OUTCOME_SUCCEEDED},
      {"capture after void", Req(ev::OPERATION_KIND_CAPTURE, "c4:s0", 1, auth),
       cmd::GATEWAY_OUTCOME_FAILED},
  };
  for (const Case& c : cases) {
    const GatewayAnswer a = g->Execute(c.request);
    EXPECT_EQ(a.outcome, c.outcome) << c.name;
    if (c.outcome == cmd::GATEWAY_OUTCOME_FAILED) {
      EXPECT_EQ(a.error_code, types::ERROR_CODE_UNKNOWN) << c.name;
    }
  }
  EXPECT_TRUE(AuditLedger(g->Ledger()).clean());
}

// ---------------------------------------------------------------------------------------
// persistence

TEST(LedgerFile, IdempotencyMemoryAndLedgerSurviveReopen) {
  const std::string dir = TempPath("reopen");
  SimulatedGatewayOptions o;
  o.ledger_path = dir + "/psp_a.ledger";
  o.rates.decline = 0.3;
  o.rates.lost = 0.3;
  o.rates.timeout = 0.2;
  std::map<std::string, GatewayAnswer> answers;
  std::vector<LedgerEntry> before;
  {
    auto g = Open(o);
    for (int i = 0; i < 50; ++i) {
      const std::string key = "p" + std::to_string(i) + ":s0:a1";
      g->Execute(Sale(key, 100 + i));
      answers[key] = g->Retrieve(key);  // settles lost ones, seals timed-out ones
    }
    before = g->Ledger();
  }
  ASSERT_FALSE(before.empty());
  auto g = Open(o);  // as after a SIGKILL: only the file remains
  ASSERT_EQ(g->Ledger().size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(g->Ledger()[i].idempotency_key, before[i].idempotency_key);
    EXPECT_EQ(g->Ledger()[i].amount_minor, before[i].amount_minor);
  }
  int sealed = 0;
  for (const auto& [key, answer] : answers) {
    SCOPED_TRACE(key);
    const GatewayAnswer again = g->Execute(Sale(key, 100 + std::stoi(key.substr(1))));
    if (answer.outcome == cmd::GATEWAY_OUTCOME_NOT_FOUND) {
      ++sealed;
      EXPECT_EQ(again.outcome, cmd::GATEWAY_OUTCOME_FAILED);
      EXPECT_EQ(again.error_code, types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
    } else {
      ExpectSameAnswer(again, answer);
    }
  }
  EXPECT_GT(sealed, 0);
  EXPECT_EQ(g->Ledger().size(), before.size()) << "repeats after a restart charge nothing";

  auto from_file = ReadLedgerFile(o.ledger_path);
  ASSERT_TRUE(from_file.ok()) << from_file.status().message();
  EXPECT_EQ(from_file.value().size(), before.size());
}

TEST(LedgerFile, TornLastLineIsDroppedAndACorruptLineIsAnError) {
  const std::string dir = TempPath("torn");
  SimulatedGatewayOptions o;
  o.ledger_path = dir + "/psp_a.ledger";
  { Open(o)->Execute(Sale("p1:s0:a1")); }
  { std::ofstream(o.ledger_path, std::ios::app) << "r1\tp2:s0:a1\t2\tp2"; }  // died mid-write
  {
    auto g = Open(o);
    EXPECT_THAT(g->Ledger(), SizeIs(1));
    g->Execute(Sale("p3:s0:a1"));
  }
  EXPECT_THAT(Open(o)->Ledger(), SizeIs(2)) << "the next append must not glue onto the torn line";

  { std::ofstream(o.ledger_path, std::ios::app) << "garbage\n"; }
  auto bad = SimulatedGateway::Open(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("line 3"));
}

TEST(LedgerFile, FieldsWithSeparatorsRoundTrip) {
  const std::string dir = TempPath("escape");
  SimulatedGatewayOptions o;
  o.ledger_path = dir + "/psp_a.ledger";
  GatewayRequest odd = Sale("p\t1:s0:a1\\x\n");
  odd.currency = "E\tU";
  { Open(o)->Execute(odd); }
  auto g = Open(o);
  ASSERT_THAT(g->Ledger(), SizeIs(1));
  EXPECT_EQ(g->Ledger()[0].idempotency_key, odd.idempotency_key);
  EXPECT_EQ(g->Ledger()[0].currency, "E\tU");
}

// ---------------------------------------------------------------------------------------
// audit

TEST(Audit, TwoStandingChargesForOneStepAreADoubleCharge) {
  auto g = Open({});
  const std::string a1 = g->Execute(Sale("pay_1:s0:a1", 1000, 0)).processor_reference;
  g->Execute(Sale("pay_1:s0:a2", 1000, 0));  // the deliberate double charge
  g->Execute(Sale("pay_1:s1:a1", 500, 1));   // another step: fine
  g->Execute(Sale("pay_2:s0:a1", 300, 0));   // another payment: fine

  AuditReport report = AuditLedger(g->Ledger());
  ASSERT_THAT(report.violations, SizeIs(1));
  EXPECT_EQ(report.violations[0].code, "double_charge");
  EXPECT_EQ(report.violations[0].payment_id, "pay_1");
  EXPECT_THAT(report.violations[0].detail, HasSubstr("pay_1:s0:a1"));
  EXPECT_THAT(report.violations[0].detail, HasSubstr("pay_1:s0:a2"));
  EXPECT_EQ(report.payments["pay_1"].net(), 2500);
  EXPECT_EQ(report.payments["pay_1"].charges, 3);

  // Voiding one of them leaves one standing: clean.
  g->Execute(Req(ev::OPERATION_KIND_VOID, "pay_1:v0", 0, a1));
  report = AuditLedger(g->Ledger());
  EXPECT_TRUE(report.clean()) << report.violations[0].detail;
  EXPECT_EQ(report.payments["pay_1"].voided, 1000);
  EXPECT_EQ(report.payments["pay_1"].net(), 1500);
}

TEST(Audit, FullRefundAlsoStopsAChargeFromStanding) {
  auto g = Open({});
  const std::string a1 = g->Execute(Sale("pay_1:s0:a1", 1000)).processor_reference;
  g->Execute(Sale("pay_1:s0:a2", 1000));
  GatewayRequest refund = Req(ev::OPERATION_KIND_REFUND, "ref_9:s0", 400, a1);
  refund.payment_id.clear();  // derived from the target
  g->Execute(refund);
  EXPECT_EQ(AuditLedger(g->Ledger()).violations.size(), 1u) << "partly refunded still stands";
  GatewayRequest rest = Req(ev::OPERATION_KIND_REFUND, "ref_9:s1", 600, a1);
  rest.payment_id.clear();
  g->Execute(rest);
  const AuditReport report = AuditLedger(g->Ledger());
  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.payments.at("pay_1").refunded, 1000);
  EXPECT_EQ(report.payments.count("ref_9"), 0u);
}

TEST(Audit, OverCaptureOverRefundAndUnknownTargetsAreViolations) {
  auto g = Open({});  // not strict: the processor lets them through, the audit catches them
  const std::string auth =
      g->Execute(Req(ev::OPERATION_KIND_AUTHORIZE, "pay_1:s0:a1", 1000)).processor_reference;
  const std::string cap =
      g->Execute(Req(ev::OPERATION_KIND_CAPTURE, "cap_1:s0", 1200, auth)).processor_reference;
  g->Execute(Req(ev::OPERATION_KIND_REFUND, "ref_1:s0", 1300, cap));  // via the capture
  g->Execute(Req(ev::OPERATION_KIND_VOID, "pay_2:v0", 10, "psp_a_unknown"));
  std::vector<std::string> codes;
  for (const auto& v : AuditLedger(g->Ledger()).violations) codes.push_back(v.code);
  std::sort(codes.begin(), codes.end());
  EXPECT_EQ(codes, (std::vector<std::string>{"capture_exceeds_authorized",
                                             "refund_exceeds_captured", "unknown_target"}));
}

TEST(Audit, LedgersOfSeveralProcessorsAuditTogether) {
  GatewayRegistry registry({.ledger_dir = "", .default_spec = "mock", .sleep = NoSleep});
  GatewayRequest r1 = Sale("pay_1:s0:a1");
  r1.processor_id = "psp_a";
  GatewayRequest r2 = Sale("pay_1:s0:a2");
  r2.processor_id = "psp_b";
  registry.Find("psp_a")->Execute(r1);
  registry.Find("psp_b")->Execute(r2);
  const AuditReport report = AuditLedger(registry.LedgerEntries());
  ASSERT_THAT(report.violations, SizeIs(1));
  EXPECT_EQ(report.violations[0].code, "double_charge");
}

// ---------------------------------------------------------------------------------------
// registry

TEST(GatewaySpec, ValidSpecsSetTheirOptions) {
  auto mock = ParseGatewaySpec("mock");
  ASSERT_TRUE(mock.ok());
  EXPECT_EQ(mock.value().rates.decline, 0);
  EXPECT_EQ(mock.value().max_per_operation, 0);

  auto capped = ParseGatewaySpec(" mock:max=5000, latency_ms=3 ");
  ASSERT_TRUE(capped.ok()) << capped.status().message();
  EXPECT_EQ(capped.value().max_per_operation, 5000);
  EXPECT_EQ(capped.value().latency_ms, 3u);

  auto flaky = ParseGatewaySpec(
      "flaky:seed=7,decline=0.1,timeout=0.05,lost=0.02,network=0.05,unavailable=0.05,"
      "latency_ms=2,hard_decline=0.01,invalid=0.02,retrieve_unknown=0.3,ops=charges,strict=1");
  ASSERT_TRUE(flaky.ok()) << flaky.status().message();
  const SimulatedGatewayOptions& o = flaky.value();
  EXPECT_EQ(o.seed, 7u);
  EXPECT_DOUBLE_EQ(o.rates.decline, 0.1);
  EXPECT_DOUBLE_EQ(o.rates.timeout, 0.05);
  EXPECT_DOUBLE_EQ(o.rates.lost, 0.02);
  EXPECT_DOUBLE_EQ(o.rates.network, 0.05);
  EXPECT_DOUBLE_EQ(o.rates.unavailable, 0.05);
  EXPECT_DOUBLE_EQ(o.rates.hard_decline, 0.01);
  EXPECT_DOUBLE_EQ(o.rates.invalid_card, 0.02);
  EXPECT_DOUBLE_EQ(o.retrieve_unknown, 0.3);
  EXPECT_EQ(o.latency_ms, 2u);
  EXPECT_FALSE(o.faults_on_all_kinds);
  EXPECT_TRUE(o.strict_targets);
}

TEST(GatewaySpec, BadSpecsGiveAOneLineReason) {
  struct Case {
    const char* spec;
    const char* reason;
  };
  const Case cases[] = {
      {"", "unknown gateway kind ''"},
      {"stripe", "unknown gateway kind 'stripe'"},
      {"mock:decline=0.1", "only for flaky"},
      {"mock:seed=1", "only for flaky"},
      {"flaky:decline=1.5", "decline must be a number in [0, 1]"},
      {"flaky:decline=abc", "decline must be a number"},
      {"flaky:timeout=-0.1", "timeout must be a number"},
      {"flaky:decline=0.6,timeout=0.6", "sum to more than 1"},
      {"flaky:seed=-1", "seed must be an unsigned integer"},
      {"flaky:bogus=1", "unknown key 'bogus'"},
      {"flaky:decline", "is not key=value"},
      {"mock:max=0", "max must be a positive integer"},
      {"mock:max=12x", "max must be a positive integer"},
      {"mock:latency_ms=999999999", "latency_ms must be"},
      {"flaky:ops=some", "ops must be all or charges"},
      {"mock:strict=yes", "strict must be 0 or 1"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseGatewaySpec(c.spec);
    ASSERT_FALSE(parsed.ok()) << c.spec;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.reason)) << c.spec;
    EXPECT_THAT(parsed.status().message(), HasSubstr(std::string("\"") + c.spec))
        << "names the spec";
    EXPECT_EQ(parsed.status().message().find('\n'), std::string::npos);
  }
}

TEST(GatewayRegistry, ConfiguresProcessorsAndADefaultForUnknownIds) {
  GatewayRegistry registry({.ledger_dir = "", .default_spec = "mock", .sleep = NoSleep});
  ASSERT_TRUE(registry.ConfigureAll("psp_a=mock:max=10; psp_b=flaky:seed=3,decline=1;*=mock").ok());
  EXPECT_EQ(registry.Find("psp_a")->Execute(Sale("p:s0:a1", 50)).amount_processed_minor, 10);
  EXPECT_EQ(registry.Find("psp_b")->Execute(Sale("p:s0:a1")).error_code,
            types::ERROR_CODE_DECLINED);
  Gateway* other = registry.Find("psp_zzz");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other, registry.Find("psp_zzz")) << "built once, then reused";
  EXPECT_EQ(other->Execute(Sale("p:s0:a1")).outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(registry.ProcessorIds(), (std::vector<std::string>{"psp_a", "psp_b", "psp_zzz"}));

  EXPECT_THAT(registry.Configure("psp_a", "mock").message(), HasSubstr("configured twice"));
  EXPECT_THAT(registry.ConfigureAll("psp_c").message(), HasSubstr("not processor_id=spec"));
  EXPECT_THAT(registry.ConfigureAll("psp_c=flaky:decline=2").message(), HasSubstr("decline"));
  EXPECT_FALSE(registry.SetDefault("nope").ok());

  ASSERT_TRUE(registry.SetDefault("").ok());
  EXPECT_EQ(registry.Find("psp_new"), nullptr) << "no default: unknown ids are unroutable";
}

TEST(GatewayRegistry, LedgerDirGivesEachProcessorItsOwnDurableFile) {
  const std::string dir = TempPath("registry");
  {
    GatewayRegistry registry({.ledger_dir = dir, .default_spec = "mock", .sleep = NoSleep});
    ASSERT_TRUE(registry.Configure("psp/a", "mock").ok());
    registry.Find("psp/a")->Execute(Sale("p1:s0:a1"));
    registry.Find("psp_b")->Execute(Sale("p2:s0:a1"));
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/psp_a.ledger"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/psp_b.ledger"));
  GatewayRegistry reopened({.ledger_dir = dir, .default_spec = "mock", .sleep = NoSleep});
  ASSERT_TRUE(reopened.Configure("psp/a", "mock").ok());
  reopened.Find("psp_b");
  EXPECT_THAT(reopened.LedgerEntries(), SizeIs(2));
}

TEST(GatewayRegistry, RegisteredGatewaysAreFoundButNotAudited) {
  GatewayRegistry registry;
  auto fake = std::make_shared<testing::ScriptedGateway>();
  ASSERT_TRUE(registry.Register("psp_http", fake).ok());
  EXPECT_EQ(registry.Find("psp_http"), fake.get());
  EXPECT_FALSE(registry.Register("psp_http", fake).ok());
  EXPECT_THAT(registry.LedgerEntries(), SizeIs(0));
}

// A bank credit transfer waits for the bank's pain.002: the sale is processing (UNKNOWN,
// with the payment id as reference), no retrieve can tell, and nothing else is possible.
TEST(BankGateway, ASaleWaitsForTheBankAndNothingElseIsPossible) {
  GatewayRegistry registry;
  ASSERT_TRUE(registry.ConfigureAll("bank=bank").ok());
  Gateway* bank = registry.Find("bank");
  ASSERT_NE(bank, nullptr);
  GatewayRequest sale;
  sale.kind = ev::OPERATION_KIND_SALE;
  sale.idempotency_key = "pay_1:s0:a1";
  sale.processor_id = "bank";
  sale.method = types::PAYMENT_METHOD_BANK_TRANSFER;
  sale.amount_minor = 55000;
  sale.currency = "USD";
  sale.payment_id = "pay_1";
  const GatewayAnswer answer = bank->Execute(sale);
  EXPECT_EQ(answer.outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
  EXPECT_EQ(answer.processor_reference, "pay_1");
  EXPECT_EQ(bank->Retrieve("pay_1:s0:a1").outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
  for (auto kind : {ev::OPERATION_KIND_AUTHORIZE, ev::OPERATION_KIND_CAPTURE,
                    ev::OPERATION_KIND_VOID, ev::OPERATION_KIND_REFUND}) {
    GatewayRequest other = sale;
    other.kind = kind;
    const GatewayAnswer no = bank->Execute(other);
    EXPECT_EQ(no.outcome, cmd::GATEWAY_OUTCOME_FAILED) << kind;
    EXPECT_EQ(no.error_code, types::ERROR_CODE_UNKNOWN) << kind;
  }
  EXPECT_FALSE(registry.ConfigureAll("b2=bank:x=1").ok()) << "bank takes no keys";
}

}  // namespace
}  // namespace payorch::connectors
