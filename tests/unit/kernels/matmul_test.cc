// Tests of the threaded matrix products (kernels/matmul.h): every weight type with kernels, at
// every ISA this CPU runs, on 1..4 threads and odd shapes and strides, against a double-precision
// product of the dequantized weights and the quantized activations.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/quantize.h"
#include "tensor/quant_blocks.h"
#include "util/fp16.h"
#include "util/thread_pool.h"

namespace autarky::kernels {
namespace {

constexpr DType kWeightTypes[] = {DType::kF32,    DType::kF16,  DType::kBF16,  DType::kQ4_0,
                                  DType::kQ4_1,   DType::kQ5_0, DType::kQ5_1,  DType::kQ8_0,
                                  DType::kIQ4_NL, DType::kQ2_K, DType::kQ3_K,  DType::kQ4_K,
                                  DType::kQ5_K,   DType::kQ6_K, DType::kIQ4_XS};

// Activations as the kernels see them, decoded here independently of the library from the
// block layouts: F32/F16/BF16 values, Q8_0/Q8_1 d * q (F16 d), Q8_K d * q (F32 d).
std::vector<float> DecodeActivations(DType type, const void* data, int64_t k) {
  std::vector<float> out(k);
  const auto* bytes = static_cast<const uint8_t*>(data);
  switch (type) {
    case DType::kF32:
      std::memcpy(out.data(), data, k * sizeof(float));
      break;
    case DType::kF16:
    case DType::kBF16:
      for (int64_t i = 0; i < k; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        out[i] = type == DType::kF16 ? Fp16ToFp32(h) : Bf16ToFp32(h);
      }
      break;
    case DType::kQ8_0:
      for (int64_t b = 0; b < k / kQK; ++b) {
        BlockQ8_0 block;
        std::memcpy(&block, bytes + b * sizeof block, sizeof block);
        for (int j = 0; j < kQK; ++j) out[b * kQK + j] = Fp16ToFp32(block.d) * block.qs[j];
      }
      break;
    case DType::kQ8_1:
      for (int64_t b = 0; b < k / kQK; ++b) {
        BlockQ8_1 block;
        std::memcpy(&block, bytes + b * sizeof block, sizeof block);
        for (int j = 0; j < kQK; ++j) out[b * kQK + j] = Fp16ToFp32(block.d) * block.qs[j];
      }
      break;
    case DType::kQ8_K:
      for (int64_t b = 0; b < k / kQK_K; ++b) {
        BlockQ8_K block;
        std::memcpy(&block, bytes + b * sizeof block, sizeof block);
        for (int j = 0; j < kQK_K; ++j) out[b * kQK_K + j] = block.d * block.qs[j];
      }
      break;
    default:
      ADD_FAILURE() << "unexpected activation type " << DTypeName(type);
  }
  return out;
}

// Random weights quantized to `type` as a model file holds them, rows `row_stride` bytes apart.
struct TestWeights {
  std::vector<uint8_t> bytes;
  std::vector<float> dequantized;  // {n_out, k}
  std::vector<float> row_absmax;   // {n_out}
  WeightMatrix matrix;
};

TestWeights MakeWeights(DType type, int64_t n_out, int64_t k, size_t row_pad, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> src(n_out * k);
  for (int64_t r = 0; r < n_out; ++r) {
    const float row_scale = 0.02f * (1 + r % 5);  // rows of different magnitudes
    for (int64_t j = 0; j < k; ++j) src[r * k + j] = row_scale * normal(rng);
  }
  const size_t row_bytes = *RowBytes(type, k);
  std::vector<uint8_t> packed(row_bytes * n_out);
  QuantizeRows(type, src.data(), packed.data(), n_out, k);
  TestWeights w;
  const size_t stride = row_bytes + row_pad;
  w.bytes.assign(stride * n_out + 64, 0xcd);
  // With padding, start 4 bytes past the vector's (16-byte aligned) storage: rows then sit at
  // varying offsets within cache lines and SIMD widths, yet keep the 4-byte alignment that every
  // element and block type has in a GGUF file (whose tensor data is 32-byte aligned).
  const size_t start = row_pad > 0 ? 4 : 0;
  for (int64_t r = 0; r < n_out; ++r) {
    std::memcpy(w.bytes.data() + start + r * stride, packed.data() + r * row_bytes, row_bytes);
  }
  w.dequantized.resize(n_out * k);
  w.row_absmax.resize(n_out);
  for (int64_t r = 0; r < n_out; ++r) {
    DequantizeRow(type, packed.data() + r * row_bytes, w.dequantized.data() + r * k, k);
    float m = 0.0f;
    for (int64_t j = 0; j < k; ++j) m = std::max(m, std::fabs(w.dequantized[r * k + j]));
    w.row_absmax[r] = m;
  }
  w.matrix = WeightMatrix{type, w.bytes.data() + start, n_out, k, stride};
  return w;
}

// Bound on |kernel - exact| for one output. The kernels sum integer block products exactly and
// round only the float scaling and accumulation of per-block terms: with n_terms float terms
// the error is at most (n_terms + c) * eps * sum|term| (c covers the few roundings of the scale
// products). A term of an offset type (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) is d * sc * sum(q * a) or
// dmin * m * sum(a), each bounded by sum (|w_j| + |offset|) * |a_j| (so both together by twice
// that); for weights quantized from
// data the offset (-block minimum) is below 2 * max |w| of the row. Terms are at most per
// 16-element sub-block for quantized types and per element for float types. The Q8_1
// activation sum s is stored as F16: it adds 2^-11 * |offset| * sum |a_j|.
// abs_dot = sum |w_j| |a_j| and a_abs = sum |a_j| over the row.
double Tolerance(DType w_type, DType act_type, double abs_dot, float w_absmax, double a_abs,
                 int64_t k) {
  const bool quantized = Traits(w_type).quantized;
  const double offset = quantized ? 2.0 * w_absmax : 0.0;
  const double magnitude = 2.0 * (abs_dot + offset * a_abs);
  const double n_terms = quantized ? static_cast<double>(k) / 16 : static_cast<double>(k);
  double tol = (n_terms + 8) * FLT_EPSILON * magnitude;
  if (act_type == DType::kQ8_1) tol += std::ldexp(1.0, -11) * offset * a_abs;
  return tol + FLT_MIN;
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

ThreadPool* Pool(int n_threads) {
  static std::unique_ptr<ThreadPool> pools[5];
  if (!pools[n_threads]) pools[n_threads] = std::make_unique<ThreadPool>(n_threads);
  return pools[n_threads].get();
}

// Unit of k in the shapes below: whole blocks of the weight and activation types, and at least
// 32 so that float types get rows long enough for their SIMD loops.
int64_t KUnit(DType type, const WeightKernels& kernels) {
  return std::max({Traits(type).block_elems, Traits(kernels.act_type).block_elems, int64_t{32}});
}

struct Shape {
  int64_t n_out;
  int64_t k_units;  // k in units of KUnit()
  int64_t n_tokens;
};

// Runs y = x · Wᵀ for one type, ISA, shape and thread count and compares with the reference.
void CheckMatmul(DType type, Isa isa, const WeightKernels& kernels, const Shape& s, int n_threads,
                 bool strided, uint32_t seed) {
  const int64_t k = s.k_units * KUnit(type, kernels);
  const TestWeights w = MakeWeights(type, s.n_out, k, strided ? 4 : 0, seed);
  const size_t x_stride = strided ? k + 3 : k;
  const size_t y_stride = strided ? s.n_out + 5 : s.n_out;
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> x(x_stride * s.n_tokens);
  for (float& v : x) v = dist(rng);
  constexpr float kUntouched = -777.0f;
  std::vector<float> y(y_stride * s.n_tokens, kUntouched);

  MatmulScratch scratch;
  MatmulOptions options;
  options.pool = Pool(n_threads);
  options.scratch = &scratch;
  options.kernels = &kernels;
  Matmul(w.matrix, x.data(), x_stride, s.n_tokens, y.data(), y_stride, options);

  // Reference from the activations quantized by the same kernels, row by row.
  const size_t act_bytes = *RowBytes(kernels.act_type, k);
  std::vector<uint8_t> act(act_bytes);
  const std::string what = std::string(DTypeName(type)) + "/" + std::string(IsaName(isa)) +
                           " n_out=" + std::to_string(s.n_out) + " k=" + std::to_string(k) +
                           " tokens=" + std::to_string(s.n_tokens) +
                           " threads=" + std::to_string(n_threads) + (strided ? " strided" : "");
  for (int64_t t = 0; t < s.n_tokens; ++t) {
    kernels.quantize_act(x.data() + t * x_stride, act.data(), k);
    const std::vector<float> a = DecodeActivations(kernels.act_type, act.data(), k);
    double a_abs = 0.0;
    for (float v : a) a_abs += std::fabs(v);
    for (int64_t r = 0; r < s.n_out; ++r) {
      const float* wr = w.dequantized.data() + r * k;
      double ref = 0.0, abs_dot = 0.0;
      for (int64_t j = 0; j < k; ++j) {
        const double p = static_cast<double>(wr[j]) * a[j];
        ref += p;
        abs_dot += std::fabs(p);
      }
      const double tol = Tolerance(type, kernels.act_type, abs_dot, w.row_absmax[r], a_abs, k);
      ASSERT_NEAR(y[t * y_stride + r], ref, tol) << what << " token " << t << " row " << r;
    }
    for (size_t r = s.n_out; r < y_stride; ++r) {
      ASSERT_EQ(y[t * y_stride + r], kUntouched) << what << ": wrote past n_out";
    }
  }
}

class MatmulTypeTest : public ::testing::TestWithParam<DType> {
 protected:
  // Distinct kernel sets of this type across the supported ISAs (an ISA without its own entry
  // falls back to a lower one; testing the same kernels twice adds nothing).
  std::vector<std::pair<Isa, const WeightKernels*>> KernelSets() {
    std::vector<std::pair<Isa, const WeightKernels*>> sets;
    for (Isa isa : SupportedIsas()) {
      const WeightKernels* k = FindWeightKernels(GetParam(), isa);
      if (k == nullptr) continue;
      bool seen = false;
      for (const auto& [other_isa, other] : sets) {
        seen |= other->gemm == k->gemm && other->quantize_act == k->quantize_act;
      }
      if (!seen) sets.emplace_back(isa, k);
    }
    return sets;
  }
};

TEST_P(MatmulTypeTest, MatchesDequantizedReferenceOnOddShapesAndThreadCounts) {
  const auto sets = KernelSets();
  if (sets.empty()) GTEST_SKIP() << "no kernels registered for " << DTypeName(GetParam());
  const Shape shapes[] = {{1, 1, 1},  {3, 2, 1},  {16, 1, 1},  {17, 3, 2},   {33, 1, 5},
                          {40, 2, 8}, {64, 3, 9}, {95, 2, 13}, {130, 1, 17}, {31, 2, 16}};
  uint32_t seed = 1;
  for (const auto& [isa, kernels] : sets) {
    for (const Shape& s : shapes) {
      for (int threads = 1; threads <= 4; ++threads) {
        CheckMatmul(GetParam(), isa, *kernels, s, threads, (seed % 2) == 1, seed);
        ++seed;
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(MatmulTypeTest, LargeKSpansSeveralPanelsAndRowBlocks) {
  const auto sets = KernelSets();
  if (sets.empty()) GTEST_SKIP() << "no kernels registered for " << DTypeName(GetParam());
  // k = 8960 makes an activation row ~10 KB or more, so 40 tokens span several L2 panels, and 40
  // weight rows span several row blocks split over 2 threads.
  for (const auto& [isa, kernels] : sets) {
    CheckMatmul(GetParam(), isa, *kernels, Shape{40, 8960 / KUnit(GetParam(), *kernels), 40}, 2,
                true, 99);
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, MatmulTypeTest, ::testing::ValuesIn(kWeightTypes),
                         [](const ::testing::TestParamInfo<DType>& param) {
                           return std::string(DTypeName(param.param));
                         });

// The first weight type that has kernels, for the API tests below.
const WeightKernels* AnyKernels(DType* type) {
  for (DType t : kWeightTypes) {
    if (const WeightKernels* k = FindWeightKernels(t); k != nullptr) {
      *type = t;
      return k;
    }
  }
  return nullptr;
}

TEST(MatmulApiTest, SharedQuantizationGivesTheSameResultAsMatmul) {
  DType type;
  const WeightKernels* kernels = AnyKernels(&type);
  if (kernels == nullptr) GTEST_SKIP() << "no weight type has kernels yet";
  const int64_t k = 512, n_tokens = 11;
  const TestWeights w1 = MakeWeights(type, 48, k, 0, 5);
  const TestWeights w2 = MakeWeights(type, 20, k, 0, 6);
  std::vector<float> x(k * n_tokens);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& v : x) v = dist(rng);
  MatmulScratch scratch;
  MatmulOptions options;
  options.pool = Pool(2);
  options.scratch = &scratch;
  std::vector<float> want1(48 * n_tokens), want2(20 * n_tokens);
  Matmul(w1.matrix, x.data(), n_tokens, want1.data(), options);
  Matmul(w2.matrix, x.data(), n_tokens, want2.data(), options);

  const QuantizedActs acts =
      QuantizeActivations(*kernels, x.data(), n_tokens, k, k, Pool(2), scratch);
  std::vector<float> got1(48 * n_tokens), got2(20 * n_tokens);
  MatmulQuantized(w1.matrix, acts, got1.data(), 48, *kernels, Pool(2));
  MatmulQuantized(w2.matrix, acts, got2.data(), 20, *kernels, Pool(2));
  EXPECT_EQ(got1, want1);
  EXPECT_EQ(got2, want2);
}

TEST(MatmulApiTest, ScratchStopsGrowingInSteadyState) {
  DType type;
  const WeightKernels* kernels = AnyKernels(&type);
  if (kernels == nullptr) GTEST_SKIP() << "no weight type has kernels yet";
  const int64_t k = 1024;
  const TestWeights w = MakeWeights(type, 32, k, 0, 8);
  std::vector<float> x(k * 16, 0.5f), y(32 * 16);
  MatmulScratch scratch;
  MatmulOptions options;
  options.scratch = &scratch;
  Matmul(w.matrix, x.data(), 16, y.data(), options);
  const size_t capacity = scratch.capacity();
  for (int64_t tokens : {1, 16, 7, 16}) Matmul(w.matrix, x.data(), tokens, y.data(), options);
  EXPECT_EQ(scratch.capacity(), capacity);
  // No scratch given: a per-thread one is used, and the results agree.
  std::vector<float> y2(32 * 16);
  Matmul(w.matrix, x.data(), 16, y2.data(), MatmulOptions{});
  Matmul(w.matrix, x.data(), 16, y.data(), options);
  EXPECT_EQ(y, y2);
}

TEST(MatmulApiTest, F32ActivationsAreNotCopied) {
  const WeightKernels* kernels = FindWeightKernels(DType::kF32);
  if (kernels == nullptr || kernels->act_type != DType::kF32) {
    GTEST_SKIP() << "F32 kernels with F32 activations not registered";
  }
  std::vector<float> x(64 * 3);
  MatmulScratch scratch;
  const QuantizedActs acts = QuantizeActivations(*kernels, x.data(), 3, 64, 64, nullptr, scratch);
  EXPECT_EQ(acts.data, x.data());
  EXPECT_EQ(acts.row_stride, 64 * sizeof(float));
  EXPECT_EQ(scratch.capacity(), 0u);
}

TEST(MatmulApiTest, EmptyShapesDoNothing) {
  DType type;
  const WeightKernels* kernels = AnyKernels(&type);
  if (kernels == nullptr) GTEST_SKIP() << "no weight type has kernels yet";
  const TestWeights w = MakeWeights(type, 4, 256, 0, 1);
  std::vector<float> x(256), y(4, 3.0f);
  Matmul(w.matrix, x.data(), 0, y.data());
  for (float v : y) EXPECT_EQ(v, 3.0f);
}

TEST(MatmulScratchTest, ReserveIsAlignedAndGrowsOnlyWhenNeeded) {
  MatmulScratch scratch;
  void* p = scratch.Reserve(100);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  EXPECT_GE(scratch.capacity(), 100u);
  EXPECT_EQ(scratch.Reserve(50), p);
  void* q = scratch.Reserve(scratch.capacity() + 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % 64, 0u);
}

}  // namespace
}  // namespace autarky::kernels
