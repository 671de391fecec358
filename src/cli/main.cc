// Entry point of the autarky executable: parses the subcommand and runs it.
#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "autarky: a self-reliant LLM inference engine for CPUs.\n"
      "Runs DeepSeek-R1-class models from GGUF files, offline, on x86 and ARM.",
      "autarky"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "autarky 0.1.0");
  int exit_code = 0;
  autarky::cli::AddInfoCommand(app, exit_code);
  autarky::cli::AddQuantizeCommand(app, exit_code);
  autarky::cli::AddRunCommand(app, exit_code);
  autarky::cli::AddChatCommand(app, exit_code);
  autarky::cli::AddBenchCommand(app, exit_code);
  autarky::cli::AddPerplexityCommand(app, exit_code);
  autarky::cli::AddRandomModelCommand(app, exit_code);
  autarky::cli::AddTokenizeCommand(app, exit_code);
  autarky::cli::AddTemplateCommand(app, exit_code);
  autarky::cli::AddServeCommand(app, exit_code);
  autarky::cli::AddPullCommands(app, exit_code);
  autarky::cli::AddConvertCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
