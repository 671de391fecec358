// libFuzzer target: any bytes as what a client sends, through the HTTP request-head parser and
// (for chunked bodies) the chunked decoder fed in two pieces split at a byte the input chooses.
// Properties: no crash or sanitizer report; a parsed head is within the input and the limits,
// its method is a token and its path starts with '/'; the decoder never consumes more than it
// was given, never produces more than its limit, and gives the same body however it is split.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "server/http_message.h"

namespace autarky::server {
namespace {

#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "server_http_fuzz: property failed: %s\n", #cond); \
      __builtin_trap();                                                       \
    }                                                                         \
  } while (0)

// Feeds `data` in two pieces cut at `cut`; returns the state and the body.
ChunkedDecoder::State DecodeSplit(std::string_view data, size_t cut, size_t max_body,
                                  std::string* body) {
  ChunkedDecoder decoder(max_body);
  std::string pending(data.substr(0, cut));
  size_t consumed = 0;
  ChunkedDecoder::State state = decoder.Feed(pending, &consumed, body);
  FUZZ_CHECK(consumed <= pending.size());
  if (state != ChunkedDecoder::State::kIncomplete) return state;
  pending.erase(0, consumed);
  pending.append(data.substr(cut));
  state = decoder.Feed(pending, &consumed, body);
  FUZZ_CHECK(consumed <= pending.size());
  return state;
}

}  // namespace
}  // namespace autarky::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace autarky::server;
  if (size == 0) return 0;
  const size_t cut_seed = bytes[0];
  const std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  HttpLimits limits;
  limits.max_head_bytes = 2048;
  limits.max_headers = 16;
  limits.max_body_bytes = 4096;
  HttpRequest request;
  const HeadParse head = ParseRequestHead(data, limits, &request);
  if (head.kind == HeadParse::Kind::kError) {
    FUZZ_CHECK(head.status >= 400 && head.status < 600 && !head.message.empty());
    return 0;
  }
  if (head.kind == HeadParse::Kind::kIncomplete) return 0;
  FUZZ_CHECK(head.head_bytes <= data.size() && head.head_bytes <= limits.max_head_bytes);
  FUZZ_CHECK(!request.method.empty() && !request.path.empty() && request.path[0] == '/');
  FUZZ_CHECK(request.headers.size() <= limits.max_headers);
  FUZZ_CHECK(head.framing != BodyFraming::kLength || head.content_length <= limits.max_body_bytes);
  (void)request.KeepAlive();
  if (head.framing == BodyFraming::kChunked) {
    const std::string_view rest = data.substr(head.head_bytes);
    std::string whole, split;
    const auto a = DecodeSplit(rest, rest.size(), limits.max_body_bytes, &whole);
    const auto b = DecodeSplit(rest, rest.empty() ? 0 : cut_seed % (rest.size() + 1),
                               limits.max_body_bytes, &split);
    FUZZ_CHECK(whole.size() <= limits.max_body_bytes);
    FUZZ_CHECK(a == b);
    if (a == ChunkedDecoder::State::kDone) FUZZ_CHECK(whole == split);
  }
  return 0;
}
