// `autarky random-model OUT.gguf --arch A [--preset P] [shape flags]`: writes a random-weight
// llama/qwen2/qwen3/deepseek2 GGUF for tests and benchmarks (tools/random_model.h).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "tools/quantize_plan.h"
#include "tools/random_model.h"
#include "util/progress.h"

namespace autarky::cli {
namespace {

struct RandomModelArgs {
  tools::RandomModelOptions options;
  std::string preset, rope_scaling = "none", type = "F32";
  bool quiet = false;
  // Shape flags: applied over the preset when given.
  int64_t n_layer = 0, n_embd = 0, n_ff = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_vocab = 0,
          n_ctx = 0;
  float rope_base = 0.0f, rms_eps = 0.0f;
  bool tied = false;
  CLI::App* cmd = nullptr;
};

int RunRandomModel(RandomModelArgs& args) {
  tools::RandomModelOptions& o = args.options;
  // Defaults of a model without a preset: the tiny shape's ctx and rope base.
  o.n_ctx_train = 2048;
  if (!args.preset.empty()) {
    const Status status = tools::ApplyRandomModelPreset(args.preset, &o);
    if (!status.ok()) {
      std::fprintf(stderr, "autarky %s\n", status.message().c_str());
      return 1;
    }
  }
  auto given = [&](const char* flag) { return args.cmd->count(flag) > 0; };
  if (given("--layers")) o.n_layer = args.n_layer;
  if (given("--dim")) o.n_embd = args.n_embd;
  if (given("--ffn")) o.n_ff = args.n_ff;
  if (given("--heads")) o.n_head = args.n_head;
  if (given("--kv-heads")) o.n_head_kv = args.n_head_kv;
  if (given("--head-dim")) o.head_dim = args.head_dim;
  if (given("--vocab")) o.n_vocab = args.n_vocab;  // with --vocab-from: padding, below
  if (given("--ctx-train")) o.n_ctx_train = args.n_ctx;
  if (given("--rope-base")) o.rope_base = args.rope_base;
  if (given("--rms-eps")) o.rms_eps = args.rms_eps;
  if (given("--tied")) o.tied = args.tied;
  if (o.n_head_kv == 0) o.n_head_kv = o.n_head;
  // With --vocab-from, --vocab pads the copied vocabulary (a preset's vocab size does not).
  if (!o.vocab_from.empty() && given("--vocab")) o.pad_vocab_to = args.n_vocab;
  const std::optional<tools::RopeScaling> scaling = tools::ParseRopeScaling(args.rope_scaling);
  if (!scaling) {
    std::fprintf(stderr,
                 "autarky random-model: --rope-scaling %s: expected none, linear, yarn or llama3\n",
                 args.rope_scaling.c_str());
    return 1;
  }
  if (given("--rope-scaling") || o.arch != "deepseek2")
    o.rope_scaling = *scaling;  // presets set it
  const std::optional<DType> type = ParseDType(args.type);
  if (type && (*type == DType::kF32 || *type == DType::kF16 || *type == DType::kBF16)) {
    o.type = *type;
  } else if (tools::FindQuantMix(args.type) != nullptr) {
    o.quant_mix = args.type;  // drawn as F32, written quantized
  } else {
    std::fprintf(stderr,
                 "autarky random-model: --type %s: expected F32, F16, BF16 or a quantization "
                 "mix (autarky quantize --help lists them)\n",
                 args.type.c_str());
    return 1;
  }
  o.progress = !args.quiet;
  auto stats = tools::WriteRandomModel(o);
  if (!stats.ok()) {
    std::fprintf(stderr, "autarky %s\n", stats.status().message().c_str());
    return 1;
  }
  std::printf("wrote %s: %s %s, %d tensors, %.2f M parameters, vocab %lld, %s in %.1f s\n",
              o.output.c_str(), o.arch.c_str(),
              o.quant_mix.empty() ? std::string(DTypeName(o.type)).c_str() : o.quant_mix.c_str(),
              stats->n_tensors, static_cast<double>(stats->n_params) * 1e-6,
              static_cast<long long>(stats->n_vocab),
              ProgressBar::FormatBytes(stats->file_bytes).c_str(), stats->seconds);
  return 0;
}

}  // namespace

void AddRandomModelCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RandomModelArgs>();
  CLI::App* cmd = app.add_subcommand(
      "random-model",
      "Write a GGUF model with random weights (llama, qwen2, qwen3 or deepseek2 layout, keys and "
      "tensor names as llama.cpp's converter writes them), for tests and benchmarks.");
  args->cmd = cmd;
  tools::RandomModelOptions& o = args->options;
  cmd->add_option("output", o.output, "Output GGUF file (written atomically)")->required();
  cmd->add_option("--arch", o.arch, "llama, qwen2, qwen3 or deepseek2 (a preset may set it)");
  cmd->add_option("--preset", args->preset,
                  "tiny (2 layers, dim 64; for tests; deepseek2: V2-Lite style, 3 layers), tiny-v3 "
                  "(deepseek2, V3 style), r1-distill-qwen-1.5b (qwen2, 28 layers, dim 1536, vocab "
                  "151936) or deepseek-v2-lite (deepseek2, 27 layers, 64 experts); flags below "
                  "override it");
  cmd->add_option("--layers", args->n_layer, "Number of blocks");
  cmd->add_option("--dim", args->n_embd, "Embedding size");
  cmd->add_option("--ffn", args->n_ff, "Feed-forward size");
  cmd->add_option("--heads", args->n_head, "Attention heads");
  cmd->add_option("--kv-heads", args->n_head_kv, "Key/value heads (default: --heads)");
  cmd->add_option("--head-dim", args->head_dim, "Head size (default: dim / heads)");
  cmd->add_option(
      "--vocab", args->n_vocab,
      "Vocabulary size of the made-up vocabulary (with --vocab-from: pad to this size)");
  cmd->add_option("--ctx-train", args->n_ctx, "Training context length (default 2048)");
  cmd->add_option("--rope-base", args->rope_base, "RoPE frequency base (default 10000)");
  cmd->add_option("--rms-eps", args->rms_eps,
                  "RMSNorm epsilon (default 1e-5 for llama, 1e-6 for qwen2/qwen3)");
  cmd->add_option("--rope-scaling", args->rope_scaling, "none, linear, yarn or llama3");
  cmd->add_option("--rope-factor", o.rope_factor, "Context extension factor of the scaling");
  cmd->add_option("--rope-orig-ctx", o.rope_orig_ctx,
                  "Original context of yarn/llama3 scaling (default: ctx-train / factor)");
  cmd->add_flag("--tied", args->tied, "No output.weight: the output uses token_embd");
  cmd->add_flag(
      "--split-kv-b", o.split_kv_b,
      "deepseek2: attn_k_b/attn_v_b instead of attn_kv_b (newer converters), same values");
  cmd->add_option("--seed", o.seed, "Seed of the weights (default 0)");
  cmd->add_option("--type", args->type,
                  "F32, F16 or BF16 for the weight matrices (default F32), or a quantization mix "
                  "such as Q4_K_M written directly (each tensor in llama-quantize's type)");
  cmd->add_option("--vocab-from", o.vocab_from,
                  "Copy the tokenizer (every tokenizer.* key) of this GGUF; sets the vocab size, "
                  "unless --vocab pads it to more tokens ([PADn], as llama.cpp's converter does)")
      ->check(CLI::ExistingFile);
  cmd->add_option("-t,--threads", o.threads, "Threads (default: all hardware threads)")
      ->check(CLI::Range(0, 1024));
  cmd->add_flag("-q,--quiet", args->quiet, "No progress bar");
  cmd->callback([args, &exit_code] { exit_code = RunRandomModel(*args); });
}

}  // namespace autarky::cli
