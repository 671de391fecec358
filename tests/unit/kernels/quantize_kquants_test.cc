// Known-answer tests of the K-quants (Q2_K..Q6_K) and Q8_K: hand-packed super-blocks decode to
// hand-computed values, all-zero super-blocks quantize to known bytes, and constant blocks
// whose scale chain is exact in F16 round-trip exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/quantize.h"
#include "tensor/quant_blocks.h"

namespace autarky::kernels {
namespace {

constexpr uint16_t kHalfEighth = 0x3000;   // 0.125
constexpr uint16_t kHalfQuarter = 0x3400;  // 0.25
constexpr uint16_t kHalfHalf = 0x3800;     // 0.5
constexpr uint16_t kHalfOne = 0x3c00;      // 1.0

template <typename Block>
std::vector<float> DecodeBlock(DType type, const Block& block) {
  std::vector<float> out(kQK_K);
  DequantizeRow(type, &block, out.data(), kQK_K);
  return out;
}

template <typename Block>
Block EncodeBlock(DType type, const std::vector<float>& x) {
  Block block;
  std::memset(&block, 0xee, sizeof block);
  EXPECT_EQ(QuantizeRows(type, x.data(), &block, 1, kQK_K), sizeof block);
  return block;
}

template <typename Block>
bool AllBytesZero(const Block& block) {
  const auto* p = reinterpret_cast<const uint8_t*>(&block);
  return std::all_of(p, p + sizeof block, [](uint8_t v) { return v == 0; });
}

// 0xe4 = fields 3,2,1,0 from the top: the 2-bit field f of every byte holds f, so in
// Q2_K/Q3_K element e gets low bits (e % 128) / 32.
constexpr uint8_t kFieldIndexByte = 0xe4;

TEST(QuantizeKQuantsTest, Q2_KDecodesHandBuiltBlock) {
  BlockQ2_K b{};
  b.d = kHalfHalf;
  b.dmin = kHalfQuarter;
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  std::fill(std::begin(b.qs), std::end(b.qs), kFieldIndexByte);
  const std::vector<float> y = DecodeBlock(DType::kQ2_K, b);
  for (int e = 0; e < kQK_K; ++e) {
    const int sub = e / 16, q = (e % 128) / 32;
    EXPECT_EQ(y[e], 0.5f * static_cast<float>(sub * q) - 0.25f * static_cast<float>(15 - sub)) << e;
  }
  // Spot checks by hand: element 37 is in sub-block 2 (sc 2, m 13) with q 1: 1 - 3.25.
  EXPECT_EQ(y[37], -2.25f);
  // Element 255: sub-block 15 (sc 15, m 0), q 3: 0.5 * 45.
  EXPECT_EQ(y[255], 22.5f);
}

TEST(QuantizeKQuantsTest, Q3_KDecodesHandBuiltBlock) {
  // Sub-block j has 6-bit scale s_j = 8 + 3j (so s - 32 runs -24..21); low nibbles of 0-7 in
  // the low halves of bytes 0-7, of 8-15 in their high halves; top bits at byte 8 + j % 4,
  // bit 2 * (j / 4).
  int s[16];
  BlockQ3_K b{};
  for (int j = 0; j < 16; ++j) {
    s[j] = 8 + 3 * j;
    if (j < 8) {
      b.scales[j] = static_cast<uint8_t>(b.scales[j] | (s[j] & 15));
    } else {
      b.scales[j - 8] = static_cast<uint8_t>(b.scales[j - 8] | (s[j] & 15) << 4);
    }
    b.scales[8 + j % 4] = static_cast<uint8_t>(b.scales[8 + j % 4] | (s[j] >> 4) << (2 * (j / 4)));
  }
  b.d = kHalfQuarter;
  std::fill(std::begin(b.qs), std::end(b.qs), kFieldIndexByte);
  // High bit of element e: bit e / 32 of hmask[e % 32]; 0x0f / 0xf0 alternate by byte.
  for (int i = 0; i < 32; ++i) b.hmask[i] = i % 2 == 0 ? 0x0f : 0xf0;
  const std::vector<float> y = DecodeBlock(DType::kQ3_K, b);
  for (int e = 0; e < kQK_K; ++e) {
    const int sub = e / 16;
    const bool high = (e % 2 == 0) ? (e / 32 < 4) : (e / 32 >= 4);
    const int level = (e % 128) / 32 + (high ? 0 : -4);
    EXPECT_EQ(y[e], 0.25f * static_cast<float>(s[sub] - 32) * static_cast<float>(level)) << e;
  }
  // Element 0: s 8 -> -24, low bits 0, high bit set: level 0. Element 33: sub-block 2
  // (s 14 -> -18), low bits 1, odd byte below 128 has no high bit: level -3: 0.25 * 54.
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[33], 13.5f);
}

// Hand-packed 6-bit (scale, min) pairs shared by the Q4_K and Q5_K tests:
// scales {1, 2, 3, 63, 17, 33, 48, 5}, mins {0, 63, 16, 2, 40, 1, 32, 7}.
constexpr int kSc[8] = {1, 2, 3, 63, 17, 33, 48, 5};
constexpr int kMn[8] = {0, 63, 16, 2, 40, 1, 32, 7};
constexpr uint8_t kPackedScaleMin[12] = {0x41, 0x82, 0xc3, 0x3f, 0x80, 0x3f,
                                         0x90, 0x02, 0x81, 0x11, 0x00, 0x75};

// Bytes 32p + l hold element 64p + l (low nibble) and 64p + 32 + l (high): l % 16 low and
// 15 - l % 16 high.
uint8_t NibblePattern(int l) { return static_cast<uint8_t>((l % 16) | (15 - l % 16) << 4); }
int NibbleCode(int e) { return (e / 32) % 2 == 0 ? e % 16 : 15 - e % 16; }

TEST(QuantizeKQuantsTest, Q4_KDecodesHandBuiltBlock) {
  BlockQ4_K b{};
  b.d = kHalfOne;
  b.dmin = kHalfHalf;
  std::memcpy(b.scales, kPackedScaleMin, 12);
  for (int i = 0; i < 128; ++i) b.qs[i] = NibblePattern(i % 32);
  const std::vector<float> y = DecodeBlock(DType::kQ4_K, b);
  for (int e = 0; e < kQK_K; ++e) {
    const int sub = e / 32;
    EXPECT_EQ(y[e],
              static_cast<float>(kSc[sub] * NibbleCode(e)) - 0.5f * static_cast<float>(kMn[sub]))
        << e;
  }
  EXPECT_EQ(y[200], 48.0f * 8 - 16.0f);  // sub-block 6 (sc 48, m 32): low nibble of byte 104 = 8
}

TEST(QuantizeKQuantsTest, Q5_KDecodesHandBuiltBlock) {
  BlockQ5_K b{};
  b.d = kHalfOne;
  b.dmin = kHalfHalf;
  std::memcpy(b.scales, kPackedScaleMin, 12);
  for (int i = 0; i < 128; ++i) b.qs[i] = NibblePattern(i % 32);
  // Fifth bit of element e: bit e / 32 (its sub-block) of qh[e % 32].
  for (int l = 0; l < 32; ++l) b.qh[l] = static_cast<uint8_t>(0xa5 ^ l);
  const std::vector<float> y = DecodeBlock(DType::kQ5_K, b);
  for (int e = 0; e < kQK_K; ++e) {
    const int sub = e / 32;
    const int code = NibbleCode(e) + (((0xa5 ^ (e % 32)) >> sub) & 1) * 16;
    EXPECT_EQ(y[e], static_cast<float>(kSc[sub] * code) - 0.5f * static_cast<float>(kMn[sub])) << e;
  }
}

TEST(QuantizeKQuantsTest, Q6_KDecodesHandBuiltBlock) {
  BlockQ6_K b{};
  b.d = kHalfEighth;
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(17 * j - 128);
  // Element 128h + 32k + l: low nibble k / 2 of ql[64h + 32(k % 2) + l] (0x21: 1, then 2),
  // high 2 bits = field k of qh[32h + l] (0xe4: k). Codes per k: 1, 17, 34, 50.
  std::fill(std::begin(b.ql), std::end(b.ql), 0x21);
  std::fill(std::begin(b.qh), std::end(b.qh), kFieldIndexByte);
  const int codes[4] = {1, 17, 34, 50};
  const std::vector<float> y = DecodeBlock(DType::kQ6_K, b);
  for (int e = 0; e < kQK_K; ++e) {
    const float sc = static_cast<float>(17 * (e / 16) - 128);
    EXPECT_EQ(y[e], 0.125f * sc * static_cast<float>(codes[(e % 128) / 32] - 32)) << e;
  }
  EXPECT_EQ(y[0], 0.125f * -128 * -31);
}

TEST(QuantizeKQuantsTest, Q8_KDecodesHandBuiltBlock) {
  BlockQ8_K b{};
  b.d = -0.375f;
  for (int j = 0; j < kQK_K; ++j) b.qs[j] = static_cast<int8_t>(j - 128);
  const std::vector<float> y = DecodeBlock(DType::kQ8_K, b);
  for (int j = 0; j < kQK_K; ++j) EXPECT_EQ(y[j], -0.375f * static_cast<float>(j - 128)) << j;
}

// All-zero super-blocks: every scale search returns 0 and leaves its levels at 0, and every
// stored scale and min is 0, so all five formats store all-zero bytes.
TEST(QuantizeKQuantsTest, AllZeroSuperBlocksAreAllZeroBytes) {
  const std::vector<float> zeros(kQK_K, 0.0f);
  EXPECT_TRUE(AllBytesZero(EncodeBlock<BlockQ2_K>(DType::kQ2_K, zeros)));
  EXPECT_TRUE(AllBytesZero(EncodeBlock<BlockQ3_K>(DType::kQ3_K, zeros)));
  EXPECT_TRUE(AllBytesZero(EncodeBlock<BlockQ4_K>(DType::kQ4_K, zeros)));
  EXPECT_TRUE(AllBytesZero(EncodeBlock<BlockQ5_K>(DType::kQ5_K, zeros)));
  EXPECT_TRUE(AllBytesZero(EncodeBlock<BlockQ6_K>(DType::kQ6_K, zeros)));
}

// Constant c: every Q6_K sub-block fits scale -c/32 (code -32), the largest of equal scales
// maps to sub-scale -128 with d = c/4096; Q3_K fits -c/4 (code -4), sub-scale -32 (stored 0)
// with d = c/128. For c = 0.5 both d are powers of two, exact in F16, so x comes back exactly.
TEST(QuantizeKQuantsTest, ConstantBlocksWithExactScalesRoundTrip) {
  const std::vector<float> x(kQK_K, 0.5f);
  const auto q6 = EncodeBlock<BlockQ6_K>(DType::kQ6_K, x);
  EXPECT_EQ(q6.d, 0x0800);  // 2^-13
  for (int8_t sc : q6.scales) EXPECT_EQ(sc, -128);
  EXPECT_EQ(DecodeBlock(DType::kQ6_K, q6), x);
  const auto q3 = EncodeBlock<BlockQ3_K>(DType::kQ3_K, x);
  EXPECT_EQ(q3.d, 0x1c00);  // 2^-8
  EXPECT_EQ(DecodeBlock(DType::kQ3_K, q3), x);
}

}  // namespace
}  // namespace autarky::kernels
