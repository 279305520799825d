// Entry points of the payorch subcommands. Each returns the process exit code:
// 0 success, 1 failure of the job, 2 bad usage (one-line message on stderr).
#pragma once

#include <memory>
#include <string>

namespace payorch::log {
struct KafkaOptions;
}  // namespace payorch::log

namespace payorch::cli {

int RunDemo(int argc, char** argv);
int RunBroker(int argc, char** argv);
int RunSend(int argc, char** argv);
int RunTail(int argc, char** argv);
int RunRun(int argc, char** argv);
int RunCheck(int argc, char** argv);
int RunBench(int argc, char** argv);
int RunRetrospective(int argc, char** argv);
int RunGatewaySim(int argc, char** argv);
int RunServe(int argc, char** argv);
int RunReplay(int argc, char** argv);
int RunApi(int argc, char** argv);
int RunKeys(int argc, char** argv);

// `payorch run --webhooks`: serves POST /v1/webhooks/{processor} on `address`, appending
// RecordGatewayResult commands to the commands topic of `kafka`; secrets come from the
// environment variables named in `secret_envs` ("processor=ENV_VAR;..."). The returned
// handle keeps it running; nullptr and *error (one line) on failure. (cmd_gateway_sim.cc)
std::shared_ptr<void> StartWebhooks(const std::string& address, const std::string& secret_envs,
                                    const log::KafkaOptions& kafka, std::string* error);

}  // namespace payorch::cli
