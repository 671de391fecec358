// Shared model flags and loading.
#include "cli/model_flags.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub/pull.h"
#include "io/gguf_split.h"
#include "io/hf_folder.h"
#include "model/kv_cache.h"
#include "sampling/model_defaults.h"
#include "tools/quantize_model.h"

namespace autarky::cli {

void AddModelFlags(CLI::App* command, ModelFlags& flags, int32_t default_ctx) {
  flags.ctx_size = default_ctx;
  command
      ->add_option("-m,--model", flags.model_path,
                   "Model file (GGUF) or Hugging Face folder (config.json, *.safetensors)")
      ->required();
  // `autarky run MODEL ...`: the model may also come as the first positional argument.
  command->get_option("-m")->required(false);
  command->add_option("model", flags.model_path, "The model, as for -m")
      ->excludes(command->get_option("-m"));
  command->add_option("-t,--threads", flags.threads,
                      "Threads for the forward pass (default: all hardware threads)")
      ->check(CLI::Range(0, 1024));
  command
      ->add_option("-c,--ctx-size", flags.ctx_size,
                   "Context size in tokens (0: the model's training context; default: 4096, or "
                   "the training context when smaller)")
      ->check(CLI::Range(0, 1 << 24));
  command
      ->add_option("-b,--batch-size", flags.batch_size,
                   "Most prompt tokens per forward pass (prompts are split into such chunks)")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  command->add_option("--kv-type", flags.kv_type, "KV cache type: f16, f32 or q8_0")
      ->capture_default_str();
  command->add_option("--quantize", flags.quantize,
                      "Quantize the weights in memory at load (e.g. Q8_0, Q4_K_M), so an F16/BF16 "
                      "model runs fast without a separate step");
  command->add_flag("--no-mmap", flags.no_mmap,
                    "Read the weights into (huge-page) memory instead of mapping the file");
}

Result<LoadedModel> LoadModelAndContext(const ModelFlags& given_flags, int32_t n_seq) {
  // -m also takes a cached REF or alias, pulled from Hugging Face on first use.
  ModelFlags flags = given_flags;
  if (flags.model_path.empty()) {
    return ErrorStatus("no model: give -m MODEL (a file or a REF)");
  }
  ASSIGN_OR_RETURN(flags.model_path, hub::ResolveModelPath(given_flags.model_path, true));
  LoadedModel loaded;
  const FileLoad load = flags.no_mmap ? FileLoad::kCopy : FileLoad::kStream;
  std::shared_ptr<const GgufFile> file;
  if (IsHfFolder(flags.model_path)) {  // a Hugging Face folder: safetensors + config.json
    // With --quantize, FP8 weights are decoded one tensor at a time as they are quantized.
    ASSIGN_OR_RETURN(
        GgufFile folder,
        LoadHfFolder(flags.model_path, load,
                     flags.quantize.empty() ? HfTensorLoad::kMaterialize : HfTensorLoad::kLazy));
    file = std::make_shared<const GgufFile>(std::move(folder));
  } else {
    ASSIGN_OR_RETURN(GgufFile gguf, OpenGgufModel(flags.model_path, load));
    file = std::make_shared<const GgufFile>(std::move(gguf));
  }
  if (!flags.quantize.empty()) {
    tools::QuantizeModelOptions q;
    q.input = flags.model_path;
    q.input_file = file.get();
    q.mix = tools::FindQuantMix(flags.quantize);
    if (q.mix == nullptr) return ErrorStatus("--quantize " + flags.quantize + ": unknown type");
    std::vector<uint8_t> image;
    q.output_image = &image;
    q.threads = flags.threads;
    q.log_tensors = false;
    RETURN_IF_ERROR(tools::QuantizeModel(q).status());
    ASSIGN_OR_RETURN(
        GgufFile quantized,
        GgufFile::FromImage(std::move(image), flags.model_path + " (" + flags.quantize + ")"));
    file = std::make_shared<const GgufFile>(std::move(quantized));
  }
  ASSIGN_OR_RETURN(loaded.model, LoadModel(std::move(file)));
  ContextOptions options;
  const int32_t train = loaded.model->info().n_ctx_train;
  options.n_ctx = flags.ctx_size;
  if (options.n_ctx < 0) options.n_ctx = train > 0 && train < 4096 ? train : 4096;
  if (options.n_ctx == 0 || (train > 0 && options.n_ctx > train)) {
    if (options.n_ctx > train) {
      std::fprintf(stderr,
                   "note: --ctx-size %d exceeds the model's training context %d; using %d\n",
                   options.n_ctx, train, train);
    }
    options.n_ctx = train;
  }
  options.n_batch = flags.batch_size;
  options.n_threads = flags.threads;
  options.n_seq = n_seq;
  ASSIGN_OR_RETURN(options.kv_type, KvCache::ParseType(flags.kv_type));
  ASSIGN_OR_RETURN(loaded.context, InferenceContext::Create(*loaded.model, options));
  if (flags.verbose) loaded.context->EnableExpertUsage();
  return loaded;
}

void AddVerboseFlag(CLI::App* command, ModelFlags& flags) {
  command->add_flag("--verbose", flags.verbose,
                    "After the run, print statistics (MoE models: tokens per expert per layer "
                    "and the share of expert weights touched)");
}

void PrintExpertUsage(const InferenceContext& context) {
  if (const ExpertUsage* usage = context.expert_usage()) {
    std::fflush(stdout);
    std::fputs(FormatExpertUsage(*usage).c_str(), stderr);
  }
}

std::string FormatCount(int64_t n) {
  char buf[32];
  if (n >= 1000000000) {
    std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  } else if (n >= 1000000) {
    std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  } else if (n >= 1000) {
    std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  }
  return buf;
}

void ApplyModelSamplingDefaults(const GgufFile& file, const CLI::App* cmd, SamplingParams* params) {
  ModelSamplingHints hints;
  auto read_float = [&](const char* key, std::optional<float>* out) {
    if (auto v = file.GetFloat(key); v.ok() && std::isfinite(*v)) *out = static_cast<float>(*v);
  };
  read_float("general.sampling.temp", &hints.temperature);
  read_float("general.sampling.top_p", &hints.top_p);
  read_float("general.sampling.min_p", &hints.min_p);
  read_float("general.sampling.penalty_repeat", &hints.repeat_penalty);
  if (auto k = file.GetInteger<int32_t>("general.sampling.top_k"); k.ok()) hints.top_k = *k;
  auto given = [&](const char* option) {
    try {
      return cmd->count(option) > 0;
    } catch (const CLI::OptionNotFound&) {
      return false;  // the command has no such flag
    }
  };
  GivenSamplingFlags flags;
  flags.temperature = given("--temp");
  flags.top_k = given("--top-k");
  flags.top_p = given("--top-p");
  flags.min_p = given("--min-p");
  flags.repeat_penalty = given("--repeat-penalty");
  const std::vector<std::string> notes = ApplyModelSamplingHints(hints, flags, params);
  if (given("--verbose")) {
    for (const std::string& note : notes) {
      std::fprintf(stderr, "sampling default from the model: %s\n", note.c_str());
    }
  }
}

}  // namespace autarky::cli
