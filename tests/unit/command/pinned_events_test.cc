// Pins the exact bytes of the events the core decides for a fixed set of scenarios, so a
// change made for speed (state layout, event construction, pooling) cannot change a
// decision or its encoding unnoticed. The scenarios cover every event type: the benchmark's
// command mix, hand-written edge cases (voids, refunds, captures, expiries, late answers,
// compensation, malformed input, orphan commands) and a long seeded random sequence.
//
// The golden file (testdata/pinned_events.txt) holds one line per event: its index, the
// FNV-1a 64 hash of its deterministic serialization and its type. A deliberate change of
// behaviour regenerates it:
//
//   PAYORCH_UPDATE_PINNED_EVENTS=1 ./command_pinned_events_test
//
// and the diff of the golden file shows which events changed.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "command/aggregate.h"
#include "support/command_harness.h"

#ifndef PAYORCH_PINNED_EVENTS_FILE
#error "PAYORCH_PINNED_EVENTS_FILE must name the golden file"
#endif

namespace payorch::command {
namespace {

namespace cmd = ::payments::commands::v1;
namespace ty = ::payments::types::v1;
using testing::CommandHarness;
using testing::CreateOptions;
using testing::Events;
using testing::kCappedMerchant;
using testing::kLimitedMerchant;
using testing::kSeedMerchant;
using testing::Outcome;

std::string Key(const std::string& pid, int step, int attempt) {
  return pid + ":s" + std::to_string(step) + ":a" + std::to_string(attempt);
}

// ---------------------------------------------------------------------------------------
// The benchmark's mix (bench/core_bench.cc), payment by payment.

void BenchMix(CommandHarness& h, int n) {
  const std::string key = "order-" + std::to_string(n);
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, key);
  int sent = 0;
  auto send = [&](cmd::CommandEnvelope c) {
    c.set_command_id("cmd-" + std::to_string(n) + "-" + std::to_string(sent++));
    c.set_correlation_id("corr-" + std::to_string(n));
    h.Send(c);
  };
  auto succeed_pending = [&] { send(testing::Succeeded(pid, h.PendingAttemptKey(pid))); };
  const int kind = n % 100;
  const int64_t amount = 1'000 + (n * 37) % 9'000;
  CreateOptions o;
  o.metadata = {{"order_id", key}};
  if (kind < 55) {
    send(testing::Create(kSeedMerchant, key, amount, "USD", ty::PAYMENT_METHOD_CARD, o));
    succeed_pending();
  } else if (kind < 65) {
    send(testing::Create(kSeedMerchant, key, amount, "EUR", ty::PAYMENT_METHOD_CARD, o));
    send(testing::Failed(pid, h.PendingAttemptKey(pid), ty::ERROR_CODE_DECLINED));
    succeed_pending();
  } else if (kind < 75) {
    o.manual_capture = true;
    send(testing::Create(kSeedMerchant, key, amount, "USD", ty::PAYMENT_METHOD_CARD, o));
    succeed_pending();
    send(testing::Capture(pid, 0, "cap-1"));
    for (const auto& k : h.PendingKeys(pid, ev::OPERATION_KIND_CAPTURE)) {
      send(testing::Succeeded(pid, k));
    }
  } else if (kind < 85) {
    send(testing::Create(kSeedMerchant, key, amount, "GBP", ty::PAYMENT_METHOD_CARD, o));
    succeed_pending();
    send(testing::Refund(pid, amount / 2, "refund-1"));
    for (const auto& k : h.PendingKeys(pid, ev::OPERATION_KIND_REFUND)) {
      send(testing::Succeeded(pid, k));
    }
  } else if (kind < 90) {
    send(testing::Create(kSeedMerchant, key, amount + testing::kApplePayMax, "USD",
                         ty::PAYMENT_METHOD_APPLE_PAY, o));
    succeed_pending();
    succeed_pending();
  } else if (kind < 95) {
    send(testing::Create(kSeedMerchant, key, amount, "USD", ty::PAYMENT_METHOD_CARD, o));
    send(testing::Result(pid, h.PendingAttemptKey(pid), Outcome::kUnknown));
    succeed_pending();
  } else {
    send(testing::Create(kSeedMerchant, key, amount, "USD", ty::PAYMENT_METHOD_CARD, o));
    succeed_pending();
    send(testing::Create(kSeedMerchant, key, amount + 1, "USD", ty::PAYMENT_METHOD_CARD, o));
    send(testing::Capture(pid, 100, "cap-1"));
    send(testing::Confirm(pid + "x"));
  }
}

// ---------------------------------------------------------------------------------------
// Hand-written edge cases.

void Append(Events& to, const Events& from) { to.insert(to.end(), from.begin(), from.end()); }

std::string StartedKey(const Events& events, size_t i) {
  const auto& e = events[i];
  if (e.has_step_started()) return e.step_started().op().idempotency_key();
  if (e.has_capture_started()) return e.capture_started().op().idempotency_key();
  if (e.has_void_started()) return e.void_started().op().idempotency_key();
  if (e.has_refund_started()) return e.refund_started().op().idempotency_key();
  return "";
}

// Each block runs on its own harness (fresh offsets and clock), so a change of behaviour in
// one block leaves the bytes of the others as they were.
void EdgeCases(Events& log, bool pooled) {
  const auto pid = [](std::string_view merchant, std::string_view key) {
    return CommandHarness::PaymentIdFor(merchant, key);
  };
  // Manual capture in parts, a final capture, deduplication and mismatch, then refunds.
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    const std::string p = pid(kSeedMerchant, "e-capture");
    CreateOptions o;
    o.manual_capture = true;
    o.customer_reference = "  cust-1 ";
    o.metadata = {{"order_id", "o-1"}, {"note", "4111 1111 1111 1111"}, {" channel", "web"}};
    h.Send(testing::Create(kSeedMerchant, "e-capture", 15'000, " usd", ty::PAYMENT_METHOD_APPLE_PAY,
                           o));
    h.Send(testing::Succeeded(p, Key(p, 0, 1)));
    h.Send(testing::Succeeded(p, Key(p, 1, 1), 4'000));  // less than asked
    h.Send(testing::Succeeded(p, Key(p, 0, 1)));         // repeated answer
    h.Send(testing::Capture(p, 11'000, "cap-1"));
    h.Send(testing::Capture(p, 11'000, "cap-1"));  // dedup while in flight
    h.Send(testing::Capture(p, 12'000, "cap-1"));  // mismatch
    h.Send(testing::Refund(p, 1, "ref-0"));        // in flight
    const auto caps = h.PendingKeys(p, ev::OPERATION_KIND_CAPTURE);
    if (!caps.empty()) h.Send(testing::Result(p, caps[0], Outcome::kUnknown));
    h.SucceedAll(p, ev::OPERATION_KIND_CAPTURE);
    h.Send(testing::Capture(p, 50'000, "cap-2"));  // exceeds
    h.Send(testing::Capture(p, 1'000, "cap-3", /*final_capture=*/true));
    h.SucceedAll(p, ev::OPERATION_KIND_CAPTURE);
    h.Send(testing::Refund(p, 5'000, "ref-1"));
    const auto refs = h.PendingKeys(p, ev::OPERATION_KIND_REFUND);
    for (const auto& k : refs) h.Send(testing::Failed(p, k, ty::ERROR_CODE_PROCESSOR_UNAVAILABLE));
    h.Send(testing::Refund(p, 5'000, "ref-1"));  // dedup of a failed refund
    h.Send(testing::Refund(p, 6'000, "ref-2"));
    for (const auto& k : h.PendingKeys(p, ev::OPERATION_KIND_REFUND)) {
      h.Send(testing::Result(p, k, Outcome::kNotFound));
    }
    h.Send(testing::Refund(p, 3'000, "ref-3"));
    h.SucceedAll(p, ev::OPERATION_KIND_REFUND);
    h.Send(testing::Refund(p, 1'000'000, "ref-4"));
    h.Send(testing::Refund(p, -2, "ref-5"));
    h.Send(testing::Refund(p, 10, std::string(300, 'k')));
    h.Send(testing::Refund(p, 10, " "));
    Append(log, h.log());
  }
  // A capture that fails, then one that succeeds.
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    const std::string p = pid(kSeedMerchant, "e-capfail");
    CreateOptions o;
    o.manual_capture = true;
    h.Send(testing::Create(kSeedMerchant, "e-capfail", 2'000, "EUR", ty::PAYMENT_METHOD_CARD, o));
    h.Send(testing::Succeeded(p, Key(p, 0, 1)));
    h.Send(testing::Capture(p, 0, "c1"));
    for (const auto& k : h.PendingKeys(p, ev::OPERATION_KIND_CAPTURE)) {
      h.Send(testing::Failed(p, k, ty::ERROR_CODE_DECLINED));
    }
    h.Send(testing::Capture(p, 0, "c2"));
    h.SucceedAll(p, ev::OPERATION_KIND_CAPTURE);
    h.Send(testing::Void(p));
    Append(log, h.log());
  }
  // Requested voids over two steps: one fails, one succeeds, the rest is voided again.
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    const std::string p = pid(kSeedMerchant, "e-void");
    CreateOptions o;
    o.manual_capture = true;
    h.Send(
        testing::Create(kSeedMerchant, "e-void", 15'000, "USD", ty::PAYMENT_METHOD_APPLE_PAY, o));
    h.Send(testing::Succeeded(p, Key(p, 0, 1)));
    h.Send(testing::Succeeded(p, Key(p, 1, 1)));
    const Events voids = h.Send(testing::Void(p, "customer changed mind"));
    h.Send(testing::Void(p));  // in flight
    if (voids.size() == 2) {
      h.Send(testing::Failed(p, StartedKey(voids, 0), ty::ERROR_CODE_PROCESSOR_UNAVAILABLE));
      h.Send(testing::Result(p, StartedKey(voids, 1), Outcome::kUnknown));
      h.Send(testing::Succeeded(p, StartedKey(voids, 1)));
    }
    const Events again = h.Send(testing::Void(p, std::string(300, 'r')));
    if (!again.empty()) h.Send(testing::Succeeded(p, StartedKey(again, 0)));
    h.Send(testing::Capture(p, 0, "late-cap"));
    Append(log, h.log());
  }
  // Cancel before confirmation; confirm and cancel after it.
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    const std::string p = pid(kSeedMerchant, "e-cancel");
    CreateOptions o;
    o.confirm = false;
    h.Send(
        testing::Create(kSeedMerchant, "e-cancel", 700, "JPY", ty::PAYMENT_METHOD_GOOGLE_PAY, o));
    h.Send(testing::Cancel(p, "changed mind"));
    h.Send(testing::Confirm(p));
    const std::string q = pid(kSeedMerchant, "e-confirm");
    h.Send(testing::Create(kSeedMerchant, "e-confirm", 1'234, "KWD", ty::PAYMENT_METHOD_UNSPECIFIED,
                           o));
    h.Send(testing::Confirm(q));
    h.Send(testing::Confirm(q));
    h.Send(testing::Cancel(q));
    h.Send(testing::Failed(q, Key(q, 0, 1), ty::ERROR_CODE_NETWORK_FAILURE));
    h.Send(testing::Failed(q, Key(q, 0, 2), ty::ERROR_CODE_TIMEOUT));
    h.Send(testing::Failed(q, Key(q, 0, 3), ty::ERROR_CODE_PROCESSOR_UNAVAILABLE));
    Append(log, h.log());
  }
  // Retries, then the fallback; a hard decline; every step declining.
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    const std::string p = pid(kSeedMerchant, "e-retry");
    h.Send(testing::Create(kSeedMerchant, "e-retry", 5'000, "USD", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Failed(p, Key(p, 0, 1), ty::ERROR_CODE_NETWORK_FAILURE));
    h.Send(testing::Failed(p, Key(p, 0, 2), ty::ERROR_CODE_UNSPECIFIED));
    h.Send(testing::Failed(p, Key(p, 1, 1), static_cast<ty::ErrorCode>(99)));
    const std::string q = pid(kSeedMerchant, "e-hard");
    h.Send(testing::Create(kSeedMerchant, "e-hard", 5'000, "USD", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Failed(q, Key(q, 0, 1), ty::ERROR_CODE_HARD_DECLINE));
    h.Send(testing::Succeeded(q, Key(q, 0, 1)));  // late success: compensation
    Append(log, h.log());
  }
  // Apple Pay part succeeds, the card declines: compensation void; it fails once.
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    const std::string p = pid(kSeedMerchant, "e-partial");
    h.Send(
        testing::Create(kSeedMerchant, "e-partial", 15'000, "USD", ty::PAYMENT_METHOD_APPLE_PAY));
    h.Send(testing::Succeeded(p, Key(p, 0, 1)));
    const Events failed = h.Send(testing::Failed(p, Key(p, 1, 1), ty::ERROR_CODE_DECLINED));
    const std::string v = StartedKey(failed, failed.size() - 1);
    h.Send(testing::Failed(p, v, ty::ERROR_CODE_PROCESSOR_UNAVAILABLE));
    for (const auto& k : h.PendingKeys(p, ev::OPERATION_KIND_VOID)) {
      h.Send(testing::Succeeded(p, k));
    }
    h.Send(testing::Succeeded(p, v));  // repeated answer
    Append(log, h.log());
  }
  // Timeout, processing, expiry before and after the deadline, late success.
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    const std::string p = pid(kSeedMerchant, "e-expire");
    h.Send(testing::Create(kSeedMerchant, "e-expire", 9'000, "USD", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Expire(p, Key(p, 0, 1)));  // not processing
    h.Send(testing::Result(p, Key(p, 0, 1), Outcome::kUnknown, ty::ERROR_CODE_TIMEOUT));
    h.Send(testing::Result(p, Key(p, 0, 1), Outcome::kUnknown));
    h.Send(testing::Capture(p, 0, "c"));
    h.Advance(testing::kSeedDeadlineMs - 1'000);
    h.Send(testing::Expire(p, Key(p, 0, 1)));
    h.Advance(2'000);
    h.Send(testing::Expire(p, Key(p, 0, 1)));
    h.Send(testing::Expire(p, Key(p, 0, 1)));
    const Events late = h.Send(testing::Succeeded(p, Key(p, 0, 1), 8'000));
    if (!late.empty() && late[0].has_void_started()) {
      h.Send(testing::Failed(p, StartedKey(late, 0), ty::ERROR_CODE_NETWORK_FAILURE));
    }
    for (const auto& k : h.PendingKeys(p, ev::OPERATION_KIND_VOID)) {
      h.Send(testing::Succeeded(p, k));
    }
    h.Send(testing::Succeeded(p, Key(p, 0, 1)));
    h.Send(testing::Result(p, Key(p, 0, 1), Outcome::kFailed));
    Append(log, h.log());
  }
  // Reconciliation: not found retries; success after processing.
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    const std::string p = pid(kSeedMerchant, "e-recon");
    h.Send(testing::Create(kSeedMerchant, "e-recon", 3'000, "USD", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Result(p, Key(p, 0, 1), Outcome::kUnknown));
    h.Send(testing::Result(p, Key(p, 0, 1), Outcome::kNotFound));
    h.Send(testing::Result(p, Key(p, 0, 2), Outcome::kUnknown));
    h.Send(testing::Succeeded(p, Key(p, 0, 2), 99'999));  // more than asked
    Append(log, h.log());
  }
  // Rejections and orphans.
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    h.Send(testing::Create("m_unknown", "e-1", 100, "USD", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Create(kSeedMerchant, "e-2", 100, "XYZ", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Create(kLimitedMerchant, "e-3", 100, "GBP", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Create(kLimitedMerchant, "e-4", 100'001, "USD", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Create(kCappedMerchant, "e-5", 5'001, "USD", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Create(kCappedMerchant, "e-6", 100, "USD", ty::PAYMENT_METHOD_APPLE_PAY));
    h.Send(testing::Create(kSeedMerchant, "e-7", 0, "USD", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Create(kSeedMerchant, "e-8", 100, "USD", static_cast<ty::PaymentMethod>(99)));
    h.Send(testing::Create(kSeedMerchant, "", 100, "USD", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Create("", "e-9", 100, "USD", ty::PAYMENT_METHOD_CARD));
    h.Send(testing::Create(std::string(65, 'm'), "e-10", 100, "USD", ty::PAYMENT_METHOD_CARD));
    auto mismatch = testing::Create(kSeedMerchant, "e-11", 100, "USD", ty::PAYMENT_METHOD_CARD);
    mismatch.set_payment_id("pay_not_derived");
    h.Send(mismatch);
    auto v2 = testing::Create(kSeedMerchant, "e-12", 100, "USD", ty::PAYMENT_METHOD_CARD);
    v2.set_schema_version(2);
    h.Send(v2);
    auto mode = testing::Create(kSeedMerchant, "e-13", 100, "USD", ty::PAYMENT_METHOD_CARD);
    mode.mutable_create()->set_capture_mode(static_cast<ty::CaptureMode>(7));
    h.Send(mode);
    CreateOptions many;
    for (int i = 0; i < 51; ++i) many.metadata["k" + std::to_string(i)] = "v";
    h.Send(testing::Create(kSeedMerchant, "e-14", 100, "USD", ty::PAYMENT_METHOD_CARD, many));
    cmd::CommandEnvelope empty;
    empty.set_schema_version(1);
    h.Send(empty);
    h.Send(cmd::CommandEnvelope());
    h.Send(testing::Envelope("pay_x"));
    h.Send(testing::Confirm(std::string(65, 'p')));
    h.Send(testing::Capture("", 1, "cap-1"));
    h.Send(testing::Expire("pay_nope", "k"));
    const std::string p = pid(kSeedMerchant, "e-15");
    h.Send(testing::Create(kSeedMerchant, "e-15", 100, "USD", ty::PAYMENT_METHOD_CARD));
    auto bogus = testing::Succeeded(p, Key(p, 0, 1));
    bogus.mutable_gateway_result()->set_outcome(static_cast<cmd::GatewayOutcome>(99));
    h.Send(bogus);
    auto unspecified = testing::Succeeded(p, Key(p, 0, 1));
    unspecified.mutable_gateway_result()->set_outcome(cmd::GATEWAY_OUTCOME_UNSPECIFIED);
    h.Send(unspecified);
    h.Send(testing::Succeeded(p, std::string(200, 'x')));
    h.Send(testing::Create(kSeedMerchant, "e-15", 100, "USD", ty::PAYMENT_METHOD_CARD));
    Append(log, h.log());
  }
}

// ---------------------------------------------------------------------------------------
// A long seeded random sequence over a few payments (xorshift; no library randomness, so
// the sequence is the same on every platform).

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return s_;
  }
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t s_;
};

// Keys of every operation the payment started, from its history, in order.
std::vector<std::string> StartedKeys(CommandHarness& h, const std::string& pid) {
  std::vector<std::string> keys;
  const Events& history = h.history(pid);
  for (size_t i = 0; i < history.size(); ++i) {
    std::string k = StartedKey(history, i);
    if (!k.empty()) keys.push_back(std::move(k));
  }
  return keys;
}

void RandomSequence(CommandHarness& h, uint64_t seed, int commands) {
  // A window of 5 payments that moves on every 15 commands, so payments are created,
  // driven through their life and left behind, as on a partition.
  const std::string_view merchants[] = {kSeedMerchant, kSeedMerchant, kSeedMerchant,
                                        kLimitedMerchant, kCappedMerchant};
  const int64_t amounts[] = {1'000, 10'000, 15'000, 4'999, 5'001, 1, 100'001};
  const char* currencies[] = {"USD", "usd", " EUR ", "JPY", "GBP", "XYZ"};
  const ty::PaymentMethod methods[] = {ty::PAYMENT_METHOD_CARD, ty::PAYMENT_METHOD_APPLE_PAY,
                                       ty::PAYMENT_METHOD_GOOGLE_PAY,
                                       ty::PAYMENT_METHOD_UNSPECIFIED};
  const ty::ErrorCode errors[] = {ty::ERROR_CODE_DECLINED,     ty::ERROR_CODE_NETWORK_FAILURE,
                                  ty::ERROR_CODE_TIMEOUT,      ty::ERROR_CODE_PROCESSOR_UNAVAILABLE,
                                  ty::ERROR_CODE_HARD_DECLINE, ty::ERROR_CODE_UNSPECIFIED};
  Rng rng(seed);
  for (int i = 0; i < commands; ++i) {
    const int slot = rng.Below(5);
    const struct {
      std::string_view merchant;
      std::string key;
    } ref{merchants[slot], "r-" + std::to_string(i / 15 + slot)};
    const std::string pid = CommandHarness::PaymentIdFor(ref.merchant, ref.key);
    const int what = rng.Below(100);
    if (what < 10) {
      CreateOptions o;
      o.manual_capture = rng.Below(2) == 1;
      o.confirm = rng.Below(5) != 0;
      if (rng.Below(3) == 0) o.metadata = {{"order_id", "o-1"}, {"x", "y"}};
      h.Send(testing::Create(ref.merchant, ref.key, amounts[rng.Below(7)], currencies[rng.Below(6)],
                             methods[rng.Below(4)], o));
    } else if (what < 14) {
      h.Send(testing::Confirm(pid));
    } else if (what < 55) {
      const std::vector<std::string> keys = StartedKeys(h, pid);
      std::string key = "bogus";
      if (!keys.empty()) {
        // Mostly the latest operations (likely pending), sometimes an old one.
        const int back = rng.Below(4) == 0 ? rng.Below(static_cast<int>(keys.size()))
                                           : rng.Below(std::min<int>(3, keys.size()));
        key = keys[keys.size() - 1 - static_cast<size_t>(back)];
      }
      const int outcome = rng.Below(10);
      const int64_t processed = rng.Below(4) == 0 ? 1 + rng.Below(20'000) : 0;
      if (outcome < 5) {
        h.Send(testing::Succeeded(pid, key, processed));
      } else if (outcome < 8) {
        h.Send(testing::Failed(pid, key, errors[rng.Below(6)]));
      } else if (outcome < 9) {
        h.Send(testing::Result(pid, key, Outcome::kUnknown));
      } else {
        h.Send(testing::Result(pid, key, Outcome::kNotFound));
      }
    } else if (what < 65) {
      h.Send(testing::Capture(pid, rng.Below(3) == 0 ? 0 : 1 + rng.Below(12'000),
                              "cap-" + std::to_string(rng.Below(3)), rng.Below(4) == 0));
    } else if (what < 70) {
      h.Send(testing::Void(pid, rng.Below(2) == 0 ? "requested" : ""));
    } else if (what < 80) {
      h.Send(testing::Refund(pid, 1 + rng.Below(12'000), "rf-" + std::to_string(rng.Below(3))));
    } else if (what < 84) {
      h.Send(testing::Cancel(pid));
    } else if (what < 92) {
      const std::vector<std::string> keys = StartedKeys(h, pid);
      h.Advance(rng.Below(2) == 0 ? 0 : 31'000);
      h.Send(testing::Expire(pid, keys.empty() ? "none" : keys.back()));
    } else {
      h.Advance(1'000 * rng.Below(40));
      h.Send(testing::Confirm(pid));
    }
  }
}

// ---------------------------------------------------------------------------------------

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::vector<std::string> PinLines(const Events& log) {
  std::vector<std::string> lines;
  lines.reserve(log.size());
  for (size_t i = 0; i < log.size(); ++i) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%zu %016llx %s", i,
                  static_cast<unsigned long long>(Fnv1a64(testing::DeterministicBytes(log[i]))),
                  EventTypeName(log[i]));
    lines.emplace_back(buf);
  }
  return lines;
}

// `pooled`: decide through an EventPool, recycling every command's events (the writer's
// fast path). Both paths must give the pinned bytes.
Events RunAllScenarios(bool pooled) {
  Events log;
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    for (int n = 0; n < 200; ++n) BenchMix(h, n);
    Append(log, h.log());
  }
  EdgeCases(log, pooled);
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    RandomSequence(h, 0x9e3779b97f4a7c15ULL, 3'000);
    Append(log, h.log());
  }
  // Circuit breaker (last, so the pins above keep their indices): a transition recorded in
  // the payment's stream, then a step skipped by the open breaker (no retry; the plan moves
  // on).
  {
    CommandHarness h;
    if (pooled) h.UseEventPool();
    const std::string p = CommandHarness::PaymentIdFor(kSeedMerchant, "e-breaker");
    h.Send(testing::Create(kSeedMerchant, "e-breaker", 9'000, "USD", ty::PAYMENT_METHOD_CARD));
    cmd::CommandEnvelope t = testing::Envelope(p);
    auto* b = t.mutable_breaker_transition();
    b->set_processor_id("psp_a");
    b->set_merchant_id(std::string(kSeedMerchant));
    b->set_from(cmd::BREAKER_STATE_CLOSED);
    b->set_to(cmd::BREAKER_STATE_OPEN);
    b->set_at_ms(1'000);
    b->set_consecutive_failures(5);
    h.Send(t);
    cmd::CommandEnvelope skip =
        testing::Failed(p, Key(p, 0, 1), ty::ERROR_CODE_PROCESSOR_UNAVAILABLE);
    skip.mutable_gateway_result()->set_circuit_open(true);
    skip.mutable_gateway_result()->set_source("breaker");
    h.Send(skip);
    Append(log, h.log());
  }
  return log;
}

void ExpectPinned(const Events& log) {
  const std::vector<std::string> actual = PinLines(log);
  std::ifstream in(PAYORCH_PINNED_EVENTS_FILE);
  ASSERT_TRUE(in.good()) << "cannot read " << PAYORCH_PINNED_EVENTS_FILE;
  std::vector<std::string> expected;
  for (std::string line; std::getline(in, line);) expected.push_back(line);
  for (size_t i = 0; i < std::min(expected.size(), actual.size()); ++i) {
    ASSERT_EQ(actual[i], expected[i])
        << "first differing event, now: " << log[i].ShortDebugString();
  }
  EXPECT_EQ(actual.size(), expected.size());
}

TEST(PinnedEventsTest, EventsAreByteIdenticalToThePinnedOnes) {
  const Events log = RunAllScenarios(/*pooled=*/false);
  if (std::getenv("PAYORCH_UPDATE_PINNED_EVENTS") != nullptr) {
    std::ofstream out(PAYORCH_PINNED_EVENTS_FILE);
    for (const auto& line : PinLines(log)) out << line << "\n";
    ASSERT_TRUE(out.good()) << "cannot write " << PAYORCH_PINNED_EVENTS_FILE;
    GTEST_SKIP() << "rewrote " << PAYORCH_PINNED_EVENTS_FILE << " (" << log.size() << " events)";
  }
  ExpectPinned(log);
}

TEST(PinnedEventsTest, PooledEventsAreByteIdenticalToThePinnedOnes) {
  ExpectPinned(RunAllScenarios(/*pooled=*/true));
}

// The scenarios reach every event type, so the pin covers every encoder.
TEST(PinnedEventsTest, ScenariosCoverEveryEventType) {
  const Events log = RunAllScenarios(/*pooled=*/false);
  std::vector<bool> seen(64, false);
  for (const auto& e : log) seen[static_cast<size_t>(e.event_case())] = true;
  const auto* descriptor = ev::EventEnvelope::descriptor();
  const auto* oneof = descriptor->FindOneofByName("event");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const auto* field = oneof->field(i);
    if (field->name() == "writer_claimed") continue;  // the runtime's, not the core's
    EXPECT_TRUE(seen[static_cast<size_t>(field->number())]) << field->name() << " never decided";
  }
}

}  // namespace
}  // namespace payorch::command
