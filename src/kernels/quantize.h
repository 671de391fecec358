// Conversion between F32 and the stored tensor types: the reference (scalar) implementations,
// bit-exact with llama.cpp, used by the model loader, `autarky quantize` and the tests.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace autarky::kernels {

// Converts `n` elements (a whole number of blocks) of `type` at `src` to floats.
// Every weight type (Traits(type).weight_type) is supported; bit-exact with llama.cpp.
void DequantizeRow(DType type, const void* src, float* dst, int64_t n);

// True when QuantizeRows can produce `type` from F32.
bool CanQuantize(DType type);

// Quantizes `n_rows` rows of `n_per_row` floats (a multiple of the block size) to `type`,
// as llama.cpp's llama-quantize does without an importance matrix. Returns bytes written.
size_t QuantizeRows(DType type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row);

}  // namespace autarky::kernels
