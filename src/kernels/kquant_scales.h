// Word-at-a-time unpacking of the packed 6-bit K-quant scales, shared by the SIMD kernels.
// Functions are `static inline` on purpose (see util/fp16.h): ISA translation units include
// this header and must not emit shared inline copies.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace autarky::kernels {

// Q4_K/Q5_K: the 12 packed bytes hold 8 scales and 8 mins of 6 bits. Sub-blocks 0-3 keep theirs
// in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 keep the low 4 bits in
// the nibbles of bytes 8-11 and the top 2 bits in the spare top bits of bytes 0-7.
// out receives 16 bytes: scale[0..7], then min[0..7].
static inline void UnpackQ4KScaleMins(const uint8_t* packed, uint32_t out[4]) {
  uint32_t w[3];
  std::memcpy(w, packed, sizeof w);
  out[0] = w[0] & 0x3f3f3f3fu;
  out[1] = (w[2] & 0x0f0f0f0fu) | (((w[0] >> 6) & 0x03030303u) << 4);
  out[2] = w[1] & 0x3f3f3f3fu;
  out[3] = ((w[2] >> 4) & 0x0f0f0f0fu) | (((w[1] >> 6) & 0x03030303u) << 4);
}

// Q3_K: the 12 packed bytes hold 16 scales of 6 bits (bias 32): the low 4 bits of scale j in
// the low nibble of byte j (j < 8) or the high nibble of byte j - 8, the top 2 bits in bit pair
// j / 4 of byte 8 + j % 4. out receives the 16 unbiased-to-be values (0..63) as bytes.
static inline void UnpackQ3KScales(const uint8_t* packed, uint32_t out[4]) {
  uint32_t w[3];
  std::memcpy(w, packed, sizeof w);
  out[0] = (w[0] & 0x0f0f0f0fu) | ((w[2] & 0x03030303u) << 4);
  out[1] = (w[1] & 0x0f0f0f0fu) | (((w[2] >> 2) & 0x03030303u) << 4);
  out[2] = ((w[0] >> 4) & 0x0f0f0f0fu) | (((w[2] >> 4) & 0x03030303u) << 4);
  out[3] = ((w[1] >> 4) & 0x0f0f0f0fu) | (((w[2] >> 6) & 0x03030303u) << 4);
}

// Reads a little-endian value from a possibly unaligned address.
static inline uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
static inline float LoadF32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

#if defined(__AVX2__)
// UnpackQ4KScaleMins in a vector register. `packed` must have 16 readable bytes (the 12 scale
// bytes are followed by the quants in Q4_K and Q5_K blocks). Returns scale[0..7], min[0..7].
static inline __m128i UnpackQ4KScaleMinsX86(const uint8_t* packed) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
  // Words {0, 2, 1, 2} hold the low bits of {scales 0-3, scales 4-7, mins 0-3, mins 4-7};
  // words {-, 0, -, 1} hold the top bits of scales 4-7 and mins 4-7.
  const __m128i low_src = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0));
  const __m128i high_src = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));
  const __m128i low = _mm_and_si128(_mm_srlv_epi32(low_src, _mm_setr_epi32(0, 0, 0, 4)),
                                    _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
  const __m128i high =
      _mm_and_si128(_mm_srli_epi32(high_src, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
  return _mm_or_si128(low, high);
}

// UnpackQ3KScales in a vector register, as bytes 0..63 (bias not removed). `packed_minus_4`
// points 4 bytes before the scales (the end of qs), so the 16-byte load stays inside the block.
static inline __m128i UnpackQ3KScalesX86(const uint8_t* packed_minus_4) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed_minus_4));
  // Low nibbles: scales 0-7 from the low nibbles of bytes 0-7 (words 1, 2 of v), 8-15 from their
  // high nibbles. Top bit pairs: pair j / 4 of bytes 8-11 (word 3 of v).
  const __m128i low_src = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 1));
  const __m128i high_src = _mm_shuffle_epi32(v, _MM_SHUFFLE(3, 3, 3, 3));
  const __m128i low = _mm_and_si128(_mm_srlv_epi32(low_src, _mm_setr_epi32(0, 0, 4, 4)),
                                    _mm_set1_epi32(0x0f0f0f0f));
  const __m128i high =
      _mm_and_si128(_mm_slli_epi32(_mm_srlv_epi32(high_src, _mm_setr_epi32(0, 2, 4, 6)), 4),
                    _mm_set1_epi32(0x30303030));
  return _mm_or_si128(low, high);
}
#endif  // __AVX2__

}  // namespace autarky::kernels
