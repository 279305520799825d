// Property tests of the pure payment core: random command sequences (creates, confirms,
// gateway answers for pending and stale keys, captures, voids, refunds, cancels, expiries,
// time jumps, malformed commands) go through DecideAndApply, and after every command the
// guarantees of ARCHITECTURE.md hold:
//
//   - every command yields >= 1 event; sequences are 1..n per payment without gaps; causation
//     index/count are set; every event survives a serialization round trip;
//   - money: sum of step authorized == processed <= amount; captured <= authorized per step
//     and in total; refunded <= captured; a completed payment processed exactly its amount;
//   - terminal statuses never change; every status an event asks for is a valid transition
//     (the event takes effect);
//   - at most one authorization attempt is pending, and a StepStarted is emitted only when
//     none is; while PROCESSING only the pending attempt's answer or expiry does anything;
//   - rejected or deduplicated commands change nothing but the sequence; malformed
//     commands are only ever rejected;
//   - folding the payment's events from an empty state reproduces the decided state;
//     Decide agrees with DecideAndApply; the same sequence gives byte-identical events,
//     with or without an EventPool;
//   - the read model (projection::Projector over the same events) shows the core's status,
//     captured and refunded amounts after every command, and the core's status after every
//     event (both decide it with command::PaymentStatusAfter from facts of their own).
//
// Runs 300 cases by default with a fixed seed; override with RC_PARAMS, e.g.
// RC_PARAMS="max_success=5000 seed=123" (see rapidcheck's configuration docs).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "command/aggregate.h"
#include "command/money.h"
#include "command/transitions.h"
#include "projection/projector.h"
#include "support/command_harness.h"
#include "support/map_view_source.h"
#include "support/state_dump.h"
#include "support/status_agreement.h"

namespace payorch::command {
namespace {

namespace cmd = ::payments::commands::v1;
namespace ty = ::payments::types::v1;
using E = ev::EventEnvelope;
using testing::CommandHarness;
using testing::Events;

// Default parameters unless the caller set RC_PARAMS (read when rapidcheck first runs).
const bool kDefaultParams = [] {
  setenv("RC_PARAMS", "max_success=300 seed=20261122", /*overwrite=*/0);
  return true;
}();

// ---------------------------------------------------------------------------------------
// Abstract actions: generated up front (so rapidcheck can shrink them) and turned into
// concrete commands against the current state when run.

enum class Kind {
  kCreate,
  kConfirm,
  kGatewayResult,
  kCapture,
  kVoid,
  kRefund,
  kCancel,
  kExpire,
  kAdvanceTime,
  kMalformed
};

struct Action {
  Kind kind = Kind::kCreate;
  int payment = 0;  // index into kPayments
  int amount = 0;   // index into kAmounts (create) or a fraction selector (capture/refund)
  int currency = 0;
  int method = 0;
  bool manual = false;
  bool confirm = true;
  int key = 0;  // which operation key a result/expiry names
  int outcome = 0;
  int error = 0;
  int processed = 0;  // amount processed selector for results
  int idem = 0;       // idempotency key index for capture/refund
  bool final_capture = false;
  int reason = 0;
  int malformed = 0;
  int64_t advance_ms = 0;
};

struct PaymentRef {
  std::string_view merchant;
  std::string_view key;
};
constexpr PaymentRef kPayments[] = {
    {testing::kSeedMerchant, "order-a"},   {testing::kSeedMerchant, "order-b"},
    {testing::kSeedMerchant, "order-c"},   {testing::kLimitedMerchant, "order-a"},
    {testing::kCappedMerchant, "order-a"}, {"m_unknown", "order-a"},
};
constexpr int kPaymentCount = sizeof(kPayments) / sizeof(kPayments[0]);
constexpr int64_t kAmounts[] = {
    1'000, 10'000, 15'000, 4'999, 5'001, 100'001, 1, 0, -3, kMaxAmountMinor, kMaxAmountMinor + 1};
constexpr const char* kCurrencies[] = {"USD", "usd", " EUR ", "JPY", "KWD", "GBP", "XYZ", ""};
constexpr ty::PaymentMethod kMethods[] = {
    ty::PAYMENT_METHOD_CARD, ty::PAYMENT_METHOD_APPLE_PAY, ty::PAYMENT_METHOD_GOOGLE_PAY,
    ty::PAYMENT_METHOD_UNSPECIFIED, static_cast<ty::PaymentMethod>(99)};
constexpr cmd::GatewayOutcome kOutcomes[] = {
    cmd::GATEWAY_OUTCOME_SUCCEEDED, cmd::GATEWAY_OUTCOME_FAILED, cmd::GATEWAY_OUTCOME_UNKNOWN,
    cmd::GATEWAY_OUTCOME_NOT_FOUND, cmd::GATEWAY_OUTCOME_UNSPECIFIED};

void showValue(const Action& a, std::ostream& os) {
  static const char* kNames[] = {"create", "confirm", "result", "capture", "void",
                                 "refund", "cancel",  "expire", "advance", "malformed"};
  os << kNames[static_cast<int>(a.kind)] << "{p=" << a.payment << " amt=" << a.amount
     << " cur=" << a.currency << " meth=" << a.method << " manual=" << a.manual
     << " confirm=" << a.confirm << " key=" << a.key << " out=" << a.outcome << " err=" << a.error
     << " proc=" << a.processed << " idem=" << a.idem << " final=" << a.final_capture
     << " reason=" << a.reason << " mal=" << a.malformed << " adv=" << a.advance_ms << "}";
}

rc::Gen<Action> GenAction();

// A uniform choice in [lo, hi), whatever rapidcheck's current size (inRange scales with it).
int Pick(int lo, int hi) { return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange(lo, hi)); }

// 20..120 actions: long enough to reach captures, refunds, expiries and late answers.
std::vector<Action> GenActions() {
  const int n = Pick(20, 121);
  return *rc::gen::container<std::vector<Action>>(static_cast<size_t>(n), GenAction());
}

rc::Gen<Action> GenAction() {
  return rc::gen::exec([] {
    Action a;
    a.kind = *rc::gen::weightedElement<Kind>({{12, Kind::kCreate},
                                              {5, Kind::kConfirm},
                                              {30, Kind::kGatewayResult},
                                              {8, Kind::kCapture},
                                              {4, Kind::kVoid},
                                              {7, Kind::kRefund},
                                              {3, Kind::kCancel},
                                              {5, Kind::kExpire},
                                              {5, Kind::kAdvanceTime},
                                              {4, Kind::kMalformed}});
    a.payment = *rc::gen::weightedElement<int>({{8, 0}, {4, 1}, {2, 2}, {1, 3}, {1, 4}, {1, 5}});
    a.amount = *rc::gen::weightedElement<int>(
        {{4, 0}, {3, 1}, {4, 2}, {1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7}, {1, 8}, {1, 9}, {1, 10}});
    a.currency = *rc::gen::weightedElement<int>(
        {{10, 0}, {2, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7}});
    a.method = *rc::gen::weightedElement<int>({{6, 0}, {5, 1}, {1, 2}, {1, 3}, {1, 4}});
    a.manual = *rc::gen::arbitrary<bool>();
    a.confirm = *rc::gen::weightedElement<bool>({{4, true}, {1, false}});
    a.key = Pick(0, 13);
    a.outcome = *rc::gen::weightedElement<int>({{10, 0}, {6, 1}, {3, 2}, {2, 3}, {1, 4}});
    a.error = Pick(0, 9);
    a.processed = Pick(0, 6);
    a.idem = Pick(0, 4);
    a.final_capture = *rc::gen::weightedElement<bool>({{3, false}, {1, true}});
    a.reason = Pick(0, 3);
    a.malformed = Pick(0, 9);
    a.advance_ms = *rc::gen::elementOf(std::vector<int64_t>{0, 1'000, 29'990, 30'000, 61'000});
    return a;
  });
}

std::string ReasonText(int r) {
  switch (r) {
    case 0:
      return "";
    case 1:
      return "requested";
    default:
      return std::string(250, 'r') + "\xE2\x82\xAC\xE2\x82\xAC" + "end";  // € across 255
  }
}

// An operation key chosen by `selector`: mostly pending operations, sometimes answered
// ones (late or repeated answers), attempts never started, or nonsense.
std::string PickKey(const PaymentState& s, const std::string& pid, int selector) {
  if (selector < 6 && !s.pending.empty()) {
    return s.pending[static_cast<size_t>(selector) % s.pending.size()].idempotency_key.str();
  }
  if (selector < 9 && !s.attempts.empty()) {
    return s.attempts[static_cast<size_t>(selector) % s.attempts.size()].operation_key.str();
  }
  if (selector < 10 && !s.resolved_operations.empty()) {
    return s.resolved_operations[static_cast<size_t>(selector) % s.resolved_operations.size()]
        .str();
  }
  if (selector == 10) {
    return pid + ":s" + std::to_string(s.current_step) + ":a" +
           std::to_string(s.current_attempt + 1);
  }
  if (selector == 11) return "";
  return "bogus-key";
}

// The part of a payment's money selected by `selector`: 0 = everything (0 for capture),
// then halves, one unit, one too many, negative.
int64_t PickAmount(int selector, int64_t available) {
  switch (selector) {
    case 0:
      return 0;
    case 1:
      return available;
    case 2:
      return available / 2;
    case 3:
      return 1;
    default:
      return selector % 2 == 0 ? available + 1 : -1;
  }
}

struct Built {
  cmd::CommandEnvelope command;
  bool malformed = false;  // must be rejected whatever the state
};

// The first payment from `start` on (in pool order) whose state satisfies `want`, else
// `start`: commands go mostly to payments they can act on, as they do in production.
template <typename Pred>
int Prefer(int start, CommandHarness& h, Pred want) {
  for (int i = 0; i < kPaymentCount; ++i) {
    const int p = (start + i) % kPaymentCount;
    const std::string id = CommandHarness::PaymentIdFor(kPayments[p].merchant, kPayments[p].key);
    if (h.has_state(id) && want(h.state(id))) return p;
  }
  return start;
}

Built Build(const Action& a, CommandHarness& h) {
  int payment = a.payment % kPaymentCount;
  if (a.key < 8) {  // else: leave the target to chance
    switch (a.kind) {
      case Kind::kGatewayResult:
        payment = Prefer(payment, h, [](const PaymentState& s) { return !s.pending.empty(); });
        break;
      case Kind::kCapture:
      case Kind::kVoid:
        payment = Prefer(payment, h, [](const PaymentState& s) {
          return s.status == ev::PAYMENT_STATUS_REQUIRES_CAPTURE && s.pending.empty();
        });
        break;
      case Kind::kRefund:
        payment = Prefer(payment, h, [](const PaymentState& s) {
          return s.captured > s.refunded && s.pending.empty();
        });
        break;
      case Kind::kExpire:
        payment = Prefer(payment, h, [](const PaymentState& s) {
          return s.status == ev::PAYMENT_STATUS_PROCESSING;
        });
        break;
      default:
        break;
    }
  }
  const PaymentRef& ref = kPayments[payment];
  const std::string pid = CommandHarness::PaymentIdFor(ref.merchant, ref.key);
  const PaymentState& s = h.state(pid);
  Built b;
  switch (a.kind) {
    case Kind::kCreate: {
      testing::CreateOptions o;
      o.manual_capture = a.manual;
      o.confirm = a.confirm;
      if (a.idem % 2 == 1) o.metadata = {{"order_id", "o-1"}, {"note", "4111111111111111"}};
      if (a.idem == 3) o.metadata[" order_id"] = "o-2";  // same key once trimmed
      b.command = testing::Create(ref.merchant, ref.key, kAmounts[a.amount],
                                  kCurrencies[a.currency], kMethods[a.method], o);
      break;
    }
    case Kind::kConfirm:
      // Most confirms name a payment method (or an unknown one): a new plan, and after a failed
      // plan a retry of the same payment (AwaitsPaymentMethod).
      b.command = a.confirm ? testing::Confirm(pid, kMethods[a.method]) : testing::Confirm(pid);
      break;
    case Kind::kGatewayResult: {
      const std::string key = PickKey(s, pid, a.key);
      const PendingOperation* op = s.FindPending(key);
      const int64_t asked = op == nullptr ? 1'000 : op->amount_minor;
      const int64_t processed[] = {0, asked, asked / 2, 1, asked + 1, -5, 0};
      b.command = testing::Result(pid, key, testing::Outcome::kSucceeded,
                                  static_cast<ty::ErrorCode>(a.error == 8 ? 99 : a.error),
                                  processed[a.processed % 7], "ref-" + std::to_string(a.key));
      b.command.mutable_gateway_result()->set_outcome(kOutcomes[a.outcome]);
      b.malformed = kOutcomes[a.outcome] == cmd::GATEWAY_OUTCOME_UNSPECIFIED;
      break;
    }
    case Kind::kCapture: {
      int64_t capturable = 0;
      for (const auto& l : s.ledger) {
        if (!l.voided) capturable += l.authorized - l.captured;
      }
      b.command = testing::Capture(pid, PickAmount(a.amount % 6, capturable),
                                   "cap-" + std::to_string(a.idem), a.final_capture);
      break;
    }
    case Kind::kVoid:
      b.command = testing::Void(pid, ReasonText(a.reason));
      break;
    case Kind::kRefund: {
      const int64_t amount = PickAmount(1 + a.amount % 5, s.captured - s.refunded);
      b.command = testing::Refund(pid, amount, "rf-" + std::to_string(a.idem));
      break;
    }
    case Kind::kCancel:
      b.command = testing::Cancel(pid, ReasonText(a.reason));
      break;
    case Kind::kExpire:
      b.command = testing::Expire(pid, PickKey(s, pid, a.key));
      break;
    case Kind::kAdvanceTime:  // not a command: RunAndCheck moves the clock instead
    case Kind::kMalformed:
      b.malformed = true;
      switch (a.malformed) {
        case 0:
          b.command = testing::Confirm(pid);
          b.command.set_schema_version(2);
          break;
        case 1:
          b.command = testing::Envelope(pid);  // no command
          break;
        case 2:
          b.command = testing::Confirm(std::string(65, 'p'));
          break;
        case 3:
          b.command = testing::Capture(pid, 100, " ");
          break;
        case 4:
          b.command = testing::Refund(pid, -1, "");
          break;
        case 5:
          b.command = testing::Result(pid, PickKey(s, pid, a.key), testing::Outcome::kSucceeded);
          b.command.mutable_gateway_result()->set_outcome(static_cast<cmd::GatewayOutcome>(42));
          break;
        case 6:
          b.command = testing::Create(ref.merchant, ref.key, 100, "USD", ty::PAYMENT_METHOD_CARD);
          b.command.set_payment_id("pay_not_derived");
          break;
        case 7:
          b.command = testing::Create(ref.merchant, "", 100, "USD", ty::PAYMENT_METHOD_CARD);
          break;
        default:
          b.command = testing::Create(ref.merchant, ref.key, 100, "USD", ty::PAYMENT_METHOD_CARD);
          b.command.mutable_create()->set_capture_mode(static_cast<ty::CaptureMode>(7));
          break;
      }
      break;
  }
  return b;
}

// ---------------------------------------------------------------------------------------
// Invariants.

bool IsAuthorization(ev::OperationKind k) {
  return k == ev::OPERATION_KIND_AUTHORIZE || k == ev::OPERATION_KIND_SALE;
}

int PendingAuthorizations(const PaymentState& s) {
  int n = 0;
  for (const auto& op : s.pending) n += IsAuthorization(op.kind) ? 1 : 0;
  return n;
}

// Money and pending-operation invariants of one state; "" if they hold.
std::string CheckState(const PaymentState& s) {
  std::ostringstream err;
  int64_t authorized = 0, captured = 0, refunded = 0;
  for (size_t i = 0; i < s.ledger.size(); ++i) {
    const StepLedger& l = s.ledger[i];
    authorized += l.authorized;
    captured += l.captured;
    refunded += l.refunded;
    if (l.authorized < 0 || l.captured > l.authorized || l.refunded > l.captured) {
      err << "ledger[" << i << "] out of order: auth " << l.authorized << " cap " << l.captured
          << " ref " << l.refunded << "\n";
    }
  }
  if (authorized != s.processed) err << "sum(authorized) " << authorized << " != processed\n";
  if (s.processed > s.amount)
    err << "processed " << s.processed << " > amount " << s.amount << "\n";
  if (captured != s.captured) err << "sum(captured) != captured\n";
  if (refunded != s.refunded) err << "sum(refunded) != refunded\n";
  if (s.captured > s.processed) err << "captured > processed (authorized)\n";
  if (s.refunded > s.captured) err << "refunded > captured\n";
  if (PendingAuthorizations(s) > 1) err << "more than one authorization pending\n";
  if ((s.status == ev::PAYMENT_STATUS_SUCCEEDED ||
       s.status == ev::PAYMENT_STATUS_REQUIRES_CAPTURE) &&
      s.processed != s.amount) {
    err << "completed with processed " << s.processed << " of " << s.amount << "\n";
  }
  if (s.status == ev::PAYMENT_STATUS_PROCESSING && PendingAuthorizations(s) != 1) {
    err << "processing without a pending attempt\n";
  }
  if (s.status == ev::PAYMENT_STATUS_VOIDED) {
    for (size_t i = 0; i < s.ledger.size(); ++i) {
      const StepLedger& l = s.ledger[i];
      if (l.authorized > l.captured && !l.voided) {
        err << "voided payment keeps step " << i << " authorized\n";
      }
    }
  }
  // Canceled before confirmation, or after a plan that processed nothing (a payment that
  // awaited another payment method).
  if (s.status == ev::PAYMENT_STATUS_CANCELED && s.processed != 0) {
    err << "canceled after processing money\n";
  }
  if (!s.manual_capture && s.status == ev::PAYMENT_STATUS_SUCCEEDED && s.captured != s.amount) {
    err << "automatic capture succeeded with captured " << s.captured << "\n";
  }
  return err.str();
}

// Applies `events` to a copy of `before` one at a time, checking each event's effect.
std::string CheckFold(const PaymentState& before, const Events& events, PaymentState* after) {
  std::ostringstream err;
  PaymentState s = before;
  for (const E& e : events) {
    const ev::PaymentStatus from = s.status;
    if (e.has_step_started() && PendingAuthorizations(s) != 0) {
      err << "StepStarted while an attempt is pending: " << e.ShortDebugString() << "\n";
    }
    if (e.has_step_started() && from == ev::PAYMENT_STATUS_PROCESSING) {
      err << "StepStarted while processing\n";
    }
    Evolve(s, e);
    const ev::PaymentStatus to = s.status;
    if (!IsValidTransition(from, to)) {
      err << "invalid transition " << StatusName(from) << " -> " << StatusName(to) << "\n";
    }
    auto expect = [&](ev::PaymentStatus want) {
      if (to != want) {
        err << EventTypeName(e) << " from " << StatusName(from) << " left status " << StatusName(to)
            << " instead of " << StatusName(want) << "\n";
      }
    };
    switch (e.event_case()) {
      case E::kPaymentCreated:
        expect(ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION);
        break;
      case E::kStepStarted:
        expect(ev::PAYMENT_STATUS_AUTHORIZING);
        break;
      case E::kPaymentCompleted:
        expect(e.payment_completed().status());
        break;
      case E::kPaymentFailed:
        expect(ev::PAYMENT_STATUS_FAILED);
        break;
      case E::kPaymentCanceled:
        expect(ev::PAYMENT_STATUS_CANCELED);
        break;
      case E::kPaymentProcessing:
        if (IsAuthorization(e.payment_processing().op().kind())) {
          expect(ev::PAYMENT_STATUS_PROCESSING);
        }
        break;
      default:
        break;
    }
  }
  // After a PaymentFailed, each authorized step is voided or has a void in flight.
  bool failed_now = false;
  for (const E& e : events) failed_now |= e.has_payment_failed();
  if (failed_now) {
    for (uint32_t i = 0; i < s.ledger.size(); ++i) {
      const StepLedger& l = s.ledger[i];
      bool void_pending = false;
      for (const auto& op : s.pending) {
        void_pending |= op.kind == ev::OPERATION_KIND_VOID && op.step_index == i;
      }
      if (l.authorized > 0 && !l.voided && !void_pending) {
        err << "failed payment keeps step " << i << " authorized without a void\n";
      }
    }
  }
  *after = s;
  return err.str();
}

// Runs `actions`, checking every invariant after every command; returns the full log.
// `pooled`: decide through an EventPool, recycling each command's events (the writer's path).
Events RunAndCheck(const std::vector<Action>& actions, bool pooled = false) {
  CommandHarness h;
  if (pooled) h.UseEventPool();
  for (size_t step = 0; step < actions.size(); ++step) {
    const Action& a = actions[step];
    if (a.kind == Kind::kAdvanceTime || a.kind == Kind::kExpire) h.Advance(a.advance_ms);
    if (a.kind == Kind::kAdvanceTime) continue;
    Built b = Build(a, h);
    const std::string pid = TargetPaymentId(b.command);
    PaymentState before;
    if (!pid.empty() && h.has_state(pid)) before = h.state(pid);
    if (!pid.empty() && before.payment_id.empty()) before.payment_id = pid;

    const Events events = h.Send(b.command);
    std::ostringstream where;
    where << "step " << step << " " << CommandTypeName(b.command) << " -> ";
    for (const auto& e : events) where << EventTypeName(e) << " ";
    RC_LOG() << where.str() << "\n";

    // At least one event; causation, sequences, ids, round trip.
    if (events.empty()) RC_FAIL("command yielded no event");
    for (size_t i = 0; i < events.size(); ++i) {
      const E& e = events[i];
      RC_ASSERT(e.causation().index() == i);
      RC_ASSERT(e.causation().count() == events.size());
      if (!e.payment_id().empty()) {
        RC_ASSERT(e.payment_id() == pid);
        RC_ASSERT(e.sequence() == before.sequence + 1 + i);
        RC_ASSERT(e.event_id() == pid + "/" + std::to_string(e.sequence()));
      } else {
        RC_ASSERT(e.sequence() == 0u);
      }
      E parsed;
      if (!parsed.ParseFromString(e.SerializeAsString())) {
        RC_FAIL("event does not parse back: " + e.ShortDebugString());
      }
      RC_ASSERT(testing::DeterministicBytes(parsed) == testing::DeterministicBytes(e));
    }
    if (pid.empty()) {
      RC_ASSERT(testing::OnlyRejectionsOrDedups(events));
      continue;
    }
    const PaymentState& after = h.state(pid);

    // Decide (pure) agrees, and folding the events onto `before` gives `after`.
    PaymentState folded;
    const std::string fold_err = CheckFold(before, events, &folded);
    if (!fold_err.empty()) RC_FAIL(fold_err);
    RC_ASSERT(testing::DumpState(folded) == testing::DumpState(after));

    const std::string state_err = CheckState(after);
    if (!state_err.empty()) RC_FAIL(state_err + testing::DumpState(after));

    if (IsTerminalStatus(before.status)) RC_ASSERT(after.status == before.status);
    if (b.malformed) {
      if (!testing::OnlyRejectionsOrDedups(events)) {
        RC_FAIL("malformed command was not rejected: " + b.command.ShortDebugString());
      }
    }
    if (testing::OnlyRejectionsOrDedups(events)) {
      RC_ASSERT(testing::DumpState(after, false) == testing::DumpState(before, false));
    }
    // While an attempt's outcome is unknown, only its answer or its expiry changes anything
    // (compensation voids and other operations already in flight aside).
    if (before.status == ev::PAYMENT_STATUS_PROCESSING) {
      const bool resolves = (b.command.has_gateway_result() || b.command.has_expire()) &&
                            !testing::OnlyRejectionsOrDedups(events);
      if (!resolves) RC_ASSERT(testing::OnlyRejectionsOrDedups(events));
      for (const auto& e : events) {
        if (e.has_step_started()) {
          const std::string& key = b.command.has_gateway_result()
                                       ? b.command.gateway_result().operation_key()
                                       : b.command.expire().operation_key();
          const PendingOperation* pending = before.FindPending(key);
          RC_ASSERT(pending != nullptr && IsAuthorization(pending->kind));
        }
      }
    }
  }
  // Folding every payment's history from an empty state reproduces its state.
  for (const auto& [pid, state] : h.states()) {
    PaymentState folded;
    uint64_t seq = 0;
    for (const E& e : h.history(pid)) {
      RC_ASSERT(e.sequence() == ++seq);
      Evolve(folded, e);
    }
    if (seq == 0) continue;
    RC_ASSERT(testing::DumpState(folded) == testing::DumpState(state));
  }
  return h.log();
}

RC_GTEST_PROP(CommandPropertyTest, InvariantsHoldAfterEveryCommand, ()) {
  const auto actions = GenActions();
  const Events log = RunAndCheck(actions);
  // Coverage: which interesting paths this case reached (printed as a distribution).
  bool completed = false, failed = false, processing = false, compensation = false,
       captured = false, refunded = false, voided = false, expired = false;
  for (const E& e : log) {
    completed |= e.has_payment_completed();
    failed |= e.has_payment_failed();
    processing |= e.has_payment_processing();
    compensation |= e.has_void_started() && e.void_started().compensation();
    captured |= e.has_payment_captured();
    refunded |= e.has_refund_succeeded();
    voided |= e.has_payment_voided() && !e.payment_voided().compensation();
    expired |= e.has_processing_expired();
  }
  RC_CLASSIFY(completed, "completed");
  RC_CLASSIFY(failed, "failed");
  RC_CLASSIFY(processing, "processing");
  RC_CLASSIFY(expired, "expired");
  RC_CLASSIFY(compensation, "compensation void");
  RC_CLASSIFY(captured, "captured");
  RC_CLASSIFY(refunded, "refunded");
  RC_CLASSIFY(voided, "voided");
}

RC_GTEST_PROP(CommandPropertyTest, DecisionsAreDeterministic, ()) {
  const auto actions = GenActions();
  const Events first = RunAndCheck(actions);
  const Events second = RunAndCheck(actions);
  RC_ASSERT(first.size() == second.size());
  RC_ASSERT(testing::DeterministicBytes(first) == testing::DeterministicBytes(second));
}

RC_GTEST_PROP(CommandPropertyTest, PooledDecisionsAreByteIdentical, ()) {
  const auto actions = GenActions();
  const Events plain = RunAndCheck(actions);
  const Events pooled = RunAndCheck(actions, /*pooled=*/true);
  RC_ASSERT(plain.size() == pooled.size());
  RC_ASSERT(testing::DeterministicBytes(plain) == testing::DeterministicBytes(pooled));
}

RC_GTEST_PROP(CommandPropertyTest, DecideIsPureAndAgreesWithDecideAndApply, ()) {
  const auto actions = GenActions();
  CommandHarness h;
  for (const Action& a : actions) {
    if (a.kind == Kind::kAdvanceTime) continue;
    Built b = Build(a, h);
    const std::string pid = TargetPaymentId(b.command);
    if (pid.empty()) continue;
    PaymentState state = h.state(pid);
    if (state.payment_id.empty()) state.payment_id = pid;
    const std::string dump = testing::DumpState(state);
    CommandRecord rec{&b.command, "payments.commands", 3, 7, 1'700'000'000'000};
    const Events pure = Decide(state, rec, h.ctx());
    RC_ASSERT(testing::DumpState(state) == dump);
    Events applied;
    DecideAndApply(state, rec, h.ctx(), applied);
    RC_ASSERT(testing::DeterministicBytes(pure) == testing::DeterministicBytes(applied));
    (void)h.Send(b.command);  // move the harness on
  }
}

// The writer's claim of epoch 1, which the harness's events carry.
E ClaimOfEpochOne() {
  E claim;
  claim.set_event_id("claim/0/1");
  claim.set_epoch(1);
  claim.mutable_writer_claimed()->set_epoch(1);
  return claim;
}

// The case the property found (issue 19): a timed-out attempt succeeds late after its
// retry was counted; the compensation void of the late success releases nothing the core
// counted, so a partial capture leaves the payment capturable in both.
TEST(ReadModelTest, ACompensatedLateSuccessReleasesNothingCounted) {
  CommandHarness h;
  testing::MapViewSource store;
  projection::Projector projector(&store);
  int64_t offset = 0;
  projector.Observe(0, offset++, ClaimOfEpochOne());
  auto feed = [&](const Events& events) {
    for (const E& e : events) projector.Observe(0, offset++, e);
    store.Apply(projector.Flush());
  };
  auto send = [&](const cmd::CommandEnvelope& c) { feed(h.Send(c)); };
  auto view = [&](const std::string& pid) {
    ::payments::projection::v1::PaymentView v;
    EXPECT_TRUE(v.ParseFromString(store.Get("p/" + pid).value_or("")));
    return v;
  };
  testing::CreateOptions o;
  o.manual_capture = true;
  send(
      testing::Create(testing::kSeedMerchant, "order-1", 1'000, "USD", ty::PAYMENT_METHOD_CARD, o));
  const std::string pid = CommandHarness::PaymentIdFor(testing::kSeedMerchant, "order-1");
  const std::string first = h.PendingAttemptKey(pid);
  send(testing::Failed(pid, first, ty::ERROR_CODE_TIMEOUT));  // retried as attempt 2
  send(testing::Succeeded(pid, h.PendingAttemptKey(pid)));
  ASSERT_EQ(h.state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  send(testing::Succeeded(pid, first));  // the late success: a compensation void
  feed(h.SucceedAll(pid, ev::OPERATION_KIND_VOID));
  ASSERT_EQ(h.state(pid).reversed, 0);  // the core never counted the late success
  send(testing::Capture(pid, 400, "cap-1"));
  feed(h.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE));
  EXPECT_EQ(h.state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  EXPECT_EQ(view(pid).status(), h.state(pid).status) << ev::PaymentStatus_Name(view(pid).status());
  EXPECT_EQ(view(pid).captured_minor(), 400);
}

RC_GTEST_PROP(CommandPropertyTest, TheReadModelAgreesWithTheCoreAfterEveryCommand, ()) {
  const auto actions = GenActions();
  CommandHarness h;
  testing::MapViewSource store;
  projection::Projector projector(&store);
  int64_t offset = 0;
  projector.Observe(0, offset++, ClaimOfEpochOne());
  for (const Action& a : actions) {
    if (a.kind == Kind::kAdvanceTime || a.kind == Kind::kExpire) h.Advance(a.advance_ms);
    if (a.kind == Kind::kAdvanceTime) continue;
    Built b = Build(a, h);
    const std::string pid = TargetPaymentId(b.command);
    const Events events = h.Send(b.command);
    for (const E& e : events) projector.Observe(0, offset++, e);
    store.Apply(projector.Flush());
    if (pid.empty() || !h.has_state(pid) || h.state(pid).sequence == 0) continue;
    const PaymentState& core = h.state(pid);
    auto bytes = store.Get("p/" + pid);
    RC_ASSERT(bytes.has_value());
    ::payments::projection::v1::PaymentView view;
    RC_ASSERT(view.ParseFromString(*bytes));
    if (view.status() != core.status || view.captured_minor() != core.captured ||
        view.refunded_minor() != core.refunded) {
      RC_FAIL("after " + std::string(CommandTypeName(b.command)) + " the view says " +
              ev::PaymentStatus_Name(view.status()) + " captured " +
              std::to_string(view.captured_minor()) + " refunded " +
              std::to_string(view.refunded_minor()) + ", the core " +
              ev::PaymentStatus_Name(core.status) + " captured " + std::to_string(core.captured) +
              " refunded " + std::to_string(core.refunded));
    }
  }
}

// The status after every event, not only after every command: the core and the read model
// decide it with one function (command/status.h) from facts each fills from its own state;
// a fact filled differently, or a rule kept on one side, fails here.
RC_GTEST_PROP(CommandPropertyTest, TheReadModelAgreesWithTheCoreAfterEveryEvent, ()) {
  const auto actions = GenActions();
  CommandHarness h;
  testing::StatusAgreement agree;
  for (const Action& a : actions) {
    if (a.kind == Kind::kAdvanceTime || a.kind == Kind::kExpire) h.Advance(a.advance_ms);
    if (a.kind == Kind::kAdvanceTime) continue;
    Built b = Build(a, h);
    for (const E& e : h.Send(b.command)) {
      const std::string diff = agree.Feed(e);
      if (!diff.empty()) RC_FAIL(diff);
    }
  }
}

}  // namespace
}  // namespace payorch::command
