// `autarky convert`: writes a Hugging Face model folder as a GGUF file llama.cpp also accepts,
// unquantized (the folder's float types) or through the quantizer's mixes (--type Q4_K_M).
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace autarky::tools {

struct ConvertModelOptions {
  std::string input;   // the folder
  std::string output;  // the .gguf, written atomically (temporary file, then rename)
  std::string type;    // empty: keep each tensor's type; else a mix name (F16, BF16, Q8_0, ...)
  int threads = 0;     // quantizing threads; 0: all hardware threads
  bool progress = true;
};

struct ConvertModelStats {
  uint64_t output_bytes = 0;  // tensor data written
  int n_tensors = 0;
  double seconds = 0;
};

Result<ConvertModelStats> ConvertModel(const ConvertModelOptions& options);

}  // namespace autarky::tools
