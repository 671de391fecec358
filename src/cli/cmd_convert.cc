// `autarky convert HF_DIR OUT.gguf [--type TYPE]`: a Hugging Face safetensors folder to GGUF.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "tools/convert_model.h"
#include "util/progress.h"

namespace autarky::cli {

void AddConvertCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<tools::ConvertModelOptions>();
  auto quiet = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "Write a Hugging Face model folder (config.json, *.safetensors, tokenizer.json) as a GGUF "
      "file with llama.cpp's names and keys; optionally quantized.");
  cmd->add_option("input", args->input, "Model folder")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("output", args->output, "Output GGUF file (written atomically)")->required();
  cmd->add_option("--type", args->type,
                  "F32, F16, BF16 or a quantization mix such as Q8_0, Q4_K_M (default: keep the "
                  "folder's types)");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all hardware threads)")
      ->check(CLI::Range(0, 1024));
  cmd->add_flag("-q,--quiet", *quiet, "No progress bar");
  cmd->callback([args, quiet, &exit_code] {
    args->progress = !*quiet;
    auto stats = tools::ConvertModel(*args);
    if (!stats.ok()) {
      std::fprintf(stderr, "autarky convert: %s\n", stats.status().message().c_str());
      exit_code = 1;
      return;
    }
    std::printf("wrote %s: %d tensors, %s in %.1f s\n", args->output.c_str(), stats->n_tensors,
                ProgressBar::FormatBytes(stats->output_bytes).c_str(), stats->seconds);
    exit_code = 0;
  });
}

}  // namespace autarky::cli
