// KafkaOptions: where the log is and how payorch names and shapes its topics. One value
// configures every client of the adapter (Producer, Consumer, PartitionReader, admin).
//
//   KafkaOptions options;
//   options.bootstrap_servers = broker->bootstrap();
//   options.properties.push_back({"socket.timeout.ms", "10000"});  // -X passthrough
//   std::string events = options.Topic(TopicKind::kEvents);     // "payorch.events"
//
// Properties are applied after payorch's defaults, so -X overrides any of them
// (e.g. -X fetch.wait.max.ms=500 on a real cluster).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
}

namespace payorch::log {

// The payments log (commands, events), its side topics (contract violations, dead
// letters), and the logs of the invoice and order aggregates (docs/invoices.md,
// docs/orders.md), each a commands topic and an events topic of the same width.
enum class TopicKind {
  kCommands,
  kEvents,
  kContracts,
  kDeadLetters,
  kInvoiceCommands,
  kInvoiceEvents,
  kOrderCommands,
  kOrderEvents,
};
inline constexpr TopicKind kAllTopicKinds[] = {
    TopicKind::kCommands,      TopicKind::kEvents,          TopicKind::kContracts,
    TopicKind::kDeadLetters,   TopicKind::kInvoiceCommands, TopicKind::kInvoiceEvents,
    TopicKind::kOrderCommands, TopicKind::kOrderEvents};

// Optional observer of consumer lag: after each batch a Consumer returns, the records
// between each partition's high watermark (as last fetched, no broker call) and the next
// offset to consume. Called on the polling thread; keep it cheap (a metrics probe).
class ConsumerLagProbe {
 public:
  virtual ~ConsumerLagProbe() = default;
  virtual void OnLag(std::string_view group, int32_t partition, int64_t lag) = 0;
};

struct KafkaOptions {
  // Comma-separated host:port list. Empty means "not configured".
  std::string bootstrap_servers;
  // librdkafka properties, applied last (they override payorch's defaults).
  std::vector<std::pair<std::string, std::string>> properties;
  // "key=value" strings as given to -X; cli::ResolveKafkaOptions() validates them and
  // moves them into `properties`. The adapter ignores this field.
  std::vector<std::string> property_args;
  // A file a `payorch broker` wrote its bootstrap address to; read by
  // cli::ResolveKafkaOptions() when bootstrap_servers is empty. The adapter ignores it.
  std::string bootstrap_file;

  // Prepended to every topic name below (e.g. "test42." for isolation on a shared cluster).
  std::string topic_prefix;
  std::string commands_topic = "payorch.commands";
  std::string events_topic = "payorch.events";
  std::string contracts_topic = "payorch.contracts";
  std::string dead_letters_topic = "payorch.deadletter";
  std::string invoice_commands_topic = "payorch.invoices.commands";
  std::string invoice_events_topic = "payorch.invoices.events";
  std::string order_commands_topic = "payorch.orders.commands";
  std::string order_events_topic = "payorch.orders.events";

  // Shape of topics EnsureTopics()/EmbeddedBroker create. A commands topic and its events
  // topic must have the same partition count: the writer of command partition P writes
  // event partition P.
  int partitions = 4;
  int replication_factor = 1;

  // Consumer/reader fetch.wait.max.ms. The embedded broker does not wake long polls when
  // data arrives, so a fetch waits this long on an idle partition; keep it small there.
  // On a real cluster override it with -X fetch.wait.max.ms=100 or more.
  int fetch_wait_max_ms = 5;
  // fetch.wait.max.ms of the consumers a caller waits on (HotPath()): the payment writers'
  // commands consumer and the merchant API's events follower, the two hops of every POST.
  // On the embedded broker each idle fetch of theirs ends after this long, so it bounds
  // the wait per hop; it costs one more empty fetch per ms while idle. A real cluster wakes
  // long polls, and -X fetch.wait.max.ms (which wins over both) should be 100 or more there.
  int hot_fetch_wait_max_ms = 1;
  // Producer batching is adaptive: linger.ms 0 and one produce request in flight per
  // broker connection. A batch leaves as soon as the previous request is answered, and the
  // records that arrive meanwhile make up the next one, so batches grow with the load
  // instead of with a timer. Under load that means fewer, larger record batches: fewer
  // produce and fetch requests for the broker, and, on the embedded broker, whose fetches
  // return one batch per partition and find it by a scan of the partition's batches, far
  // less work per record (docs/performance.md, "Adaptive batching"). -X wins over both.
  int linger_ms = 0;
  int max_in_flight = 1;  // max.in.flight.requests.per.connection (idempotence allows 1-5)

  // Static group membership (KIP-345): a name unique to this instance and stable across
  // its restarts, set as group.instance.id on the group consumers (Consumer::Create).
  // A restart within the session timeout gets its partitions back without a rebalance;
  // a crashed instance's partitions move only when its session times out, and a second
  // process started with the same name fences the first (its consumers fail fatal).
  // Empty (the default): dynamic membership. docs/kafka.md#failover.
  std::string group_instance_id;

  // Where librdkafka's and the adapter's log lines go; nullptr = a logger named "log"
  // cloned from spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger;
  // Consumers report their lag here when set (not owned).
  ConsumerLagProbe* lag_probe = nullptr;

  // The full name of a topic: topic_prefix + its configured name.
  std::string Topic(TopicKind kind) const;
  // These options for a consumer on a hot path: fetch_wait_max_ms = hot_fetch_wait_max_ms.
  [[nodiscard]] KafkaOptions HotPath() const;
  // Every topic, in TopicKind order.
  std::vector<std::string> AllTopics() const;
};

// "commands", "events", "contracts", "deadletter", "invoice-commands", "invoice-events",
// "order-commands", "order-events".
const char* TopicKindName(TopicKind kind);
// Parses the names above; false if unknown.
bool ParseTopicKind(const std::string& name, TopicKind* out);

}  // namespace payorch::log
