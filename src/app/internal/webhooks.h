// `payorch run --webhooks`: serves POST /v1/webhooks/{processor} (signed gateway
// notifications, docs/gateway-api.md) on `address`, appending RecordGatewayResult commands
// to the commands topic of `kafka`. The signing secrets come from the environment
// variables named in `secret_envs` ("processor=ENV_VAR;..."); at least one is required.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "http/server.h"
#include "log/options.h"

namespace payorch::app::internal {

// The signing secrets `secret_envs` ("processor=ENV_VAR;...") names, read from the
// environment, into *secrets (by processor). "" or a one-line error naming the flag: an
// item that is not processor=ENV_VAR, an unset or empty variable, no item at all.
[[nodiscard]] std::string ReadWebhookSecrets(const std::string& secret_envs,
                                             std::map<std::string, std::string>* secrets);

// The returned handle keeps the endpoint serving until it is released. `announce` gets
// "webhooks at http://host:port/v1/webhooks/{processor}" once it serves. nullptr and
// *error (one line, naming the flag) when a secret is missing or the server cannot start.
[[nodiscard]] std::shared_ptr<void> StartWebhooks(
    const std::string& address, const std::string& secret_envs, const log::KafkaOptions& kafka,
    const std::function<void(const std::string&)>& announce, http::ServerOptions server_options,
    std::string* error);

}  // namespace payorch::app::internal
