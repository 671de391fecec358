// K-quant x Q8_K kernels for x86, shared by dot_kquants_avx2.cc and dot_kquants_avx512.cc: each
// includes this file once, after defining AUTARKY_KQ_VNNI to 0 (AVX2: vpmaddubsw + vpmaddwd) or 1
// (AVX-512 VNNI at 256-bit width: vpdpbusd + vpdpwssd). Everything here has internal linkage.
//
// 256-bit vectors on purpose, also with AVX-512: a 32-byte register holds one 32-element chunk
// of a super-block, so the nibble and bit-plane unpacking needs only in-lane shifts and masks,
// and the per-block float work is on 8 lanes. On Zen 4 this measured about 20% faster than the
// same scheme on 512-bit registers, where the unpacking needs cross-lane shuffles.
//
// Each weight type describes a super-block as four pairs of chunks (chunk i = elements 32i ..
// 32i + 31) of unsigned quants, produced on demand, plus a "scale source" register from which
// the scale vectors are one byte shuffle away, and 16 int16 multipliers of the Q8_K bsums that
// apply the mins or the offset that made the quants unsigned. With I the scaled quant sum and
// M = sum(corr * bsums), both exact int32 sums of the whole block, every output (vec_dot, and
// gemm whatever the tile, the column count or the output's place in it) takes the same float
// steps, block after block (batch invariance: a token's result never depends on its batch):
//   t = float(I) * d;  t = t - float(M) * dmin (fused, types with mins);  acc = acc + t * y.d
// (fused), where offset types have folded M into I (I + M) and d, dmin are the block's F16
// scales. The gemm tile multiplies one weight row with C activation columns: every chunk pair
// is unpacked once for all C columns, and the block sums of the C columns are reduced across
// lanes together. One column (vec_dot, decode) takes the rows one after the other, so that the
// weights stream sequentially from DRAM, and reduces the sums of four blocks together.
// Unsigned quants (all types but IQ4_XS) are multiplied as u8 x s8, and the offset or min
// comes back exactly through the bsums; IQ4_XS multiplies |q| by the activation with q's sign.
#pragma once

#if !defined(AUTARKY_KQ_VNNI)
#error "define AUTARKY_KQ_VNNI to 0 or 1 before including dot_kquants_x86_inl.h"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"
#include "kernels/kquant_scales.h"
#include "kernels/ref/act_quant_k.h"
#include "tensor/quant_blocks.h"
#include "util/check.h"

namespace autarky::kernels {
namespace {

constexpr int kMaxColumns = 8;  // activation columns sharing one unpacked weight block

static inline __m256i Load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
static inline __m128i Load128(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}
// One F16 value -> {p[0], 0, 0, 0}; two adjacent ones -> {p[0], p[1], 0, 0}.
static inline __m128 HalfToFloat(const uint8_t* p) {
  return _mm_cvtph_ps(_mm_cvtsi32_si128(LoadU16(p)));
}
static inline __m128 HalfPairToFloat(const uint8_t* p) {
  int32_t bits;
  __builtin_memcpy(&bits, p, sizeof bits);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(bits));
}

// a | (b & mask). (vpternlogd measured no faster on Zen 4 than the and + or.)
static inline __m256i OrMasked(__m256i a, __m256i b, __m256i mask) {
  return _mm256_or_si256(a, _mm256_and_si256(b, mask));
}

// Bit `from` of each byte moved to bit `to` (the other bits are garbage); 16-bit shifts keep
// the bit inside its byte for shifts of at most 7.
static inline __m256i MoveBit(__m256i v, int from, int to) {
  if (from < to) return _mm256_slli_epi16(v, to - from);
  if (from > to) return _mm256_srli_epi16(v, from - to);
  return v;
}

// --- Scale vectors ---
//
// Scales are per 16-element group g (0..15); with 32-element sub-blocks group g uses scale
// g / 2. The products come in two shapes:
//  - packed pairs (VNNI): vpdpbusd gives 8 lanes of 4-element sums per chunk (|sum| < 2^15), the
//    two chunks c1, c2 of a pair are packed to int16 together and one vpdpwssd applies the
//    scales. In 128-bit half h of the pack, int16 positions 0-3 come from group 2 * c1 + h and
//    positions 4-7 from group 2 * c2 + h.
//  - element pairs (AVX2, and IQ4_XS everywhere): vpmaddubsw gives 16 int16 sums of element
//    pairs per chunk c; half h holds group 2 * c + h.
// The scale source is one of
//  - bytes (unsigned scales): the 16 scale bytes (8 for 32-element sub-blocks) in both halves;
//    the shuffle picks the byte of a group and zero-extends it (control byte 0x80 zeroes);
//  - words (signed scales): int16 lane m of half h holds the scale of group 2m + h.

// Shuffle control word: byte `byte` zero-extended to int16.
static inline int16_t ZeroExtend(int byte) { return static_cast<int16_t>(0x8000 | byte); }
// Shuffle control word: int16 lane m of the source.
static inline int16_t Word(int m) { return static_cast<int16_t>((2 * m) | ((2 * m + 1) << 8)); }

// int16 lanes 0-3, 4-7 of the low half <- words a0, b0; of the high half a1, b1.
static inline __m256i Control(int16_t a0, int16_t b0, int16_t a1, int16_t b1) {
  return _mm256_setr_epi16(a0, a0, a0, a0, b0, b0, b0, b0, a1, a1, a1, a1, b1, b1, b1, b1);
}

template <bool kGroup32>
static inline __m256i BytePairScales(__m256i source, int c1, int c2) {
  const int s = kGroup32 ? 1 : 0;
  return _mm256_shuffle_epi8(source,
                             Control(ZeroExtend((2 * c1) >> s), ZeroExtend((2 * c2) >> s),
                                     ZeroExtend((2 * c1 + 1) >> s), ZeroExtend((2 * c2 + 1) >> s)));
}
template <bool kGroup32>
static inline __m256i ByteChunkScales(__m256i source, int c) {
  const int s = kGroup32 ? 1 : 0;
  const int16_t low = ZeroExtend((2 * c) >> s), high = ZeroExtend((2 * c + 1) >> s);
  return _mm256_shuffle_epi8(source, Control(low, low, high, high));
}
static inline __m256i WordPairScales(__m256i source, int c1, int c2) {
  return _mm256_shuffle_epi8(source, Control(Word(c1), Word(c2), Word(c1), Word(c2)));
}
static inline __m256i WordChunkScales(__m256i source, int c) {
  return _mm256_shuffle_epi8(source, _mm256_set1_epi16(Word(c)));
}

// 16 signed scale bytes in group order -> word source.
static inline __m256i SignedWordSource(__m128i bytes) {
  const __m128i even_odd =
      _mm_shuffle_epi8(bytes, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
  return _mm256_cvtepi8_epi16(even_odd);
}

// --- Weight types ---
//
// Each type provides:
//   Block; kMins (d * I - dmin * M), kCorr (uses the bsums), kSigned (signed quants, IQ4_XS);
//   kPrefetchAhead, kPrefetchLocality: how far ahead (bytes, 0: not at all) the one-column
//   kernel prefetches the rows, and into which cache level (see PrefetchGroupAhead);
//   kPair[t]: the two chunks of pair t;
//   State + Prepare(block, State&): per-block data kept while the pairs are processed;
//   Pair(block, state, t, lo, hi): the quants of the chunks of pair t;
//   PairScales(state, t), ChunkScales(state, c): scale vectors for the two product shapes;
//   Corr(block, state): the 16 int16 bsums multipliers (kCorr);
//   Scales(block): {d, dmin (kMins) or 0}.

// Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; per 64 elements, 32 qs bytes
// hold elements 0-31 in their low nibbles and 32-63 in their high nibbles.
struct Q4KBase {
  static constexpr bool kMins = true, kCorr = true, kSigned = false;
  static constexpr int kPrefetchAhead = 4096, kPrefetchLocality = 3;
  static constexpr int kPair[4][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}};
  struct State {
    __m256i source;  // bytes 0-7: scales, 8-15: mins
  };
  static void PrepareScales(const uint8_t* scales, State& st) {
    st.source = _mm256_broadcastsi128_si256(UnpackQ4KScaleMinsX86(scales));
  }
  static void Nibbles(const uint8_t* qs, int t, __m256i& lo, __m256i& hi) {
    const __m256i raw = Load256(qs + 32 * t);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    lo = _mm256_and_si256(raw, low4);
    hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
  }
  static __m256i PairScales(const State& st, int t) {
    return BytePairScales<true>(st.source, 2 * t, 2 * t + 1);
  }
  static __m256i ChunkScales(const State& st, int c) { return ByteChunkScales<true>(st.source, c); }
  static __m256i Corr(const uint8_t*, const State& st) {
    // Group g (bsums[g]) takes min[g / 2], byte 8 + g / 2.
    const int16_t m0 = ZeroExtend(8), m1 = ZeroExtend(9), m2 = ZeroExtend(10), m3 = ZeroExtend(11);
    const int16_t m4 = ZeroExtend(12), m5 = ZeroExtend(13), m6 = ZeroExtend(14),
                  m7 = ZeroExtend(15);
    return _mm256_shuffle_epi8(st.source, _mm256_setr_epi16(m0, m0, m1, m1, m2, m2, m3, m3, m4, m4,
                                                            m5, m5, m6, m6, m7, m7));
  }
};

struct Q4K : Q4KBase {
  using Block = BlockQ4_K;
  static void Prepare(const uint8_t* b, State& st) {
    PrepareScales(b + offsetof(BlockQ4_K, scales), st);
  }
  static void Pair(const uint8_t* b, const State&, int t, __m256i& lo, __m256i& hi) {
    Nibbles(b + offsetof(BlockQ4_K, qs), t, lo, hi);
  }
  static __m128 Scales(const uint8_t* b) {
    static_assert(offsetof(BlockQ4_K, dmin) == offsetof(BlockQ4_K, d) + 2);
    return HalfPairToFloat(b + offsetof(BlockQ4_K, d));
  }
};

struct Q5K : Q4KBase {
  using Block = BlockQ5_K;
  static void Prepare(const uint8_t* b, State& st) {
    PrepareScales(b + offsetof(BlockQ5_K, scales), st);
  }
  static void Pair(const uint8_t* b, const State&, int t, __m256i& lo, __m256i& hi) {
    Nibbles(b + offsetof(BlockQ5_K, qs), t, lo, hi);
    // The fifth bit of chunk i is bit i of qh[e % 32].
    const __m256i qh = Load256(b + offsetof(BlockQ5_K, qh));
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    lo = OrMasked(lo, MoveBit(qh, 2 * t, 4), bit4);
    hi = OrMasked(hi, MoveBit(qh, 2 * t + 1, 4), bit4);
  }
  static __m128 Scales(const uint8_t* b) {
    static_assert(offsetof(BlockQ5_K, dmin) == offsetof(BlockQ5_K, d) + 2);
    return HalfPairToFloat(b + offsetof(BlockQ5_K, d));
  }
};

// Q6_K: per 128 elements, 64 ql bytes (row a: elements 0-31 low nibbles, 64-95 high; row b:
// 32-63 low, 96-127 high) and 32 qh bytes with the top bit pairs of elements l, l+32, l+64,
// l+96. A pair is one ql row: chunks 4h + s (low nibbles) and 4h + 2 + s (high), s = 0 or 1.
struct Q6K {
  using Block = BlockQ6_K;
  static constexpr bool kMins = false, kCorr = true, kSigned = false;
  static constexpr int kPrefetchAhead = 0, kPrefetchLocality = 0;
  static constexpr int kPair[4][2] = {{0, 2}, {1, 3}, {4, 6}, {5, 7}};
  struct State {
    __m256i source;  // words
  };
  static void Prepare(const uint8_t* b, State& st) {
    st.source = SignedWordSource(Load128(b + offsetof(BlockQ6_K, scales)));
  }
  static void Pair(const uint8_t* b, const State&, int t, __m256i& lo, __m256i& hi) {
    const int half = t / 2, s = t % 2;
    const __m256i ql = Load256(b + offsetof(BlockQ6_K, ql) + 64 * half + 32 * s);
    const __m256i qh = Load256(b + offsetof(BlockQ6_K, qh) + 32 * half);
    const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
    // Top bits: pair 2s (bits 2s, 2s+1) for the low chunk, pair 2s + 2 for the high one.
    lo = OrMasked(_mm256_and_si256(ql, low4), MoveBit(qh, 2 * s, 4), bits45);
    hi = OrMasked(_mm256_and_si256(_mm256_srli_epi16(ql, 4), low4), MoveBit(qh, 2 * s + 4, 4),
                  bits45);
  }
  static __m256i PairScales(const State& st, int t) {
    return WordPairScales(st.source, kPair[t][0], kPair[t][1]);
  }
  static __m256i ChunkScales(const State& st, int c) { return WordChunkScales(st.source, c); }
  static __m256i Corr(const uint8_t* b, const State&) {
    // Quants are stored with a bias of 32: subtract 32 * scale * bsum.
    const __m256i scales = _mm256_cvtepi8_epi16(Load128(b + offsetof(BlockQ6_K, scales)));
    return _mm256_mullo_epi16(scales, _mm256_set1_epi16(-32));
  }
  static __m128 Scales(const uint8_t* b) { return HalfToFloat(b + offsetof(BlockQ6_K, d)); }
};

// Q2_K and Q3_K: chunk i takes bit pair i % 4 of the 32 qs bytes of half i / 4.
static inline __m256i TwoBits(const uint8_t* qs, int i) {
  return _mm256_and_si256(_mm256_srli_epi16(Load256(qs + 32 * (i / 4)), 2 * (i % 4)),
                          _mm256_set1_epi8(0x03));
}

struct Q3K {
  using Block = BlockQ3_K;
  static constexpr bool kMins = false, kCorr = true, kSigned = false;
  static constexpr int kPrefetchAhead = 0, kPrefetchLocality = 0;
  static constexpr int kPair[4][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}};
  struct State {
    __m256i source;  // words
    __m256i corr;
  };
  static void Prepare(const uint8_t* b, State& st) {
    const __m128i scales =
        _mm_sub_epi8(UnpackQ3KScalesX86(b + offsetof(BlockQ3_K, scales) - 4), _mm_set1_epi8(32));
    st.source = SignedWordSource(scales);
    // Quant = q2 + 4 * hbit - 4: the unsigned part in Pair, the -4 through the bsums.
    st.corr = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(scales), _mm256_set1_epi16(-4));
  }
  static void Pair(const uint8_t* b, const State&, int t, __m256i& lo, __m256i& hi) {
    const uint8_t* qs = b + offsetof(BlockQ3_K, qs);
    // The high bit of chunk i is bit i of hmask[e % 32].
    const __m256i hmask = Load256(b + offsetof(BlockQ3_K, hmask));
    const __m256i bit2 = _mm256_set1_epi8(0x04);
    lo = OrMasked(TwoBits(qs, 2 * t), MoveBit(hmask, 2 * t, 2), bit2);
    hi = OrMasked(TwoBits(qs, 2 * t + 1), MoveBit(hmask, 2 * t + 1, 2), bit2);
  }
  static __m256i PairScales(const State& st, int t) {
    return WordPairScales(st.source, 2 * t, 2 * t + 1);
  }
  static __m256i ChunkScales(const State& st, int c) { return WordChunkScales(st.source, c); }
  static __m256i Corr(const uint8_t*, const State& st) { return st.corr; }
  static __m128 Scales(const uint8_t* b) { return HalfToFloat(b + offsetof(BlockQ3_K, d)); }
};

struct Q2K {
  using Block = BlockQ2_K;
  static constexpr bool kMins = true, kCorr = true, kSigned = false;
  static constexpr int kPrefetchAhead = 0, kPrefetchLocality = 0;
  static constexpr int kPair[4][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}};
  struct State {
    __m256i source;  // bytes: the 4-bit scales
  };
  static void Prepare(const uint8_t* b, State& st) {
    const __m128i packed = Load128(b + offsetof(BlockQ2_K, scales));
    st.source = _mm256_broadcastsi128_si256(_mm_and_si128(packed, _mm_set1_epi8(0x0f)));
  }
  static void Pair(const uint8_t* b, const State&, int t, __m256i& lo, __m256i& hi) {
    lo = TwoBits(b + offsetof(BlockQ2_K, qs), 2 * t);
    hi = TwoBits(b + offsetof(BlockQ2_K, qs), 2 * t + 1);
  }
  static __m256i PairScales(const State& st, int t) {
    return BytePairScales<false>(st.source, 2 * t, 2 * t + 1);
  }
  static __m256i ChunkScales(const State& st, int c) {
    return ByteChunkScales<false>(st.source, c);
  }
  static __m256i Corr(const uint8_t* b, const State&) {
    const __m128i packed = Load128(b + offsetof(BlockQ2_K, scales));
    return _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f)));
  }
  static __m128 Scales(const uint8_t* b) {
    static_assert(offsetof(BlockQ2_K, dmin) == offsetof(BlockQ2_K, d) + 2);
    return HalfPairToFloat(b + offsetof(BlockQ2_K, d));
  }
};

// IQ4_XS: signed grid values; sub-block i (chunk i) is 16 bytes, elements 0-15 in the low
// nibbles, 16-31 in the high ones.
struct IQ4XS {
  using Block = BlockIQ4_XS;
  static constexpr bool kMins = false, kCorr = false, kSigned = true;
  static constexpr int kPrefetchAhead = 0, kPrefetchLocality = 0;
  static constexpr int kPair[4][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}};
  struct State {
    __m256i source;  // words: the 8 sub-block scales in both halves
  };
  static void Prepare(const uint8_t* b, State& st) {
    // 6-bit scale of sub-block j: nibble j of scales_l, bit pair j of scales_h; bias 32.
    uint32_t low_bits;
    __builtin_memcpy(&low_bits, b + offsetof(BlockIQ4_XS, scales_l), sizeof low_bits);
    const uint32_t high_bits = LoadU16(b + offsetof(BlockIQ4_XS, scales_h));
    const __m256i low =
        _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int32_t>(low_bits)),
                                           _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                         _mm256_set1_epi32(0x0f));
    const __m256i high =
        _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int32_t>(high_bits)),
                                           _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                         _mm256_set1_epi32(3));
    const __m256i scales32 = _mm256_sub_epi32(_mm256_or_si256(low, _mm256_slli_epi32(high, 4)),
                                              _mm256_set1_epi32(32));  // {8} int32
    const __m128i scales16 =
        _mm_packs_epi32(_mm256_castsi256_si128(scales32), _mm256_extracti128_si256(scales32, 1));
    st.source = _mm256_broadcastsi128_si256(scales16);
  }
  static __m256i Chunk(const uint8_t* b, int i) {
    // Element by element: taking the address of kIq4nlValues would emit a shared (weak) copy.
    const __m256i grid = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(kIq4nlValues[0], kIq4nlValues[1], kIq4nlValues[2], kIq4nlValues[3],
                      kIq4nlValues[4], kIq4nlValues[5], kIq4nlValues[6], kIq4nlValues[7],
                      kIq4nlValues[8], kIq4nlValues[9], kIq4nlValues[10], kIq4nlValues[11],
                      kIq4nlValues[12], kIq4nlValues[13], kIq4nlValues[14], kIq4nlValues[15]));
    const __m256i raw =
        _mm256_broadcastsi128_si256(Load128(b + offsetof(BlockIQ4_XS, qs) + 16 * i));
    const __m256i index = _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)),
                                           _mm256_set1_epi8(0x0f));
    return _mm256_shuffle_epi8(grid, index);
  }
  static void Pair(const uint8_t* b, const State&, int t, __m256i& lo, __m256i& hi) {
    lo = Chunk(b, 2 * t);
    hi = Chunk(b, 2 * t + 1);
  }
  static __m256i ChunkScales(const State& st, int c) { return WordChunkScales(st.source, c); }
  static __m256i PairScales(const State& st, int t) {
    return WordPairScales(st.source, 2 * t, 2 * t + 1);
  }
  static __m256i Corr(const uint8_t*, const State&) { return _mm256_setzero_si256(); }
  static __m128 Scales(const uint8_t* b) { return HalfToFloat(b + offsetof(BlockIQ4_XS, d)); }
};

// --- Kernels ---

// Adds the scaled quant sums of one block of R rows against C columns to sums[r][c] (8 int32
// lanes each). b[r]: the block of row r; y: the activation block of column 0.
template <class T, int R, int C>
[[gnu::always_inline]] static inline void BlockSums(const uint8_t* const b[R],
                                                    const typename T::State st[R], const uint8_t* y,
                                                    size_t a_stride, __m256i sums[R][C]) {
  const uint8_t* yq = y + offsetof(BlockQ8_K, qs);
#pragma GCC unroll 4
  for (int t = 0; t < 4; ++t) {
    const int c1 = T::kPair[t][0], c2 = T::kPair[t][1];
    __m256i lo[R], hi[R], s1[R], s2[R], sign1[R], sign2[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      T::Pair(b[r], st[r], t, lo[r], hi[r]);
      if constexpr (AUTARKY_KQ_VNNI && !T::kSigned) {
        s1[r] = T::PairScales(st[r], t);
      } else {
        s1[r] = T::ChunkScales(st[r], c1);
        s2[r] = T::ChunkScales(st[r], c2);
      }
      if constexpr (T::kSigned) {
        // |q| times the activation with q's sign: vpmaddubsw wants an unsigned first operand.
        sign1[r] = lo[r];
        sign2[r] = hi[r];
        lo[r] = _mm256_abs_epi8(lo[r]);
        hi[r] = _mm256_abs_epi8(hi[r]);
      }
    }
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m256i y1 = Load256(yq + c * a_stride + 32 * c1);
      const __m256i y2 = Load256(yq + c * a_stride + 32 * c2);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        if constexpr (AUTARKY_KQ_VNNI && !T::kSigned) {
#if AUTARKY_KQ_VNNI
          const __m256i p1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), lo[r], y1);
          const __m256i p2 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), hi[r], y2);
          // |p1|, |p2| <= 4 * 63 * 128 < 2^15: packing to int16 is exact.
          sums[r][c] = _mm256_dpwssd_epi32(sums[r][c], _mm256_packs_epi32(p1, p2), s1[r]);
#endif
        } else {
          __m256i z1 = y1, z2 = y2;
          if constexpr (T::kSigned) {
            z1 = _mm256_sign_epi8(y1, sign1[r]);
            z2 = _mm256_sign_epi8(y2, sign2[r]);
          }
          // Pair sums stay below 2^15: at most 2 * 63 * 128 (unsigned types) or 2 * 127 * 127
          // (magnitudes times activations in [-127, 127]), so vpmaddubsw never saturates.
          const __m256i p1 = _mm256_maddubs_epi16(lo[r], z1);
          const __m256i p2 = _mm256_maddubs_epi16(hi[r], z2);
#if AUTARKY_KQ_VNNI
          sums[r][c] = _mm256_dpwssd_epi32(_mm256_dpwssd_epi32(sums[r][c], p1, s1[r]), p2, s2[r]);
#else
          sums[r][c] = _mm256_add_epi32(sums[r][c], _mm256_add_epi32(_mm256_madd_epi16(p1, s1[r]),
                                                                     _mm256_madd_epi16(p2, s2[r])));
#endif
        }
      }
    }
  }
}

// Lane sums of several vectors, by blends and adds with one in-lane shuffle per step: the
// kernels keep the shuffle ports busy with unpacking, and vphaddd (two shuffles per add)
// measured markedly slower on Zen 4. Per 128-bit half: lanes {0, 1, 2, 3} <- the sums of
// v0, v1, v2, v3 over that half.
[[gnu::always_inline]] static inline __m256i SumQuad(__m256i v0, __m256i v1, __m256i v2,
                                                     __m256i v3) {
  // Lane 2i: v0[2i] + v0[2i + 1]; lane 2i + 1: v1[2i] + v1[2i + 1] (and v2, v3 likewise).
  const __m256i a = _mm256_add_epi32(_mm256_blend_epi32(v0, v1, 0xaa),
                                     _mm256_shuffle_epi32(_mm256_blend_epi32(v1, v0, 0xaa), 0xb1));
  const __m256i c = _mm256_add_epi32(_mm256_blend_epi32(v2, v3, 0xaa),
                                     _mm256_shuffle_epi32(_mm256_blend_epi32(v3, v2, 0xaa), 0xb1));
  return _mm256_add_epi32(_mm256_blend_epi32(a, c, 0xcc),
                          _mm256_shuffle_epi32(_mm256_blend_epi32(c, a, 0xcc), 0x4e));
}

// {8 vectors}{8 int32} -> {8 int32}: lane c = sum of the lanes of v[c].
[[gnu::always_inline]] static inline __m256i SumEachOf8(const __m256i v[8]) {
  const __m256i lo = SumQuad(v[0], v[1], v[2], v[3]), hi = SumQuad(v[4], v[5], v[6], v[7]);
  return _mm256_add_epi32(_mm256_blend_epi32(lo, hi, 0xf0),
                          _mm256_permute2x128_si256(lo, hi, 0x21));
}

// {4 vectors}{8 int32} -> {4 int32}: lane i = sum of the lanes of v[i].
[[gnu::always_inline]] static inline __m128i SumEachOf4(const __m256i v[4]) {
  const __m256i q = SumQuad(v[0], v[1], v[2], v[3]);
  return _mm_add_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
}

// The float step of one block, the same for every output of every kernel of this family (see
// the file comment): t = I * d; t -= M * dmin (fused; types with mins); acc += t * yd (fused).
// Lanes are independent outputs, whatever they stand for (rows or columns).
template <class T>
[[gnu::always_inline]] static inline __m256 BlockStep(__m256 acc, __m256 total, __m256 total_min,
                                                      __m256 d, __m256 dmin, __m256 yd) {
  __m256 t = _mm256_mul_ps(total, d);
  if constexpr (T::kMins) t = _mm256_fnmadd_ps(total_min, dmin, t);
  return _mm256_fmadd_ps(t, yd, acc);
}

// The integer sums of one block for R rows x C columns, each as 8 int32 lanes whose total is
// exact: sums[r][c] -> I (with the bsums term folded in for types without mins), mins[r][c] -> M
// (types with mins; untouched otherwise). b[r]: the block of row r; y: the activation block of
// column 0.
template <class T, int R, int C>
[[gnu::always_inline]] static inline void BlockIntSums(const uint8_t* const b[R], const uint8_t* y,
                                                       size_t a_stride, __m256i sums[R][C],
                                                       __m256i mins[R][C]) {
  typename T::State st[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    T::Prepare(b[r], st[r]);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) sums[r][c] = _mm256_setzero_si256();
  }
  BlockSums<T, R, C>(b, st, y, a_stride, sums);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    if constexpr (T::kCorr) {
      const __m256i corr = T::Corr(b[r], st[r]);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m256i bsums = Load256(y + c * a_stride + offsetof(BlockQ8_K, bsums));
        const __m256i m = _mm256_madd_epi16(bsums, corr);
        if constexpr (T::kMins) {
          mins[r][c] = m;
        } else {
          sums[r][c] = _mm256_add_epi32(sums[r][c], m);
        }
      }
    }
  }
}

// The one-column product (vec_dot and decode). Its float steps need each block's integer sums
// reduced across lanes; one reduction serves four consecutive blocks of a row.

// Up to four consecutive blocks of one row and one column.
struct RowGroup {
  __m256i v[8];      // v[i]: I of block i (8 lanes); v[4 + i]: its M
  __m128 scales[4];  // {d, dmin, 0, 0} of block i
  __m128 yd[4];      // {activation scale of block i, ...}
};

// The integer sums and scales of N (1 to 4) consecutive blocks; the others are zero. Block i
// is the row's block j + i, against activation block j + i; in a run of rows that lie back to
// back (RowsDot), a group may run into the next row: block nb of a row is block 0 of the next,
// so the activation wraps there (nb >= 4: at most once).
template <class T, int N>
[[gnu::always_inline]] static inline void LoadRowGroup(const uint8_t* w, const uint8_t* a,
                                                       RowGroup& g, int64_t j = 0,
                                                       int64_t nb = 4) {
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    if (i < N) {
      const int64_t col = j + i < nb ? j + i : j + i - nb;
      const uint8_t* b[1] = {w + i * sizeof(typename T::Block)};
      const uint8_t* y = a + col * sizeof(BlockQ8_K);
      __m256i sums[1][1], mins[1][1];
      BlockIntSums<T, 1, 1>(b, y, 0, sums, mins);
      g.v[i] = sums[0][0];
      g.v[4 + i] = T::kMins ? mins[0][0] : _mm256_setzero_si256();
      g.scales[i] = T::Scales(b[0]);
      g.yd[i] = _mm_set_ss(LoadF32(y + offsetof(BlockQ8_K, d)));
    } else {
      g.v[i] = g.v[4 + i] = _mm256_setzero_si256();
      g.scales[i] = g.yd[i] = _mm_setzero_ps();
    }
  }
}

// Lane i: t = I * d (- M * dmin, fused) of block i, the term its float step scales by yd.
template <class T>
[[gnu::always_inline]] static inline __m128 RowGroupTerms(const RowGroup& g) {
  const __m128 d01 = _mm_unpacklo_ps(g.scales[0], g.scales[1]);  // d0 d1 m0 m1
  const __m128 d23 = _mm_unpacklo_ps(g.scales[2], g.scales[3]);
  if constexpr (T::kMins) {
    const __m256 totals = _mm256_cvtepi32_ps(SumEachOf8(g.v));
    const __m128 t = _mm_mul_ps(_mm256_castps256_ps128(totals), _mm_movelh_ps(d01, d23));
    return _mm_fnmadd_ps(_mm256_extractf128_ps(totals, 1), _mm_movehl_ps(d23, d01), t);
  } else {
    return _mm_mul_ps(_mm_cvtepi32_ps(SumEachOf4(g.v)), _mm_movelh_ps(d01, d23));
  }
}

// acc (lane 0) += t[i] * yd[i] (fused) for blocks i < N, in order.
template <int N>
[[gnu::always_inline]] static inline __m128 AccumulateRowGroup(__m128 acc, __m128 t,
                                                               const __m128 yd[4]) {
  acc = _mm_fmadd_ss(t, yd[0], acc);
  if constexpr (N > 1) acc = _mm_fmadd_ss(_mm_movehdup_ps(t), yd[1], acc);
  if constexpr (N > 2) acc = _mm_fmadd_ss(_mm_movehl_ps(t, t), yd[2], acc);
  if constexpr (N > 3) {
    acc = _mm_fmadd_ss(_mm_shuffle_ps(t, t, _MM_SHUFFLE(3, 3, 3, 3)), yd[3], acc);
  }
  return acc;
}

// The one-column kernel prefetches the weights of the group T::kPrefetchAhead bytes ahead of
// the one being multiplied. Rows are consecutive, so the prefetches run on into the following
// rows; prefetches never fault, so running past the matrix is harmless. Without them the
// hardware prefetcher alone leaves these compute-heavy row streams short of DRAM's rate.
// Measured on one-token products streaming from DRAM (Zen 4, CPU time per byte, medians of
// interleaved runs): Q4_K and Q5_K 8-15% faster with 4 KiB ahead into L1 (2 KiB gained less;
// one-thread decode of a Q4_K_M model 6% faster). Q6_K lost about 10% that way; 8 KiB ahead at
// locality 1 gained 9-13% in the kernel alone but cost 3% in the decode of a model whose output
// matrix is Q6_K, so it does without. The other types are not measured and do without.
template <class T>
[[gnu::always_inline]] static inline void PrefetchGroupAhead(const uint8_t* group) {
  if constexpr (T::kPrefetchAhead > 0) {
    constexpr int kGroupBytes = 4 * sizeof(typename T::Block);
#pragma GCC unroll 16
    for (int line = 0; line < kGroupBytes; line += 64) {
      __builtin_prefetch(group + T::kPrefetchAhead + line, 0, T::kPrefetchLocality);
    }
  }
}

// dot(row, column) over nb blocks. Software-pipelined by groups of four blocks: a group's lane
// reductions and serial float steps are issued ahead of the next group's integer sums, whose
// long dependency chains hide their latency.
template <class T>
float RowDot(int64_t nb, const uint8_t* w, const uint8_t* a) {
  __m128 acc = _mm_setzero_ps();
  int64_t blk = 0;
  RowGroup g;
  if (nb >= 4) {
    PrefetchGroupAhead<T>(w);
    LoadRowGroup<T, 4>(w, a, g);
    for (blk = 4; blk + 4 <= nb; blk += 4) {
      PrefetchGroupAhead<T>(w + blk * sizeof(typename T::Block));
      const __m128 t = RowGroupTerms<T>(g);
      const __m128 yd[4] = {g.yd[0], g.yd[1], g.yd[2], g.yd[3]};
      LoadRowGroup<T, 4>(w + blk * sizeof(typename T::Block), a + blk * sizeof(BlockQ8_K), g);
      acc = AccumulateRowGroup<4>(acc, t, yd);
    }
    acc = AccumulateRowGroup<4>(acc, RowGroupTerms<T>(g), g.yd);
  }
  // The last 1-3 blocks as one group.
  const uint8_t* wt = w + blk * sizeof(typename T::Block);
  const uint8_t* at = a + blk * sizeof(BlockQ8_K);
  if (blk < nb) PrefetchGroupAhead<T>(wt);
  switch (nb - blk) {
    case 1:
      LoadRowGroup<T, 1>(wt, at, g);
      acc = AccumulateRowGroup<1>(acc, RowGroupTerms<T>(g), g.yd);
      break;
    case 2:
      LoadRowGroup<T, 2>(wt, at, g);
      acc = AccumulateRowGroup<2>(acc, RowGroupTerms<T>(g), g.yd);
      break;
    case 3:
      LoadRowGroup<T, 3>(wt, at, g);
      acc = AccumulateRowGroup<3>(acc, RowGroupTerms<T>(g), g.yd);
      break;
    default:
      break;
  }
  return _mm_cvtss_f32(acc);
}

// The float steps of the first N blocks of a stream group (AccumulateRowGroup's, in the same
// order), closing a row into *out when its last block is in: then the next row starts from 0.
template <int N>
[[gnu::always_inline]] static inline void AccumulateStreamGroup(__m128& acc, __m128 t,
                                                                const __m128 yd[4], int64_t& j,
                                                                int64_t nb, float*& out) {
  const __m128 terms[4] = {t, _mm_movehdup_ps(t), _mm_movehl_ps(t, t),
                           _mm_shuffle_ps(t, t, _MM_SHUFFLE(3, 3, 3, 3))};
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    acc = _mm_fmadd_ss(terms[i], yd[i], acc);
    if (++j == nb) {
      *out++ = _mm_cvtss_f32(acc);
      acc = _mm_setzero_ps();
      j = 0;
    }
  }
}

// out[r] = dot(row r, the column) for nr rows, one row after the other: the weights are read
// as one sequential stream, which is what decode from DRAM needs. Rows that lie back to back
// (the usual matrix) are taken as one stream of blocks in groups of four that may span two
// rows: rows whose block count is not a multiple of four (1536 = 6 blocks) then pay no partial
// group per row, and the software pipeline runs on across rows. Every row still takes
// RowDot's float steps in the same order, so the results are the same bits.
template <class T>
void RowsDot(int64_t nb, const uint8_t* w, size_t w_stride, int nr, const uint8_t* a, float* out) {
  constexpr size_t kBlockBytes = sizeof(typename T::Block);
  if (nb < 4 || w_stride != static_cast<size_t>(nb) * kBlockBytes || nr < 2) {
    for (int r = 0; r < nr; ++r) out[r] = RowDot<T>(nb, w + r * w_stride, a);
    return;
  }
  const int64_t total = nb * nr;
  __m128 acc = _mm_setzero_ps();
  int64_t j = 0;       // the block of its row that the next group to accumulate starts at
  int64_t next_j = 0;  // the same for the next group to load
  RowGroup g;
  int64_t blk = 0;
  PrefetchGroupAhead<T>(w);
  LoadRowGroup<T, 4>(w, a, g, next_j, nb);
  next_j = next_j + 4 < nb ? next_j + 4 : next_j + 4 - nb;
  for (blk = 4; blk + 4 <= total; blk += 4) {
    const uint8_t* wb = w + blk * kBlockBytes;
    PrefetchGroupAhead<T>(wb);
    const __m128 t = RowGroupTerms<T>(g);
    const __m128 yd[4] = {g.yd[0], g.yd[1], g.yd[2], g.yd[3]};
    LoadRowGroup<T, 4>(wb, a, g, next_j, nb);
    next_j = next_j + 4 < nb ? next_j + 4 : next_j + 4 - nb;
    AccumulateStreamGroup<4>(acc, t, yd, j, nb, out);
  }
  AccumulateStreamGroup<4>(acc, RowGroupTerms<T>(g), g.yd, j, nb, out);
  // The last 1-3 blocks as one group.
  const uint8_t* wt = w + blk * kBlockBytes;
  switch (total - blk) {
    case 1:
      LoadRowGroup<T, 1>(wt, a, g, next_j, nb);
      AccumulateStreamGroup<1>(acc, RowGroupTerms<T>(g), g.yd, j, nb, out);
      break;
    case 2:
      LoadRowGroup<T, 2>(wt, a, g, next_j, nb);
      AccumulateStreamGroup<2>(acc, RowGroupTerms<T>(g), g.yd, j, nb, out);
      break;
    case 3:
      LoadRowGroup<T, 3>(wt, a, g, next_j, nb);
      AccumulateStreamGroup<3>(acc, RowGroupTerms<T>(g), g.yd, j, nb, out);
      break;
    default:
      break;
  }
}

// out[c * out_stride + r] = dot(weight row r, activation column c) over nb blocks, for R rows
// and C > 1 columns; with `carry`, the accumulation continues from the values in out (a
// previous call over the preceding blocks), which gives the same bits as one call over all
// blocks. Each block's integer sums I and M are reduced exactly across lanes so that lane c
// holds column c; the float steps then run on those lanes, block after block.
template <class T, int R, int C>
void Tile(int64_t nb, const uint8_t* w, size_t w_stride, const uint8_t* a, size_t a_stride,
          float* out, size_t out_stride, bool carry) {
  static_assert(C > 1 && C <= 8, "one column: RowsDot");
  __m256 acc[R];  // lane c of acc[r]: row r, column c
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    alignas(32) float init[8] = {};
    if (carry) {
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) init[c] = out[c * out_stride + r];
    }
    acc[r] = _mm256_load_ps(init);
  }
  for (int64_t blk = 0; blk < nb; ++blk) {
    const uint8_t* b[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) b[r] = w + r * w_stride + blk * sizeof(typename T::Block);
    const uint8_t* y = a + blk * sizeof(BlockQ8_K);
    __m256i sums[R][C], mins[R][C];
    BlockIntSums<T, R, C>(b, y, a_stride, sums, mins);
    float yd[8] = {};
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) yd[c] = LoadF32(y + c * a_stride + offsetof(BlockQ8_K, d));
    const __m256 y_scales = _mm256_setr_ps(yd[0], yd[1], yd[2], yd[3], yd[4], yd[5], yd[6], yd[7]);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      __m256i padded[8], padded_min[8];
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        padded[c] = c < C ? sums[r][c] : _mm256_setzero_si256();
        if constexpr (T::kMins) padded_min[c] = c < C ? mins[r][c] : _mm256_setzero_si256();
      }
      const __m256 total = _mm256_cvtepi32_ps(SumEachOf8(padded));
      __m256 total_min = _mm256_setzero_ps();
      if constexpr (T::kMins) total_min = _mm256_cvtepi32_ps(SumEachOf8(padded_min));
      const __m128 scales = T::Scales(b[r]);  // {d, dmin}
      acc[r] = BlockStep<T>(acc[r], total, total_min, _mm256_broadcastss_ps(scales),
                            _mm256_broadcastss_ps(_mm_movehdup_ps(scales)), y_scales);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    alignas(32) float result[8];
    _mm256_store_ps(result, acc[r]);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) out[c * out_stride + r] = result[c];
  }
}

template <class T>
float VecDot(int64_t k, const void* w, const void* a) {
  DCHECK(k % kQK_K == 0);
  float result;
  RowsDot<T>(k / kQK_K, static_cast<const uint8_t*>(w), 0, 1, static_cast<const uint8_t*>(a),
             &result);
  return result;
}

// Activation bytes of one column tile kept in L1 while the rows stream past: without this, a
// tile of 8 columns of a 4096-wide row (37 KB) would be re-read from L2 for every weight row.
// The chunks carry their accumulators over, so chunking never changes a result.
constexpr int64_t kActivationChunkBytes = 16 * 1024;

template <class T, int kNc>
void RowsTimesColumns(int64_t nb, const uint8_t* w, size_t w_stride, int nr, const uint8_t* a,
                      size_t a_stride, float* out, size_t out_stride) {
  if constexpr (kNc == 1) {
    RowsDot<T>(nb, w, w_stride, nr, a, out);
  } else {
    const int64_t per_block = kNc * static_cast<int64_t>(sizeof(BlockQ8_K));
    const int64_t chunk =
        kActivationChunkBytes / per_block > 4 ? kActivationChunkBytes / per_block : 4;
    for (int64_t b0 = 0; b0 < nb; b0 += chunk) {
      const int64_t len = nb - b0 < chunk ? nb - b0 : chunk;
      const uint8_t* wc = w + b0 * sizeof(typename T::Block);
      const uint8_t* ac = a + b0 * sizeof(BlockQ8_K);
      for (int r = 0; r < nr; ++r) {
        Tile<T, 1, kNc>(len, wc + r * w_stride, 0, ac, a_stride, out + r, out_stride, b0 > 0);
      }
    }
  }
}

// Columns go in tiles of at most kMaxColumns, as even as possible (9 -> 5 + 4, not 8 + 1), so
// that no tile pays the unpacking for a lone column. Each tile streams all weight rows.
template <class T>
void Gemm(int64_t k, const void* w, size_t w_stride, int nr, const void* a, size_t a_stride, int nc,
          float* out, size_t out_stride) {
  DCHECK(k % kQK_K == 0);
  const int64_t nb = k / kQK_K;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  const int tiles = (nc + kMaxColumns - 1) / kMaxColumns;
  int c0 = 0;
  for (int t = 0; t < tiles; ++t) {
    const int width = (nc - c0 + (tiles - t) - 1) / (tiles - t);
    const uint8_t* at = ab + c0 * a_stride;
    float* ot = out + c0 * out_stride;
    switch (width) {
      case 1:
        RowsTimesColumns<T, 1>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
      case 2:
        RowsTimesColumns<T, 2>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
      case 3:
        RowsTimesColumns<T, 3>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
      case 4:
        RowsTimesColumns<T, 4>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
      case 5:
        RowsTimesColumns<T, 5>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
      case 6:
        RowsTimesColumns<T, 6>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
      case 7:
        RowsTimesColumns<T, 7>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
      default:
        RowsTimesColumns<T, 8>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
    }
    c0 += width;
  }
}

// Q8_K quantizer. Matches QuantizeBlockQ8KRef bit for bit: the same max search (first element
// of largest magnitude), the same float products iscale * x, round-to-nearest-even conversion
// (what the reference's magic-number rounding does) and d = 1 / iscale. Blocks with NaN or
// infinity, or whose scale overflows, go to the reference, which defines those cases.
void QuantizeActQ8K(const float* x, void* y, int64_t k) {
  DCHECK(k % kQK_K == 0);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 finite_max = _mm256_set1_ps(3.40282347e38f);
  for (int64_t b = 0; b < k / kQK_K; ++b, x += kQK_K) {
    uint8_t* out = static_cast<uint8_t*>(y) + b * sizeof(BlockQ8_K);
    __m256 amax = _mm256_setzero_ps();
    __m256 non_finite = _mm256_setzero_ps();
    for (int i = 0; i < kQK_K; i += 8) {
      const __m256 ax = _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask);
      amax = _mm256_max_ps(amax, ax);
      non_finite = _mm256_or_ps(non_finite, _mm256_cmp_ps(ax, finite_max, _CMP_NLE_UQ));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax_s = _mm_cvtss_f32(m4);
    if (_mm256_movemask_ps(non_finite) != 0 || amax_s == 0.0f) {
      QuantizeBlockQ8KRef(x, out);
      continue;
    }
    float max = 0.0f;
    const __m256 target = _mm256_set1_ps(amax_s);
    for (int i = 0; i < kQK_K; i += 8) {
      const __m256 ax = _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask);
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(ax, target, _CMP_EQ_OQ));
      if (hit != 0) {
        max = x[i + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    if (!__builtin_isfinite(iscale)) {
      QuantizeBlockQ8KRef(x, out);
      continue;
    }
    const __m256 scale = _mm256_set1_ps(iscale);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    int16_t bsums[kQK_K / 16];
    for (int i = 0; i < kQK_K; i += 16) {
      // _mm256_cvtps_epi32 rounds to nearest even (the default MXCSR mode).
      const __m256i q0 = _mm256_min_epi32(
          _mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), scale)), lo),
          hi);
      const __m256i q1 = _mm256_min_epi32(
          _mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), scale)),
                           lo),
          hi);
      const __m256i q16 = _mm256_packs_epi32(q0, q1);  // 128-bit lanes: q0 0-3, q1 0-3, q0 4-7, ...
      const __m128i q8 =
          _mm_packs_epi16(_mm256_castsi256_si128(q16), _mm256_extracti128_si256(q16, 1));
      // Bytes are now q0[0..3], q1[0..3], q0[4..7], q1[4..7]: restore element order.
      const __m128i ordered = _mm_shuffle_epi32(q8, _MM_SHUFFLE(3, 1, 2, 0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + offsetof(BlockQ8_K, qs) + i), ordered);
      __m256i sum = _mm256_add_epi32(q0, q1);
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
      bsums[i / 16] = static_cast<int16_t>(_mm_cvtsi128_si32(s4));
    }
    __builtin_memcpy(out + offsetof(BlockQ8_K, bsums), bsums, sizeof bsums);
    const float d = 1.0f / iscale;
    __builtin_memcpy(out + offsetof(BlockQ8_K, d), &d, sizeof d);
  }
}

template <class T>
WeightKernels Entry() {
  return WeightKernels{DType::kQ8_K, QuantizeActQ8K, VecDot<T>, Gemm<T>};
}

// Writes the entries directly: KernelRegistry::Set is an inline member, which an unoptimized
// build would emit here as a shared (weak) copy.
void RegisterKQuantsX86(KernelRegistry& registry) {
  registry.entries[static_cast<uint32_t>(DType::kQ2_K)] = Entry<Q2K>();
  registry.entries[static_cast<uint32_t>(DType::kQ3_K)] = Entry<Q3K>();
  registry.entries[static_cast<uint32_t>(DType::kQ4_K)] = Entry<Q4K>();
  registry.entries[static_cast<uint32_t>(DType::kQ5_K)] = Entry<Q5K>();
  registry.entries[static_cast<uint32_t>(DType::kQ6_K)] = Entry<Q6K>();
  registry.entries[static_cast<uint32_t>(DType::kIQ4_XS)] = Entry<IQ4XS>();
}

}  // namespace
}  // namespace autarky::kernels
