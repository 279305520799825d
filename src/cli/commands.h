// Entry points of the payorch subcommands. Each returns the process exit code:
// 0 success, 1 failure of the job, 2 bad usage (one-line message on stderr).
#pragma once

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

}  // namespace payorch::cli
