// ApiServer end to end without sockets (a recording responder): OpenAI's response and chunk
// shapes, streamed == whole, determinism by seed, the reasoning split, every error path
// (malformed JSON, wrong types, unknown fields, unsupported options, 401, 404, 405, 429, context
// overflow), cancellation when the client leaves, tokenize/detokenize and /metrics.
#include "server/api_server.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "chat/reasoning.h"
#include "tools/random_model.h"

namespace autarky::server {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Captures one response; ClientGone() can be made true after some writes.
class RecordingResponder : public HttpResponder {
 public:
  bool Send(int status, std::string_view type, std::string_view body,
            const HeaderList& extra) override {
    EXPECT_FALSE(responded_);
    responded_ = true;
    status_ = status;
    content_type_ = type;
    body_ = body;
    headers_ = extra;
    return true;
  }
  bool StartStream(int status, std::string_view type, const HeaderList& extra) override {
    EXPECT_FALSE(responded_);
    responded_ = streaming_ = true;
    status_ = status;
    content_type_ = type;
    headers_ = extra;
    return true;
  }
  bool Write(std::string_view data) override {
    EXPECT_TRUE(streaming_);
    body_ += data;
    ++writes_;
    return !ClientGone();
  }
  bool End() override {
    ended_ = true;
    return true;
  }
  bool ClientGone() override { return gone_after_writes_ >= 0 && writes_ >= gone_after_writes_; }
  bool responded() const override { return responded_; }

  int status_ = 0;
  std::string content_type_, body_;
  HeaderList headers_;
  bool responded_ = false, streaming_ = false, ended_ = false;
  int writes_ = 0;
  int gone_after_writes_ = -1;  // -1: the client stays

  Json json() const { return Json::parse(body_); }
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers_) {
      if (k == name) return v;
    }
    return "";
  }
  // The JSON payloads of a server-sent event stream, and whether it ended with [DONE].
  std::vector<Json> events(bool* done) const {
    std::vector<Json> out;
    *done = false;
    size_t pos = 0;
    while (pos < body_.size()) {
      const size_t end = body_.find("\n\n", pos);
      EXPECT_NE(end, std::string::npos) << "unterminated event";
      if (end == std::string::npos) break;
      const std::string event = body_.substr(pos, end - pos);
      EXPECT_TRUE(event.starts_with("data: ")) << event;
      EXPECT_FALSE(*done) << "data after [DONE]";
      if (event == "data: [DONE]") {
        *done = true;
      } else {
        out.push_back(Json::parse(event.substr(6)));
      }
      pos = end + 2;
    }
    return out;
  }
};

class ApiServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path dir = fs::temp_directory_path() / ("autarky-api-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    tools::RandomModelOptions o;
    o.output = (dir / "tiny-qwen2.gguf").string();
    o.arch = "qwen2";
    ASSERT_TRUE(tools::ApplyRandomModelPreset("tiny", &o).ok());
    o.seed = 5;
    o.progress = false;
    o.threads = 1;
    auto written = tools::WriteRandomModel(o);
    ASSERT_TRUE(written.ok()) << written.status().message();
    auto model = LoadModel(o.output);
    ASSERT_TRUE(model.ok()) << model.status().message();
    model_ = model->release();
    auto tokenizer = Tokenizer::FromGguf(model_->file());
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
    tokenizer_ = tokenizer->release();
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete model_;
  }

  void Start(ApiServerOptions options = {}, int32_t n_seq = 2, int32_t n_ctx = 256,
             int32_t max_queued = 4) {
    ContextOptions c;
    c.n_ctx = n_ctx;
    c.n_batch = 64;
    c.n_seq = n_seq;
    c.n_threads = 2;
    auto ctx = InferenceContext::Create(*model_, c);
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    ctx_ = std::move(*ctx);
    SchedulerOptions s;
    s.max_queued = max_queued;
    scheduler_ = std::make_unique<Scheduler>(*ctx_, *tokenizer_, s);
    if (options.model_alias.empty()) options.model_alias = "tiny";
    options.poll_ms = 5;
    auto api = ApiServer::Create(*model_, *tokenizer_, *scheduler_, options);
    ASSERT_TRUE(api.ok()) << api.status().message();
    api_ = std::move(*api);
  }
  void TearDown() override {
    api_.reset();
    scheduler_.reset();
    ctx_.reset();
  }

  RecordingResponder Call(const std::string& method, const std::string& path,
                          const std::string& body = "", const std::string& authorization = "",
                          int gone_after_writes = -1) {
    HttpRequest r;
    r.method = method;
    r.path = r.target = path;
    r.body = body;
    if (!authorization.empty()) r.headers.emplace_back("authorization", authorization);
    RecordingResponder out;
    out.gone_after_writes_ = gone_after_writes;
    api_->Handle(r, out);
    EXPECT_TRUE(out.responded_ || gone_after_writes >= 0) << method << " " << path;
    return out;
  }
  RecordingResponder Chat(const Json& body) {
    return Call("POST", "/v1/chat/completions", body.dump());
  }

  static Json UserMessage(const std::string& text) {
    return Json::array({{{"role", "user"}, {"content", text}}});
  }

  static Model* model_;
  static Tokenizer* tokenizer_;
  std::unique_ptr<InferenceContext> ctx_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ApiServer> api_;
};

Model* ApiServerTest::model_ = nullptr;
Tokenizer* ApiServerTest::tokenizer_ = nullptr;

void ExpectError(const RecordingResponder& r, int status, const std::string& param,
                 const std::string& needle = "") {
  EXPECT_EQ(r.status_, status) << r.body_;
  EXPECT_EQ(r.content_type_, "application/json");
  const Json j = Json::parse(r.body_, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body_;
  ASSERT_TRUE(j.contains("error")) << r.body_;
  const Json& e = j["error"];
  EXPECT_TRUE(e["message"].is_string());
  EXPECT_TRUE(e["type"].is_string());
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << r.body_;
  if (param.empty()) {
    EXPECT_TRUE(e["param"].is_null()) << r.body_;
  } else {
    EXPECT_EQ(e["param"], param) << r.body_;
  }
  if (!needle.empty()) {
    EXPECT_NE(e["message"].get<std::string>().find(needle), std::string::npos) << r.body_;
  }
}

TEST_F(ApiServerTest, ChatCompletionHasOpenAIsShape) {
  Start();
  const RecordingResponder r = Chat({{"model", "tiny"},
                                     {"messages", UserMessage("Hello")},
                                     {"max_tokens", 8},
                                     {"seed", 42},
                                     {"ignore_eos", true}});
  ASSERT_EQ(r.status_, 200) << r.body_;
  EXPECT_EQ(r.content_type_, "application/json");
  const Json j = r.json();
  EXPECT_TRUE(j["id"].get<std::string>().starts_with("chatcmpl-"));
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_TRUE(j["created"].is_number_integer());
  EXPECT_EQ(j["model"], "tiny");
  ASSERT_EQ(j["choices"].size(), 1u);
  const Json& choice = j["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_TRUE(choice["message"]["content"].is_string());
  EXPECT_FALSE(choice["message"].contains("reasoning_content"));
  EXPECT_TRUE(choice["logprobs"].is_null());
  EXPECT_EQ(choice["finish_reason"], "length");
  const Json& usage = j["usage"];
  EXPECT_EQ(usage["completion_tokens"], 8);
  EXPECT_GT(usage["prompt_tokens"].get<int>(), 3);
  EXPECT_EQ(usage["total_tokens"],
            usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());
  EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"], 0);
  EXPECT_EQ(usage["completion_tokens_details"]["reasoning_tokens"], 0);
}

TEST_F(ApiServerTest, StreamedChunksAddUpToTheWholeAnswer) {
  Start();
  Json request = {{"messages", UserMessage("Tell me a story")},
                  {"max_tokens", 20},
                  {"seed", 7},
                  {"temperature", 1.0},
                  {"ignore_eos", true}};
  const RecordingResponder whole = Chat(request);
  ASSERT_EQ(whole.status_, 200) << whole.body_;
  const Json answer = whole.json();
  // Same seed, same answer (and the second request reuses the cached prompt).
  const Json again = Chat(request).json();
  EXPECT_EQ(again["choices"][0]["message"]["content"], answer["choices"][0]["message"]["content"]);
  EXPECT_GT(again["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 0);

  request["stream"] = true;
  request["stream_options"] = {{"include_usage", true}};
  const RecordingResponder streamed = Chat(request);
  ASSERT_EQ(streamed.status_, 200);
  EXPECT_EQ(streamed.content_type_, "text/event-stream");
  EXPECT_TRUE(streamed.ended_);
  bool done = false;
  const std::vector<Json> chunks = streamed.events(&done);
  EXPECT_TRUE(done);
  ASSERT_GE(chunks.size(), 3u);
  std::string text;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Json& c = chunks[i];
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    EXPECT_EQ(c["id"], chunks[0]["id"]);
    EXPECT_TRUE(c["id"].get<std::string>().starts_with("chatcmpl-"));
    EXPECT_EQ(c["model"], "tiny");
    if (i + 1 == chunks.size()) {  // the usage chunk
      EXPECT_TRUE(c["choices"].empty());
      EXPECT_EQ(c["usage"]["completion_tokens"], 20);
      continue;
    }
    EXPECT_TRUE(c["usage"].is_null());
    ASSERT_EQ(c["choices"].size(), 1u);
    const Json& delta = c["choices"][0]["delta"];
    if (i == 0) {
      EXPECT_EQ(delta["role"], "assistant");
    }
    if (delta.contains("content")) text += delta["content"].get<std::string>();
    EXPECT_EQ(c["choices"][0]["finish_reason"].is_null(), i + 2 != chunks.size());
  }
  EXPECT_EQ(chunks[chunks.size() - 2]["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(text, answer["choices"][0]["message"]["content"]);
}

TEST_F(ApiServerTest, ReasoningIsSplitFromTheAnswer) {
  ApiServerOptions options;
  // An R1-style template: the prompt ends inside an open thought.
  options.chat_template =
      "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|><think>\n";
  Start(options);
  Json request = {{"messages", UserMessage("2+2?")},
                  {"max_tokens", 24},
                  {"seed", 3},
                  {"ignore_eos", true},
                  {"max_reasoning_tokens", 4},
                  {"reasoning_format", "none"}};
  const Json raw = Chat(request).json();
  const std::string text = raw["choices"][0]["message"]["content"];
  EXPECT_NE(text.find("\n</think>\n\n"), std::string::npos) << text;  // the budget closed it
  EXPECT_EQ(raw["usage"]["completion_tokens_details"]["reasoning_tokens"], 4);

  chat::ReasoningOptions starts_open;
  starts_open.starts_open = true;
  const chat::ReasoningDelta expected = chat::SplitReasoning(text, starts_open);
  request.erase("reasoning_format");
  const Json split = Chat(request).json();
  const Json& message = split["choices"][0]["message"];
  EXPECT_EQ(message["reasoning_content"], expected.reasoning);
  EXPECT_EQ(message["content"], expected.content);
  EXPECT_EQ(message["content"].get<std::string>().find("think>"), std::string::npos);

  request["stream"] = true;
  bool done = false;
  std::string reasoning, content;
  for (const Json& c : Chat(request).events(&done)) {
    const Json& delta = c["choices"][0]["delta"];
    if (delta.contains("reasoning_content")) reasoning += delta["reasoning_content"];
    if (delta.contains("content")) content += delta["content"];
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(reasoning, expected.reasoning);
  EXPECT_EQ(content, expected.content);
}

TEST_F(ApiServerTest, LogprobsListEveryToken) {
  Start();
  const Json j = Chat({{"messages", UserMessage("Hi")},
                       {"max_tokens", 5},
                       {"ignore_eos", true},
                       {"temperature", 0},
                       {"logprobs", true},
                       {"top_logprobs", 2}})
                     .json();
  const Json& content = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 5u);
  for (const Json& t : content) {
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top_logprobs"].size(), 2u);
    // Greedy picks the most likely token.
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]);
    EXPECT_EQ(t["top_logprobs"][0]["logprob"], t["logprob"]);
    EXPECT_GE(t["top_logprobs"][0]["logprob"], t["top_logprobs"][1]["logprob"]);
    EXPECT_TRUE(t["bytes"].is_array());
  }
}

TEST_F(ApiServerTest, LegacyCompletions) {
  Start();
  const RecordingResponder r = Call("POST", "/v1/completions",
                                    Json{{"prompt", "Once upon a time"},
                                         {"max_tokens", 6},
                                         {"seed", 1},
                                         {"ignore_eos", true},
                                         {"logprobs", 1}}
                                        .dump());
  ASSERT_EQ(r.status_, 200) << r.body_;
  const Json j = r.json();
  EXPECT_TRUE(j["id"].get<std::string>().starts_with("cmpl-"));
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  const Json& lp = j["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"].size(), 6u);
  EXPECT_EQ(lp["token_logprobs"].size(), 6u);
  EXPECT_EQ(lp["text_offset"][0], 0);
  EXPECT_EQ(j["usage"]["completion_tokens"], 6);

  // Token ids as the prompt, streamed; the default max_tokens is OpenAI's 16.
  const RecordingResponder s = Call(
      "POST", "/completions",
      Json{{"prompt", Json::array({1, 70, 80})}, {"stream", true}, {"ignore_eos", true}}.dump());
  bool done = false;
  const std::vector<Json> chunks = s.events(&done);
  EXPECT_TRUE(done);
  ASSERT_FALSE(chunks.empty());
  EXPECT_EQ(chunks.back()["choices"][0]["finish_reason"], "length");
  for (const Json& c : chunks) EXPECT_EQ(c["object"], "text_completion");
}

TEST_F(ApiServerTest, BadRequestsGetOpenAIErrors) {
  Start();
  ExpectError(Call("POST", "/v1/chat/completions", "{\"messages\": [}"), 400, "", "parse");
  ExpectError(Call("POST", "/v1/chat/completions", ""), 400, "");
  ExpectError(Call("POST", "/v1/chat/completions", "[1, 2]"), 400, "");
  ExpectError(Call("POST", "/v1/chat/completions", "{\"a\": \"\xff\xfe\"}"), 400, "");
  ExpectError(Call("POST", "/v1/chat/completions", std::string(5000, '[') + std::string(5000, ']')),
              400, "", "nested");
  const Json messages = UserMessage("x");
  ExpectError(Chat({{"model", "m"}}), 400, "messages");
  ExpectError(Chat({{"messages", Json::array()}}), 400, "messages");
  ExpectError(Chat({{"messages", "hi"}}), 400, "messages");
  ExpectError(Chat({{"messages", Json::array({{{"role", "wizard"}, {"content", "x"}}})}}), 400,
              "messages[0].role");
  ExpectError(Chat({{"messages", Json::array({{{"role", "user"}}})}}), 400, "messages[0].content");
  ExpectError(
      Chat({{"messages", Json::array({{{"role", "user"},
                                       {"content", Json::array({{{"type", "image_url"},
                                                                 {"image_url", "x"}}})}}})}}),
      400, "messages[0].content[0].type", "text only");
  ExpectError(Chat({{"messages", messages}, {"temperature", "hot"}}), 400, "temperature",
              "expected a number");
  ExpectError(Chat({{"messages", messages}, {"temperature", 3}}), 400, "temperature");
  ExpectError(Chat({{"messages", messages}, {"top_p", -0.5}}), 400, "top_p");
  ExpectError(Chat({{"messages", messages}, {"max_tokens", 0}}), 400, "max_tokens");
  ExpectError(Chat({{"messages", messages}, {"max_tokens", 1e12}}), 400, "max_tokens");
  ExpectError(Chat({{"messages", messages}, {"max_tokens", 99999999999LL}}), 400, "max_tokens");
  ExpectError(Chat({{"messages", messages}, {"max_tokens", 1.5}}), 400, "max_tokens");
  ExpectError(Chat({{"messages", messages}, {"wat", 1}}), 400, "wat", "Unrecognized");
  ExpectError(Chat({{"messages", messages}, {"n", 2}}), 400, "n");
  ExpectError(Chat({{"messages", messages}, {"response_format", {{"type", "json_object"}}}}), 400,
              "response_format");
  ExpectError(Chat({{"messages", messages}, {"top_logprobs", 3}}), 400, "top_logprobs");
  ExpectError(Chat({{"messages", messages}, {"stop", Json::array({1})}}), 400, "stop");
  ExpectError(Chat({{"messages", messages}, {"stream_options", {{"include_usage", true}}}}), 400,
              "stream_options");
  ExpectError(Chat({{"messages", messages}, {"logit_bias", {{"99999", 1}}}}), 400, "logit_bias");
  ExpectError(Chat({{"messages", messages}, {"logit_bias", {{"5", 500}}}}), 400, "logit_bias");
  ExpectError(Chat({{"messages", messages}, {"tool_choice", "required"}}), 400, "tool_choice");
  ExpectError(Call("POST", "/v1/completions", Json{{"prompt", Json::array({"a", "b"})}}.dump()),
              400, "prompt");
  ExpectError(Call("POST", "/v1/completions", Json{{"prompt", Json::array({1, 100000})}}.dump()),
              400, "prompt");
  ExpectError(Call("POST", "/v1/completions", Json{{"prompt", "x"}, {"echo", true}}.dump()), 400,
              "echo");
  // Nulls are "not given", as OpenAI's API treats them.
  EXPECT_EQ(Chat({{"messages", messages}, {"max_tokens", 2}, {"stop", nullptr}, {"seed", nullptr}})
                .status_,
            200);
  // The server answered all of that and still works.
  EXPECT_EQ(Call("GET", "/health").status_, 200);
}

TEST_F(ApiServerTest, PromptBeyondTheContextIsRefusedWithTheNumbers) {
  Start({}, 1, 64);
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "the cat and the dog ";
  const RecordingResponder r = Chat({{"messages", UserMessage(long_text)}});
  ExpectError(r, 400, "messages", "maximum context length is 64 tokens");
  EXPECT_EQ(r.json()["error"]["code"], "context_length_exceeded");
}

TEST_F(ApiServerTest, RoutesMethodsAndAuthentication) {
  ApiServerOptions options;
  options.api_key = "sk-test";
  Start(options);
  ExpectError(Call("GET", "/v1/nope"), 404, "");
  RecordingResponder wrong_method = Call("GET", "/v1/chat/completions");
  ExpectError(wrong_method, 405, "");
  EXPECT_EQ(wrong_method.header("Allow"), "POST");
  RecordingResponder no_key = Call("GET", "/v1/models");
  ExpectError(no_key, 401, "");
  EXPECT_EQ(no_key.json()["error"]["code"], "invalid_api_key");
  ExpectError(Call("GET", "/v1/models", "", "Bearer sk-wrong"), 401, "");
  ExpectError(Call("GET", "/v1/models", "", "sk-test"), 401, "");
  EXPECT_EQ(Call("GET", "/health").status_, 200);
  EXPECT_EQ(Call("GET", "/").status_, 200);
  const RecordingResponder models = Call("GET", "/v1/models", "", "Bearer sk-test");
  ASSERT_EQ(models.status_, 200);
  const Json j = models.json();
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], "tiny");
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_EQ(j["data"][0]["owned_by"], "autarky");
  EXPECT_EQ(Call("GET", "/models", "", "Bearer sk-test").status_, 200);
}

TEST_F(ApiServerTest, FullQueueGets429WithRetryAfter) {
  Start({}, 1, 2048, /*max_queued=*/0);
  GenerationRequest endless;
  endless.prompt = {1, 50, 60};
  endless.ignore_eos = true;
  Submission busy = scheduler_->Submit(endless);
  ASSERT_EQ(busy.error, SubmitError::kNone);
  const RecordingResponder r = Chat({{"messages", UserMessage("hi")}});
  ExpectError(r, 429, "");
  EXPECT_EQ(r.header("Retry-After"), "1");
  EXPECT_EQ(r.json()["error"]["type"], "rate_limit_error");
  busy.stream->Cancel();
}

TEST_F(ApiServerTest, ClientThatLeavesCancelsItsGeneration) {
  Start({}, 1, 2048);
  // Streaming: the client is gone after the first chunk; the generation (endless otherwise)
  // must stop.
  RecordingResponder r =
      Call("POST", "/v1/chat/completions",
           Json{{"messages", UserMessage("hi")}, {"stream", true}, {"ignore_eos", true}}.dump(), "",
           /*gone_after_writes=*/2);
  EXPECT_FALSE(r.ended_);
  // Not streaming: gone at once.
  Call("POST", "/v1/chat/completions",
       Json{{"messages", UserMessage("hi")}, {"ignore_eos", true}}.dump(), "", 0);
  for (int i = 0; i < 400 && scheduler_->Stats().active > 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  const SchedulerStats stats = scheduler_->Stats();
  EXPECT_EQ(stats.active, 0);
  EXPECT_EQ(stats.requests_finished[static_cast<int>(FinishReason::kCancelled)], 2);
  EXPECT_LT(stats.completion_tokens, 1000);
}

TEST_F(ApiServerTest, TokenizeAndDetokenize) {
  Start();
  const RecordingResponder t =
      Call("POST", "/tokenize", Json{{"content", "the cat"}, {"with_pieces", true}}.dump());
  ASSERT_EQ(t.status_, 200) << t.body_;
  std::vector<int32_t> ids;
  std::string pieces;
  const Json tokens = t.json();
  for (const Json& p : tokens["tokens"]) {
    ids.push_back(p["id"]);
    pieces += p["piece"].get<std::string>();
  }
  EXPECT_EQ(ids, tokenizer_->Encode("the cat", {.add_special = false, .parse_special = true}));
  EXPECT_EQ(pieces, tokenizer_->Decode(ids));
  const RecordingResponder d = Call("POST", "/detokenize", Json{{"tokens", ids}}.dump());
  ASSERT_EQ(d.status_, 200) << d.body_;
  EXPECT_EQ(d.json()["content"], tokenizer_->Decode(ids));
  ExpectError(Call("POST", "/detokenize", Json{{"tokens", {1, -1}}}.dump()), 400, "tokens");
  ExpectError(Call("POST", "/detokenize", Json{{"tokens", {1, 1u << 31}}}.dump()), 400, "tokens");
  ExpectError(Call("POST", "/tokenize", Json{{"content", 5}}.dump()), 400, "content");
  ExpectError(Call("POST", "/tokenize", Json{{"text", "x"}}.dump()), 400, "text");
}

TEST_F(ApiServerTest, MetricsCountRequestsTokensAndLatency) {
  Start();
  Chat({{"messages", UserMessage("a")}, {"max_tokens", 3}, {"ignore_eos", true}});
  Chat({{"messages", UserMessage("a")}, {"n", 3}});
  const RecordingResponder m = Call("GET", "/metrics");
  ASSERT_EQ(m.status_, 200);
  EXPECT_TRUE(m.content_type_.starts_with("text/plain; version=0.0.4"));
  const std::string& text = m.body_;
  for (const char* line :
       {"autarky_http_requests_total{route=\"/chat/completions\",status=\"200\"} 1\n",
        "autarky_http_requests_total{route=\"/chat/completions\",status=\"400\"} 1\n",
        "autarky_completion_tokens_total 3\n", "autarky_requests_submitted_total 1\n",
        "autarky_time_to_first_token_seconds_count 1\n",
        "autarky_time_to_first_token_seconds_bucket{le=\"+Inf\"} 1\n", "autarky_slots 2\n",
        "autarky_queue_depth 0\n", "# TYPE autarky_batch_sequences histogram\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

}  // namespace
}  // namespace autarky::server
