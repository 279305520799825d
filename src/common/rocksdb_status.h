// FromRocksDb: a rocksdb::Status as payorch's Status (common/status.h), keeping RocksDB's
// code as the native code and naming what was being done. Header-only: include it only
// where RocksDB is linked (the stores of runtime, projection, outbox and api).
//
//   if (auto s = db->Put(options, key, value); !s.ok()) return FromRocksDb(s, "claim " + key);
#pragma once

#include <rocksdb/status.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace payorch {

inline Status FromRocksDb(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  StatusCode code = StatusCode::kInternal;
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      code = StatusCode::kNotFound;
      break;
    case rocksdb::Status::kCorruption:
      code = StatusCode::kDataLoss;
      break;
    case rocksdb::Status::kInvalidArgument:
      code = StatusCode::kInvalidArgument;
      break;
    case rocksdb::Status::kNotSupported:
    case rocksdb::Status::kColumnFamilyDropped:
      code = StatusCode::kFailedPrecondition;
      break;
    case rocksdb::Status::kIOError:
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kIncomplete:
    case rocksdb::Status::kMergeInProgress:
      code = StatusCode::kUnavailable;
      break;
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kExpired:
      code = StatusCode::kDeadlineExceeded;
      break;
    case rocksdb::Status::kAborted:
    case rocksdb::Status::kShutdownInProgress:
      code = StatusCode::kAborted;
      break;
    default:
      break;
  }
  return {code, std::string(what) + ": " + s.ToString(), static_cast<int>(s.code())};
}

}  // namespace payorch
