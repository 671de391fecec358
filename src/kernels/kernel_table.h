// Per weight type and instruction set: how activations are quantized for it and the dot-product
// kernels that consume them. Selected once per call site with GetWeightKernels().
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"
#include "util/cpu_features.h"

namespace autarky::kernels {

// Quantizes one activation row of `k` floats into `act_type` blocks at `y`.
using QuantizeActFn = void (*)(const float* x, void* y, int64_t k);

// Dot product of one weight row (`k` elements of the weight type) with one activation row
// (`k` elements of act_type).
using VecDotFn = float (*)(int64_t k, const void* w, const void* a);

// Dot products of `nr` weight rows with `nc` activation rows, each of `k` elements:
//   out[c * out_stride + r] = dot(w + r * w_stride, a + c * a_stride)   (strides in bytes for
// w and a, in floats for out). Unpacks each weight block once for all nc columns, which is what
// makes prompt processing compute-bound rather than unpack-bound.
using GemmFn = void (*)(int64_t k, const void* w, size_t w_stride, int nr, const void* a,
                        size_t a_stride, int nc, float* out, size_t out_stride);

// Prompt-processing gemm over weights repacked on the fly (optional, per type and ISA): Matmul
// packs `rows` weight rows x a k-range of whole blocks into a panel, in the layout the kernel
// wants, and multiplies it with every activation column before packing the next rows. The
// panel is a temporary (no copy of the model is kept), so this pays when enough columns share
// each panel. Results are bit-identical to the type's vec_dot and gemm.
struct PackedGemmKernels {
  int rows = 0;             // weight rows per panel
  int64_t block_elems = 0;  // elements per packed block; k-ranges are whole blocks
  // k-ranges other than a row's last are whole multiples of this many blocks (kernels whose
  // float steps work on groups of blocks).
  int64_t range_blocks = 1;
  // Bytes of a panel of n_blocks blocks (a multiple of 64; panels are 64-byte aligned).
  size_t (*panel_bytes)(int64_t n_blocks) = nullptr;
  // Packs n_blocks blocks of nr <= rows weight rows (w: the first block of row 0; rows
  // w_stride bytes apart) into `panel`.
  void (*pack)(const void* w, size_t w_stride, int nr, int64_t n_blocks, void* panel) = nullptr;
  // Optional per-column data the kernel wants besides the activation blocks (e.g. their sums):
  // act_extra_bytes per block, written by prepare_acts for n_blocks blocks of one column.
  size_t act_extra_bytes = 0;
  void (*prepare_acts)(const void* a, int64_t n_blocks, void* extra) = nullptr;
  // out[c * out_stride + r] = dot(panel row r, activation column c) over the panel's blocks for
  // r < nr and c < nc (a: the columns' activation blocks of the same k-range, a_stride bytes
  // apart; extra: their prepare_acts data, extra_stride bytes apart, or nullptr). With `carry`,
  // continues from the values in out: the products of consecutive k-ranges, each carried into
  // the next, equal one product over the whole k, bit for bit.
  void (*gemm)(int64_t n_blocks, const void* panel, const void* a, size_t a_stride,
               const void* extra, size_t extra_stride, int nc, float* out, size_t out_stride,
               int nr, bool carry) = nullptr;
};

struct WeightKernels {
  DType act_type = DType::kF32;          // the activation type vec_dot/gemm expect
  QuantizeActFn quantize_act = nullptr;  // F32 -> act_type (a copy when act_type is F32)
  VecDotFn vec_dot = nullptr;
  GemmFn gemm = nullptr;  // required: families without a tiled gemm use GemmFromVecDot
  const PackedGemmKernels* packed = nullptr;  // optional large-batch path
};

// A gemm made of one vec_dot per output, for kernel families without a tiled one (the scalar
// references). Not for SIMD files: its instances are shared, baseline-compiled code.
template <VecDotFn kVecDot>
void GemmFromVecDot(int64_t k, const void* w, size_t w_stride, int nr, const void* a,
                    size_t a_stride, int nc, float* out, size_t out_stride) {
  const auto* w_bytes = static_cast<const uint8_t*>(w);
  const auto* a_bytes = static_cast<const uint8_t*>(a);
  for (int c = 0; c < nc; ++c) {
    for (int r = 0; r < nr; ++r) {
      out[c * out_stride + r] = kVecDot(k, w_bytes + r * w_stride, a_bytes + c * a_stride);
    }
  }
}

// Kernels of `weight` for `isa`. Entries an ISA lacks fall back to the next lower level
// (avx512 -> avx2 -> scalar, neon -> scalar). Returns nullptr for a type without kernels.
const WeightKernels* FindWeightKernels(DType weight, Isa isa);

// Kernels at the active ISA (see ActiveIsa()); nullptr for a type without kernels.
const WeightKernels* FindWeightKernels(DType weight);

// Filled by the kernel families, one function per family and ISA, each defined in the
// translation unit of that family and ISA (e.g. dot_kquants_avx2.cc).
struct KernelRegistry {
  WeightKernels entries[kDTypeIdLimit];
  // Out of line (kernel_table.cc): an inline member would be emitted as a weak symbol by the
  // SIMD objects of an -O0 build (see scripts/check-isa-objects).
  void Set(DType weight, const WeightKernels& kernels);
};

// Families: "float" = F32/F16/BF16; "legacy" = Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL;
// "kquants" = Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS.
void RegisterFloatScalar(KernelRegistry& registry);
void RegisterLegacyScalar(KernelRegistry& registry);
void RegisterKQuantsScalar(KernelRegistry& registry);
#if defined(__x86_64__)
void RegisterFloatAvx2(KernelRegistry& registry);
void RegisterLegacyAvx2(KernelRegistry& registry);
void RegisterKQuantsAvx2(KernelRegistry& registry);
void RegisterFloatAvx512(KernelRegistry& registry);
void RegisterLegacyAvx512(KernelRegistry& registry);
void RegisterKQuantsAvx512(KernelRegistry& registry);
#endif
#if defined(__aarch64__)
void RegisterFloatNeon(KernelRegistry& registry);
void RegisterLegacyNeon(KernelRegistry& registry);
void RegisterKQuantsNeon(KernelRegistry& registry);
#endif

}  // namespace autarky::kernels
