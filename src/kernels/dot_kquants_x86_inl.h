// K-quant x Q8_K kernels for x86, shared by dot_kquants_avx2.cc and dot_kquants_avx512.cc: each
// includes this file once, after defining AUTARKY_KQ_VNNI to 0 (AVX2: vpmaddubsw + vpmaddwd) or 1
// (AVX-512 VNNI at 256-bit width: vpdpbusd + vpdpwssd). Everything here has internal linkage.
//
// 256-bit vectors on purpose, also with AVX-512: a 32-byte register holds one 32-element chunk
// of a super-block, so the nibble and bit-plane unpacking needs only in-lane shifts and masks,
// and the per-block float work is on 8 lanes. On Zen 4 this measured about 20% faster than the
// same scheme on 512-bit registers, where the unpacking needs cross-lane shuffles.
//
// Every weight type is brought to one form per super-block: eight vectors of unsigned quants in
// element order (chunk i = elements 32i .. 32i + 31, read against plain loads of the activation
// quants), int16 scale vectors, and 16 int16 multipliers of the Q8_K bsums that apply the mins
// or the offset that made the quants unsigned. The block value is then
//   y.d * (d * I - dmin * M)   (types with mins),   y.d * d * (I + M)   (offset types),
// with I the scaled quant sum and M = sum(corr * bsums). gemm unpacks a block once and runs it
// against up to 8 activation columns.
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

// How a type's chunk sums are scaled.
//  kPacked: VNNI only. vpdpbusd gives 8 lanes of 4-element sums per chunk (|sum| < 2^15); chunks
//    2t and 2t + 1 are packed to int16 together and one vpdpwssd applies s[t]. In 128-bit lane L
//    of the pack, int16 positions 0-3 come from chunk 2t and 4-7 from chunk 2t + 1, both covering
//    chunk elements 16L .. 16L + 15.
//  kPairs: vpmaddubsw gives 16 int16 sums of element pairs per chunk; s[i] holds the scale of
//    each pair (int16 lanes 0-7: elements 0-15 of chunk i, lanes 8-15: elements 16-31).
//  kSignedPairs: like kPairs, for signed quants (IQ4_XS): |q| times the activation with q's sign.
enum class ScaleMode { kPacked, kPairs, kSignedPairs };

struct Unpacked {
  __m256i q[8];   // {8 chunks}{32 u8}: quants (kSignedPairs: magnitudes)
  __m256i sg[8];  // kSignedPairs only: the signed quants, for their signs
  __m256i s[8];   // {32-element chunks or chunk pairs}{16 int16 scales}, see ScaleMode
  __m256i corr;   // {16 int16}: multiplier of bsums[j] (a min, or -offset * scale)
  float d;        // block scale (types without mins)
  __m128 d_dmin;  // {d, dmin, -, -}: block scale and scale of the mins (kMins types)
};

static inline __m256i Load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
static inline __m128i Load128(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}
static inline float HalfToFloat(const uint8_t* p) { return _cvtsh_ss(LoadU16(p)); }
// Two adjacent F16 values -> {p[0], p[1], 0, 0}.
static inline __m128 HalfPairToFloat(const uint8_t* p) {
  int32_t bits;
  __builtin_memcpy(&bits, p, sizeof bits);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(bits));
}

// Scale vectors come from one "scale source" register by in-lane byte shuffles, in two forms:
//  - bytes (unsigned scales): the 16 scale bytes in both 128-bit halves; the shuffle picks the
//    byte of a group and zero-extends it (control byte 0x80 zeroes).
//  - words (signed scales): int16 lane m of the low half holds group 2m, of the high half group
//    2m + 1, so that the same control serves both halves.
// kPacked pair t covers, per half h, groups 4t + h (positions 0-3) and 4t + 2 + h (4-7); kPairs
// chunk i covers group 2i + h. With 32-element sub-blocks, group g uses scale g / 2.

// Shuffle control word: byte `byte` zero-extended to int16.
static inline int16_t ZeroExtend(int byte) { return static_cast<int16_t>(0x8000 | byte); }
// Shuffle control word: int16 lane m of the source.
static inline int16_t Word(int m) { return static_cast<int16_t>((2 * m) | ((2 * m + 1) << 8)); }

// int16 lanes 0-3, 4-7 of the low half <- zero-extended bytes a0, b0; of the high half a1, b1.
static inline __m256i ByteControl(int a0, int b0, int a1, int b1) {
  const int16_t a = ZeroExtend(a0), b = ZeroExtend(b0), c = ZeroExtend(a1), d = ZeroExtend(b1);
  return _mm256_setr_epi16(a, a, a, a, b, b, b, b, c, c, c, c, d, d, d, d);
}

template <ScaleMode kMode, bool kGroup32>
static inline void SetScalesFromBytes(__m128i scale_bytes, Unpacked& u) {
  const __m256i source = _mm256_broadcastsi128_si256(scale_bytes);
  const int shift = kGroup32 ? 1 : 0;
  if constexpr (kMode == ScaleMode::kPacked) {
    for (int t = 0; t < 4; ++t) {
      const __m256i control = ByteControl((4 * t) >> shift, (4 * t + 2) >> shift,
                                          (4 * t + 1) >> shift, (4 * t + 3) >> shift);
      u.s[t] = _mm256_shuffle_epi8(source, control);
    }
  } else {
    for (int i = 0; i < 8; ++i) {
      const int even = (2 * i) >> shift, odd = (2 * i + 1) >> shift;
      u.s[i] = _mm256_shuffle_epi8(source, ByteControl(even, even, odd, odd));
    }
  }
}

template <ScaleMode kMode>
static inline void SetScalesFromWords(__m256i source, Unpacked& u) {
  if constexpr (kMode == ScaleMode::kPacked) {
    for (int t = 0; t < 4; ++t) {
      const int16_t a = Word(2 * t), b = Word(2 * t + 1);
      const __m256i control = _mm256_setr_epi16(a, a, a, a, b, b, b, b, a, a, a, a, b, b, b, b);
      u.s[t] = _mm256_shuffle_epi8(source, control);
    }
  } else {
    for (int i = 0; i < 8; ++i) u.s[i] = _mm256_shuffle_epi8(source, _mm256_set1_epi16(Word(i)));
  }
}

// 16 signed scale bytes in group order -> word source (even groups low, odd groups high).
static inline __m256i SignedWordSource(__m128i bytes) {
  const __m128i even_odd =
      _mm_shuffle_epi8(bytes, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
  return _mm256_cvtepi8_epi16(even_odd);
}

constexpr ScaleMode kUnsignedMode = AUTARKY_KQ_VNNI ? ScaleMode::kPacked : ScaleMode::kPairs;

// Q4_K and Q5_K: scales and mins of 8 sub-blocks of 32, 4-bit quants in 32-byte groups (low
// nibbles: elements 0-31 of the 64, high nibbles: 32-63).
static inline void UnpackQ4KCommon(const uint8_t* scales, const uint8_t* qs, Unpacked& u) {
  const __m128i scale_mins = UnpackQ4KScaleMinsX86(scales);  // scale[0..7], min[0..7]
  SetScalesFromBytes<kUnsignedMode, true>(scale_mins, u);
  // Group g (bsums[g]) takes min[g / 2], byte 8 + g / 2, zero-extended.
  const int16_t m0 = ZeroExtend(8), m1 = ZeroExtend(9), m2 = ZeroExtend(10), m3 = ZeroExtend(11);
  const int16_t m4 = ZeroExtend(12), m5 = ZeroExtend(13), m6 = ZeroExtend(14), m7 = ZeroExtend(15);
  u.corr = _mm256_shuffle_epi8(
      _mm256_broadcastsi128_si256(scale_mins),
      _mm256_setr_epi16(m0, m0, m1, m1, m2, m2, m3, m3, m4, m4, m5, m5, m6, m6, m7, m7));
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  for (int j = 0; j < 4; ++j) {
    const __m256i raw = Load256(qs + 32 * j);
    u.q[2 * j] = _mm256_and_si256(raw, low4);
    u.q[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
  }
}

struct Q4K {
  using Block = BlockQ4_K;
  static constexpr bool kMins = true;
  static constexpr ScaleMode kMode = kUnsignedMode;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    UnpackQ4KCommon(b + offsetof(BlockQ4_K, scales), b + offsetof(BlockQ4_K, qs), u);
    static_assert(offsetof(BlockQ4_K, dmin) == offsetof(BlockQ4_K, d) + 2);
    u.d_dmin = HalfPairToFloat(b + offsetof(BlockQ4_K, d));
  }
};

// Bit `from` of each byte moved to bit `to` (the other bits are garbage); 16-bit shifts keep
// the bit inside its byte for shifts of at most 7.
static inline __m256i MoveBit(__m256i v, int from, int to) {
  if (from < to) return _mm256_slli_epi16(v, to - from);
  if (from > to) return _mm256_srli_epi16(v, from - to);
  return v;
}

struct Q5K {
  using Block = BlockQ5_K;
  static constexpr bool kMins = true;
  static constexpr ScaleMode kMode = kUnsignedMode;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    UnpackQ4KCommon(b + offsetof(BlockQ5_K, scales), b + offsetof(BlockQ5_K, qs), u);
    // The fifth bit of chunk i is bit i of qh[e % 32].
    const __m256i qh = Load256(b + offsetof(BlockQ5_K, qh));
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    for (int i = 0; i < 8; ++i) {
      u.q[i] = _mm256_or_si256(u.q[i], _mm256_and_si256(MoveBit(qh, i, 4), bit4));
    }
    static_assert(offsetof(BlockQ5_K, dmin) == offsetof(BlockQ5_K, d) + 2);
    u.d_dmin = HalfPairToFloat(b + offsetof(BlockQ5_K, d));
  }
};

struct Q6K {
  using Block = BlockQ6_K;
  static constexpr bool kMins = false;
  static constexpr ScaleMode kMode = kUnsignedMode;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i bits45 = _mm256_set1_epi8(0x30);
    for (int half = 0; half < 2; ++half) {
      // Per 128 elements: 64 ql bytes (elements 0-63 in the low nibbles, 64-127 in the high
      // ones) and 32 qh bytes with the top bit pairs of elements l, l+32, l+64, l+96.
      const __m256i ql_a = Load256(b + offsetof(BlockQ6_K, ql) + 64 * half);
      const __m256i ql_b = Load256(b + offsetof(BlockQ6_K, ql) + 64 * half + 32);
      const __m256i qh = Load256(b + offsetof(BlockQ6_K, qh) + 32 * half);
      __m256i* q = u.q + 4 * half;
      q[0] = _mm256_or_si256(_mm256_and_si256(ql_a, low4),
                             _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
      q[1] = _mm256_or_si256(_mm256_and_si256(ql_b, low4),
                             _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_a, 4), low4),
                             _mm256_and_si256(qh, bits45));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_b, 4), low4),
                             _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
    }
    const __m128i scales = Load128(b + offsetof(BlockQ6_K, scales));
    SetScalesFromWords<kUnsignedMode>(SignedWordSource(scales), u);
    // Quants are stored with a bias of 32: subtract 32 * scale * bsum.
    u.corr = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(scales), _mm256_set1_epi16(-32));
    u.d = HalfToFloat(b + offsetof(BlockQ6_K, d));
  }
};

// Q2_K and Q3_K: chunk i takes bit pair i % 4 of the 32 qs bytes of half i / 4.
static inline __m256i TwoBits(__m256i qs_half, int i) {
  return _mm256_and_si256(_mm256_srli_epi16(qs_half, 2 * (i % 4)), _mm256_set1_epi8(0x03));
}

struct Q3K {
  using Block = BlockQ3_K;
  static constexpr bool kMins = false;
  static constexpr ScaleMode kMode = kUnsignedMode;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    const uint8_t* qs = b + offsetof(BlockQ3_K, qs);
    const __m256i halves[2] = {Load256(qs), Load256(qs + 32)};
    // The high bit of chunk i is bit i of hmask[e % 32]. Quant = q2 + 4 * hbit - 4: the
    // unsigned part here, the -4 through the bsums.
    const __m256i hmask = Load256(b + offsetof(BlockQ3_K, hmask));
    const __m256i bit2 = _mm256_set1_epi8(0x04);
    for (int i = 0; i < 8; ++i) {
      u.q[i] =
          _mm256_or_si256(TwoBits(halves[i / 4], i), _mm256_and_si256(MoveBit(hmask, i, 2), bit2));
    }
    const __m128i scales =
        _mm_sub_epi8(UnpackQ3KScalesX86(b + offsetof(BlockQ3_K, scales) - 4), _mm_set1_epi8(32));
    SetScalesFromWords<kUnsignedMode>(SignedWordSource(scales), u);
    u.corr = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(scales), _mm256_set1_epi16(-4));
    u.d = HalfToFloat(b + offsetof(BlockQ3_K, d));
  }
};

struct Q2K {
  using Block = BlockQ2_K;
  static constexpr bool kMins = true;
  static constexpr ScaleMode kMode = kUnsignedMode;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    const uint8_t* qs = b + offsetof(BlockQ2_K, qs);
    const __m256i halves[2] = {Load256(qs), Load256(qs + 32)};
    for (int i = 0; i < 8; ++i) u.q[i] = TwoBits(halves[i / 4], i);
    const __m128i packed = Load128(b + offsetof(BlockQ2_K, scales));
    const __m128i low4 = _mm_set1_epi8(0x0f);
    SetScalesFromBytes<kUnsignedMode, false>(_mm_and_si128(packed, low4), u);
    u.corr = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), low4));
    static_assert(offsetof(BlockQ2_K, dmin) == offsetof(BlockQ2_K, d) + 2);
    u.d_dmin = HalfPairToFloat(b + offsetof(BlockQ2_K, d));
  }
};

struct IQ4XS {
  using Block = BlockIQ4_XS;
  static constexpr bool kMins = false;
  static constexpr ScaleMode kMode = ScaleMode::kSignedPairs;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    // Element by element: taking the address of kIq4nlValues would emit a shared (weak) copy.
    const __m256i grid = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(kIq4nlValues[0], kIq4nlValues[1], kIq4nlValues[2], kIq4nlValues[3],
                      kIq4nlValues[4], kIq4nlValues[5], kIq4nlValues[6], kIq4nlValues[7],
                      kIq4nlValues[8], kIq4nlValues[9], kIq4nlValues[10], kIq4nlValues[11],
                      kIq4nlValues[12], kIq4nlValues[13], kIq4nlValues[14], kIq4nlValues[15]));
    const __m256i nibble_shift = _mm256_setr_epi64x(0, 0, 4, 4);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (int i = 0; i < 8; ++i) {
      // Sub-block i: 16 bytes, elements 0-15 in the low nibbles, 16-31 in the high ones.
      const __m256i raw =
          _mm256_broadcastsi128_si256(Load128(b + offsetof(BlockIQ4_XS, qs) + 16 * i));
      const __m256i index = _mm256_and_si256(_mm256_srlv_epi64(raw, nibble_shift), low4);
      u.sg[i] = _mm256_shuffle_epi8(grid, index);
      u.q[i] = _mm256_abs_epi8(u.sg[i]);
    }
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
    SetScalesFromWords<ScaleMode::kPairs>(_mm256_broadcastsi128_si256(scales16), u);
    u.corr = _mm256_setzero_si256();
    u.d = HalfToFloat(b + offsetof(BlockIQ4_XS, d));
  }
};

// Scaled quant sum of one block against one activation block: 8 int32 lanes.
template <class T>
static inline __m256i ScaledSum(const Unpacked& u, const uint8_t* yq) {
  __m256i sum = _mm256_setzero_si256();
  if constexpr (T::kMode == ScaleMode::kPacked) {
#if AUTARKY_KQ_VNNI
    for (int t = 0; t < 4; ++t) {
      const __m256i a =
          _mm256_dpbusd_epi32(_mm256_setzero_si256(), u.q[2 * t], Load256(yq + 64 * t));
      const __m256i b =
          _mm256_dpbusd_epi32(_mm256_setzero_si256(), u.q[2 * t + 1], Load256(yq + 64 * t + 32));
      // |a|, |b| <= 4 * 63 * 128 < 2^15: packing to int16 is exact.
      sum = _mm256_dpwssd_epi32(sum, _mm256_packs_epi32(a, b), u.s[t]);
    }
#endif
  } else {
    for (int i = 0; i < 8; ++i) {
      __m256i y = Load256(yq + 32 * i);
      if constexpr (T::kMode == ScaleMode::kSignedPairs) y = _mm256_sign_epi8(y, u.sg[i]);
      // Pair sums stay below 2^15: at most 2 * 63 * 128 (unsigned types) or 2 * 127 * 127
      // (magnitudes times activations in [-127, 127]), so vpmaddubsw never saturates.
      const __m256i pairs = _mm256_maddubs_epi16(u.q[i], y);
#if AUTARKY_KQ_VNNI
      sum = _mm256_dpwssd_epi32(sum, pairs, u.s[i]);
#else
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, u.s[i]));
#endif
    }
  }
  return sum;
}

// Adds one block of one activation column to acc (and, for types with mins, the min term to
// acc_min: a second accumulator keeps the loop-carried chain at one fma per block).
template <class T>
static inline void AccumulateBlock(const Unpacked& u, const uint8_t* y, __m256& acc,
                                   __m256& acc_min) {
  __m256i sum = ScaledSum<T>(u, y + offsetof(BlockQ8_K, qs));
  const float yd = LoadF32(y + offsetof(BlockQ8_K, d));
  if constexpr (T::kMins) {
    const __m256i corr = _mm256_madd_epi16(Load256(y + offsetof(BlockQ8_K, bsums)), u.corr);
    const __m128 factors = _mm_mul_ps(u.d_dmin, _mm_set1_ps(yd));  // {yd * d, yd * dmin}
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_broadcastss_ps(factors), acc);
    acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(corr),
                              _mm256_broadcastss_ps(_mm_movehdup_ps(factors)), acc_min);
    return;
  }
  if constexpr (T::kMode != ScaleMode::kSignedPairs) {
    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(Load256(y + offsetof(BlockQ8_K, bsums)), u.corr));
  }
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(yd * u.d), acc);
}

static inline float HorizontalSum(__m256 v) {
  __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

// out[c * out_stride] = dot(weight row w, activation column c) for kNc columns.
// vec_dot: one activation column.
template <class T>
float RowTimesColumn(int64_t nb, const uint8_t* w, const uint8_t* a) {
  __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    Unpacked u;
    T::Unpack(w + b * sizeof(typename T::Block), u);
    AccumulateBlock<T>(u, a + b * sizeof(BlockQ8_K), acc, acc_min);
  }
  return HorizontalSum(_mm256_sub_ps(acc, acc_min));
}

// {8 vectors}{8 int32} -> {8 int32}: lane c = sum of the lanes of v[c].
static inline __m256i SumEachOf8(const __m256i v[8]) {
  const __m256i a = _mm256_hadd_epi32(v[0], v[1]), b = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i c = _mm256_hadd_epi32(v[4], v[5]), d = _mm256_hadd_epi32(v[6], v[7]);
  // Per 128-bit half h: lanes 0-3 of ab hold the half-h sums of v[0..3], of cd those of v[4..7].
  const __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
  return _mm256_add_epi32(_mm256_permute2x128_si256(ab, cd, 0x20),
                          _mm256_permute2x128_si256(ab, cd, 0x31));
}

// gemm tile: kNc (2..8) activation columns. The per-column integer block sums are reduced into
// one register across columns before the float work, so a block costs one convert and one fma
// for all columns instead of per column; lane c of the accumulators belongs to column c.
template <class T, int kNc>
void RowTimesColumns(int64_t nb, const uint8_t* w, const uint8_t* a, size_t a_stride, float* out,
                     size_t out_stride, bool accumulate) {
  static_assert(kNc >= 2 && kNc <= 8);
  __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    Unpacked u;
    T::Unpack(w + b * sizeof(typename T::Block), u);
    const uint8_t* y = a + b * sizeof(BlockQ8_K);
    __m256i sums[8], corrs[8];
    float yd[8];
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
      sums[c] = corrs[c] = _mm256_setzero_si256();
      yd[c] = 0.0f;
    }
#pragma GCC unroll 8
    for (int c = 0; c < kNc; ++c) {
      const uint8_t* yc = y + c * a_stride;
      sums[c] = ScaledSum<T>(u, yc + offsetof(BlockQ8_K, qs));
      yd[c] = LoadF32(yc + offsetof(BlockQ8_K, d));
      if constexpr (T::kMode != ScaleMode::kSignedPairs) {
        corrs[c] = _mm256_madd_epi16(Load256(yc + offsetof(BlockQ8_K, bsums)), u.corr);
        if constexpr (!T::kMins) sums[c] = _mm256_add_epi32(sums[c], corrs[c]);
      }
    }
    const __m256 y_scales = _mm256_setr_ps(yd[0], yd[1], yd[2], yd[3], yd[4], yd[5], yd[6], yd[7]);
    if constexpr (T::kMins) {
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(SumEachOf8(sums)),
                            _mm256_mul_ps(y_scales, _mm256_broadcastss_ps(u.d_dmin)), acc);
      acc_min = _mm256_fmadd_ps(
          _mm256_cvtepi32_ps(SumEachOf8(corrs)),
          _mm256_mul_ps(y_scales, _mm256_broadcastss_ps(_mm_movehdup_ps(u.d_dmin))), acc_min);
    } else {
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(SumEachOf8(sums)),
                            _mm256_mul_ps(y_scales, _mm256_set1_ps(u.d)), acc);
    }
  }
  float result[8];
  _mm256_storeu_ps(result, _mm256_sub_ps(acc, acc_min));
#pragma GCC unroll 8
  for (int c = 0; c < kNc; ++c) {
    out[c * out_stride] = accumulate ? out[c * out_stride] + result[c] : result[c];
  }
}

template <class T>
float VecDot(int64_t k, const void* w, const void* a) {
  DCHECK(k % kQK_K == 0);
  return RowTimesColumn<T>(k / kQK_K, static_cast<const uint8_t*>(w),
                           static_cast<const uint8_t*>(a));
}

// Activation bytes of one column tile kept in L1 while the rows stream past: without this, a
// tile of 8 columns of a 4096-wide row (37 KB) would be re-read from L2 for every weight row.
constexpr int64_t kActivationChunkBytes = 16 * 1024;

template <class T, int kNc>
void RowsTimesColumns(int64_t nb, const uint8_t* w, size_t w_stride, int nr, const uint8_t* a,
                      size_t a_stride, float* out, size_t out_stride) {
  if constexpr (kNc == 1) {
    for (int r = 0; r < nr; ++r) out[r] = RowTimesColumn<T>(nb, w + r * w_stride, a);
  } else {
    const int64_t per_block = kNc * static_cast<int64_t>(sizeof(BlockQ8_K));
    const int64_t chunk =
        kActivationChunkBytes / per_block > 4 ? kActivationChunkBytes / per_block : 4;
    for (int64_t b0 = 0; b0 < nb; b0 += chunk) {
      const int64_t len = nb - b0 < chunk ? nb - b0 : chunk;
      const uint8_t* wc = w + b0 * sizeof(typename T::Block);
      const uint8_t* ac = a + b0 * sizeof(BlockQ8_K);
      for (int r = 0; r < nr; ++r) {
        RowTimesColumns<T, kNc>(len, wc + r * w_stride, ac, a_stride, out + r, out_stride, b0 > 0);
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
