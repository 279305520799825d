// Deterministic Protobuf bytes: map entries in key order, so the same message always
// gives the same bytes (a re-decided event is byte-identical to the first publication,
// and the checker can compare payloads).
#pragma once

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message_lite.h>

#include <string>

namespace payorch::command {

inline void SerializeDeterministic(const google::protobuf::MessageLite& message, std::string* out) {
  out->clear();
  google::protobuf::io::StringOutputStream stream(out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
}

inline std::string SerializeDeterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  SerializeDeterministic(message, &out);
  return out;
}

}  // namespace payorch::command
