// HttpServer: a small HTTP/1.1 server over POSIX sockets, one thread per connection, built for
// a long-running inference server that must outlive bad clients:
//  - a bounded number of connections (more are answered 503 and closed at once),
//  - deadlines for a request's head and body and for every write (slow clients are dropped),
//    and an idle timeout between keep-alive requests,
//  - body size limits checked before the body is read (413),
//  - a responder that tells a handler when its client has gone (a closed connection is seen
//    while the handler waits, not only on the next write), so generation stops at once,
//  - chunked responses for streaming (server-sent events).
//
// Why not cpp-httplib (Debian's 0.11.4): it cannot tell a handler that the client disconnected
// before the handler writes (no is_connection_closed), its task queue is unbounded, and Debian
// ships it as a prebuilt shared library (with OpenSSL, zlib, brotli), invisible to our TSan and
// ASan builds. This subset is small, strict and fuzzed (tests/fuzz/server_http_fuzz.cc).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "server/http_message.h"
#include "util/status.h"

namespace autarky::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A handler's way to answer one request: either Send once, or StartStream, Write..., End.
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  // A whole response with Content-Length. Returns false when the client could not be written to.
  virtual bool Send(int status, std::string_view content_type, std::string_view body,
                    const HeaderList& extra = {}) = 0;
  // A streamed response (chunked); each Write is sent at once. False: the client is gone.
  virtual bool StartStream(int status, std::string_view content_type,
                           const HeaderList& extra = {}) = 0;
  virtual bool Write(std::string_view data) = 0;
  virtual bool End() = 0;
  // True once the client has closed its side of the connection (or the server is stopping).
  // Cheap (one poll): handlers call it while they wait.
  virtual bool ClientGone() = 0;
  // Whether a response has been started.
  virtual bool responded() const = 0;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponder&)>;
// Formats the body of an error the HTTP layer itself answers (parse errors, 413, 503, ...).
using HttpErrorFormatter = std::function<std::string(int status, const std::string& message)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;           // 0: any free port (see HttpServer::port())
  int max_connections = 64;  // concurrent connections; beyond that: 503 and close
  HttpLimits limits;
  int head_timeout_ms = 10000;   // a request head must arrive within this (from its first byte)
  int body_timeout_ms = 60000;   // ... and its body within this
  int idle_timeout_ms = 5000;    // keep-alive: wait this long for the next request
  int write_timeout_ms = 30000;  // a client that accepts no bytes for this long is dropped
};

class HttpServer {
 public:
  // Binds and listens (errors: bad host, port in use, ...), then serves on its own threads.
  static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options, HttpHandler handler,
                                                   HttpErrorFormatter format_error);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (useful with port 0).
  int port() const { return port_; }
  // Stops accepting, tells every handler its client is gone (shutting the sockets down), and
  // waits for all connection threads to finish. Idempotent.
  void Stop();

  // Connections being served now, and the totals so far (for /metrics).
  int active_connections() const { return active_.load(); }
  int64_t rejected_connections() const { return rejected_.load(); }

 private:
  HttpServer(HttpServerOptions options, HttpHandler handler, HttpErrorFormatter format_error)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        format_error_(std::move(format_error)) {}
  void AcceptLoop();
  void Serve(int fd);
  void Reject(int fd);

  const HttpServerOptions options_;
  const HttpHandler handler_;
  const HttpErrorFormatter format_error_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written by Stop to wake the accept loop
  int port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};

  std::mutex mutex_;  // guards fds_
  std::condition_variable all_done_;
  std::set<int> fds_;  // open connection sockets
  std::atomic<int> active_{0};
  std::atomic<int64_t> rejected_{0};
};

}  // namespace autarky::server
