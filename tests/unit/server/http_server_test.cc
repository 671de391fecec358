// HttpServer over real loopback sockets: keep-alive and pipelining, request bodies (length,
// chunked, 100-continue), the limits (413, 431, 503 at the connection cap), deadlines (408 and
// idle close), chunked streaming, and a handler learning that its client has gone.
#include "server/http_server.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace autarky::server {
namespace {

using namespace std::chrono_literals;

std::string ErrorBody(int status, const std::string& message) {
  return "{\"status\":" + std::to_string(status) + ",\"message\":\"" + message + "\"}";
}

class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { Close(); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return connected_; }
  void Send(const std::string& data) {
    ASSERT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(data.size()));
  }
  // Reads until `done(buffer)` or the connection closes or 5 s pass; returns what was read.
  template <typename Done>
  std::string ReadUntil(Done done, int timeout_ms = 5000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done(buffer_) && std::chrono::steady_clock::now() < deadline) {
      pollfd p = {fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    std::string out;
    out.swap(buffer_);
    return out;
  }
  // One whole response with Content-Length (left-over bytes stay for the next read).
  std::string ReadResponse() {
    std::string got = ReadUntil([](const std::string& b) {
      const size_t end = b.find("\r\n\r\n");
      if (end == std::string::npos) return false;
      const size_t cl = b.find("Content-Length: ");
      if (cl == std::string::npos || cl > end) return true;
      return b.size() >= end + 4 + std::stoul(b.substr(cl + 16));
    });
    const size_t end = got.find("\r\n\r\n");
    const size_t cl = got.find("Content-Length: ");
    if (end != std::string::npos && cl != std::string::npos && cl < end) {
      const size_t total = end + 4 + std::stoul(got.substr(cl + 16));
      if (got.size() > total) {
        buffer_ = got.substr(total);
        got.resize(total);
      }
    }
    return got;
  }
  std::string ReadToClose(int timeout_ms = 5000) {
    return ReadUntil([](const std::string&) { return false; }, timeout_ms);
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string buffer_;
};

std::string BodyOf(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpHandler handler, HttpServerOptions options = {}) {
    options.port = 0;
    auto server = HttpServer::Start(options, std::move(handler), ErrorBody);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
  }
  int port() const { return server_->port(); }

  static void Echo(const HttpRequest& r, HttpResponder& out) {
    out.Send(200, "text/plain", r.method + " " + r.target + " [" + r.body + "]");
  }

  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, AnswersAndKeepsTheConnection) {
  Start(Echo);
  Client c(port());
  ASSERT_TRUE(c.connected());
  c.Send("GET /health?x HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string r = c.ReadResponse();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(r.find("Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n"), std::string::npos) << r;
  EXPECT_EQ(BodyOf(r), "GET /health?x []");
  c.Send("POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(BodyOf(c.ReadResponse()), "POST /b [hello]");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start(Echo);
  Client c(port());
  c.Send(
      "POST /1 HTTP/1.1\r\nContent-Length: 1\r\n\r\naGET /2 HTTP/1.1\r\n\r\n"
      "GET /3 HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(BodyOf(c.ReadResponse()), "POST /1 [a]");
  EXPECT_EQ(BodyOf(c.ReadResponse()), "GET /2 []");
  const std::string last = c.ReadResponse();
  EXPECT_EQ(BodyOf(last), "GET /3 []");
  EXPECT_NE(last.find("Connection: close"), std::string::npos);
  c.ReadToClose(2000);
  EXPECT_TRUE(c.closed());
}

TEST_F(HttpServerTest, ChunkedBodyAndExpectContinue) {
  Start(Echo);
  Client c(port());
  c.Send("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(BodyOf(c.ReadResponse()), "POST /c [abcde]");
  c.Send("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  const std::string interim =
      c.ReadUntil([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  c.Send("ok");
  EXPECT_EQ(BodyOf(c.ReadResponse()), "POST /e [ok]");
}

TEST_F(HttpServerTest, OversizedBodyIsRefusedBeforeItIsRead) {
  HttpServerOptions options;
  options.limits.max_body_bytes = 1000;
  std::atomic<int> calls{0};
  Start(
      [&](const HttpRequest& r, HttpResponder& out) {
        ++calls;
        Echo(r, out);
      },
      options);
  Client c(port());
  c.Send("POST /big HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n" + std::string(2000, 'x'));
  const std::string r = c.ReadResponse();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 413 ")) << r;
  EXPECT_NE(BodyOf(r).find("1000000"), std::string::npos) << r;
  EXPECT_EQ(calls.load(), 0);
  // A chunked body over the limit is cut off too.
  Client d(port());
  d.Send("POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
         std::string(2048, 'x'));
  EXPECT_TRUE(d.ReadResponse().starts_with("HTTP/1.1 413 "));
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(HttpServerTest, MalformedRequestGets400AndTheServerLivesOn) {
  Start(Echo);
  {
    Client c(port());
    c.Send("GARBAGE\r\n\r\n");
    const std::string r = c.ReadToClose();
    EXPECT_TRUE(r.starts_with("HTTP/1.1 400 ")) << r;
    EXPECT_EQ(BodyOf(r), ErrorBody(400, "malformed request line"));
  }
  {
    Client c(port());
    c.Send(std::string(20000, 'A'));
    EXPECT_TRUE(c.ReadToClose().starts_with("HTTP/1.1 431 "));
  }
  Client c(port());
  c.Send("GET /still-alive HTTP/1.1\r\n\r\n");
  EXPECT_EQ(BodyOf(c.ReadResponse()), "GET /still-alive []");
}

TEST_F(HttpServerTest, SlowHeadGets408AndIdleConnectionsClose) {
  HttpServerOptions options;
  options.head_timeout_ms = 300;
  options.idle_timeout_ms = 300;
  Start(Echo, options);
  Client slow(port());
  slow.Send("GET / HTTP/1.1\r\nHost");  // and nothing more
  const auto start = std::chrono::steady_clock::now();
  const std::string r = slow.ReadToClose();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 408 ")) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);

  Client idle(port());
  idle.Send("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(BodyOf(idle.ReadResponse()), "GET / []");
  idle.ReadToClose(3000);  // the server closes the idle keep-alive connection
  EXPECT_TRUE(idle.closed());
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCapGet503) {
  HttpServerOptions options;
  options.max_connections = 2;
  Start(Echo, options);
  Client a(port()), b(port());
  // Make sure both are being served (the cap counts served connections).
  a.Send("GET /a HTTP/1.1\r\n\r\n");
  b.Send("GET /b HTTP/1.1\r\n\r\n");
  EXPECT_EQ(BodyOf(a.ReadResponse()), "GET /a []");
  EXPECT_EQ(BodyOf(b.ReadResponse()), "GET /b []");
  Client c(port());
  const std::string r = c.ReadToClose();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 503 ")) << r;
  EXPECT_NE(r.find("Retry-After: 1"), std::string::npos);
  EXPECT_EQ(server_->rejected_connections(), 1);
  a.Close();
  // Once a slot frees, new connections are served again.
  for (int attempt = 0; attempt < 50 && server_->active_connections() >= 2; ++attempt) {
    std::this_thread::sleep_for(20ms);
  }
  Client d(port());
  d.Send("GET /d HTTP/1.1\r\n\r\n");
  EXPECT_EQ(BodyOf(d.ReadResponse()), "GET /d []");
}

TEST_F(HttpServerTest, StreamsChunks) {
  Start([](const HttpRequest&, HttpResponder& out) {
    ASSERT_TRUE(out.StartStream(200, "text/event-stream"));
    EXPECT_TRUE(out.Write("data: 1\n\n"));
    EXPECT_TRUE(out.Write("data: 2\n\n"));
    EXPECT_TRUE(out.End());
  });
  Client c(port());
  c.Send("GET /s HTTP/1.1\r\n\r\n");
  const std::string r = c.ReadUntil([](const std::string& b) { return b.ends_with("0\r\n\r\n"); });
  EXPECT_NE(r.find("Transfer-Encoding: chunked"), std::string::npos) << r;
  EXPECT_EQ(BodyOf(r), "9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n");
  // HTTP/1.0 has no chunked encoding: the body ends with the connection.
  Client old(port());
  old.Send("GET /s HTTP/1.0\r\n\r\n");
  const std::string r10 = old.ReadToClose();
  EXPECT_EQ(BodyOf(r10), "data: 1\n\ndata: 2\n\n");
  EXPECT_NE(r10.find("Connection: close"), std::string::npos);
}

TEST_F(HttpServerTest, HandlerSeesTheClientLeave) {
  std::atomic<bool> entered{false}, saw_gone{false};
  Start([&](const HttpRequest&, HttpResponder& out) {
    entered = true;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (out.ClientGone()) {
        saw_gone = true;
        return;
      }
      std::this_thread::sleep_for(5ms);
    }
    out.Send(200, "text/plain", "late");
  });
  {
    Client c(port());
    c.Send("POST /wait HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
    for (int i = 0; i < 200 && !entered; ++i) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(entered.load());
    EXPECT_FALSE(saw_gone.load());
  }  // closes the connection
  for (int i = 0; i < 200 && !saw_gone; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(saw_gone.load());
}

TEST_F(HttpServerTest, StopEndsWaitingHandlersAndUnansweredRequestsGet500) {
  std::atomic<bool> entered{false};
  Start([&](const HttpRequest& r, HttpResponder& out) {
    if (r.path == "/silent") return;
    entered = true;
    while (!out.ClientGone()) std::this_thread::sleep_for(5ms);
  });
  Client silent(port());
  silent.Send("GET /silent HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(silent.ReadResponse().starts_with("HTTP/1.1 500 "));
  Client c(port());
  c.Send("GET /wait HTTP/1.1\r\n\r\n");
  for (int i = 0; i < 200 && !entered; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(entered.load());
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(server_->active_connections(), 0);
}

TEST_F(HttpServerTest, PortInUseIsAnError) {
  Start(Echo);
  HttpServerOptions options;
  options.port = port();
  auto second = HttpServer::Start(options, Echo, ErrorBody);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find(std::to_string(port())), std::string::npos)
      << second.status().message();
}

}  // namespace
}  // namespace autarky::server
