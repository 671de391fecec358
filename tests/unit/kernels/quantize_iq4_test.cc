// Known-answer tests of IQ4_NL and IQ4_XS: hand-packed blocks decode to hand-computed values
// on the non-linear grid, all-zero blocks quantize to known bytes, and weights that lie exactly
// on a power-of-two-scaled grid are found exactly by the scale search.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/quantize.h"
#include "tensor/quant_blocks.h"

namespace autarky::kernels {
namespace {

// The IQ4_NL grid as published with the format (llama.cpp's kvalues_iq4nl).
constexpr int kGrid[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                           1,    13,   25,  38,  53,  69,  89,  113};

TEST(QuantizeIq4Test, GridMatchesTheFormat) {
  for (int i = 0; i < 16; ++i) EXPECT_EQ(kIq4nlValues[i], kGrid[i]) << i;
}

TEST(QuantizeIq4Test, Iq4NlDecodesHandBuiltBlock) {
  BlockIQ4_NL b{};
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  std::vector<float> y(kQK);
  DequantizeRow(DType::kIQ4_NL, &b, y.data(), kQK);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * static_cast<float>(kGrid[j])) << j;
    EXPECT_EQ(y[j + 16], 0.5f * static_cast<float>(kGrid[15 - j])) << j;
  }
}

TEST(QuantizeIq4Test, Iq4XsDecodesHandBuiltBlock) {
  // Group scales ls = {0, 63, 32, 31, 1, 48, 16, 40}: low nibbles in scales_l (even group
  // low), top 2 bits of group g at bits 2g of scales_h.
  const int ls[8] = {0, 63, 32, 31, 1, 48, 16, 40};
  BlockIQ4_XS b{};
  b.d = 0x3400;  // 0.25
  const uint8_t scales_l[4] = {0xf0, 0xf0, 0x01, 0x80};
  std::memcpy(b.scales_l, scales_l, 4);
  b.scales_h = 0x9c6c;  // top bits 0, 3, 2, 1, 0, 3, 1, 2
  for (int g = 0; g < 8; ++g) {
    for (int j = 0; j < 16; ++j) b.qs[16 * g + j] = static_cast<uint8_t>(j | (15 - j) << 4);
  }
  std::vector<float> y(kQK_K);
  DequantizeRow(DType::kIQ4_XS, &b, y.data(), kQK_K);
  for (int e = 0; e < kQK_K; ++e) {
    const int g = e / 32, r = e % 32;
    const int index = r < 16 ? r : 15 - (r - 16);
    EXPECT_EQ(y[e], 0.25f * static_cast<float>(ls[g] - 32) * static_cast<float>(kGrid[index])) << e;
  }
  EXPECT_EQ(y[32], 0.25f * 31 * -127);  // group 1 (ls 63), index 0
}

// All-zero input: IQ4_NL stores d = 0; IQ4_XS stores d = -0 / 32 = -0 (F16 0x8000) with every
// group scale code 0 + 32 (scales_h fields = 2). Indices are those of 0 on the grid: 8 (value 1,
// the nearer of -10 and 1).
TEST(QuantizeIq4Test, AllZeroBlocksHaveKnownBytes) {
  const std::vector<float> zeros(kQK_K, 0.0f);
  BlockIQ4_NL nl;
  QuantizeRows(DType::kIQ4_NL, zeros.data(), &nl, 1, kQK);
  EXPECT_EQ(nl.d, 0x0000);
  for (uint8_t byte : nl.qs) EXPECT_EQ(byte, 0x88);
  BlockIQ4_XS xs;
  QuantizeRows(DType::kIQ4_XS, zeros.data(), &xs, 1, kQK_K);
  EXPECT_EQ(xs.d, 0x8000);
  EXPECT_EQ(xs.scales_h, 0xaaaa);
  for (uint8_t byte : xs.scales_l) EXPECT_EQ(byte, 0x00);
  for (uint8_t byte : xs.qs) EXPECT_EQ(byte, 0x88);
}

// x = s * grid[c] with s a power of two: the alignment that maps the extreme -127 s to the
// grid's end gives a perfect fit (zero error, the search's maximum), so d = s and every index
// is c.
TEST(QuantizeIq4Test, Iq4NlFindsWeightsOnTheGridExactly) {
  const float s = 0x1p-6f;
  std::vector<float> x(kQK);
  for (int j = 0; j < kQK; ++j) x[j] = s * static_cast<float>(kGrid[(7 * j) % 16]);
  BlockIQ4_NL b;
  QuantizeRows(DType::kIQ4_NL, x.data(), &b, 1, kQK);
  EXPECT_EQ(b.d, 0x2400);  // 2^-6
  std::vector<float> y(kQK);
  DequantizeRow(DType::kIQ4_NL, &b, y.data(), kQK);
  EXPECT_EQ(y, x);
}

// Group g holds s_g * grid[c] with s_g = (g + 1) / 64: the super-scale is -max s / 32 = -2^-8
// and group g's 6-bit scale -4 (g + 1), so every group scale and index is exact.
TEST(QuantizeIq4Test, Iq4XsFindsWeightsOnScaledGridsExactly) {
  std::vector<float> x(kQK_K);
  for (int e = 0; e < kQK_K; ++e) {
    const float s = static_cast<float>(e / 32 + 1) * 0x1p-6f;
    x[e] = s * static_cast<float>(kGrid[(5 * e + e / 32) % 16]);
  }
  BlockIQ4_XS b;
  QuantizeRows(DType::kIQ4_XS, x.data(), &b, 1, kQK_K);
  EXPECT_EQ(b.d, 0x9c00);  // -2^-8
  std::vector<float> y(kQK_K);
  DequantizeRow(DType::kIQ4_XS, &b, y.data(), kQK_K);
  EXPECT_EQ(y, x);
}

}  // namespace
}  // namespace autarky::kernels
