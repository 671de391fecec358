// A small HTTP client over libcurl for the Hugging Face hub: GET into memory (API calls) and
// resumable downloads into a file. Redirects are followed here, not by curl, so that the token
// goes only to the endpoint's own origin (as huggingface_hub does: requests drops the
// Authorization header when a redirect leaves the host, e.g. for the CDN).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "util/status.h"

namespace autarky::hub {

struct HttpResponse {
  long status = 0;
  std::string body;           // GET only; a download's error body (first KiB) otherwise
  std::string error_code;     // the hub's X-Error-Code header (RepoNotFound, GatedRepo, ...)
  std::string error_message;  // the hub's X-Error-Message header
  std::string final_url;
};

// Kinds of transport failure, so that callers can retry the ones worth retrying.
enum class TransferError { kNone, kConnect, kInterrupted, kWrite, kOther };

struct TransferResult {
  TransferError error = TransferError::kNone;
  Status status;  // the message when error != kNone
  HttpResponse response;
  int64_t bytes_written = 0;  // this attempt
  int write_errno = 0;        // errno of a failed write (ENOSPC...)
};

class HttpClient {
 public:
  // `endpoint`: "https://huggingface.co" (no trailing slash); `token`: "" for none.
  HttpClient(std::string endpoint, std::string token);

  const std::string& endpoint() const { return endpoint_; }

  // GET into memory (at most `max_bytes`), following up to 10 redirects.
  TransferResult Get(const std::string& url, size_t max_bytes = 64 << 20) const;

  // GET appending to the open file `fd` from byte `offset` (a Range request when offset > 0).
  // A 206 reply appends; a 200 reply means the server ignored the range, and the file is
  // truncated and written from 0 (`*restarted` is set). Progress reports total bytes in the file.
  TransferResult Download(const std::string& url, int fd, int64_t offset, bool* restarted,
                          const std::function<void(int64_t)>& progress) const;

  // True when `url` has the endpoint's scheme, host and port (the token may go there).
  bool SameOrigin(const std::string& url) const;

 private:
  std::string endpoint_;
  std::string token_;
};

// "https://Host:443/x" -> "https://host:443"; the default port is added when absent.
std::string OriginOf(const std::string& url);

}  // namespace autarky::hub
