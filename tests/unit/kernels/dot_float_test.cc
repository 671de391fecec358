// Tests of the float-type dot-product kernels (F32, F16, BF16 weights with F32 activations):
// the scalar reference against products summed in double from independently converted weights
// (kernels::DequantizeRow), and every SIMD level against the scalar reference (vec_dot and
// gemm, every row length up to a few hundred, misaligned buffers, odd strides).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/quantize.h"
#include "tensor/dtype.h"
#include "unit/kernels/dot_test_util.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

using testing::Gamma;
using testing::MisalignedBuffer;

constexpr DType kFloatTypes[] = {DType::kF32, DType::kF16, DType::kBF16};

// The SIMD kernels keep at least this many independent partial sums per output (one 128-bit
// register of floats), so each partial sum adds at most ceil(k / kMinPartialSums) products.
constexpr int64_t kMinPartialSums = 4;
// Roundings after the per-lane sums: combining up to 4 accumulators and 16 lanes pairwise
// (6 levels), plus the final conversion of the reference to float.
constexpr int64_t kReductionRoundings = 8;

size_t ElemBytes(DType type) { return Traits(type).block_bytes; }

// A weight row of random finite values. F16: random bits except infinities and NaNs, so every
// finite pattern (subnormals and the largest values included) occurs. BF16: random mantissas
// and signs with exponents within 2^+-40 plus some zeros and subnormals, keeping sums finite.
// F32: normal values over many binades.
std::vector<uint8_t> RandomWeights(std::mt19937_64& rng, DType type, int64_t k) {
  std::vector<uint8_t> row(static_cast<size_t>(k) * ElemBytes(type));
  for (int64_t i = 0; i < k; ++i) {
    const uint64_t bits = rng();
    if (type == DType::kF32) {
      const float v =
          std::ldexp(static_cast<float>(static_cast<int32_t>(bits >> 40) - (1 << 23)) / (1 << 23),
                     static_cast<int>(bits % 21) - 10);
      std::memcpy(&row[4 * i], &v, 4);
    } else if (type == DType::kF16) {
      uint16_t h = static_cast<uint16_t>(bits);
      if ((h & 0x7c00) == 0x7c00) h &= 0xbfff;  // exponent 31 -> 15: finite
      std::memcpy(&row[2 * i], &h, 2);
    } else {
      const uint32_t sign = (bits >> 63) << 15;
      uint32_t exponent = 127 - 40 + static_cast<uint32_t>((bits >> 32) % 81);
      if ((bits & 0xff) < 8) exponent = 0;  // zero or subnormal
      const auto h = static_cast<uint16_t>(sign | exponent << 7 | ((bits >> 8) & 0x7f));
      std::memcpy(&row[2 * i], &h, 2);
    }
  }
  return row;
}

// The exact dot product of a weight row (converted by DequantizeRow) and an F32 row, and the
// sum of the magnitudes of its products. Products of two floats are exact in double.
struct Exact {
  double value = 0;
  double magnitude = 0;
};

Exact ComputeExact(DType type, const uint8_t* w, const float* a, int64_t k) {
  std::vector<float> x(static_cast<size_t>(k));
  DequantizeRow(type, w, x.data(), k);
  Exact e;
  for (int64_t i = 0; i < k; ++i) {
    e.value += static_cast<double>(x[i]) * a[i];
    e.magnitude += std::fabs(static_cast<double>(x[i]) * a[i]);
  }
  return e;
}

// |kernel - reference|: the kernel's float partial sums (gamma of their length) plus the
// reference's one final rounding to float.
double KernelVsReferenceTolerance(int64_t k, double magnitude) {
  const int64_t per_partial = (k + kMinPartialSums - 1) / kMinPartialSums;
  return Gamma(per_partial + kReductionRoundings) * magnitude;
}

std::vector<int64_t> Lengths() {
  std::vector<int64_t> lengths;
  const int64_t max_small = 300;
  for (int64_t k = 1; k <= max_small; ++k) lengths.push_back(k);
  lengths.push_back(4096);
  lengths.push_back(8960);
  return lengths;
}

std::vector<float> RandomFloats(std::mt19937_64& rng, int64_t k) {
  return testing::RandomActivations(rng, k);
}

TEST(DotFloatTest, EveryIsaUsesF32ActivationsCopiedAsTheyAre) {
  std::mt19937_64 rng(10);
  const std::vector<float> x = RandomFloats(rng, 37);
  for (DType type : kFloatTypes) {
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
      if (!IsaSupported(isa)) continue;
      SCOPED_TRACE(std::string(DTypeName(type)) + " " + std::string(IsaName(isa)));
      const WeightKernels* kernels = FindWeightKernels(type, isa);
      ASSERT_NE(kernels, nullptr);
      EXPECT_EQ(kernels->act_type, DType::kF32);
      EXPECT_NE(kernels->gemm, nullptr);
      std::vector<float> y(x.size(), -1.0f);
      kernels->quantize_act(x.data(), y.data(), static_cast<int64_t>(x.size()));
      EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0);
    }
  }
}

TEST(DotFloatTest, ScalarReferenceMatchesExactDoubleSum) {
  std::mt19937_64 rng(11);
  for (DType type : kFloatTypes) {
    const WeightKernels* ref = FindWeightKernels(type, Isa::kScalar);
    for (int64_t k : Lengths()) {
      SCOPED_TRACE(std::string(DTypeName(type)) + " k=" + std::to_string(k));
      const std::vector<uint8_t> w = RandomWeights(rng, type, k);
      const std::vector<float> a = RandomFloats(rng, k);
      const Exact e = ComputeExact(type, w.data(), a.data(), k);
      // The reference sums exact products in double (error <= k * 2^-53 * magnitude), then
      // rounds once to float.
      const double tol = static_cast<double>(k) * 0x1p-53 * e.magnitude +
                         testing::kFloatUnitRoundoff * std::fabs(e.value);
      EXPECT_NEAR(ref->vec_dot(k, w.data(), a.data()), e.value, tol);
    }
  }
}

TEST(DotFloatTest, SimdVecDotMatchesScalarReference) {
  std::mt19937_64 rng(12);
  for (Isa isa : testing::SimdIsasToTest()) {
    for (DType type : kFloatTypes) {
      const WeightKernels* ref = FindWeightKernels(type, Isa::kScalar);
      const WeightKernels* simd = FindWeightKernels(type, isa);
      size_t offset = 0;
      for (int64_t k : Lengths()) {
        offset = offset % 63 + 1;
        SCOPED_TRACE(std::string(DTypeName(type)) + " " + std::string(IsaName(isa)) +
                     " k=" + std::to_string(k) + " offset=" + std::to_string(offset));
        const std::vector<uint8_t> w = RandomWeights(rng, type, k);
        const std::vector<float> a = RandomFloats(rng, k);
        // Misaligned by any byte count, also not a multiple of the element size.
        MisalignedBuffer w_buf(w.size(), offset), a_buf(a.size() * sizeof(float), 64 - offset);
        std::memcpy(w_buf.data(), w.data(), w.size());
        std::memcpy(a_buf.data(), a.data(), a.size() * sizeof(float));
        const Exact e = ComputeExact(type, w.data(), a.data(), k);
        const float want = ref->vec_dot(k, w.data(), a.data());
        const float got = simd->vec_dot(k, w_buf.data(), a_buf.data());
        EXPECT_NEAR(got, want, KernelVsReferenceTolerance(k, e.magnitude));
      }
    }
  }
}

// gemm at every level (scalar: the vec_dot loop of kernel_table.cc) for nr, nc in 1..17 with
// strides that are not multiples of anything and an output stride wider than nr.
TEST(DotFloatTest, GemmMatchesScalarVecDotForAllShapes) {
  std::mt19937_64 rng(13);
  std::vector<Isa> isas = testing::SimdIsasToTest();
  isas.insert(isas.begin(), Isa::kScalar);
  const int max_n = 17;
  for (Isa isa : isas) {
    for (DType type : kFloatTypes) {
      const WeightKernels* ref = FindWeightKernels(type, Isa::kScalar);
      const WeightKernels* kernels = FindWeightKernels(type, isa);
      for (int nr = 1; nr <= max_n; ++nr) {
        for (int nc = 1; nc <= max_n; ++nc) {
          const int64_t k = 1 + (37 * nr + 11 * nc) % 97;
          SCOPED_TRACE(std::string(DTypeName(type)) + " " + std::string(IsaName(isa)) +
                       " nr=" + std::to_string(nr) + " nc=" + std::to_string(nc) +
                       " k=" + std::to_string(k));
          const size_t w_stride = static_cast<size_t>(k) * ElemBytes(type) + 1 + nr % 5;
          const size_t a_stride = static_cast<size_t>(k) * sizeof(float) + 3 + nc % 7;
          const size_t out_stride = static_cast<size_t>(nr) + 2;
          MisalignedBuffer w(w_stride * nr, static_cast<size_t>(nr + nc) % 64);
          MisalignedBuffer a(a_stride * nc, static_cast<size_t>(3 * nc + 1) % 64);
          std::vector<std::vector<uint8_t>> w_rows;
          std::vector<std::vector<float>> a_rows;
          for (int r = 0; r < nr; ++r) {
            w_rows.push_back(RandomWeights(rng, type, k));
            std::memcpy(w.data() + r * w_stride, w_rows.back().data(), w_rows.back().size());
          }
          for (int c = 0; c < nc; ++c) {
            a_rows.push_back(RandomFloats(rng, k));
            std::memcpy(a.data() + c * a_stride, a_rows.back().data(), k * sizeof(float));
          }
          const float kSentinel = -12345.0f;
          std::vector<float> out(out_stride * nc, kSentinel);
          kernels->gemm(k, w.data(), w_stride, nr, a.data(), a_stride, nc, out.data(), out_stride);
          for (int c = 0; c < nc; ++c) {
            for (int r = 0; r < nr; ++r) {
              const float want = ref->vec_dot(k, w_rows[r].data(), a_rows[c].data());
              const Exact e = ComputeExact(type, w_rows[r].data(), a_rows[c].data(), k);
              EXPECT_NEAR(out[c * out_stride + r], want, KernelVsReferenceTolerance(k, e.magnitude))
                  << "r=" << r << " c=" << c;
            }
            for (size_t r = static_cast<size_t>(nr); r < out_stride; ++r) {
              EXPECT_EQ(out[c * out_stride + r], kSentinel) << "gemm wrote past nr, c=" << c;
            }
          }
        }
      }
    }
  }
}

// A single nonzero product at every position of short rows: catches any element a kernel
// skips, reads twice or takes from the wrong place, which a random sum could hide.
TEST(DotFloatTest, EveryPositionContributesExactlyOnce) {
  for (DType type : kFloatTypes) {
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
      if (!IsaSupported(isa)) continue;
      const WeightKernels* kernels = FindWeightKernels(type, isa);
      for (int64_t k : {1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 100}) {
        std::vector<float> a(static_cast<size_t>(k));
        for (int64_t i = 0; i < k; ++i) a[i] = static_cast<float>(i + 1);  // exact in F32
        for (int64_t pos = 0; pos < k; ++pos) {
          SCOPED_TRACE(std::string(DTypeName(type)) + " " + std::string(IsaName(isa)) +
                       " k=" + std::to_string(k) + " pos=" + std::to_string(pos));
          std::vector<uint8_t> w(static_cast<size_t>(k) * ElemBytes(type), 0);
          // 3.0 in the weight type.
          if (type == DType::kF32) {
            const float three = 3.0f;
            std::memcpy(&w[4 * pos], &three, 4);
          } else {
            const uint16_t three = type == DType::kF16 ? Fp32ToFp16(3.0f) : Fp32ToBf16(3.0f);
            std::memcpy(&w[2 * pos], &three, 2);
          }
          EXPECT_EQ(kernels->vec_dot(k, w.data(), a.data()), 3.0f * static_cast<float>(pos + 1));
          float out[3];
          kernels->gemm(k, w.data(), 0, 3, a.data(), 0, 1, out, 3);
          EXPECT_EQ(out[2], 3.0f * static_cast<float>(pos + 1));
        }
      }
    }
  }
}

}  // namespace
}  // namespace autarky::kernels
