// kernels/quantize.h against llama.cpp on ../shared/golden/quant: dequantizing every tensor of
// every fixture reproduces the manifest's digests (made by gguf-py's reference dequantizers),
// and quantizing fixture-f32.gguf reproduces llama-quantize --pure's bytes for every type
// (with the round-trip RMSE compared as well, the criterion for K-quants and IQ4_XS).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "kernels/quantize.h"
#include "testing/digest.h"
#include "testing/shared_data.h"

namespace autarky::kernels {
namespace {

// The manifest's digests are of little-endian float32 data; we hash our floats in place.
static_assert(std::endian::native == std::endian::little);

constexpr char kManifest[] = "golden/quant/manifest.json";

// Fixture types, as in file names (fixture-TYPE.gguf; "f32" is llama-quantize's source).
const char* const kFixtureTypes[] = {"f32",  "F16",  "BF16", "Q4_0",   "Q4_1",
                                     "Q5_0", "Q5_1", "Q8_0", "Q2_K",   "Q3_K",
                                     "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"};

std::string FixtureName(const std::string& type) { return "fixture-" + type + ".gguf"; }

nlohmann::json LoadManifest() {
  std::ifstream in(testing::SharedDir() / kManifest);
  return nlohmann::json::parse(in);
}

Result<GgufFile> OpenFixture(const std::string& type) {
  return GgufFile::Open((testing::SharedDir() / "golden/quant" / FixtureName(type)).string());
}

std::vector<float> Dequantize(const GgufTensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements));  // {row_elements, n_rows}
  const size_t row_bytes = *RowBytes(t.type, t.row_elements());
  for (int64_t r = 0; r < t.n_rows(); ++r) {
    DequantizeRow(t.type, t.data + r * row_bytes, out.data() + r * t.row_elements(),
                  t.row_elements());
  }
  return out;
}

class QuantGoldenTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!testing::HaveShared(kManifest)) return;
    manifest_ = LoadManifest()[FixtureName(GetParam())];
    ASSERT_FALSE(manifest_.is_null()) << "no manifest entry for " << FixtureName(GetParam());
  }
  nlohmann::json manifest_;
};

// Every tensor of the fixture: type and shape as in the manifest, and its first 8 dequantized
// values equal (exactly: the manifest prints float32 values as doubles).
TEST_P(QuantGoldenTest, DequantizedFirstValuesMatchManifest) {
  SKIP_WITHOUT_SHARED(kManifest);
  Result<GgufFile> file_or = OpenFixture(GetParam());
  ASSERT_TRUE(file_or.ok()) << file_or.status().message();
  const GgufFile& file = *file_or;
  EXPECT_EQ(file.tensors().size(), manifest_.size());
  for (const auto& [name, expected] : manifest_.items()) {
    SCOPED_TRACE(name);
    const GgufTensorInfo* t = file.FindTensor(name);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(DTypeName(t->type), expected["type"].get<std::string>());
    ASSERT_EQ(std::vector<int64_t>(t->shape().begin(), t->shape().end()),
              expected["shape"].get<std::vector<int64_t>>());
    ASSERT_TRUE(CanDequantize(t->type));
    const std::vector<float> y = Dequantize(*t);
    const auto first8 = expected["first8"].get<std::vector<double>>();
    ASSERT_EQ(first8.size(), 8u);
    for (size_t i = 0; i < first8.size(); ++i) EXPECT_EQ(static_cast<double>(y[i]), first8[i]) << i;
  }
}

// The SHA-256 of each whole dequantized tensor equals the manifest's (and of its raw bytes, so
// that the comparison is against the bytes llama.cpp wrote).
TEST_P(QuantGoldenTest, DequantizedSha256MatchesManifest) {
  SKIP_WITHOUT_SHARED(kManifest);
  SKIP_WITHOUT_SHA256();
  Result<GgufFile> file_or = OpenFixture(GetParam());
  ASSERT_TRUE(file_or.ok()) << file_or.status().message();
  const GgufFile& file = *file_or;
  for (const auto& [name, expected] : manifest_.items()) {
    SCOPED_TRACE(name);
    const GgufTensorInfo* t = file.FindTensor(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(*testing::Sha256Hex(t->data, t->n_bytes), expected["raw_sha256"].get<std::string>());
    const std::vector<float> y = Dequantize(*t);
    EXPECT_EQ(*testing::Sha256Hex(y.data(), y.size() * sizeof(float)),
              expected["dequant_sha256"].get<std::string>());
  }
}

// Root mean square of x - y.
double Rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double sum = 0.0;
  for (size_t i = 0; i < x.size(); ++i) sum += (double{x[i]} - y[i]) * (double{x[i]} - y[i]);
  return std::sqrt(sum / static_cast<double>(x.size()));
}

// The limit on the round-trip RMSE relative to llama.cpp's for the types quantized by
// a search (K-quants, IQ4_XS); the types required to be bit-exact also meet it, with ratio 1.
constexpr double kRmseRatioLimit = 1.01;

// Quantizes fixture-f32.gguf's tensors to the fixture's types (as llama-quantize --pure did:
// 2-D tensors to TYPE, the rest kept F32) and compares with the stored bytes directly, so this
// runs in cross builds without SHA-256 too.
TEST_P(QuantGoldenTest, QuantizingTheF32SourceReproducesLlamaQuantize) {
  SKIP_WITHOUT_SHARED(kManifest);
  Result<GgufFile> source_or = OpenFixture("f32");
  ASSERT_TRUE(source_or.ok()) << source_or.status().message();
  Result<GgufFile> fixture_or = OpenFixture(GetParam());
  ASSERT_TRUE(fixture_or.ok()) << fixture_or.status().message();
  const GgufFile& source = *source_or;
  const GgufFile& fixture = *fixture_or;
  double our_sq = 0.0, their_sq = 0.0;
  int64_t count = 0;
  for (const GgufTensorInfo& t : fixture.tensors()) {
    SCOPED_TRACE(std::string(t.name));
    const GgufTensorInfo* src = source.FindTensor(t.name);
    ASSERT_NE(src, nullptr);
    ASSERT_EQ(src->type, DType::kF32);
    ASSERT_EQ(src->dims, t.dims);
    ASSERT_TRUE(CanQuantize(t.type));
    std::vector<float> x(static_cast<size_t>(src->n_elements));  // {row_elements, n_rows}
    std::memcpy(x.data(), src->data, src->n_bytes);
    std::vector<uint8_t> ours(t.n_bytes);
    ASSERT_EQ(QuantizeRows(t.type, x.data(), ours.data(), t.n_rows(), t.row_elements()), t.n_bytes);
    EXPECT_EQ(std::memcmp(ours.data(), t.data, t.n_bytes), 0)
        << DTypeName(t.type) << " bytes differ from llama-quantize's";
    if (t.type == DType::kF32) continue;
    GgufTensorInfo our_tensor = t;
    our_tensor.data = ours.data();
    const double our_rmse = Rmse(x, Dequantize(our_tensor));
    const double their_rmse = Rmse(x, Dequantize(t));
    EXPECT_LE(our_rmse, their_rmse * kRmseRatioLimit);
    our_sq += our_rmse * our_rmse * static_cast<double>(x.size());
    their_sq += their_rmse * their_rmse * static_cast<double>(x.size());
    count += static_cast<int64_t>(x.size());
  }
  if (count > 0) {
    const double ratio = std::sqrt(our_sq / their_sq);
    RecordProperty("rmse_ratio", std::to_string(ratio));
    std::cout << GetParam() << ": round-trip RMSE " << std::sqrt(our_sq / count) << ", llama.cpp's "
              << std::sqrt(their_sq / count) << ", ratio " << ratio << "\n";
    EXPECT_LE(ratio, kRmseRatioLimit);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, QuantGoldenTest, ::testing::ValuesIn(kFixtureTypes),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param);
                         });

}  // namespace
}  // namespace autarky::kernels
