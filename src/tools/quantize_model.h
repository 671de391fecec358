// `autarky quantize`: converts a GGUF model to a quantization mix, tensor by tensor, streaming.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/quantize_plan.h"
#include "util/status.h"

namespace autarky {
class GgufFile;
}  // namespace autarky

namespace autarky::tools {

struct QuantizeModelOptions {
  std::string input;
  // When set, the model to quantize (e.g. a Hugging Face folder assembled in memory) instead of
  // opening `input`, which then only names it in messages. Not owned.
  const GgufFile* input_file = nullptr;
  // When set, the GGUF image is written here (in memory) instead of to `output`.
  std::vector<uint8_t>* output_image = nullptr;
  std::string output;
  const QuantMix* mix = nullptr;
  bool pure = false;              // no mix rules: every matrix gets the base type
  bool allow_requantize = false;  // accept already-quantized inputs (loses accuracy)
  bool dry_run = false;           // plan and report sizes, write nothing
  std::optional<DType> output_type;
  std::optional<DType> token_embd_type;
  int threads = 0;  // 0: all hardware threads
  bool progress = true;
  bool log_tensors = true;  // one line per tensor
};

struct QuantizeModelStats {
  uint64_t input_bytes = 0;   // tensor data read
  uint64_t output_bytes = 0;  // tensor data written
  int64_t n_elements = 0;
  int n_converted = 0;
  int n_copied = 0;
  int n_fallback = 0;
  double seconds = 0;
};

// Reads options.input, writes options.output (atomically: a temporary file renamed at the end,
// so an existing output survives a failure) and keeps all metadata, setting general.file_type
// and general.quantization_version as llama-quantize does.
Result<QuantizeModelStats> QuantizeModel(const QuantizeModelOptions& options);

}  // namespace autarky::tools
