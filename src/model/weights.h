// Typed, shape-checked access to a model's tensors in the GGUF mapping: matrices stay in the
// file; small vectors (norms, biases) are converted to float copies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "kernels/matmul.h"
#include "util/status.h"

namespace autarky {

// A weight matrix {n_out, k} (ggml dims {k, n_out}) of a type with matmul kernels. Errors name
// the file and tensor: missing, wrong shape, or a type/row length the kernels cannot use.
Result<kernels::WeightMatrix> LoadMatrix(const GgufFile& file, const std::string& name,
                                         int64_t k, int64_t n_out);
// As LoadMatrix, but an absent tensor gives an empty matrix (data == nullptr).
Result<kernels::WeightMatrix> LoadOptionalMatrix(const GgufFile& file, const std::string& name,
                                                 int64_t k, int64_t n_out);

// A 1-D tensor of n elements as floats.
Result<std::vector<float>> LoadVector(const GgufFile& file, const std::string& name, int64_t n);
// As LoadVector; an absent tensor gives an empty vector.
Result<std::vector<float>> LoadOptionalVector(const GgufFile& file, const std::string& name,
                                              int64_t n);

// Row `row` of a matrix {n_rows, k} of any dequantizable type, as k floats (embedding lookup).
void DequantizeMatrixRow(const kernels::WeightMatrix& w, int64_t row, float* out);

}  // namespace autarky
