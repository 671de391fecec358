// AVX2 kernels of the legacy weight types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL against Q8_0 /
// Q8_1 activations (see ref/dot_legacy.cc for the formats and pairing).
//
// One ymm holds one block (32 weights in weight order). Products are formed with vpmaddubsw
// (u8 x s8 -> pairs summed in int16) and vpmaddwd (-> int32), which must not saturate:
//   - 4/5-bit types use their unsigned quants u (<= 31): |pair| <= 2 * 31 * 127. Q4_0 / Q5_0
//     subtract the fixed offset exactly in int16 as o * (a0 + a1), from vpmaddubsw(o, a),
//     computed once per activation block and shared by the rows of a tile;
//   - Q8_0 and IQ4_NL (signed values up to 128 in magnitude) use |w| * sign(a, w):
//     |pair| <= 2 * 128 * 127 < 32768, because activation quants are never -128.
// The int32 block sums are exact; each block is then scaled with dw * da (broadcast) and summed
// per lane in float. Block scales are converted four blocks at a time into small arrays.
//
// gemm runs tiles of kTileRows x kTileCols: each weight block is unpacked once per tile and
// each activation block loaded once per tile. vec_dot is the 1 x 1 tile.
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels/kernel_table.h"
#include "tensor/quant_blocks.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

constexpr int kGroup = 4;     // blocks whose scales are converted together
constexpr int kTileRows = 4;  // 4 x 3 measured best overall on Zen 4 (vs 2x4, 4x2, 3x3)
constexpr int kTileCols = 3;

[[gnu::always_inline]] static inline float HorizontalSum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

[[gnu::always_inline]] static inline float HorizontalMax(__m256 v) {
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
}

[[gnu::always_inline]] static inline int32_t HorizontalSum(__m256i v) {
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
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
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  __m256 amax_v = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    amax_v = _mm256_max_ps(amax_v, _mm256_andnot_ps(sign, v[i]));
  }
  const uint16_t d = Fp32ToFp16(HorizontalMax(amax_v) / 127.0f);
  const float df = Fp16ToFp32(d);
  const __m256 id = _mm256_set1_ps(df != 0.0f ? 1.0f / df : 0.0f);
  const __m256 lo = _mm256_set1_ps(-127.0f);
  const __m256 hi = _mm256_set1_ps(127.0f);
  __m256i qi[4];
  for (int i = 0; i < 4; ++i) {
    // Default MXCSR rounding is to nearest even, as ref::RoundHalfEven.
    qi[i] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v[i], id), lo), hi));
  }
  *sum = HorizontalSum(
      _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3])));
  // Packing works per 128-bit lane: restore the order with one dword permute.
  const __m256i w01 = _mm256_packs_epi32(qi[0], qi[1]);
  const __m256i w23 = _mm256_packs_epi32(qi[2], qi[3]);
  const __m256i bytes = _mm256_packs_epi16(w01, w23);
  const __m256i ordered =
      _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), ordered);
  return d;
}

#include "kernels/legacy_act_quant_inl.h"

// ---- weight decoding: one block -> 32 bytes in weight order

// Nibbles: bytes 0-15 the low nibbles (weights 0-15), bytes 16-31 the high ones.
[[gnu::always_inline]] static inline __m256i Nibbles(const uint8_t* qs) {
  const __m256i v =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  const __m256i shifted = _mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
  return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0f));
}

// 0x10 in byte j where bit j of the little-endian qh is set.
[[gnu::always_inline]] static inline __m256i HighBits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                          _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                             0x0202020202020202, 0x0303030303030303));
  const __m256i select = _mm256_set1_epi64x(0x8040201008040201);
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Each kind says how a block turns into the bytes given to vpmaddubsw:
//   kSigned == false: Unpack gives u = w + kOffset (unsigned);
//   kSigned == true: Unpack gives the signed w, multiplied with the sign trick.
struct KindQ4_0 {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr bool kSigned = false;
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static __m256i Unpack(const Block* b) { return Nibbles(QsOf(b)); }
};

struct KindQ4_1 {
  using Block = BlockQ4_1;
  using Act = BlockQ8_1;
  static constexpr bool kSigned = false;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  [[gnu::always_inline]] static __m256i Unpack(const Block* b) { return Nibbles(QsOf(b)); }
};

struct KindQ5_0 {
  using Block = BlockQ5_0;
  using Act = BlockQ8_0;
  static constexpr bool kSigned = false;
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static __m256i Unpack(const Block* b) {
    return _mm256_or_si256(Nibbles(QsOf(b)), HighBits(QhOf(b)));
  }
};

struct KindQ5_1 {
  using Block = BlockQ5_1;
  using Act = BlockQ8_1;
  static constexpr bool kSigned = false;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  [[gnu::always_inline]] static __m256i Unpack(const Block* b) {
    return _mm256_or_si256(Nibbles(QsOf(b)), HighBits(QhOf(b)));
  }
};

struct KindQ8_0 {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr bool kSigned = true;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static __m256i Unpack(const Block* b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(QsOf(b)));
  }
};

struct KindIQ4_NL {
  using Block = BlockIQ4_NL;
  using Act = BlockQ8_0;
  static constexpr bool kSigned = true;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static __m256i Unpack(const Block* b) {
    // kIq4nlValues, spelled out: odr-using the header's inline array would emit a shared
    // (weak) definition of it from this AVX2 object.
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
    return _mm256_shuffle_epi8(table, Nibbles(QsOf(b)));
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
[[gnu::always_inline]] static inline __m128 GroupHalves(const Block* b) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(b) + 2 * kField;
  constexpr size_t kS = sizeof(Block);
  const uint64_t h = LoadHalf(bytes) | LoadHalf(bytes + kS) << 16 | LoadHalf(bytes + 2 * kS) << 32 |
                     LoadHalf(bytes + 3 * kS) << 48;
  return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(h)));
}

// ---- one group of 4 blocks for an R x C tile; w[r], a[c] point at the group's first block

template <typename K, int R, int C>
[[gnu::always_inline]] static inline void Group(const typename K::Block* const* w,
                                                const typename K::Act* const* a,
                                                __m256 (&acc)[R][C]) {
  using Act = typename K::Act;
  alignas(16) float w_scale[R][kGroup];
  alignas(16) float a_scale[C][kGroup];
  for (int r = 0; r < R; ++r) _mm_store_ps(w_scale[r], GroupHalves<typename K::Block, 0>(w[r]));
  for (int c = 0; c < C; ++c) _mm_store_ps(a_scale[c], GroupHalves<Act, 0>(a[c]));
  if constexpr (K::kMin) {
    // m * s of the 4 blocks into lanes 0-3 (the upper lanes get 0 * 0).
    __m128 w_min[R];
    for (int r = 0; r < R; ++r) w_min[r] = GroupHalves<typename K::Block, 1>(w[r]);
    for (int c = 0; c < C; ++c) {
      const __m256 a_sum = _mm256_zextps128_ps256(GroupHalves<Act, 1>(a[c]));
      for (int r = 0; r < R; ++r) {
        acc[r][c] = _mm256_fmadd_ps(_mm256_zextps128_ps256(w_min[r]), a_sum, acc[r][c]);
      }
    }
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (int b = 0; b < kGroup; ++b) {
    __m256i u[R];
    __m256i magnitude[R];  // |w| for signed kinds
    for (int r = 0; r < R; ++r) {
      u[r] = K::Unpack(w[r] + b);
      if constexpr (K::kSigned) magnitude[r] = _mm256_abs_epi8(u[r]);
    }
    for (int c = 0; c < C; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(QsOf(a[c] + b)));
      __m256i offset_pairs = _mm256_setzero_si256();
      if constexpr (K::kOffset != 0) {
        offset_pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(static_cast<char>(K::kOffset)), q);
      }
      const __m256 da = _mm256_broadcast_ss(&a_scale[c][b]);
      for (int r = 0; r < R; ++r) {
        __m256i pairs;
        if constexpr (K::kSigned) {
          pairs = _mm256_maddubs_epi16(magnitude[r], _mm256_sign_epi8(q, u[r]));
        } else {
          pairs = _mm256_maddubs_epi16(u[r], q);
          if constexpr (K::kOffset != 0) pairs = _mm256_sub_epi16(pairs, offset_pairs);
        }
        const __m256 sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
        acc[r][c] = _mm256_fmadd_ps(_mm256_mul_ps(sums, da), _mm256_broadcast_ss(&w_scale[r][b]),
                                    acc[r][c]);
      }
    }
  }
}

using Acc = __m256;
[[gnu::always_inline]] static inline Acc AccZero() { return _mm256_setzero_ps(); }

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

void RegisterLegacyAvx2(KernelRegistry& registry) {
  Put(registry, DType::kQ4_0, Entry<KindQ4_0>());
  Put(registry, DType::kQ4_1, Entry<KindQ4_1>());
  Put(registry, DType::kQ5_0, Entry<KindQ5_0>());
  Put(registry, DType::kQ5_1, Entry<KindQ5_1>());
  Put(registry, DType::kQ8_0, Entry<KindQ8_0>());
  Put(registry, DType::kIQ4_NL, Entry<KindIQ4_NL>());
}

}  // namespace autarky::kernels
