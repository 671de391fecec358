// AVX-512 (F/BW/VL + VNNI) kernels of the legacy weight types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// IQ4_NL against Q8_0 / Q8_1 activations (see ref/dot_legacy.cc for the formats and pairing).
//
// One zmm holds two blocks (64 weights). Every type is decoded to unsigned bytes u = w + o
// (o = 8 for Q4_0, 16 for Q5_0, 128 for Q8_0 and IQ4_NL, 0 for Q4_1 / Q5_1), so one vpdpbusd
// (u8 x s8) forms the products; the exact integer block sum is sum(u * a) - o * sum(a), with
// o * sum(a) from a second vpdpbusd on the activations alone, computed once per activation
// column and shared by every weight row of a tile. Block scales are fetched four blocks at a
// time with one word permute, converted together and applied per 32-bit lane (each lane holds a
// partial sum of one block), so horizontal sums happen once per output.
//
// gemm runs tiles of kTileRows weight rows x up to kTileCols activation columns: each weight
// pair is unpacked once per tile and each activation pair loaded once per tile. vec_dot is the
// 1 x 1 tile.
// GCC 12's AVX-512 headers build "undefined" pass-through vectors as self-initialized variables
// (GCC bug 105593), which -Wmaybe-uninitialized reports at -O2 and above; the pragma must
// precede the header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels/kernel_table.h"
#include "tensor/quant_blocks.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

constexpr int kGroup = 4;     // blocks whose scales are fetched together
constexpr int kTileRows = 4;  // 4 x 4 measured fastest for nc = 8 on Zen 4 (vs 2x8, 4x2, 3x4)
constexpr int kTileCols = 4;

// Horizontal sums and maximum. (GCC 12's _mm512_reduce_* trip -Werror=uninitialized.)
[[gnu::always_inline]] static inline float HorizontalSum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  __m128 x = _mm512_castps512_ps128(v);
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

[[gnu::always_inline]] static inline float HorizontalMax(__m512 v) {
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  __m128 x = _mm512_castps512_ps128(v);
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
}

[[gnu::always_inline]] static inline int32_t HorizontalSum(__m512i v) {
  v = _mm512_add_epi32(v, _mm512_shuffle_i32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_epi32(v, _mm512_shuffle_i32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  __m128i x = _mm512_castsi512_si128(v);
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtsi128_si32(_mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1))));
}

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
  const __m512 x0 = _mm512_loadu_ps(x);
  const __m512 x1 = _mm512_loadu_ps(x + 16);
  const __m512 amax_v = _mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1));
  const float amax = HorizontalMax(amax_v);
  const uint16_t d = Fp32ToFp16(amax / 127.0f);
  const float df = Fp16ToFp32(d);
  const __m512 id = _mm512_set1_ps(df != 0.0f ? 1.0f / df : 0.0f);
  const __m512 lo = _mm512_set1_ps(-127.0f);
  const __m512 hi = _mm512_set1_ps(127.0f);
  // Default MXCSR rounding is to nearest even, as ref::RoundHalfEven.
  const __m512i q0 =
      _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x0, id), lo), hi));
  const __m512i q1 =
      _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x1, id), lo), hi));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(q0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(q1));
  *sum = HorizontalSum(_mm512_add_epi32(q0, q1));
  return d;
}

#include "kernels/legacy_act_quant_inl.h"

// ---- loading quants
//
// Nibble types are processed 4 blocks at a time in two registers: `lo` holds weights 0-15 of
// blocks 0-3 in its four 128-bit lanes, `hi` weights 16-31 (the low and high nibbles of the
// same bytes), and the activations are arranged to match. Each 32-bit lane then belongs to one
// block, so the lanes of 4 blocks are scaled with one multiply. Q8_0 weights are processed two
// blocks per register, in weight order.

// Four 16-byte pieces, `stride` bytes apart, as the four 128-bit lanes of a register.
[[gnu::always_inline]] static inline __m512i LoadQuad16(const uint8_t* p, size_t stride) {
  const auto load = [](const uint8_t* q) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  };
  __m512i v = _mm512_zextsi128_si512(load(p));
  v = _mm512_inserti32x4(v, load(p + stride), 1);
  v = _mm512_inserti32x4(v, load(p + 2 * stride), 2);
  return _mm512_inserti32x4(v, load(p + 3 * stride), 3);
}

// Activation quants of 4 blocks: lo = quants 0-15 of each block, hi = quants 16-31.
template <typename Act>
[[gnu::always_inline]] static inline void LoadActQuad(const Act* a, __m512i* lo, __m512i* hi) {
  const auto load = [](const uint8_t* q) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  };
  const __m512i z01 =
      _mm512_inserti64x4(_mm512_zextsi256_si512(load(QsOf(a))), load(QsOf(a + 1)), 1);
  const __m512i z23 =
      _mm512_inserti64x4(_mm512_zextsi256_si512(load(QsOf(a + 2))), load(QsOf(a + 3)), 1);
  *lo = _mm512_shuffle_i64x2(z01, z23, _MM_SHUFFLE(2, 0, 2, 0));
  *hi = _mm512_shuffle_i64x2(z01, z23, _MM_SHUFFLE(3, 1, 3, 1));
}

// Nibbles of 4 blocks split into lo / hi as described above.
template <typename Block>
[[gnu::always_inline]] static inline void NibbleQuad(const Block* b, __m512i* lo, __m512i* hi) {
  const __m512i v = LoadQuad16(QsOf(b), sizeof(Block));
  const __m512i mask = _mm512_set1_epi8(0x0f);
  *lo = _mm512_and_si512(v, mask);
  *hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), mask);
}

// Adds 16 to the weights whose fifth bit is set (bit j of qh is weight j of its block).
template <typename Block>
[[gnu::always_inline]] static inline void AddHighBitsQuad(const Block* b, __m512i* lo,
                                                          __m512i* hi) {
  uint64_t lo_bits = 0, hi_bits = 0;
  for (int i = 0; i < kGroup; ++i) {
    uint32_t h;
    std::memcpy(&h, QhOf(b + i), sizeof h);
    lo_bits |= static_cast<uint64_t>(h & 0xffffu) << (16 * i);
    hi_bits |= static_cast<uint64_t>(h >> 16) << (16 * i);
  }
  const __m512i sixteen = _mm512_set1_epi8(16);
  *lo = _mm512_mask_add_epi8(*lo, _cvtu64_mask64(lo_bits), *lo, sixteen);
  *hi = _mm512_mask_add_epi8(*hi, _cvtu64_mask64(hi_bits), *hi, sixteen);
}

// ---- the weight types: unsigned quants u = w + kOffset (see the file comment)

struct KindQ4_0 {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static void Unpack(const Block* b, __m512i* lo, __m512i* hi) {
    NibbleQuad(b, lo, hi);
  }
};

struct KindQ4_1 {
  using Block = BlockQ4_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  [[gnu::always_inline]] static void Unpack(const Block* b, __m512i* lo, __m512i* hi) {
    NibbleQuad(b, lo, hi);
  }
};

struct KindQ5_0 {
  using Block = BlockQ5_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static void Unpack(const Block* b, __m512i* lo, __m512i* hi) {
    NibbleQuad(b, lo, hi);
    AddHighBitsQuad(b, lo, hi);
  }
};

struct KindQ5_1 {
  using Block = BlockQ5_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  [[gnu::always_inline]] static void Unpack(const Block* b, __m512i* lo, __m512i* hi) {
    NibbleQuad(b, lo, hi);
    AddHighBitsQuad(b, lo, hi);
  }
};

struct KindIQ4_NL {
  using Block = BlockIQ4_NL;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 128;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static void Unpack(const Block* b, __m512i* lo, __m512i* hi) {
    // kIq4nlValues + 128, as unsigned bytes, in each 128-bit lane.
    const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(
        1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129), static_cast<char>(141),
        static_cast<char>(153), static_cast<char>(166), static_cast<char>(181),
        static_cast<char>(197), static_cast<char>(217), static_cast<char>(241)));
    NibbleQuad(b, lo, hi);
    *lo = _mm512_shuffle_epi8(table, *lo);
    *hi = _mm512_shuffle_epi8(table, *hi);
  }
};

// Q8_0 weights: two blocks per register, handled by GroupPairs.
struct KindQ8_0 {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 128;
};

// Quants of two consecutive 32-quant blocks whose quants start at `qs`, in weight order.
template <size_t kStride>
[[gnu::always_inline]] static inline __m512i LoadQuantPair(const uint8_t* qs) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + kStride));
  return _mm512_inserti64x4(_mm512_zextsi256_si512(lo), hi, 1);
}

// ---- scales

[[gnu::always_inline]] static inline uint64_t LoadHalf(const void* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

// The 4 scales and 4 mins (or sums) of a group of 4 blocks as 8 floats: d0..d3, m0..m3.
// The halves are gathered with scalar loads and shifts, which keep the vector units free.
template <typename Block, bool kSecond>
[[gnu::always_inline]] static inline __m256 GroupScales(const Block* b) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(b);
  constexpr size_t kS = sizeof(Block);
  const uint64_t d = LoadHalf(bytes) | LoadHalf(bytes + kS) << 16 | LoadHalf(bytes + 2 * kS) << 32 |
                     LoadHalf(bytes + 3 * kS) << 48;
  __m128i halves = _mm_cvtsi64_si128(static_cast<int64_t>(d));
  if constexpr (kSecond) {
    const uint64_t m = LoadHalf(bytes + 2) | LoadHalf(bytes + kS + 2) << 16 |
                       LoadHalf(bytes + 2 * kS + 2) << 32 | LoadHalf(bytes + 3 * kS + 2) << 48;
    halves = _mm_insert_epi64(halves, static_cast<int64_t>(m), 1);
  }
  return _mm256_cvtph_ps(halves);
}

// Lane i of a quad register belongs to block i / 4: lanes 0-3 of `scales` spread accordingly.
[[gnu::always_inline]] static inline __m512 ExpandQuad(__m256 scales) {
  const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(scales));
}

// Pair registers: lanes 0-7 belong to block 2 * kPair of the group, lanes 8-15 to the next.
template <int kPair>
[[gnu::always_inline]] static inline __m512 ExpandPair(__m256 scales) {
  constexpr int a = 2 * kPair, b = 2 * kPair + 1;
  const __m512i idx = _mm512_setr_epi32(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b);
  return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(scales));
}

// -o * sum(a) per 32-bit lane (4 quants): the start value of each sum(u * a), which makes the
// result the exact sum((u - o) * a) = sum(w * a).
template <int kOffset>
[[gnu::always_inline]] static inline __m512i OffsetInit(__m512i q) {
  const __m512i zero = _mm512_setzero_si512();
  if constexpr (kOffset == 0) {
    return zero;
  } else {
    const __m512i o = _mm512_set1_epi8(static_cast<char>(kOffset));
    return _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, o, q));
  }
}

// ---- one group of 4 blocks for an R x C tile; w[r], a[c] point at the group's first block

template <typename K, int R, int C>
[[gnu::always_inline]] static inline void GroupQuads(const typename K::Block* const* w,
                                                     const typename K::Act* const* a,
                                                     __m512 (&acc)[R][C]) {
  using Act = typename K::Act;
  __m512i lo[R], hi[R];
  __m256 w_raw[R];
  __m512 w_scale[R];
  for (int r = 0; r < R; ++r) {
    K::Unpack(w[r], &lo[r], &hi[r]);
    w_raw[r] = GroupScales<typename K::Block, K::kMin>(w[r]);
    w_scale[r] = ExpandQuad(w_raw[r]);
  }
  for (int c = 0; c < C; ++c) {
    __m512i q_lo, q_hi;
    LoadActQuad(a[c], &q_lo, &q_hi);
    __m512i init = OffsetInit<K::kOffset>(q_lo);
    if constexpr (K::kOffset != 0) init = _mm512_add_epi32(init, OffsetInit<K::kOffset>(q_hi));
    const __m256 a_raw = GroupScales<Act, K::kMin>(a[c]);
    const __m512 a_scale = ExpandQuad(a_raw);
    for (int r = 0; r < R; ++r) {
      const __m512i sums = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init, lo[r], q_lo), hi[r], q_hi);
      const __m512 scaled = _mm512_mul_ps(_mm512_cvtepi32_ps(sums), a_scale);
      acc[r][c] = _mm512_fmadd_ps(scaled, w_scale[r], acc[r][c]);
      if constexpr (K::kMin) {
        // m * s of the 4 blocks into lanes 4-7, summed with the rest at the end.
        acc[r][c] = _mm512_mask3_fmadd_ps(_mm512_castps256_ps512(w_raw[r]),
                                          _mm512_castps256_ps512(a_raw), acc[r][c], 0x00f0);
      }
    }
  }
}

template <typename K, int R, int C>
[[gnu::always_inline]] static inline void GroupPairs(const typename K::Block* const* w,
                                                     const typename K::Act* const* a,
                                                     __m512 (&acc)[R][C]) {
  using Block = typename K::Block;
  using Act = typename K::Act;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m256 w_raw[R];
  __m512i u[R][2];
  for (int r = 0; r < R; ++r) {
    w_raw[r] = GroupScales<Block, false>(w[r]);
    u[r][0] = _mm512_xor_si512(LoadQuantPair<sizeof(Block)>(QsOf(w[r])), flip);  // w + 128
    u[r][1] = _mm512_xor_si512(LoadQuantPair<sizeof(Block)>(QsOf(w[r] + 2)), flip);
  }
  for (int c = 0; c < C; ++c) {
    const __m256 a_raw = GroupScales<Act, false>(a[c]);
    __m512i q[2], init[2];
    for (int pair = 0; pair < 2; ++pair) {
      q[pair] = LoadQuantPair<sizeof(Act)>(QsOf(a[c] + 2 * pair));
      init[pair] = OffsetInit<K::kOffset>(q[pair]);
    }
    for (int r = 0; r < R; ++r) {
      const __m256 scales = _mm256_mul_ps(w_raw[r], a_raw);
      __m512 sum = acc[r][c];
      sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(init[0], u[r][0], q[0])),
                            ExpandPair<0>(scales), sum);
      sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(init[1], u[r][1], q[1])),
                            ExpandPair<1>(scales), sum);
      acc[r][c] = sum;
    }
  }
}

template <typename K, int R, int C>
[[gnu::always_inline]] static inline void Group(const typename K::Block* const* w,
                                                const typename K::Act* const* a,
                                                __m512 (&acc)[R][C]) {
  if constexpr (sizeof(typename K::Block) == sizeof(BlockQ8_0)) {
    GroupPairs<K, R, C>(w, a, acc);
  } else {
    GroupQuads<K, R, C>(w, a, acc);
  }
}

using Acc = __m512;
[[gnu::always_inline]] static inline Acc AccZero() { return _mm512_setzero_ps(); }

#include "kernels/legacy_tile_inl.h"

template <typename K>
float VecDot(int64_t k, const void* w, const void* a) {
  float out;
  Tile<K, 1, 1>(k / kQK, static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(a), 0, &out,
                0);
  return out;
}

#include "kernels/gemm_tiling_inl.h"

template <typename K>
void Gemm(int64_t k, const void* w, size_t w_stride, int nr, const void* a, size_t a_stride, int nc,
          float* out, size_t out_stride) {
  GemmByTiles<K>(k / kQK, w, w_stride, nr, a, a_stride, nc, out, out_stride);
}

template <typename K>
WeightKernels Entry() {
  constexpr bool kQ8_1 = sizeof(typename K::Act) == sizeof(BlockQ8_1);
  return WeightKernels{kQ8_1 ? DType::kQ8_1 : DType::kQ8_0,
                       kQ8_1 ? QuantizeActQ8_1 : QuantizeActQ8_0, VecDot<K>, Gemm<K>};
}

}  // namespace

void RegisterLegacyAvx512(KernelRegistry& registry) {
  Put(registry, DType::kQ4_0, Entry<KindQ4_0>());
  Put(registry, DType::kQ4_1, Entry<KindQ4_1>());
  Put(registry, DType::kQ5_0, Entry<KindQ5_0>());
  Put(registry, DType::kQ5_1, Entry<KindQ5_1>());
  Put(registry, DType::kQ8_0, Entry<KindQ8_0>());
  Put(registry, DType::kIQ4_NL, Entry<KindIQ4_NL>());
}

}  // namespace autarky::kernels
