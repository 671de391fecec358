// The autarky subcommands; each Add*Command registers one on the CLI11 app (cmd_*.cc).
#pragma once

#include <CLI/CLI.hpp>

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

}  // namespace autarky::cli
