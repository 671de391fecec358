// Scalar Q8_K activation quantizer: the reference that the SIMD versions match bit for bit.
#pragma once

#include <cstdint>

#include "tensor/quant_blocks.h"

namespace autarky::kernels {

// Quantizes `k` floats (a multiple of 256) into k / 256 Q8_K blocks. For finite input this is
// bit-exact with llama.cpp's quantize_row_q8_K_ref: the element of largest magnitude (the first
// one on ties) maps to -127, every element is rounded to nearest even, d = 1 / iscale. Unlike
// llama.cpp, non-finite input is defined: NaN quantizes to 0, and a block whose scale would
// overflow (a max below ~3.7e-37 or an infinite max) still gets quants clamped to [-127, 127].
// bsums are always written, also for an all-zero block. `y` may have any alignment.
void QuantizeRowQ8KRef(const float* x, void* y, int64_t k);

// One block of 256 floats; the SIMD quantizers call it for blocks holding non-finite values.
void QuantizeBlockQ8KRef(const float* x, void* y);

}  // namespace autarky::kernels
