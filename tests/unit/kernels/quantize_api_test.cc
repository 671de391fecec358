// Tests of the kernels/quantize.h contract: which types are supported, row packing and the
// returned size, thread safety, and CHECK failures on programmer errors.
#include "kernels/quantize.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "tensor/dtype.h"
#include "unit/kernels/quantize_spec.h"

namespace autarky::kernels {
namespace {

using testing::MakeRow;
using testing::RowKind;

constexpr DType kQuantizable[] = {DType::kF32,  DType::kF16,    DType::kBF16,  DType::kQ4_0,
                                  DType::kQ4_1, DType::kQ5_0,   DType::kQ5_1,  DType::kQ8_0,
                                  DType::kQ2_K, DType::kQ3_K,   DType::kQ4_K,  DType::kQ5_K,
                                  DType::kQ6_K, DType::kIQ4_NL, DType::kIQ4_XS};

TEST(QuantizeApiTest, SupportedTypes) {
  for (DType type : kQuantizable) {
    EXPECT_TRUE(CanQuantize(type)) << DTypeName(type);
    EXPECT_TRUE(CanDequantize(type)) << DTypeName(type);
  }
  // Activation types: dequantization only.
  for (DType type : {DType::kQ8_1, DType::kQ8_K}) {
    EXPECT_FALSE(CanQuantize(type)) << DTypeName(type);
    EXPECT_TRUE(CanDequantize(type)) << DTypeName(type);
  }
  for (DType type : {DType::kI8, DType::kI16, DType::kI32, DType::kI64, DType::kF64}) {
    EXPECT_FALSE(CanQuantize(type)) << DTypeName(type);
    EXPECT_FALSE(CanDequantize(type)) << DTypeName(type);
  }
  // Every weight type can be dequantized.
  size_t count = 0;
  const DType* all = AllDTypes(&count);
  for (size_t i = 0; i < count; ++i) {
    if (Traits(all[i]).weight_type) {
      EXPECT_TRUE(CanDequantize(all[i])) << DTypeName(all[i]);
    }
  }
}

// Rows are packed RowBytes apart and quantized independently: quantizing several rows at
// once gives the concatenation of single-row results.
TEST(QuantizeApiTest, RowsArePackedBackToBack) {
  constexpr int64_t kRows = 3;
  constexpr int64_t kPerRow = 2 * kQK_K;
  const std::vector<float> x = MakeRow(RowKind::kGaussian, kRows * kPerRow, 1.0f, 7);
  for (DType type : kQuantizable) {
    const size_t row_bytes = *RowBytes(type, kPerRow);
    std::vector<uint8_t> together(kRows * row_bytes, 0xcd);
    EXPECT_EQ(QuantizeRows(type, x.data(), together.data(), kRows, kPerRow), kRows * row_bytes)
        << DTypeName(type);
    for (int64_t r = 0; r < kRows; ++r) {
      std::vector<uint8_t> single(row_bytes, 0xab);
      EXPECT_EQ(QuantizeRows(type, x.data() + r * kPerRow, single.data(), 1, kPerRow), row_bytes);
      EXPECT_TRUE(std::equal(single.begin(), single.end(), together.begin() + r * row_bytes))
          << DTypeName(type) << " row " << r;
    }
  }
}

TEST(QuantizeApiTest, ZeroRowsWriteNothing) {
  uint8_t canary = 0x5a;
  EXPECT_EQ(QuantizeRows(DType::kQ4_K, nullptr, &canary, 0, kQK_K), 0u);
  EXPECT_EQ(canary, 0x5a);
}

// `autarky quantize` splits a tensor's rows over threads; the converters share no mutable
// state, so any split gives the serial bytes (and TSan builds see no race).
TEST(QuantizeApiTest, ConcurrentRowRangesMatchSerial) {
  constexpr int kThreads = 4;
  constexpr int64_t kRows = 16;
  constexpr int64_t kPerRow = kQK_K;
  const std::vector<float> x = MakeRow(RowKind::kOutliers, kRows * kPerRow, 0.5f, 11);
  for (DType type : {DType::kQ3_K, DType::kQ4_K, DType::kIQ4_XS, DType::kIQ4_NL}) {
    const size_t row_bytes = *RowBytes(type, kPerRow);
    std::vector<uint8_t> serial(kRows * row_bytes);
    QuantizeRows(type, x.data(), serial.data(), kRows, kPerRow);
    std::vector<uint8_t> parallel(kRows * row_bytes);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const int64_t begin = kRows * t / kThreads, end = kRows * (t + 1) / kThreads;
        QuantizeRows(type, x.data() + begin * kPerRow, parallel.data() + begin * row_bytes,
                     end - begin, kPerRow);
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(parallel, serial) << DTypeName(type);
  }
}

TEST(QuantizeApiDeathTest, ProgrammerErrorsCheckFail) {
  // Fork without re-exec: also works under qemu-user, and the child starts no threads.
  GTEST_FLAG_SET(death_test_style, "fast");
  std::vector<float> x(kQK_K, 1.0f);
  std::vector<uint8_t> out(1024);
  EXPECT_DEATH(QuantizeRows(DType::kQ8_K, x.data(), out.data(), 1, kQK_K), "CanQuantize");
  EXPECT_DEATH(DequantizeRow(DType::kI32, out.data(), x.data(), 4), "CanDequantize");
  EXPECT_DEATH(QuantizeRows(DType::kQ4_0, x.data(), out.data(), 1, 33), "whole number");
  EXPECT_DEATH(DequantizeRow(DType::kQ4_K, out.data(), x.data(), 32), "whole number");
}

}  // namespace
}  // namespace autarky::kernels
