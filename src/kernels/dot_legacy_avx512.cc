// AVX-512 (F/BW/VL + VNNI) kernels of the legacy weight types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// IQ4_NL against Q8_0 / Q8_1 activations (see ref/dot_legacy.cc for the formats and pairing).
//
// Every type is decoded to unsigned bytes u = w + o (o = 8 for Q4_0, 16 for Q5_0, 128 for Q8_0
// and IQ4_NL, 0 for Q4_1 / Q5_1), so vpdpbusd (u8 x s8) forms the products; a block's exact
// integer sum I = sum(w * a) is sum(u * a) - o * sum(a). Every output, whatever path computes
// it, then takes the same float steps (batch invariance): per block b
//   v_b = float(I_b) * (dw * da)       (dw * da rounded to float first)
//   v_b = v_b + m * s                  (fused; Q4_1 / Q5_1: the min times the activation sum)
// with the F16 scales dw, da, m, s converted to float, and per group of four blocks, in order,
//   acc = acc + ((v_4g + v_4g+1) + (v_4g+2 + v_4g+3))
// where blocks past the end of the row count as +0. (One serial add per four blocks: a serial
// step per 32-element block would bound the one-column path by the add latency.)
//
// Two paths:
//  - one column at a time (vec_dot, decode, small batches): a row is read 4 blocks per pair of
//    registers (lanes 4i .. 4i + 3 hold block i), the block sums are reduced within 128-bit
//    lanes and the float steps run on single lanes. The column's quads, offsets and scales are
//    prepared once for all rows.
//  - prompt processing: panels of 16 rows repacked on the fly (lanes = rows), one vpdpbusd with
//    4 broadcast activation bytes per 16 outputs; see PackedGemmKernels in kernel_table.h.
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

constexpr int kGroup = 4;  // blocks per pair of quad registers

// Horizontal sums and maximum. (GCC 12's _mm512_reduce_* trip -Werror=uninitialized.)
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

// ---- weights as unsigned bytes, four blocks per pair of registers
//
// `lo` holds bytes 0-15 of blocks 0-3 in its four 128-bit lanes, `hi` bytes 16-31 (for nibble
// types the low and high nibbles of the same 16 bytes), and activations are arranged to match,
// so every 32-bit lane of a product belongs to one block.

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

// The 32 quant bytes of 4 blocks split into lo (bytes 0-15 of each) and hi (16-31).
template <typename Block>
[[gnu::always_inline]] static inline void QuadsOf32(const Block* b, __m512i* lo, __m512i* hi) {
  const auto load = [](const uint8_t* q) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  };
  const __m512i z01 =
      _mm512_inserti64x4(_mm512_zextsi256_si512(load(QsOf(b))), load(QsOf(b + 1)), 1);
  const __m512i z23 =
      _mm512_inserti64x4(_mm512_zextsi256_si512(load(QsOf(b + 2))), load(QsOf(b + 3)), 1);
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

// The weight types: Unpack gives the unsigned bytes u = w + kOffset of 4 consecutive blocks.
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

struct KindQ8_0 {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 128;
  static constexpr bool kMin = false;
  [[gnu::always_inline]] static void Unpack(const Block* b, __m512i* lo, __m512i* hi) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));  // w + 128
    QuadsOf32(b, lo, hi);
    *lo = _mm512_xor_si512(*lo, flip);
    *hi = _mm512_xor_si512(*hi, flip);
  }
};

// ---- scales

[[gnu::always_inline]] static inline uint64_t LoadHalf(const void* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

// The F16 at byte `offset` of 4 consecutive blocks, as 4 floats.
template <typename Block, size_t kOffsetBytes>
[[gnu::always_inline]] static inline __m128 GroupHalves(const Block* b) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(b) + kOffsetBytes;
  constexpr size_t kS = sizeof(Block);
  const uint64_t h = LoadHalf(bytes) | LoadHalf(bytes + kS) << 16 | LoadHalf(bytes + 2 * kS) << 32 |
                     LoadHalf(bytes + 3 * kS) << 48;
  return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(h)));
}

// The F16 scale d of 4 consecutive blocks (lanes 0-3) and, for types with a min, their m
// (lanes 4-7), as floats: a word permute of one or two full 64-byte loads that lie within the
// 4 blocks (blocks are >= 18 bytes). (Masked loads reaching past the blocks measured slow when
// the rows stream from DRAM.)
template <typename Block, bool kWithMin>
[[gnu::always_inline]] static inline __m256 BlockScales(const Block* b) {
  constexpr int kS = sizeof(Block);
  constexpr int kBytes = 4 * kS;
  constexpr int kM = kWithMin ? 2 : 0;  // m, when present, follows d
  constexpr int kLast = 3 * kS + static_cast<int>(offsetof(Block, d)) + kM + 2;  // bytes used
  constexpr int kD = static_cast<int>(offsetof(Block, d));
  constexpr bool kTwo = kLast > 64;
  // The second load starts at the first F16 the first one misses, or earlier if it would
  // otherwise reach past the 4 blocks.
  constexpr int kSecond = [] {
    for (int i = 0; i < 4; ++i) {
      for (int f = 0; f <= kM; f += 2) {
        const int o = kD + f + i * kS;
        if (o + 2 > 64) return o < kBytes - 64 ? o : kBytes - 64;
      }
    }
    return 0;
  }();
  static_assert(kS % 2 == 0 && kSecond % 2 == 0 && kSecond + 64 <= kBytes && kLast <= kSecond + 64);
  // Word index of the F16 at byte o: from the first load, or 32 + from the second.
  constexpr auto word = [](int o) { return o + 2 <= 64 ? o / 2 : 32 + (o - kSecond) / 2; };
  // Highest lane first.
  const __m512i idx = _mm512_set_epi16(
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      static_cast<int16_t>(word(kD + kM + 3 * kS)), static_cast<int16_t>(word(kD + kM + 2 * kS)),
      static_cast<int16_t>(word(kD + kM + kS)), static_cast<int16_t>(word(kD + kM)),
      static_cast<int16_t>(word(kD + 3 * kS)), static_cast<int16_t>(word(kD + 2 * kS)),
      static_cast<int16_t>(word(kD + kS)), static_cast<int16_t>(word(kD)));
  const auto* p = reinterpret_cast<const uint8_t*>(b);
  const __m512i v0 = _mm512_loadu_si512(p);
  __m512i words;
  if constexpr (kTwo) {
    words = _mm512_permutex2var_epi16(v0, idx, _mm512_loadu_si512(p + kSecond));
  } else {
    words = _mm512_permutexvar_epi16(idx, v0);
  }
  return _mm256_cvtph_ps(_mm512_castsi512_si128(words));
}

// Lanes 4i .. 4i + 3 of the result = sum of those lanes of v (the sum of block i).
[[gnu::always_inline]] static inline __m512i SumLaneQuads(__m512i v) {
  v = _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_BADC));
  return _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_CDAB));
}

// ---- one column: the column side, prepared once for all rows

template <typename K>
struct ColumnGroup {
  __m512i q_lo, q_hi;  // activation quants of 4 blocks, arranged as the weights
  __m512i init;        // -kOffset * (sum of the block's quants), spread over its 4 lanes
  __m128 da;           // activation scales
  __m128 sa;           // activation sums s (Q8_1)
};

// Prepares 4 consecutive activation blocks at a.
template <typename K>
[[gnu::always_inline]] static inline void PrepareColumnGroup(const typename K::Act* a,
                                                             ColumnGroup<K>& g) {
  using Act = typename K::Act;
  QuadsOf32(a, &g.q_lo, &g.q_hi);
  g.init = _mm512_setzero_si512();
  if constexpr (K::kOffset != 0) {
    // -o * sum(a) per 32-bit lane: the start of each sum(u * a) that makes it sum(w * a).
    const __m512i o = _mm512_set1_epi8(static_cast<char>(K::kOffset));
    const __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(g.init, o, g.q_lo), o, g.q_hi);
    g.init = _mm512_sub_epi32(_mm512_setzero_si512(), sum);
  }
  g.da = GroupHalves<Act, offsetof(Act, d)>(a);
  if constexpr (K::kMin) g.sa = GroupHalves<Act, offsetof(Act, s)>(a);
}

// Copies of the last 1-3 blocks of a row or column, padded with zero blocks (scale 0, quants 0),
// so that they can be read four at a time.
template <typename Block>
struct PaddedGroup {
  Block blocks[kGroup];
  PaddedGroup(const Block* b, int n) {
    std::memset(blocks, 0, sizeof blocks);
    std::memcpy(blocks, b, n * sizeof(Block));
  }
};

// Prepares the nb blocks of one activation column, ceil(nb / 4) groups.
template <typename K>
void PrepareColumn(const uint8_t* a, int64_t nb, ColumnGroup<K>* groups) {
  using Act = typename K::Act;
  const auto* blocks = reinterpret_cast<const Act*>(a);
  int64_t g = 0;
  for (; 4 * g + kGroup <= nb; ++g) PrepareColumnGroup<K>(blocks + 4 * g, groups[g]);
  if (const int rest = static_cast<int>(nb - 4 * g); rest != 0) {
    const PaddedGroup<Act> pad(blocks + 4 * g, rest);
    PrepareColumnGroup<K>(pad.blocks, groups[g]);
  }
}

// The float steps of one group of four blocks (the first N real, the others zero blocks),
// continuing from acc (lane 0).
template <typename K>
[[gnu::always_inline]] static inline __m128 RowGroupSteps(const typename K::Block* w,
                                                          const ColumnGroup<K>& col, __m128 acc) {
  using Block = typename K::Block;
  __m512i lo, hi;
  K::Unpack(w, &lo, &hi);
  const __m512i sums =
      SumLaneQuads(_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(col.init, lo, col.q_lo), hi, col.q_hi));
  // Lane i: block i's exact sum I, as a float.
  const __m128 total = _mm_cvtepi32_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi32(
      _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), sums)));
  const __m256 dm = BlockScales<Block, K::kMin>(w);  // d, m
  __m128 v = _mm_mul_ps(total, _mm_mul_ps(_mm256_castps256_ps128(dm), col.da));
  if constexpr (K::kMin) v = _mm_fmadd_ps(_mm256_extractf128_ps(dm, 1), col.sa, v);
  // (v0 + v1) + (v2 + v3); zero blocks give v = +0.
  const __m128 pairs = _mm_add_ps(v, _mm_movehdup_ps(v));
  return _mm_add_ss(acc, _mm_add_ss(pairs, _mm_movehl_ps(pairs, pairs)));
}

// How far ahead of the group being multiplied RowDot prefetches, into L2 (prefetcht1). These
// kernels spend enough time per byte that the hardware prefetcher alone leaves the row stream
// short of DRAM's rate. Into L2, not L1: lines fetched into L1 ahead of use evict the prepared
// column (16 KiB for a row of 8960), which then comes from L2 for every row; a prefetch into L1
// 4 KiB ahead held a Q8_0 stream of 8960-wide rows to 16 GB/s on one thread, 16 KiB ahead into
// L2 reached 26 GB/s (2 KiB ahead into L2 is too short a lead for DRAM; 12-32 KiB measured
// alike). Decode of the 1.5B models, medians of interleaved runs against prefetching into L1:
// Q8_0 1.23x on one thread and 1.19x on two, Q4_0 1.05x on one and on two.
constexpr long kRowPrefetchBytes = 16384;

// dot(row w, the prepared column) over nb blocks, continuing from acc.
template <typename K>
float RowDot(int64_t nb, const typename K::Block* w, const ColumnGroup<K>* col, float acc) {
  __m128 a = _mm_set_ss(acc);
  int64_t g = 0;
  for (; 4 * g + kGroup <= nb; ++g) {
    // The group some KiB ahead (in this row or the next ones: rows are consecutive).
    // Prefetches never fault, so running past the matrix is harmless.
    constexpr int kGroupBytes = static_cast<int>(sizeof(typename K::Block)) * kGroup;
    const char* ahead = reinterpret_cast<const char*>(w + 4 * g) + kRowPrefetchBytes;
#pragma GCC unroll 4
    for (int line = 0; line < kGroupBytes; line += 64) __builtin_prefetch(ahead + line, 0, 2);
    a = RowGroupSteps<K>(w + 4 * g, col[g], a);
  }
  if (const int rest = static_cast<int>(nb - 4 * g); rest != 0) {
    const PaddedGroup<typename K::Block> pad(w + 4 * g, rest);
    a = RowGroupSteps<K>(pad.blocks, col[g], a);
  }
  return _mm_cvtss_f32(a);
}

// Blocks per column chunk prepared on the stack (56 KiB): longer rows go in chunks, whose
// accumulations carry over through out.
constexpr int64_t kColumnChunkBlocks = 1024;

// out[c * out_stride + r] for nr rows x nc columns, one column at a time: the column is
// prepared once, then the rows stream past it one after the other (sequential reads, which is
// what decode from DRAM needs).
template <typename K>
void Gemm(int64_t k, const void* w, size_t w_stride, int nr, const void* a, size_t a_stride, int nc,
          float* out, size_t out_stride) {
  using Block = typename K::Block;
  const int64_t nb = k / kQK;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  ColumnGroup<K> col[kColumnChunkBlocks / kGroup];
  for (int c = 0; c < nc; ++c) {
    float* o = out + c * out_stride;
    for (int64_t b0 = 0; b0 < nb; b0 += kColumnChunkBlocks) {
      const int64_t len = nb - b0 < kColumnChunkBlocks ? nb - b0 : kColumnChunkBlocks;
      PrepareColumn<K>(ab + c * a_stride + b0 * sizeof(typename K::Act), len, col);
      for (int r = 0; r < nr; ++r) {
        const auto* row = reinterpret_cast<const Block*>(wb + r * w_stride) + b0;
        o[r] = RowDot<K>(len, row, col, b0 > 0 ? o[r] : 0.0f);
      }
    }
  }
}

template <typename K>
float VecDot(int64_t k, const void* w, const void* a) {
  float out;
  Gemm<K>(k, w, 0, 1, a, 0, 1, &out, 0);
  return out;
}

// ---- prompt processing over packed panels

namespace packed {

constexpr int kRows = 16;
constexpr int kMaxColumns = 6;  // 4 registers per column
// A packed block of 16 rows: the quants u as {8 steps}{16 rows}{4 bytes}, then dw {16} and
// m {16} as floats.
constexpr size_t kQuantBytes = 8 * 64;
constexpr size_t kBlockBytes = kQuantBytes + 2 * 64;

// Per activation block of a column (prepare_acts): the offset term and the float scales.
struct ActExtra {
  int32_t init;  // -kOffset * sum(quants)
  float da;
  float sa;  // Q8_1: the activation sum s
  float pad;
};

template <typename K>
void PrepareActs(const void* a, int64_t nb, void* extra) {
  using Act = typename K::Act;
  const auto* blocks = static_cast<const Act*>(a);
  auto* out = static_cast<ActExtra*>(extra);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* qs = QsOf(blocks + b);
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
    // sum(q) by |q| sums of bytes is not signed; widen instead.
    const __m512i wide = _mm512_cvtepi8_epi16(q);
    const __m512i pairs = _mm512_madd_epi16(wide, _mm512_set1_epi16(1));
    int32_t sum;
    {
      __m256i s8 =
          _mm256_add_epi32(_mm512_castsi512_si256(pairs), _mm512_extracti64x4_epi64(pairs, 1));
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
      sum = _mm_cvtsi128_si32(s4);
    }
    ActExtra e;
    e.init = -K::kOffset * sum;
    e.da = Fp16ToFp32(static_cast<uint16_t>(
        LoadHalf(reinterpret_cast<const uint8_t*>(blocks + b) + offsetof(Act, d))));
    e.sa = 0.0f;
    if constexpr (K::kMin) {
      e.sa = Fp16ToFp32(static_cast<uint16_t>(
          LoadHalf(reinterpret_cast<const uint8_t*>(blocks + b) + offsetof(Act, s))));
    }
    e.pad = 0.0f;
    std::memcpy(out + b, &e, sizeof e);
  }
}

#include "kernels/transpose_avx512_inl.h"

// Four blocks of one row decoded for packing: staged in the panel buffer behind the panel.
struct alignas(64) StagedGroup {
  uint8_t q[kGroup * kQK];  // the 4 blocks' bytes u in element order
  float d[kGroup], m[kGroup];
};

// Packs nb blocks of nr (<= 16) rows into the panel; rows past nr are zero. First every row is
// decoded, row after row, four blocks at a time (sequential reads, which the hardware prefetcher
// follows); then two blocks (64 bytes of every row) at a time are transposed into the panel.
template <typename K>
void Pack(const void* w, size_t w_stride, int nr, int64_t nb, void* panel) {
  using Block = typename K::Block;
  const auto* rows = static_cast<const uint8_t*>(w);
  auto* out = static_cast<uint8_t*>(panel);
  const int64_t n_groups = (nb + kGroup - 1) / kGroup;
  auto* stage = reinterpret_cast<StagedGroup*>(out + nb * kBlockBytes);  // {n_groups}{kRows}
  // Bytes 0-15 and 16-31 of each block back in order: lanes {lo i, hi i} for i = 0..3.
  const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
  const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  for (int r = 0; r < kRows; ++r) {
    for (int64_t g = 0; g < n_groups; ++g) {
      StagedGroup& st = stage[g * kRows + r];
      if (r >= nr) {
        std::memset(&st, 0, sizeof st);
        continue;
      }
      const Block* b = reinterpret_cast<const Block*>(rows + r * w_stride) + kGroup * g;
      const int n = nb - kGroup * g < kGroup ? static_cast<int>(nb - kGroup * g) : kGroup;
      __m512i lo, hi;
      __m256 dm;
      if (n == kGroup) {
        K::Unpack(b, &lo, &hi);
        dm = BlockScales<Block, K::kMin>(b);
      } else {
        const PaddedGroup<Block> pad(b, n);
        K::Unpack(pad.blocks, &lo, &hi);
        dm = BlockScales<Block, K::kMin>(pad.blocks);
      }
      _mm512_store_si512(st.q, _mm512_permutex2var_epi64(lo, first, hi));
      _mm512_store_si512(st.q + 64, _mm512_permutex2var_epi64(lo, second, hi));
      _mm_store_ps(st.d, _mm256_castps256_ps128(dm));
      _mm_store_ps(st.m, K::kMin ? _mm256_extractf128_ps(dm, 1) : _mm_setzero_ps());
    }
  }
  for (int64_t b0 = 0; b0 < nb; b0 += 2) {
    const StagedGroup* st = stage + (b0 / kGroup) * kRows;
    const int in_group = static_cast<int>(b0 % kGroup);  // 0 or 2
    __m512i x[16];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) x[r] = _mm512_load_si512(st[r].q + kQK * in_group);
    Transpose16x16(x);
    // x[j]: bytes 4j .. 4j + 3 of the two blocks' 64 bytes of every row.
    for (int h = 0; h < 2 && b0 + h < nb; ++h) {
      uint8_t* pb = out + (b0 + h) * kBlockBytes;
#pragma GCC unroll 8
      for (int s = 0; s < 8; ++s) _mm512_store_si512(pb + 64 * s, x[8 * h + s]);
      alignas(64) float d[kRows], m[kRows];
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) {
        d[r] = st[r].d[in_group + h];
        m[r] = st[r].m[in_group + h];
      }
      _mm512_store_ps(pb + kQuantBytes, _mm512_load_ps(d));
      _mm512_store_ps(pb + kQuantBytes + 64, _mm512_load_ps(m));
    }
  }
}

struct FourBytes {
  uint8_t b[4];  // alignment 1: activation rows may sit at any address
};
// acc + the u8 x s8 products of w with the 4 activation bytes at p broadcast to every lane (a
// {1to16} memory operand: GCC 12 would issue a separate vpbroadcastd for _mm512_set1_epi32).
[[gnu::always_inline]] static inline __m512i DotBytesBroadcast(__m512i acc, __m512i w,
                                                               const uint8_t* p) {
  __asm__("vpdpbusd %[y]%{1to16%}, %[w], %[acc]"
          : [acc] "+v"(acc)
          : [w] "v"(w), [y] "m"(*reinterpret_cast<const FourBytes*>(p)));
  return acc;
}

// v (one lane per panel row) of block b for C columns; see the file comment.
template <typename K, int C>
[[gnu::always_inline]] static inline void BlockValues(const uint8_t* pb, const uint8_t* a,
                                                      size_t a_stride, const uint8_t* extra,
                                                      size_t extra_stride, int64_t b,
                                                      __m512 (&v)[C]) {
  using Act = typename K::Act;
  __m512i s[C];
  ActExtra e[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    std::memcpy(&e[c], extra + c * extra_stride + b * sizeof(ActExtra), sizeof(ActExtra));
    s[c] = _mm512_set1_epi32(e[c].init);
  }
#pragma GCC unroll 8
  for (int step = 0; step < 8; ++step) {
    const __m512i wq = _mm512_load_si512(pb + 64 * step);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      s[c] = DotBytesBroadcast(s[c], wq,
                               a + c * a_stride + b * sizeof(Act) + offsetof(Act, qs) + 4 * step);
    }
  }
  const __m512 dw = _mm512_load_ps(pb + kQuantBytes);
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    v[c] = _mm512_mul_ps(_mm512_cvtepi32_ps(s[c]), _mm512_mul_ps(dw, _mm512_set1_ps(e[c].da)));
    if constexpr (K::kMin) {
      v[c] = _mm512_fmadd_ps(_mm512_load_ps(pb + kQuantBytes + 64), _mm512_set1_ps(e[c].sa), v[c]);
    }
  }
}

template <typename K, int C>
void PanelTile(int64_t nb, const uint8_t* panel, const uint8_t* a, size_t a_stride,
               const uint8_t* extra, size_t extra_stride, float* out, size_t out_stride, int nr,
               bool carry) {
  const __mmask16 rows = static_cast<__mmask16>((1u << nr) - 1);
  __m512 acc[C], first[C], pair[C], v[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    acc[c] = carry ? _mm512_maskz_loadu_ps(rows, out + c * out_stride) : _mm512_setzero_ps();
  }
  // Groups of four blocks: acc += (v0 + v1) + (v2 + v3), blocks past nb counting as +0.
  for (int64_t g = 0; g < nb; g += 4) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      if (g + j < nb) {
        BlockValues<K, C>(panel + (g + j) * kBlockBytes, a, a_stride, extra, extra_stride, g + j,
                          v);
      } else {
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) v[c] = _mm512_setzero_ps();
      }
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        if (j == 0 || j == 2) first[c] = v[c];
        if (j == 1) pair[c] = _mm512_add_ps(first[c], v[c]);
        if (j == 3) {
          acc[c] = _mm512_add_ps(acc[c], _mm512_add_ps(pair[c], _mm512_add_ps(first[c], v[c])));
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) _mm512_mask_storeu_ps(out + c * out_stride, rows, acc[c]);
}

template <typename K, int C>
[[gnu::always_inline]] static inline void PanelColumnsLeft(int nc, int64_t nb, const uint8_t* panel,
                                                           const uint8_t* a, size_t a_stride,
                                                           const uint8_t* extra,
                                                           size_t extra_stride, float* out,
                                                           size_t out_stride, int nr, bool carry) {
  if constexpr (C > 0) {
    if (nc == C) {
      PanelTile<K, C>(nb, panel, a, a_stride, extra, extra_stride, out, out_stride, nr, carry);
    } else {
      PanelColumnsLeft<K, C - 1>(nc, nb, panel, a, a_stride, extra, extra_stride, out, out_stride,
                                 nr, carry);
    }
  }
}

template <typename K>
void PanelGemm(int64_t nb, const void* panel, const void* a, size_t a_stride, const void* extra,
               size_t extra_stride, int nc, float* out, size_t out_stride, int nr, bool carry) {
  const auto* p = static_cast<const uint8_t*>(panel);
  const auto* ab = static_cast<const uint8_t*>(a);
  const auto* eb = static_cast<const uint8_t*>(extra);
  // Column tiles as even as possible (128 -> 18 x 6 + 4 x 5, not 21 x 6 + 2).
  const int tiles = (nc + kMaxColumns - 1) / kMaxColumns;
  int c = 0;
  for (int t = 0; t < tiles; ++t) {
    const int width = (nc - c + (tiles - t) - 1) / (tiles - t);
    PanelColumnsLeft<K, kMaxColumns>(width, nb, p, ab + c * a_stride, a_stride,
                                     eb + c * extra_stride, extra_stride, out + c * out_stride,
                                     out_stride, nr, carry);
    c += width;
  }
}

// The panel and, behind it, the staging area of Pack.
size_t PanelBytes(int64_t nb) {
  return static_cast<size_t>(nb) * kBlockBytes +
         static_cast<size_t>((nb + kGroup - 1) / kGroup) * kRows * sizeof(StagedGroup);
}

template <typename K>
constexpr PackedGemmKernels Entry() {
  return PackedGemmKernels{
      kRows, kQK, kGroup, PanelBytes, Pack<K>, sizeof(ActExtra), PrepareActs<K>, PanelGemm<K>};
}

}  // namespace packed

constexpr PackedGemmKernels kPackedQ4_0 = packed::Entry<KindQ4_0>();
constexpr PackedGemmKernels kPackedQ4_1 = packed::Entry<KindQ4_1>();
constexpr PackedGemmKernels kPackedQ5_0 = packed::Entry<KindQ5_0>();
constexpr PackedGemmKernels kPackedQ5_1 = packed::Entry<KindQ5_1>();
constexpr PackedGemmKernels kPackedQ8_0 = packed::Entry<KindQ8_0>();
constexpr PackedGemmKernels kPackedIQ4_NL = packed::Entry<KindIQ4_NL>();

template <typename K>
WeightKernels Entry(const PackedGemmKernels* packed) {
  constexpr bool kQ8_1 = sizeof(typename K::Act) == sizeof(BlockQ8_1);
  return WeightKernels{kQ8_1 ? DType::kQ8_1 : DType::kQ8_0,
                       kQ8_1 ? QuantizeActQ8_1 : QuantizeActQ8_0, VecDot<K>, Gemm<K>, packed};
}

}  // namespace

void RegisterLegacyAvx512(KernelRegistry& registry) {
  Put(registry, DType::kQ4_0, Entry<KindQ4_0>(&kPackedQ4_0));
  Put(registry, DType::kQ4_1, Entry<KindQ4_1>(&kPackedQ4_1));
  Put(registry, DType::kQ5_0, Entry<KindQ5_0>(&kPackedQ5_0));
  Put(registry, DType::kQ5_1, Entry<KindQ5_1>(&kPackedQ5_1));
  Put(registry, DType::kQ8_0, Entry<KindQ8_0>(&kPackedQ8_0));
  Put(registry, DType::kIQ4_NL, Entry<KindIQ4_NL>(&kPackedIQ4_NL));
}

}  // namespace autarky::kernels
