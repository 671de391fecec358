// Tests of the F32, F16 and BF16 row conversions against hand-derived IEEE encodings.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/quantize.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

std::vector<float> Decode(DType type, const std::vector<uint16_t>& bits) {
  std::vector<float> out(bits.size());
  DequantizeRow(type, bits.data(), out.data(), static_cast<int64_t>(bits.size()));
  return out;
}

std::vector<uint16_t> Encode(DType type, const std::vector<float>& values) {
  std::vector<uint16_t> out(values.size());
  EXPECT_EQ(QuantizeRows(type, values.data(), out.data(), 1, static_cast<int64_t>(values.size())),
            values.size() * 2);
  return out;
}

TEST(QuantizeFloatTest, F16DecodesKnownEncodings) {
  const std::vector<float> got =
      Decode(DType::kF16, {0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x3555, 0x8000, 0x7c00, 0xfc00});
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], -2.0f);
  EXPECT_EQ(got[2], 65504.0f);                               // largest finite half
  EXPECT_EQ(got[3], std::ldexp(1.0f, -24));                  // smallest subnormal
  EXPECT_EQ(got[4], std::ldexp(1.0f, -14));                  // smallest normal
  EXPECT_EQ(got[5], 0x155 * std::ldexp(1.0f, -12) + 0.25f);  // 0.333251953125
  EXPECT_TRUE(got[6] == 0.0f && std::signbit(got[6]));
  EXPECT_EQ(got[7], std::numeric_limits<float>::infinity());
  EXPECT_EQ(got[8], -std::numeric_limits<float>::infinity());
}

TEST(QuantizeFloatTest, F16EncodesRoundingToNearestEven) {
  const float one_ulp = std::ldexp(1.0f, -10);  // spacing of halves in [1, 2)
  const std::vector<uint16_t> got =
      Encode(DType::kF16, {1.0f, 1.0f + one_ulp / 2, 1.0f + 3 * one_ulp / 2, 65520.0f, 65519.0f,
                           std::ldexp(1.0f, -25), std::ldexp(3.0f, -25), -0.0f, 1e-10f});
  EXPECT_EQ(got[0], 0x3c00);
  EXPECT_EQ(got[1], 0x3c00);  // tie -> even mantissa
  EXPECT_EQ(got[2], 0x3c02);  // tie -> even mantissa (up)
  EXPECT_EQ(got[3], 0x7c00);  // rounds past 65504: infinity
  EXPECT_EQ(got[4], 0x7bff);
  EXPECT_EQ(got[5], 0x0000);  // half the smallest subnormal: tie -> even (zero)
  EXPECT_EQ(got[6], 0x0002);  // 1.5 subnormal ulps -> 2
  EXPECT_EQ(got[7], 0x8000);
  EXPECT_EQ(got[8], 0x0000);
}

TEST(QuantizeFloatTest, Bf16DecodesAndEncodesKnownValues) {
  const std::vector<float> decoded = Decode(DType::kBF16, {0x3f80, 0xc049, 0x0001, 0x7f80});
  EXPECT_EQ(decoded[0], 1.0f);
  EXPECT_EQ(decoded[1], -(2.0f + 0x49 * std::ldexp(1.0f, -6)));  // -3.140625
  EXPECT_EQ(decoded[2], std::ldexp(1.0f, -133));
  EXPECT_EQ(decoded[3], std::numeric_limits<float>::infinity());

  auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  };
  const std::vector<uint16_t> encoded =
      Encode(DType::kBF16, {from_bits(0x3f808000), from_bits(0x3f818000), from_bits(0x3f808001),
                            from_bits(0x7f7fffff), -1.0f});
  EXPECT_EQ(encoded[0], 0x3f80);  // tie -> even
  EXPECT_EQ(encoded[1], 0x3f82);  // tie -> even (up)
  EXPECT_EQ(encoded[2], 0x3f81);  // above the tie
  EXPECT_EQ(encoded[3], 0x7f80);  // largest float rounds to infinity
  EXPECT_EQ(encoded[4], 0xbf80);
}

TEST(QuantizeFloatTest, F32RowsCopyEveryBit) {
  const std::vector<float> x = {1.5f, -0.0f, std::ldexp(1.0f, -140), -3e38f, 0.1f};
  std::vector<float> stored(x.size());
  EXPECT_EQ(QuantizeRows(DType::kF32, x.data(), stored.data(), 1, 5), 20u);
  std::vector<float> back(x.size());
  DequantizeRow(DType::kF32, stored.data(), back.data(), 5);
  EXPECT_EQ(std::memcmp(back.data(), x.data(), sizeof(float) * x.size()), 0);
}

// Encoding then decoding F16 changes a float by at most half an F16 ulp: 2^-11 relative in
// the normal range, 2^-25 absolute among subnormals.
TEST(QuantizeFloatTest, F16RoundTripWithinHalfUlp) {
  std::vector<float> x;
  for (int e = -30; e <= 15; ++e) {
    for (float m : {1.0f, 1.1f, 1.37f, 1.999f}) x.push_back(std::ldexp(m, e) * (e % 2 ? -1 : 1));
  }
  const std::vector<float> back = Decode(DType::kF16, Encode(DType::kF16, x));
  for (size_t i = 0; i < x.size(); ++i) {
    const float bound = std::max(std::fabs(x[i]) * std::ldexp(1.0f, -11), std::ldexp(1.0f, -25));
    EXPECT_LE(std::fabs(back[i] - x[i]), bound) << x[i];
  }
}

}  // namespace
}  // namespace autarky::kernels
