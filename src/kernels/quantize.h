// Conversion between F32 and the stored tensor types: the reference (scalar) implementations,
// bit-exact with llama.cpp, used by the model loader, `autarky quantize` and the tests.
//
// All functions are thread-safe (no shared mutable state) and allocate nothing, so callers may
// convert disjoint row ranges from several threads. Passing an unsupported type or a length
// that is not a whole number of blocks is a programmer error (CHECK): callers check
// CanDequantize / CanQuantize and RowBytes (tensor/dtype.h) first.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace autarky::kernels {

// True when DequantizeRow supports `type`: every weight type (Traits(type).weight_type, F32
// included) and the activation types Q8_1 and Q8_K.
bool CanDequantize(DType type);

// Converts `n` elements (a whole number of blocks) of `type` at `src` to floats.
// Bit-exact with llama.cpp's dequantizers. Requires CanDequantize(type).
void DequantizeRow(DType type, const void* src, float* dst, int64_t n);

// True when QuantizeRows can produce `type` from F32: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS (not the activation types).
bool CanQuantize(DType type);

// Quantizes `n_rows` rows of `n_per_row` floats (a multiple of the block size) to `type`,
// as llama.cpp's llama-quantize does without an importance matrix; bit-exact with it for
// every type above (the legacy and K-quants via ggml's reference row quantizers, IQ4_NL and
// IQ4_XS via their scale search). Rows are packed back to back, RowBytes(type, n_per_row)
// apart. Returns bytes written. Inputs must be finite (NaN/inf give unspecified codes, as in
// llama.cpp). Requires CanQuantize(type).
size_t QuantizeRows(DType type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row);

}  // namespace autarky::kernels
