// ConvertModel: a Hugging Face folder, assembled in memory by LoadHfFolder, streamed to GGUF.
#include "tools/convert_model.h"

#include <chrono>
#include <cstdio>
#include <optional>

#include "io/gguf_writer.h"
#include "io/hf_folder.h"
#include "tools/quantize_model.h"
#include "util/progress.h"

namespace autarky::tools {

Result<ConvertModelStats> ConvertModel(const ConvertModelOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(GgufFile folder, LoadHfFolder(options.input));
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
    for (const GgufTensorInfo& t : folder.tensors()) {
      RETURN_IF_ERROR(writer.WriteTensor(t.name, t.data, t.n_bytes));
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
