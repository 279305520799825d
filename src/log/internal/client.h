// Internal to src/log/: the one place that turns librdkafka errors into Statuses, builds
// client configurations and converts messages. Only src/log/*.cc include this.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "log/options.h"
#include "log/record.h"
#include "log/status.h"

namespace payorch::log::internal {

// The canonical code of a librdkafka error code, from the table in client.cc: kUnavailable
// (retriable), kAborted (abortable), kFailedPrecondition or kInternal (fatal); see
// log/status.h.
StatusCode Classify(rd_kafka_resp_err_t err);
// A Status for `err` (its native_code); `what` says which operation failed.
Status MakeError(rd_kafka_resp_err_t err, std::string_view what);
// Same, for a rich error object (transactions, admin); takes ownership and destroys it.
Status TakeError(rd_kafka_error_t* error, std::string_view what);
// The class of a failed delivery: a retriable error becomes kAborted when the record
// may have been written (so resending it could duplicate or reorder).
Status DeliveryError(const rd_kafka_message_t* msg);
// A fatal Status (kFailedPrecondition, native code __INVALID_ARG) for a configuration
// problem.
Status ConfigError(std::string message);

std::shared_ptr<spdlog::logger> LoggerFor(const KafkaOptions& options);

// Per-client state reachable from librdkafka's callbacks (the handle's opaque).
struct ClientState {
  std::shared_ptr<spdlog::logger> logger;
  void* owner = nullptr;  // the Producer/Consumer implementation, for their callbacks
  std::mutex mu;
  std::optional<Status> fatal;  // set once by the error callback on a fatal error

  std::optional<Status> Fatal();
};

enum class ClientKind { kProducer, kGroupConsumer, kReader, kAdmin, kMockHost };

// A configuration with payorch's defaults for `kind`, then `extra`, then
// options.properties (last wins). Log and error callbacks report into `state`.
StatusOr<rd_kafka_conf_t*> NewConf(const KafkaOptions& options, ClientKind kind, ClientState* state,
                                   const std::vector<std::pair<std::string, std::string>>& extra);

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

// Creates a client from `conf` (consumed, also on failure).
StatusOr<Handle> NewHandle(rd_kafka_type_t type, rd_kafka_conf_t* conf);

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

// The low and high watermarks of `topic`[`partition`], asked of its leader through `rk`
// (any client type).
StatusOr<Watermarks> QueryWatermarks(rd_kafka_t* rk, const std::string& topic,
                                     PartitionId partition, int timeout_ms);

// Takes up to `max` fetched messages from `queue` into `out`, waiting up to `timeout_ms`
// only while none is there: what is already fetched returns at once. (With a timeout,
// rd_kafka_consume_batch_queue waits until the whole batch is full, which would add the
// timeout to every record of a quiet partition.) Returns the count, or -1 on error.
ssize_t ConsumeAvailable(rd_kafka_queue_t* queue, int timeout_ms, rd_kafka_message_t** out,
                         size_t max);

// Fills `out` from a fetched message (which must not carry an error).
void ToRecord(const rd_kafka_message_t* msg, const std::string& topic, Record* out);

// Our special offsets to librdkafka's and back.
int64_t ToRdOffset(Offset offset);

}  // namespace payorch::log::internal
