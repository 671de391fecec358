// Scalar reference kernels of the "legacy" weight types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL)
// and the Q8_0 / Q8_1 activation quantizers: the oracle the SIMD versions are tested against.
//
// Every weight block is decoded to 32 integer weights, multiplied with the activation quants
// and summed exactly in int32; only the per-block float scaling and the sum over blocks are
// floating point. Activation types: Q8_0 for the types without an offset (Q4_0, Q5_0 and Q8_0
// with their fixed integer offsets, IQ4_NL's table), Q8_1 for Q4_1 / Q5_1, whose min term
// m * sum(a) needs the activation block sum s.
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/ref/act_quant.h"
#include "tensor/quant_blocks.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace ref {
namespace {

constexpr int kHalf = kQK / 2;  // q[j] and q[j + 16] share byte j of the nibble array

// Quantizes one block of 32 values; returns the F16 scale and fills q (see act_quant.h).
uint16_t QuantizeActBlock(const float* x, int8_t* q) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    const float a = x[j] < 0.0f ? -x[j] : x[j];
    if (a > amax) amax = a;
  }
  const uint16_t d = Fp32ToFp16(amax / 127.0f);
  const float df = Fp16ToFp32(d);
  const float id = df != 0.0f ? 1.0f / df : 0.0f;
  for (int j = 0; j < kQK; ++j) {
    float v = x[j] * id;
    v = v < -127.0f ? -127.0f : v;  // NaN passes through both tests unchanged
    v = v > 127.0f ? 127.0f : v;
    q[j] = static_cast<int8_t>(RoundHalfEven(v));
  }
  return d;
}

// The 32 nibbles of a block in weight order: q[j] low nibble of qs[j], q[j + 16] high nibble.
void UnpackNibbles(const uint8_t* qs, int* q) {
  for (int j = 0; j < kHalf; ++j) {
    q[j] = qs[j] & 0x0f;
    q[j + kHalf] = qs[j] >> 4;
  }
}

// Adds the fifth bits (bit j of the little-endian qh word is bit 4 of q[j]).
void AddHighBits(const uint8_t* qh, int* q) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  for (int j = 0; j < kQK; ++j) q[j] |= static_cast<int>((bits >> j) & 1u) << 4;
}

int32_t IntDot(const int* w, const int8_t* a) {
  int32_t sum = 0;
  for (int j = 0; j < kQK; ++j) sum += w[j] * a[j];
  return sum;
}

// Integer weights of one block (the value is scale * w[j] [+ min]).
void BlockInts(const BlockQ4_0& b, int* w) {
  UnpackNibbles(b.qs, w);
  for (int j = 0; j < kQK; ++j) w[j] -= 8;
}
void BlockInts(const BlockQ4_1& b, int* w) { UnpackNibbles(b.qs, w); }
void BlockInts(const BlockQ5_0& b, int* w) {
  UnpackNibbles(b.qs, w);
  AddHighBits(b.qh, w);
  for (int j = 0; j < kQK; ++j) w[j] -= 16;
}
void BlockInts(const BlockQ5_1& b, int* w) {
  UnpackNibbles(b.qs, w);
  AddHighBits(b.qh, w);
}
void BlockInts(const BlockQ8_0& b, int* w) {
  for (int j = 0; j < kQK; ++j) w[j] = b.qs[j];
}
void BlockInts(const BlockIQ4_NL& b, int* w) {
  UnpackNibbles(b.qs, w);
  for (int j = 0; j < kQK; ++j) w[j] = kIq4nlValues[w[j]];
}

// Block `b` of a row, copied out: rows may have any alignment.
template <typename Block>
Block LoadBlock(const void* row, int64_t b) {
  Block block;
  std::memcpy(&block, static_cast<const uint8_t*>(row) + b * sizeof(Block), sizeof block);
  return block;
}

// sum_b dw_b * da_b * isum_b for weights without a min, paired with Q8_0 activations.
template <typename Block>
float VecDotQ8_0(int64_t k, const void* w, const void* a) {
  float sum = 0.0f;
  int ints[kQK];
  for (int64_t b = 0; b < k / kQK; ++b) {
    const auto wb = LoadBlock<Block>(w, b);
    const auto ab = LoadBlock<BlockQ8_0>(a, b);
    BlockInts(wb, ints);
    const float scale = Fp16ToFp32(wb.d) * Fp16ToFp32(ab.d);
    sum += scale * static_cast<float>(IntDot(ints, ab.qs));
  }
  return sum;
}

// sum_b dw_b * da_b * isum_b + m_b * s_b for weights x = d * q + m, paired with Q8_1.
template <typename Block>
float VecDotQ8_1(int64_t k, const void* w, const void* a) {
  float sum = 0.0f;
  int ints[kQK];
  for (int64_t b = 0; b < k / kQK; ++b) {
    const auto wb = LoadBlock<Block>(w, b);
    const auto ab = LoadBlock<BlockQ8_1>(a, b);
    BlockInts(wb, ints);
    const float scale = Fp16ToFp32(wb.d) * Fp16ToFp32(ab.d);
    const float min_term = Fp16ToFp32(wb.m) * Fp16ToFp32(ab.s);
    sum += scale * static_cast<float>(IntDot(ints, ab.qs)) + min_term;
  }
  return sum;
}

}  // namespace

void QuantizeActQ8_0(const float* x, void* y, int64_t k) {
  auto* out = static_cast<uint8_t*>(y);  // any alignment: blocks are copied out
  for (int64_t b = 0; b < k / kQK; ++b) {
    BlockQ8_0 block;
    block.d = QuantizeActBlock(x + b * kQK, block.qs);
    std::memcpy(out + b * sizeof block, &block, sizeof block);
  }
}

void QuantizeActQ8_1(const float* x, void* y, int64_t k) {
  auto* out = static_cast<uint8_t*>(y);
  for (int64_t b = 0; b < k / kQK; ++b) {
    BlockQ8_1 block;
    block.d = QuantizeActBlock(x + b * kQK, block.qs);
    int32_t sum = 0;
    for (int j = 0; j < kQK; ++j) sum += block.qs[j];
    block.s = Fp32ToFp16(Fp16ToFp32(block.d) * static_cast<float>(sum));
    std::memcpy(out + b * sizeof block, &block, sizeof block);
  }
}

}  // namespace ref

namespace {

// Entry of a weight type whose dot products take `kAct` (Q8_0 or Q8_1) activations.
template <DType kAct, VecDotFn kVecDot>
WeightKernels Entry() {
  const QuantizeActFn quantize = kAct == DType::kQ8_1 ? ref::QuantizeActQ8_1 : ref::QuantizeActQ8_0;
  return WeightKernels{kAct, quantize, kVecDot, GemmFromVecDot<kVecDot>};
}

}  // namespace

void RegisterLegacyScalar(KernelRegistry& registry) {
  using ref::VecDotQ8_0;
  using ref::VecDotQ8_1;
  registry.Set(DType::kQ4_0, Entry<DType::kQ8_0, VecDotQ8_0<BlockQ4_0>>());
  registry.Set(DType::kQ4_1, Entry<DType::kQ8_1, VecDotQ8_1<BlockQ4_1>>());
  registry.Set(DType::kQ5_0, Entry<DType::kQ8_0, VecDotQ8_0<BlockQ5_0>>());
  registry.Set(DType::kQ5_1, Entry<DType::kQ8_1, VecDotQ8_1<BlockQ5_1>>());
  registry.Set(DType::kQ8_0, Entry<DType::kQ8_0, VecDotQ8_0<BlockQ8_0>>());
  registry.Set(DType::kIQ4_NL, Entry<DType::kQ8_0, VecDotQ8_0<BlockIQ4_NL>>());
}

}  // namespace autarky::kernels
