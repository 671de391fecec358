// HttpServer: listening, connection threads, deadlines, responders (see http_server.h).
#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace autarky::server {

namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point After(int ms) { return Clock::now() + std::chrono::milliseconds(ms); }

int RemainingMs(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left > 1 << 30 ? 1 << 30 : left);
}

// Sends all of `data`; the deadline moves forward whenever the client accepts bytes, so only a
// client that stops reading for timeout_ms is dropped.
bool SendAll(int fd, std::string_view data, int timeout_ms) {
  auto deadline = After(timeout_ms);
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      deadline = After(timeout_ms);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p = {fd, POLLOUT, 0};
      const int left = RemainingMs(deadline);
      if (left == 0) return false;
      const int r = ::poll(&p, 1, left);
      if (r < 0 && errno != EINTR) return false;
      if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
      continue;
    }
    return false;
  }
  return true;
}

enum class ReadResult { kData, kClosed, kTimeout };

// Appends what the client sends next (up to 64 KiB) to `buffer`.
ReadResult ReadSome(int fd, std::string& buffer, Clock::time_point deadline) {
  char chunk[64 * 1024];
  for (;;) {
    const int left = RemainingMs(deadline);
    if (left == 0) return ReadResult::kTimeout;
    pollfd p = {fd, POLLIN, 0};
    const int r = ::poll(&p, 1, left);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ReadResult::kClosed;
    }
    if (r == 0) continue;  // re-checks the deadline
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buffer.append(chunk, static_cast<size_t>(n));
      return ReadResult::kData;
    }
    if (n == 0) return ReadResult::kClosed;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return ReadResult::kClosed;
  }
}

// After an error response on a connection we will not read from again: stop sending, then
// drain briefly, so the client reads the response instead of a reset for its unread data.
void LingeringClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  std::string sink;
  const auto deadline = After(1000);
  size_t drained = 0;
  while (drained < (4u << 20) && ReadSome(fd, sink, deadline) == ReadResult::kData) {
    drained += sink.size();
    sink.clear();
  }
}

class ConnectionResponder : public HttpResponder {
 public:
  ConnectionResponder(int fd, bool keep_alive, bool chunked_ok, int write_timeout_ms,
                      int idle_timeout_ms, const std::atomic<bool>& stopping)
      : fd_(fd),
        keep_alive_(keep_alive),
        chunked_ok_(chunked_ok),
        write_timeout_ms_(write_timeout_ms),
        idle_timeout_s_(idle_timeout_ms / 1000),
        stopping_(stopping) {}

  bool Send(int status, std::string_view content_type, std::string_view body,
            const HeaderList& extra) override {
    if (responded_) return false;
    responded_ = true;
    HeaderList headers = {{"Content-Type", std::string(content_type)},
                          {"Content-Length", std::to_string(body.size())}};
    AddConnectionHeaders(headers);
    headers.insert(headers.end(), extra.begin(), extra.end());
    std::string out = FormatResponseHead(status, headers);
    out.append(body);
    return Put(out);
  }

  bool StartStream(int status, std::string_view content_type, const HeaderList& extra) override {
    if (responded_) return false;
    responded_ = true;
    streaming_ = true;
    HeaderList headers = {{"Content-Type", std::string(content_type)},
                          {"Cache-Control", "no-cache"},
                          {"X-Accel-Buffering", "no"}};
    if (chunked_ok_) {
      headers.emplace_back("Transfer-Encoding", "chunked");
    } else {
      keep_alive_ = false;  // HTTP/1.0: the end of the body is the end of the connection
    }
    AddConnectionHeaders(headers);
    headers.insert(headers.end(), extra.begin(), extra.end());
    return Put(FormatResponseHead(status, headers));
  }

  bool Write(std::string_view data) override {
    if (!streaming_ || data.empty()) return streaming_ && !failed_;
    if (!chunked_ok_) return Put(data);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    std::string out = size;
    out.append(data);
    out.append("\r\n");
    return Put(out);
  }

  bool End() override {
    if (!streaming_) return false;
    streaming_ = false;
    return chunked_ok_ ? Put("0\r\n\r\n") : !failed_;
  }

  bool ClientGone() override {
    if (failed_ || stopping_.load(std::memory_order_relaxed)) return true;
    pollfd p = {fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
      char c;
      const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
    return false;
  }

  bool responded() const override { return responded_; }
  bool reusable() const { return keep_alive_ && !failed_ && !streaming_; }

 private:
  // Tells clients how long an idle connection stays open, so they do not reuse one the server
  // is about to close.
  void AddConnectionHeaders(HeaderList& headers) const {
    headers.emplace_back("Connection", keep_alive_ ? "keep-alive" : "close");
    if (keep_alive_)
      headers.emplace_back("Keep-Alive", "timeout=" + std::to_string(idle_timeout_s_));
  }

  bool Put(std::string_view data) {
    if (failed_) return false;
    if (!SendAll(fd_, data, write_timeout_ms_)) failed_ = true;
    return !failed_;
  }

  int fd_;
  bool keep_alive_;
  bool chunked_ok_;
  int write_timeout_ms_;
  int idle_timeout_s_;
  const std::atomic<bool>& stopping_;
  bool responded_ = false;
  bool streaming_ = false;
  bool failed_ = false;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                      HttpHandler handler,
                                                      HttpErrorFormatter format_error) {
  if (options.port < 0 || options.port > 65535) {
    return ErrorStatus("--port " + std::to_string(options.port) + " is not a TCP port");
  }
  if (options.max_connections < 1) return ErrorStatus("--max-connections must be at least 1");
  auto server = std::unique_ptr<HttpServer>(
      new HttpServer(std::move(options), std::move(handler), std::move(format_error)));
  const HttpServerOptions& o = server->options_;
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const std::string port_text = std::to_string(o.port);
  const int gai = ::getaddrinfo(o.host.c_str(), port_text.c_str(), &hints, &addresses);
  if (gai != 0) {
    return ErrorStatus("cannot resolve --host '" + o.host + "': " + ::gai_strerror(gai));
  }
  std::string error = "no address";
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    server->listen_fd_ = fd;
    break;
  }
  ::freeaddrinfo(addresses);
  if (server->listen_fd_ < 0) {
    return ErrorStatus("cannot listen on " + o.host + ":" + port_text + ": " + error);
  }
  sockaddr_storage bound = {};
  socklen_t bound_len = sizeof bound;
  ::getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  server->port_ =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (::pipe2(server->wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return ErrorStatus(std::string("pipe: ") + std::strerror(errno));
  }
  HttpServer* raw = server.get();
  server->accept_thread_ = std::thread([raw] { raw->AcceptLoop(); });
  return server;
}

HttpServer::~HttpServer() {
  Stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void HttpServer::Stop() {
  if (stopping_.exchange(true)) {
    if (accept_thread_.joinable()) accept_thread_.join();
    return;
  }
  if (wake_pipe_[1] >= 0) {
    const char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &byte, 1);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  std::unique_lock<std::mutex> lock(mutex_);
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);  // wakes reads and ClientGone()
  all_done_.wait(lock, [&] { return fds_.empty(); });
}

void HttpServer::AcceptLoop() {
  while (!stopping_.load()) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) continue;
    if (p[1].revents != 0 || stopping_.load()) break;
    if ((p[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors: back off instead of spinning on a listen socket that stays ready.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // tokens go out at once
    if (active_.load() >= options_.max_connections) {
      Reject(fd);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fds_.insert(fd);
      ++active_;
    }
    try {
      std::thread([this, fd] { Serve(fd); }).detach();
    } catch (const std::system_error&) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        fds_.erase(fd);
        --active_;
      }
      Reject(fd);
    }
  }
}

void HttpServer::Reject(int fd) {
  ++rejected_;
  const std::string body =
      format_error_(503, "the server has too many open connections (" +
                             std::to_string(options_.max_connections) + "): retry later");
  const std::string response =
      FormatResponseHead(503, {{"Content-Type", "application/json"},
                               {"Content-Length", std::to_string(body.size())},
                               {"Retry-After", "1"},
                               {"Connection", "close"}}) +
      body;
  // Best effort and never blocking the accept loop: the response fits the socket buffer. The
  // request already received is read first: closing a socket with unread data sends a reset,
  // which can destroy the response before the client reads it.
  auto drain = [fd] {
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
  };
  drain();
  [[maybe_unused]] ssize_t n =
      ::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  drain();
  ::close(fd);
}

void HttpServer::Serve(int fd) {
  std::string buffer;
  bool first = true;
  auto send_error = [&](int status, const std::string& message) {
    const std::string body = format_error_(status, message);
    const std::string response =
        FormatResponseHead(status, {{"Content-Type", "application/json"},
                                    {"Content-Length", std::to_string(body.size())},
                                    {"Connection", "close"}}) +
        body;
    if (SendAll(fd, response, options_.write_timeout_ms)) LingeringClose(fd);
  };
  while (!stopping_.load()) {
    // The first byte of the next request.
    if (buffer.empty()) {
      const auto wait = After(first ? options_.head_timeout_ms : options_.idle_timeout_ms);
      if (ReadSome(fd, buffer, wait) != ReadResult::kData) break;
    }
    first = false;
    HttpRequest request;
    const auto head_deadline = After(options_.head_timeout_ms);
    HeadParse head;
    for (;;) {
      head = ParseRequestHead(buffer, options_.limits, &request);
      if (head.kind != HeadParse::Kind::kIncomplete) break;
      const ReadResult r = ReadSome(fd, buffer, head_deadline);
      if (r == ReadResult::kClosed) break;
      if (r == ReadResult::kTimeout) {
        head.kind = HeadParse::Kind::kError;
        head.status = 408;
        head.message = "the request head did not arrive within " +
                       std::to_string(options_.head_timeout_ms) + " ms";
        break;
      }
    }
    if (head.kind == HeadParse::Kind::kIncomplete) break;  // the client closed mid-head
    if (head.kind == HeadParse::Kind::kError) {
      send_error(head.status, head.message);
      break;
    }
    buffer.erase(0, head.head_bytes);

    if (head.expect_continue &&
        !SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n", options_.write_timeout_ms)) {
      break;
    }
    const auto body_deadline = After(options_.body_timeout_ms);
    bool body_ok = true;
    if (head.framing == BodyFraming::kLength) {
      while (buffer.size() < head.content_length && body_ok) {
        const ReadResult r = ReadSome(fd, buffer, body_deadline);
        if (r == ReadResult::kTimeout) {
          send_error(408, "the request body did not arrive within " +
                              std::to_string(options_.body_timeout_ms) + " ms");
        }
        body_ok = r == ReadResult::kData;
      }
      if (!body_ok) break;
      request.body = buffer.substr(0, head.content_length);
      buffer.erase(0, head.content_length);
    } else if (head.framing == BodyFraming::kChunked) {
      ChunkedDecoder decoder(options_.limits.max_body_bytes);
      for (;;) {
        size_t consumed = 0;
        const ChunkedDecoder::State state = decoder.Feed(buffer, &consumed, &request.body);
        buffer.erase(0, consumed);
        if (state == ChunkedDecoder::State::kDone) break;
        if (state == ChunkedDecoder::State::kError) {
          send_error(decoder.status(), decoder.message());
          body_ok = false;
          break;
        }
        const ReadResult r = ReadSome(fd, buffer, body_deadline);
        if (r == ReadResult::kTimeout) {
          send_error(408, "the request body did not arrive within " +
                              std::to_string(options_.body_timeout_ms) + " ms");
        }
        if (r != ReadResult::kData) {
          body_ok = false;
          break;
        }
      }
      if (!body_ok) break;
    }

    ConnectionResponder responder(fd, request.KeepAlive(), request.minor_version >= 1,
                                  options_.write_timeout_ms, options_.idle_timeout_ms, stopping_);
    handler_(request, responder);
    if (!responder.responded()) {
      responder.Send(500, "application/json",
                     format_error_(500, "the handler did not answer the request"), {});
    }
    if (!responder.reusable()) break;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  fds_.erase(fd);
  ::close(fd);
  --active_;
  all_done_.notify_all();
}

}  // namespace autarky::server
