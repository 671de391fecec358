// Known-answer tests of the 32-weight block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1):
// hand-built blocks decode to hand-computed values, small inputs quantize to hand-derived
// bytes (including the truncation and round-half-away rules), and random rows stay within
// the error bound of each format.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/quantize.h"
#include "tensor/quant_blocks.h"
#include "unit/kernels/quantize_spec.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

// F16 encodings of a few exact values.
constexpr uint16_t kHalfQuarter = 0x3400;  // 0.25
constexpr uint16_t kHalfHalf = 0x3800;     // 0.5
constexpr uint16_t kHalfOne = 0x3c00;      // 1.0
constexpr uint16_t kHalfTwo = 0x4000;      // 2.0
constexpr uint16_t kHalfMinusOne = 0xbc00;
constexpr uint16_t kHalfMinusZero = 0x8000;

template <typename Block>
std::vector<float> DecodeBlock(DType type, const Block& block) {
  std::vector<float> out(kQK);
  DequantizeRow(type, &block, out.data(), kQK);
  return out;
}

template <typename Block>
Block EncodeBlock(DType type, const std::vector<float>& x) {
  Block block;
  std::memset(&block, 0xee, sizeof block);
  EXPECT_EQ(QuantizeRows(type, x.data(), &block, 1, kQK), sizeof block);
  return block;
}

std::vector<float> Ramp(float start) {
  std::vector<float> x(kQK);
  for (int j = 0; j < kQK; ++j) x[j] = start + static_cast<float>(j);
  return x;
}

TEST(QuantizeLegacyTest, Q4_0DecodesHandBuiltBlock) {
  BlockQ4_0 b{};
  b.d = kHalfHalf;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  const std::vector<float> y = DecodeBlock(DType::kQ4_0, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * static_cast<float>(j - 8)) << j;
    EXPECT_EQ(y[j + 16], 0.5f * static_cast<float>(7 - j)) << j;
  }
}

TEST(QuantizeLegacyTest, Q4_1DecodesHandBuiltBlock) {
  BlockQ4_1 b{};
  b.d = kHalfQuarter;
  b.m = kHalfMinusOne;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  const std::vector<float> y = DecodeBlock(DType::kQ4_1, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * static_cast<float>(j) - 1.0f) << j;
    EXPECT_EQ(y[j + 16], 0.25f * static_cast<float>(15 - j) - 1.0f) << j;
  }
}

// qh = 0xaaaa5555: the fifth bit is set for even elements below 16 and odd ones above.
int FifthBitCode(int e) {
  const int nibble = e < 16 ? e : e - 16;
  const bool high = e < 16 ? e % 2 == 0 : e % 2 == 1;
  return nibble | (high ? 16 : 0);
}

TEST(QuantizeLegacyTest, Q5_0DecodesHandBuiltBlock) {
  BlockQ5_0 b{};
  b.d = kHalfOne;
  const uint8_t qh[4] = {0x55, 0x55, 0xaa, 0xaa};
  std::memcpy(b.qh, qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | j << 4);
  const std::vector<float> y = DecodeBlock(DType::kQ5_0, b);
  for (int e = 0; e < kQK; ++e) EXPECT_EQ(y[e], static_cast<float>(FifthBitCode(e) - 16)) << e;
}

TEST(QuantizeLegacyTest, Q5_1DecodesHandBuiltBlock) {
  BlockQ5_1 b{};
  b.d = kHalfHalf;
  b.m = kHalfTwo;
  const uint8_t qh[4] = {0x55, 0x55, 0xaa, 0xaa};
  std::memcpy(b.qh, qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | j << 4);
  const std::vector<float> y = DecodeBlock(DType::kQ5_1, b);
  for (int e = 0; e < kQK; ++e) {
    EXPECT_EQ(y[e], 0.5f * static_cast<float>(FifthBitCode(e)) + 2.0f) << e;
  }
}

TEST(QuantizeLegacyTest, Q8_0AndQ8_1DecodeHandBuiltBlocks) {
  BlockQ8_0 b0{};
  b0.d = kHalfTwo;
  BlockQ8_1 b1{};
  b1.d = kHalfQuarter;
  b1.s = 0x7c00;  // the precomputed sum plays no part in dequantization
  for (int j = 0; j < kQK; ++j) {
    b0.qs[j] = static_cast<int8_t>(8 * j - 128);
    b1.qs[j] = static_cast<int8_t>(127 - j);
  }
  const std::vector<float> y0 = DecodeBlock(DType::kQ8_0, b0);
  const std::vector<float> y1 = DecodeBlock(DType::kQ8_1, b1);
  for (int j = 0; j < kQK; ++j) {
    EXPECT_EQ(y0[j], 2.0f * static_cast<float>(8 * j - 128)) << j;
    EXPECT_EQ(y1[j], 0.25f * static_cast<float>(127 - j)) << j;
  }
}

// x = j - 16: the extreme -16 sets d = -16 / -8 = 2, and code = trunc(x / d + 8.5) =
// trunc(j / 2 + 0.5) = ceil(j / 2), clamped to 15.
TEST(QuantizeLegacyTest, Q4_0QuantizesRampByTruncation) {
  const auto b = EncodeBlock<BlockQ4_0>(DType::kQ4_0, Ramp(-16.0f));
  EXPECT_EQ(b.d, kHalfTwo);
  for (int j = 0; j < 16; ++j) {
    const int lo = (j + 1) / 2;
    const int hi = std::min(15, (j + 16 + 1) / 2);
    EXPECT_EQ(b.qs[j], lo | hi << 4) << j;
  }
}

// Ramps that the format represents exactly come back unchanged.
TEST(QuantizeLegacyTest, ExactlyRepresentableRampsRoundTrip) {
  {  // Q5_0: d = -16 / -16 = 1, code = j.
    const std::vector<float> x = Ramp(-16.0f);
    const auto b = EncodeBlock<BlockQ5_0>(DType::kQ5_0, x);
    EXPECT_EQ(b.d, kHalfOne);
    EXPECT_EQ(DecodeBlock(DType::kQ5_0, b), x);
  }
  {  // Q5_1: min -1, d = 31 / 31 = 1.
    const std::vector<float> x = Ramp(-1.0f);
    const auto b = EncodeBlock<BlockQ5_1>(DType::kQ5_1, x);
    EXPECT_EQ(b.d, kHalfOne);
    EXPECT_EQ(b.m, kHalfMinusOne);
    EXPECT_EQ(DecodeBlock(DType::kQ5_1, b), x);
  }
  {  // Q4_1: x = j % 16 - 1, min -1, d = 15 / 15 = 1.
    std::vector<float> x(kQK);
    for (int j = 0; j < kQK; ++j) x[j] = static_cast<float>(j % 16 - 1);
    const auto b = EncodeBlock<BlockQ4_1>(DType::kQ4_1, x);
    EXPECT_EQ(b.d, kHalfOne);
    EXPECT_EQ(b.m, kHalfMinusOne);
    for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], j | j << 4);
    EXPECT_EQ(DecodeBlock(DType::kQ4_1, b), x);
  }
}

// amax 127 makes d = 1, so codes are the inputs rounded half away from zero (roundf), which
// differs from the ties-to-even rounding of the K-quants at 2.5 and -2.5.
TEST(QuantizeLegacyTest, Q8_0RoundsHalfAwayFromZero) {
  std::vector<float> x(kQK, 0.0f);
  const float inputs[] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, -1.5f, 126.5f, -126.49f};
  const int expected[] = {127, 3, -3, 1, -1, 2, -2, 127, -126};
  std::copy(std::begin(inputs), std::end(inputs), x.begin());
  const auto b = EncodeBlock<BlockQ8_0>(DType::kQ8_0, x);
  EXPECT_EQ(b.d, kHalfOne);
  for (size_t j = 0; j < std::size(expected); ++j) EXPECT_EQ(b.qs[j], expected[j]) << j;
  for (int j = static_cast<int>(std::size(expected)); j < kQK; ++j) EXPECT_EQ(b.qs[j], 0);
}

// An all-zero block: d = 0 / -8 is -0 for the symmetric types (stored as F16 -0) and the
// codes sit at the zero level; the offset types store d = m = 0 and code 0.
TEST(QuantizeLegacyTest, AllZeroBlocksHaveKnownBytes) {
  const std::vector<float> zeros(kQK, 0.0f);
  const auto q40 = EncodeBlock<BlockQ4_0>(DType::kQ4_0, zeros);
  EXPECT_EQ(q40.d, kHalfMinusZero);
  for (uint8_t byte : q40.qs) EXPECT_EQ(byte, 0x88);
  const auto q50 = EncodeBlock<BlockQ5_0>(DType::kQ5_0, zeros);
  EXPECT_EQ(q50.d, kHalfMinusZero);
  for (uint8_t byte : q50.qs) EXPECT_EQ(byte, 0x00);  // code 16 = low nibble 0 + fifth bit
  for (uint8_t byte : q50.qh) EXPECT_EQ(byte, 0xff);
  const auto q41 = EncodeBlock<BlockQ4_1>(DType::kQ4_1, zeros);
  const auto q51 = EncodeBlock<BlockQ5_1>(DType::kQ5_1, zeros);
  const auto q80 = EncodeBlock<BlockQ8_0>(DType::kQ8_0, zeros);
  const auto all_zero = [](const auto& block) {
    const auto* p = reinterpret_cast<const uint8_t*>(&block);
    return std::all_of(p, p + sizeof block, [](uint8_t v) { return v == 0; });
  };
  EXPECT_TRUE(all_zero(q41));
  EXPECT_TRUE(all_zero(q51));
  EXPECT_TRUE(all_zero(q80));
  for (float v : DecodeBlock(DType::kQ4_0, q40)) EXPECT_EQ(v, 0.0f);
  for (float v : DecodeBlock(DType::kQ5_0, q50)) EXPECT_EQ(v, 0.0f);
}

// A constant block whose value is exact in F16 comes back exactly from the 4/5-bit types:
// the symmetric ones put it on code 0 with d = c / -8 (or -16), exact in F16, and the
// offset ones store d = 0 and m = c.
TEST(QuantizeLegacyTest, ConstantBlocksRoundTripExactly) {
  for (float c : {0.5f, -3.0f, 0.0078125f}) {
    const std::vector<float> x(kQK, c);
    EXPECT_EQ(DecodeBlock(DType::kQ4_0, EncodeBlock<BlockQ4_0>(DType::kQ4_0, x)), x) << c;
    EXPECT_EQ(DecodeBlock(DType::kQ5_0, EncodeBlock<BlockQ5_0>(DType::kQ5_0, x)), x) << c;
    EXPECT_EQ(DecodeBlock(DType::kQ4_1, EncodeBlock<BlockQ4_1>(DType::kQ4_1, x)), x) << c;
    EXPECT_EQ(DecodeBlock(DType::kQ5_1, EncodeBlock<BlockQ5_1>(DType::kQ5_1, x)), x) << c;
  }
}

// Largest |x - dequant(x)| allowed for a block with unrounded step d (and minimum m) chosen by
// the quantizer. Rounding to the nearest level costs d/2, except on the clamped side of the
// symmetric types (the extreme's mirror image lands one level short: d). Storing d in F16
// moves level q by |q| * F16Err(d) (and the offset by F16Err(m)), where F16Err is half an F16
// ulp: 2^-11 relative for normal halves, 2^-25 absolute among subnormals. Float evaluation
// adds a few ulps of the block's magnitude (kEvalSlack).
constexpr float kEvalSlack = 8 * FLT_EPSILON;

float F16Err(float v) { return std::max(std::fabs(v) * 0x1p-11f, 0x1p-25f); }

float MaxError(DType type, const float* x) {
  float lo = FLT_MAX, hi = -FLT_MAX, amax = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
    amax = std::max(amax, std::fabs(x[j]));
  }
  const float eval = kEvalSlack * amax;
  switch (type) {
    case DType::kQ4_0:
      return amax / 8 + 8 * F16Err(amax / 8) + eval;
    case DType::kQ5_0:
      return amax / 16 + 16 * F16Err(amax / 16) + eval;
    case DType::kQ8_0:
      return amax / 127 * 0.5f + 127 * F16Err(amax / 127) + eval;
    case DType::kQ4_1:
      return (hi - lo) / 15 * 0.5f + 15 * F16Err((hi - lo) / 15) + F16Err(lo) + eval;
    case DType::kQ5_1:
      return (hi - lo) / 31 * 0.5f + 31 * F16Err((hi - lo) / 31) + F16Err(lo) + eval;
    default:
      return 0.0f;
  }
}

TEST(QuantizeLegacyTest, RandomRowsStayWithinFormatErrorBound) {
  constexpr int64_t kN = 64 * kQK;
  for (DType type : {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ8_0}) {
    for (testing::RowKind kind : testing::kAllRowKinds) {
      for (float scale : {0.02f, 1.0f, 40.0f}) {
        const std::vector<float> x = testing::MakeRow(kind, kN, scale, 3);
        std::vector<uint8_t> q(*RowBytes(type, kN));
        QuantizeRows(type, x.data(), q.data(), 1, kN);
        std::vector<float> y(kN);
        DequantizeRow(type, q.data(), y.data(), kN);
        for (int64_t b = 0; b < kN / kQK; ++b) {
          const float bound = MaxError(type, x.data() + b * kQK);
          for (int64_t i = b * kQK; i < (b + 1) * kQK; ++i) {
            ASSERT_LE(std::fabs(y[i] - x[i]), bound)
                << DTypeName(type) << " kind " << static_cast<int>(kind) << " scale " << scale
                << " element " << i;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace autarky::kernels
