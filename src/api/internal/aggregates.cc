#include "api/internal/aggregates.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "command/validity.h"
#include "common/rocksdb_status.h"
#include "common/thread_name.h"
#include "invoice/invoice.h"
#include "log/admin.h"
#include "log/consumer.h"
#include "order/order.h"

namespace payorch::api::internal {

namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;

struct AggregateFollower::Waiter {
  std::string command_id;
  std::mutex mu;
  std::condition_variable cv;
  AggregateDecision decision;
};

// One events partition's reading position and its filters, as the checkpoint keeps them.
struct AggregateFollower::Partition {
  command::EpochFilter filter;
  command::BasicCommandGroups<inv::InvoiceEventEnvelope> invoice_groups;
  command::BasicCommandGroups<ord::OrderEventEnvelope> order_groups;
  int64_t next_offset = 0;     // 0: from the beginning
  int64_t partial_start = -1;  // first record of an unfinished group, -1 if none
  std::string checkpoint_key;
};

namespace {

const char* Tag(AggregateKind kind) { return kind == AggregateKind::kInvoice ? "i" : "o"; }

std::string CheckpointKey(AggregateKind kind, int32_t partition) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%010d", partition);
  return std::string("c/") + Tag(kind) + "/" + buf;
}

std::string EventPrefix(AggregateKind kind, const std::string& id) {
  std::string k = std::string("e/") + Tag(kind) + "/" + id;
  k.push_back('\0');
  return k;
}

std::string EventKey(AggregateKind kind, const std::string& id, uint64_t sequence) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(sequence));
  return EventPrefix(kind, id) + buf;
}

// t/<merchant>\0<YYYY-MM-DD>\0<currency> -> "principal,taxes,fees,installments,overpaid"
std::string MoneyPrefix(const std::string& merchant) {
  std::string k = "t/" + merchant;
  k.push_back('\0');
  return k;
}

std::string UtcDay(int64_t ms) {
  const auto day = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms)));
  const std::chrono::year_month_day ymd(day);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string EncodeMoney(const InvoiceMoney& m) {
  return std::to_string(m.principal) + "," + std::to_string(m.taxes) + "," +
         std::to_string(m.service_fees) + "," + std::to_string(m.installments_paid) + "," +
         std::to_string(m.overpaid);
}

bool DecodeMoney(const std::string& text, InvoiceMoney* m) {
  long long v[5];
  if (std::sscanf(text.c_str(), "%lld,%lld,%lld,%lld,%lld", &v[0], &v[1], &v[2], &v[3], &v[4]) != 5)
    return false;
  *m = {v[0], v[1], v[2], v[3], v[4]};
  return true;
}

std::string EncodeCheckpoint(const AggregateFollower::Partition& p, int64_t next) {
  return std::to_string(next) + "," + std::to_string(p.filter.epoch()) + "," +
         std::to_string(p.filter.highest_seen()) + "," +
         std::to_string(p.invoice_groups.last_complete_offset()) + "," +
         std::to_string(p.order_groups.last_complete_offset());
}

void DecodeCheckpoint(const std::string& text, AggregateFollower::Partition* p) {
  long long next = 0, last_i = -1, last_o = -1;
  unsigned long long epoch = 0, highest = 0;
  if (std::sscanf(text.c_str(), "%lld,%llu,%llu,%lld,%lld", &next, &epoch, &highest, &last_i,
                  &last_o) != 5)
    return;  // unreadable: from the beginning (every write is idempotent by sequence)
  p->next_offset = next;
  p->filter.Restore(epoch, highest);
  p->invoice_groups.set_last_complete_offset(last_i);
  p->order_groups.set_last_complete_offset(last_o);
}

std::string Unprefixed(std::string name) {
  if (name.rfind("REJECT_REASON_", 0) == 0) name = name.substr(14);
  return name;
}

// The decision a complete group of one command states.
template <class Event>
AggregateDecision DecisionOf(const std::vector<Event>& group) {
  AggregateDecision d;
  d.decided = true;
  for (const Event& e : group) {
    if (e.has_command_rejected()) {
      const auto& r = e.command_rejected();
      d.rejection = Unprefixed(RejectReason_Name(r.reason()));
      if (d.rejection.empty()) d.rejection = "UNSPECIFIED";
      d.detail = r.detail();
      d.command_type = r.command_type();
    }
    if (e.has_command_deduplicated()) {
      d.deduplicated = true;
      d.command_type = e.command_deduplicated().command_type();
    }
  }
  return d;
}

const std::string& IdOf(const inv::InvoiceEventEnvelope& e) { return e.invoice_id(); }
const std::string& IdOf(const ord::OrderEventEnvelope& e) { return e.order_id(); }

template <class State, class Event>
std::optional<State> Fold(rocksdb::DB* db, AggregateKind kind, const std::string& id) {
  if (db == nullptr || id.empty()) return std::nullopt;
  const std::string prefix = EventPrefix(kind, id);
  State s;
  Event e;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) continue;
    if (e.sequence() <= s.sequence) continue;  // never twice (keys are by sequence)
    if constexpr (std::is_same_v<State, invoice::InvoiceState>) {
      invoice::Evolve(s, e);
    } else {
      order::Evolve(s, e);
    }
  }
  // A read error is no view, never a view of part of the history.
  if (!it->status().ok() || !s.Exists()) return std::nullopt;
  return s;
}

}  // namespace

AggregateFollower::AggregateFollower(log::KafkaOptions kafka, std::string dir)
    : kafka_(std::move(kafka)), dir_(std::move(dir)) {}

AggregateFollower::~AggregateFollower() { Stop(); }

std::string AggregateFollower::Open() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(o, dir_, &db);
  if (!s.ok()) return FromRocksDb(s, "commerce store " + dir_).ToString();
  db_.reset(db);
  return "";
}

std::string AggregateFollower::Start() {
  if (std::string err = Open(); !err.empty()) return err;
  for (AggregateKind kind : {AggregateKind::kInvoice, AggregateKind::kOrder}) {
    if (std::string err = Run(kind); !err.empty()) return err;
  }
  return "";
}

std::string AggregateFollower::Run(AggregateKind kind) {
  const std::string topic =
      kafka_.Topic(kind == AggregateKind::kInvoice ? log::TopicKind::kInvoiceEvents
                                                   : log::TopicKind::kOrderEvents);
  auto admin = log::Admin::Create(kafka_);
  if (!admin.ok()) return "commerce follower: " + admin.status().ToString();
  auto count = admin.value()->PartitionCount(topic);
  if (!count.ok()) return "commerce follower: " + count.status().ToString();
  std::vector<log::PartitionOffset> starts;
  std::vector<PartitionId> partitions;
  for (int32_t p = 0; p < count.value(); ++p) {
    const int64_t next = PartitionOf(kind, p).next_offset;
    starts.push_back({PartitionId{p}, next > 0 ? Offset{next} : log::kOffsetBeginning});
    partitions.push_back(PartitionId{p});
  }
  auto listener = std::make_shared<log::StartAt>(std::move(starts));
  auto consumer = log::Consumer::CreateAssigned(kafka_, std::string("payorch.api.") + Tag(kind),
                                                topic, partitions, listener.get());
  if (!consumer.ok()) return "commerce follower: " + consumer.status().ToString();
  threads_.emplace_back([this, kind, listener, c = std::move(consumer.value())]() mutable {
    NameThisThread(std::string("po-follow-") + Tag(kind));
    std::vector<log::Record> batch;
    while (!stop_) {
      batch.clear();
      log::LogStatus s = c->PollBatch(500, 200, &batch);
      if (!s.ok()) {
        spdlog::warn("merchant api: commerce follower: {}", s.ToString());
        // Back off, but a Stop() ends the wait at once.
        std::unique_lock<std::mutex> lock(stop_mu_);
        stop_cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_.load(); });
        continue;
      }
      bool stored = true;
      for (const log::Record& r : batch) {
        // A store error (logged by Apply) stops this follower: reading on would move the
        // checkpoint past the record it could not store. The views stay at the last stored
        // point, requests that wait on a decision answer 503, a restart reads from there.
        stored = Apply(kind, r.partition.value(), r.offset.value(), r.value).ok();
        if (!stored) break;
      }
      if (!stored) {
        spdlog::error("merchant api: commerce follower of {} stopped after a store error",
                      Tag(kind));
        break;
      }
    }
    c.reset();
  });
  return "";
}

void AggregateFollower::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

AggregateFollower::Partition& AggregateFollower::PartitionOf(AggregateKind kind,
                                                             int32_t partition) {
  const std::string key = CheckpointKey(kind, partition);
  std::lock_guard<std::mutex> lock(partitions_mu_);
  auto& slot = partitions_[key];
  if (!slot) {
    slot = std::make_unique<Partition>();
    slot->checkpoint_key = key;
    std::string text;
    if (db_ && db_->Get(rocksdb::ReadOptions(), key, &text).ok())
      DecodeCheckpoint(text, slot.get());
  }
  return *slot;
}

Status AggregateFollower::Apply(AggregateKind kind, int32_t partition, int64_t offset,
                                std::string_view value) {
  Partition& p = PartitionOf(kind, partition);
  if (kind == AggregateKind::kInvoice) {
    inv::InvoiceEventEnvelope e;
    if (!e.ParseFromArray(value.data(), static_cast<int>(value.size()))) e.Clear();
    return ApplyTyped(kind, p, offset, e);
  }
  ord::OrderEventEnvelope e;
  if (!e.ParseFromArray(value.data(), static_cast<int>(value.size()))) e.Clear();
  return ApplyTyped(kind, p, offset, e);
}

template <class Event>
Status AggregateFollower::ApplyTyped(AggregateKind kind, Partition& p, int64_t offset,
                                     const Event& e) {
  auto& groups = [&]() -> command::BasicCommandGroups<Event>& {
    if constexpr (std::is_same_v<Event, inv::InvoiceEventEnvelope>) {
      return p.invoice_groups;
    } else {
      return p.order_groups;
    }
  }();
  rocksdb::WriteBatch batch;
  std::optional<std::vector<Event>> group;
  if (e.schema_version() != 0) {  // an unreadable record counts for nothing
    switch (p.filter.Observe(e)) {
      case command::Verdict::kClaim:
        groups.DropPartial();
        p.partial_start = -1;
        break;
      case command::Verdict::kFenced:
        break;
      case command::Verdict::kCounted:
        if (e.causation().index() == 0) p.partial_start = offset;
        group = groups.Add(e);
        break;
    }
  }
  if (group) {
    if constexpr (std::is_same_v<Event, inv::InvoiceEventEnvelope>) {
      if (Status s = AddInvoiceMoney(*group, &batch); !s.ok()) return s;
    }
    p.partial_start = -1;
    for (const Event& g : *group) {
      if (g.sequence() == 0 || IdOf(g).empty()) continue;  // a rejection outside any aggregate
      batch.Put(EventKey(kind, IdOf(g), g.sequence()), g.SerializeAsString());
    }
  }
  const int64_t next = p.partial_start >= 0 ? p.partial_start : offset + 1;
  batch.Put(p.checkpoint_key, EncodeCheckpoint(p, next));
  Status s = FromRocksDb(db_->Write(rocksdb::WriteOptions(), &batch), "commerce store write");
  if (!s.ok()) {
    spdlog::error("merchant api: commerce follower: {}", s.ToString());
    return s;
  }
  p.next_offset = next;
  if (group && !group->empty())
    Complete(group->front().causation().command_id(), DecisionOf(*group));
  return s;
}

Status AggregateFollower::AddInvoiceMoney(const std::vector<inv::InvoiceEventEnvelope>& group,
                                          rocksdb::WriteBatch* batch) {
  bool pays = false;
  for (const auto& e : group) pays = pays || e.has_installment_paid() || e.has_invoice_overpaid();
  if (!pays || group.front().invoice_id().empty()) return Status::Ok();
  // The invoice as it was before this group (its events are not written yet), then each
  // event of the group: an InstallmentPaid counts its installment's schedule row.
  invoice::InvoiceState s = Fold<invoice::InvoiceState, inv::InvoiceEventEnvelope>(
                                db_.get(), AggregateKind::kInvoice, group.front().invoice_id())
                                .value_or(invoice::InvoiceState{});
  std::map<std::string, InvoiceMoney> added;  // by key
  for (const auto& e : group) {
    invoice::Evolve(s, e);
    if (!e.has_installment_paid() && !e.has_invoice_overpaid()) continue;
    const std::string key =
        MoneyPrefix(s.merchant_id) + UtcDay(e.occurred_at_ms()) + '\0' + s.currency;
    InvoiceMoney& m = added[key];
    if (e.has_invoice_overpaid()) {
      m.overpaid += e.invoice_overpaid().amount_minor();
      continue;
    }
    const uint32_t n = e.installment_paid().installment();
    if (n == 0 || n > s.installments.size()) continue;
    const auto& columns = s.installments[n - 1].row.columns;
    m.principal += columns.principal_minor;
    m.taxes += columns.tax_minor;
    m.service_fees += columns.fee_minor;
    ++m.installments_paid;
  }
  for (const auto& [key, m] : added) {
    std::string value;
    InvoiceMoney total;
    rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), key, &value);
    if (!st.ok() && !st.IsNotFound()) return FromRocksDb(st, "commerce store read");
    if (st.ok()) DecodeMoney(value, &total);
    total.principal += m.principal;
    total.taxes += m.taxes;
    total.service_fees += m.service_fees;
    total.installments_paid += m.installments_paid;
    total.overpaid += m.overpaid;
    batch->Put(key, EncodeMoney(total));
  }
  return Status::Ok();
}

std::map<std::string, InvoiceMoney> AggregateFollower::InvoiceTotals(const std::string& merchant,
                                                                     const std::string& from,
                                                                     const std::string& to) const {
  std::map<std::string, InvoiceMoney> out;
  if (db_ == nullptr) return out;
  const std::string prefix = MoneyPrefix(merchant);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix + from); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string rest = it->key().ToString().substr(prefix.size());
    const size_t cut = rest.find('\0');
    if (cut == std::string::npos || rest.substr(0, cut) > to) break;
    InvoiceMoney m;
    if (!DecodeMoney(it->value().ToString(), &m)) continue;
    InvoiceMoney& t = out[rest.substr(cut + 1)];
    t.principal += m.principal;
    t.taxes += m.taxes;
    t.service_fees += m.service_fees;
    t.installments_paid += m.installments_paid;
    t.overpaid += m.overpaid;
  }
  return out;
}

void AggregateFollower::Complete(const std::string& command_id, const AggregateDecision& d) {
  std::vector<std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_command_.find(command_id);
    if (it == by_command_.end()) return;
    waiters = it->second;
  }
  for (const auto& w : waiters) {
    std::lock_guard<std::mutex> lock(w->mu);
    w->decision = d;
    w->cv.notify_all();
  }
}

std::shared_ptr<AggregateFollower::Waiter> AggregateFollower::Expect(
    const std::string& command_id) {
  auto w = std::make_shared<Waiter>();
  w->command_id = command_id;
  std::lock_guard<std::mutex> lock(mu_);
  by_command_[command_id].push_back(w);
  return w;
}

AggregateDecision AggregateFollower::Wait(const std::shared_ptr<Waiter>& w,
                                          std::chrono::steady_clock::time_point deadline) {
  AggregateDecision d;
  {
    std::unique_lock<std::mutex> lock(w->mu);
    w->cv.wait_until(lock, deadline, [&] { return w->decision.decided; });
    d = w->decision;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_command_.find(w->command_id);
  if (it != by_command_.end()) {
    std::erase(it->second, w);
    if (it->second.empty()) by_command_.erase(it);
  }
  return d;
}

std::optional<invoice::InvoiceState> AggregateFollower::Invoice(const std::string& id) const {
  return Fold<invoice::InvoiceState, inv::InvoiceEventEnvelope>(db_.get(), AggregateKind::kInvoice,
                                                                id);
}

std::optional<order::OrderState> AggregateFollower::Order(const std::string& id) const {
  return Fold<order::OrderState, ord::OrderEventEnvelope>(db_.get(), AggregateKind::kOrder, id);
}

}  // namespace payorch::api::internal
