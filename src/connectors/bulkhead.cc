#include "connectors/bulkhead.h"

#include <algorithm>
#include <chrono>

#include "common/thread_name.h"

namespace payorch::connectors {

namespace {

constexpr uint32_t kDefaultBudgetMs = 1000;  // an op without a timeout of its own
constexpr double kLatencyWeight = 0.2;       // of the newest task in the weighted mean

}  // namespace

bool IsSaturated(const BulkheadLoad& load, const BulkheadOptions& options, uint32_t budget_ms) {
  if (load.queued >= options.queue_limit) return true;
  const int concurrency = std::max(1, options.concurrency);
  if (load.in_flight < concurrency) return false;  // a worker is free
  const double budget = budget_ms == 0 ? kDefaultBudgetMs : budget_ms;
  // The queued work ahead of a new charge, spread over the workers.
  const double wait_ms = static_cast<double>(load.queued) / concurrency * load.latency_ms;
  return wait_ms > budget;
}

bool EveryProcessorSaturated(const std::vector<std::pair<std::string, BulkheadLoad>>& loads,
                             const std::vector<std::string>& known,
                             const BulkheadOptions& options) {
  bool any_work = false;
  for (const auto& [processor, load] : loads) {
    if (load.queued == 0 && load.in_flight == 0) return false;  // idle: room
    any_work = true;
    if (!IsSaturated(load, options, 0)) return false;
  }
  for (const std::string& processor : known) {
    const bool has_pool = std::any_of(loads.begin(), loads.end(),
                                      [&](const auto& pl) { return pl.first == processor; });
    if (!has_pool) return false;  // never called: room
  }
  return any_work;
}

Bulkhead::Bulkhead(BulkheadOptions options) : options_(options) {}

Bulkhead::~Bulkhead() { Stop(); }

void Bulkhead::Submit(const std::string& processor, Lane lane, std::function<void()> task) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  std::unique_ptr<Pool>& pool = pools_[processor];
  if (!pool) {
    pool = std::make_unique<Pool>();
    for (int i = 0; i < std::max(1, options_.concurrency); ++i) {
      pool->workers.emplace_back([this, p = pool.get(), processor] {
        NameThisThread("po-gw-" + processor);
        Work(p);
      });
    }
  }
  pool->lanes[static_cast<int>(lane)].push_back(std::move(task));
  ++pool->queued;
  ++queued_;
  pool->ready.notify_one();
}

void Bulkhead::Work(Pool* pool) {
  std::unique_lock lock(mu_);
  for (;;) {
    pool->ready.wait(lock, [&] { return stopping_ || pool->queued > 0; });
    if (stopping_) return;
    std::function<void()> task;
    for (auto& lane : pool->lanes) {
      if (lane.empty()) continue;
      task = std::move(lane.front());
      lane.pop_front();
      break;
    }
    --pool->queued;
    --queued_;
    ++pool->in_flight;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    task();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    lock.lock();
    --pool->in_flight;
    pool->latency_ms =
        pool->latency_ms == 0 ? ms : (1 - kLatencyWeight) * pool->latency_ms + kLatencyWeight * ms;
  }
}

bool Bulkhead::Saturated(const std::string& processor, uint32_t budget_ms) const {
  return IsSaturated(LoadOf(processor), options_, budget_ms);
}

BulkheadLoad Bulkhead::LoadOf(const std::string& processor) const {
  std::lock_guard lock(mu_);
  auto it = pools_.find(processor);
  if (it == pools_.end()) return {};
  return {it->second->queued, it->second->in_flight, it->second->latency_ms};
}

std::vector<std::pair<std::string, BulkheadLoad>> Bulkhead::Loads() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, BulkheadLoad>> out;
  for (const auto& [name, pool] : pools_) {
    out.emplace_back(name, BulkheadLoad{pool->queued, pool->in_flight, pool->latency_ms});
  }
  return out;
}

size_t Bulkhead::queued() const {
  std::lock_guard lock(mu_);
  return queued_;
}

void Bulkhead::Stop() {
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [name, pool] : pools_) {
      for (auto& lane : pool->lanes) lane.clear();
      queued_ -= pool->queued;
      pool->queued = 0;
      pool->ready.notify_all();
      for (auto& w : pool->workers) workers.push_back(std::move(w));
    }
  }
  for (auto& w : workers) w.join();
}

}  // namespace payorch::connectors
