// The options `payorch run` gives src/app: which are refused before anything starts, and
// how the Kafka flags become options the log adapter can use.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/kafka_options.h"
#include "app/orchestrator_app.h"
#include "gtest/gtest.h"

namespace payorch::app {
namespace {

TEST(RunOptions, DefaultsAreValid) { EXPECT_EQ(Validate(RunOptions{}), ""); }

struct ValidateCase {
  const char* name;
  void (*change)(RunOptions&);
  std::string error;
};

TEST(RunOptions, ValidateNamesTheFlagOfTheFirstBadValue) {
  const ValidateCase cases[] = {
      {"no connector threads", [](RunOptions& o) { o.connector_threads = 0; },
       "--connector-threads: must be in [1, 256], not 0"},
      {"too many connector threads", [](RunOptions& o) { o.connector_threads = 257; },
       "--connector-threads: must be in [1, 256], not 257"},
      {"empty per-processor queue", [](RunOptions& o) { o.connector_queue_limit = 0; },
       "--connector-queue-limit: must be in [1, 1000000], not 0"},
      {"queue beyond the limit", [](RunOptions& o) { o.connector_max_queued = 10'000'001; },
       "--connector-max-queued: must be in [1, 10000000], not 10000001"},
      {"negative unknown outcomes", [](RunOptions& o) { o.max_unknown_outcomes = -1; },
       "--max-unknown-outcomes: must be in [0, 10000000], not -1"},
      {"http not host:port", [](RunOptions& o) { o.http_addr = "nonsense"; },
       "--http: 'nonsense' is not host:port"},
      {"metrics not host:port", [](RunOptions& o) { o.metrics_addr = "nonsense"; },
       "--metrics: 'nonsense' is not host:port"},
      {"merchant API without http", [](RunOptions& o) { o.merchant_api = true; },
       "--merchant-api needs --http"},
      {"a lag bound without http", [](RunOptions& o) { o.max_lag = 5; }, "--max-lag needs --http"},
      {"webhook secrets without the webhooks port",
       [](RunOptions& o) { o.webhook_secrets = "stripe=SECRET"; },
       "--webhook-secrets needs --webhooks"},
      {"a partition assigned twice", [](RunOptions& o) { o.assign = "1,1"; },
       "--assign: partition 1 given twice"},
      {"no cached payments", [](RunOptions& o) { o.max_cached_payments = 0; },
       "--max-cached-payments: must be at least 1, not 0"},
      {"a lag below never", [](RunOptions& o) { o.max_lag = -2; },
       "--max-lag: must be at least -1, not -2"},
      {"no partitions", [](RunOptions& o) { o.kafka.partitions = 0; },
       "--partitions: must be at least 1, not 0"},
      {"a property without a value",
       [](RunOptions& o) {
         o.kafka.property_args = {"a=1", "b"};
       },
       "-X 'b': expected key=value"},
      {"a property without a key", [](RunOptions& o) { o.kafka.property_args = {"=1"}; },
       "-X '=1': expected key=value"},
      {"assign not a number", [](RunOptions& o) { o.assign = "foo"; },
       "--assign: 'foo' is not a partition number (\"all\" or \"0,2,5\")"},
      {"assign with an empty item", [](RunOptions& o) { o.assign = "1,,2"; },
       "--assign: '' is not a partition number (\"all\" or \"0,2,5\")"},
      {"assign negative", [](RunOptions& o) { o.assign = "-1"; },
       "--assign: '-1' is not a partition number (\"all\" or \"0,2,5\")"},
      {"webhooks not host:port", [](RunOptions& o) { o.webhooks_addr = "nonsense"; },
       "--webhooks: 'nonsense' is not host:port"},
      {"webhooks without secrets", [](RunOptions& o) { o.webhooks_addr = "127.0.0.1:0"; },
       "--webhooks needs --webhook-secrets \"processor=ENV_VAR;...\""},
      {"a webhook secret not processor=ENV_VAR",
       [](RunOptions& o) {
         o.webhooks_addr = "127.0.0.1:0";
         o.webhook_secrets = "stripe";
       },
       "--webhook-secrets: 'stripe' is not processor=ENV_VAR"},
      {"a webhook secret's variable unset",
       [](RunOptions& o) {
         o.webhooks_addr = "127.0.0.1:0";
         o.webhook_secrets = "stripe=PAYORCH_TEST_UNSET_SECRET";
       },
       "--webhook-secrets: environment variable PAYORCH_TEST_UNSET_SECRET is not set"},
  };
  for (const ValidateCase& c : cases) {
    SCOPED_TRACE(c.name);
    RunOptions o;
    c.change(o);
    EXPECT_EQ(Validate(o), c.error);
  }
}

TEST(RunOptions, AssignAllOrPartitionNumbersIsValidBeforeTheTopicIsKnown) {
  for (const char* assign : {"all", "0", "0,2,5", "99"}) {
    RunOptions o;
    o.assign = assign;
    EXPECT_EQ(Validate(o), "") << assign;
  }
}

TEST(RunOptions, ZeroUnknownOutcomesMeansNoLimitAndIsValid) {
  RunOptions o;
  o.max_unknown_outcomes = 0;
  o.http_addr = "127.0.0.1:0";
  o.merchant_api = true;
  EXPECT_EQ(Validate(o), "");
}

class KafkaOptionsTest : public ::testing::Test {
 protected:
  KafkaOptionsTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("payorch-app-options-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_);
  }
  ~KafkaOptionsTest() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(KafkaOptionsTest, PropertiesAreSplitAtTheFirstEquals) {
  log::KafkaOptions k;
  k.bootstrap_servers = "127.0.0.1:9092";
  k.property_args = {"fetch.wait.max.ms=100", "sasl.password=a=b"};
  ASSERT_EQ(ResolveKafkaOptions(&k), "");
  EXPECT_TRUE(k.property_args.empty());
  ASSERT_EQ(k.properties.size(), 2u);
  EXPECT_EQ(k.properties[1].first, "sasl.password");
  EXPECT_EQ(k.properties[1].second, "a=b");
}

TEST_F(KafkaOptionsTest, BadValuesAreOneLineNamingTheFlag) {
  log::KafkaOptions k;
  k.bootstrap_servers = "127.0.0.1:9092";
  k.property_args = {"novalue"};
  EXPECT_EQ(ResolveKafkaOptions(&k), "-X 'novalue': expected key=value");
  k = {};
  k.bootstrap_servers = "127.0.0.1:9092";
  k.replication_factor = 0;
  EXPECT_EQ(ResolveKafkaOptions(&k), "--replication-factor: must be at least 1, not 0");
  k = {};
  EXPECT_NE(ResolveKafkaOptions(&k).find("no broker given"), std::string::npos);
  k = {};
  k.bootstrap_file = (dir_ / "missing").string();
  EXPECT_EQ(ResolveKafkaOptions(&k).rfind("--bootstrap-file ", 0), 0u);
}

TEST_F(KafkaOptionsTest, TheBootstrapFileIsReadWhenNoBrokerIsGiven) {
  const std::string path = (dir_ / "bootstrap").string();
  ASSERT_EQ(WriteBootstrapFile(path, "127.0.0.1:1234"), "");
  log::KafkaOptions k;
  k.bootstrap_file = path;
  ASSERT_EQ(ResolveKafkaOptions(&k), "");
  EXPECT_EQ(k.bootstrap_servers, "127.0.0.1:1234");
}

}  // namespace
}  // namespace payorch::app
