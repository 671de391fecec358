// ApiServer: the OpenAI/DeepSeek-compatible API over a Scheduler. Routes an HttpRequest to its
// endpoint and answers through an HttpResponder, so it runs the same behind the socket server
// and in tests with a recording responder:
//   POST /v1/chat/completions, /v1/completions   (streamed as server-sent events or not)
//   GET  /v1/models, /health, /metrics, /        (the web chat)
//   POST /tokenize, /detokenize
// (the /v1 prefix is optional, as in OpenAI's clients' base URLs). With an API key, every route
// but /health and the web page's files wants `Authorization: Bearer KEY`.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "chat/chat_template.h"
#include "chat/reasoning.h"
#include "engine/scheduler.h"
#include "model/model.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "tokenizer/tokenizer.h"

namespace autarky::server {

struct ApiServerOptions {
  std::string model_alias;    // the model's id in responses and /v1/models
  std::string api_key;        // empty: no authentication
  SamplingParams sampling;    // defaults for what requests leave out
  std::string chat_template;  // Jinja source; empty: the model's (or ChatML when it has none)
  int poll_ms = 50;           // how often a waiting handler checks for a vanished client
};

class ApiServer {
 public:
  // Errors: the chat template does not parse.
  static Result<std::unique_ptr<ApiServer>> Create(const Model& model, const Tokenizer& tokenizer,
                                                   Scheduler& scheduler, ApiServerOptions options);

  void Handle(const HttpRequest& request, HttpResponder& responder);

  // Where /metrics finds the connection counts (set once before serving).
  void set_gauges(std::function<ServerGauges()> gauges) { gauges_ = std::move(gauges); }
  const std::string& model_alias() const { return options_.model_alias; }
  bool has_thinking_tags() const { return think_open_ >= 0 && think_close_ >= 0; }

 private:
  ApiServer(const Model& model, const Tokenizer& tokenizer, Scheduler& scheduler,
            ApiServerOptions options);

  void Route(const HttpRequest& request, HttpResponder& responder, std::string* route);
  void ChatCompletions(const HttpRequest& request, HttpResponder& responder);
  void Completions(const HttpRequest& request, HttpResponder& responder);
  void Models(HttpResponder& responder);
  void Health(HttpResponder& responder);
  void Metrics(HttpResponder& responder);
  void Tokenize(const HttpRequest& request, HttpResponder& responder);
  void Detokenize(const HttpRequest& request, HttpResponder& responder);

  // Renders and tokenizes the conversation; on failure fills *error.
  bool ChatPrompt(const ChatRequest& chat, std::string* text, std::vector<int32_t>* tokens,
                  ApiError* error) const;
  // Fills the engine request; checks the prompt against the context.
  std::optional<ApiError> MakeGenerationRequest(const GenerationOptions& options,
                                                std::vector<int32_t> prompt,
                                                GenerationRequest* out) const;
  // Submits; on refusal answers the client (400/429/503) and returns null.
  std::shared_ptr<GenerationStream> Submit(GenerationRequest request, HttpResponder& responder);
  // Waits for the next output; false when the client is gone (the request is then cancelled).
  bool NextEvent(GenerationStream& stream, HttpResponder& responder, GenerationEvent* event);

  void SendError(HttpResponder& responder, const ApiError& error, const HeaderList& extra = {});
  void SendJson(HttpResponder& responder, int status, const Json& body);

  const Model& model_;
  const Tokenizer& tokenizer_;
  Scheduler& scheduler_;
  ApiServerOptions options_;
  std::unique_ptr<chat::ChatTemplate> template_;
  std::string bos_text_, eos_text_;
  int32_t think_open_ = -1, think_close_ = -1;  // the <think> / </think> tokens, if single tokens
  std::vector<int32_t> think_close_tokens_;     // what the reasoning budget writes
  std::chrono::steady_clock::time_point started_;
  int64_t created_ = 0;
  RequestCounters counters_;
  std::function<ServerGauges()> gauges_;
};

}  // namespace autarky::server
