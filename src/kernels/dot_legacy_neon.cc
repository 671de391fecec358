// AArch64 NEON kernels of the legacy weight types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL against
// Q8_0 / Q8_1 activations (see ref/dot_legacy.cc for the formats and pairing).
//
// A block is two int8x16 registers of signed weights (weights 0-15 and 16-31), multiplied with
// the activation quants by SDOT where the CPU has the dot-product extension, else by
// SMULL/SMULL2 + SADALP (products fit int16: |w| <= 128, |a| <= 127). Both give the exact
// int32 block sum. Each block is then scaled by dw * da per lane (FMLA by element); the
// scales of 4 blocks are converted together.
//
// SDOT is emitted with inline assembly, so that only these instructions need the extension:
// compiling the file for ARMv8.2 would let the compiler use it anywhere, also on the path for
// CPUs without it.
#include <arm_neon.h>

#include <cstddef>
#include <cstring>

#include "kernels/kernel_table.h"
#include "tensor/quant_blocks.h"
#include "util/cpu_features.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

constexpr int kGroup = 4;  // blocks whose scales are converted together
constexpr int kTileRows = 4;
constexpr int kTileCols = 2;

// Field addresses of a block at any address: rows may be misaligned, so fields are never
// accessed through a Block pointer.
template <typename Block>
[[gnu::always_inline]] static inline const uint8_t* QsOf(const Block* b) {
  return reinterpret_cast<const uint8_t*>(b) + offsetof(Block, qs);
}
template <typename Block>
[[gnu::always_inline]] static inline const uint8_t* QhOf(const Block* b) {
  return reinterpret_cast<const uint8_t*>(b) + offsetof(Block, qh);
}

[[gnu::always_inline]] static inline void Put(KernelRegistry& registry, DType type,
                                              const WeightKernels& kernels) {
  // Not KernelRegistry::Set: an inline member used here would be emitted as a weak symbol
  // compiled for this instruction set.
  registry.entries[static_cast<uint32_t>(type)] = kernels;
}

// ---- activation quantization (bit-identical to ref::QuantizeActQ8_0 / Q8_1)

// Quantizes 32 floats: returns the F16 scale, stores 32 quants, and their sum in *sum.
[[gnu::always_inline]] static inline uint16_t QuantizeBlock(const float* x, int8_t* q,
                                                            int32_t* sum) {
  float32x4_t v[8];
  float32x4_t amax_v = vdupq_n_f32(0.0f);
  for (int i = 0; i < 8; ++i) {
    v[i] = vld1q_f32(x + 4 * i);
    amax_v = vmaxq_f32(amax_v, vabsq_f32(v[i]));
  }
  const uint16_t d = Fp32ToFp16(vmaxvq_f32(amax_v) / 127.0f);
  const float df = Fp16ToFp32(d);
  const float32x4_t id = vdupq_n_f32(df != 0.0f ? 1.0f / df : 0.0f);
  const float32x4_t lo = vdupq_n_f32(-127.0f);
  const float32x4_t hi = vdupq_n_f32(127.0f);
  int32x4_t total = vdupq_n_s32(0);
  int16x8_t halves[4];
  for (int i = 0; i < 4; ++i) {
    // FCVTNS rounds to nearest with ties to even, as ref::RoundHalfEven.
    const int32x4_t q0 = vcvtnq_s32_f32(vminq_f32(vmaxq_f32(vmulq_f32(v[2 * i], id), lo), hi));
    const int32x4_t q1 = vcvtnq_s32_f32(vminq_f32(vmaxq_f32(vmulq_f32(v[2 * i + 1], id), lo), hi));
    total = vaddq_s32(total, vaddq_s32(q0, q1));
    halves[i] = vcombine_s16(vmovn_s32(q0), vmovn_s32(q1));
  }
  vst1q_s8(q, vcombine_s8(vmovn_s16(halves[0]), vmovn_s16(halves[1])));
  vst1q_s8(q + 16, vcombine_s8(vmovn_s16(halves[2]), vmovn_s16(halves[3])));
  *sum = vaddvq_s32(total);
  return d;
}

#include "kernels/legacy_act_quant_inl.h"

// ---- integer dot products

// acc + the products of a and b summed into 4 lanes (which products go to which lane differs
// between the two forms; the total is the same).
template <bool kDotProd>
[[gnu::always_inline]] static inline int32x4_t Dot(int32x4_t acc, int8x16_t a, int8x16_t b) {
  if constexpr (kDotProd) {
    // GNU as 2.40 rejects SDOT after `.arch_extension dotprod` on an armv8-a base, so the
    // directive names the architecture; it only widens what the assembler accepts in this
    // file (the compiler still generates baseline code; no -march is passed for NEON files).
    __asm__(".arch armv8.2-a+dotprod\n\tsdot %0.4s, %1.16b, %2.16b" : "+w"(acc) : "w"(a), "w"(b));
    return acc;
  } else {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
  }
}

// ---- weight decoding: one block -> weights 0-15 (lo) and 16-31 (hi) as signed bytes

struct Int8Pair {
  int8x16_t lo, hi;
};

[[gnu::always_inline]] static inline Int8Pair Nibbles(const uint8_t* qs) {
  const uint8x16_t v = vld1q_u8(qs);
  return {vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0f))),
          vreinterpretq_s8_u8(vshrq_n_u8(v, 4))};
}

// 16 for the weights whose fifth bit is set (bit j of the little-endian qh is weight j).
[[gnu::always_inline]] static inline Int8Pair HighBits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  const uint8x16_t bytes = vreinterpretq_u8_u32(vdupq_n_u32(bits));
  static constexpr uint8_t kSpreadLo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  static constexpr uint8_t kSpreadHi[16] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
  static constexpr uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bit = vld1q_u8(kBit);
  const uint8x16_t sixteen = vdupq_n_u8(16);
  const uint8x16_t lo = vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(kSpreadLo)), bit), sixteen);
  const uint8x16_t hi = vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(kSpreadHi)), bit), sixteen);
  return {vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi)};
}

[[gnu::always_inline]] static inline Int8Pair Offset(Int8Pair p, int8_t offset) {
  return {vsubq_s8(p.lo, vdupq_n_s8(offset)), vsubq_s8(p.hi, vdupq_n_s8(offset))};
}

[[gnu::always_inline]] static inline Int8Pair Or(Int8Pair a, Int8Pair b) {
  return {vorrq_s8(a.lo, b.lo), vorrq_s8(a.hi, b.hi)};
}

struct KindQ4_0 {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static Int8Pair Unpack(const Block* b) {
    return Offset(Nibbles(QsOf(b)), 8);
  }
};

struct KindQ4_1 {
  using Block = BlockQ4_1;
  using Act = BlockQ8_1;
  static constexpr bool kMin = true;
  [[gnu::always_inline]] static Int8Pair Unpack(const Block* b) { return Nibbles(QsOf(b)); }
};

struct KindQ5_0 {
  using Block = BlockQ5_0;
  using Act = BlockQ8_0;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static Int8Pair Unpack(const Block* b) {
    return Offset(Or(Nibbles(QsOf(b)), HighBits(QhOf(b))), 16);
  }
};

struct KindQ5_1 {
  using Block = BlockQ5_1;
  using Act = BlockQ8_1;
  static constexpr bool kMin = true;
  [[gnu::always_inline]] static Int8Pair Unpack(const Block* b) {
    return Or(Nibbles(QsOf(b)), HighBits(QhOf(b)));
  }
};

struct KindQ8_0 {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static Int8Pair Unpack(const Block* b) {
    const auto* qs = reinterpret_cast<const int8_t*>(QsOf(b));
    return {vld1q_s8(qs), vld1q_s8(qs + 16)};
  }
};

struct KindIQ4_NL {
  using Block = BlockIQ4_NL;
  using Act = BlockQ8_0;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static Int8Pair Unpack(const Block* b) {
    // kIq4nlValues, spelled out: odr-using the header's inline array would emit a shared
    // (weak) definition of it from this object.
    static constexpr int8_t kValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                           1,    13,   25,  38,  53,  69,  89,  113};
    const int8x16_t table = vld1q_s8(kValues);
    const Int8Pair n = Nibbles(QsOf(b));
    return {vqtbl1q_s8(table, vreinterpretq_u8_s8(n.lo)),
            vqtbl1q_s8(table, vreinterpretq_u8_s8(n.hi))};
  }
};

// ---- scales

[[gnu::always_inline]] static inline uint64_t LoadHalf(const void* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

// The first (d) or second (m, s) half-word of 4 consecutive blocks, converted to floats.
template <typename Block, int kField>
[[gnu::always_inline]] static inline float32x4_t GroupHalves(const Block* b) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(b) + 2 * kField;
  constexpr size_t kS = sizeof(Block);
  const uint64_t h = LoadHalf(bytes) | LoadHalf(bytes + kS) << 16 | LoadHalf(bytes + 2 * kS) << 32 |
                     LoadHalf(bytes + 3 * kS) << 48;
  return vcvt_f32_f16(vreinterpret_f16_u64(vcreate_u64(h)));
}

// ---- one group of 4 blocks for an R x C tile; w[r], a[c] point at the group's first block

// Block b of the group; lane b of the scale vectors belongs to it (FMLA by element takes a
// constant lane, hence the template parameter).
template <typename K, bool kDotProd, int R, int C, int b>
[[gnu::always_inline]] static inline void GroupBlock(const typename K::Block* const* w,
                                                     const typename K::Act* const* a,
                                                     const float32x4_t (&w_scale)[R],
                                                     const float32x4_t (&a_scale)[C],
                                                     float32x4_t (&acc)[R][C]) {
  Int8Pair u[R];
  for (int r = 0; r < R; ++r) u[r] = K::Unpack(w[r] + b);
  for (int c = 0; c < C; ++c) {
    const auto* qs = reinterpret_cast<const int8_t*>(QsOf(a[c] + b));
    const int8x16_t q_lo = vld1q_s8(qs);
    const int8x16_t q_hi = vld1q_s8(qs + 16);
    for (int r = 0; r < R; ++r) {
      const int32x4_t sums =
          Dot<kDotProd>(Dot<kDotProd>(vdupq_n_s32(0), u[r].lo, q_lo), u[r].hi, q_hi);
      const float32x4_t scaled = vmulq_laneq_f32(vcvtq_f32_s32(sums), a_scale[c], b);
      acc[r][c] = vfmaq_laneq_f32(acc[r][c], scaled, w_scale[r], b);
    }
  }
}

template <typename K, bool kDotProd, int R, int C>
[[gnu::always_inline]] static inline void Group(const typename K::Block* const* w,
                                                const typename K::Act* const* a,
                                                float32x4_t (&acc)[R][C]) {
  using Act = typename K::Act;
  float32x4_t w_scale[R], a_scale[C];
  for (int r = 0; r < R; ++r) w_scale[r] = GroupHalves<typename K::Block, 0>(w[r]);
  for (int c = 0; c < C; ++c) a_scale[c] = GroupHalves<Act, 0>(a[c]);
  if constexpr (K::kMin) {
    for (int r = 0; r < R; ++r) {
      const float32x4_t w_min = GroupHalves<typename K::Block, 1>(w[r]);
      for (int c = 0; c < C; ++c) {
        acc[r][c] = vfmaq_f32(acc[r][c], w_min, GroupHalves<Act, 1>(a[c]));
      }
    }
  }
  GroupBlock<K, kDotProd, R, C, 0>(w, a, w_scale, a_scale, acc);
  GroupBlock<K, kDotProd, R, C, 1>(w, a, w_scale, a_scale, acc);
  GroupBlock<K, kDotProd, R, C, 2>(w, a, w_scale, a_scale, acc);
  GroupBlock<K, kDotProd, R, C, 3>(w, a, w_scale, a_scale, acc);
}

// Full dot products of an R x C tile: rows w + r * w_stride, columns a + c * a_stride.
template <typename K, bool kDotProd, int R, int C>
void Tile(int64_t nb, const uint8_t* w, size_t w_stride, const uint8_t* a, size_t a_stride,
          float* out, size_t out_stride) {
  using Block = typename K::Block;
  using Act = typename K::Act;
  float32x4_t acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = vdupq_n_f32(0.0f);
  }
  const Block* wp[R];
  const Act* ap[C];
  for (int r = 0; r < R; ++r) wp[r] = reinterpret_cast<const Block*>(w + r * w_stride);
  for (int c = 0; c < C; ++c) ap[c] = reinterpret_cast<const Act*>(a + c * a_stride);
  const int64_t full = nb / kGroup * kGroup;
  for (int64_t b = 0; b < full; b += kGroup) {
    Group<K, kDotProd, R, C>(wp, ap, acc);
    for (int r = 0; r < R; ++r) wp[r] += kGroup;
    for (int c = 0; c < C; ++c) ap[c] += kGroup;
  }
  if (const int rest = static_cast<int>(nb - full); rest != 0) {
    // The last 1-3 blocks, padded with zero blocks (scale 0, quants 0: they add nothing).
    Block w_pad[R][kGroup];
    Act a_pad[C][kGroup];
    std::memset(w_pad, 0, sizeof w_pad);
    std::memset(a_pad, 0, sizeof a_pad);
    for (int r = 0; r < R; ++r) {
      std::memcpy(w_pad[r], wp[r], rest * sizeof(Block));
      wp[r] = w_pad[r];
    }
    for (int c = 0; c < C; ++c) {
      std::memcpy(a_pad[c], ap[c], rest * sizeof(Act));
      ap[c] = a_pad[c];
    }
    Group<K, kDotProd, R, C>(wp, ap, acc);
  }
  for (int c = 0; c < C; ++c) {
    for (int r = 0; r < R; ++r) out[c * out_stride + r] = vaddvq_f32(acc[r][c]);
  }
}

template <typename K, bool kDotProd>
float VecDot(int64_t k, const void* w, const void* a) {
  float out;
  Tile<K, kDotProd, 1, 1>(k / kQK, static_cast<const uint8_t*>(w), 0,
                          static_cast<const uint8_t*>(a), 0, &out, 0);
  return out;
}

// Runs the tile of R rows x C columns when C == nc, else tries C - 1 (nc < kTileCols).
template <typename K, bool kDotProd, int R, int C>
[[gnu::always_inline]] static inline void TileColumnsLeft(int nc, int64_t nb, const uint8_t* w,
                                                          size_t w_stride, const uint8_t* a,
                                                          size_t a_stride, float* out,
                                                          size_t out_stride) {
  if constexpr (C > 0) {
    if (nc == C) {
      Tile<K, kDotProd, R, C>(nb, w, w_stride, a, a_stride, out, out_stride);
    } else {
      TileColumnsLeft<K, kDotProd, R, C - 1>(nc, nb, w, w_stride, a, a_stride, out, out_stride);
    }
  }
}

template <typename K, bool kDotProd, int R>
void TileRowBand(int64_t nb, const uint8_t* w, size_t w_stride, const uint8_t* a, size_t a_stride,
                 int nc, float* out, size_t out_stride) {
  int c = 0;
  for (; c + kTileCols <= nc; c += kTileCols) {
    Tile<K, kDotProd, R, kTileCols>(nb, w, w_stride, a + c * a_stride, a_stride,
                                    out + c * out_stride, out_stride);
  }
  TileColumnsLeft<K, kDotProd, R, kTileCols - 1>(nc - c, nb, w, w_stride, a + c * a_stride,
                                                 a_stride, out + c * out_stride, out_stride);
}

template <typename K, bool kDotProd>
void Gemm(int64_t k, const void* w, size_t w_stride, int nr, const void* a, size_t a_stride, int nc,
          float* out, size_t out_stride) {
  const int64_t nb = k / kQK;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  int r = 0;
  // One column (decode) goes row after row, so that the weights stream sequentially.
  for (; nc > 1 && r + kTileRows <= nr; r += kTileRows) {
    TileRowBand<K, kDotProd, kTileRows>(nb, wb + r * w_stride, w_stride, ab, a_stride, nc, out + r,
                                        out_stride);
  }
  for (; r < nr; ++r) {
    TileRowBand<K, kDotProd, 1>(nb, wb + r * w_stride, w_stride, ab, a_stride, nc, out + r,
                                out_stride);
  }
}

template <typename K, bool kDotProd>
WeightKernels Entry() {
  constexpr bool kQ8_1 = sizeof(typename K::Act) == sizeof(BlockQ8_1);
  return WeightKernels{kQ8_1 ? DType::kQ8_1 : DType::kQ8_0,
                       kQ8_1 ? QuantizeActQ8_1 : QuantizeActQ8_0, VecDot<K, kDotProd>,
                       Gemm<K, kDotProd>};
}

template <bool kDotProd>
void Register(KernelRegistry& registry) {
  Put(registry, DType::kQ4_0, Entry<KindQ4_0, kDotProd>());
  Put(registry, DType::kQ4_1, Entry<KindQ4_1, kDotProd>());
  Put(registry, DType::kQ5_0, Entry<KindQ5_0, kDotProd>());
  Put(registry, DType::kQ5_1, Entry<KindQ5_1, kDotProd>());
  Put(registry, DType::kQ8_0, Entry<KindQ8_0, kDotProd>());
  Put(registry, DType::kIQ4_NL, Entry<KindIQ4_NL, kDotProd>());
}

}  // namespace

void RegisterLegacyNeon(KernelRegistry& registry) {
  if (DetectCpuFeatures().neon_dotprod) {
    Register<true>(registry);
  } else {
    Register<false>(registry);
  }
}

}  // namespace autarky::kernels
