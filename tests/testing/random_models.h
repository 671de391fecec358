// Random-weight model files for tests, written once per test process and reused: the F32 file
// from RandomModelOptions, and its quantized versions beside it.
#pragma once

#include <string>

#include "tools/random_model.h"

namespace autarky::testing {

// The path of the model `options` describes in `type` (F32, or a quantization mix such as
// Q4_K_M): `options.output` (the F32 file) is written unless it exists, and for other types
// `<stem>-<type>.gguf` beside it is quantized from it unless it exists. `pure`: every matrix in
// the mix's base type (llama-quantize --pure). Failures are reported as test failures.
std::string RandomModelFile(const tools::RandomModelOptions& options, const std::string& type,
                            bool pure = false);

}  // namespace autarky::testing
