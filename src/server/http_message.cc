// HTTP/1.1 request-head and chunked-body parsing, response-head formatting.
//
// Strict where leniency has bitten servers before: no whitespace before a header's colon, no
// folded lines, no control characters, no request with both Content-Length and
// Transfer-Encoding or with disagreeing Content-Lengths (request smuggling). Lenient where RFC
// 9112 allows it: bare LF line ends, empty lines before the request line.
#include "server/http_message.h"

#include <algorithm>

namespace autarky::server {

namespace {

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

HeadParse Error(int status, std::string message) {
  HeadParse out;
  out.kind = HeadParse::Kind::kError;
  out.status = status;
  out.message = std::move(message);
  return out;
}

// "Connection: keep-alive, Upgrade" contains the option `option`.
bool HasConnectionOption(const std::string& value, std::string_view option) {
  size_t begin = 0;
  while (begin <= value.size()) {
    size_t end = value.find(',', begin);
    if (end == std::string::npos) end = value.size();
    if (EqualsIgnoreCase(TrimOws(std::string_view(value).substr(begin, end - begin)), option)) {
      return true;
    }
    begin = end + 1;
  }
  return false;
}

}  // namespace

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

bool HttpRequest::KeepAlive() const {
  const std::string* connection = Header("connection");
  if (minor_version == 0)
    return connection != nullptr && HasConnectionOption(*connection, "keep-alive");
  return connection == nullptr || !HasConnectionOption(*connection, "close");
}

HeadParse ParseRequestHead(std::string_view data, const HttpLimits& limits, HttpRequest* request) {
  // Split into lines up to the first empty one after the request line.
  std::vector<std::string_view> lines;
  size_t pos = 0;
  size_t head_end = 0;
  for (;;) {
    const size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos || nl + 1 > limits.max_head_bytes) {
      if (data.size() > limits.max_head_bytes || nl != std::string_view::npos) {
        return Error(431, "the request head is larger than " +
                              std::to_string(limits.max_head_bytes) + " bytes");
      }
      HeadParse incomplete;
      return incomplete;
    }
    std::string_view line = data.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (line.empty()) {
      if (lines.empty()) continue;  // empty lines before the request line are allowed
      head_end = pos;
      break;
    }
    if (lines.size() > limits.max_headers) {
      return Error(431, "more than " + std::to_string(limits.max_headers) + " header fields");
    }
    lines.push_back(line);
  }

  // Request line: method SP request-target SP HTTP-version.
  const std::string_view request_line = lines[0];
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || request_line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Error(400, "malformed request line");
  }
  const std::string_view method = request_line.substr(0, sp1);
  const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = request_line.substr(sp2 + 1);
  if (!IsToken(method)) return Error(400, "malformed request method");
  if (target.empty() || target[0] != '/') {
    return Error(400, "the request target must be a path starting with '/'");
  }
  for (char c : target) {
    if (c <= 0x20 || c >= 0x7f) return Error(400, "invalid character in the request target");
  }
  if (version == "HTTP/1.1") {
    request->minor_version = 1;
  } else if (version == "HTTP/1.0") {
    request->minor_version = 0;
  } else if (version.starts_with("HTTP/")) {
    return Error(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  } else {
    return Error(400, "malformed HTTP version");
  }
  request->method.assign(method);
  request->target.assign(target);
  const size_t question = target.find('?');
  request->path.assign(target.substr(0, question));
  request->query.assign(question == std::string_view::npos ? std::string_view()
                                                           : target.substr(question + 1));

  // Header fields.
  request->headers.clear();
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line[0] == ' ' || line[0] == '\t') return Error(400, "folded header lines are not allowed");
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      return Error(400, "malformed header field");
    }
    const std::string_view value = TrimOws(line.substr(colon + 1));
    for (char c : value) {
      const unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        return Error(400, "control character in a header value");
      }
    }
    request->headers.emplace_back(LowerCase(line.substr(0, colon)), std::string(value));
  }

  // Body framing.
  HeadParse out;
  const std::string* transfer_encoding = nullptr;
  const std::string* content_length = nullptr;
  for (const auto& [name, value] : request->headers) {
    if (name == "transfer-encoding") {
      if (transfer_encoding != nullptr) return Error(400, "repeated Transfer-Encoding");
      transfer_encoding = &value;
    } else if (name == "content-length") {
      if (content_length != nullptr && *content_length != value) {
        return Error(400, "conflicting Content-Length values");
      }
      content_length = &value;
    } else if (name == "expect") {
      if (!EqualsIgnoreCase(value, "100-continue")) {
        return Error(417, "only 'Expect: 100-continue' is supported");
      }
      out.expect_continue = true;
    }
  }
  if (transfer_encoding != nullptr) {
    if (content_length != nullptr) {
      return Error(400, "both Content-Length and Transfer-Encoding are present");
    }
    if (!EqualsIgnoreCase(*transfer_encoding, "chunked")) {
      return Error(501, "Transfer-Encoding '" + *transfer_encoding + "' is not supported");
    }
    out.framing = BodyFraming::kChunked;
  } else if (content_length != nullptr) {
    const std::string& text = *content_length;
    if (text.empty() || text.size() > 18 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Error(400, "malformed Content-Length");
    }
    out.content_length = std::stoull(text);
    if (out.content_length > limits.max_body_bytes) {
      return Error(413, "the request body of " + text + " bytes exceeds the limit of " +
                            std::to_string(limits.max_body_bytes) + " bytes");
    }
    out.framing = out.content_length > 0 ? BodyFraming::kLength : BodyFraming::kNone;
  }
  if (out.framing == BodyFraming::kNone) out.expect_continue = false;
  out.kind = HeadParse::Kind::kDone;
  out.head_bytes = head_end;
  return out;
}

ChunkedDecoder::State ChunkedDecoder::Fail(int status, std::string message) {
  status_ = status;
  message_ = std::move(message);
  return State::kError;
}

ChunkedDecoder::State ChunkedDecoder::Feed(std::string_view data, size_t* consumed,
                                           std::string* body) {
  // Size lines and trailers are short; anything longer is an attack or a bug.
  constexpr size_t kMaxLine = 4096;
  constexpr size_t kMaxTrailers = 16 * 1024;
  size_t pos = 0;
  if (status_ != 0) return State::kError;
  while (pos < data.size() && phase_ != Phase::kDone) {
    if (phase_ == Phase::kData) {
      const size_t n = static_cast<size_t>(
          std::min<uint64_t>(remaining_, static_cast<uint64_t>(data.size() - pos)));
      body->append(data.substr(pos, n));
      pos += n;
      remaining_ -= n;
      if (remaining_ == 0) phase_ = Phase::kDataEnd;
      continue;
    }
    // A line: chunk size, the CRLF after data, or a trailer.
    const size_t nl = data.find('\n', pos);
    const size_t take = (nl == std::string_view::npos ? data.size() : nl) - pos;
    line_bytes_ += take;
    if (line_bytes_ > (phase_ == Phase::kTrailer ? kMaxTrailers : kMaxLine)) {
      *consumed = pos;
      return Fail(400, "malformed chunked body: line too long");
    }
    line_.append(data.substr(pos, take));
    pos += take;
    if (nl == std::string_view::npos) break;
    ++pos;  // the '\n'
    std::string_view line = line_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (phase_ == Phase::kSize) {
      const std::string_view size_text = TrimOws(line.substr(0, line.find(';')));
      uint64_t size = 0;
      if (size_text.empty() || size_text.size() > 15) {
        *consumed = pos;
        return Fail(400, "malformed chunk size");
      }
      for (char c : size_text) {
        int digit;
        if (c >= '0' && c <= '9') {
          digit = c - '0';
        } else if (Lower(c) >= 'a' && Lower(c) <= 'f') {
          digit = Lower(c) - 'a' + 10;
        } else {
          *consumed = pos;
          return Fail(400, "malformed chunk size");
        }
        size = size * 16 + static_cast<uint64_t>(digit);
      }
      if (size > max_body_ || body->size() + size > max_body_) {
        *consumed = pos;
        return Fail(413, "the chunked request body exceeds the limit of " +
                             std::to_string(max_body_) + " bytes");
      }
      remaining_ = size;
      phase_ = size == 0 ? Phase::kTrailer : Phase::kData;
    } else if (phase_ == Phase::kDataEnd) {
      if (!line.empty()) {
        *consumed = pos;
        return Fail(400, "malformed chunked body: data longer than its chunk size");
      }
      phase_ = Phase::kSize;
    } else if (line.empty()) {  // kTrailer: an empty line ends the body
      phase_ = Phase::kDone;
    }
    if (phase_ != Phase::kTrailer) line_bytes_ = 0;
    line_.clear();
  }
  *consumed = pos;
  return phase_ == Phase::kDone ? State::kDone : State::kIncomplete;
}

const char* StatusReason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string FormatResponseHead(int status,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + StatusReason(status) + "\r\n";
  for (const auto& [name, value] : headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

}  // namespace autarky::server
