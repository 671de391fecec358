// Tests of the legacy-type dot-product kernels (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL): the
// scalar reference against dequantized rows summed in double, every SIMD level against the
// scalar reference (vec_dot and gemm, many sizes, misaligned buffers, odd strides), and the
// Q8_0 / Q8_1 activation quantizers (SIMD bit-identical to scalar, error bound).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/quantize.h"
#include "tensor/dtype.h"
#include "tensor/quant_blocks.h"
#include "unit/kernels/dot_test_util.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

using testing::Gamma;
using testing::MisalignedBuffer;

struct LegacyType {
  DType weight;
  DType act;     // the activation type every ISA uses for it
  bool has_min;  // x = d * q + m: the F16 m follows d in the block
};

constexpr LegacyType kLegacyTypes[] = {
    {DType::kQ4_0, DType::kQ8_0, false}, {DType::kQ4_1, DType::kQ8_1, true},
    {DType::kQ5_0, DType::kQ8_0, false}, {DType::kQ5_1, DType::kQ8_1, true},
    {DType::kQ8_0, DType::kQ8_0, false}, {DType::kIQ4_NL, DType::kQ8_0, false},
};

// Roundings between the exact value of one block's contribution and its float term, in the
// worst kernel: the scale product dw * da, the product with the block sum (or the fused
// multiply-add into a lane), the min product m * s and the add that joins them.
constexpr int kRoundingsPerBlock = 4;
// Extra roundings of a SIMD kernel beyond one per block: the horizontal sum of at most 64
// lanes (6 levels) and the per-lane adds of min terms.
constexpr int kReductionRoundings = 8;
// The dequantized weights carry up to two roundings each (d * q, then + m).
constexpr int kDequantRoundings = 2;

size_t Bytes(DType type, int64_t k) { return *RowBytes(type, k); }

uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void StoreU16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }

// A weight row of k values: random bits everywhere, then sane random scales (and mins).
std::vector<uint8_t> RandomWeights(std::mt19937_64& rng, const LegacyType& t, int64_t k) {
  std::vector<uint8_t> row(Bytes(t.weight, k));
  testing::FillRandomBytes(rng, row.data(), row.size());
  const size_t block_bytes = Traits(t.weight).block_bytes;
  for (size_t off = 0; off < row.size(); off += block_bytes) {
    StoreU16(&row[off], testing::RandomF16(rng, 1e-4f, 0.1f, /*random_sign=*/true));
    if (t.has_min) StoreU16(&row[off + 2], testing::RandomF16(rng, 1e-4f, 1.0f, true));
  }
  return row;
}

std::vector<uint8_t> QuantizeAct(DType weight, Isa isa, const std::vector<float>& x) {
  const WeightKernels* kernels = FindWeightKernels(weight, isa);
  std::vector<uint8_t> act(Bytes(kernels->act_type, static_cast<int64_t>(x.size())));
  kernels->quantize_act(x.data(), act.data(), static_cast<int64_t>(x.size()));
  return act;
}

// The dot product of a weight row and an activation row computed independently of the kernels
// (dequantized rows, double sums), with the magnitudes the tolerances scale with.
struct Exact {
  double value = 0;      // sum of dequantized weight * dequantized activation
  double magnitude = 0;  // sum over blocks of (|x| + |m|) . |y| + |m * s|: bounds every term
  double s_error = 0;    // sum over blocks of |m| * |s - sum(y)|: the F16 rounding of Q8_1's s
};

Exact ComputeExact(const LegacyType& t, const uint8_t* w, const uint8_t* a, int64_t k) {
  std::vector<float> x(static_cast<size_t>(k)), y(static_cast<size_t>(k));
  DequantizeRow(t.weight, w, x.data(), k);
  DequantizeRow(t.act, a, y.data(), k);
  Exact e;
  const size_t w_block = Traits(t.weight).block_bytes;
  const size_t a_block = Traits(t.act).block_bytes;
  for (int64_t b = 0; b < k / kQK; ++b) {
    double m = 0, s = 0, block_sum_y = 0;
    if (t.has_min) {
      m = Fp16ToFp32(LoadU16(w + b * w_block + 2));
      s = Fp16ToFp32(LoadU16(a + b * a_block + 2));
    }
    for (int64_t j = b * kQK; j < (b + 1) * kQK; ++j) {
      e.value += static_cast<double>(x[j]) * y[j];
      e.magnitude += (std::fabs(x[j]) + std::fabs(m)) * std::fabs(y[j]);
      block_sum_y += y[j];
    }
    e.magnitude += std::fabs(m * s);
    e.s_error += std::fabs(m) * std::fabs(s - block_sum_y);
  }
  return e;
}

// |kernel - scalar reference| bound: each of the two float evaluations is within
// gamma(nb + kRoundingsPerBlock + kReductionRoundings) * magnitude of the exact value of the
// same integer block sums and scales.
double KernelVsReferenceTolerance(int64_t nb, double magnitude) {
  return 2 * Gamma(nb + kRoundingsPerBlock + kReductionRoundings) * magnitude;
}

std::vector<int64_t> BlockCounts() {
  std::vector<int64_t> counts;
  const int64_t max_small = 40;
  for (int64_t nb = 1; nb <= max_small; ++nb) counts.push_back(nb);
  counts.push_back(8960 / kQK);  // a Qwen2-7B FFN row
  return counts;
}

TEST(DotLegacyTest, EveryIsaUsesTheDocumentedActivationType) {
  for (const LegacyType& t : kLegacyTypes) {
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
      if (!IsaSupported(isa)) continue;
      SCOPED_TRACE(std::string(DTypeName(t.weight)) + " " + std::string(IsaName(isa)));
      const WeightKernels* kernels = FindWeightKernels(t.weight, isa);
      ASSERT_NE(kernels, nullptr);
      EXPECT_EQ(kernels->act_type, t.act);
      EXPECT_NE(kernels->quantize_act, nullptr);
      EXPECT_NE(kernels->gemm, nullptr);
    }
  }
}

TEST(DotLegacyTest, ScalarReferenceMatchesDequantizedRowsInDouble) {
  std::mt19937_64 rng(1);
  for (const LegacyType& t : kLegacyTypes) {
    const WeightKernels* ref = FindWeightKernels(t.weight, Isa::kScalar);
    ASSERT_NE(ref, nullptr);
    for (int64_t nb : BlockCounts()) {
      SCOPED_TRACE(std::string(DTypeName(t.weight)) + " blocks=" + std::to_string(nb));
      const int64_t k = nb * kQK;
      const std::vector<uint8_t> w = RandomWeights(rng, t, k);
      const std::vector<uint8_t> a =
          QuantizeAct(t.weight, Isa::kScalar, testing::RandomActivations(rng, k));
      const Exact e = ComputeExact(t, w.data(), a.data(), k);
      const double got = ref->vec_dot(k, w.data(), a.data());
      // The reference rounds as the worst kernel does; the dequantized rows add their own
      // roundings; the F16 block sums s of Q8_1 differ from sum(y) by s_error at most.
      const double tol =
          Gamma(nb + kRoundingsPerBlock + kReductionRoundings + kDequantRoundings) * e.magnitude +
          e.s_error;
      EXPECT_NEAR(got, e.value, tol);
    }
  }
}

TEST(DotLegacyTest, SimdVecDotMatchesScalarReference) {
  std::mt19937_64 rng(2);
  for (Isa isa : testing::SimdIsasToTest()) {
    for (const LegacyType& t : kLegacyTypes) {
      const WeightKernels* ref = FindWeightKernels(t.weight, Isa::kScalar);
      const WeightKernels* simd = FindWeightKernels(t.weight, isa);
      ASSERT_NE(simd, nullptr);
      size_t offset = 0;
      for (int64_t nb : BlockCounts()) {
        offset = offset % 63 + 1;  // 1..63, different for weights and activations
        SCOPED_TRACE(std::string(DTypeName(t.weight)) + " " + std::string(IsaName(isa)) +
                     " blocks=" + std::to_string(nb) + " offset=" + std::to_string(offset));
        const int64_t k = nb * kQK;
        const std::vector<uint8_t> w = RandomWeights(rng, t, k);
        const std::vector<uint8_t> a =
            QuantizeAct(t.weight, Isa::kScalar, testing::RandomActivations(rng, k));
        MisalignedBuffer w_buf(w.size(), offset), a_buf(a.size(), 64 - offset);
        std::memcpy(w_buf.data(), w.data(), w.size());
        std::memcpy(a_buf.data(), a.data(), a.size());
        const float want = ref->vec_dot(k, w.data(), a.data());
        const float got = simd->vec_dot(k, w_buf.data(), a_buf.data());
        const Exact e = ComputeExact(t, w.data(), a.data(), k);
        EXPECT_NEAR(got, want, KernelVsReferenceTolerance(nb, e.magnitude));
      }
    }
  }
}

// gemm at every level (the scalar one is the vec_dot loop of kernel_table.cc) for all tile
// remainders: nr, nc in 1..17, strides that are not multiples of anything, and an output stride
// wider than nr whose padding must stay untouched.
TEST(DotLegacyTest, GemmMatchesScalarVecDotForAllShapes) {
  std::mt19937_64 rng(3);
  std::vector<Isa> isas = testing::SimdIsasToTest();
  isas.insert(isas.begin(), Isa::kScalar);
  const int max_n = 17;
  for (Isa isa : isas) {
    for (const LegacyType& t : kLegacyTypes) {
      const WeightKernels* ref = FindWeightKernels(t.weight, Isa::kScalar);
      const WeightKernels* kernels = FindWeightKernels(t.weight, isa);
      for (int nr = 1; nr <= max_n; ++nr) {
        for (int nc = 1; nc <= max_n; ++nc) {
          const int64_t nb = 1 + (3 * nr + nc) % 11;
          const int64_t k = nb * kQK;
          SCOPED_TRACE(std::string(DTypeName(t.weight)) + " " + std::string(IsaName(isa)) +
                       " nr=" + std::to_string(nr) + " nc=" + std::to_string(nc) +
                       " blocks=" + std::to_string(nb));
          const size_t w_stride = Bytes(t.weight, k) + 1 + static_cast<size_t>(nr % 5);
          const size_t a_stride = Bytes(t.act, k) + 3 + static_cast<size_t>(nc % 7);
          const size_t out_stride = static_cast<size_t>(nr) + 3;
          MisalignedBuffer w(w_stride * nr, static_cast<size_t>(nr + nc) % 64);
          MisalignedBuffer a(a_stride * nc, static_cast<size_t>(5 * nc + 1) % 64);
          std::vector<double> magnitude(static_cast<size_t>(nr * nc));
          std::vector<std::vector<uint8_t>> w_rows, a_rows;
          for (int r = 0; r < nr; ++r) {
            w_rows.push_back(RandomWeights(rng, t, k));
            std::memcpy(w.data() + r * w_stride, w_rows.back().data(), w_rows.back().size());
          }
          for (int c = 0; c < nc; ++c) {
            a_rows.push_back(
                QuantizeAct(t.weight, Isa::kScalar, testing::RandomActivations(rng, k)));
            std::memcpy(a.data() + c * a_stride, a_rows.back().data(), a_rows.back().size());
          }
          const float kSentinel = -12345.0f;
          std::vector<float> out(out_stride * nc, kSentinel);
          kernels->gemm(k, w.data(), w_stride, nr, a.data(), a_stride, nc, out.data(), out_stride);
          for (int c = 0; c < nc; ++c) {
            for (int r = 0; r < nr; ++r) {
              const float want = ref->vec_dot(k, w_rows[r].data(), a_rows[c].data());
              const Exact e = ComputeExact(t, w_rows[r].data(), a_rows[c].data(), k);
              EXPECT_NEAR(out[c * out_stride + r], want,
                          KernelVsReferenceTolerance(nb, e.magnitude))
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

// Extreme quants (every nibble 15 or 0, Q8_0 weights of -128 and 127, activations of +-127)
// must not overflow the int16 pair sums of the AVX2 kernels or anything else.
TEST(DotLegacyTest, ExtremeQuantsMatchScalarReference) {
  const int64_t nb = 9;
  const int64_t k = nb * kQK;
  for (const LegacyType& t : kLegacyTypes) {
    const WeightKernels* ref = FindWeightKernels(t.weight, Isa::kScalar);
    for (uint8_t fill : {uint8_t{0x00}, uint8_t{0xff}, uint8_t{0x80}, uint8_t{0x7f}}) {
      for (float sign : {1.0f, -1.0f}) {
        std::vector<uint8_t> w(Bytes(t.weight, k), fill);
        const size_t block_bytes = Traits(t.weight).block_bytes;
        for (size_t off = 0; off < w.size(); off += block_bytes) {
          StoreU16(&w[off], Fp32ToFp16(0.01f));
          if (t.has_min) StoreU16(&w[off + 2], Fp32ToFp16(-0.05f));
        }
        std::vector<float> x(static_cast<size_t>(k), sign * 3.0f);  // every quant +-127
        const std::vector<uint8_t> a = QuantizeAct(t.weight, Isa::kScalar, x);
        const Exact e = ComputeExact(t, w.data(), a.data(), k);
        const float want = ref->vec_dot(k, w.data(), a.data());
        for (Isa isa : testing::SimdIsasToTest()) {
          SCOPED_TRACE(std::string(DTypeName(t.weight)) + " " + std::string(IsaName(isa)) +
                       " fill=" + std::to_string(fill) + " sign=" + std::to_string(sign));
          const WeightKernels* simd = FindWeightKernels(t.weight, isa);
          EXPECT_NEAR(simd->vec_dot(k, w.data(), a.data()), want,
                      KernelVsReferenceTolerance(nb, e.magnitude));
          float out[2];
          simd->gemm(k, w.data(), 0, 2, a.data(), 0, 1, out, 2);
          EXPECT_NEAR(out[1], want, KernelVsReferenceTolerance(nb, e.magnitude));
        }
      }
    }
  }
}

// Inputs for the activation quantizers: ordinary rows plus blocks of zeros, of values whose
// scale is an F16 subnormal or zero, of huge values, and of exact ties x * id = n + 1/2.
std::vector<float> QuantizerInputs(std::mt19937_64& rng, int64_t k) {
  std::vector<float> x = testing::RandomActivations(rng, k);
  for (int64_t b = 0; b < k / kQK; ++b) {
    float* block = x.data() + b * kQK;
    switch (b % 7) {
      case 1:
        std::fill(block, block + kQK, 0.0f);
        break;
      case 2:
        for (int j = 0; j < kQK; ++j) block[j] *= 1e-9f;  // scale F16-subnormal or 0
        break;
      case 3:
        for (int j = 0; j < kQK; ++j) block[j] = (j - 15.5f) * 1e4f;
        break;
      case 4:
        // max 127 -> d = 1 exactly: the halves are ties that round to even.
        for (int j = 0; j < kQK; ++j) block[j] = j == 0 ? 127.0f : (j - 16) + 0.5f;
        break;
      default:
        break;
    }
  }
  return x;
}

TEST(DotLegacyTest, SimdActivationQuantizationIsBitIdenticalToScalar) {
  std::mt19937_64 rng(4);
  for (Isa isa : testing::SimdIsasToTest()) {
    for (DType weight : {DType::kQ4_0, DType::kQ4_1}) {  // Q8_0 and Q8_1 activations
      for (int64_t nb : BlockCounts()) {
        const int64_t k = nb * kQK;
        SCOPED_TRACE(std::string(DTypeName(weight)) + " " + std::string(IsaName(isa)) +
                     " blocks=" + std::to_string(nb));
        const std::vector<float> x = QuantizerInputs(rng, k);
        const std::vector<uint8_t> want = QuantizeAct(weight, Isa::kScalar, x);
        // Misaligned input and output.
        MisalignedBuffer x_buf(x.size() * sizeof(float), static_cast<size_t>(nb % 63) + 1);
        std::memcpy(x_buf.data(), x.data(), x.size() * sizeof(float));
        MisalignedBuffer y_buf(want.size(), static_cast<size_t>(nb * 5 % 63) + 1);
        FindWeightKernels(weight, isa)
            ->quantize_act(reinterpret_cast<const float*>(x_buf.data()), y_buf.data(), k);
        EXPECT_EQ(std::memcmp(y_buf.data(), want.data(), want.size()), 0);
      }
    }
  }
}

TEST(DotLegacyTest, ActivationQuantizationErrorIsAtMostHalfAStep) {
  std::mt19937_64 rng(5);
  const int64_t k = 64 * kQK;
  const std::vector<float> x = testing::RandomActivations(rng, k);
  for (DType weight : {DType::kQ4_0, DType::kQ4_1}) {
    const std::vector<uint8_t> act = QuantizeAct(weight, Isa::kScalar, x);
    const bool q8_1 = FindWeightKernels(weight, Isa::kScalar)->act_type == DType::kQ8_1;
    int normal_blocks = 0;
    for (int64_t b = 0; b < k / kQK; ++b) {
      const float* xb = x.data() + b * kQK;
      const uint8_t* block = act.data() + b * (q8_1 ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0));
      const float d = Fp16ToFp32(LoadU16(block));
      const auto* q = reinterpret_cast<const int8_t*>(block + (q8_1 ? 4 : 2));
      float amax = 0;
      for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(xb[j]));
      // Stored scale: amax / 127 rounded to F16: within 2^-11 relative for a normal half,
      // within half the smallest subnormal (2^-25) below 2^-14.
      const bool normal = d >= 0x1p-14f;
      EXPECT_NEAR(d, amax / 127, normal ? amax / 127 * 0x1p-11 : 0x1p-25) << "block " << b;
      // x * (1/d) carries two roundings (the reciprocal and the product) of an at most
      // 127.06-sized quotient, before rounding to the nearest integer. A subnormal d can be
      // far below amax / 127, and then the clamp to +-127 decides instead.
      const double step_tolerance = 0.5 + Gamma(2) * 128;
      int32_t sum = 0;
      for (int j = 0; j < kQK; ++j) {
        EXPECT_LE(std::abs(q[j]), 127);
        if (normal) {
          EXPECT_LE(std::fabs(xb[j] - static_cast<double>(d) * q[j]), step_tolerance * d)
              << "block " << b << " j " << j;
        }
        sum += q[j];
      }
      normal_blocks += normal;
      if (q8_1) {
        EXPECT_EQ(LoadU16(block + 2), Fp32ToFp16(d * static_cast<float>(sum))) << "block " << b;
      }
    }
    EXPECT_GE(normal_blocks, k / kQK / 2) << "too few blocks exercise the half-step bound";
  }
}

TEST(DotLegacyTest, ActivationQuantizationRoundsTiesToEven) {
  // max 127 gives d = 1 exactly, so x * id = x and the halves are exact ties.
  std::vector<float> x(kQK, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = 3.5f;
  x[3] = -2.5f;
  x[4] = -0.5f;
  x[5] = 126.5f;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (!IsaSupported(isa)) continue;
    SCOPED_TRACE(IsaName(isa));
    const std::vector<uint8_t> act = QuantizeAct(DType::kQ4_0, isa, x);
    const auto* q = reinterpret_cast<const int8_t*>(act.data() + 2);
    EXPECT_EQ(Fp16ToFp32(LoadU16(act.data())), 1.0f);
    EXPECT_EQ(q[0], 127);
    EXPECT_EQ(q[1], 2);
    EXPECT_EQ(q[2], 4);
    EXPECT_EQ(q[3], -2);
    EXPECT_EQ(q[4], 0);
    EXPECT_EQ(q[5], 126);
  }
}

}  // namespace
}  // namespace autarky::kernels
