// The shared test vectors in schemas/testdata, read back by C++ as every interop client
// reads them: binary decodes and re-encodes to the same bytes, JSON decodes to the same
// message, and printing it again gives the same JSON value. Payment ids and murmur2
// partitions match payorch's own derivation.
#include "interop/cpp/vectors.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace payorch::interop {
namespace {

const std::filesystem::path kDir = std::filesystem::path(PAYORCH_SOURCE_DIR) / "schemas/testdata";

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json Index() { return nlohmann::json::parse(Slurp(kDir / "index.json")); }

std::unique_ptr<pb::Message> New(const std::string& type) {
  const pb::Descriptor* d = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(type);
  if (d == nullptr) return nullptr;
  return std::unique_ptr<pb::Message>(
      pb::MessageFactory::generated_factory()->GetPrototype(d)->New());
}

TEST(TestVectors, CoverEveryCommandEveryEventAndViolations) {
  std::set<std::string> names;
  for (const auto& e : Index()) names.insert(e["name"].get<std::string>());
  // New types added to the schema after the vectors were written are reported, not
  // failed: regenerate with `make test-vectors`.
  for (const Vector& v : MakeVectors()) {
    if (names.count(v.name) == 0) std::printf("note: no vector yet for %s\n", v.name.c_str());
  }
  EXPECT_GE(names.size(), 30u);
  EXPECT_TRUE(names.count("events.writer_claimed") && names.count("commands.create") &&
              names.count("contracts.violation"));
  // The invoice and order envelopes (issue 21): every language client maps these types.
  for (const char* prefix :
       {"invoices.commands", "invoices.events", "orders.commands", "orders.events"}) {
    EXPECT_TRUE(names.count(std::string(prefix) + ".minimal")) << prefix;
  }
  std::set<std::string> types;
  for (const auto& e : Index()) types.insert(e["type"].get<std::string>());
  for (const Vector& v : MakeVectors()) EXPECT_TRUE(types.count(v.type)) << v.type;
}

TEST(TestVectors, BinaryReencodesToTheSameBytes) {
  for (const auto& e : Index()) {
    const std::string name = e["name"];
    auto m = New(e["type"]);
    ASSERT_NE(m, nullptr) << name;
    const std::string bytes = Slurp(kDir / (name + ".binpb"));
    ASSERT_TRUE(m->ParseFromString(bytes)) << name;
    EXPECT_EQ(m->SerializeAsString(), bytes) << name;
  }
}

TEST(TestVectors, JsonDecodesToTheBinaryMessageAndPrintsTheSameValue) {
  for (const auto& e : Index()) {
    const std::string name = e["name"];
    auto m = New(e["type"]);
    const std::string json = Slurp(kDir / (name + ".json"));
    ASSERT_TRUE(pb::util::JsonStringToMessage(json, m.get()).ok()) << name;
    EXPECT_EQ(m->SerializeAsString(), Slurp(kDir / (name + ".binpb"))) << name;
    std::string again;
    ASSERT_TRUE(pb::util::MessageToJsonString(*m, &again).ok());
    EXPECT_EQ(nlohmann::json::parse(again), nlohmann::json::parse(json)) << name;
  }
}

TEST(TestVectors, PaymentIdsAndPartitionsMatchPayorch) {
  const auto ids = nlohmann::json::parse(Slurp(kDir / "payment_ids.json"));
  ASSERT_EQ(ids.size(), MakePaymentIds().size());
  for (const auto& v : ids) {
    const std::string pid = v["paymentId"];
    EXPECT_EQ(
        DerivePaymentId(v["merchantId"].get<std::string>(), v["idempotencyKey"].get<std::string>()),
        pid);
    EXPECT_EQ(PartitionOf(pid, v["partitions"]), v["partition"].get<int>()) << pid;
  }
}

}  // namespace
}  // namespace payorch::interop
