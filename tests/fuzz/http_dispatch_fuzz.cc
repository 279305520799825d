// Fuzz target: the HTTP request layer, socket-less (Server::Dispatch) plus ParseAddress.
// The input is a raw HTTP/1.1-like request: "METHOD PATH?QUERY\r\n", header lines
// "Name: value\r\n", an empty line, then the body; anything unparsable is taken as is.
//
// Routes: every component that serves HTTP adds its routes to kRouteSets below, one line
// each (a function that registers its handlers on the server, with fakes for what they
// read). The fuzzer dispatches every request through all of them.
//
// Checked: Dispatch never crashes or throws; every answer has a status in 100..599 and,
// when JSON, parses as JSON; an error answer has the shared error shape.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "http/server.h"

namespace {

using payorch::http::Request;
using payorch::http::Response;
using payorch::http::Server;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

// Handlers shaped like the real ones: a path parameter, a query parameter, a JSON body.
void MountReference(Server& s) {
  s.Handle("GET", R"(/v1/payments/([^/]+))", [](const Request& r) {
    return payorch::http::Json(200, {{"payment_id", r.path_params.at(0)}});
  });
  s.Handle("GET", R"(/v1/payments)", [](const Request& r) {
    const std::string limit = r.Query("limit").value_or("10");
    return payorch::http::Json(200, {{"limit", std::stoi(limit)}});  // throws on junk: 500
  });
  s.Handle("POST", R"(/v1/webhooks/([a-z_]+))", [](const Request& r) {
    const auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (body.is_discarded()) return payorch::http::Error(400, "bad_json", "body is not JSON");
    return payorch::http::Json(202, {{"accepted", body.size()}});
  });
}

// One line per component serving HTTP: {name, function registering its routes}.
struct RouteSet {
  const char* name;
  void (*mount)(Server&);
};
constexpr RouteSet kRouteSets[] = {
    {"reference", &MountReference},
};

const Server& TheServer() {
  static Server* server = [] {
    auto* s = new Server({.threads = 1});
    for (const auto& set : kRouteSets) set.mount(*s);
    return s;
  }();
  return *server;
}

Request ParseRequest(std::string_view in) {
  Request r;
  auto line_end = [&](std::string_view s) {
    const size_t n = s.find("\r\n");
    return n == std::string_view::npos ? s.size() : n;
  };
  size_t n = line_end(in);
  std::string_view first = in.substr(0, n);
  in.remove_prefix(std::min(in.size(), n + 2));
  const size_t sp = first.find(' ');
  r.method = std::string(first.substr(0, sp));
  std::string_view target = sp == std::string_view::npos ? "" : first.substr(sp + 1);
  const size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view kv = query.substr(0, amp);
      const size_t eq = kv.find('=');
      r.query.emplace(std::string(kv.substr(0, eq)),
                      eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1)));
      query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    }
  }
  while (!in.empty()) {
    n = line_end(in);
    const std::string_view line = in.substr(0, n);
    in.remove_prefix(std::min(in.size(), n + 2));
    if (line.empty()) break;
    const size_t colon = line.find(':');
    r.headers.emplace(std::string(line.substr(0, colon)),
                      colon == std::string_view::npos ? "" : std::string(line.substr(colon + 1)));
  }
  r.body = std::string(in);
  r.remote_addr = "127.0.0.1";
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto address = payorch::http::ParseAddress(in.substr(0, in.find('\n')))) {
    Check(address->port >= 0 && address->port <= 65535, "port out of range");
  }
  const Response r = TheServer().Dispatch(ParseRequest(in));
  Check(r.status >= 100 && r.status <= 599, "status out of range");
  if (r.content_type == "application/json") {
    const auto body = nlohmann::json::parse(r.body, nullptr, false);
    Check(!body.is_discarded(), "JSON answer does not parse");
    if (r.status >= 400) {
      Check(body.contains("error") && body["error"].contains("code"), "error shape");
    }
  }
  return 0;
}
