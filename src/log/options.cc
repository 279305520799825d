#include "log/options.h"

#include "log/record.h"

namespace payorch::log {

KafkaOptions KafkaOptions::HotPath() const {
  KafkaOptions hot = *this;
  hot.fetch_wait_max_ms = hot_fetch_wait_max_ms;
  return hot;
}

std::string KafkaOptions::Topic(TopicKind kind) const {
  switch (kind) {
    case TopicKind::kCommands:
      return topic_prefix + commands_topic;
    case TopicKind::kEvents:
      return topic_prefix + events_topic;
    case TopicKind::kContracts:
      return topic_prefix + contracts_topic;
    case TopicKind::kDeadLetters:
      return topic_prefix + dead_letters_topic;
    case TopicKind::kInvoiceCommands:
      return topic_prefix + invoice_commands_topic;
    case TopicKind::kInvoiceEvents:
      return topic_prefix + invoice_events_topic;
    case TopicKind::kOrderCommands:
      return topic_prefix + order_commands_topic;
    case TopicKind::kOrderEvents:
      return topic_prefix + order_events_topic;
  }
  return "";
}

std::vector<std::string> KafkaOptions::AllTopics() const {
  std::vector<std::string> topics;
  for (TopicKind kind : kAllTopicKinds) topics.push_back(Topic(kind));
  return topics;
}

const char* TopicKindName(TopicKind kind) {
  switch (kind) {
    case TopicKind::kCommands:
      return "commands";
    case TopicKind::kEvents:
      return "events";
    case TopicKind::kContracts:
      return "contracts";
    case TopicKind::kDeadLetters:
      return "deadletter";
    case TopicKind::kInvoiceCommands:
      return "invoice-commands";
    case TopicKind::kInvoiceEvents:
      return "invoice-events";
    case TopicKind::kOrderCommands:
      return "order-commands";
    case TopicKind::kOrderEvents:
      return "order-events";
  }
  return "";
}

bool ParseTopicKind(const std::string& name, TopicKind* out) {
  for (TopicKind k : kAllTopicKinds) {
    if (name == TopicKindName(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

const std::string* Record::FindHeader(const std::string& key) const {
  for (const auto& h : headers) {
    if (h.key == key) return &h.value;
  }
  return nullptr;
}

}  // namespace payorch::log
