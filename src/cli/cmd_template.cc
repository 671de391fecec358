// `autarky template [-m MODEL.gguf | --chat-template FILE] --messages CONV.json
// [--add-generation-prompt] [--tools TOOLS.json]`: prints the prompt a model's chat template
// makes of a conversation, exactly as the model would receive it (no newline is added).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "io/gguf_reader.h"
#include "io/hf_folder.h"

namespace autarky::cli {
namespace {

using Json = nlohmann::ordered_json;  // keeps the key order of the files, as Python does

struct TemplateFlags {
  std::string model;
  std::string template_file;
  std::string template_name;
  std::string messages_file;
  std::string tools_file;
  std::string context;
  bool add_generation_prompt = false;
  std::optional<std::string> bos, eos;
  std::optional<int64_t> now;
};

Result<std::string> ReadFile(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrorStatus("cannot read '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Result<Json> ReadJson(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return ErrorStatus(path + ": not valid JSON");
  return json;
}

// The token string of the id stored under `key`, or "" when the model has none.
Result<std::string> SpecialToken(const GgufFile& file, const std::string& key) {
  if (!file.Has(key)) return std::string();
  ASSIGN_OR_RETURN(const int64_t id, file.GetInteger<int64_t>(key));
  ASSIGN_OR_RETURN(auto tokens, file.GetStringArray("tokenizer.ggml.tokens"));
  if (id < 0 || static_cast<uint64_t>(id) >= tokens.size()) {
    return ErrorStatus(file.name() + ": " + key + " " + std::to_string(id) +
                       " is not a token id (the vocabulary has " + std::to_string(tokens.size()) +
                       " tokens)");
  }
  return std::string(tokens[static_cast<size_t>(id)]);
}

Status Run(const TemplateFlags& flags) {
  if (flags.model.empty() && flags.template_file.empty()) {
    return ErrorStatus("give a model (-m MODEL.gguf) or a template (--chat-template FILE)");
  }
  std::string source;
  chat::ChatTemplateInputs inputs;
  if (!flags.model.empty()) {
    ASSIGN_OR_RETURN(GgufFile file, IsHfTokenizerFolder(flags.model) ? LoadHfTokenizer(flags.model)
                                                                     : GgufFile::Open(flags.model));
    if (flags.template_file.empty()) {
      const std::string key = flags.template_name.empty()
                                  ? "tokenizer.chat_template"
                                  : "tokenizer.chat_template." + flags.template_name;
      if (!file.Has(key)) {
        return ErrorStatus(flags.model + " has no chat template (" + key +
                           "); pass one with --chat-template FILE");
      }
      ASSIGN_OR_RETURN(std::string_view text, file.GetString(key));
      source = std::string(text);
    }
    ASSIGN_OR_RETURN(inputs.bos_token, SpecialToken(file, "tokenizer.ggml.bos_token_id"));
    ASSIGN_OR_RETURN(inputs.eos_token, SpecialToken(file, "tokenizer.ggml.eos_token_id"));
  }
  if (!flags.template_file.empty()) {
    ASSIGN_OR_RETURN(source, ReadFile(flags.template_file));
  }
  if (flags.bos) inputs.bos_token = *flags.bos;
  if (flags.eos) inputs.eos_token = *flags.eos;

  ASSIGN_OR_RETURN(Json conversation, ReadJson(flags.messages_file));
  if (conversation.is_object()) {
    // {"messages": [...], "tools": [...]}, as a chat completion request holds them.
    if (conversation.contains("tools")) inputs.tools = conversation["tools"];
    conversation = conversation.value("messages", Json());
  }
  if (!conversation.is_array()) {
    return ErrorStatus(flags.messages_file +
                       ": expected an array of messages or an object with \"messages\"");
  }
  inputs.messages = std::move(conversation);
  if (!flags.tools_file.empty()) {
    ASSIGN_OR_RETURN(inputs.tools, ReadJson(flags.tools_file));
    if (!inputs.tools.is_array() && !inputs.tools.is_null()) {
      return ErrorStatus(flags.tools_file + ": expected an array of tools");
    }
  }
  if (!flags.context.empty()) {
    inputs.extra_context = Json::parse(flags.context, nullptr, /*allow_exceptions=*/false);
    if (!inputs.extra_context.is_object()) {
      return ErrorStatus("--context: expected a JSON object, e.g. '{\"enable_thinking\": false}'");
    }
  }
  inputs.add_generation_prompt = flags.add_generation_prompt;
  inputs.now_seconds = flags.now;

  ASSIGN_OR_RETURN(chat::ChatTemplate chat_template, chat::ChatTemplate::Parse(std::move(source)));
  ASSIGN_OR_RETURN(std::string prompt, chat_template.Apply(inputs));
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
  return Status::Ok();
}

}  // namespace

void AddTemplateCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<TemplateFlags>();
  CLI::App* cmd = app.add_subcommand(
      "template",
      "Print the prompt a chat template makes of a conversation (as transformers renders it)");
  cmd->add_option("-m,--model", flags->model,
                  "GGUF model: its tokenizer.chat_template and BOS/EOS token strings");
  cmd->add_option("--chat-template", flags->template_file,
                  "Jinja chat template file (overrides the model's)");
  cmd->add_option("--template-name", flags->template_name,
                  "use the model's named template tokenizer.chat_template.NAME (e.g. tool_use)");
  cmd->add_option("--messages", flags->messages_file,
                  "conversation JSON: an array of messages, or {\"messages\": [...], "
                  "\"tools\": [...]}; - reads stdin")
      ->required();
  cmd->add_option("--tools", flags->tools_file, "tool definitions JSON (an array)");
  cmd->add_flag("--add-generation-prompt", flags->add_generation_prompt,
                "end with the start of an assistant turn");
  cmd->add_option("--context", flags->context,
                  "more template variables as a JSON object, e.g. '{\"enable_thinking\": false}'");
  cmd->add_option_function<std::string>(
      "--bos", [flags](const std::string& s) { flags->bos = s; }, "BOS token text (overrides)");
  cmd->add_option_function<std::string>(
      "--eos", [flags](const std::string& s) { flags->eos = s; }, "EOS token text (overrides)");
  cmd->add_option_function<int64_t>(
      "--now", [flags](int64_t s) { flags->now = s; },
      "time strftime_now() reports, in seconds since the epoch (default: the clock)");
  cmd->callback([flags, &exit_code]() {
    const Status status = Run(*flags);
    if (!status.ok()) {
      std::fprintf(stderr, "error: %s\n", status.message().c_str());
      exit_code = 1;
    }
  });
}

}  // namespace autarky::cli
