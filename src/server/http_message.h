// HTTP/1.1 messages as the server needs them: a strict, bounded parser of request heads and of
// chunked request bodies (RFC 9112), and the formatting of response heads. Pure functions over
// bytes, so they are unit-tested and fuzzed without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autarky::server {

struct HttpLimits {
  size_t max_head_bytes = 16 * 1024;  // request line + headers
  size_t max_headers = 100;
  size_t max_body_bytes = 16 << 20;  // larger bodies get 413
};

struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string target;                                        // as sent: "/v1/models?x=1"
  std::string path;                                          // the target up to '?'
  std::string query;                                         // after '?', without it
  int minor_version = 1;                                     // HTTP/1.<minor_version>
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;

  // The first value of a header (name in lower case), nullptr when absent.
  const std::string* Header(std::string_view name) const;
  // Whether the connection may carry another request after this one.
  bool KeepAlive() const;
};

// How the body of a parsed head is framed.
enum class BodyFraming { kNone, kLength, kChunked };

struct HeadParse {
  enum class Kind { kIncomplete, kDone, kError };
  Kind kind = Kind::kIncomplete;
  size_t head_bytes = 0;  // kDone: bytes of the head, blank line included
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;   // with kLength
  bool expect_continue = false;  // "Expect: 100-continue"
  int status = 0;                // kError: the status to answer (400, 413, 431, 501, 505)
  std::string message;           // kError: what is wrong, for the client
};

// Parses the head at the start of `data` into `request` (method, target, version, headers).
// kIncomplete: more bytes are needed (and the head so far is within the limits).
HeadParse ParseRequestHead(std::string_view data, const HttpLimits& limits, HttpRequest* request);

// Decodes a chunked body incrementally (chunk extensions ignored, trailers skipped).
class ChunkedDecoder {
 public:
  enum class State { kIncomplete, kDone, kError };
  explicit ChunkedDecoder(size_t max_body) : max_body_(max_body) {}

  // Consumes bytes from the front of `data` (sets *consumed), appending body bytes to `body`.
  // kError: malformed (status 400) or larger than max_body (status 413); see status().
  State Feed(std::string_view data, size_t* consumed, std::string* body);
  int status() const { return status_; }
  const std::string& message() const { return message_; }

 private:
  enum class Phase { kSize, kData, kDataEnd, kTrailer, kDone };
  State Fail(int status, std::string message);
  Phase phase_ = Phase::kSize;
  uint64_t remaining_ = 0;  // bytes left in the current chunk
  size_t line_bytes_ = 0;   // length of the size or trailer line so far (bounded)
  std::string line_;
  size_t max_body_;
  int status_ = 0;
  std::string message_;
};

// "OK", "Bad Request", ... ("Unknown" for others).
const char* StatusReason(int status);

// "HTTP/1.1 <status> <reason>\r\n" + headers + "\r\n". `headers` must not contain CR or LF.
std::string FormatResponseHead(int status,
                               const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace autarky::server
