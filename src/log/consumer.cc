#include "log/consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "log/internal/client.h"

namespace payorch::log {

using internal::ClientState;
using internal::PartitionList;

struct Consumer::Impl {
  ClientState state;
  internal::Handle rk;
  rd_kafka_queue_t* queue = nullptr;
  std::string topic;
  std::string group;
  ConsumerLagProbe* lag_probe = nullptr;
  RebalanceListener* listener = nullptr;
  std::vector<PartitionId> assigned;      // sorted
  std::optional<Status> rebalance_error;  // returned by the next PollBatch
  std::vector<rd_kafka_message_t*> batch;
  bool closed = false;

  bool Owns(int32_t partition) const {
    return std::binary_search(assigned.begin(), assigned.end(), PartitionId(partition));
  }
  PartitionList List(const std::vector<PartitionOffset>& offsets) const {
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const PartitionOffset& po : offsets) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), po.partition.value())->offset =
          internal::ToRdOffset(po.offset);
    }
    return list;
  }
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
};

namespace {

void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* state = static_cast<ClientState*>(opaque);
  static_cast<Consumer::Impl*>(state->owner)->OnRebalance(err, parts);
}

void CommitCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                    rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  auto* state = static_cast<ClientState*>(opaque);
  state->logger->warn("asynchronous commit failed: {}",
                      internal::MakeError(err, "commit").ToString());
}

// The first per-partition error in `list`, if any.
Status PartitionErrors(const rd_kafka_topic_partition_list_t* list, const std::string& what) {
  for (int i = 0; i < list->cnt; ++i) {
    const auto& p = list->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return internal::MakeError(p.err,
                                 what + " " + p.topic + "[" + std::to_string(p.partition) + "]");
    }
  }
  return Status::Ok();
}

}  // namespace

void Consumer::Impl::OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  rd_kafka_t* h = rk.get();
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(h), "COOPERATIVE") == 0;
  std::vector<PartitionId> ids;
  ids.reserve(static_cast<size_t>(parts->cnt));
  for (int i = 0; i < parts->cnt; ++i) ids.emplace_back(parts->elems[i].partition);
  std::sort(ids.begin(), ids.end());

  Status status;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    std::vector<PartitionOffset> starts = listener->OnAssigned(ids);
    for (int i = 0; i < parts->cnt; ++i) {
      parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;  // = kOffsetCommitted
      for (const PartitionOffset& s : starts) {
        if (s.partition.value() == parts->elems[i].partition) {
          parts->elems[i].offset = internal::ToRdOffset(s.offset);
        }
      }
    }
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(h, parts)) {
        status = internal::TakeError(e, "incremental assign");
      }
    } else if (rd_kafka_resp_err_t e = rd_kafka_assign(h, parts)) {
      status = internal::MakeError(e, "assign");
    }
    if (status.ok()) {
      if (!cooperative) assigned.clear();
      assigned.insert(assigned.end(), ids.begin(), ids.end());
      std::sort(assigned.begin(), assigned.end());
    }
    state.logger->info("assigned {} partitions of {}: now own {}", ids.size(), topic,
                       assigned.size());
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    const bool lost = rd_kafka_assignment_lost(h);
    listener->OnRevoked(ids, lost);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(h, parts)) {
        status = internal::TakeError(e, "incremental unassign");
      }
      std::erase_if(assigned,
                    [&](PartitionId p) { return std::binary_search(ids.begin(), ids.end(), p); });
    } else {
      if (rd_kafka_resp_err_t e = rd_kafka_assign(h, nullptr)) {
        status = internal::MakeError(e, "unassign");
      }
      assigned.clear();
    }
    state.logger->info("revoked {} partitions of {}{}", ids.size(), topic, lost ? " (lost)" : "");
  } else {
    status = internal::MakeError(err, "rebalance");
    listener->OnRevoked(assigned, true);
    assigned.clear();
    if (cooperative) {
      rd_kafka_error_destroy(rd_kafka_incremental_unassign(h, parts));
    } else {
      rd_kafka_assign(h, nullptr);
    }
  }
  if (!status.ok()) {
    state.logger->error("rebalance of {} failed: {}", topic, status.ToString());
    if (!rebalance_error) rebalance_error = status;
  }
}

StatusOr<std::unique_ptr<Consumer::Impl>> Consumer::NewImpl(const KafkaOptions& options,
                                                            const std::string& group_id,
                                                            const std::string& topic,
                                                            RebalanceListener* listener,
                                                            bool group_member) {
  auto impl = std::make_unique<Impl>();
  impl->state.logger = internal::LoggerFor(options);
  impl->state.owner = impl.get();
  impl->topic = topic;
  impl->group = group_id;
  impl->lag_probe = options.lag_probe;
  impl->listener = listener;
  std::vector<std::pair<std::string, std::string>> extra = {{"group.id", group_id}};
  // Static membership applies to group members only: an assigned consumer never joins.
  if (group_member && !options.group_instance_id.empty()) {
    extra.emplace_back("group.instance.id", options.group_instance_id);
  }
  StatusOr<rd_kafka_conf_t*> conf =
      internal::NewConf(options, internal::ClientKind::kGroupConsumer, &impl->state, extra);
  if (!conf.ok()) return conf.status();
  if (group_member) rd_kafka_conf_set_rebalance_cb(conf.value(), RebalanceCallback);
  rd_kafka_conf_set_offset_commit_cb(conf.value(), CommitCallback);
  StatusOr<internal::Handle> rk = internal::NewHandle(RD_KAFKA_CONSUMER, conf.value());
  if (!rk.ok()) return rk.status();
  impl->rk = std::move(rk).value();
  rd_kafka_poll_set_consumer(impl->rk.get());
  impl->queue = rd_kafka_queue_get_consumer(impl->rk.get());
  return impl;
}

StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const KafkaOptions& options,
                                                     const std::string& group_id,
                                                     const std::string& topic,
                                                     RebalanceListener* listener) {
  StatusOr<std::unique_ptr<Impl>> made = NewImpl(options, group_id, topic, listener, true);
  if (!made.ok()) return made.status();
  std::unique_ptr<Impl> impl = std::move(made).value();

  PartitionList sub(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(sub.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(impl->rk.get(), sub.get())) {
    rd_kafka_queue_destroy(impl->queue);
    return internal::MakeError(err, "subscribe to " + topic);
  }
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

std::vector<PartitionOffset> StartAt::OnAssigned(const std::vector<PartitionId>& partitions) {
  std::vector<PartitionOffset> out;
  out.reserve(partitions.size());
  for (PartitionId p : partitions) {
    Offset at = kOffsetBeginning;
    for (const PartitionOffset& s : starts_) {
      if (s.partition == p) at = s.offset;
    }
    out.push_back({p, at});
  }
  return out;
}

StatusOr<std::unique_ptr<Consumer>> Consumer::CreateMember(
    const KafkaOptions& options, const std::string& group_id, const std::string& topic,
    const std::vector<int32_t>& static_partitions, RebalanceListener* listener) {
  if (static_partitions.empty()) return Create(options, group_id, topic, listener);
  std::vector<PartitionId> fixed;
  for (int32_t p : static_partitions) fixed.emplace_back(p);
  return CreateAssigned(options, group_id, topic, fixed, listener);
}

StatusOr<std::unique_ptr<Consumer>> Consumer::CreateAssigned(
    const KafkaOptions& options, const std::string& group_id, const std::string& topic,
    const std::vector<PartitionId>& partitions, RebalanceListener* listener) {
  StatusOr<std::unique_ptr<Impl>> made = NewImpl(options, group_id, topic, listener, false);
  if (!made.ok()) return made.status();
  std::unique_ptr<Impl> impl = std::move(made).value();

  std::vector<PartitionId> ids = partitions;
  std::sort(ids.begin(), ids.end());
  std::vector<PartitionOffset> starts = listener->OnAssigned(ids);
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(ids.size())));
  for (PartitionId p : ids) {
    auto* elem = rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p.value());
    elem->offset = RD_KAFKA_OFFSET_INVALID;
    for (const PartitionOffset& st : starts) {
      if (st.partition == p) elem->offset = internal::ToRdOffset(st.offset);
    }
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(impl->rk.get(), list.get())) {
    rd_kafka_queue_destroy(impl->queue);
    return internal::MakeError(err, "assign " + topic);
  }
  impl->assigned = ids;
  impl->state.logger->info("assigned {} partitions of {} (static)", ids.size(), topic);
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Consumer::~Consumer() {
  Status s = Close();
  if (!s.ok()) impl_->state.logger->warn("closing consumer of {}: {}", impl_->topic, s.ToString());
}

Status Consumer::PollBatch(size_t max_records, int timeout_ms, std::vector<Record>* out) {
  if (impl_->closed) {
    return Status(StatusCode::kFailedPrecondition, "_STATE: consumer is closed",
                  RD_KAFKA_RESP_ERR__STATE);
  }
  if (impl_->batch.size() < max_records) impl_->batch.resize(max_records);
  ssize_t n =
      internal::ConsumeAvailable(impl_->queue, timeout_ms, impl_->batch.data(), max_records);
  Status status;
  if (n < 0) status = internal::MakeError(rd_kafka_last_error(), "poll " + impl_->topic);
  if (impl_->lag_probe != nullptr) {
    // Lag after this batch, once per partition run (a cached watermark: no broker call).
    for (ssize_t i = 0; i < n; ++i) {
      const rd_kafka_message_t* m = impl_->batch[i];
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      if (i + 1 < n && impl_->batch[i + 1]->partition == m->partition) continue;
      int64_t low = 0;
      int64_t high = 0;
      if (rd_kafka_get_watermark_offsets(impl_->rk.get(), impl_->topic.c_str(), m->partition, &low,
                                         &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          high >= 0) {
        impl_->lag_probe->OnLag(impl_->group, m->partition,
                                std::max<int64_t>(0, high - (m->offset + 1)));
      }
    }
  }
  for (ssize_t i = 0; i < n; ++i) {
    internal::Message msg(impl_->batch[i]);
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (!impl_->Owns(msg->partition)) continue;  // fetched before a revocation
      internal::ToRecord(msg.get(), impl_->topic, &out->emplace_back());
    } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      Status e = internal::MakeError(
          msg->err, "consume " + impl_->topic + "[" + std::to_string(msg->partition) + "]");
      impl_->state.logger->warn("{}", e.ToString());
      if (IsFatal(e) && status.ok()) status = e;
    }
  }
  if (auto fatal = impl_->state.Fatal()) return *fatal;
  if (impl_->rebalance_error) {
    Status e = *impl_->rebalance_error;
    impl_->rebalance_error.reset();
    return e;
  }
  return status;
}

Status Consumer::Commit(const std::vector<PartitionOffset>& next_offsets) {
  if (next_offsets.empty()) return Status::Ok();
  PartitionList list = impl_->List(next_offsets);
  rd_kafka_resp_err_t err = rd_kafka_commit(impl_->rk.get(), list.get(), 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::MakeError(err, "commit " + impl_->topic);
  return PartitionErrors(list.get(), "commit");
}

Status Consumer::Commit(PartitionId partition, Offset next_offset) {
  return Commit(std::vector<PartitionOffset>{{partition, next_offset}});
}

Status Consumer::CommitAsync(const std::vector<PartitionOffset>& next_offsets) {
  if (next_offsets.empty()) return Status::Ok();
  PartitionList list = impl_->List(next_offsets);
  rd_kafka_resp_err_t err = rd_kafka_commit(impl_->rk.get(), list.get(), 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::MakeError(err, "commit " + impl_->topic);
  return Status::Ok();
}

StatusOr<Offset> Consumer::Committed(PartitionId partition, int timeout_ms) {
  PartitionList list = impl_->List({{partition, kOffsetCommitted}});
  rd_kafka_resp_err_t err = rd_kafka_committed(impl_->rk.get(), list.get(), timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return internal::MakeError(err, "committed offsets of " + impl_->topic);
  }
  if (Status s = PartitionErrors(list.get(), "committed offset"); !s.ok()) return s;
  int64_t off = list->elems[0].offset;
  return off < 0 ? kOffsetCommitted : Offset(off);
}

Status Consumer::Seek(PartitionId partition, Offset offset, int timeout_ms) {
  PartitionList list = impl_->List({{partition, offset}});
  if (rd_kafka_error_t* e = rd_kafka_seek_partitions(impl_->rk.get(), list.get(), timeout_ms)) {
    return internal::TakeError(e, "seek " + impl_->topic);
  }
  return PartitionErrors(list.get(), "seek");
}

Status Consumer::Pause(PartitionId partition) {
  PartitionList list = impl_->List({{partition, kOffsetCommitted}});
  rd_kafka_resp_err_t err = rd_kafka_pause_partitions(impl_->rk.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::MakeError(err, "pause");
  return PartitionErrors(list.get(), "pause");
}

Status Consumer::Resume(PartitionId partition) {
  PartitionList list = impl_->List({{partition, kOffsetCommitted}});
  rd_kafka_resp_err_t err = rd_kafka_resume_partitions(impl_->rk.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::MakeError(err, "resume");
  return PartitionErrors(list.get(), "resume");
}

std::vector<PartitionId> Consumer::Assignment() const { return impl_->assigned; }

const std::string& Consumer::topic() const { return impl_->topic; }

Status Consumer::Close() {
  if (impl_->closed) return Status::Ok();
  impl_->closed = true;
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(impl_->rk.get());
  rd_kafka_queue_destroy(impl_->queue);
  impl_->queue = nullptr;
  impl_->rk.reset();
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return internal::MakeError(err, "close consumer");
  return Status::Ok();
}

}  // namespace payorch::log
