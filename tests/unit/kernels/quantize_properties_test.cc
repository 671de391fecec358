// Properties every quantized type must have, checked with the test-side format decoder
// (quantize_spec.h): dequantization agrees with the format description on arbitrary blocks,
// quantization gives every weight the nearest value its block can represent, and inputs too
// small for F16 scales come back as zeros, never NaN.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/quantize.h"
#include "unit/kernels/quantize_spec.h"

namespace autarky::kernels {
namespace {

using testing::DecodeElement;
using testing::ElementCoding;

bool SameFloat(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Random bytes, F16/F32 scale fields included (so some are inf or NaN): every element must
// decode to exactly the format description's value, bit for bit.
TEST(QuantizePropertiesTest, DequantizeAgreesWithFormatDescriptionOnRandomBlocks) {
  constexpr int64_t kN = 4 * kQK_K;
  std::mt19937 rng(2024);
  std::vector<DType> types(std::begin(testing::kQuantizedWeightTypes),
                           std::end(testing::kQuantizedWeightTypes));
  types.push_back(DType::kQ8_1);
  types.push_back(DType::kQ8_K);
  for (DType type : types) {
    std::vector<uint8_t> q(*RowBytes(type, kN));
    std::vector<float> y(kN);
    for (int rep = 0; rep < 20; ++rep) {
      for (uint8_t& byte : q) byte = static_cast<uint8_t>(rng());
      DequantizeRow(type, q.data(), y.data(), kN);
      for (int64_t e = 0; e < kN; ++e) {
        const float expected = DecodeElement(type, q.data(), e).Value();
        ASSERT_TRUE(SameFloat(y[e], expected))
            << DTypeName(type) << " element " << e << ": " << y[e] << " vs " << expected;
      }
    }
  }
}

bool CodesChosenAgainstStoredScales(DType type) {
  switch (type) {
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return true;
    default:
      return false;
  }
}

// How much worse than the best representable value a weight may come out.
// - K-quants pick codes by rounding (x + offset) / scale with the stored scales; the two float
//   operations misplace that quotient by ~2^-23 relative, i.e. at most (|x| + |offset|) * 2^-22
//   in value; kStoredScaleSlack doubles that.
// - The other types pick codes against the unrounded scale (and offset), which F16 storage then
//   moves by half an F16 ulp: max(2^-11 relative, 2^-25 absolute), times up to 32 for IQ4_XS
//   (its group scale is a multiple of the F16 super-scale). Both the chosen and the best value
//   move, so twice that times the largest level, plus a few ulps of evaluation.
constexpr float kStoredScaleSlack = 0x1p-21f;
constexpr float kEvalSlack = 8 * FLT_EPSILON;

float AllowedExcess(DType type, const ElementCoding& c, float x, float max_level) {
  if (CodesChosenAgainstStoredScales(type)) {
    return kStoredScaleSlack *
           (std::fabs(x) + std::fabs(c.offset) + std::fabs(c.scale) * max_level);
  }
  const float scale_err = std::max(std::fabs(c.scale) * 0x1p-11f, 32 * 0x1p-25f);
  const float offset_err = c.has_offset ? std::max(std::fabs(c.offset) * 0x1p-11f, 0x1p-25f) : 0.0f;
  return 2 * (max_level * scale_err + offset_err) +
         kEvalSlack * (std::fabs(x) + std::fabs(c.scale) * max_level + std::fabs(c.offset));
}

TEST(QuantizePropertiesTest, EveryWeightGetsTheNearestValueItsBlockCanRepresent) {
  constexpr int64_t kN = 4 * kQK_K;
  uint32_t seed = 1;
  for (DType type : testing::kQuantizedWeightTypes) {
    for (testing::RowKind kind : testing::kAllRowKinds) {
      for (float scale : {0.01f, 1.0f, 30.0f}) {
        const std::vector<float> x = testing::MakeRow(kind, kN, scale, seed++);
        std::vector<uint8_t> q(*RowBytes(type, kN));
        QuantizeRows(type, x.data(), q.data(), 1, kN);
        for (int64_t e = 0; e < kN; ++e) {
          const ElementCoding c = DecodeElement(type, q.data(), e);
          float best = INFINITY, max_level = 0.0f;
          for (int code = c.code_min; code <= c.code_max; ++code) {
            best = std::min(best, std::fabs(x[e] - c.Value(code)));
            const float level =
                c.grid != nullptr ? c.grid[code] : static_cast<float>(code - c.zero);
            max_level = std::max(max_level, std::fabs(level));
          }
          const float err = std::fabs(x[e] - c.Value());
          ASSERT_LE(err, best + AllowedExcess(type, c, x[e], max_level))
              << DTypeName(type) << " kind " << static_cast<int>(kind) << " scale " << scale
              << " element " << e << " x " << x[e] << " got " << c.Value() << " code " << c.code;
        }
      }
    }
  }
}

// Every stored scale is at most the block's largest magnitude divided by a level count, so
// for |x| < 2^-25 (half the smallest F16 subnormal) all scales round to zero and so does every
// decoded value; denormal inputs must not produce inf or NaN on the way.
TEST(QuantizePropertiesTest, InputsBelowF16ResolutionDecodeToZero) {
  constexpr int64_t kN = 2 * kQK_K;
  for (DType type : testing::kQuantizedWeightTypes) {
    for (float scale : {1e-20f, 1e-39f /* denormal */}) {
      const std::vector<float> x = testing::MakeRow(testing::RowKind::kGaussian, kN, scale, 9);
      std::vector<uint8_t> q(*RowBytes(type, kN));
      QuantizeRows(type, x.data(), q.data(), 1, kN);
      std::vector<float> y(kN, 1.0f);
      DequantizeRow(type, q.data(), y.data(), kN);
      for (int64_t i = 0; i < kN; ++i) {
        ASSERT_EQ(y[i], 0.0f) << DTypeName(type) << " scale " << scale << " element " << i;
      }
    }
  }
}

// Finite inputs whose magnitudes fit F16 never decode to inf or NaN.
TEST(QuantizePropertiesTest, FiniteInputsGiveFiniteOutputs) {
  constexpr int64_t kN = 4 * kQK_K;
  for (DType type : testing::kQuantizedWeightTypes) {
    for (testing::RowKind kind : testing::kAllRowKinds) {
      // Outliers reach ~300 * 5 sigma = 30000 at scale 20: inside F16's 65504.
      const std::vector<float> x = testing::MakeRow(kind, kN, 20.0f, 17);
      std::vector<uint8_t> q(*RowBytes(type, kN));
      QuantizeRows(type, x.data(), q.data(), 1, kN);
      std::vector<float> y(kN);
      DequantizeRow(type, q.data(), y.data(), kN);
      for (int64_t i = 0; i < kN; ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << DTypeName(type) << " element " << i;
      }
    }
  }
}

}  // namespace
}  // namespace autarky::kernels
