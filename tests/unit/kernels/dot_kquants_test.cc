// Tests of the K-quant dot products (Q2_K ... Q6_K, IQ4_XS x Q8_K) and the Q8_K quantizer: the
// scalar reference against dequantize-and-sum in double, every SIMD level against the scalar
// reference (vec_dot and gemm, many sizes, misaligned buffers, odd strides), and the SIMD Q8_K
// quantizers bit for bit against the scalar one.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/quantize.h"
#include "kernels/ref/act_quant_k.h"
#include "tensor/dtype.h"
#include "tensor/quant_blocks.h"
#include "util/cpu_features.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

constexpr DType kKQuantTypes[] = {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K,
                                  DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS};

// All sizes also under qemu-aarch64: the whole suite takes well under a second there.
constexpr int kMaxBlocks = 40;
constexpr int kLargeK = 8960;  // a real model width (Qwen2 1.5B FFN), 35 super-blocks

// Where the block scales sit and how large |scale * q| and |min| can get, per type; the test
// sets the scales to sane values and fills everything else with random bits.
struct TypeInfo {
  size_t block_bytes;
  size_t d_offset;
  int dmin_offset;          // -1: no dmin
  double max_scaled_quant;  // max |sub-block scale * quant| the format can express
  double max_min;           // max sub-block min (0 for types without mins)
};

TypeInfo Info(DType type) {
  switch (type) {
    case DType::kQ2_K:
      return {sizeof(BlockQ2_K), offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin), 15.0 * 3, 15};
    case DType::kQ3_K:
      return {sizeof(BlockQ3_K), offsetof(BlockQ3_K, d), -1, 32.0 * 4, 0};
    case DType::kQ4_K:
      return {sizeof(BlockQ4_K), offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin), 63.0 * 15, 63};
    case DType::kQ5_K:
      return {sizeof(BlockQ5_K), offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin), 63.0 * 31, 63};
    case DType::kQ6_K:
      return {sizeof(BlockQ6_K), offsetof(BlockQ6_K, d), -1, 128.0 * 32, 0};
    case DType::kIQ4_XS:
      return {sizeof(BlockIQ4_XS), offsetof(BlockIQ4_XS, d), -1, 32.0 * 127, 0};
    default:
      ADD_FAILURE() << "not a K-quant type";
      return {};
  }
}

std::vector<Isa> SimdIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

std::string Name(DType type, Isa isa) {
  return std::string(DTypeName(type)) + "/" + std::string(IsaName(isa));
}

// A byte buffer whose payload starts `offset` bytes past a 64-byte boundary, so kernels see
// every misalignment.
class Buffer {
 public:
  Buffer(size_t size, size_t offset) : storage_(size + 128) {
    const auto base = reinterpret_cast<uintptr_t>(storage_.data());
    start_ = ((base + 63) & ~uintptr_t{63}) - base + offset;
  }
  uint8_t* data() { return storage_.data() + start_; }

 private:
  std::vector<uint8_t> storage_;
  size_t start_ = 0;
};

uint16_t RandomScale(std::mt19937& rng, bool allow_negative) {
  std::uniform_real_distribution<float> magnitude(0.25f, 4.0f);
  float v = magnitude(rng) / 256.0f;
  if (allow_negative && (rng() & 1)) v = -v;
  return Fp32ToFp16(v);
}

// `nb` blocks of `type`: random bits everywhere (all quant and scale patterns) except the F16
// block scales, which get sane values.
void FillWeights(DType type, int64_t nb, uint8_t* out, std::mt19937& rng) {
  const TypeInfo info = Info(type);
  for (size_t i = 0; i < nb * info.block_bytes; ++i) out[i] = static_cast<uint8_t>(rng());
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* block = out + b * info.block_bytes;
    const uint16_t d = RandomScale(rng, true);
    std::memcpy(block + info.d_offset, &d, sizeof d);
    if (info.dmin_offset >= 0) {
      const uint16_t dmin = RandomScale(rng, true);
      std::memcpy(block + info.dmin_offset, &dmin, sizeof dmin);
    }
  }
}

// Activations with a spread of magnitudes (so blocks differ in scale) and some outliers.
std::vector<float> RandomActivations(int64_t k, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(k);
  for (int64_t b = 0; b < k / kQK_K; ++b) {
    const float block_scale = std::ldexp(1.0f, static_cast<int>(rng() % 12) - 6);
    for (int i = 0; i < kQK_K; ++i) {
      float v = normal(rng) * block_scale;
      if (rng() % 97 == 0) v *= 20.0f;
      x[b * kQK_K + i] = v;
    }
  }
  return x;
}

BlockQ8_K LoadQ8K(const uint8_t* p, int64_t b) {
  BlockQ8_K block;
  std::memcpy(&block, p + b * sizeof(BlockQ8_K), sizeof block);
  return block;
}

// Tolerance between two float evaluations of the same dot product. Each block contributes
// y.d * (d * I - dmin * M) with integer I, M; SIMD splits I and M into at most 24 lanes whose
// float terms fl(fl(y.d * d) * lane) are summed per lane over the nb blocks and then across
// lanes. Every term is bounded by B_b = |y.d| * sum_i |y_i| * (|d| * max|scale*q| +
// |dmin| * max|min|), and a sum of n rounded terms is off by at most n * u * sum |terms|
// (u = FLT_EPSILON / 2), so two such evaluations differ by at most
//   (nb + 32) * FLT_EPSILON * sum_b B_b
// (nb fma steps per lane, up to 24 cross-lane additions, and a few roundings of the products).
double DotTolerance(DType type, const uint8_t* w, const uint8_t* a, int64_t nb) {
  const TypeInfo info = Info(type);
  double bound = 0.0;
  for (int64_t b = 0; b < nb; ++b) {
    const BlockQ8_K y = LoadQ8K(a, b);
    double abs_y = 0.0;
    for (int i = 0; i < kQK_K; ++i) abs_y += std::abs(y.qs[i]);
    uint16_t d, dmin = 0;
    std::memcpy(&d, w + b * info.block_bytes + info.d_offset, sizeof d);
    if (info.dmin_offset >= 0) std::memcpy(&dmin, w + b * info.block_bytes + info.dmin_offset, 2);
    bound += std::abs(y.d) * abs_y *
             (std::abs(Fp16ToFp32(d)) * info.max_scaled_quant +
              std::abs(Fp16ToFp32(dmin)) * info.max_min);
  }
  return (static_cast<double>(nb) + 32.0) * FLT_EPSILON * bound;
}

// Independent value: dequantize both rows (the quantization library's DequantizeRow for the
// weights, d * q for the activations) and sum the products in double.
double DequantizedDot(DType type, const uint8_t* w, const uint8_t* a, int64_t k) {
  std::vector<float> wf(k);
  DequantizeRow(type, w, wf.data(), k);
  double sum = 0.0;
  for (int64_t b = 0; b < k / kQK_K; ++b) {
    const BlockQ8_K y = LoadQ8K(a, b);
    for (int i = 0; i < kQK_K; ++i) {
      sum += static_cast<double>(wf[b * kQK_K + i]) * (static_cast<double>(y.d) * y.qs[i]);
    }
  }
  return sum;
}

const WeightKernels& Kernels(DType type, Isa isa) {
  const WeightKernels* kernels = FindWeightKernels(type, isa);
  EXPECT_NE(kernels, nullptr) << Name(type, isa);
  static const WeightKernels kEmpty{};
  return kernels != nullptr ? *kernels : kEmpty;
}

TEST(DotKQuantsTest, EveryTypeHasQ8KKernelsAtEveryLevel) {
  std::vector<Isa> isas = SimdIsas();
  isas.push_back(Isa::kScalar);
  for (DType type : kKQuantTypes) {
    for (Isa isa : isas) {
      const WeightKernels& k = Kernels(type, isa);
      EXPECT_EQ(k.act_type, DType::kQ8_K) << Name(type, isa);
      EXPECT_NE(k.quantize_act, nullptr) << Name(type, isa);
      EXPECT_NE(k.vec_dot, nullptr) << Name(type, isa);
      EXPECT_NE(k.gemm, nullptr) << Name(type, isa);
    }
    // The SIMD levels bring their own kernels rather than falling back to the scalar ones.
    for (Isa isa : SimdIsas()) {
      EXPECT_NE(Kernels(type, isa).vec_dot, Kernels(type, Isa::kScalar).vec_dot) << Name(type, isa);
      EXPECT_NE(Kernels(type, isa).quantize_act, Kernels(type, Isa::kScalar).quantize_act)
          << Name(type, isa);
    }
  }
}

TEST(DotKQuantsTest, ScalarMatchesDequantizedDoubleSum) {
  std::mt19937 rng(1234);
  for (DType type : kKQuantTypes) {
    const WeightKernels& scalar = Kernels(type, Isa::kScalar);
    const size_t block_bytes = Info(type).block_bytes;
    for (int nb : {1, 2, 3, 7, 16, kLargeK / kQK_K}) {
      const int64_t k = int64_t{nb} * kQK_K;
      std::vector<uint8_t> w(nb * block_bytes), a(nb * sizeof(BlockQ8_K));
      FillWeights(type, nb, w.data(), rng);
      const std::vector<float> x = RandomActivations(k, rng);
      scalar.quantize_act(x.data(), a.data(), k);
      const double expected = DequantizedDot(type, w.data(), a.data(), k);
      const double got = scalar.vec_dot(k, w.data(), a.data());
      EXPECT_NEAR(got, expected, DotTolerance(type, w.data(), a.data(), nb))
          << DTypeName(type) << " k=" << k;
    }
  }
}

// All-ones quant bits and extreme scales with full-scale activations: the largest lane sums the
// kernels' integer paths must hold (int16 lanes of vpdpwssd, maddubs pairs, int32 sums).
TEST(DotKQuantsTest, SimdHandlesExtremeBlocks) {
  for (DType type : kKQuantTypes) {
    const TypeInfo info = Info(type);
    const int nb = 3;
    const int64_t k = nb * kQK_K;
    for (uint8_t fill : {uint8_t{0xff}, uint8_t{0x00}, uint8_t{0x80}, uint8_t{0x7f}}) {
      std::vector<uint8_t> w(nb * info.block_bytes, fill);
      for (int b = 0; b < nb; ++b) {
        const uint16_t d = Fp32ToFp16(1.0f / 64), dmin = Fp32ToFp16(1.0f / 16);
        std::memcpy(w.data() + b * info.block_bytes + info.d_offset, &d, 2);
        if (info.dmin_offset >= 0)
          std::memcpy(w.data() + b * info.block_bytes + info.dmin_offset, &dmin, 2);
      }
      // Equal inputs all quantize to -127; with the first one flipped, the rest become +127.
      for (bool flip_first : {false, true}) {
        std::vector<float> x(k, 1.0f);
        if (flip_first) {
          for (int b = 0; b < nb; ++b) x[b * kQK_K] = -1.0f;
        }
        std::vector<uint8_t> a(nb * sizeof(BlockQ8_K));
        Kernels(type, Isa::kScalar).quantize_act(x.data(), a.data(), k);
        const double expected = DequantizedDot(type, w.data(), a.data(), k);
        const double tolerance = DotTolerance(type, w.data(), a.data(), nb);
        EXPECT_NEAR(Kernels(type, Isa::kScalar).vec_dot(k, w.data(), a.data()), expected, tolerance)
            << DTypeName(type) << " fill=" << int{fill};
        for (Isa isa : SimdIsas()) {
          EXPECT_NEAR(Kernels(type, isa).vec_dot(k, w.data(), a.data()), expected, tolerance)
              << Name(type, isa) << " fill=" << int{fill} << " flip=" << flip_first;
        }
      }
    }
  }
}

TEST(DotKQuantsTest, SimdVecDotMatchesScalarForManySizesAndAlignments) {
  std::mt19937 rng(42);
  for (DType type : kKQuantTypes) {
    const size_t block_bytes = Info(type).block_bytes;
    const WeightKernels& scalar = Kernels(type, Isa::kScalar);
    std::vector<int> sizes;
    for (int nb = 1; nb <= kMaxBlocks; ++nb) sizes.push_back(nb);
    sizes.push_back(kLargeK / kQK_K);
    int case_index = 0;
    for (int nb : sizes) {
      const int64_t k = int64_t{nb} * kQK_K;
      const size_t w_offset = 1 + case_index % 63;
      const size_t a_offset = 1 + (case_index * 17) % 63;
      ++case_index;
      Buffer w(nb * block_bytes, w_offset), a(nb * sizeof(BlockQ8_K), a_offset);
      FillWeights(type, nb, w.data(), rng);
      const std::vector<float> x = RandomActivations(k, rng);
      scalar.quantize_act(x.data(), a.data(), k);
      const float expected = scalar.vec_dot(k, w.data(), a.data());
      const double tolerance = DotTolerance(type, w.data(), a.data(), nb);
      for (Isa isa : SimdIsas()) {
        EXPECT_NEAR(Kernels(type, isa).vec_dot(k, w.data(), a.data()), expected, tolerance)
            << Name(type, isa) << " k=" << k << " offsets " << w_offset << "/" << a_offset;
      }
    }
  }
}

TEST(DotKQuantsTest, SimdGemmMatchesScalarForAllShapesAndStrides) {
  constexpr int kMaxRows = 17, kMaxCols = 17;
  std::mt19937 rng(7);
  for (DType type : kKQuantTypes) {
    const size_t block_bytes = Info(type).block_bytes;
    const WeightKernels& scalar = Kernels(type, Isa::kScalar);
    // 31 blocks: long enough that multi-column tiles split k into chunks (the kernels keep a
    // chunk of the activations in L1 while the rows stream past) and add the partial sums.
    for (int nb : {1, 3, 31}) {
      const int64_t k = int64_t{nb} * kQK_K;
      // Odd strides: rows and columns do not start at block multiples of each other.
      const size_t w_stride = nb * block_bytes + 3;
      const size_t a_stride = nb * sizeof(BlockQ8_K) + 5;
      const size_t out_stride = kMaxRows + 2;
      Buffer w(w_stride * kMaxRows, 5), a(a_stride * kMaxCols, 11);
      for (int r = 0; r < kMaxRows; ++r) FillWeights(type, nb, w.data() + r * w_stride, rng);
      std::vector<double> expected(kMaxRows * kMaxCols), tolerance(kMaxRows * kMaxCols);
      for (int c = 0; c < kMaxCols; ++c) {
        const std::vector<float> x = RandomActivations(k, rng);
        uint8_t* ac = a.data() + c * a_stride;
        scalar.quantize_act(x.data(), ac, k);
        for (int r = 0; r < kMaxRows; ++r) {
          const uint8_t* wr = w.data() + r * w_stride;
          expected[c * kMaxRows + r] = scalar.vec_dot(k, wr, ac);
          tolerance[c * kMaxRows + r] = DotTolerance(type, wr, ac, nb);
        }
      }
      for (Isa isa : SimdIsas()) {
        const WeightKernels& simd = Kernels(type, isa);
        for (int nr = 1; nr <= kMaxRows; ++nr) {
          for (int nc = 1; nc <= kMaxCols; ++nc) {
            if (nb > 3 && nr % 4 != 1 && nc % 4 != 1) continue;  // fewer shapes for the long k
            constexpr float kUnwritten = -12345.0f;
            std::vector<float> out(out_stride * kMaxCols, kUnwritten);
            simd.gemm(k, w.data(), w_stride, nr, a.data(), a_stride, nc, out.data(), out_stride);
            for (int c = 0; c < kMaxCols; ++c) {
              for (size_t r = 0; r < out_stride; ++r) {
                const float got = out[c * out_stride + r];
                if (c < nc && static_cast<int>(r) < nr) {
                  ASSERT_NEAR(got, expected[c * kMaxRows + r], tolerance[c * kMaxRows + r])
                      << Name(type, isa) << " k=" << k << " nr=" << nr << " nc=" << nc << " r=" << r
                      << " c=" << c;
                } else {
                  ASSERT_EQ(got, kUnwritten) << Name(type, isa) << " wrote outside nr x nc";
                }
              }
            }
          }
        }
      }
    }
  }
}

// --- Q8_K activation quantizer ---

void ExpectSameBlocks(const std::vector<uint8_t>& expected, const std::vector<uint8_t>& got,
                      const std::string& what) {
  ASSERT_EQ(expected.size(), got.size());
  for (size_t b = 0; b < expected.size() / sizeof(BlockQ8_K); ++b) {
    const BlockQ8_K e = LoadQ8K(expected.data(), b), g = LoadQ8K(got.data(), b);
    ASSERT_EQ(FloatBits(e.d), FloatBits(g.d)) << what << " block " << b;
    for (int i = 0; i < kQK_K; ++i)
      ASSERT_EQ(e.qs[i], g.qs[i]) << what << " block " << b << " i=" << i;
    for (int j = 0; j < kQK_K / 16; ++j)
      ASSERT_EQ(e.bsums[j], g.bsums[j]) << what << " block " << b;
  }
}

void ExpectSimdQuantizersMatchScalar(const std::vector<float>& x, const std::string& what) {
  const int64_t k = static_cast<int64_t>(x.size());
  std::vector<uint8_t> expected(k / kQK_K * sizeof(BlockQ8_K));
  QuantizeRowQ8KRef(x.data(), expected.data(), k);
  for (Isa isa : SimdIsas()) {
    for (DType type : kKQuantTypes) {
      std::vector<uint8_t> got(expected.size(), 0xcd);
      Kernels(type, isa).quantize_act(x.data(), got.data(), k);
      ExpectSameBlocks(expected, got, what + " " + Name(type, isa));
    }
  }
}

TEST(Q8KQuantizeTest, SimdIsBitIdenticalToScalar) {
  std::mt19937 rng(99);
  for (int nb : {1, 2, 5, 13, kLargeK / kQK_K}) {
    ExpectSimdQuantizersMatchScalar(RandomActivations(int64_t{nb} * kQK_K, rng),
                                    "random nb=" + std::to_string(nb));
  }
  // Values at exact rounding ties (x * iscale = n + 0.5 with iscale = 1 for max -127).
  std::vector<float> ties(kQK_K);
  for (int i = 0; i < kQK_K; ++i) ties[i] = static_cast<float>(i % 254) - 126.5f;
  ties[3] = -127.0f;
  ExpectSimdQuantizersMatchScalar(ties, "ties");
}

TEST(Q8KQuantizeTest, SimdMatchesScalarOnSpecialValues) {
  const float kInf = INFINITY, kNan = NAN;
  std::vector<float> x(6 * kQK_K, 0.0f);  // block 0: all zero
  for (int i = 0; i < kQK_K; ++i) {
    x[kQK_K + i] = (i % 2 ? 1.0f : -1.0f) * 3.0f;  // block 1: +-max ties, the first one wins
    x[2 * kQK_K + i] = static_cast<float>(i) * 1e-3f;
    x[3 * kQK_K + i] = static_cast<float>(i % 5) * 1e-40f;  // block 3: subnormal max
    x[4 * kQK_K + i] = static_cast<float>(i) - 100.0f;
    x[5 * kQK_K + i] = static_cast<float>(i) * 1e36f;
  }
  x[2 * kQK_K + 77] = kNan;
  x[4 * kQK_K + 5] = kInf;
  x[5 * kQK_K + 9] = -kInf;
  ExpectSimdQuantizersMatchScalar(x, "special");

  std::vector<uint8_t> q(6 * sizeof(BlockQ8_K));
  QuantizeRowQ8KRef(x.data(), q.data(), static_cast<int64_t>(x.size()));
  const BlockQ8_K zero = LoadQ8K(q.data(), 0), ties = LoadQ8K(q.data(), 1);
  const BlockQ8_K with_nan = LoadQ8K(q.data(), 2);
  EXPECT_EQ(zero.d, 0.0f);
  for (int i = 0; i < kQK_K; ++i) EXPECT_EQ(zero.qs[i], 0);
  // The first element of largest magnitude (-3) maps to -127, so d = 3 / 127 > 0.
  EXPECT_EQ(ties.qs[0], -127);
  EXPECT_EQ(ties.qs[1], 127);
  EXPECT_GT(ties.d, 0.0f);
  EXPECT_EQ(with_nan.qs[77], 0);
  EXPECT_EQ(with_nan.qs[255], -127);
}

TEST(Q8KQuantizeTest, ErrorIsAtMostHalfAStepAndSumsAreConsistent) {
  std::mt19937 rng(5);
  const int64_t k = 16 * kQK_K;
  const std::vector<float> x = RandomActivations(k, rng);
  std::vector<uint8_t> q(16 * sizeof(BlockQ8_K));
  QuantizeRowQ8KRef(x.data(), q.data(), k);
  for (int64_t b = 0; b < 16; ++b) {
    const BlockQ8_K y = LoadQ8K(q.data(), b);
    // q = round(fl(x * iscale)) and d = fl(1 / iscale): |x - d q| <= |d| / 2 plus the two
    // roundings of the product and of d, each a relative u of at most 127 steps.
    const double max_error = std::abs(y.d) * (0.5 + 2 * 127 * FLT_EPSILON);
    for (int i = 0; i < kQK_K; ++i) {
      EXPECT_LE(std::abs(x[b * kQK_K + i] - static_cast<double>(y.d) * y.qs[i]), max_error)
          << "block " << b << " i=" << i;
      EXPECT_GE(y.qs[i], -127);
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += y.qs[16 * j + i];
      EXPECT_EQ(y.bsums[j], sum);
    }
  }
}

}  // namespace
}  // namespace autarky::kernels
