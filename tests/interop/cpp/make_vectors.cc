// make_vectors DIR: writes the shared test vectors (vectors.h) into DIR (schemas/testdata):
// NAME.binpb and NAME.json per message, index.json, payment_ids.json.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "interop/cpp/vectors.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_vectors DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  nlohmann::json index = nlohmann::json::array();
  for (const auto& v : payorch::interop::MakeVectors()) {
    std::ofstream(dir / (v.name + ".binpb"), std::ios::binary) << v.binary;
    std::ofstream(dir / (v.name + ".json")) << v.json << "\n";
    index.push_back({{"name", v.name}, {"type", v.type}});
  }
  std::ofstream(dir / "index.json") << index.dump(1) << "\n";
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& p : payorch::interop::MakePaymentIds()) {
    ids.push_back({{"merchantId", p.merchant_id},
                   {"idempotencyKey", p.idempotency_key},
                   {"paymentId", p.payment_id},
                   {"partitions", p.partitions},
                   {"partition", p.partition}});
  }
  std::ofstream(dir / "payment_ids.json") << ids.dump(1) << "\n";
  std::printf("%zu vectors and %zu payment ids in %s\n", index.size(), ids.size(), argv[1]);
  return 0;
}
