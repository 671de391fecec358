// Scalar reference kernels of the "float" weight types (F32, F16, BF16) with F32 activations:
// the oracle the SIMD versions are tested against. Products and sums are formed in double, so
// the reference itself is accurate to one final rounding for any row length in practice.
#include <cstring>

#include "kernels/kernel_table.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

// F32 activations are consumed as they are.
void CopyAct(const float* x, void* y, int64_t k) {
  std::memcpy(y, x, static_cast<size_t>(k) * sizeof(float));
}

// Element i of a row; rows may have any alignment.
template <typename T>
T Load(const void* row, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const uint8_t*>(row) + i * sizeof(T), sizeof v);
  return v;
}

template <bool kBf16>
float HalfToFloat(uint16_t v) {
  return kBf16 ? Bf16ToFp32(v) : Fp16ToFp32(v);
}

float VecDotF32(int64_t k, const void* w, const void* a) {
  double sum = 0.0;
  for (int64_t i = 0; i < k; ++i) {
    sum += static_cast<double>(Load<float>(w, i)) * Load<float>(a, i);
  }
  return static_cast<float>(sum);
}

template <bool kBf16>
float VecDotHalf(int64_t k, const void* w, const void* a) {
  double sum = 0.0;
  for (int64_t i = 0; i < k; ++i) {
    sum += static_cast<double>(HalfToFloat<kBf16>(Load<uint16_t>(w, i))) * Load<float>(a, i);
  }
  return static_cast<float>(sum);
}

}  // namespace

void RegisterFloatScalar(KernelRegistry& registry) {
  registry.Set(DType::kF32,
               WeightKernels{DType::kF32, CopyAct, VecDotF32, GemmFromVecDot<VecDotF32>});
  registry.Set(DType::kF16, WeightKernels{DType::kF32, CopyAct, VecDotHalf<false>,
                                          GemmFromVecDot<VecDotHalf<false>>});
  registry.Set(DType::kBF16, WeightKernels{DType::kF32, CopyAct, VecDotHalf<true>,
                                           GemmFromVecDot<VecDotHalf<true>>});
}

}  // namespace autarky::kernels
