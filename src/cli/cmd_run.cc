// `autarky run -m MODEL -p PROMPT`: raw completion of a prompt, streamed to stdout as it is
// generated, with a timing summary on stderr; `--json` prints one object for scripts
// (prompt/generated ids, text, top logits), `--logits-out` dumps every evaluated position's
// logits for cross-checks.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/model_flags.h"
#include "engine/session.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace autarky::cli {
namespace {

struct RunFlags {
  ModelFlags model;
  std::string prompt;
  std::string prompt_file;
  std::string prompt_tokens;  // "1,429,491"
  int32_t n_predict = 256;
  SamplingParams sampling;
  int64_t seed = -1;
  std::vector<std::string> logit_bias;  // "TOKEN=BIAS"
  bool ignore_eos = false;
  bool no_bos = false;
  bool parse_special = false;
  bool context_shift = false;
  int32_t keep = -1;
  bool json = false;
  int top_logprobs = 0;
  bool all_logits = false;
  std::string logits_out;
  std::string chat_template;  // the chat without a prompt
};

// The k largest [id, logit] pairs of one distribution, largest first (ties: smaller id first).
nlohmann::json TopLogits(const float* logits, int32_t n_vocab, int k) {
  std::vector<int32_t> ids(n_vocab);
  for (int32_t i = 0; i < n_vocab; ++i) ids[i] = i;
  k = std::min(k, static_cast<int>(n_vocab));
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  nlohmann::json out = nlohmann::json::array();
  for (int i = 0; i < k; ++i) out.push_back({ids[i], logits[ids[i]]});
  return out;
}

Result<std::vector<int32_t>> ParseTokenList(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first == std::string::npos) return ErrorStatus("--prompt-tokens: empty entry");
    item = item.substr(first, last - first + 1);
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (end == item.c_str() || *end != '\0' || v < 0 || v > INT32_MAX) {
      return ErrorStatus("--prompt-tokens: '" + item + "' is not a token id");
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) return ErrorStatus("--prompt-tokens: no token ids");
  return ids;
}

Status ParseLogitBias(const std::vector<std::string>& specs, SamplingParams& params) {
  for (const std::string& spec : specs) {
    const auto eq = spec.find_first_of("=:");
    char* end = nullptr;
    if (eq == std::string::npos) {
      return ErrorStatus("--logit-bias '" + spec + "': expected TOKEN=BIAS (e.g. 15043=-inf)");
    }
    const std::string id_text = spec.substr(0, eq), bias_text = spec.substr(eq + 1);
    const long long id = std::strtoll(id_text.c_str(), &end, 10);
    if (end == id_text.c_str() || *end != '\0' || id < 0 || id > INT32_MAX) {
      return ErrorStatus("--logit-bias '" + spec + "': bad token id");
    }
    float bias;
    if (bias_text == "-inf") {
      bias = -INFINITY;
    } else {
      bias = std::strtof(bias_text.c_str(), &end);
      if (end == bias_text.c_str() || *end != '\0' || !std::isfinite(bias)) {
        return ErrorStatus("--logit-bias '" + spec + "': bad bias");
      }
    }
    params.logit_bias.emplace_back(static_cast<int32_t>(id), bias);
  }
  return Status::Ok();
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int Fail(const Status& status) {
  std::fflush(stdout);
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  return 1;
}

int RunCompletion(RunFlags flags, const CLI::App* cmd) {
  const auto load_start = std::chrono::steady_clock::now();
  const int inputs = !flags.prompt.empty() + !flags.prompt_file.empty() +
                     !flags.prompt_tokens.empty();
  if (inputs == 0 && !flags.json && flags.logits_out.empty() && !flags.all_logits) {
    // No prompt: a conversation, with the answer length of chat unless -n was given.
    const int32_t n_predict = cmd->count("--n-predict") > 0 ? flags.n_predict : -1;
    return RunChatFromRun(flags.model, flags.chat_template, flags.sampling, flags.seed, n_predict,
                          cmd);
  }
  if (inputs != 1) {
    return Fail(ErrorStatus("give exactly one of -p PROMPT, -f FILE, --prompt-tokens IDS"));
  }
  auto loaded = LoadModelAndContext(flags.model);
  if (!loaded.ok()) return Fail(loaded.status());
  const Model& model = *loaded->model;
  InferenceContext& ctx = *loaded->context;
  const int32_t n_vocab = model.info().n_vocab;
  // A file without a usable vocabulary can still be driven by token ids (then no text).
  auto tokenizer = Tokenizer::FromGguf(model.file());
  const Tokenizer* tok = tokenizer.ok() ? tokenizer->get() : nullptr;
  if (tok == nullptr) {
    if (flags.prompt_tokens.empty()) return Fail(tokenizer.status());
    std::fprintf(stderr, "note: no tokenizer (%s); generating ids only\n",
                 tokenizer.status().message().c_str());
  }
  const double load_seconds = SecondsSince(load_start);

  std::vector<int32_t> prompt;
  if (!flags.prompt_tokens.empty()) {
    auto ids = ParseTokenList(flags.prompt_tokens);
    if (!ids.ok()) return Fail(ids.status());
    prompt = std::move(*ids);
  } else {
    std::string text = flags.prompt;
    if (!flags.prompt_file.empty()) {
      std::ifstream in(flags.prompt_file, std::ios::binary);
      if (!in) return Fail(ErrorStatus("cannot read prompt file '" + flags.prompt_file + "'"));
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    EncodeOptions encode;
    encode.add_special = !flags.no_bos;
    encode.parse_special = flags.parse_special;
    prompt = tok->Encode(text, encode);
    if (prompt.empty()) return Fail(ErrorStatus("the prompt encodes to no tokens"));
  }
  for (int32_t id : prompt) {
    if (id < 0 || id >= n_vocab) {
      return Fail(ErrorStatus("prompt token " + std::to_string(id) + " is outside the vocabulary"));
    }
  }

  ApplyModelSamplingDefaults(model.file(), cmd, &flags.sampling);
  if (flags.seed < 0) flags.seed = static_cast<int64_t>(std::random_device{}() & 0x7fffffff);
  flags.sampling.seed = static_cast<uint64_t>(flags.seed);
  if (Status s = ParseLogitBias(flags.logit_bias, flags.sampling); !s.ok()) return Fail(s);
  if (Status s = ValidateSamplingParams(flags.sampling, n_vocab); !s.ok()) return Fail(s);
  Sampler sampler(flags.sampling, n_vocab);

  SessionOptions session_options;
  session_options.context_shift = flags.context_shift;
  session_options.n_keep =
      flags.keep < 0 ? static_cast<int32_t>(prompt.size()) : std::min<int32_t>(flags.keep, prompt.size());
  Session session(ctx, session_options);

  std::ofstream logits_file;
  if (!flags.logits_out.empty()) {
    logits_file.open(flags.logits_out, std::ios::binary | std::ios::trunc);
    if (!logits_file) return Fail(ErrorStatus("cannot write '" + flags.logits_out + "'"));
  }
  auto dump = [&](const float* rows, size_t n_rows) {
    if (logits_file.is_open()) {
      logits_file.write(reinterpret_cast<const char*>(rows),
                        static_cast<std::streamsize>(n_rows * n_vocab * sizeof(float)));
    }
  };

  nlohmann::ordered_json out;
  const bool all_prompt_logits = flags.all_logits || logits_file.is_open();
  const int top_k = flags.top_logprobs > 0 ? flags.top_logprobs : 5;
  std::vector<float> logits;
  const auto prompt_start = std::chrono::steady_clock::now();
  if (Status s = session.Append(prompt, all_prompt_logits, logits); !s.ok()) return Fail(s);
  const double prompt_seconds = SecondsSince(prompt_start);
  if (all_prompt_logits) {
    dump(logits.data(), prompt.size());
    if (flags.all_logits) {
      nlohmann::json rows = nlohmann::json::array();
      for (size_t p = 0; p < prompt.size(); ++p) {
        rows.push_back(TopLogits(&logits[p * n_vocab], n_vocab, top_k));
      }
      out["prompt_top_logits"] = std::move(rows);
    }
    logits.erase(logits.begin(), logits.end() - n_vocab);
  }
  for (int32_t id : prompt) sampler.Accept(id);

  const bool stream_text = !flags.json;
  Utf8Stream utf8;
  std::vector<int32_t> generated;
  nlohmann::json top_logits = nlohmann::json::array();
  std::string text;
  std::string stop_reason = "length";
  const auto gen_start = std::chrono::steady_clock::now();
  for (int32_t i = 0; flags.n_predict < 0 || i < flags.n_predict; ++i) {
    if (flags.top_logprobs > 0) top_logits.push_back(TopLogits(logits.data(), n_vocab, top_k));
    const int32_t token = sampler.Sample(logits);
    sampler.Accept(token);
    generated.push_back(token);
    if (tok != nullptr && tok->IsEndOfGeneration(token) && !flags.ignore_eos) {
      stop_reason = "eos";
      break;
    }
    const std::string piece = tok != nullptr ? utf8.Push(tok->TokenBytes(token)) : std::string();
    text += piece;
    if (stream_text) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    if (flags.n_predict >= 0 && i + 1 == flags.n_predict) break;
    const int32_t one[] = {token};
    if (Status s = session.Append(one, false, logits); !s.ok()) {
      stop_reason = "context_full";
      std::fflush(stdout);
      std::fprintf(stderr, "\nnote: %s\n", s.message().c_str());
      break;
    }
    dump(logits.data(), 1);
  }
  const std::string tail = utf8.Flush();
  text += tail;
  const double gen_seconds = SecondsSince(gen_start);
  if (stream_text) {
    std::fwrite(tail.data(), 1, tail.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

  const double prompt_tps = prompt.size() / prompt_seconds;
  const double gen_tps = generated.size() / std::max(gen_seconds, 1e-9);
  if (flags.json) {
    nlohmann::ordered_json j;
    j["prompt_tokens"] = prompt;
    j["tokens"] = generated;
    j["text"] = text;
    j["stop_reason"] = stop_reason;
    j["seed"] = flags.seed;
    if (flags.top_logprobs > 0) j["top_logits"] = std::move(top_logits);
    if (out.contains("prompt_top_logits")) j["prompt_top_logits"] = out["prompt_top_logits"];
    j["timings"] = {{"load_s", load_seconds},
                    {"prompt_tokens_per_s", prompt_tps},
                    {"generated_tokens_per_s", gen_tps},
                    {"context_shifts", session.shifts()}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  std::fprintf(stderr,
               "load %.2f s | prompt %zu tokens, %.1f tokens/s | generated %zu tokens, %.1f "
               "tokens/s | threads %d | seed %lld%s\n",
               load_seconds, prompt.size(), prompt_tps, generated.size(), gen_tps,
               ctx.pool().num_threads(), static_cast<long long>(flags.seed),
               session.shifts() > 0 ? (" | context shifts " + std::to_string(session.shifts())).c_str()
                                    : "");
  PrintExpertUsage(ctx);
  return 0;
}

}  // namespace

void AddRunCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Complete a prompt with a model, streaming the text (raw completion, no chat format); "
      "without -p/-f/--prompt-tokens, chat with it as `autarky chat` does");
  AddModelFlags(cmd, flags->model);
  AddVerboseFlag(cmd, flags->model);
  cmd->add_option("-p,--prompt", flags->prompt, "Prompt text");
  cmd->add_option("--chat-template", flags->chat_template,
                  "Without a prompt: Jinja chat template file for the chat (default: the "
                  "model's tokenizer.chat_template)");
  cmd->add_option("-f,--file", flags->prompt_file, "Read the prompt from a file");
  cmd->add_option("--prompt-tokens", flags->prompt_tokens,
                  "Prompt as token ids, e.g. 1,429,491 (used as is: no BOS added)");
  cmd->add_option("-n,--n-predict", flags->n_predict, "Tokens to generate (-1: until EOS/full)")
      ->check(CLI::Range(-1, 1 << 24))
      ->capture_default_str();
  SamplingParams& s = flags->sampling;
  cmd->add_option("--temp", s.temperature, "Temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "Keep the k most likely tokens (0: off)")
      ->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "Nucleus sampling threshold (1: off)")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "Drop tokens below min-p times the top probability (0: off)")
      ->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "Penalty for repeated tokens (1: off)")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", s.penalty_last_n, "Window of the penalties in tokens")
      ->capture_default_str();
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "Frequency penalty (0: off)")
      ->capture_default_str();
  cmd->add_option("--presence-penalty", s.presence_penalty, "Presence penalty (0: off)")
      ->capture_default_str();
  cmd->add_option("--logit-bias", flags->logit_bias,
                  "TOKEN=BIAS added to a token's logit (repeatable; BIAS may be -inf)");
  cmd->add_option("-s,--seed", flags->seed, "Random seed (-1: random, printed at the end)")
      ->capture_default_str();
  cmd->add_flag("--ignore-eos", flags->ignore_eos, "Keep generating after end-of-generation");
  cmd->add_flag("--no-bos", flags->no_bos, "Do not add the BOS token to a text prompt");
  cmd->add_flag("--parse-special", flags->parse_special,
                "Recognise special tokens written in the prompt text");
  cmd->add_flag("--context-shift", flags->context_shift,
                "When the context is full, drop the oldest half after --keep and go on");
  cmd->add_option("--keep", flags->keep, "Tokens a context shift keeps (-1: the whole prompt)")
      ->capture_default_str();
  cmd->add_flag("--json", flags->json, "Print one JSON object (ids, text, logits) instead");
  cmd->add_option("--top-logprobs", flags->top_logprobs,
                  "With --json: the K highest raw logits of each generated token's distribution")
      ->check(CLI::Range(0, 1000));
  cmd->add_flag("--all-logits", flags->all_logits,
                "With --json: also the top logits after every prompt position");
  cmd->add_option("--logits-out", flags->logits_out,
                  "Write float32 logits {rows, n_vocab} of every evaluated position (prompt, "
                  "then each generated token fed back)");
  cmd->callback([flags, cmd, &exit_code]() { exit_code = RunCompletion(*flags, cmd); });
}

}  // namespace autarky::cli
