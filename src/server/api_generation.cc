// ApiServer's generating endpoints: /v1/chat/completions and /v1/completions, streamed as
// server-sent events or answered whole; the client's disconnection cancels the generation.
#include <ctime>
#include <random>
#include <utility>

#include "server/api_server.h"
#include "server/openai_response.h"

namespace autarky::server {

namespace {

// The SSE event of an error that happens after the stream has started.
std::string StreamError(const GenerationEvent& event) {
  ApiError error;
  error.status = 500;
  error.type = "server_error";
  error.message = event.finish == FinishReason::kCancelled ? "the server is shutting down"
                                                           : "generation failed: " + event.error;
  Json body = Json::parse(ErrorJson(error));
  return SseEvent(body);
}

// The error of a whole response that did not finish normally.
ApiError FailedGeneration(const GenerationEvent& event) {
  ApiError error;
  error.type = "server_error";
  if (event.finish == FinishReason::kCancelled) {
    error.status = 503;
    error.message = "the server is shutting down";
  } else {
    error.status = 500;
    error.message = "generation failed: " + event.error;
  }
  return error;
}

void Append(GenerationEvent& all, GenerationEvent& event) {
  all.text += event.text;
  for (GeneratedToken& t : event.tokens) all.tokens.push_back(std::move(t));
  all.finish = event.finish;
  all.error = event.error;
  all.usage = event.usage;
}

}  // namespace

bool ApiServer::ChatPrompt(const ChatRequest& chat, std::string* text, std::vector<int32_t>* tokens,
                           ApiError* error) const {
  chat::ChatTemplateInputs inputs;
  inputs.messages = chat.messages;
  inputs.tools = chat.tools;
  inputs.add_generation_prompt = true;
  inputs.bos_token = bos_text_;
  inputs.eos_token = eos_text_;
  inputs.extra_context = chat.template_kwargs;
  auto rendered = template_->Apply(inputs);
  if (!rendered.ok()) {
    *error = InvalidRequest(
        "the model's chat template cannot render these messages: " + rendered.status().message(),
        "messages", "template_error");
    return false;
  }
  EncodeOptions encode;
  encode.parse_special = true;
  // Templates that write the BOS text themselves must not get a second BOS.
  encode.add_special = bos_text_.empty() || !rendered->starts_with(bos_text_);
  *tokens = tokenizer_.Encode(*rendered, encode);
  *text = std::move(*rendered);
  return true;
}

std::optional<ApiError> ApiServer::MakeGenerationRequest(const GenerationOptions& options,
                                                         std::vector<int32_t> prompt,
                                                         GenerationRequest* out) const {
  const int64_t n_ctx = scheduler_.n_ctx();
  if (prompt.empty()) return InvalidRequest("the prompt is empty", "prompt");
  if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
    return InvalidRequest("This model's maximum context length is " + std::to_string(n_ctx) +
                              " tokens. However, your prompt has " + std::to_string(prompt.size()) +
                              " tokens, which leaves no room for the completion. Shorten the "
                              "prompt or start the server with a larger --ctx-size.",
                          "messages", "context_length_exceeded");
  }
  out->prompt = std::move(prompt);
  out->sampling = options.sampling;
  if (!options.seed_given) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    out->sampling.seed = rng();
  }
  // The penalty window cannot usefully be longer than the context; this also bounds the
  // sampler's buffers.
  if (out->sampling.penalty_last_n > n_ctx)
    out->sampling.penalty_last_n = static_cast<int32_t>(n_ctx);
  // A max_tokens beyond the context is not an error: generation ends at the context's end
  // with finish_reason "length".
  out->max_tokens = options.max_tokens < 0 ? -1 : static_cast<int32_t>(options.max_tokens);
  out->stop = options.stop;
  out->ignore_eos = options.ignore_eos;
  out->top_logprobs = options.top_logprobs;
  return std::nullopt;
}

std::shared_ptr<GenerationStream> ApiServer::Submit(GenerationRequest request,
                                                    HttpResponder& responder) {
  Submission sub = scheduler_.Submit(std::move(request));
  switch (sub.error) {
    case SubmitError::kNone:
      return sub.stream;
    case SubmitError::kInvalid:
      SendError(responder, InvalidRequest(sub.message));
      return nullptr;
    case SubmitError::kQueueFull: {
      ApiError error;
      error.status = 429;
      error.type = "rate_limit_error";
      error.code = "rate_limit_exceeded";
      error.message = "The server is busy: " + sub.message;
      SendError(responder, error, {{"Retry-After", "1"}});
      return nullptr;
    }
    case SubmitError::kShutDown: {
      ApiError error;
      error.status = 503;
      error.type = "server_error";
      error.message = sub.message;
      SendError(responder, error);
      return nullptr;
    }
  }
  return nullptr;
}

bool ApiServer::NextEvent(GenerationStream& stream, HttpResponder& responder,
                          GenerationEvent* event) {
  for (;;) {
    const auto got = stream.Next(event, std::chrono::milliseconds(options_.poll_ms));
    // Checked on every turn: a fast generation never times out, and a client that left
    // must not keep a slot busy until the end.
    if (responder.ClientGone()) {
      stream.Cancel();
      return false;
    }
    if (got == GenerationStream::Wait::kEvent) return true;
  }
}

void ApiServer::ChatCompletions(const HttpRequest& request, HttpResponder& responder) {
  Json body;
  if (auto error = ParseJsonBody(request.body, &body)) return SendError(responder, *error);
  ChatRequest chat;
  if (auto error = ParseChatRequest(body, options_.sampling, tokenizer_.n_vocab(), &chat)) {
    return SendError(responder, *error);
  }
  std::string prompt_text;
  std::vector<int32_t> prompt;
  ApiError template_error;
  if (!ChatPrompt(chat, &prompt_text, &prompt, &template_error)) {
    return SendError(responder, template_error);
  }
  GenerationRequest generation;
  if (auto error = MakeGenerationRequest(chat.generation, std::move(prompt), &generation)) {
    return SendError(responder, *error);
  }
  const bool starts_open = chat::PromptOpensThought(prompt_text);
  generation.reasoning.starts_open = starts_open;
  generation.reasoning.open_token = think_open_;
  generation.reasoning.close_token = think_close_;
  generation.reasoning.max_tokens = chat.max_reasoning_tokens;
  generation.reasoning.close_tokens = think_close_tokens_;
  std::shared_ptr<GenerationStream> stream = Submit(std::move(generation), responder);
  if (stream == nullptr) return;

  const ResponseIdentity id{NewResponseId("chatcmpl-"), static_cast<int64_t>(std::time(nullptr)),
                            options_.model_alias};
  const bool split = chat.reasoning_format == ReasoningFormat::kSplit;
  const bool logprobs = chat.generation.top_logprobs >= 0;
  chat::ReasoningOptions reasoning_options;
  reasoning_options.starts_open = starts_open;
  chat::ReasoningParser parser(reasoning_options);
  auto split_text = [&](const GenerationEvent& event) {
    chat::ReasoningDelta d;
    if (!split) {
      d.content = event.text;
      return d;
    }
    d = parser.Push(event.text);
    if (event.finish != FinishReason::kNone) {
      chat::ReasoningDelta rest = parser.Flush();
      d.reasoning += rest.reasoning;
      d.content += rest.content;
    }
    return d;
  };

  GenerationEvent event;
  if (chat.generation.stream) {
    const bool usage_null = chat.generation.include_usage;
    bool ok = responder.StartStream(200, "text/event-stream");
    auto write = [&](const Json& chunk) { ok = ok && responder.Write(SseEvent(chunk)); };
    write(ChatChunkJson(id, Json{{"role", "assistant"}, {"content", ""}}, nullptr, nullptr,
                        usage_null));
    while (ok && NextEvent(*stream, responder, &event)) {
      const chat::ReasoningDelta d = split_text(event);
      if (!d.empty() || (logprobs && !event.tokens.empty())) {
        Json delta = Json::object();
        if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
        if (!d.content.empty()) delta["content"] = d.content;
        write(ChatChunkJson(id, std::move(delta), nullptr,
                            logprobs ? ChatLogprobsJson(tokenizer_, event.tokens) : Json(),
                            usage_null));
      }
      if (event.finish == FinishReason::kNone) continue;
      if (event.finish == FinishReason::kStop || event.finish == FinishReason::kLength) {
        write(
            ChatChunkJson(id, Json::object(), FinishReasonJson(event.finish), nullptr, usage_null));
        if (chat.generation.include_usage) write(ChatUsageChunkJson(id, event.usage));
      } else {
        ok = ok && responder.Write(StreamError(event));
      }
      ok = ok && responder.Write("data: [DONE]\n\n");
      responder.End();
      return;
    }
    stream->Cancel();  // the client is gone (or could not be written to)
    return;
  }

  GenerationEvent all;
  while (all.finish == FinishReason::kNone) {
    if (!NextEvent(*stream, responder, &event)) return;  // the client is gone
    Append(all, event);
  }
  if (all.finish != FinishReason::kStop && all.finish != FinishReason::kLength) {
    return SendError(responder, FailedGeneration(all));
  }
  const chat::ReasoningDelta d = split_text(all);
  Json reasoning = split && (starts_open || !d.reasoning.empty()) ? Json(d.reasoning) : Json();
  SendJson(responder, 200,
           ChatCompletionJson(id, d.content, reasoning, all.finish, all.usage,
                              logprobs ? ChatLogprobsJson(tokenizer_, all.tokens) : Json()));
}

void ApiServer::Completions(const HttpRequest& request, HttpResponder& responder) {
  Json body;
  if (auto error = ParseJsonBody(request.body, &body)) return SendError(responder, *error);
  CompletionRequest completion;
  if (auto error =
          ParseCompletionRequest(body, options_.sampling, tokenizer_.n_vocab(), &completion)) {
    return SendError(responder, *error);
  }
  std::vector<int32_t> prompt = completion.prompt_tokens;
  if (!completion.prompt_is_tokens) {
    EncodeOptions encode;
    encode.parse_special = true;
    prompt = tokenizer_.Encode(completion.prompt, encode);
  }
  GenerationRequest generation;
  if (auto error = MakeGenerationRequest(completion.generation, std::move(prompt), &generation)) {
    if (error->param == "messages") error->param = "prompt";
    return SendError(responder, *error);
  }
  std::shared_ptr<GenerationStream> stream = Submit(std::move(generation), responder);
  if (stream == nullptr) return;

  const ResponseIdentity id{NewResponseId("cmpl-"), static_cast<int64_t>(std::time(nullptr)),
                            options_.model_alias};
  const bool logprobs = completion.generation.top_logprobs >= 0;
  size_t text_offset = 0;
  GenerationEvent event;
  if (completion.generation.stream) {
    bool ok = responder.StartStream(200, "text/event-stream");
    auto write = [&](const Json& chunk) { ok = ok && responder.Write(SseEvent(chunk)); };
    while (ok && NextEvent(*stream, responder, &event)) {
      if (!event.text.empty() || (logprobs && !event.tokens.empty())) {
        write(CompletionJson(
            id, event.text, nullptr,
            logprobs ? CompletionLogprobsJson(tokenizer_, event.tokens, &text_offset) : Json(),
            nullptr));
      }
      if (event.finish == FinishReason::kNone) continue;
      if (event.finish == FinishReason::kStop || event.finish == FinishReason::kLength) {
        write(CompletionJson(id, "", FinishReasonJson(event.finish), nullptr, nullptr));
        if (completion.generation.include_usage) {
          Json usage_chunk = CompletionJson(id, "", nullptr, nullptr, &event.usage);
          usage_chunk["choices"] = Json::array();
          write(usage_chunk);
        }
      } else {
        ok = ok && responder.Write(StreamError(event));
      }
      ok = ok && responder.Write("data: [DONE]\n\n");
      responder.End();
      return;
    }
    stream->Cancel();
    return;
  }

  GenerationEvent all;
  while (all.finish == FinishReason::kNone) {
    if (!NextEvent(*stream, responder, &event)) return;
    Append(all, event);
  }
  if (all.finish != FinishReason::kStop && all.finish != FinishReason::kLength) {
    return SendError(responder, FailedGeneration(all));
  }
  SendJson(responder, 200,
           CompletionJson(
               id, all.text, FinishReasonJson(all.finish),
               logprobs ? CompletionLogprobsJson(tokenizer_, all.tokens, &text_offset) : Json(),
               &all.usage));
}

}  // namespace autarky::server
