// kernels/quantize.h: routes each type to its typed row converter in kernels/ref/quantize_ref.h.
#include "kernels/quantize.h"

#include <cstring>
#include <optional>

#include "kernels/ops.h"
#include "kernels/ref/quantize_ref.h"
#include "tensor/quant_blocks.h"
#include "util/check.h"

namespace autarky::kernels {
namespace {

using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeFn = void (*)(const float* src, void* dst, int64_t n);

// Adapters from the typed converters to untyped pointers.
template <typename Block, void (*kFn)(const Block*, float*, int64_t)>
void Dequantize(const void* src, float* dst, int64_t n) {
  kFn(static_cast<const Block*>(src), dst, n);
}
template <typename Block, void (*kFn)(const float*, Block*, int64_t)>
void Quantize(const float* src, void* dst, int64_t n) {
  kFn(src, static_cast<Block*>(dst), n);
}

// F16 rows at the active ISA's speed (the KV cache's values are read this way); the same bits
// as ref::DequantizeF16.
void DequantizeF16Simd(const void* src, float* dst, int64_t n) {
  GetOpsKernels().f16_to_f32(static_cast<const uint16_t*>(src), dst, n);
}

void CopyF32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void StoreF32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

struct Converters {
  DequantizeFn dequantize = nullptr;
  QuantizeFn quantize = nullptr;
};

// A switch rather than a table built at first use: nothing to initialise across threads.
Converters Find(DType type) {
  switch (type) {
    case DType::kF32:
      return {CopyF32, StoreF32};
    case DType::kF16:
      return {DequantizeF16Simd, Quantize<uint16_t, ref::QuantizeF16>};
    case DType::kBF16:
      return {Dequantize<uint16_t, ref::DequantizeBf16>, Quantize<uint16_t, ref::QuantizeBf16>};
    case DType::kQ4_0:
      return {Dequantize<BlockQ4_0, ref::DequantizeQ4_0>, Quantize<BlockQ4_0, ref::QuantizeQ4_0>};
    case DType::kQ4_1:
      return {Dequantize<BlockQ4_1, ref::DequantizeQ4_1>, Quantize<BlockQ4_1, ref::QuantizeQ4_1>};
    case DType::kQ5_0:
      return {Dequantize<BlockQ5_0, ref::DequantizeQ5_0>, Quantize<BlockQ5_0, ref::QuantizeQ5_0>};
    case DType::kQ5_1:
      return {Dequantize<BlockQ5_1, ref::DequantizeQ5_1>, Quantize<BlockQ5_1, ref::QuantizeQ5_1>};
    case DType::kQ8_0:
      return {Dequantize<BlockQ8_0, ref::DequantizeQ8_0>, Quantize<BlockQ8_0, ref::QuantizeQ8_0>};
    case DType::kQ8_1:
      return {Dequantize<BlockQ8_1, ref::DequantizeQ8_1>, nullptr};
    case DType::kQ2_K:
      return {Dequantize<BlockQ2_K, ref::DequantizeQ2_K>, Quantize<BlockQ2_K, ref::QuantizeQ2_K>};
    case DType::kQ3_K:
      return {Dequantize<BlockQ3_K, ref::DequantizeQ3_K>, Quantize<BlockQ3_K, ref::QuantizeQ3_K>};
    case DType::kQ4_K:
      return {Dequantize<BlockQ4_K, ref::DequantizeQ4_K>, Quantize<BlockQ4_K, ref::QuantizeQ4_K>};
    case DType::kQ5_K:
      return {Dequantize<BlockQ5_K, ref::DequantizeQ5_K>, Quantize<BlockQ5_K, ref::QuantizeQ5_K>};
    case DType::kQ6_K:
      return {Dequantize<BlockQ6_K, ref::DequantizeQ6_K>, Quantize<BlockQ6_K, ref::QuantizeQ6_K>};
    case DType::kQ8_K:
      return {Dequantize<BlockQ8_K, ref::DequantizeQ8_K>, nullptr};
    case DType::kIQ4_NL:
      return {Dequantize<BlockIQ4_NL, ref::DequantizeIQ4_NL>,
              Quantize<BlockIQ4_NL, ref::QuantizeIQ4_NL>};
    case DType::kIQ4_XS:
      return {Dequantize<BlockIQ4_XS, ref::DequantizeIQ4_XS>,
              Quantize<BlockIQ4_XS, ref::QuantizeIQ4_XS>};
    default:
      return {};
  }
}

bool WholeBlocks(DType type, int64_t n) { return n >= 0 && n % Traits(type).block_elems == 0; }

}  // namespace

bool CanDequantize(DType type) { return Find(type).dequantize != nullptr; }

bool CanQuantize(DType type) { return Find(type).quantize != nullptr; }

void DequantizeRow(DType type, const void* src, float* dst, int64_t n) {
  const DequantizeFn fn = Find(type).dequantize;
  CHECK_MSG(fn != nullptr, "DequantizeRow: type not supported (check CanDequantize)");
  CHECK_MSG(WholeBlocks(type, n), "DequantizeRow: n is not a whole number of blocks");
  fn(src, dst, n);
}

size_t QuantizeRows(DType type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row) {
  const QuantizeFn fn = Find(type).quantize;
  CHECK_MSG(fn != nullptr, "QuantizeRows: type not supported (check CanQuantize)");
  CHECK_MSG(WholeBlocks(type, n_per_row) && n_rows >= 0,
            "QuantizeRows: n_per_row is not a whole number of blocks");
  const std::optional<size_t> row_bytes = RowBytes(type, n_per_row);
  CHECK_MSG(row_bytes.has_value(), "QuantizeRows: row size overflows");
  auto* out = static_cast<uint8_t*>(dst);
  // Every format quantizes blocks independently, so one row at a time gives the same bytes
  // as llama.cpp's whole-chunk calls.
  for (int64_t r = 0; r < n_rows; ++r) {
    fn(src + r * n_per_row, out + static_cast<size_t>(r) * *row_bytes, n_per_row);
  }
  return static_cast<size_t>(n_rows) * *row_bytes;
}

}  // namespace autarky::kernels
