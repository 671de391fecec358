// `autarky serve -m MODEL`: the OpenAI/DeepSeek-compatible HTTP server (src/server) over a
// continuous-batching scheduler (src/engine/scheduler.h), with the web chat at /.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "engine/scheduler.h"
#include "server/api_error.h"
#include "server/api_server.h"
#include "server/http_server.h"
#include "tokenizer/tokenizer.h"

namespace autarky::cli {
namespace {

struct ServeFlags {
  ModelFlags model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int32_t parallel = 4;
  std::string api_key;
  std::string alias;
  std::string chat_template_file;
  int32_t max_queue = 32;
  int32_t prompt_chunk = 128;
  int max_connections = 64;
  int64_t max_body_bytes = 16 << 20;
  SamplingParams sampling;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

int RunServe(ServeFlags flags, const CLI::App* cmd) {
  if (flags.api_key.empty()) {
    // A key on the command line is visible to every user of the machine (ps); the
    // environment is not.
    if (const char* key = std::getenv("AUTARKY_API_KEY")) flags.api_key = key;
  }
  std::string chat_template;
  if (!flags.chat_template_file.empty()) {
    std::ifstream in(flags.chat_template_file, std::ios::binary);
    if (!in) return Fail("cannot read --chat-template '" + flags.chat_template_file + "'");
    chat_template.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Signals are taken by sigwait below: block them before any thread starts, so that none of
  // the server's threads is interrupted by them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto loaded = LoadModelAndContext(flags.model, flags.parallel);
  if (!loaded.ok()) return Fail(loaded.status().message());
  const Model& model = *loaded->model;
  auto tokenizer = Tokenizer::FromGguf(model.file());
  if (!tokenizer.ok()) return Fail(tokenizer.status().message());
  // Server-wide defaults; a request's own fields still win per request.
  ApplyModelSamplingDefaults(model.file(), cmd, &flags.sampling);
  if (Status s = ValidateSamplingParams(flags.sampling, model.info().n_vocab); !s.ok()) {
    return Fail(s.message());
  }

  SchedulerOptions scheduler_options;
  scheduler_options.max_queued = flags.max_queue;
  scheduler_options.prompt_chunk = flags.prompt_chunk;
  Scheduler scheduler(*loaded->context, **tokenizer, scheduler_options);

  server::ApiServerOptions api_options;
  api_options.api_key = flags.api_key;
  api_options.sampling = flags.sampling;
  api_options.chat_template = chat_template;
  api_options.model_alias = flags.alias;
  if (api_options.model_alias.empty()) {
    // The file name without folders and extension: what users call the model.
    std::string name = flags.model.model_path;
    name = name.substr(name.find_last_of('/') + 1);
    if (name.ends_with(".gguf")) name.resize(name.size() - 5);
    api_options.model_alias = name;
  }
  auto api = server::ApiServer::Create(model, **tokenizer, scheduler, api_options);
  if (!api.ok()) return Fail(api.status().message());
  server::ApiServer& api_server = **api;

  // /metrics reads the connection counts of the HTTP server, which starts serving (and may
  // call it) before Start returns: hand the server over through an atomic.
  std::atomic<server::HttpServer*> http_for_gauges{nullptr};
  api_server.set_gauges([&http_for_gauges] {
    server::ServerGauges g;
    if (const server::HttpServer* http = http_for_gauges.load(std::memory_order_acquire)) {
      g.active_connections = http->active_connections();
      g.rejected_connections = http->rejected_connections();
    }
    return g;
  });
  server::HttpServerOptions http_options;
  http_options.host = flags.host;
  http_options.port = flags.port;
  http_options.max_connections = flags.max_connections;
  http_options.limits.max_body_bytes = static_cast<size_t>(flags.max_body_bytes);
  auto http = server::HttpServer::Start(
      http_options,
      [&api_server](const server::HttpRequest& request, server::HttpResponder& responder) {
        api_server.Handle(request, responder);
      },
      server::HttpErrorJson);
  if (!http.ok()) return Fail(http.status().message());
  server::HttpServer& http_server = **http;
  http_for_gauges.store(&http_server, std::memory_order_release);

  const std::string url =
      "http://" +
      (flags.host.find(':') != std::string::npos ? "[" + flags.host + "]" : flags.host) + ":" +
      std::to_string(http_server.port());
  std::fprintf(stderr,
               "autarky serve: %s (%s, %s parameters), %d slots of %d tokens, %d threads%s\n"
               "listening on %s  (API: %s/v1, web chat: %s/)\n",
               api_server.model_alias().c_str(), model.info().arch.c_str(),
               FormatCount(model.info().n_params).c_str(), scheduler.n_slots(), scheduler.n_ctx(),
               loaded->context->pool().num_threads(),
               flags.api_key.empty() ? "" : ", API key required", url.c_str(), url.c_str(),
               url.c_str());
  if (flags.host != "127.0.0.1" && flags.host != "::1" && flags.host != "localhost" &&
      flags.api_key.empty()) {
    std::fprintf(stderr,
                 "warning: listening beyond this machine without --api-key: anyone who can "
                 "reach %s can use the model\n",
                 url.c_str());
  }
  std::fflush(stderr);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::fprintf(stderr, "autarky serve: %s, stopping\n",
               signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  http_server.Stop();  // handlers see their clients gone and cancel their requests
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve the model over an OpenAI/DeepSeek-compatible HTTP API, with a web chat");
  AddModelFlags(cmd, flags->model);
  cmd->add_option("--host", flags->host,
                  "Address to listen on (default: loopback only; 0.0.0.0 or :: for all)")
      ->capture_default_str();
  cmd->add_option("--port", flags->port, "TCP port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--parallel", flags->parallel,
                  "Requests generated at once (KV cache slots of --ctx-size tokens each)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--api-key", flags->api_key,
                  "Require 'Authorization: Bearer KEY' (default: $AUTARKY_API_KEY, else none)");
  cmd->add_option("--alias", flags->alias, "Model id in the API (default: the file name)");
  cmd->add_option("--chat-template", flags->chat_template_file,
                  "Jinja chat template file (default: the model's tokenizer.chat_template, else "
                  "ChatML)");
  cmd->add_option("--max-queue", flags->max_queue,
                  "Requests that may wait for a slot; beyond that: 429")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--prompt-chunk", flags->prompt_chunk,
                  "Most prompt tokens evaluated per step while others generate")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  cmd->add_option("--max-connections", flags->max_connections,
                  "Open connections served at once; beyond that: 503")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  cmd->add_option("--max-body", flags->max_body_bytes, "Largest request body in bytes (413)")
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 32))
      ->capture_default_str();
  SamplingParams& s = flags->sampling;
  cmd->add_option("--temp", s.temperature, "Default temperature")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "Default top-k (0: off)")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "Default top-p (1: off)")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "Default min-p (0: off)")->capture_default_str();
  cmd->callback([flags, cmd, &exit_code]() { exit_code = RunServe(*flags, cmd); });
}

}  // namespace autarky::cli
