// HttpClient over libcurl: manual redirects (token only to the endpoint's origin), Range
// resumption and classified transport errors.
#include "hub/http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

namespace autarky::hub {
namespace {

constexpr int kMaxRedirects = 10;
constexpr size_t kMaxErrorBody = 1024;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

// State shared with curl's callbacks during one request (one redirect hop).
struct Transfer {
  CURL* curl = nullptr;
  HttpResponse* response = nullptr;
  size_t max_body = 0;
  bool body_too_large = false;
  // Downloads: the file, the offset asked for, and the running byte count.
  int fd = -1;
  int64_t offset = 0;
  int64_t in_file = 0;
  bool decided = false;  // whether the status of this response has been looked at
  bool to_file = false;
  bool* restarted = nullptr;
  int write_errno = 0;
  int64_t written = 0;
  const std::function<void(int64_t)>* progress = nullptr;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string key = line.substr(0, colon);
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "x-error-code") t->response->error_code = Trim(line.substr(colon + 1));
    if (key == "x-error-message") t->response->error_message = Trim(line.substr(colon + 1));
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->fd < 0) {
    if (t->response->body.size() + n > t->max_body) {
      t->body_too_large = true;
      return 0;
    }
    t->response->body.append(data, n);
    return n;
  }
  if (!t->decided) {
    t->decided = true;
    long code = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    t->to_file = code == 200 || code == 206;
    if (code == 200 && t->offset > 0) {
      // The server ignored the Range: start the file again.
      if (::ftruncate(t->fd, 0) != 0) {
        t->write_errno = errno;
        return 0;
      }
      t->in_file = 0;
      if (t->restarted) *t->restarted = true;
    }
  }
  if (!t->to_file) {
    const size_t keep =
        std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, t->response->body.size()));
    t->response->body.append(data, keep);
    return n;
  }
  size_t done = 0;
  while (done < n) {
    const ssize_t w = ::write(t->fd, data + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      t->write_errno = errno;
      return 0;
    }
    done += static_cast<size_t>(w);
  }
  t->written += static_cast<int64_t>(n);
  t->in_file += static_cast<int64_t>(n);
  if (t->progress && *t->progress) (*t->progress)(t->in_file);
  return n;
}

TransferError Classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return TransferError::kNone;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
      return TransferError::kConnect;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TransferError::kInterrupted;
    case CURLE_WRITE_ERROR:
      return TransferError::kWrite;
    default:
      return TransferError::kOther;
  }
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One request without following redirects; `*location` gets the redirect target, if any.
TransferResult Perform(const std::string& url, const std::string& token, Transfer& t,
                       std::string* location) {
  GlobalInit();
  TransferResult result;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    result.error = TransferError::kOther;
    result.status = ErrorStatus("curl_easy_init failed");
    return result;
  }
  t.curl = curl.get();
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& h) {
    headers.reset(curl_slist_append(headers.release(), h.c_str()));
  };
  if (!token.empty()) add_header("Authorization: Bearer " + token);
  if (t.fd >= 0 && t.offset > 0) add_header("Range: bytes=" + std::to_string(t.offset) + "-");
  CURL* c = curl.get();
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "autarky/0.1.0");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  // A transfer slower than 1 byte/s for a minute is a dead connection: resumed later.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  const CURLcode code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t.response->status);
  if (location) {
    char* redirect = nullptr;
    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect);
    *location = redirect ? redirect : "";
  }
  result.error = Classify(code);
  result.write_errno = t.write_errno;
  if (t.body_too_large) {
    result.error = TransferError::kOther;
    result.status =
        ErrorStatus(url + ": reply larger than " + std::to_string(t.max_body) + " bytes");
  } else if (result.error == TransferError::kWrite && t.write_errno != 0) {
    result.status = ErrorStatus(std::strerror(t.write_errno));
  } else if (result.error != TransferError::kNone) {
    result.status = ErrorStatus(error_buffer[0] ? error_buffer : curl_easy_strerror(code));
  }
  return result;
}

TransferResult Run(const std::string& start_url, const HttpClient& client, const std::string& token,
                   Transfer& t) {
  std::string url = start_url;
  TransferResult result;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    HttpResponse response;
    t.response = &response;
    t.decided = false;
    std::string location;
    result = Perform(url, client.SameOrigin(url) ? token : "", t, &location);
    response.final_url = url;
    const long s = response.status;
    const bool redirect = s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
    if (result.error != TransferError::kNone || !redirect || location.empty()) {
      result.response = std::move(response);
      return result;
    }
    url = location;
  }
  result.error = TransferError::kOther;
  result.status =
      ErrorStatus(start_url + ": more than " + std::to_string(kMaxRedirects) + " redirects");
  return result;
}

}  // namespace

std::string OriginOf(const std::string& url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  std::string scheme = url.substr(0, scheme_end);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t host_start = scheme_end + 3;
  const size_t host_end = url.find_first_of("/?#", host_start);
  std::string authority = url.substr(
      host_start, host_end == std::string::npos ? std::string::npos : host_end - host_start);
  if (const size_t at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  for (char& c : authority) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) {
    authority += scheme == "https" ? ":443" : ":80";
  }
  return scheme + "://" + authority;
}

HttpClient::HttpClient(std::string endpoint, std::string token)
    : endpoint_(std::move(endpoint)), token_(std::move(token)) {
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
}

bool HttpClient::SameOrigin(const std::string& url) const {
  return OriginOf(url) == OriginOf(endpoint_);
}

TransferResult HttpClient::Get(const std::string& url, size_t max_bytes) const {
  Transfer t;
  t.max_body = max_bytes;
  return Run(url, *this, token_, t);
}

TransferResult HttpClient::Download(const std::string& url, int fd, int64_t offset, bool* restarted,
                                    const std::function<void(int64_t)>& progress) const {
  Transfer t;
  t.fd = fd;
  t.offset = offset;
  t.in_file = offset;
  t.restarted = restarted;
  t.progress = &progress;
  TransferResult result = Run(url, *this, token_, t);
  result.bytes_written = t.written;
  return result;
}

}  // namespace autarky::hub
