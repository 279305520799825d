#include "log/appender.h"

#include "common/thread_name.h"
#include "log/producer.h"

namespace payorch::log {

struct Appender::Pending {
  OutRecord record;
  std::function<void(const std::string&)> done;
};

Appender::Appender(KafkaOptions kafka, std::string thread_name)
    : kafka_(std::move(kafka)), thread_name_(std::move(thread_name)) {}
Appender::~Appender() { Stop(); }

std::string Appender::Start() {
  std::mutex started_mu;
  std::condition_variable started_cv;
  bool started = false;
  thread_ = std::thread([&] {
    NameThisThread(thread_name_);
    auto producer = Producer::Create(kafka_);
    {
      std::lock_guard<std::mutex> lock(started_mu);
      if (!producer.ok()) start_error_ = "producer: " + producer.status().ToString();
      started = true;
      started_cv.notify_all();
    }
    if (!producer.ok()) return;
    auto& p = *producer.value();
    while (!stop_) {
      std::deque<std::shared_ptr<Pending>> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (queue_.empty() && p.InFlight() == 0)
          cv_.wait_for(lock, std::chrono::milliseconds(20),
                       [&] { return stop_ || !queue_.empty(); });
        batch.swap(queue_);
      }
      for (auto& pending : batch) {
        LogStatus s = p.Produce(pending->record, [pending](const Delivery& d) {
          pending->done(d.status.ok() ? "" : d.status.ToString());
        });
        if (!s.ok()) pending->done(s.ToString());
      }
      if (p.InFlight() > 0) p.Poll(1).IgnoreError();  // delivery callbacks answer the waiters
    }
    p.Flush(2'000).IgnoreError();  // stopping: waiters not answered get their 503
  });
  std::unique_lock<std::mutex> lock(started_mu);
  started_cv.wait(lock, [&] { return started; });
  return start_error_;
}

void Appender::Stop() {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Appender::AppendAsync(OutRecord record, std::function<void(const std::string& error)> done) {
  if (!start_error_.empty()) {
    done(start_error_);
    return;
  }
  auto pending = std::make_shared<Pending>();
  pending->record = std::move(record);
  pending->done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(pending));
  }
  cv_.notify_one();
}

std::string Appender::Append(OutRecord record, int64_t timeout_ms) {
  struct Outcome {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::string error;
  };
  auto outcome = std::make_shared<Outcome>();
  AppendAsync(std::move(record), [outcome](const std::string& error) {
    std::lock_guard<std::mutex> lock(outcome->mu);
    outcome->done = true;
    outcome->error = error;
    outcome->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(outcome->mu);
  if (!outcome->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                            [&] { return outcome->done; }))
    return "the log did not acknowledge the command within " + std::to_string(timeout_ms) + " ms";
  return outcome->error;
}

}  // namespace payorch::log
