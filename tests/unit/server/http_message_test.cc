// HTTP request-head and chunked-body parsing: RFC 9112's grammar, the limits, and the inputs
// that have led servers into request smuggling (both length headers, disagreeing lengths).
#include "server/http_message.h"

#include <gtest/gtest.h>

#include <string>

namespace autarky::server {
namespace {

HeadParse Parse(const std::string& text, HttpRequest* request = nullptr,
                const HttpLimits& limits = {}) {
  HttpRequest scratch;
  return ParseRequestHead(text, limits, request != nullptr ? request : &scratch);
}

TEST(HttpMessage, ParsesAHeadWithBody) {
  const std::string text =
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: localhost\r\n"
      "Content-Type: application/json\r\nContent-Length:  12 \r\nX-Empty:\r\n\r\n{\"a\": true}";
  HttpRequest r;
  const HeadParse p = Parse(text, &r);
  ASSERT_EQ(p.kind, HeadParse::Kind::kDone) << p.message;
  EXPECT_EQ(p.head_bytes, text.find('{'));
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/chat/completions?x=1");
  EXPECT_EQ(r.path, "/v1/chat/completions");
  EXPECT_EQ(r.query, "x=1");
  EXPECT_EQ(r.minor_version, 1);
  ASSERT_NE(r.Header("content-type"), nullptr);
  EXPECT_EQ(*r.Header("content-type"), "application/json");
  EXPECT_EQ(*r.Header("x-empty"), "");
  EXPECT_EQ(r.Header("Content-Type"), nullptr);  // lookups use the lower-case name
  EXPECT_EQ(p.framing, BodyFraming::kLength);
  EXPECT_EQ(p.content_length, 12u);
  EXPECT_TRUE(r.KeepAlive());
}

TEST(HttpMessage, IncompleteUntilTheBlankLine) {
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_EQ(Parse(text.substr(0, n)).kind, HeadParse::Kind::kIncomplete) << n;
  }
  EXPECT_EQ(Parse(text).kind, HeadParse::Kind::kDone);
}

TEST(HttpMessage, BareLineFeedsAndLeadingEmptyLinesAreAccepted) {
  HttpRequest r;
  const HeadParse p = Parse("\r\n\nGET /health HTTP/1.0\nConnection: keep-alive\n\n", &r);
  ASSERT_EQ(p.kind, HeadParse::Kind::kDone) << p.message;
  EXPECT_EQ(r.path, "/health");
  EXPECT_EQ(r.minor_version, 0);
  EXPECT_TRUE(r.KeepAlive());
  EXPECT_EQ(p.framing, BodyFraming::kNone);
}

TEST(HttpMessage, KeepAliveRules) {
  HttpRequest r;
  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n\r\n", &r).kind,
            HeadParse::Kind::kDone);
  EXPECT_FALSE(r.KeepAlive());
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\n\r\n", &r).kind, HeadParse::Kind::kDone);
  EXPECT_FALSE(r.KeepAlive());
}

TEST(HttpMessage, MalformedHeadsGetTheRightStatus) {
  struct Bad {
    const char* text;
    int status;
  };
  const Bad cases[] = {
      {"GET /\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1 extra\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\n\r\n", 400},
      {"GET http://example.com/ HTTP/1.1\r\n\r\n", 400},
      {"GET /a\x01 HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / FTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\x01"
       "c\r\n\r\n",
       400},
      {"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nExpect: something\r\n\r\n", 417},
  };
  for (const Bad& c : cases) {
    const HeadParse p = Parse(c.text);
    EXPECT_EQ(p.kind, HeadParse::Kind::kError) << c.text;
    EXPECT_EQ(p.status, c.status) << c.text << ": " << p.message;
    EXPECT_FALSE(p.message.empty());
  }
}

TEST(HttpMessage, RepeatedEqualContentLengthsAreOne) {
  const HeadParse p = Parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
  ASSERT_EQ(p.kind, HeadParse::Kind::kDone);
  EXPECT_EQ(p.content_length, 5u);
}

TEST(HttpMessage, LimitsAreEnforcedBeforeTheHeadEnds) {
  HttpLimits limits;
  limits.max_head_bytes = 64;
  limits.max_headers = 3;
  limits.max_body_bytes = 100;
  // Too long, even without a blank line yet.
  EXPECT_EQ(Parse("GET /" + std::string(100, 'a'), nullptr, limits).status, 431);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", nullptr, limits).status,
            431);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", nullptr, limits).kind,
            HeadParse::Kind::kDone);
  const HeadParse big = Parse("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", nullptr, limits);
  EXPECT_EQ(big.status, 413);
  EXPECT_NE(big.message.find("101"), std::string::npos);
}

TEST(HttpMessage, ExpectContinueOnlyWithABody) {
  HeadParse p = Parse("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n");
  EXPECT_TRUE(p.expect_continue);
  p = Parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_FALSE(p.expect_continue);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n").framing,
            BodyFraming::kChunked);
}

// Feeds `wire` to a decoder in pieces of `piece` bytes.
ChunkedDecoder::State Decode(const std::string& wire, size_t piece, std::string* body, size_t* used,
                             size_t max_body = 1 << 20, int* status = nullptr) {
  ChunkedDecoder decoder(max_body);
  ChunkedDecoder::State state = ChunkedDecoder::State::kIncomplete;
  std::string pending;
  *used = 0;
  for (size_t i = 0; i < wire.size() && state == ChunkedDecoder::State::kIncomplete; i += piece) {
    pending += wire.substr(i, piece);
    size_t consumed = 0;
    state = decoder.Feed(pending, &consumed, body);
    *used += consumed;
    pending.erase(0, consumed);
  }
  if (status != nullptr) *status = decoder.status();
  return state;
}

TEST(HttpMessage, ChunkedBodiesDecodeAtEverySplit) {
  const std::string wire =
      "5\r\nHello\r\n1;ext=1\r\n,\r\nd \r\n world, chunk\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  for (size_t piece = 1; piece <= wire.size(); ++piece) {
    std::string body;
    size_t used = 0;
    ASSERT_EQ(Decode(wire, piece, &body, &used), ChunkedDecoder::State::kDone) << piece;
    EXPECT_EQ(body, "Hello, world, chunk") << piece;
    EXPECT_EQ(used, wire.size() - 4) << piece;  // "NEXT" belongs to the next request
  }
}

TEST(HttpMessage, MalformedOrHugeChunkedBodiesFail) {
  struct Bad {
    std::string wire;
    int status;
  };
  const Bad cases[] = {
      {"x\r\n", 400},
      {"5\r\nHelloX\r\n", 400},
      {"\r\n", 400},
      {"fffffffffffffffff\r\n", 400},
      {std::string(5000, '1'), 400},
      {"65\r\n", 413},  // 101 bytes > 100
      {"40\r\n" + std::string(64, 'a') + "\r\n40\r\n", 413},
  };
  for (const Bad& c : cases) {
    std::string body;
    size_t used = 0;
    int status = 0;
    EXPECT_EQ(Decode(c.wire, c.wire.size(), &body, &used, 100, &status),
              ChunkedDecoder::State::kError)
        << c.wire.substr(0, 40);
    EXPECT_EQ(status, c.status) << c.wire.substr(0, 40);
  }
}

TEST(HttpMessage, ResponseHead) {
  EXPECT_EQ(FormatResponseHead(429, {{"Retry-After", "1"}}),
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n\r\n");
  EXPECT_STREQ(StatusReason(413), "Content Too Large");
  EXPECT_STREQ(StatusReason(299), "Unknown");
}

}  // namespace
}  // namespace autarky::server
