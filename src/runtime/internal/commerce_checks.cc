#include "runtime/internal/commerce_checks.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "command/serialize.h"
#include "command/transitions.h"
#include "command/validity.h"
#include "invoice/invoice.h"
#include "order/order.h"
#include "runtime/checker.h"

namespace payorch::runtime::internal {

namespace {

namespace ev = ::payments::events::v1;
namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;

std::string N(int64_t v) { return std::to_string(v); }

// The name of an envelope's event case ("payment_applied"), for violations.
template <class Envelope>
std::string EventName(const Envelope& e) {
  const auto* field = Envelope::descriptor()->FindFieldByNumber(e.event_case());
  return field == nullptr ? "empty event" : field->name();
}

// Nothing of the payment is pending and no edge leads further, or it FAILED.
bool Final(const command::PaymentState& p) {
  return p.pending.empty() &&
         (command::IsTerminalStatus(p.status) || p.status == ev::PAYMENT_STATUS_FAILED);
}

std::string PaymentText(const std::string& id, const command::PaymentState& p) {
  return "payment " + id + " (" + command::StatusName(p.status) + ", captured " + N(p.captured) +
         ")";
}

}  // namespace

struct CommerceChecks::OrderTraits {
  using Event = ord::OrderEventEnvelope;
  using State = order::OrderState;
  static constexpr const char* kName = "order";
  static const std::string& IdOf(const Event& e) { return e.order_id(); }
  static std::string StatusOf(const State& s) { return order::OrderStatusName(s.status); }
  static bool Exists(const State& s) { return s.Exists(); }
  // "" when the order's table has the edge the event asks for (or it asks for none).
  static std::string MissingEdge(const State& s, const Event& e) {
    const std::optional<order::OrderTrigger> trigger = order::TriggerOf(e);
    if (!trigger || order::NextStatus(s.status, *trigger)) return "";
    return std::string(order::TriggerName(*trigger)) + " from " + order::OrderStatusName(s.status);
  }
  static void Evolve(State& s, const Event& e) { order::Evolve(s, e); }
};

struct CommerceChecks::InvoiceTraits {
  using Event = inv::InvoiceEventEnvelope;
  using State = invoice::InvoiceState;
  static constexpr const char* kName = "invoice";
  static const std::string& IdOf(const Event& e) { return e.invoice_id(); }
  static std::string StatusOf(const State& s) { return invoice::InvoiceStatusName(s.status); }
  static bool Exists(const State& s) { return s.Exists(); }
  static std::string MissingEdge(const State& s, const Event& e) {
    const std::optional<inv::InvoiceStatus> to = invoice::StatusAfter(s.status, e);
    if (!to || invoice::IsInvoiceEdge(s.status, *to)) return "";
    return std::string(invoice::InvoiceStatusName(s.status)) + " -> " +
           invoice::InvoiceStatusName(*to);
  }
  static void Evolve(State& s, const Event& e) { invoice::Evolve(s, e); }
};

// One aggregate's commands and events logs: the rules that do not look at payments.
template <class Traits>
class CommerceChecks::AggregateLog {
 public:
  using Event = typename Traits::Event;
  using State = typename Traits::State;

  explicit AggregateLog(CommerceChecks* owner) : owner_(owner) {}

  void AddCommand(const log::Record& r) {
    ++figures_.commands;
    commands_[r.partition.value()].push_back({r.topic, r.offset.value()});
  }

  void AddEvent(const log::Record& r) {
    ++figures_.events;
    const int32_t p = r.partition.value();
    Event e;
    if (!e.ParseFromString(r.value)) {
      Violation(std::string(Traits::kName) + " events p" + N(p) + " offset " + N(r.offset.value()) +
                ": undecodable event");
      return;
    }
    switch (filters_[p].Observe(e)) {
      case command::Verdict::kClaim:
        ++figures_.claims;
        return;
      case command::Verdict::kFenced:
        ++figures_.fenced;
        return;
      case command::Verdict::kCounted:
        break;
    }
    const int64_t cmd_offset = e.causation().offset();
    if (e.causation().partition() != p) {
      Violation(std::string(Traits::kName) + " event " + e.event_id() + " on partition " + N(p) +
                " was caused by a command on partition " + N(e.causation().partition()));
    }
    expected_[p][cmd_offset] = std::max<uint32_t>(e.causation().count(), 1);
    uint32_t& seen = seen_[p][cmd_offset];
    seen = std::max(seen, e.causation().index() + 1);
    const std::string& id = Traits::IdOf(e);
    if (id.empty() || e.sequence() == 0) {  // a rejection outside any aggregate
      ++figures_.counted;
      return;
    }
    Track& track = tracks_[id];
    Event canonical = e;
    canonical.set_epoch(0);
    std::string bytes = command::SerializeDeterministic(canonical);
    const uint64_t seq = e.sequence();
    if (seq <= track.payloads.size()) {  // a re-publication: must be identical
      ++figures_.duplicates;
      if (track.payloads[seq - 1] != bytes) {
        Violation(std::string(Traits::kName) + " " + id + " sequence " + std::to_string(seq) +
                  " was published twice with different content (exactly-once broken)");
      }
      return;
    }
    if (seq != track.payloads.size() + 1) {
      Violation(std::string(Traits::kName) + " " + id + ": sequence gap, expected " +
                std::to_string(track.payloads.size() + 1) + " got " + std::to_string(seq));
    }
    track.payloads.resize(seq);
    track.payloads[seq - 1] = std::move(bytes);
    ++figures_.counted;
    if (std::string missing = Traits::MissingEdge(track.state, e); !missing.empty()) {
      Violation(std::string(Traits::kName) + " " + id + ": event " + e.event_id() + " (" +
                EventName(e) + ") is no edge of the table: " + missing);
      track.state.sequence = seq;  // as Evolve would, without the breach it reports
      return;
    }
    Traits::Evolve(track.state, e);
    if (!Traits::Exists(track.state)) {
      Violation(std::string(Traits::kName) + " " + id + ": event " + e.event_id() + " (" +
                EventName(e) + ") before its creation");
    }
  }

  // Every command has all its events or a dead letter; trailing ones may be undecided.
  void JudgeCommands(const std::set<std::tuple<std::string, int32_t, int64_t>>& dead,
                     bool require_drained) {
    for (const auto& [p, seen] : commands_) {
      int64_t last_decided = -1;
      for (const auto& [offset, count] : expected_[p])
        last_decided = std::max(last_decided, offset);
      for (const auto& [topic, offset] : seen) {
        if (dead.count({topic, p, offset}) > 0) last_decided = std::max(last_decided, offset);
      }
      for (const auto& [topic, offset] : seen) {
        const std::string where =
            std::string(Traits::kName) + " command p" + N(p) + " offset " + N(offset);
        auto it = expected_[p].find(offset);
        if (it == expected_[p].end()) {
          if (dead.count({topic, p, offset}) > 0) {
            ++figures_.dead_lettered;
          } else if (offset > last_decided && !require_drained) {
            ++figures_.undecided;
          } else {
            Violation(where + " has no counted event and no dead letter (lost)");
          }
          continue;
        }
        if (seen_[p][offset] < it->second) {
          Violation(where + " has only " + N(seen_[p][offset]) + " of its " + N(it->second) +
                    " events");
        }
      }
    }
    figures_.aggregates = static_cast<int64_t>(tracks_.size());
    for (const auto& [id, track] : tracks_) ++figures_.by_status[Traits::StatusOf(track.state)];
  }

  const AggregateCheck& figures() const { return figures_; }

  template <class Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [id, track] : tracks_) fn(id, track.state);
  }

 private:
  struct Track {
    State state;
    std::vector<std::string> payloads;  // canonical bytes per sequence (epoch cleared)
  };
  struct CommandSeen {
    std::string topic;
    int64_t offset = 0;
  };

  void Violation(std::string text) { owner_->Violation(std::move(text)); }

  AggregateCheck figures_;
  CommerceChecks* owner_;
  std::map<int32_t, command::EpochFilter> filters_;
  std::map<int32_t, std::vector<CommandSeen>> commands_;
  std::map<int32_t, std::map<int64_t, uint32_t>> expected_;  // events per command offset
  std::map<int32_t, std::unordered_map<int64_t, uint32_t>> seen_;
  std::map<std::string, Track> tracks_;
};

CommerceChecks::CommerceChecks()
    : orders_(std::make_unique<AggregateLog<OrderTraits>>(this)),
      invoices_(std::make_unique<AggregateLog<InvoiceTraits>>(this)) {}

CommerceChecks::~CommerceChecks() = default;

void CommerceChecks::Violation(std::string text) {
  if (violations_.size() < kMaxKept) {
    violations_.push_back(std::move(text));
  } else if (violations_.size() == kMaxKept) {
    violations_.push_back("... more order and invoice violations not listed");
  }
}

std::vector<std::string> CommerceChecks::TakeViolations() { return std::exchange(violations_, {}); }

void CommerceChecks::AddOrderCommand(const log::Record& r) { orders_->AddCommand(r); }
void CommerceChecks::AddOrderEvent(const log::Record& r) { orders_->AddEvent(r); }
void CommerceChecks::AddInvoiceCommand(const log::Record& r) { invoices_->AddCommand(r); }
void CommerceChecks::AddInvoiceEvent(const log::Record& r) { invoices_->AddEvent(r); }

void CommerceChecks::AddDeadLetter(const log::Record& r) {
  const std::string* topic = r.FindHeader("payorch.source.topic");
  const std::string* partition = r.FindHeader("payorch.source.partition");
  const std::string* offset = r.FindHeader("payorch.source.offset");
  if (topic == nullptr || partition == nullptr || offset == nullptr) return;
  try {
    dead_letters_.emplace(*topic, std::stoi(*partition), std::stoll(*offset));
  } catch (const std::exception&) {
    Violation("dead letter p" + N(r.partition.value()) + " offset " + N(r.offset.value()) +
              ": unreadable source headers");
  }
}

void CommerceChecks::Finish(const PaymentLookup& payments, bool require_drained,
                            CheckReport* report) {
  orders_->JudgeCommands(dead_letters_, require_drained);
  invoices_->JudgeCommands(dead_letters_, require_drained);

  orders_->ForEach([&](const std::string& id, const order::OrderState& s) {
    if (s.payment_id.empty()) return;  // none linked, or released
    const command::PaymentState* p = payments(s.payment_id);
    const bool paid = s.status == ord::ORDER_STATUS_PAID ||
                      s.status == ord::ORDER_STATUS_PARTIALLY_REFUNDED ||
                      s.status == ord::ORDER_STATUS_REFUNDED;
    const std::string what = "order " + id + " (" + order::OrderStatusName(s.status) +
                             ", captured " + N(s.captured_minor) + ")";
    if (p == nullptr) {
      if (paid || s.captured_minor > 0) {
        Violation(what + ": its payment " + s.payment_id + " is not in the payments log");
      }
      return;
    }
    if (s.captured_minor > p->captured) {
      Violation(what + " records more than its " + PaymentText(s.payment_id, *p));
    } else if (require_drained && s.captured_minor != p->captured) {
      Violation(what + " differs from its " + PaymentText(s.payment_id, *p) + ", all drained");
    }
    if (paid && p->status != ev::PAYMENT_STATUS_SUCCEEDED &&
        !(p->status == ev::PAYMENT_STATUS_REQUIRES_CAPTURE && p->captured > 0)) {
      Violation(what + " is paid but its " + PaymentText(s.payment_id, *p) + " did not succeed");
    }
    if (require_drained && s.status == ord::ORDER_STATUS_PAYMENT_PENDING && Final(*p)) {
      Violation(what + " is left payment_pending though its " + PaymentText(s.payment_id, *p) +
                " is final");
    }
  });

  invoices_->ForEach([&](const std::string& id, const invoice::InvoiceState& s) {
    const std::string what = "invoice " + id + " (" + invoice::InvoiceStatusName(s.status) + ")";
    int64_t captured = 0;
    for (const invoice::LinkedPayment& l : s.payments) {
      const command::PaymentState* p = payments(l.payment_id);
      if (p == nullptr) continue;
      captured += p->captured;
      if (!require_drained || l.released || !Final(*p)) continue;
      if (p->captured > 0 && l.captured_minor != p->captured) {
        Violation(what + ": " + PaymentText(l.payment_id, *p) + " is final but the invoice " +
                  "recorded " + N(l.captured_minor) + " captured");
      } else if (p->captured == 0) {
        Violation(what + ": " + PaymentText(l.payment_id, *p) +
                  " is final with nothing captured but the invoice did not release it");
      }
    }
    const int64_t applied = s.paid_minor + s.overpaid_minor;
    const std::string totals = "applied " + N(s.paid_minor) + " + overpaid " + N(s.overpaid_minor) +
                               " vs its linked payments' captured " + N(captured);
    if (applied > captured) {
      Violation(what + ": " + totals + " (more than captured)");
    } else if (require_drained && applied != captured) {
      Violation(what + ": " + totals + ", all drained");
    }
    for (const invoice::InstallmentState& i : s.installments) {
      if (i.paid_minor > i.total_minor()) {
        Violation(what + ": installment " + std::to_string(i.row.number) + " paid " +
                  N(i.paid_minor) + " above its total " + N(i.total_minor()));
      }
    }
    if ((s.status == inv::INVOICE_STATUS_PAID || s.status == inv::INVOICE_STATUS_CLOSED) &&
        !s.AllPaid()) {
      Violation(what + " has an installment not paid");
    }
  });

  report->order_log = orders_->figures();
  report->invoice_log = invoices_->figures();
}

}  // namespace payorch::runtime::internal
