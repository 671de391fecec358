// `autarky chat -m MODEL`: an interactive terminal chat that formats the conversation with the
// model's own chat template, streams the answer, shows <think> reasoning dimmed, reuses the
// cached prefix between turns, and stops a generation (not the program) on Ctrl-C.
#include <editline/readline.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/model_flags.h"
#include "engine/session.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace autarky::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) { g_interrupted.store(true); }

// Installs the Ctrl-C handler for the duration of a generation only, so that Ctrl-C at the
// prompt still quits as usual.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted.store(false);
    struct sigaction action = {};
    action.sa_handler = OnInterrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous_);
  }
  ~InterruptScope() { sigaction(SIGINT, &previous_, nullptr); }

 private:
  struct sigaction previous_ = {};
};

struct ChatFlags {
  ModelFlags model;
  std::string template_file;
  std::string system;
  SamplingParams sampling;
  int64_t seed = -1;
  int32_t n_predict = -1;
  bool hide_reasoning = false;
};

// The sampling settings a model's publisher recommends, keyed on the model's name in the file.
// They apply where the user gave no flag. (R1: temperature 0.6, top-p 0.95 per DeepSeek's model
// cards; Qwen3 thinking mode: 0.6 / 0.95 / top-k 20; Qwen2.5: 0.7 / 0.8 / top-k 20.)
struct PublisherDefaults {
  const char* name_part;
  float temperature, top_p;
  int32_t top_k;
};
constexpr PublisherDefaults kPublisherDefaults[] = {
    {"deepseek-r1", 0.6f, 0.95f, 0},
    {"deepseek-v3", 0.3f, 0.95f, 0},
    {"qwen3", 0.6f, 0.95f, 20},
    {"qwen2.5", 0.7f, 0.8f, 20},
    {"llama-3", 0.6f, 0.9f, 0},
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const PublisherDefaults* FindPublisherDefaults(const GgufFile& file) {
  std::string names;
  for (const char* key : {"general.name", "general.basename", "general.finetune"}) {
    if (auto v = file.GetString(key); v.ok()) names += Lower(std::string(*v)) + " ";
  }
  for (const auto& d : kPublisherDefaults) {
    if (names.find(d.name_part) != std::string::npos) return &d;
  }
  return nullptr;
}

bool ReadLine(bool interactive, std::string& line) {
  if (!interactive) return static_cast<bool>(std::getline(std::cin, line));
  char* raw = readline("> ");
  if (raw == nullptr) return false;
  line = raw;
  if (!line.empty()) add_history(raw);
  std::free(raw);
  return true;
}

// Prints generated text, dimming what lies between <think> and </think> on a terminal (or
// hiding it with --hide-reasoning). The tags may arrive split across tokens, so text that could
// be the start of a tag is held back until it is decided.
class ReasoningPrinter {
 public:
  ReasoningPrinter(bool tty, bool hide, bool in_thought)
      : tty_(tty), hide_(hide), in_thought_(in_thought) {
    if (in_thought_) Enter();
  }
  void Push(const std::string& text) {
    pending_ += text;
    for (;;) {
      const std::string tag = in_thought_ ? "</think>" : "<think>";
      const size_t at = pending_.find(tag);
      if (at != std::string::npos) {
        Emit(pending_.substr(0, at));
        pending_.erase(0, at + tag.size());
        if (in_thought_) {
          Leave();
        } else {
          Enter();
        }
        continue;
      }
      // Keep the longest suffix that is a prefix of the tag.
      size_t keep = 0;
      for (size_t n = std::min(pending_.size(), tag.size() - 1); n > 0; --n) {
        if (pending_.compare(pending_.size() - n, n, tag, 0, n) == 0) {
          keep = n;
          break;
        }
      }
      Emit(pending_.substr(0, pending_.size() - keep));
      pending_.erase(0, pending_.size() - keep);
      return;
    }
  }
  void Finish() {
    Emit(pending_);
    pending_.clear();
    if (in_thought_) Leave();
    std::fputs("\n", stdout);
    std::fflush(stdout);
  }

 private:
  void Enter() {
    in_thought_ = true;
    if (hide_) {
      std::fputs(tty_ ? "\x1b[2m(thinking...)\x1b[0m" : "(thinking...)", stdout);
    } else {
      std::fputs(tty_ ? "\x1b[2m<think>" : "<think>", stdout);
    }
    std::fflush(stdout);
  }
  void Leave() {
    in_thought_ = false;
    if (!hide_) std::fputs(tty_ ? "</think>\x1b[0m" : "</think>", stdout);
    std::fputs("\n", stdout);
    std::fflush(stdout);
  }
  void Emit(const std::string& s) {
    if (s.empty() || (hide_ && in_thought_)) return;
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  }
  bool tty_, hide_, in_thought_;
  std::string pending_;
};

// True when the rendered prompt leaves the model inside an open <think> block (the R1 templates
// end the generation prompt with "<think>\n"), so the output starts mid-thought.
bool EndsInsideThought(const std::string& prompt) {
  const size_t open = prompt.rfind("<think>");
  return open != std::string::npos && prompt.find("</think>", open) == std::string::npos;
}

void PrintHelp() {
  std::printf(
      "commands: /reset (forget the conversation), /system TEXT (set the system prompt and "
      "reset),\n          /save FILE (write the conversation as JSON), /help, /exit. Ctrl-C "
      "stops a generation;\n          Ctrl-D or /exit quits.\n");
}

// Whether the user gave `option` on `cmd`'s command line.
bool Given(const CLI::App* cmd, const char* option) { return cmd->count(option) > 0; }

int RunChat(ChatFlags flags, const CLI::App* cmd) {
  auto loaded = LoadModelAndContext(flags.model);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().message().c_str());
    return 1;
  }
  const GgufFile& file = loaded->model->file();
  auto tokenizer = Tokenizer::FromGguf(file);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "error: %s\n", tokenizer.status().message().c_str());
    return 1;
  }
  const Tokenizer& tok = **tokenizer;

  std::string template_source;
  if (!flags.template_file.empty()) {
    std::ifstream in(flags.template_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "error: cannot read '%s'\n", flags.template_file.c_str());
      return 1;
    }
    template_source.assign(std::istreambuf_iterator<char>(in), {});
  } else if (auto t = file.GetString("tokenizer.chat_template"); t.ok()) {
    template_source = std::string(*t);
  } else {
    std::fprintf(stderr,
                 "error: %s has no chat template (tokenizer.chat_template); pass one with "
                 "--chat-template FILE\n",
                 file.name().c_str());
    return 1;
  }
  auto chat_template = chat::ChatTemplate::Parse(template_source);
  if (!chat_template.ok()) {
    std::fprintf(stderr, "error: chat template: %s\n", chat_template.status().message().c_str());
    return 1;
  }

  if (const PublisherDefaults* d = FindPublisherDefaults(file)) {
    if (!Given(cmd, "--temp")) flags.sampling.temperature = d->temperature;
    if (!Given(cmd, "--top-p")) flags.sampling.top_p = d->top_p;
    if (!Given(cmd, "--top-k")) flags.sampling.top_k = d->top_k;
  }
  // The file's own recommendation (generation_config.json) outranks the name-based table.
  ApplyModelSamplingDefaults(file, cmd, &flags.sampling);
  if (flags.seed < 0) flags.seed = static_cast<int64_t>(std::random_device{}() & 0x7fffffff);
  flags.sampling.seed = static_cast<uint64_t>(flags.seed);
  if (Status s = ValidateSamplingParams(flags.sampling, tok.n_vocab()); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  Sampler sampler(flags.sampling, tok.n_vocab());
  Session session(*loaded->context, SessionOptions{});

  const bool interactive = isatty(STDIN_FILENO) != 0;
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const std::string bos_text = tok.bos_id() >= 0 ? std::string(tok.TokenText(tok.bos_id())) : "";
  const std::string eos_text = tok.eos_id() >= 0 ? std::string(tok.TokenText(tok.eos_id())) : "";
  std::fprintf(stderr,
               "autarky chat: %s, context %d tokens, temperature %.2f, top-p %.2f, top-k %d, "
               "seed %lld. /help for commands.\n",
               loaded->model->info().name.empty() ? file.name().c_str()
                                                  : loaded->model->info().name.c_str(),
               session.n_ctx(), flags.sampling.temperature, flags.sampling.top_p,
               flags.sampling.top_k, static_cast<long long>(flags.seed));

  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  auto reset = [&]() {
    messages = nlohmann::ordered_json::array();
    if (!flags.system.empty()) messages.push_back({{"role", "system"}, {"content", flags.system}});
  };
  reset();
  std::string line;
  std::vector<float> logits;
  while (ReadLine(interactive, line)) {
    if (line.empty()) continue;
    if (line[0] == '/') {
      const std::string command = line.substr(0, line.find(' '));
      const std::string arg = line.find(' ') == std::string::npos ? "" : line.substr(line.find(' ') + 1);
      if (command == "/exit" || command == "/quit" || command == "/bye") break;
      if (command == "/reset") {
        reset();
        std::printf("(conversation reset)\n");
      } else if (command == "/system") {
        flags.system = arg;
        reset();
        std::printf("(system prompt set; conversation reset)\n");
      } else if (command == "/save") {
        std::ofstream out(arg, std::ios::binary | std::ios::trunc);
        if (arg.empty() || !out) {
          std::printf("(cannot write '%s')\n", arg.c_str());
        } else {
          out << nlohmann::ordered_json{{"messages", messages}}.dump(2) << "\n";
          std::printf("(saved %zu messages to %s)\n", messages.size(), arg.c_str());
        }
      } else {
        PrintHelp();
      }
      std::fflush(stdout);
      continue;
    }
    messages.push_back({{"role", "user"}, {"content", line}});
    chat::ChatTemplateInputs inputs;
    inputs.messages = messages;
    inputs.add_generation_prompt = true;
    inputs.bos_token = bos_text;
    inputs.eos_token = eos_text;
    auto rendered = chat_template->Apply(inputs);
    if (!rendered.ok()) {
      std::printf("(template error: %s)\n", rendered.status().message().c_str());
      messages.erase(messages.end() - 1);
      continue;
    }
    EncodeOptions encode;
    encode.parse_special = true;
    encode.add_special = bos_text.empty() || rendered->rfind(bos_text, 0) != 0;
    const std::vector<int32_t> prompt = tok.Encode(*rendered, encode);
    // Reuse the cached prefix shared with the previous turn; at least one token is evaluated
    // so that there are logits to sample from.
    const auto& history = session.history();
    size_t common = 0;
    while (common < history.size() && common < prompt.size() && history[common] == prompt[common]) {
      ++common;
    }
    if (common == prompt.size()) --common;
    session.Truncate(static_cast<int32_t>(common));
    const std::vector<int32_t> fresh(prompt.begin() + common, prompt.end());
    if (Status s = session.Append(fresh, false, logits); !s.ok()) {
      std::printf("(the context is full: %s. /reset starts over.)\n", s.message().c_str());
      messages.erase(messages.end() - 1);
      session.Truncate(0);
      continue;
    }
    sampler.Reset();
    for (int32_t t : prompt) sampler.Accept(t);

    InterruptScope interrupt_scope;
    ReasoningPrinter printer(tty, flags.hide_reasoning, EndsInsideThought(*rendered));
    Utf8Stream utf8;
    std::string answer;
    std::string note;
    for (int32_t n = 0; flags.n_predict < 0 || n < flags.n_predict; ++n) {
      if (g_interrupted.load()) {
        note = "(stopped)";
        break;
      }
      const int32_t token = sampler.Sample(logits);
      sampler.Accept(token);
      if (tok.IsEndOfGeneration(token)) break;
      const std::string piece = utf8.Push(tok.TokenBytes(token));
      answer += piece;
      printer.Push(piece);
      const int32_t one[] = {token};
      if (Status s = session.Append(one, false, logits); !s.ok()) {
        note = "(the context is full; /reset starts over)";
        break;
      }
    }
    const std::string tail = utf8.Flush();
    answer += tail;
    printer.Push(tail);
    printer.Finish();
    if (!note.empty()) std::printf("%s\n", note.c_str());
    std::fflush(stdout);
    messages.push_back({{"role", "assistant"}, {"content", answer}});
  }
  PrintExpertUsage(*loaded->context);
  return 0;
}

}  // namespace

int RunChatFromRun(const ModelFlags& model, const std::string& template_file,
                   const SamplingParams& sampling, int64_t seed, int32_t n_predict,
                   const CLI::App* run_command) {
  ChatFlags flags;
  flags.model = model;
  flags.template_file = template_file;
  flags.sampling = sampling;
  flags.seed = seed;
  flags.n_predict = n_predict;
  return RunChat(std::move(flags), run_command);
}

void AddChatCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ChatFlags>();
  CLI::App* cmd = app.add_subcommand(
      "chat", "Chat with a model in the terminal, using the model's chat template");
  AddModelFlags(cmd, flags->model);
  AddVerboseFlag(cmd, flags->model);
  cmd->add_option("--chat-template", flags->template_file,
                  "Jinja chat template file (default: the model's tokenizer.chat_template)");
  cmd->add_option("--system", flags->system, "System prompt");
  SamplingParams& s = flags->sampling;
  cmd->add_option("--temp", s.temperature,
                  "Temperature (default: the publisher's recommendation when known, else 0.8)");
  cmd->add_option("--top-k", s.top_k, "Top-k (0: off)");
  cmd->add_option("--top-p", s.top_p, "Top-p (1: off)");
  cmd->add_option("--min-p", s.min_p, "Min-p (0: off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "Repeat penalty (1: off)")
      ->capture_default_str();
  cmd->add_option("-s,--seed", flags->seed, "Random seed (-1: random)")->capture_default_str();
  cmd->add_option("-n,--n-predict", flags->n_predict, "Most tokens per answer (-1: no limit)")
      ->capture_default_str();
  cmd->add_flag("--hide-reasoning", flags->hide_reasoning,
                "Fold the <think> reasoning into one line instead of showing it dimmed");
  cmd->callback([flags, cmd, &exit_code]() { exit_code = RunChat(*flags, cmd); });
}

}  // namespace autarky::cli
