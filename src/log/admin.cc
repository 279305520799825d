#include "log/admin.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>
#include <utility>

#include "log/internal/client.h"

namespace payorch::log {

using internal::ClientState;

struct Admin::Impl {
  ClientState state;
  internal::Handle rk;
};

StatusOr<std::unique_ptr<Admin>> Admin::Create(const KafkaOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->state.logger = internal::LoggerFor(options);
  impl->state.owner = impl.get();
  StatusOr<rd_kafka_conf_t*> conf =
      internal::NewConf(options, internal::ClientKind::kAdmin, &impl->state, {});
  if (!conf.ok()) return conf.status();
  StatusOr<internal::Handle> rk = internal::NewHandle(RD_KAFKA_PRODUCER, conf.value());
  if (!rk.ok()) return rk.status();
  impl->rk = std::move(rk).value();
  return std::unique_ptr<Admin>(new Admin(std::move(impl)));
}

Admin::Admin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Admin::~Admin() = default;

StatusOr<std::vector<TopicInfo>> Admin::ListTopics(int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  // all_topics=1 lists without creating anything (a request naming topics may
  // auto-create them).
  rd_kafka_resp_err_t err = rd_kafka_metadata(impl_->rk.get(), 1, nullptr, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::MakeError(err, "list topics");
  std::vector<TopicInfo> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR || t.topic[0] == '_') continue;
    out.push_back(TopicInfo{t.topic, t.partition_cnt});
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

StatusOr<int> Admin::PartitionCount(const std::string& topic, int timeout_ms) {
  StatusOr<std::vector<TopicInfo>> topics = ListTopics(timeout_ms);
  if (!topics.ok()) return topics.status();
  for (const TopicInfo& t : topics.value()) {
    if (t.name == topic) return t.partitions;
  }
  return internal::MakeError(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, "topic " + topic);
}

StatusOr<Watermarks> Admin::QueryWatermarks(const std::string& topic, PartitionId partition,
                                            int timeout_ms) {
  return internal::QueryWatermarks(impl_->rk.get(), topic, partition, timeout_ms);
}

Status Admin::CreateTopic(const std::string& topic, int partitions, int replication_factor,
                          int timeout_ms) {
  rd_kafka_t* rk = impl_->rk.get();
  char errstr[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, errstr, sizeof(errstr));
  if (nt == nullptr) return internal::ConfigError("topic " + topic + ": " + errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof(errstr));
  rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, errstr, sizeof(errstr));
  rd_kafka_CreateTopics(rk, &nt, 1, opts, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, timeout_ms + 1000);
  Status status;
  if (ev == nullptr) {
    status = internal::MakeError(RD_KAFKA_RESP_ERR__TIMED_OUT, "create topic " + topic);
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = internal::MakeError(rd_kafka_event_error(ev),
                                 "create topic " + topic + ": " + rd_kafka_event_error_string(ev));
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* why = rd_kafka_topic_result_error_string(results[i]);
        status = internal::MakeError(
            err, "create topic " + topic + (why ? ": " : "") + (why ? why : ""));
      }
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(queue);
  return status;
}

Status Admin::EnsureTopics(const KafkaOptions& options, int timeout_ms) {
  StatusOr<std::vector<TopicInfo>> existing = ListTopics(timeout_ms);
  if (!existing.ok()) return existing.status();
  auto count = [&](const std::string& name) {
    for (const TopicInfo& t : existing.value()) {
      if (t.name == name) return t.partitions;
    }
    return 0;
  };
  for (const std::string& topic : options.AllTopics()) {
    if (count(topic) > 0) continue;
    impl_->state.logger->info("creating topic {} ({} partitions, replication {})", topic,
                              options.partitions, options.replication_factor);
    if (Status s = CreateTopic(topic, options.partitions, options.replication_factor, timeout_ms);
        !s.ok()) {
      // librdkafka 2.0.2's mock cluster does not answer CreateTopics.
      return Status(s.code(),
                    s.message() +
                        " (an embedded broker cannot create topics on request: it creates the "
                        "payorch topics when it starts, e.g. `payorch broker`)",
                    s.native_code());
    }
  }
  // A new topic shows in metadata once the controller has propagated it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    existing = ListTopics(timeout_ms);
    if (!existing.ok()) return existing.status();
    bool all = true;
    for (const std::string& topic : options.AllTopics()) all = all && count(topic) > 0;
    if (all) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return internal::MakeError(RD_KAFKA_RESP_ERR__TIMED_OUT, "created topics did not appear");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Each commands topic and its events topic: the writer of command partition P writes
  // event partition P.
  for (auto [c, e] : {std::pair{TopicKind::kCommands, TopicKind::kEvents},
                      std::pair{TopicKind::kInvoiceCommands, TopicKind::kInvoiceEvents},
                      std::pair{TopicKind::kOrderCommands, TopicKind::kOrderEvents}}) {
    const std::string commands = options.Topic(c);
    const std::string events = options.Topic(e);
    if (count(commands) != count(events)) {
      return internal::ConfigError(commands + " has " + std::to_string(count(commands)) +
                                   " partitions but " + events + " has " +
                                   std::to_string(count(events)) +
                                   ": the writer of command partition P writes event partition P");
    }
  }
  return Status::Ok();
}

bool IsUnknownTopic(const Status& s) {
  return s.native_code() == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
         s.native_code() == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
}

}  // namespace payorch::log
