// Block layouts of the quantized tensor types, byte-for-byte those of GGUF files (llama.cpp).
// Every struct is POD; half-precision fields hold raw IEEE F16 bits (see util/fp16.h).
// A block encodes kBlockSize consecutive weights of one row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace autarky {

inline constexpr int kQK = 32;    // block size of the "legacy" types (Q4_0 ... Q8_1, IQ4_NL)
inline constexpr int kQK_K = 256;  // super-block size of the K-quants and IQ4_XS
inline constexpr int kKScaleSize = 12;  // packed 6-bit scales+mins of Q4_K/Q5_K

// 4.5 bpw: x = d * (q - 8), q in [0,15]; qs[j] holds q[j] (low nibble) and q[j+16] (high).
struct BlockQ4_0 {
  static constexpr int kBlockSize = kQK;
  uint16_t d;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// 5.0 bpw: x = d * q + m, q in [0,15].
struct BlockQ4_1 {
  static constexpr int kBlockSize = kQK;
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

// 5.5 bpw: x = d * (q - 16), q in [0,31]; bit 4 of q[j] is bit j of qh (little-endian u32).
struct BlockQ5_0 {
  static constexpr int kBlockSize = kQK;
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

// 6.0 bpw: x = d * q + m, q in [0,31].
struct BlockQ5_1 {
  static constexpr int kBlockSize = kQK;
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

// 8.5 bpw: x = d * q, q in [-127,127]. Also the activation type paired with Q4_0/Q5_0/Q8_0.
struct BlockQ8_0 {
  static constexpr int kBlockSize = kQK;
  uint16_t d;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Activation-only: like Q8_0 plus s = d * sum(qs) (F16), for weights with an offset (Q4_1/Q5_1).
struct BlockQ8_1 {
  static constexpr int kBlockSize = kQK;
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_1) == 36);

// 2.625 bpw: 16 sub-blocks of 16; x = d * sc * q - dmin * m, with sc (low nibble) and m (high
// nibble) from scales[sub-block], q in [0,3].
struct BlockQ2_K {
  static constexpr int kBlockSize = kQK_K;
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

// 3.4375 bpw: 16 sub-blocks of 16; x = d * (sc - 32) * (q - 4 * !hbit), 6-bit sc packed in scales.
struct BlockQ3_K {
  static constexpr int kBlockSize = kQK_K;
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// 4.5 bpw: 8 sub-blocks of 32; x = d * sc * q - dmin * m, 6-bit sc and m packed in scales.
struct BlockQ4_K {
  static constexpr int kBlockSize = kQK_K;
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// 5.5 bpw: as Q4_K with a fifth bit per weight in qh.
struct BlockQ5_K {
  static constexpr int kBlockSize = kQK_K;
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// 6.5625 bpw: 16 sub-blocks of 16; x = d * sc * (q - 32), q = 4 low bits (ql) + 2 high (qh).
struct BlockQ6_K {
  static constexpr int kBlockSize = kQK_K;
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// Activation-only: x = d * q with an F32 scale and the sums of each 16 quants (for the mins).
struct BlockQ8_K {
  static constexpr int kBlockSize = kQK_K;
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

// 4.5 bpw non-linear: x = d * kIq4nlValues[q], q in [0,15], nibble layout as Q4_0.
struct BlockIQ4_NL {
  static constexpr int kBlockSize = kQK;
  uint16_t d;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

// 4.25 bpw non-linear: 8 sub-blocks of 32; x = d * (ls - 32) * kIq4nlValues[q], 6-bit ls split
// into scales_l (low 4 bits) and scales_h (high 2 bits).
struct BlockIQ4_XS {
  static constexpr int kBlockSize = kQK_K;
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockIQ4_XS) == 136);

// The 16 levels of IQ4_NL / IQ4_XS (a non-uniform grid fitted to weight distributions).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

static_assert(std::is_trivially_copyable_v<BlockQ4_K> && std::is_standard_layout_v<BlockQ4_K>);

}  // namespace autarky
