// Tests of the tensor type traits table and the name/size helpers.
#include "tensor/dtype.h"

#include <gtest/gtest.h>

#include <limits>

#include "util/strings.h"

namespace autarky {
namespace {

TEST(DTypeTest, BlockSizesAndBytesAreLlamaCpps) {
  // {type, weights per block, bytes per block} from the GGUF/ggml format.
  const struct {
    DType type;
    int64_t elems;
    size_t bytes;
  } kExpected[] = {{DType::kF32, 1, 4},       {DType::kF16, 1, 2},      {DType::kBF16, 1, 2},
                   {DType::kQ4_0, 32, 18},    {DType::kQ4_1, 32, 20},   {DType::kQ5_0, 32, 22},
                   {DType::kQ5_1, 32, 24},    {DType::kQ8_0, 32, 34},   {DType::kQ8_1, 32, 36},
                   {DType::kQ2_K, 256, 84},   {DType::kQ3_K, 256, 110}, {DType::kQ4_K, 256, 144},
                   {DType::kQ5_K, 256, 176},  {DType::kQ6_K, 256, 210}, {DType::kQ8_K, 256, 292},
                   {DType::kIQ4_NL, 32, 18},  {DType::kIQ4_XS, 256, 136}};
  for (const auto& e : kExpected) {
    EXPECT_EQ(Traits(e.type).block_elems, e.elems) << DTypeName(e.type);
    EXPECT_EQ(Traits(e.type).block_bytes, e.bytes) << DTypeName(e.type);
  }
}

TEST(DTypeTest, IdsAndNames) {
  EXPECT_EQ(DTypeFromId(12), DType::kQ4_K);
  EXPECT_FALSE(DTypeFromId(4).has_value());   // removed Q4_2
  EXPECT_FALSE(DTypeFromId(16).has_value());  // IQ2_XXS: not supported
  EXPECT_FALSE(DTypeFromId(1u << 31).has_value());
  EXPECT_EQ(ParseDType("q4_k"), DType::kQ4_K);
  EXPECT_EQ(ParseDType("Iq4_Xs"), DType::kIQ4_XS);
  EXPECT_EQ(ParseDType("BF16"), DType::kBF16);
  EXPECT_FALSE(ParseDType("Q4_K_M").has_value());  // a mix, not a type
  EXPECT_FALSE(ParseDType("").has_value());
  size_t count = 0;
  const DType* all = AllDTypes(&count);
  for (size_t i = 0; i < count; ++i) EXPECT_EQ(ParseDType(DTypeName(all[i])), all[i]);
}

TEST(DTypeTest, RowBytesRejectsPartialBlocksNegativesAndOverflow) {
  EXPECT_EQ(RowBytes(DType::kQ4_K, 1536), size_t{6 * 144});
  EXPECT_EQ(RowBytes(DType::kF32, 0), size_t{0});
  EXPECT_FALSE(RowBytes(DType::kQ4_K, 1535).has_value());
  EXPECT_FALSE(RowBytes(DType::kQ8_0, -32).has_value());
  EXPECT_FALSE(RowBytes(DType::kF32, std::numeric_limits<int64_t>::max()).has_value());
}

TEST(StringsTest, EqualsIgnoreCaseIsAsciiCaseInsensitive) {
  EXPECT_TRUE(EqualsIgnoreCase("q4_k_m", "Q4_K_M"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_FALSE(EqualsIgnoreCase("Q4_K", "Q4_K_M"));
  EXPECT_FALSE(EqualsIgnoreCase("Q4_0", "Q4_1"));
  EXPECT_FALSE(EqualsIgnoreCase("a[", "A{"));  // '[' and '{' differ by the case bit only
}

}  // namespace
}  // namespace autarky
