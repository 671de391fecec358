// F16 and BF16 rows <-> F32: element-wise conversions with llama.cpp's rounding (util/fp16.h).
#include "kernels/ref/quantize_ref.h"

#include "util/fp16.h"

namespace autarky::kernels::ref {

void DequantizeF16(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Fp16ToFp32(src[i]);
}

void QuantizeF16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Fp32ToFp16(src[i]);
}

void DequantizeBf16(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToFp32(src[i]);
}

void QuantizeBf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Fp32ToBf16(src[i]);
}

}  // namespace autarky::kernels::ref
