// The shared HTTP server over a real loopback socket: routing, path parameters, JSON
// errors for unknown paths, wrong methods, throwing handlers and oversized bodies.
#include "http/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace payorch::http {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Handle("GET", R"(/v1/things/([^/]+))", [](const Request& req) {
      return Json(200, {{"id", req.path_params.at(0)}, {"q", req.Query("q").value_or("")}});
    });
    server_.Handle("POST", "/v1/echo", [](const Request& req) {
      Response r;
      r.content_type = "text/plain";
      r.body = req.Header("x-ECHO").value_or("none") + ":" + req.body;
      r.headers.emplace_back("X-Seen", "yes");
      return r;
    });
    server_.Handle("GET", "/boom", [](const Request&) -> Response {
      throw std::runtime_error("secret internals");
    });
    auto port = server_.Start("127.0.0.1:0");
    ASSERT_TRUE(port) << port.error();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }

  Server server_{{.threads = 2, .max_body_bytes = 1024}};
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, RoutesCapturePathParametersAndQuery) {
  auto res = client_->Get("/v1/things/pay_42?q=yes");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["id"], "pay_42");
  EXPECT_EQ(body["q"], "yes");
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
}

TEST_F(HttpServerTest, HeadersAreCaseInsensitiveAndResponseHeadersAreSent) {
  auto res = client_->Post("/v1/echo", {{"X-Echo", "hi"}}, "body", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hi:body");
  EXPECT_EQ(res->get_header_value("X-Seen"), "yes");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405InTheErrorShape) {
  auto missing = client_->Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing->body)["error"]["code"], "not_found");

  auto wrong = client_->Post("/v1/things/x", "", "text/plain");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(nlohmann::json::parse(wrong->body)["error"]["code"], "method_not_allowed");
}

TEST_F(HttpServerTest, ThrowingHandlerIs500WithoutInternals) {
  auto res = client_->Get("/boom");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body.find("secret"), std::string::npos);
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  auto res = client_->Post("/v1/echo", std::string(4096, 'x'), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
}

// Every thread of a server carries its name ("po-io-<name>", "po-wk-<name>"), as
// `top -H` and perf show it.
TEST(HttpServer, ItsThreadsAreNamedAfterTheServer) {
  const auto count = [](const std::string& name) {
    int n = 0;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string line;
      if (std::getline(comm, line) && line == name) ++n;
    }
    return n;
  };
  Server server({.threads = 3, .io_threads = 2, .name = "probe"});
  auto port = server.Start("127.0.0.1:0");
  ASSERT_TRUE(port) << port.error();
  // The threads name themselves as they start; give them a moment.
  for (int i = 0; i < 200 && (count("po-wk-probe") < 3 || count("po-io-probe") < 2); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(count("po-wk-probe"), 3);
  EXPECT_EQ(count("po-io-probe"), 2);
  server.Stop();
}

TEST(HttpServer, StartNamesTheProblemForBadOrBusyAddresses) {
  Server a;
  auto bad = a.Start("localhost");
  EXPECT_FALSE(bad);
  EXPECT_NE(bad.error().find("bad address"), std::string::npos);

  Server first;
  auto port = first.Start("127.0.0.1:0");
  ASSERT_TRUE(port);
  Server second;
  auto busy = second.Start("127.0.0.1:" + std::to_string(*port));
  EXPECT_FALSE(busy);
  EXPECT_NE(busy.error().find("cannot listen"), std::string::npos);
}

TEST(HttpServer, StopRightAfterStartReturns) {
  for (int i = 0; i < 20; ++i) {
    Server s;
    ASSERT_TRUE(s.Start("127.0.0.1:0"));
    s.Stop();  // hung before Start waited for the accept loop
  }
}

TEST(HttpServer, InvalidUtf8InAPathIsAnsweredNotFatal) {
  Server s;
  Request req;
  req.method = "GET";
  req.path = "/no\xbf";
  const Response r = s.Dispatch(req);
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(nlohmann::json::accept(r.body));
}

TEST(HttpServer, DispatchRunsTheSameRoutesWithoutASocket) {
  Server s;
  s.Handle("GET", "/a/(\\d+)", [](const Request& r) {
    return Json(200, {{"n", r.path_params[0]}});
  });
  Request req;
  req.method = "GET";
  req.path = "/a/7";
  EXPECT_EQ(s.Dispatch(req).body, R"({"n":"7"})");
  req.path = "/a/x";
  EXPECT_EQ(s.Dispatch(req).status, 404);
}

// An async handler answers through its Reply, from a worker via Post or from any thread;
// one that drops its Reply unanswered gets the JSON 500, never a hung client. That 500 is an
// error the server answers itself, so it has the port's shape (ServerOptions::shape_error).
TEST(HttpServer, AsyncRoutesAnswerThroughTheirReplyAndADroppedReplyIsAShaped500) {
  ServerOptions options;
  options.shape_error = [](Response r) {
    r.headers.emplace_back("X-Shaped", "yes");
    return r;
  };
  Server server(options);
  server.HandleAsync("GET", "/later", [](const Request& req, const Reply& reply) {
    reply.Post([reply, id = req.request_id] { reply.Send(Json(200, {{"rid", id}})); });
  });
  server.HandleAsync("GET", "/dropped", [](const Request&, const Reply&) {});
  server.HandleAsync("GET", "/wrapped-dropped", [](const Request&, const Reply& reply) {
    (void)reply.Wrapped([](Response r) { return r; });
  });
  server.HandleAsync("GET", "/wrapped", [](const Request&, const Reply& reply) {
    reply
        .Wrapped([](Response r) {
          r.headers.emplace_back("X-Wrapped", "yes");
          return r;
        })
        .Send(Json(201, {}));
  });
  Request later;
  later.method = "GET";
  later.path = "/later";
  later.request_id = "r1";
  const Response a = server.Dispatch(later);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(nlohmann::json::parse(a.body)["rid"], "r1");
  const auto get = [&](const std::string& path) {
    Request r = later;
    r.path = path;
    return server.Dispatch(r);
  };
  for (const std::string path : {"/dropped", "/wrapped-dropped"}) {
    SCOPED_TRACE(path);
    const Response b = get(path);
    EXPECT_EQ(b.status, 500);
    EXPECT_EQ(nlohmann::json::parse(b.body)["error"]["code"], "internal");
    ASSERT_EQ(b.headers.size(), 1u);
    EXPECT_EQ(b.headers[0].first, "X-Shaped");
  }
  const Response c = get("/wrapped");
  EXPECT_EQ(c.status, 201);
  ASSERT_EQ(c.headers.size(), 1u);
  EXPECT_EQ(c.headers[0].second, "yes");
  // Over a socket too.
  auto port = server.Start("127.0.0.1:0");
  ASSERT_TRUE(port);
  httplib::Client client("127.0.0.1", *port);
  auto res = client.Get("/dropped");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->get_header_value("X-Shaped"), "yes");
  res = client.Get("/later");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HttpServer, ParseAddressAcceptsHostPortOnly) {
  EXPECT_TRUE(ParseAddress("127.0.0.1:80"));
  EXPECT_EQ(ParseAddress(":9090")->host, "0.0.0.0");
  EXPECT_FALSE(ParseAddress("127.0.0.1"));
  EXPECT_FALSE(ParseAddress("h:70000"));
  EXPECT_FALSE(ParseAddress("h:-1"));
  EXPECT_FALSE(ParseAddress("h:8x"));
}

}  // namespace
}  // namespace payorch::http
