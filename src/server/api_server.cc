// ApiServer: routing, authentication and the non-generating endpoints; the generating ones are
// in api_generation.cc.
#include "server/api_server.h"

#include <ctime>
#include <utility>

#include "server/openai_response.h"
#include "server/web_ui.h"
#include "tokenizer/unicode.h"

namespace autarky::server {

namespace {

// For models without a chat template: ChatML, the format most instruction-tuned models know.
constexpr const char* kFallbackTemplate =
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + (message['content'] or '') + '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}";

// Constant-time comparison, so the key cannot be guessed byte by byte from response times.
bool SameSecret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

}  // namespace

ApiServer::ApiServer(const Model& model, const Tokenizer& tokenizer, Scheduler& scheduler,
                     ApiServerOptions options)
    : model_(model),
      tokenizer_(tokenizer),
      scheduler_(scheduler),
      options_(std::move(options)),
      started_(std::chrono::steady_clock::now()),
      created_(static_cast<int64_t>(std::time(nullptr))) {}

Result<std::unique_ptr<ApiServer>> ApiServer::Create(const Model& model, const Tokenizer& tokenizer,
                                                     Scheduler& scheduler,
                                                     ApiServerOptions options) {
  std::string source = options.chat_template;
  if (source.empty()) {
    auto from_model = model.file().GetString("tokenizer.chat_template");
    source = from_model.ok() ? std::string(*from_model) : kFallbackTemplate;
  }
  auto parsed = chat::ChatTemplate::Parse(source);
  if (!parsed.ok()) return parsed.status().WithContext("chat template");
  std::unique_ptr<ApiServer> server(new ApiServer(model, tokenizer, scheduler, std::move(options)));
  server->template_ = std::make_unique<chat::ChatTemplate>(std::move(*parsed));
  if (tokenizer.bos_id() >= 0) server->bos_text_ = tokenizer.TokenText(tokenizer.bos_id());
  if (tokenizer.eos_id() >= 0) server->eos_text_ = tokenizer.TokenText(tokenizer.eos_id());
  server->think_open_ = tokenizer.FindToken("<think>");
  server->think_close_ = tokenizer.FindToken("</think>");
  EncodeOptions encode;
  encode.add_special = false;
  encode.parse_special = true;
  server->think_close_tokens_ = tokenizer.Encode("\n</think>\n\n", encode);
  if (server->options_.model_alias.empty()) {
    server->options_.model_alias = model.info().name.empty() ? "autarky" : model.info().name;
  }
  return server;
}

void ApiServer::SendJson(HttpResponder& responder, int status, const Json& body) {
  responder.Send(status, "application/json", DumpJson(body));
}

void ApiServer::SendError(HttpResponder& responder, const ApiError& error,
                          const HeaderList& extra) {
  responder.Send(error.status, "application/json", ErrorJson(error), extra);
}

void ApiServer::Handle(const HttpRequest& request, HttpResponder& responder) {
  // Records the status for /metrics whatever the endpoint answers.
  class Recorder : public HttpResponder {
   public:
    explicit Recorder(HttpResponder& inner) : inner_(inner) {}
    bool Send(int status, std::string_view type, std::string_view body,
              const HeaderList& extra) override {
      status_ = status;
      return inner_.Send(status, type, body, extra);
    }
    bool StartStream(int status, std::string_view type, const HeaderList& extra) override {
      status_ = status;
      return inner_.StartStream(status, type, extra);
    }
    bool Write(std::string_view data) override { return inner_.Write(data); }
    bool End() override { return inner_.End(); }
    bool ClientGone() override { return inner_.ClientGone(); }
    bool responded() const override { return inner_.responded(); }
    int status() const { return status_; }

   private:
    HttpResponder& inner_;
    int status_ = 499;  // nginx's "client closed request": nothing was answered
  };
  Recorder recorder(responder);
  std::string route = "other";
  try {
    Route(request, recorder, &route);
  } catch (const std::exception& e) {
    // A bug, not the client's fault: the server lives on and says so.
    if (!recorder.responded()) {
      ApiError error;
      error.status = 500;
      error.type = "server_error";
      error.message = std::string("internal error: ") + e.what();
      SendError(recorder, error);
    }
  }
  counters_.Count(route, recorder.status());
}

void ApiServer::Route(const HttpRequest& request, HttpResponder& responder, std::string* route) {
  std::string path = request.path;
  if (path.starts_with("/v1/")) path.erase(0, 3);
  struct Endpoint {
    const char* path;
    const char* method;
    bool needs_key;
  };
  static constexpr Endpoint kEndpoints[] = {
      {"/chat/completions", "POST", true},
      {"/completions", "POST", true},
      {"/models", "GET", true},
      {"/health", "GET", false},
      {"/metrics", "GET", true},
      {"/tokenize", "POST", true},
      {"/detokenize", "POST", true},
      {"/", "GET", false},
  };
  const Endpoint* endpoint = nullptr;
  for (const Endpoint& e : kEndpoints) {
    if (path == e.path) endpoint = &e;
  }
  if (endpoint == nullptr) {
    ApiError error;
    error.status = 404;
    error.type = "invalid_request_error";
    error.code = "unknown_url";
    error.message = "Invalid URL (" + request.method + " " + request.path + ")";
    SendError(responder, error);
    return;
  }
  *route = endpoint->path;
  if (request.method != endpoint->method) {
    ApiError error;
    error.status = 405;
    error.message = "Method " + request.method + " is not allowed for " + request.path + " (use " +
                    endpoint->method + ")";
    error.code = "method_not_allowed";
    SendError(responder, error, {{"Allow", endpoint->method}});
    return;
  }
  if (endpoint->needs_key && !options_.api_key.empty()) {
    const std::string* authorization = request.Header("authorization");
    const std::string expected = "Bearer " + options_.api_key;
    if (authorization == nullptr || !SameSecret(*authorization, expected)) {
      ApiError error;
      error.status = 401;
      error.type = "invalid_request_error";
      error.code = "invalid_api_key";
      error.message = authorization == nullptr
                          ? "You didn't provide an API key. Send it in the Authorization header "
                            "(Authorization: Bearer YOUR_KEY)."
                          : "Incorrect API key provided.";
      SendError(responder, error, {{"WWW-Authenticate", "Bearer"}});
      return;
    }
  }
  if (path == "/chat/completions") {
    ChatCompletions(request, responder);
  } else if (path == "/completions") {
    Completions(request, responder);
  } else if (path == "/models") {
    Models(responder);
  } else if (path == "/health") {
    Health(responder);
  } else if (path == "/metrics") {
    Metrics(responder);
  } else if (path == "/tokenize") {
    Tokenize(request, responder);
  } else if (path == "/detokenize") {
    Detokenize(request, responder);
  } else {
    responder.Send(200, "text/html; charset=utf-8", WebUiHtml(),
                   {{"Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; script-src 'unsafe-inline'; "
                     "style-src 'unsafe-inline'"},
                    {"X-Content-Type-Options", "nosniff"}});
  }
}

void ApiServer::Models(HttpResponder& responder) {
  const ModelInfo& info = model_.info();
  Json model;
  model["id"] = options_.model_alias;
  model["object"] = "model";
  model["created"] = created_;
  model["owned_by"] = "autarky";
  model["meta"] = {{"architecture", info.arch},       {"n_vocab", info.n_vocab},
                   {"n_ctx_train", info.n_ctx_train}, {"n_ctx", scheduler_.n_ctx()},
                   {"n_params", info.n_params},       {"size", info.weight_bytes},
                   {"slots", scheduler_.n_slots()}};
  Json body;
  body["object"] = "list";
  body["data"] = Json::array({std::move(model)});
  SendJson(responder, 200, body);
}

void ApiServer::Health(HttpResponder& responder) {
  const SchedulerStats stats = scheduler_.Stats();
  Json body;
  body["status"] = "ok";
  body["slots_idle"] = stats.n_slots - stats.active;
  body["slots_processing"] = stats.active;
  body["queued"] = stats.queued;
  SendJson(responder, 200, body);
}

void ApiServer::Metrics(HttpResponder& responder) {
  ServerGauges gauges = gauges_ ? gauges_() : ServerGauges();
  gauges.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  responder.Send(200, "text/plain; version=0.0.4; charset=utf-8",
                 PrometheusText(scheduler_.Stats(), counters_.Snapshot(), gauges));
}

void ApiServer::Tokenize(const HttpRequest& request, HttpResponder& responder) {
  Json body;
  if (auto error = ParseJsonBody(request.body, &body)) return SendError(responder, *error);
  for (const auto& [key, value] : body.items()) {
    if (key != "content" && key != "add_special" && key != "parse_special" &&
        key != "with_pieces") {
      return SendError(responder, InvalidRequest("Unrecognized request argument supplied: " + key,
                                                 key, "unknown_parameter"));
    }
  }
  const auto content = body.find("content");
  if (content == body.end() || !content->is_string()) {
    return SendError(responder, InvalidRequest("'content' must be a string", "content"));
  }
  EncodeOptions encode;
  encode.add_special = false;
  encode.parse_special = true;
  bool with_pieces = false;
  for (auto [name, target] : {std::pair<const char*, bool*>{"add_special", &encode.add_special},
                              {"parse_special", &encode.parse_special},
                              {"with_pieces", &with_pieces}}) {
    const auto it = body.find(name);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_boolean()) {
      return SendError(responder,
                       InvalidRequest(std::string("'") + name + "' must be a boolean", name));
    }
    *target = it->get<bool>();
  }
  const std::vector<int32_t> ids = tokenizer_.Encode(content->get<std::string>(), encode);
  Json tokens = Json::array();
  for (int32_t id : ids) {
    if (with_pieces) {
      tokens.push_back({{"id", id}, {"piece", SanitizeUtf8(tokenizer_.TokenBytes(id))}});
    } else {
      tokens.push_back(id);
    }
  }
  SendJson(responder, 200, Json{{"tokens", std::move(tokens)}});
}

void ApiServer::Detokenize(const HttpRequest& request, HttpResponder& responder) {
  Json body;
  if (auto error = ParseJsonBody(request.body, &body)) return SendError(responder, *error);
  for (const auto& [key, value] : body.items()) {
    if (key != "tokens") {
      return SendError(responder, InvalidRequest("Unrecognized request argument supplied: " + key,
                                                 key, "unknown_parameter"));
    }
  }
  const auto tokens = body.find("tokens");
  if (tokens == body.end() || !tokens->is_array()) {
    return SendError(responder, InvalidRequest("'tokens' must be an array of token ids", "tokens"));
  }
  std::vector<int32_t> ids;
  for (const Json& v : *tokens) {
    // (An unsigned value beyond int64 reads as negative and is refused too.)
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() >= tokenizer_.n_vocab()) {
      return SendError(
          responder,
          InvalidRequest("token " + v.dump() + " is not an id of this model's vocabulary [0, " +
                             std::to_string(tokenizer_.n_vocab()) + ")",
                         "tokens"));
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  SendJson(responder, 200, Json{{"content", SanitizeUtf8(tokenizer_.Decode(ids))}});
}

}  // namespace autarky::server
