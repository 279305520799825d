#include "log/options.h"

#include "log/record.h"
#include "log/status.h"

namespace payorch::log {

const char* ErrorClassName(ErrorClass cls) {
  switch (cls) {
    case ErrorClass::kRetriable:
      return "retriable";
    case ErrorClass::kFatal:
      return "fatal";
    case ErrorClass::kAbortable:
      return "abortable";
  }
  return "unknown";
}

std::string LogError::ToString() const { return std::string(ErrorClassName(cls)) + ": " + message; }

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
  }
  return "";
}

std::vector<std::string> KafkaOptions::AllTopics() const {
  return {Topic(TopicKind::kCommands), Topic(TopicKind::kEvents), Topic(TopicKind::kContracts),
          Topic(TopicKind::kDeadLetters)};
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
  }
  return "";
}

bool ParseTopicKind(const std::string& name, TopicKind* out) {
  for (TopicKind k :
       {TopicKind::kCommands, TopicKind::kEvents, TopicKind::kContracts, TopicKind::kDeadLetters}) {
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
