// Batch invariance of the dot-product kernels: for every weight type and ISA, each output of a
// gemm (weight row r, activation column c) must be bit-identical to vec_dot(r, c) whatever the
// number of columns and rows in the call and the output's place among them, and Matmul must give
// every token the same bits whether it comes alone, in a batch of 3 or in one of 64, on one
// thread or two. That is what keeps a sequence's logits independent of how its prompt is split
// into forward passes. Exact equality is the requirement, so there are no tolerances here;
// accuracy against an independent reference is tested in dot_*_test.cc and matmul_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "kernels/quantize.h"
#include "tensor/dtype.h"
#include "unit/kernels/dot_test_util.h"
#include "util/cpu_features.h"
#include "util/thread_pool.h"

namespace autarky::kernels {
namespace {

constexpr DType kWeightTypes[] = {DType::kF32,    DType::kF16,  DType::kBF16,  DType::kQ4_0,
                                  DType::kQ4_1,   DType::kQ5_0, DType::kQ5_1,  DType::kQ8_0,
                                  DType::kIQ4_NL, DType::kQ2_K, DType::kQ3_K,  DType::kQ4_K,
                                  DType::kQ5_K,   DType::kQ6_K, DType::kIQ4_XS};

// Column counts 1..kMaxColumns cover every gemm column tile and every split of a wider call into
// tiles (kernels tile at most 8 columns); the row counts cover the row tiles (1, 3, 4, 8, 16
// rows) with their remainders.
constexpr int kMaxColumns = 17;
constexpr int kRowCounts[] = {1, 2, 3, 4, 5, 8, 13, 16, 17, 33};
constexpr int kMaxRows = 33;
// Extra rows and columns before the first one a call uses, so that outputs also take every place
// in their tiles.
constexpr int kMaxRowOffset = 3;
constexpr int kMaxColumnOffset = 4;

bool SameBits(float a, float b) {
  uint32_t x, y;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  return x == y;
}

// Row length for a type: several weight blocks, and for the K-quants more blocks (30) than the
// K-quant gemm keeps in one k-chunk for any column count (at least 28 blocks per chunk for two
// columns), so that chunk boundaries are crossed. Float types get a tail shorter than a vector.
int64_t RowLength(DType type) {
  if (type == DType::kF32 || type == DType::kF16 || type == DType::kBF16) return 16 * 21 + 7;
  const int64_t block = Traits(type).block_elems;
  return block == 256 ? 30 * block : 13 * block;
}

// Weights quantized from random data, rows `stride` bytes apart (by default 4 bytes of padding:
// rows at varying offsets within cache lines; 0: back to back, as in a model file).
struct Weights {
  std::vector<uint8_t> bytes;
  size_t stride = 0;
};

Weights MakeWeights(DType type, int64_t n_rows, int64_t k, uint32_t seed, size_t padding = 4) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> src(n_rows * k);
  for (int64_t r = 0; r < n_rows; ++r) {
    const float scale = 0.01f * static_cast<float>(1 + r % 7);
    for (int64_t j = 0; j < k; ++j) src[r * k + j] = scale * normal(rng);
  }
  const size_t row_bytes = *RowBytes(type, k);
  std::vector<uint8_t> packed(row_bytes * n_rows);
  QuantizeRows(type, src.data(), packed.data(), n_rows, k);
  Weights w;
  w.stride = row_bytes + padding;
  w.bytes.assign(w.stride * n_rows, 0);
  for (int64_t r = 0; r < n_rows; ++r) {
    std::memcpy(w.bytes.data() + r * w.stride, packed.data() + r * row_bytes, row_bytes);
  }
  return w;
}

// Hidden-state-like activation rows {n, k}.
std::vector<float> MakeInputs(int64_t n, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> x;
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<float> row = testing::RandomActivations(rng, k);
    x.insert(x.end(), row.begin(), row.end());
  }
  return x;
}

std::vector<Isa> IsasToTest() {
  std::vector<Isa> isas = {Isa::kScalar};
  for (Isa isa : testing::SimdIsasToTest()) isas.push_back(isa);
  return isas;
}

class BatchInvarianceTest : public ::testing::TestWithParam<DType> {};

TEST_P(BatchInvarianceTest, GemmOutputsEqualVecDotForEveryShapeAndPlace) {
  const DType type = GetParam();
  const int64_t k = RowLength(type);
  const int n_rows = kMaxRowOffset + kMaxRows;
  const int n_cols = kMaxColumnOffset + kMaxColumns;
  const Weights w = MakeWeights(type, n_rows, k, 17);
  const std::vector<float> x = MakeInputs(n_cols, k, 23);
  int tested = 0;
  for (Isa isa : IsasToTest()) {
    const WeightKernels* kernels = FindWeightKernels(type, isa);
    if (kernels == nullptr) continue;
    ++tested;
    const size_t a_stride = *RowBytes(kernels->act_type, k) + 8;  // misaligned columns too
    std::vector<uint8_t> acts(a_stride * n_cols);
    for (int c = 0; c < n_cols; ++c) {
      kernels->quantize_act(x.data() + c * k, acts.data() + c * a_stride, k);
    }
    // expected[r][c] = vec_dot(row r, column c)
    std::vector<float> expected(n_rows * n_cols);
    for (int r = 0; r < n_rows; ++r) {
      for (int c = 0; c < n_cols; ++c) {
        expected[r * n_cols + c] =
            kernels->vec_dot(k, w.bytes.data() + r * w.stride, acts.data() + c * a_stride);
      }
    }
    const size_t out_stride = kMaxRows + 3;
    std::vector<float> out(out_stride * kMaxColumns);
    int mismatches = 0;
    for (int nc = 1; nc <= kMaxColumns; ++nc) {
      for (int nr : kRowCounts) {
        // Offsets vary with the shape so that all of them occur across the loop.
        const int r0 = (nc + nr) % (kMaxRowOffset + 1);
        const int c0 = (nc * 3 + nr) % (kMaxColumnOffset + 1);
        std::fill(out.begin(), out.end(), -1.0f);
        kernels->gemm(k, w.bytes.data() + r0 * w.stride, w.stride, nr, acts.data() + c0 * a_stride,
                      a_stride, nc, out.data(), out_stride);
        for (int c = 0; c < nc; ++c) {
          for (int r = 0; r < nr; ++r) {
            const float want = expected[(r0 + r) * n_cols + c0 + c];
            const float got = out[c * out_stride + r];
            if (!SameBits(got, want) && ++mismatches <= 5) {
              ADD_FAILURE() << DTypeName(type) << "/" << IsaName(isa) << " nc=" << nc
                            << " nr=" << nr << " row " << r0 + r << " column " << c0 + c
                            << ": gemm " << got << " != vec_dot " << want;
            }
          }
        }
      }
    }
    EXPECT_EQ(mismatches, 0) << DTypeName(type) << "/" << IsaName(isa);
  }
  if (tested == 0) GTEST_SKIP() << "no kernels for " << DTypeName(type);
}

// Decode: one column against rows that lie back to back, which the one-column kernels may take
// as one stream of blocks (groups running across row ends); every output equals vec_dot for
// row lengths of every remainder of blocks modulo 4 and runs of rows starting anywhere.
TEST_P(BatchInvarianceTest, OneColumnOverBackToBackRowsEqualsVecDot) {
  const DType type = GetParam();
  const int64_t block = Traits(type).block_elems;
  int tested = 0;
  for (int64_t nb : {1, 2, 3, 4, 5, 6, 7, 9, 30}) {
    const int64_t k = nb * block;
    constexpr int kRows = 13;
    const Weights w = MakeWeights(type, kRows, k, 31 + static_cast<uint32_t>(nb), 0);
    const std::vector<float> x = MakeInputs(1, k, 37);
    for (Isa isa : IsasToTest()) {
      const WeightKernels* kernels = FindWeightKernels(type, isa);
      if (kernels == nullptr) continue;
      ++tested;
      std::vector<uint8_t> acts(*RowBytes(kernels->act_type, k));
      kernels->quantize_act(x.data(), acts.data(), k);
      std::vector<float> expected(kRows);
      for (int r = 0; r < kRows; ++r) {
        expected[r] = kernels->vec_dot(k, w.bytes.data() + r * w.stride, acts.data());
      }
      for (int r0 = 0; r0 < kRows; ++r0) {
        for (int nr = 1; r0 + nr <= kRows; ++nr) {
          std::vector<float> out(nr + 1, -1.0f);
          kernels->gemm(k, w.bytes.data() + r0 * w.stride, w.stride, nr, acts.data(), 0, 1,
                        out.data(), 0);
          for (int r = 0; r < nr; ++r) {
            ASSERT_TRUE(SameBits(out[r], expected[r0 + r]))
                << DTypeName(type) << "/" << IsaName(isa) << " blocks " << nb << " rows " << r0
                << "+" << nr << ": row " << r0 + r << " gemm " << out[r] << " != vec_dot "
                << expected[r0 + r];
          }
          ASSERT_EQ(out[nr], -1.0f) << "wrote past nr";
        }
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no kernels for " << DTypeName(type);
}

// The large-batch kernels over packed panels (where a type has them): every output equals
// vec_dot for every row count of a panel and column count, also when k is split into ranges
// whose sums are carried from one to the next.
TEST_P(BatchInvarianceTest, PackedGemmOutputsEqualVecDot) {
  const DType type = GetParam();
  const int64_t k = RowLength(type);
  int tested = 0;
  for (Isa isa : IsasToTest()) {
    const WeightKernels* kernels = FindWeightKernels(type, isa);
    if (kernels == nullptr || kernels->packed == nullptr) continue;
    ++tested;
    const PackedGemmKernels& packed = *kernels->packed;
    const int n_rows = packed.rows + kMaxRowOffset;
    const int n_cols = kMaxColumns + kMaxColumnOffset;
    const Weights w = MakeWeights(type, n_rows, k, 37);
    const std::vector<float> x = MakeInputs(n_cols, k, 41);
    const size_t a_stride = *RowBytes(kernels->act_type, k) + 8;
    std::vector<uint8_t> acts(a_stride * n_cols);
    for (int c = 0; c < n_cols; ++c) {
      kernels->quantize_act(x.data() + c * k, acts.data() + c * a_stride, k);
    }
    const int64_t nb = k / packed.block_elems;
    const size_t w_block = *RowBytes(type, packed.block_elems);
    const size_t a_block = *RowBytes(kernels->act_type, packed.block_elems);
    // Panels are 64-byte aligned.
    std::vector<uint8_t> panel_storage(packed.panel_bytes(nb) + 64);
    const size_t extra_stride = static_cast<size_t>(nb) * packed.act_extra_bytes;
    std::vector<uint8_t> extra(extra_stride * kMaxColumns + 1);
    void* panel =
        panel_storage.data() + (64 - reinterpret_cast<uintptr_t>(panel_storage.data()) % 64) % 64;
    const size_t out_stride = packed.rows + 5;
    std::vector<float> out(out_stride * kMaxColumns);
    int mismatches = 0;
    // Whole k in one range, then k split into ranges of 1 and of 7 units of range_blocks.
    for (int64_t range : {nb, packed.range_blocks, 7 * packed.range_blocks}) {
      for (int nc = 1; nc <= kMaxColumns; ++nc) {
        const int nr = 1 + (nc * 5 + static_cast<int>(range)) % packed.rows;
        const int r0 = nc % (kMaxRowOffset + 1);
        const int c0 = (nc * 3) % (kMaxColumnOffset + 1);
        std::fill(out.begin(), out.end(), -1.0f);
        for (int64_t b0 = 0; b0 < nb; b0 += range) {
          const int64_t len = std::min(range, nb - b0);
          packed.pack(w.bytes.data() + r0 * w.stride + b0 * w_block, w.stride, nr, len, panel);
          const uint8_t* a = acts.data() + c0 * a_stride + b0 * a_block;
          if (packed.prepare_acts != nullptr) {
            for (int c = 0; c < nc; ++c) {
              packed.prepare_acts(a + c * a_stride, len, extra.data() + c * extra_stride);
            }
          }
          packed.gemm(len, panel, a, a_stride,
                      packed.prepare_acts != nullptr ? extra.data() : nullptr, extra_stride, nc,
                      out.data(), out_stride, nr, b0 > 0);
        }
        for (int c = 0; c < nc; ++c) {
          for (int r = 0; r < static_cast<int>(out_stride); ++r) {
            const float got = out[c * out_stride + r];
            if (r >= nr) {
              if (got != -1.0f && ++mismatches <= 5) {
                ADD_FAILURE() << DTypeName(type) << "/" << IsaName(isa) << " nr=" << nr
                              << ": wrote row " << r;
              }
              continue;
            }
            const float want = kernels->vec_dot(k, w.bytes.data() + (r0 + r) * w.stride,
                                                acts.data() + (c0 + c) * a_stride);
            if (!SameBits(got, want) && ++mismatches <= 5) {
              ADD_FAILURE() << DTypeName(type) << "/" << IsaName(isa) << " range=" << range
                            << " nc=" << nc << " nr=" << nr << " row " << r0 + r << " column "
                            << c0 + c << ": packed gemm " << got << " != vec_dot " << want;
            }
          }
        }
      }
    }
    EXPECT_EQ(mismatches, 0) << DTypeName(type) << "/" << IsaName(isa);
  }
  if (tested == 0) GTEST_SKIP() << "no packed kernels for " << DTypeName(type);
}

ThreadPool* Pool(int n_threads) {
  static std::unique_ptr<ThreadPool> pools[3];
  if (!pools[n_threads]) pools[n_threads] = std::make_unique<ThreadPool>(n_threads);
  return pools[n_threads].get();
}

TEST_P(BatchInvarianceTest, MatmulGivesEachTokenTheSameBitsInAnyBatch) {
  const DType type = GetParam();
  const int64_t k = RowLength(type);
  // More rows than two threads' row tiles, not a multiple of them.
  const int64_t n_out = 2 * kMatmulRowTile + 51;
  constexpr int64_t kTokens = 64;
  const Weights w = MakeWeights(type, n_out, k, 29);
  const WeightMatrix matrix{type, w.bytes.data(), n_out, k, w.stride};
  const std::vector<float> x = MakeInputs(kTokens, k, 31);
  int tested = 0;
  for (Isa isa : IsasToTest()) {
    const WeightKernels* kernels = FindWeightKernels(type, isa);
    if (kernels == nullptr) continue;
    ++tested;
    MatmulOptions options;
    options.kernels = kernels;
    // All 64 tokens in one call on one thread: the reference for every other split.
    options.pool = Pool(1);
    std::vector<float> whole(n_out * kTokens);
    Matmul(matrix, x.data(), kTokens, whole.data(), options);
    for (int threads : {1, 2}) {
      options.pool = Pool(threads);
      for (int64_t batch : {int64_t{1}, int64_t{3}, kTokens}) {
        std::vector<float> split(n_out * kTokens);
        for (int64_t t = 0; t < kTokens; t += batch) {
          const int64_t n = std::min(batch, kTokens - t);
          Matmul(matrix, x.data() + t * k, n, split.data() + t * n_out, options);
        }
        int mismatches = 0;
        for (int64_t i = 0; i < n_out * kTokens; ++i) {
          if (!SameBits(split[i], whole[i]) && ++mismatches <= 5) {
            ADD_FAILURE() << DTypeName(type) << "/" << IsaName(isa) << " threads=" << threads
                          << " batch=" << batch << " token " << i / n_out << " row " << i % n_out
                          << ": " << split[i] << " != " << whole[i];
          }
        }
        EXPECT_EQ(mismatches, 0) << DTypeName(type) << "/" << IsaName(isa) << " threads=" << threads
                                 << " batch=" << batch;
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no kernels for " << DTypeName(type);
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, BatchInvarianceTest, ::testing::ValuesIn(kWeightTypes),
                         [](const ::testing::TestParamInfo<DType>& param) {
                           return std::string(DTypeName(param.param));
                         });

}  // namespace
}  // namespace autarky::kernels
