// The autarky subcommands; each Add*Command registers one on the CLI11 app (cmd_*.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "cli/model_flags.h"
#include "sampling/sampler.h"

namespace autarky::cli {

// Each registers a subcommand; its callback sets `exit_code` (0 on success).
void AddInfoCommand(CLI::App& app, int& exit_code);
void AddQuantizeCommand(CLI::App& app, int& exit_code);
void AddBenchCommand(CLI::App& app, int& exit_code);
void AddRunCommand(CLI::App& app, int& exit_code);
void AddPerplexityCommand(CLI::App& app, int& exit_code);
void AddChatCommand(CLI::App& app, int& exit_code);
void AddRandomModelCommand(CLI::App& app, int& exit_code);
void AddTokenizeCommand(CLI::App& app, int& exit_code);
void AddTemplateCommand(CLI::App& app, int& exit_code);
void AddServeCommand(CLI::App& app, int& exit_code);
void AddPullCommands(CLI::App& app, int& exit_code);  // pull, list, rm
void AddConvertCommand(CLI::App& app, int& exit_code);


// `autarky run MODEL` without a prompt opens the interactive chat of `autarky chat` (as Ollama's
// `run` does) with run's model flags, sampling settings, seed and answer length; settings not
// given on `run_command` take the publisher's defaults.
// `template_file`: --chat-template ("" for the model's own).
int RunChatFromRun(const ModelFlags& model, const std::string& template_file,
                   const SamplingParams& sampling, int64_t seed, int32_t n_predict,
                   const CLI::App* run_command);

}  // namespace autarky::cli
