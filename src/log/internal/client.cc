#include "log/internal/client.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace payorch::log::internal {

static_assert(RD_KAFKA_OFFSET_BEGINNING == -2 && RD_KAFKA_OFFSET_END == -1 &&
              RD_KAFKA_OFFSET_INVALID == -1001);
static_assert(RD_KAFKA_PARTITION_UA == -1);

StatusCode Classify(rd_kafka_resp_err_t err) {
  switch (err) {
    // Transient: the same call may succeed later; nothing is in doubt.
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR__IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_INVALID_FETCH_SESSION_EPOCH:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
      return StatusCode::kUnavailable;

    // In doubt or stale: abandon the unit of work and restart it from the log.
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
    case RD_KAFKA_RESP_ERR__OUTDATED:
      return StatusCode::kAborted;

    // Fatal, and an operator's to fix: configuration, authentication and authorization,
    // what the broker does not support, topics or partitions that do not exist, a client
    // used in the wrong state.
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE:
    case RD_KAFKA_RESP_ERR__NOT_CONFIGURED:
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PROTOCOL:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
    case RD_KAFKA_RESP_ERR_SECURITY_DISABLED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_INVALID_SESSION_TIMEOUT:
    case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
    case RD_KAFKA_RESP_ERR_INCONSISTENT_GROUP_PROTOCOL:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
      return StatusCode::kFailedPrecondition;

    // Everything else is fatal too, including __FATAL, fencing, oversized records and
    // corrupt data: it cannot succeed by repeating it. Unknown codes land here, so that
    // nothing loops on them silently.
    default:
      return StatusCode::kInternal;
  }
}

namespace {

// `s` with another code (a Status is immutable).
Status WithCode(const Status& s, StatusCode code) {
  return Status(code, s.message(), s.native_code());
}

// The fatal code for `err` when librdkafka says it is fatal whatever the table says.
StatusCode FatalCode(rd_kafka_resp_err_t err) {
  StatusCode code = Classify(err);
  return code == StatusCode::kUnavailable || code == StatusCode::kAborted ? StatusCode::kInternal
                                                                          : code;
}

}  // namespace

Status MakeError(rd_kafka_resp_err_t err, std::string_view what) {
  std::string message = rd_kafka_err2name(err);
  message += ": ";
  message += what;
  message += " (";
  message += rd_kafka_err2str(err);
  message += ")";
  return Status(Classify(err), std::move(message), static_cast<int>(err));
}

Status TakeError(rd_kafka_error_t* error, std::string_view what) {
  rd_kafka_resp_err_t err = rd_kafka_error_code(error);
  StatusCode code = Classify(err);
  if (rd_kafka_error_is_fatal(error)) {
    code = FatalCode(err);
  } else if (rd_kafka_error_txn_requires_abort(error)) {
    code = StatusCode::kAborted;
  } else if (rd_kafka_error_is_retriable(error)) {
    code = StatusCode::kUnavailable;
  }
  Status out(code,
             std::string(rd_kafka_error_name(error)) + ": " + std::string(what) + " (" +
                 rd_kafka_error_string(error) + ")",
             static_cast<int>(err));
  rd_kafka_error_destroy(error);
  return out;
}

Status DeliveryError(const rd_kafka_message_t* msg) {
  Status out = MakeError(msg->err, "delivery failed");
  if (out.code() == StatusCode::kUnavailable &&
      rd_kafka_message_status(msg) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED) {
    return WithCode(out, StatusCode::kAborted);
  }
  return out;
}

Status ConfigError(std::string message) {
  return Status(StatusCode::kFailedPrecondition, "_INVALID_ARG: " + std::move(message),
                RD_KAFKA_RESP_ERR__INVALID_ARG);
}

std::shared_ptr<spdlog::logger> LoggerFor(const KafkaOptions& options) {
  if (options.logger) return options.logger;
  static const std::shared_ptr<spdlog::logger> kDefault = spdlog::default_logger()->clone("log");
  return kDefault;
}

std::optional<Status> ClientState::Fatal() {
  std::lock_guard lock(mu);
  return fatal;
}

namespace {

// syslog levels, as librdkafka uses them.
spdlog::level::level_enum LevelOf(int syslog_level) {
  if (syslog_level <= 3) return spdlog::level::err;
  if (syslog_level == 4) return spdlog::level::warn;
  if (syslog_level <= 6) return spdlog::level::info;
  return spdlog::level::debug;
}

void LogCallback(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* state = static_cast<ClientState*>(rd_kafka_opaque(rk));
  if (state == nullptr) return;
  auto lvl = LevelOf(level);
  // librdkafka warns at each client's creation that enable.gapless.guarantee is
  // experimental. The writers' producers set it on purpose (runtime::internal::
  // GaplessProducerOptions, docs/reliability.md finding 11), so that warning is debug.
  if (std::strcmp(fac, "CONFWARN") == 0 &&
      std::strstr(buf, "enable.gapless.guarantee is experimental") != nullptr) {
    lvl = spdlog::level::debug;
  }
  state->logger->log(lvl, "[rdkafka {} {}] {}", rd_kafka_name(rk), fac, buf);
}

void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* state = static_cast<ClientState*>(opaque);
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char detail[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, detail, sizeof(detail));
    Status fatal = WithCode(MakeError(orig, detail), FatalCode(orig));
    state->logger->error("[{}] fatal client error: {}", rd_kafka_name(rk), fatal.message());
    std::lock_guard lock(state->mu);
    if (!state->fatal) state->fatal = std::move(fatal);
    return;
  }
  // Everything else is informational: librdkafka recovers by itself (reconnects,
  // re-queries metadata) and operations report their own failures.
  state->logger->warn("[{}] {}: {}", rd_kafka_name(rk), rd_kafka_err2name(code), reason);
}

// After a failed fetch a partition waits this long before the next one (librdkafka: 500).
// Every partition has one writer, so each failed fetch stalled its payments for half a
// second: 40 retriable fetch errors cost 22 s in the chaos matrix (docs/reliability.md).
constexpr char kFetchErrorBackoffMs[] = "50";

std::vector<std::pair<std::string, std::string>> Defaults(const KafkaOptions& o, ClientKind kind) {
  std::vector<std::pair<std::string, std::string>> d = {
      {"client.id", "payorch"},
      {"socket.nagle.disable", "true"},
  };
  const std::string fetch_wait = std::to_string(o.fetch_wait_max_ms);
  switch (kind) {
    case ClientKind::kProducer:
      d.insert(d.end(),
               {{"enable.idempotence", "true"},
                {"acks", "all"},
                {"partitioner", "murmur2_random"},
                // Smaller batches on the wire and in the embedded broker, which
                // keeps at most 5 MiB per partition.
                {"compression.type", "lz4"},
                {"linger.ms", std::to_string(o.linger_ms)},
                {"max.in.flight.requests.per.connection", std::to_string(o.max_in_flight)}});
      break;
    case ClientKind::kGroupConsumer:
      d.insert(d.end(), {{"enable.auto.commit", "false"},
                         {"enable.auto.offset.store", "false"},
                         {"auto.offset.reset", "earliest"},
                         {"partition.assignment.strategy", "range"},
                         // A crashed member's partitions move after its session times out:
                         // 6 s (the smallest a default Kafka broker accepts) instead of
                         // librdkafka's 45 s. -X session.timeout.ms=... overrides it.
                         {"session.timeout.ms", "6000"},
                         {"heartbeat.interval.ms", "1000"},
                         {"fetch.wait.max.ms", fetch_wait},
                         {"fetch.error.backoff.ms", kFetchErrorBackoffMs}});
      break;
    case ClientKind::kReader:
      d.insert(d.end(), {{"enable.auto.commit", "false"},
                         {"enable.auto.offset.store", "false"},
                         {"enable.partition.eof", "true"},
                         {"auto.offset.reset", "earliest"},
                         {"fetch.wait.max.ms", fetch_wait},
                         {"fetch.error.backoff.ms", kFetchErrorBackoffMs},
                         {"fetch.message.max.bytes", "8388608"},
                         {"queued.min.messages", "100000"}});
      break;
    case ClientKind::kAdmin:
    case ClientKind::kMockHost:
      break;
  }
  return d;
}

// Properties that only make sense for one kind of client; skipped for the others so
// that a shared -X list does not make librdkafka warn or fail.
bool AppliesTo(const std::string& key, ClientKind kind) {
  static const char* const kConsumerOnly[] = {"group.id",
                                              "fetch.wait.max.ms",
                                              "fetch.min.bytes",
                                              "fetch.max.bytes",
                                              "fetch.message.max.bytes",
                                              "fetch.error.backoff.ms",
                                              "max.partition.fetch.bytes",
                                              "enable.auto.commit",
                                              "auto.offset.reset",
                                              "session.timeout.ms",
                                              "heartbeat.interval.ms",
                                              "max.poll.interval.ms",
                                              "partition.assignment.strategy",
                                              "isolation.level",
                                              "queued.min.messages",
                                              "queued.max.messages.kbytes",
                                              "group.instance.id",
                                              "enable.partition.eof",
                                              "enable.auto.offset.store",
                                              "auto.commit.interval.ms",
                                              "check.crcs"};
  static const char* const kProducerOnly[] = {"acks",
                                              "request.required.acks",
                                              "enable.idempotence",
                                              "linger.ms",
                                              "max.in.flight.requests.per.connection",
                                              "max.in.flight",
                                              "queue.buffering.max.ms",
                                              "batch.num.messages",
                                              "batch.size",
                                              "compression.type",
                                              "compression.codec",
                                              "partitioner",
                                              "message.timeout.ms",
                                              "delivery.timeout.ms",
                                              "queue.buffering.max.messages",
                                              "queue.buffering.max.kbytes",
                                              "retries",
                                              "message.send.max.retries",
                                              "retry.backoff.ms",
                                              "transactional.id",
                                              "transaction.timeout.ms",
                                              "enable.gapless.guarantee",
                                              "request.timeout.ms",
                                              "sticky.partitioning.linger.ms"};
  const bool consumer = kind == ClientKind::kGroupConsumer || kind == ClientKind::kReader;
  const bool producer = kind == ClientKind::kProducer;
  for (const char* k : kConsumerOnly) {
    if (key == k) return consumer;
  }
  for (const char* k : kProducerOnly) {
    if (key == k) return producer;
  }
  return true;
}

}  // namespace

StatusOr<rd_kafka_conf_t*> NewConf(const KafkaOptions& options, ClientKind kind, ClientState* state,
                                   const std::vector<std::pair<std::string, std::string>>& extra) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  auto set = [&](const std::string& key, const std::string& value) -> Status {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      return ConfigError(key + "=" + value + ": " + errstr);
    }
    return Status::Ok();
  };
  std::vector<std::pair<std::string, std::string>> all = Defaults(options, kind);
  all.insert(all.end(), extra.begin(), extra.end());
  if (kind != ClientKind::kMockHost) {
    all.emplace_back("bootstrap.servers", options.bootstrap_servers);
    for (const auto& [k, v] : options.properties) {
      if (AppliesTo(k, kind)) all.emplace_back(k, v);
    }
  }
  for (const auto& [k, v] : all) {
    if (Status s = set(k, v); !s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  rd_kafka_conf_set_opaque(conf, state);
  rd_kafka_conf_set_log_cb(conf, LogCallback);
  rd_kafka_conf_set_error_cb(conf, ErrorCallback);
  return conf;
}

StatusOr<Handle> NewHandle(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return ConfigError(std::string("cannot create client: ") + errstr);
  }
  return Handle(rk);
}

StatusOr<Watermarks> QueryWatermarks(rd_kafka_t* rk, const std::string& topic,
                                     PartitionId partition, int timeout_ms) {
  // rd_kafka_query_watermark_offsets (librdkafka 2.0) does not bound its own wait: its
  // ListOffsets requests, queued to a partition leader that is gone, time out and are
  // retried until the broker is back, so a caller could not stop while the broker was down
  // (serve and api hung on SIGTERM, found black-box). A metadata round trip, which does
  // honour its timeout, goes first: a cluster that does not answer fails the call here.
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t reachable = rd_kafka_metadata(rk, 0, nullptr, &md, timeout_ms);
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (reachable != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return MakeError(reachable, "watermarks of " + topic + "[" + std::to_string(partition.value()) +
                                    "]: no broker answers");
  }
  int64_t low = 0;
  int64_t high = 0;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition.value(),
                                                             &low, &high, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return MakeError(err, "watermarks of " + topic + "[" + std::to_string(partition.value()) + "]");
  }
  return Watermarks{Offset(low), Offset(high)};
}

ssize_t ConsumeAvailable(rd_kafka_queue_t* queue, int timeout_ms, rd_kafka_message_t** out,
                         size_t max) {
  if (max == 0) return 0;
  ssize_t n = rd_kafka_consume_batch_queue(queue, 0, out, max);
  if (n != 0 || timeout_ms <= 0) return n;
  n = rd_kafka_consume_batch_queue(queue, timeout_ms, out, 1);
  if (n <= 0 || max == 1) return n;
  ssize_t more = rd_kafka_consume_batch_queue(queue, 0, out + 1, max - 1);
  return more < 0 ? n : n + more;
}

void ToRecord(const rd_kafka_message_t* msg, const std::string& topic, Record* out) {
  out->topic = topic;
  out->partition = PartitionId(msg->partition);
  out->offset = Offset(msg->offset);
  out->timestamp_ms = rd_kafka_message_timestamp(msg, nullptr);
  if (msg->key != nullptr) {
    out->key.assign(static_cast<const char*>(msg->key), msg->key_len);
  } else {
    out->key.clear();
  }
  if (msg->payload != nullptr) {
    out->value.assign(static_cast<const char*>(msg->payload), msg->len);
  } else {
    out->value.clear();
  }
  out->headers.clear();
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      out->headers.push_back(
          Header{name, value ? std::string(static_cast<const char*>(value), size) : ""});
    }
  }
}

int64_t ToRdOffset(Offset offset) { return offset.value(); }

}  // namespace payorch::log::internal
