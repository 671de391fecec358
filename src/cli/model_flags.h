// Flags shared by the commands that run a model (-m, --threads, --ctx-size, --batch-size,
// --kv-type) and the loading of model + context from them with clear errors.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "engine/context.h"
#include "model/model.h"
#include "sampling/sampler.h"

namespace autarky::cli {

struct ModelFlags {
  std::string model_path;
  int threads = 0;
  int32_t ctx_size = -1;  // -1: min(4096, training context); 0: the training context
  int32_t batch_size = 512;
  std::string kv_type = "f16";
  bool no_mmap = false;
  std::string quantize;  // --quantize TYPE: quantize the weights in memory at load
  bool verbose = false;  // --verbose (run, bench, chat): count expert usage, print it at the end
};

// Registers --verbose (the commands that print statistics after their run).
void AddVerboseFlag(CLI::App* command, ModelFlags& flags);
// With --verbose on a MoE model, prints the expert usage statistics to stderr.
void PrintExpertUsage(const InferenceContext& context);

// Registers the flags on `command`; `default_ctx` is the --ctx-size default.
void AddModelFlags(CLI::App* command, ModelFlags& flags, int32_t default_ctx = -1);

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<InferenceContext> context;
};

// Loads the model and creates a context per the flags (ctx-size capped at the model's training
// context when 0). Prints the error and returns nullopt-like empty on failure.
Result<LoadedModel> LoadModelAndContext(const ModelFlags& flags, int32_t n_seq = 1);

// The model's recommended sampling (general.sampling.*, e.g. from a folder's
// generation_config.json) as defaults for the flags the user did not give on `cmd` (--temp,
// --top-k, --top-p, --min-p, --repeat-penalty); with --verbose given on `cmd`, says on stderr
// which values came from the model. A flag the user gave always wins.
void ApplyModelSamplingDefaults(const GgufFile& file, const CLI::App* cmd, SamplingParams* params);

// "1.5B", "260.0K": a parameter count for humans.
std::string FormatCount(int64_t n);

}  // namespace autarky::cli
