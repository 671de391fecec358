// A 16 x 16 transpose of 32-bit elements in AVX-512 registers, for the packing of weight rows
// into panels (lanes = rows). Include INSIDE the anonymous namespace of an AVX-512 translation
// unit (see gemm_tiling_inl.h for why such helpers must not be shared across files).

// 16 x 16 transpose of 32-bit elements: in[r] holds row r; out[j] = element j of every row.
[[gnu::always_inline]] static inline void Transpose16x16(__m512i (&x)[16]) {
  __m512i t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(x[2 * i], x[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(x[2 * i], x[2 * i + 1]);
  }
  // t[2i], t[2i+1]: per 128-bit lane, rows 2i, 2i+1 interleaved (elements 0,1 and 2,3).
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    x[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    x[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    x[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    x[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // x[4i + e]: per 128-bit lane l, element 4l + e of rows 4i .. 4i + 3.
#pragma GCC unroll 4
  for (int e = 0; e < 4; ++e) {
    t[e] = _mm512_shuffle_i32x4(x[e], x[4 + e], 0x88);      // lanes 0, 2 of rows 0-3, 4-7
    t[4 + e] = _mm512_shuffle_i32x4(x[e], x[4 + e], 0xdd);  // lanes 1, 3
    t[8 + e] = _mm512_shuffle_i32x4(x[8 + e], x[12 + e], 0x88);
    t[12 + e] = _mm512_shuffle_i32x4(x[8 + e], x[12 + e], 0xdd);
  }
#pragma GCC unroll 4
  for (int e = 0; e < 4; ++e) {
    x[e] = _mm512_shuffle_i32x4(t[e], t[8 + e], 0x88);            // lane 0 (element e)
    x[8 + e] = _mm512_shuffle_i32x4(t[e], t[8 + e], 0xdd);        // lane 2 (element 8 + e)
    x[4 + e] = _mm512_shuffle_i32x4(t[4 + e], t[12 + e], 0x88);   // lane 1 (element 4 + e)
    x[12 + e] = _mm512_shuffle_i32x4(t[4 + e], t[12 + e], 0xdd);  // lane 3 (element 12 + e)
  }
}
