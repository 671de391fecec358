// ConvertModel: a Hugging Face folder, assembled by LoadHfFolder, streamed to GGUF one tensor
// at a time (tensors that need decoding are decoded just before they are written).
#include "tools/convert_model.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <span>
#include <vector>

#include "io/gguf_writer.h"
#include "io/hf_folder.h"
#include "tools/quantize_model.h"
#include "util/progress.h"

namespace autarky::tools {

Result<ConvertModelStats> ConvertModel(const ConvertModelOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  // Lazy: tensors that need decoding (FP8, stacked experts) are decoded one at a time below.
  ASSIGN_OR_RETURN(GgufFile folder,
                   LoadHfFolder(options.input, FileLoad::kMap, HfTensorLoad::kLazy));
  ConvertModelStats stats;
  stats.n_tensors = static_cast<int>(folder.tensors().size());
  if (!options.type.empty()) {
    QuantizeModelOptions q;
    q.input = options.input;
    q.input_file = &folder;
    q.output = options.output;
    q.mix = FindQuantMix(options.type);
    if (q.mix == nullptr) return ErrorStatus("--type " + options.type + ": unknown type");
    q.threads = options.threads;
    q.progress = options.progress;
    ASSIGN_OR_RETURN(QuantizeModelStats qs, QuantizeModel(q));
    stats.output_bytes = qs.output_bytes;
  } else {
    GgufWriter writer;
    writer.CopyMetadataFrom(folder);
    uint64_t total = 0;
    for (const GgufTensorInfo& t : folder.tensors()) {
      RETURN_IF_ERROR(writer.AddTensor(t.name, t.type, t.shape()));
      total += t.n_bytes;
    }
    RETURN_IF_ERROR(writer.Begin(options.output));
    std::optional<ProgressBar> progress;
    if (options.progress) progress.emplace("convert", total, stderr);
    std::vector<uint8_t> scratch;  // the one decoded tensor, freed before the next
    for (const GgufTensorInfo& t : folder.tensors()) {
      ASSIGN_OR_RETURN(std::span<const uint8_t> bytes, folder.TensorBytes(t, &scratch));
      RETURN_IF_ERROR(writer.WriteTensor(t.name, bytes.data(), bytes.size()));
      std::vector<uint8_t>().swap(scratch);
      stats.output_bytes += t.n_bytes;
      if (progress) progress->Update(stats.output_bytes, std::string(t.name));
    }
    RETURN_IF_ERROR(writer.Finish());
    if (progress) progress->Finish();
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace autarky::tools
