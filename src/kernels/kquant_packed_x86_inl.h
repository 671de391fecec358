// Prompt-processing gemm of the K-quants on AVX-512 VNNI, over weights repacked on the fly: a
// panel holds 16 weight rows, and one 512-bit register holds 4 consecutive quants of each of
// the 16 rows, so that one vpdpbusd with a broadcast of 4 activation bytes advances 16 outputs
// (lanes = rows). Included by dot_kquants_avx512.cc after dot_kquants_x86_inl.h, inside its
// anonymous namespace (it reuses the weight-type decoders there).
//
// The panel stores every type the same way, which makes one kernel serve all six types:
//   q      {64 steps}{16 rows}{4} u8   quants made unsigned (IQ4_XS: grid value + 128)
//   scale  {G groups}{16 rows} int32   G = 8 groups of 32 (Q4_K, Q5_K, IQ4_XS) or 16 of 16
//   corr   {8 pairs}{16 rows}{2} int16 multipliers of the Q8_K bsums (pairs 2i, 2i + 1): the
//                                      mins (types with mins, into M) or -offset * scale (into I)
//   d      {16 rows} f32, dmin {16 rows} f32
// per super-block. Quants are unpacked to bytes (not kept as nibbles): the panel is a temporary,
// and the inner loop then has nothing to do but load and multiply. Per block and column the
// kernel forms exactly the same I and M as the row kernels of dot_kquants_x86_inl.h and takes
// the same float steps, so results are bit-identical to vec_dot (batch invariance).
#pragma once

namespace packed {

constexpr int kRows = 16;       // weight rows per panel (one 512-bit lane each)
constexpr int kMaxColumns = 8;  // activation columns per kernel tile
constexpr size_t kQuantBytes = 4 * kRows * (kQK_K / 4);  // 4096
constexpr size_t kExtraBytes = 16;  // prepare_acts bytes per activation block (groups of 32)

// Per-type facts for the panel: the scale groups, and one block's scales decoded as
//   sc:   the G group scales as int32 (lanes past G unused);
//   corr: the 16 multipliers of the Q8_K bsums as int16.
template <class T>
struct Traits;

// Bytes 0-7: the scales of sub-blocks 0-7; bytes 8-15: their mins.
[[gnu::always_inline]] static inline void Q4KScales(__m128i bytes, __m512i& sc, __m256i& corr) {
  sc = _mm512_cvtepu8_epi32(bytes);
  // corr[g] = min of sub-block g / 2.
  corr = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(
      bytes, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15)));
}

template <>
struct Traits<Q4K> {
  static constexpr int kGroups = 8;
  static void Scales(const uint8_t* b, __m512i& sc, __m256i& corr) {
    Q4KScales(UnpackQ4KScaleMinsX86(b + offsetof(BlockQ4_K, scales)), sc, corr);
  }
};

template <>
struct Traits<Q5K> {
  static constexpr int kGroups = 8;
  static void Scales(const uint8_t* b, __m512i& sc, __m256i& corr) {
    Q4KScales(UnpackQ4KScaleMinsX86(b + offsetof(BlockQ5_K, scales)), sc, corr);
  }
};

template <>
struct Traits<Q6K> {
  static constexpr int kGroups = 16;
  static void Scales(const uint8_t* b, __m512i& sc, __m256i& corr) {
    const __m128i bytes = Load128(b + offsetof(BlockQ6_K, scales));
    sc = _mm512_cvtepi8_epi32(bytes);
    // The quants carry a bias of 32.
    corr = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(bytes), _mm256_set1_epi16(-32));
  }
};

template <>
struct Traits<Q3K> {
  static constexpr int kGroups = 16;
  static void Scales(const uint8_t* b, __m512i& sc, __m256i& corr) {
    const __m128i bytes =
        _mm_sub_epi8(UnpackQ3KScalesX86(b + offsetof(BlockQ3_K, scales) - 4), _mm_set1_epi8(32));
    sc = _mm512_cvtepi8_epi32(bytes);
    // The unsigned quants are q + 4.
    corr = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(bytes), _mm256_set1_epi16(-4));
  }
};

template <>
struct Traits<Q2K> {
  static constexpr int kGroups = 16;
  static void Scales(const uint8_t* b, __m512i& sc, __m256i& corr) {
    const __m128i bytes = Load128(b + offsetof(BlockQ2_K, scales));
    const __m128i low4 = _mm_set1_epi8(0x0f);
    sc = _mm512_cvtepu8_epi32(_mm_and_si128(bytes, low4));
    corr = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(bytes, 4), low4));  // the mins
  }
};

template <>
struct Traits<IQ4XS> {
  static constexpr int kGroups = 8;
  static void Scales(const uint8_t* b, __m512i& sc, __m256i& corr) {
    typename IQ4XS::State st;
    IQ4XS::Prepare(b, st);  // st.source: int16 scale of sub-block j in lane j of each half
    const __m128i words = _mm256_castsi256_si128(st.source);
    sc = _mm512_cvtepi16_epi32(_mm256_castsi128_si256(words));
    // The unsigned quants are the grid values + 128; corr[g] = -128 * scale of g / 2.
    const __m256i pairs =
        _mm256_set_m128i(_mm_unpackhi_epi16(words, words), _mm_unpacklo_epi16(words, words));
    corr = _mm256_mullo_epi16(pairs, _mm256_set1_epi16(-128));
  }
};

// Pairs of bsums multipliers per block: types with groups of 32 share one multiplier per
// group, and pair the sums of two groups (B_j = bsum_2j + bsum_2j+1, from prepare_acts), so
// 4 vpdpwssd do what 8 do with the 16 bsums of types with groups of 16.
template <class T>
constexpr int CorrPairs() {
  return Traits<T>::kGroups == 8 ? 4 : 8;
}

template <class T>
constexpr size_t ScaleOffset() {
  return kQuantBytes;
}
template <class T>
constexpr size_t CorrOffset() {
  return kQuantBytes + 4 * kRows * Traits<T>::kGroups;
}
template <class T>
constexpr size_t DOffset() {
  return CorrOffset<T>() + 4 * kRows * CorrPairs<T>();
}
// Bytes of one packed super-block (16 rows).
template <class T>
constexpr size_t BlockBytes() {
  return DOffset<T>() + 2 * 4 * kRows;
}

// The 256 quants of one block as unsigned bytes, in element order.
template <class T>
[[gnu::always_inline]] static inline void UnpackQuants(const uint8_t* b, uint8_t* q) {
  typename T::State st;
  T::Prepare(b, st);
#pragma GCC unroll 4
  for (int t = 0; t < 4; ++t) {
    __m256i lo, hi;
    T::Pair(b, st, t, lo, hi);
    if constexpr (T::kSigned) {
      const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
      lo = _mm256_xor_si256(lo, flip);
      hi = _mm256_xor_si256(hi, flip);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * T::kPair[t][0]), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * T::kPair[t][1]), hi);
  }
}

// One row's block decoded for packing: staged in the panel buffer behind the panel itself.
struct alignas(64) StagedBlock {
  uint8_t q[kQK_K];  // byte quants in element order
  int32_t sc[16];    // group scales
  int16_t corr[32];  // bsums multipliers (16 used)
  float d, dmin;
};
static_assert(sizeof(StagedBlock) % 64 == 0);

// Packs nb super-blocks of nr (<= 16) rows, w_stride bytes apart, into `panel`; rows past nr
// are zero (they add nothing, and their outputs are not stored). First every row is decoded,
// row after row and block after block, which reads the weights as sequentially as they lie
// in memory (the hardware prefetcher follows that, not 16 interleaved rows); then the staged
// blocks are transposed into the panel block by block.
template <class T>
void Pack(const void* w, size_t w_stride, int nr, int64_t nb, void* panel) {
  constexpr int kPairs = CorrPairs<T>();
  const auto* rows = static_cast<const uint8_t*>(w);
  auto* out = static_cast<uint8_t*>(panel);
  auto* stage = reinterpret_cast<StagedBlock*>(out + nb * BlockBytes<T>());  // {nb}{kRows}
  for (int r = 0; r < kRows; ++r) {
    for (int64_t blk = 0; blk < nb; ++blk) {
      StagedBlock& st = stage[blk * kRows + r];
      if (r >= nr) {
        __builtin_memset(&st, 0, sizeof st);
        continue;
      }
      const uint8_t* b = rows + r * w_stride + blk * sizeof(typename T::Block);
      UnpackQuants<T>(b, st.q);
      __m512i sc;
      __m256i corr;
      Traits<T>::Scales(b, sc, corr);
      _mm512_store_si512(st.sc, sc);
      _mm256_store_si256(reinterpret_cast<__m256i*>(st.corr), corr);
      const __m128 ds = T::Scales(b);
      st.d = _mm_cvtss_f32(ds);
      st.dmin = _mm_cvtss_f32(_mm_movehdup_ps(ds));
    }
  }
  for (int64_t blk = 0; blk < nb; ++blk, out += BlockBytes<T>()) {
    const StagedBlock* st = stage + blk * kRows;
    __m512i x[16];
    // Quants: step s of 4 elements, row r at out + 64 s + 4 r.
    for (int quarter = 0; quarter < 4; ++quarter) {
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) x[r] = _mm512_load_si512(st[r].q + 64 * quarter);
      Transpose16x16(x);
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) _mm512_store_si512(out + 64 * (16 * quarter + j), x[j]);
    }
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) x[r] = _mm512_load_si512(st[r].sc);
    Transpose16x16(x);
#pragma GCC unroll 16
    for (int g = 0; g < Traits<T>::kGroups; ++g) {
      _mm512_store_si512(out + ScaleOffset<T>() + 64 * g, x[g]);
    }
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) {
      __m512i c = _mm512_load_si512(st[r].corr);
      if constexpr (CorrPairs<T>() == 4) {
        // Multipliers of the 8 groups of 32 (corr[2j] == corr[2j + 1]).
        c = _mm512_zextsi256_si512(_mm512_cvtepi32_epi16(c));
      }
      x[r] = c;
    }
    Transpose16x16(x);
#pragma GCC unroll 8
    for (int i = 0; i < kPairs; ++i) _mm512_store_si512(out + CorrOffset<T>() + 64 * i, x[i]);
    alignas(64) float d[2][kRows];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) {
      d[0][r] = st[r].d;
      d[1][r] = st[r].dmin;
    }
    _mm512_store_ps(out + DOffset<T>(), _mm512_load_ps(d[0]));
    _mm512_store_ps(out + DOffset<T>() + 64, _mm512_load_ps(d[1]));
  }
}

// acc + the u8 x s8 products of w with the 4 activation bytes at p, broadcast to every lane, and
// acc + the int16 products of w with the 2 int16 at p. The broadcast is a memory operand of the
// instruction itself ({1to16}); GCC 12 does not fold _mm512_set1_epi32 of a load into it and
// issues a separate vpbroadcastd per product instead.
struct FourBytes {
  uint8_t b[4];  // alignment 1: activation rows may sit at any address
};
[[gnu::always_inline]] static inline __m512i DotBytesBroadcast(__m512i acc, __m512i w,
                                                               const uint8_t* p) {
  __asm__("vpdpbusd %[y]%{1to16%}, %[w], %[acc]"
          : [acc] "+v"(acc)
          : [w] "v"(w), [y] "m"(*reinterpret_cast<const FourBytes*>(p)));
  return acc;
}
[[gnu::always_inline]] static inline __m512i DotWordsBroadcast(__m512i acc, __m512i w,
                                                               const uint8_t* p) {
  __asm__("vpdpwssd %[y]%{1to16%}, %[w], %[acc]"
          : [acc] "+v"(acc)
          : [w] "v"(w), [y] "m"(*reinterpret_cast<const FourBytes*>(p)));
  return acc;
}

// out[c * out_stride + r] for the panel's rows r < nr and C columns, over nb blocks (`carry`:
// continuing from the values in out, as the row kernels' Tile does).
template <class T, int C>
void PanelTile(int64_t nb, const uint8_t* panel, const uint8_t* a, size_t a_stride,
               const uint8_t* extra, size_t extra_stride, float* out, size_t out_stride, int nr,
               bool carry) {
  constexpr int kGroups = Traits<T>::kGroups;
  constexpr int kSteps = kQK_K / 4 / kGroups;  // 4-element steps per group
  constexpr int kPairs = CorrPairs<T>();
  const __mmask16 rows = static_cast<__mmask16>((1u << nr) - 1);
  __m512 acc[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    acc[c] = carry ? _mm512_maskz_loadu_ps(rows, out + c * out_stride) : _mm512_setzero_ps();
  }
  for (int64_t blk = 0; blk < nb; ++blk, panel += BlockBytes<T>()) {
    const uint8_t* y = a + blk * sizeof(BlockQ8_K);
    __m512i total[C];  // I
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) total[c] = _mm512_setzero_si512();
#pragma GCC unroll 1
    for (int g = 0; g < kGroups; ++g) {
      __m512i s[C];
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) s[c] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int step = 0; step < kSteps; ++step) {
        const int e = 4 * (g * kSteps + step);  // first element of the step
        const __m512i wq = _mm512_load_si512(panel + 16 * e);
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          s[c] = DotBytesBroadcast(s[c], wq, y + c * a_stride + offsetof(BlockQ8_K, qs) + e);
        }
      }
      const __m512i sc = _mm512_load_si512(panel + ScaleOffset<T>() + 64 * g);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        total[c] = _mm512_add_epi32(total[c], _mm512_mullo_epi32(s[c], sc));
      }
    }
    // The bsums term: into M (types with mins) or I.
    __m512i corr_sum[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) corr_sum[c] = T::kMins ? _mm512_setzero_si512() : total[c];
#pragma GCC unroll 8
    for (int i = 0; i < kPairs; ++i) {
      const __m512i corr = _mm512_load_si512(panel + CorrOffset<T>() + 64 * i);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const uint8_t* sums = kPairs == 4 ? extra + c * extra_stride + blk * kExtraBytes + 4 * i
                                          : y + c * a_stride + offsetof(BlockQ8_K, bsums) + 4 * i;
        corr_sum[c] = DotWordsBroadcast(corr_sum[c], corr, sums);
      }
    }
    const __m512 d = _mm512_load_ps(panel + DOffset<T>());
    const __m512 dmin = _mm512_load_ps(panel + DOffset<T>() + 64);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      __m512 t;
      if constexpr (T::kMins) {
        t = _mm512_mul_ps(_mm512_cvtepi32_ps(total[c]), d);
        t = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(corr_sum[c]), dmin, t);
      } else {
        t = _mm512_mul_ps(_mm512_cvtepi32_ps(corr_sum[c]), d);
      }
      acc[c] = _mm512_fmadd_ps(t, _mm512_set1_ps(LoadF32(y + c * a_stride)), acc[c]);
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) _mm512_mask_storeu_ps(out + c * out_stride, rows, acc[c]);
}

template <class T, int C>
[[gnu::always_inline]] static inline void PanelColumnsLeft(int nc, int64_t nb, const uint8_t* panel,
                                                           const uint8_t* a, size_t a_stride,
                                                           const uint8_t* extra,
                                                           size_t extra_stride, float* out,
                                                           size_t out_stride, int nr, bool carry) {
  if constexpr (C > 0) {
    if (nc == C) {
      PanelTile<T, C>(nb, panel, a, a_stride, extra, extra_stride, out, out_stride, nr, carry);
    } else {
      PanelColumnsLeft<T, C - 1>(nc, nb, panel, a, a_stride, extra, extra_stride, out, out_stride,
                                 nr, carry);
    }
  }
}

// The panel's nr rows times nc columns (a: the columns' activation blocks of the panel's k
// range), out[c * out_stride + r].
template <class T>
void PanelGemm(int64_t nb, const void* panel, const void* a, size_t a_stride, const void* extra,
               size_t extra_stride, int nc, float* out, size_t out_stride, int nr, bool carry) {
  const auto* p = static_cast<const uint8_t*>(panel);
  const auto* ab = static_cast<const uint8_t*>(a);
  const auto* eb = static_cast<const uint8_t*>(extra);
  // Column tiles as even as possible (9 -> 5 + 4, not 8 + 1).
  const int tiles = (nc + kMaxColumns - 1) / kMaxColumns;
  int c = 0;
  for (int t = 0; t < tiles; ++t) {
    const int width = (nc - c + (tiles - t) - 1) / (tiles - t);
    PanelColumnsLeft<T, kMaxColumns>(width, nb, p, ab + c * a_stride, a_stride,
                                     eb != nullptr ? eb + c * extra_stride : nullptr, extra_stride,
                                     out + c * out_stride, out_stride, nr, carry);
    c += width;
  }
}

// The panel and, behind it, the staging area of Pack.
template <class T>
size_t PanelBytes(int64_t nb) {
  return static_cast<size_t>(nb) * (BlockBytes<T>() + kRows * sizeof(StagedBlock));
}

// prepare_acts of the types with groups of 32: per block, the int16 pairs (B_2i, B_2i+1) of
// the activation sums of the 8 groups of 32, B_j = bsum_2j + bsum_2j+1.
void PrepareGroupSums(const void* a, int64_t nb, void* extra) {
  const auto* blocks = static_cast<const uint8_t*>(a);
  auto* out = static_cast<uint8_t*>(extra);
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i bsums = Load256(blocks + b * sizeof(BlockQ8_K) + offsetof(BlockQ8_K, bsums));
    const __m256i sums = _mm256_madd_epi16(bsums, _mm256_set1_epi16(1));  // {8} int32, |B| < 2^13
    const __m128i pairs =
        _mm_packs_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + b * kExtraBytes), pairs);
  }
}

template <class T>
constexpr PackedGemmKernels Entry() {
  if constexpr (CorrPairs<T>() == 4) {
    return PackedGemmKernels{
        kRows, kQK_K, 1, PanelBytes<T>, Pack<T>, kExtraBytes, PrepareGroupSums, PanelGemm<T>};
  } else {
    return PackedGemmKernels{kRows, kQK_K, 1, PanelBytes<T>, Pack<T>, 0, nullptr, PanelGemm<T>};
  }
}

}  // namespace packed
