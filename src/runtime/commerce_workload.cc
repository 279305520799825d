#include "runtime/commerce_workload.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "command/aggregate.h"
#include "command/validity.h"
#include "invoice/invoice.h"
#include "log/admin.h"
#include "log/consumer.h"
#include "log/producer.h"
#include "order/order.h"

namespace payorch::runtime {

namespace {

namespace cmd = ::payments::commands::v1;
namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;
namespace types = ::payments::types::v1;

constexpr int kProduceTimeoutMs = 10'000;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

struct CommerceWorkload::Impl {
  log::KafkaOptions kafka;
  CommerceOptions options;
  std::unique_ptr<log::Producer> producer;
  log::StartAt listener;  // every partition from the beginning
  std::unique_ptr<log::Consumer> order_events;
  std::unique_ptr<log::Consumer> invoice_events;
  std::thread observer;
  std::atomic<bool> stop{false};
  std::string failure;

  mutable std::mutex mu;
  std::condition_variable changed;  // notified after each batch the observer folds
  std::unordered_map<std::string, order::OrderState> orders;
  std::unordered_map<std::string, invoice::InvoiceState> invoices;
  // Per partition of each events topic (the validity rule is per partition).
  std::unordered_map<int32_t, command::EpochFilter> order_filters;
  std::unordered_map<int32_t, command::EpochFilter> invoice_filters;
  std::unordered_map<std::string, uint32_t> next_installment;  // invoice -> installment linked
  // Payments retried after a release, per order or invoice installment ("<id>/i<n>").
  static constexpr int kMaxRetries = 3;
  std::unordered_map<std::string, int> retries;
  int64_t rejected = 0;
  int64_t order_events_counted = 0;
  int64_t invoice_events_counted = 0;

  std::string Append(log::TopicKind kind, const std::string& key, const std::string& value) {
    auto at = producer->ProduceSync({kafka.Topic(kind), log::kAnyPartition, key, value, {}},
                                    kProduceTimeoutMs);
    return at.ok() ? "" : at.status().ToString();
  }

  cmd::CommandEnvelope Payment(const std::string& key, const std::string& link_key,
                               const std::string& link_id, const std::string& currency,
                               int64_t amount) const {
    cmd::CommandEnvelope env;
    env.set_schema_version(1);
    env.set_command_id("commerce/" + key);
    env.set_correlation_id(link_id);
    auto* c = env.mutable_create();
    c->set_merchant_id(options.merchant_id);
    c->mutable_amount()->set_amount_minor(amount);
    c->mutable_amount()->set_currency(currency);
    c->set_method(types::PAYMENT_METHOD_CARD);
    c->set_idempotency_key(key);
    (*c->mutable_metadata())[link_key] = link_id;
    c->set_confirm(true);
    return env;
  }

  // A payment's idempotency key: the first attempt's, then one per retry.
  static std::string AttemptKey(const std::string& base, int attempt) {
    return attempt == 0 ? base : base + "/r" + std::to_string(attempt);
  }

  // LinkPayment, acknowledged, then the payment: the link is before the saga's facts in the
  // order's commands partition. `attempt` > 0 after the previous payment was released.
  std::string PayOrder(const order::OrderState& s, int attempt) {
    const std::string key = AttemptKey(s.order_id + "/pay", attempt);
    cmd::CommandEnvelope pay =
        Payment(key, order::kPaymentLinkKey, s.order_id, s.currency, s.total_minor);
    const std::string payment_id = command::TargetPaymentId(pay);
    ord::OrderCommandEnvelope link;
    link.set_schema_version(1);
    link.set_command_id("commerce/" + key + "/link");
    link.set_order_id(s.order_id);
    link.set_merchant_id(options.merchant_id);
    link.mutable_link_payment()->set_payment_id(payment_id);
    link.mutable_link_payment()->mutable_amount()->set_amount_minor(s.total_minor);
    link.mutable_link_payment()->mutable_amount()->set_currency(s.currency);
    if (std::string err =
            Append(log::TopicKind::kOrderCommands, s.order_id, link.SerializeAsString());
        !err.empty()) {
      return err;
    }
    return Append(log::TopicKind::kCommands, payment_id, pay.SerializeAsString());
  }

  // The same for installment n of an invoice.
  std::string PayInstallment(const std::string& invoice_id, const invoice::InvoiceState& s,
                             uint32_t n, int attempt) {
    const int64_t amount = s.installments[n - 1].outstanding_minor();
    const std::string key = AttemptKey(invoice_id + "/i" + std::to_string(n), attempt);
    cmd::CommandEnvelope pay =
        Payment(key, invoice::kPaymentLinkKey, invoice_id, s.currency, amount);
    const std::string payment_id = command::TargetPaymentId(pay);
    inv::InvoiceCommandEnvelope link;
    link.set_schema_version(1);
    link.set_command_id("commerce/" + key + "/link");
    link.set_invoice_id(invoice_id);
    link.set_merchant_id(options.merchant_id);
    auto* l = link.mutable_link_payment();
    l->set_payment_id(payment_id);
    l->set_installment(n);
    l->mutable_amount()->set_amount_minor(amount);
    l->mutable_amount()->set_currency(s.currency);
    if (std::string err =
            Append(log::TopicKind::kInvoiceCommands, invoice_id, link.SerializeAsString());
        !err.empty()) {
      return err;
    }
    return Append(log::TopicKind::kCommands, payment_id, pay.SerializeAsString());
  }

  void ObserveOrder(const log::Record& r) {
    ord::OrderEventEnvelope e;
    if (!e.ParseFromString(r.value)) return;
    std::unique_lock<std::mutex> lock(mu);
    if (order_filters[r.partition.value()].Observe(e) != command::Verdict::kCounted) return;
    ++order_events_counted;
    if (e.has_command_rejected()) ++rejected;
    if (e.order_id().empty() || e.sequence() == 0) return;  // a rejection outside an order
    order::OrderState& s = orders[e.order_id()];
    // A group re-published by the partition's next writer (its first writer died before
    // persisting it) repeats sequences already applied.
    if (e.sequence() <= s.sequence) return;
    order::Evolve(s, e);
    if (!e.has_payment_released()) return;
    // The payment failed or was canceled: the customer tries again, a few times.
    int& attempts = retries[e.order_id()];
    if (attempts >= kMaxRetries) return;
    ++attempts;
    const order::OrderState copy = s;
    const int attempt = attempts;
    lock.unlock();
    Report(PayOrder(copy, attempt), "order " + copy.order_id);
  }

  void Report(const std::string& err, const std::string& what) {
    if (err.empty()) return;
    std::lock_guard<std::mutex> lock(mu);
    if (failure.empty()) failure = what + ": " + err;
  }

  // Folds the invoice; once installment n is paid, links and pays n + 1.
  void ObserveInvoice(const log::Record& r) {
    inv::InvoiceEventEnvelope e;
    if (!e.ParseFromString(r.value)) return;
    std::unique_lock<std::mutex> lock(mu);
    if (invoice_filters[r.partition.value()].Observe(e) != command::Verdict::kCounted) return;
    ++invoice_events_counted;
    if (e.has_command_rejected()) ++rejected;
    if (e.invoice_id().empty() || e.sequence() == 0) return;  // outside an invoice
    invoice::InvoiceState& s = invoices[e.invoice_id()];
    if (e.sequence() <= s.sequence) return;  // a re-published group's repeat
    invoice::Evolve(s, e);
    if (e.has_payment_released()) {
      // The installment's payment failed: the customer tries again, a few times.
      const uint32_t n = e.payment_released().installment();
      int& attempts = retries[e.invoice_id() + "/i" + std::to_string(n)];
      if (attempts >= kMaxRetries || n == 0 || n > s.installments.size()) return;
      ++attempts;
      const invoice::InvoiceState copy = s;
      const int attempt = attempts;
      lock.unlock();
      Report(PayInstallment(e.invoice_id(), copy, n, attempt), "invoice " + copy.invoice_id);
      return;
    }
    if (!e.has_installment_paid()) return;
    const uint32_t paid = e.installment_paid().installment();
    uint32_t& next = next_installment[e.invoice_id()];
    if (paid != next || paid >= s.installments.size()) return;
    ++next;
    const invoice::InvoiceState copy = s;
    lock.unlock();
    Report(PayInstallment(e.invoice_id(), copy, paid + 1, 0), "invoice " + copy.invoice_id);
  }

  void Observe() {
    std::vector<log::Record> batch;
    while (!stop.load()) {
      batch.clear();
      order_events->PollBatch(500, 20, &batch).IgnoreError();
      for (const auto& r : batch) ObserveOrder(r);
      const bool orders_read = !batch.empty();
      batch.clear();
      invoice_events->PollBatch(500, 20, &batch).IgnoreError();
      for (const auto& r : batch) ObserveInvoice(r);
      if (orders_read || !batch.empty()) changed.notify_all();
    }
  }

  // Every order paid or ended and every invoice paid or ended, or their retries ran out.
  // Holds `mu`.
  bool SettledLocked() const {
    bool all = static_cast<int>(orders.size()) >= options.orders &&
               static_cast<int>(invoices.size()) >= options.invoices;
    const auto gave_up = [&](const std::string& id) {
      auto it = retries.find(id);
      return it != retries.end() && it->second >= kMaxRetries;
    };
    for (const auto& [id, o] : orders) {
      all = all && (o.status == ord::ORDER_STATUS_PAID || order::IsTerminalOrderStatus(o.status) ||
                    (o.status == ord::ORDER_STATUS_AWAITING_PAYMENT && gave_up(id)));
    }
    for (const auto& [id, s] : invoices) {
      bool stuck = false;  // an installment whose retries ran out, nothing pending
      for (const auto& i : s.installments) {
        stuck = stuck || (!i.paid && gave_up(id + "/i" + std::to_string(i.row.number)) &&
                          s.PendingPaymentOf(i.row.number) == nullptr);
      }
      all = all && (s.status == inv::INVOICE_STATUS_PAID ||
                    invoice::IsTerminalInvoiceStatus(s.status) || stuck);
    }
    return all;
  }
};

CommerceWorkload::CommerceWorkload(log::KafkaOptions kafka, CommerceOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->kafka = std::move(kafka);
  impl_->options = std::move(options);
  if (impl_->options.observer_group.empty()) {
    impl_->options.observer_group = "payorch.commerce-observer." + std::to_string(::getpid());
  }
}

CommerceWorkload::~CommerceWorkload() { Stop(); }

std::string CommerceWorkload::Start() {
  auto producer = log::Producer::Create(impl_->kafka);
  if (!producer.ok()) return "commerce producer: " + producer.status().ToString();
  impl_->producer = std::move(producer.value());
  auto admin = log::Admin::Create(impl_->kafka);
  if (!admin.ok()) return "commerce admin: " + admin.status().ToString();
  auto open = [&](log::TopicKind kind, std::unique_ptr<log::Consumer>* out) -> std::string {
    const std::string topic = impl_->kafka.Topic(kind);
    auto n = admin.value()->PartitionCount(topic);
    if (!n.ok()) return topic + ": " + n.status().ToString();
    std::vector<PartitionId> all;
    for (int32_t p = 0; p < n.value(); ++p) all.emplace_back(p);
    auto c = log::Consumer::CreateAssigned(impl_->kafka, impl_->options.observer_group, topic, all,
                                           &impl_->listener);
    if (!c.ok()) return topic + ": " + c.status().ToString();
    *out = std::move(c.value());
    return "";
  };
  if (std::string err = open(log::TopicKind::kOrderEvents, &impl_->order_events); !err.empty()) {
    return err;
  }
  if (std::string err = open(log::TopicKind::kInvoiceEvents, &impl_->invoice_events);
      !err.empty()) {
    return err;
  }
  impl_->observer = std::thread([this] { impl_->Observe(); });
  return "";
}

std::string CommerceWorkload::PublishAll() {
  Impl& w = *impl_;
  std::mt19937_64 rng(w.options.seed);
  const char* currencies[] = {"USD", "MYR"};
  for (int i = 0; i < w.options.orders; ++i) {
    const std::string order_id =
        "ord_demo_" + std::to_string(w.options.seed) + "_" + std::to_string(i);
    ord::OrderCommandEnvelope create;
    create.set_schema_version(1);
    create.set_command_id("commerce/" + order_id + "/create");
    create.set_order_id(order_id);
    auto* c = create.mutable_create();
    c->set_merchant_id(w.options.merchant_id);
    c->set_currency(currencies[rng() % 2]);
    c->set_customer_reference("cust_" + std::to_string(rng() % 1000));
    const int lines = 1 + static_cast<int>(rng() % 3);
    for (int l = 0; l < lines; ++l) {
      auto* line = c->add_line_items();
      line->set_product_id("sku_" + std::to_string(rng() % 50));
      // At most 3 x 2 x 13.00 + 10% tax = 85.80: under the card steps' 100.00 limit, so
      // every order's payment is accepted (a refused create would leave the order pending).
      line->set_quantity(1 + static_cast<int64_t>(rng() % 2));
      line->set_unit_price_minor(100 + static_cast<int64_t>(rng() % 1200));
      line->set_tax_rate_bps(rng() % 2 == 0 ? 1000 : 600);
    }
    // The order's total, as the core prices it (the one line-pricing rule).
    order::OrderState priced;
    std::vector<ord::OrderEventEnvelope> events;
    order::DecideAndApply(priced, {&create, "", 0, 0, 0}, {1}, events);
    if (!priced.Exists()) return "order " + order_id + " was not accepted by its own core";
    if (std::string err =
            w.Append(log::TopicKind::kOrderCommands, order_id, create.SerializeAsString());
        !err.empty()) {
      return err;
    }
    if (std::string err = w.PayOrder(priced, 0); !err.empty()) return err;
  }
  for (int i = 0; i < w.options.invoices; ++i) {
    const std::string invoice_id =
        "inv_demo_" + std::to_string(w.options.seed) + "_" + std::to_string(i);
    inv::InvoiceCommandEnvelope create;
    create.set_schema_version(1);
    create.set_command_id("commerce/" + invoice_id + "/create");
    create.set_invoice_id(invoice_id);
    auto* c = create.mutable_create();
    c->set_merchant_id(w.options.merchant_id);
    c->set_currency(currencies[rng() % 2]);
    c->set_customer_reference("cust_" + std::to_string(rng() % 1000));
    for (int l = 0; l < 2; ++l) {
      auto* line = c->add_line_items();
      line->set_product_id("svc_" + std::to_string(rng() % 20));
      line->set_quantity(1 + static_cast<int64_t>(rng() % 2));
      // At most 2 x 2 x 35.00 + 11% tax + fee 1.50 + 2.5% = 164.40 in two installments of
      // at most 82.20: under the card steps' 100.00 limit (a payment refused at creation
      // sends the saga nothing, so its installment would stay linked).
      line->set_unit_price_minor(1000 + static_cast<int64_t>(rng() % 2500));
      line->set_tax_rate_bps(1100);
    }
    c->mutable_service_fee()->set_fixed_minor(150);
    c->mutable_service_fee()->set_rate_bps(250);
    const uint32_t count = 2 + static_cast<uint32_t>(rng() % 2);
    auto* plan = c->mutable_installment_plan();
    plan->set_count(count);
    for (uint32_t n = 0; n < count; ++n) {
      auto* d = plan->add_due_dates();
      d->set_year(2027);
      d->set_month(1 + n);
      d->set_day(15);
    }
    invoice::InvoiceState priced;
    std::vector<inv::InvoiceEventEnvelope> events;
    invoice::DecideAndApply(priced, {&create, "", 0, 0, 0}, {1}, events);
    if (!priced.Exists()) return "invoice " + invoice_id + " was not accepted by its own core";
    if (std::string err =
            w.Append(log::TopicKind::kInvoiceCommands, invoice_id, create.SerializeAsString());
        !err.empty()) {
      return err;
    }
    {
      std::lock_guard<std::mutex> lock(w.mu);
      w.next_installment[invoice_id] = 1;
    }
    if (std::string err = w.PayInstallment(invoice_id, priced, 1, 0); !err.empty()) return err;
  }
  return "";
}

bool CommerceWorkload::WaitSettled(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(impl_->mu);
  // Woken by the observer after each batch it folds.
  return impl_->changed.wait_until(lock, deadline, [this] { return impl_->SettledLocked(); });
}

void CommerceWorkload::Stop() {
  impl_->stop = true;
  if (impl_->observer.joinable()) impl_->observer.join();
}

CommerceSummary CommerceWorkload::Summary() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  CommerceSummary s;
  for (const auto& [id, o] : impl_->orders) {
    ++s.orders;
    ++s.orders_by_status[Lower(order::OrderStatusName(o.status))];
  }
  for (const auto& [id, v] : impl_->invoices) {
    ++s.invoices;
    ++s.invoices_by_status[Lower(invoice::InvoiceStatusName(v.status))];
    s.installments += static_cast<int64_t>(v.installments.size());
    for (const auto& i : v.installments) s.installments_paid += i.paid ? 1 : 0;
  }
  s.rejected = impl_->rejected;
  s.order_events = impl_->order_events_counted;
  s.invoice_events = impl_->invoice_events_counted;
  return s;
}

}  // namespace payorch::runtime
