// AddMissFilters: bloom filters for a RocksDB store whose Gets often miss (a new payment's
// view, a key never claimed). The tables' filter and the memtable's whole-key filter answer
// a miss without reading blocks or searching the memtable's skip list. One definition for
// the stores that need it (projection, webhook outbox, idempotency responses); the state
// store has its own (prefix seeks, partitioned filters). Header-only: include it only
// where RocksDB is linked.
#pragma once

#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

namespace payorch {

inline void AddMissFilters(rocksdb::Options* o) {
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  o->table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  o->memtable_whole_key_filtering = true;
  o->memtable_prefix_bloom_size_ratio = 0.02;
}

}  // namespace payorch
