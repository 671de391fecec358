// `autarky quantize IN.gguf OUT.gguf TYPE`: writes a quantized copy of a GGUF model.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "kernels/quantize.h"
#include "tools/quantize_model.h"
#include "util/progress.h"

namespace autarky::cli {
namespace {

std::string MixTable() {
  std::string table = "Types (llama.cpp's mixes; aliases Q3_K=Q3_K_M, Q4_K=Q4_K_M, Q5_K=Q5_K_M):\n";
  for (const tools::QuantMix& mix : tools::SupportedMixes()) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-7s %s\n", std::string(mix.name).c_str(),
                  std::string(mix.description).c_str());
    table += line;
  }
  return table;
}

struct QuantizeArgs {
  std::string input, output, type;
  bool pure = false, allow_requantize = false, dry_run = false, quiet = false;
  std::string output_type, token_embd_type;
  int threads = 0;
};

bool ParseTensorType(const std::string& name, const char* flag, std::optional<DType>* out) {
  if (name.empty()) return true;
  const std::optional<DType> type = ParseDType(name);
  if (!type || !kernels::CanQuantize(*type)) {
    std::fprintf(stderr, "autarky quantize: %s %s: not a type autarky can produce\n", flag,
                 name.c_str());
    return false;
  }
  *out = type;
  return true;
}

int RunQuantize(const QuantizeArgs& args) {
  tools::QuantizeModelOptions options;
  options.input = args.input;
  options.output = args.output;
  options.mix = tools::FindQuantMix(args.type);
  if (options.mix == nullptr) {
    std::fprintf(stderr, "autarky quantize: cannot produce type '%s'.\n%s", args.type.c_str(),
                 MixTable().c_str());
    return 1;
  }
  if (!ParseTensorType(args.output_type, "--output-tensor-type", &options.output_type) ||
      !ParseTensorType(args.token_embd_type, "--token-embedding-type", &options.token_embd_type)) {
    return 1;
  }
  options.pure = args.pure;
  options.allow_requantize = args.allow_requantize;
  options.dry_run = args.dry_run;
  options.threads = args.threads;
  options.progress = !args.quiet;
  auto stats = tools::QuantizeModel(options);
  if (!stats.ok()) {
    std::fprintf(stderr, "autarky quantize: %s\n", stats.status().message().c_str());
    return 1;
  }
  const double bpw_in = 8.0 * stats->input_bytes / std::max<int64_t>(1, stats->n_elements);
  const double bpw_out = 8.0 * stats->output_bytes / std::max<int64_t>(1, stats->n_elements);
  std::printf("%s %s: %s (%.2f bpw) -> %s (%.2f bpw) in %.1f s; %d tensors converted, %d copied",
              args.dry_run ? "planned" : "wrote", args.dry_run ? args.type.c_str() : args.output.c_str(),
              ProgressBar::FormatBytes(stats->input_bytes).c_str(), bpw_in,
              ProgressBar::FormatBytes(stats->output_bytes).c_str(), bpw_out, stats->seconds,
              stats->n_converted, stats->n_copied);
  if (stats->n_fallback > 0) {
    std::printf("; %d used a fallback type (row length not a multiple of the block)",
                stats->n_fallback);
  }
  std::printf("\n");
  return 0;
}

}  // namespace

void AddQuantizeCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quantize",
      "Write a quantized copy of a GGUF model (F32/F16/BF16 input), choosing each tensor's type "
      "with llama.cpp's mix rules; all metadata is kept.");
  cmd->add_option("input", args->input, "Input GGUF model")->required()->check(CLI::ExistingFile);
  cmd->add_option("output", args->output, "Output GGUF file (written atomically)")->required();
  cmd->add_option("type", args->type, "Target mix, e.g. Q4_K_M, Q8_0 (see below)")->required();
  cmd->add_flag("--pure", args->pure,
                "Give every weight matrix the base type (no Q6_K for output/attn_v/ffn_down)");
  cmd->add_flag("--allow-requantize", args->allow_requantize,
                "Accept an already-quantized input (each requantization loses accuracy)");
  cmd->add_option("--output-tensor-type", args->output_type, "Type for output.weight");
  cmd->add_option("--token-embedding-type", args->token_embd_type, "Type for token_embd.weight");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all hardware threads)")
      ->check(CLI::Range(0, 1024));
  cmd->add_flag("--dry-run", args->dry_run, "Print the plan and sizes; write nothing");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress bar");
  cmd->footer(MixTable());
  cmd->callback([args, &exit_code] { exit_code = RunQuantize(*args); });
}

}  // namespace autarky::cli
